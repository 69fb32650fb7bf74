/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h - one-line logging to stderr for the daemons and tollgatectl.
 *
 * The library (lib/) never calls this: it returns -errno and a message, and the
 * program decides what to log. Each message is one line on stderr:
 *
 *	ident: message
 *
 * Under systemd, when JOURNAL_STREAM names the stream stderr is connected to
 * (systemd.exec(5)), the line carries the syslog priority instead of the
 * ident, which the journal adds by itself:
 *
 *	<3>message
 *
 * Newlines inside a message are written as spaces, so one call is one line
 * (and one write(2), so lines of concurrent threads do not interleave). errno
 * is preserved across every call.
 */
#ifndef TG_LIB_LOG_H
#define TG_LIB_LOG_H

#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */

#define LOG_LINE_MAX 2048 /* longer messages are cut */

/*
 * log_init() - set the ident (e.g. "tollgate-agent"; the string must outlive
 * the logging, a literal or argv[0]) and the most verbose priority written
 * (LOG_ERR .. LOG_DEBUG; default LOG_INFO), and check JOURNAL_STREAM.
 * Before log_init() the ident is "tollgate".
 */
void log_init(const char *ident, int level);

/* log_set_level() - change the most verbose priority written. */
void log_set_level(int level);

/*
 * log_parse_level() - "error", "warning" (or "warn"), "info", "debug" (any
 * case) to LOG_ERR .. LOG_DEBUG; -EINVAL for anything else.
 */
int log_parse_level(const char *name);

/* log_error() .. log_debug() - write one line at that priority. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * log_error_errno(), log_warn_errno() - as log_error()/log_warn() with
 * ": strerror(-r)" appended; return @r, so a caller logs and fails in one
 * step: `return log_error_errno(r, "cannot read '%s'", path);`. @r is a
 * -errno value (a positive errno is taken as its negative for the message).
 */
int log_error_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_warn_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* TG_LIB_LOG_H */
