/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pg.h - the few things tollgate-billing needs from libpq, with errors turned
 * into -errno and one log line.
 *
 * Every statement is parameterised (DESIGN §8): values travel as parameters,
 * never spliced into SQL text. The only SQL built from strings are partition
 * names, which are made from dates by partition code, never from input.
 */
#ifndef TG_BILLING_PG_H
#define TG_BILLING_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* pg_connect() - connect with @dsn ("" = libpq's defaults). 0 or -EIO (logged). */
int pg_connect(const char *dsn, PGconn **ret);

/*
 * pg_exec() - run @sql with @n text parameters (NULL entries are SQL NULL).
 * Returns the result when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK (caller
 * PQclear()s it); NULL otherwise, the error logged with @what.
 */
PGresult *pg_exec(PGconn *c, const char *what, const char *sql, int n,
		  const char *const *params);

/* pg_command() - pg_exec() for statements whose result is not needed. 0 or -EIO. */
int pg_command(PGconn *c, const char *what, const char *sql, int n, const char *const *params);

/* pg_rows_affected() - the row count of an INSERT/UPDATE/DELETE result. */
uint64_t pg_rows_affected(PGresult *res);

/*
 * pg_copy() - COPY @table_sql FROM STDIN (text format) with the @len bytes of
 * @data, rows already escaped (pg_copy_escape()). 0 or -EIO.
 */
int pg_copy(PGconn *c, const char *what, const char *copy_sql, const char *data, size_t len);

/*
 * pg_copy_escape() - append @s as one COPY text field to @buf at @*len
 * (capacity @cap), escaping backslash, tab, newline and carriage return.
 * -ENOSPC when it does not fit (nothing appended).
 */
int pg_copy_escape(char *buf, size_t cap, size_t *len, const char *s);

/* pg_broken() - true when the connection is gone (reconnect). */
bool pg_broken(PGconn *c);

#endif /* TG_BILLING_PG_H */
