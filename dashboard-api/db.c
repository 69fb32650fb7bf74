/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/pg.h"
#include "dashboard-api/db.h"
#include "lib/log.h"

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static void conn_free(void *c)
{
	PQfinish(c);
}

static void conn_key_init(void)
{
	pthread_key_create(&conn_key, conn_free);
}

PGconn *db_thread_conn(const char *dsn)
{
	PGconn *c;

	pthread_once(&conn_once, conn_key_init);
	c = pthread_getspecific(conn_key);
	if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE)
		return c;
	if (c) {
		/* broken, or left inside a transaction by a failure: start afresh */
		PQfinish(c);
		pthread_setspecific(conn_key, NULL);
	}
	if (pg_connect(dsn, &c))
		return NULL;
	pthread_setspecific(conn_key, c);
	return c;
}

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

int db_query(struct request *req, const char *what, const char *sql, int n,
	     const char *const *params, PGresult **ret)
{
	PGresult *res = PQexecParams(req->pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		*ret = res;
		return 0;
	}
	state = db_sqlstate(res);
	if (!strcmp(state, "23505") || !strcmp(state, "23503")) {
		PQclear(res);
		return state[4] == '5' ? -EEXIST : -ENOENT;
	}
	log_error("postgres: %s: %s", what,
		  res ? PQresultErrorMessage(res) : PQerrorMessage(req->pg));
	PQclear(res);
	return -EIO;
}

/* append row @i's JSON (column 0) to @f, through @row_fn when given */
static int put_row(FILE *f, PGresult *res, int i, int (*row_fn)(json_t *row))
{
	json_error_t jerr;
	json_t *row;
	int r;

	if (!row_fn) {
		fwrite(PQgetvalue(res, i, 0), 1, (size_t)PQgetlength(res, i, 0), f);
		return 0;
	}
	row = json_loadb(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), 0, &jerr);
	if (!row)
		return -EIO;
	r = row_fn(row);
	if (r >= 0 && json_dumpf(row, f, JSON_COMPACT))
		r = -ENOMEM;
	json_decref(row);
	return r;
}

int db_reply_one(struct request *req, struct reply *rep, unsigned int status, const char *noun,
		 const char *sql, int n, const char *const *params, int (*row_fn)(json_t *row))
{
	PGresult *res;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r = db_query(req, noun, sql, n, params, &res);

	if (r)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return reply_error(rep, 404, "not_found", NULL, "no such %s", noun);
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		PQclear(res);
		return -ENOMEM;
	}
	r = put_row(f, res, 0, row_fn);
	PQclear(res);
	if (fclose(f) || r < 0) {
		free(buf);
		return r < 0 ? r : -ENOMEM;
	}
	return reply_take(rep, status, buf, len);
}

int db_reply_list(struct request *req, struct reply *rep, const char *sql, int n,
		  const char *const *params, int (*row_fn)(json_t *row))
{
	const char *limit_s = request_query(req, "limit"),
		   *after = request_query(req, "starting_after");
	const char *all[16];
	unsigned long limit = DB_LIST_DEFAULT;
	char limit1[16], *buf = NULL, *end;
	size_t len = 0;
	PGresult *res;
	int rows, r;
	FILE *f;

	if (n + 2 > (int)(sizeof(all) / sizeof(all[0])))
		return -E2BIG;
	if (limit_s) {
		errno = 0;
		limit = strtoul(limit_s, &end, 10);
		if (limit_s[0] < '0' || limit_s[0] > '9' || *end || errno || limit < 1 ||
		    limit > DB_LIST_MAX)
			return reply_error(rep, 400, "invalid_request", "limit",
					   "limit must be an integer from 1 to %d", DB_LIST_MAX);
	}
	if (after) {
		size_t i, alen = strlen(after);

		for (i = 0; i < alen && after[i] >= '0' && after[i] <= '9'; i++)
			;
		if (alen == 0 || alen > 19 || i != alen || after[0] == '0')
			return reply_error(rep, 400, "invalid_request", "starting_after",
					   "starting_after must be an object id");
	}
	snprintf(limit1, sizeof(limit1), "%lu", limit + 1);
	memcpy(all, params, (size_t)n * sizeof(*all));
	all[n] = after;
	all[n + 1] = limit1;
	r = db_query(req, "list", sql, n + 2, all, &res);
	if (r)
		return r;
	rows = PQntuples(res);
	f = open_memstream(&buf, &len);
	if (!f) {
		PQclear(res);
		return -ENOMEM;
	}
	fputs("{\"object\":\"list\",\"data\":[", f);
	for (int i = 0; i < rows && i < (int)limit && r >= 0; i++) {
		if (i)
			fputc(',', f);
		r = put_row(f, res, i, row_fn);
	}
	fprintf(f, "],\"has_more\":%s}", rows > (int)limit ? "true" : "false");
	PQclear(res);
	if (fclose(f) || r < 0) {
		free(buf);
		return r < 0 ? r : -ENOMEM;
	}
	return reply_take(rep, 200, buf, len);
}
