/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "billing/pg.h"
#include "lib/log.h"

static void notice_quiet(void *arg, const char *message)
{
	/* "relation already exists, skipping" and friends: not news */
	(void)arg;
	(void)message;
}

int pg_connect(const char *dsn, PGconn **ret)
{
	PGconn *c = PQconnectdb(dsn);

	if (!c)
		return -ENOMEM;
	if (PQstatus(c) != CONNECTION_OK) {
		char *msg = PQerrorMessage(c);

		log_error("postgres: cannot connect: %s", msg);
		PQfinish(c);
		return -EIO;
	}
	PQsetNoticeProcessor(c, notice_quiet, NULL);
	*ret = c;
	return 0;
}

PGresult *pg_exec(PGconn *c, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	log_error("postgres: %s: %s", what, res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	return NULL;
}

int pg_command(PGconn *c, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *res = pg_exec(c, what, sql, n, params);

	if (!res)
		return -EIO;
	PQclear(res);
	return 0;
}

uint64_t pg_rows_affected(PGresult *res)
{
	const char *s = PQcmdTuples(res);

	return s && *s ? strtoull(s, NULL, 10) : 0;
}

int pg_copy(PGconn *c, const char *what, const char *copy_sql, const char *data, size_t len)
{
	PGresult *res = PQexec(c, copy_sql);
	const size_t chunk = 1 << 20;
	int r = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		log_error("postgres: %s: %s", what, PQresultErrorMessage(res));
		PQclear(res);
		return -EIO;
	}
	PQclear(res);
	for (size_t off = 0; off < len && r == 0; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (PQputCopyData(c, data + off, (int)n) != 1)
			r = -EIO;
	}
	if (PQputCopyEnd(c, r ? "aborted" : NULL) != 1)
		r = -EIO;
	while ((res = PQgetResult(c))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("postgres: %s: %s", what, PQresultErrorMessage(res));
			r = -EIO;
		}
		PQclear(res);
	}
	return r;
}

int pg_copy_escape(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = *len;

	for (; *s; s++) {
		const char *esc = NULL;

		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		}
		if (esc) {
			if (n + 2 > cap)
				return -ENOSPC;
			buf[n++] = esc[0];
			buf[n++] = esc[1];
		} else {
			if (n + 1 > cap)
				return -ENOSPC;
			buf[n++] = *s;
		}
	}
	*len = n;
	return 0;
}

bool pg_broken(PGconn *c)
{
	return !c || PQstatus(c) != CONNECTION_OK;
}
