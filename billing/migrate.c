/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "billing/migrate.h"
#include "billing/pg.h"
#include "lib/log.h"

/* billing/sql/NNN_name.sql, in order, built in by the Makefile (sql.S) */
struct sql_file {
	const char *name;
	const char *body;
};
extern const struct sql_file billing_sql_files[];

/* an arbitrary constant that names "tollgate schema" among advisory locks */
#define MIGRATE_LOCK_ID "7310258410662391"

static const char CREATE_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
				   " version integer PRIMARY KEY, name text NOT NULL,"
				   " applied_at timestamptz NOT NULL DEFAULT now())";

static int file_version(const struct sql_file *f)
{
	return atoi(f->name); /* "001_catalog.sql": digits checked at build time */
}

static int applied(PGconn *c, int version, bool *ret)
{
	char v[16];
	const char *p[] = { v };
	PGresult *res;

	snprintf(v, sizeof(v), "%d", version);
	res = pg_exec(c, "read schema_migrations",
		      "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p);
	if (!res)
		return -EIO;
	*ret = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

static int apply_one(PGconn *c, const struct sql_file *f)
{
	char v[16];
	const char *p[] = { v, f->name };
	PGresult *res;

	snprintf(v, sizeof(v), "%d", file_version(f));
	if (pg_command(c, "begin", "BEGIN", 0, NULL))
		return -EIO;
	/* a file holds several statements: the simple protocol runs them all */
	res = PQexec(c, f->body);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("migration %s failed: %s", f->name, PQresultErrorMessage(res));
		PQclear(res);
		pg_command(c, "rollback", "ROLLBACK", 0, NULL);
		return -EIO;
	}
	PQclear(res);
	if (pg_command(c, "record migration",
		       "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, p) ||
	    pg_command(c, "commit", "COMMIT", 0, NULL)) {
		pg_command(c, "rollback", "ROLLBACK", 0, NULL);
		return -EIO;
	}
	log_info("applied migration %s", f->name);
	return 0;
}

int migrate_apply(PGconn *c)
{
	int n = 0, r = 0;

	if (pg_command(c, "take the migration lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_ID ")",
		       0, NULL))
		return -EIO;
	if (pg_command(c, "create schema_migrations", CREATE_TABLE, 0, NULL)) {
		r = -EIO;
		goto out_unlock;
	}
	for (const struct sql_file *f = billing_sql_files; f->name; f++) {
		bool done;

		r = applied(c, file_version(f), &done);
		if (r)
			goto out_unlock;
		if (done)
			continue;
		r = apply_one(c, f);
		if (r)
			goto out_unlock;
		n++;
	}
out_unlock:
	pg_command(c, "release the migration lock",
		   "SELECT pg_advisory_unlock(" MIGRATE_LOCK_ID ")", 0, NULL);
	return r ? r : n;
}

int migrate_check(PGconn *c)
{
	PGresult *res = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	bool exists;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("postgres: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -EIO;
	}
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	for (const struct sql_file *f = billing_sql_files; f->name; f++) {
		bool done = false;

		if (exists && applied(c, file_version(f), &done))
			return -EIO;
		if (!done) {
			log_error("the database lacks migration %s: run 'tollgate-billing migrate' "
				  "first",
				  f->name);
			return -ESTALE;
		}
	}
	return 0;
}
