/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * db.h - Postgres for tollgate-api's handlers: one connection per worker
 * thread, and replies made of JSON that the SQL builds (json_build_object,
 * ids as text, times through tg_rfc3339()), so a row travels to the client
 * without being taken apart in C. Every statement is parameterised.
 */
#ifndef TG_API_DB_H
#define TG_API_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "dashboard-api/request.h"

#define DB_LIST_DEFAULT 10
#define DB_LIST_MAX 100

/*
 * db_thread_conn() - this thread's connection to @dsn, made on first use and
 * made again when it broke (the previous request's failure). NULL when
 * Postgres is out of reach (logged). The thread owns it; it is closed when
 * the thread exits.
 */
PGconn *db_thread_conn(const char *dsn);

/*
 * db_query() - run @sql with @n text parameters on @req's connection. The
 * result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) in @ret, the caller PQclear()s
 * it. -EIO (logged with @what) otherwise; a statement refused for a unique
 * or foreign key violation gives -EEXIST or -ENOENT instead, so a handler
 * can answer 409 or 400.
 */
int db_query(struct request *req, const char *what, const char *sql, int n,
	     const char *const *params, PGresult **ret);

/*
 * db_reply_one() - run @sql, which returns at most one row of one column of
 * JSON text, and reply @status with it; no row: 404 not_found "no such
 * @noun". @row_fn as for db_reply_list(). 0, or -errno.
 */
int db_reply_one(struct request *req, struct reply *rep, unsigned int status, const char *noun,
		 const char *sql, int n, const char *const *params, int (*row_fn)(json_t *row));

/*
 * db_reply_list() - a list reply of DESIGN §7:
 * {"object": "list", "data": [...], "has_more": bool}. The query string's
 * limit (1..DB_LIST_MAX, default DB_LIST_DEFAULT) and starting_after (an id)
 * are checked here (400 naming them) and passed to @sql as its last two
 * parameters, $n+1 = starting_after (NULL when absent) and $n+2 = limit + 1;
 * @sql returns rows of one column of JSON text in the list's order, ids
 * ascending, "WHERE ($N::bigint IS NULL OR id > $N) ... ORDER BY id LIMIT $M".
 * @row_fn, when not NULL, may change each row (a JSON object it does not own)
 * before it goes out; a negative return fails the reply. 0 or -errno.
 */
int db_reply_list(struct request *req, struct reply *rep, const char *sql, int n,
		  const char *const *params, int (*row_fn)(json_t *row));

/* db_sqlstate() - the SQLSTATE of @res ("23505"), "" when it has none. */
const char *db_sqlstate(const PGresult *res);

#endif /* TG_API_DB_H */
