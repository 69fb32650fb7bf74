// SPDX-License-Identifier: BSD-2-Clause
/*
 * log.c - stderr logging for the daemons (see log.h).
 *
 * The line is formatted into one buffer and written with one write(2): stdio
 * would split a long line into several writes, and the journal reads the
 * stream line by line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "tollgate";
static int log_level = LOG_INFO;
static int log_journal; /* stderr is the journal stream: "<N>" prefixes */

/* JOURNAL_STREAM is "DEV:INO" of the stream systemd connected; a child whose
 * stderr was redirected inherits the variable, so compare it with stderr. */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_init(const char *ident, int level)
{
	int saved_errno = errno;

	if (ident && *ident)
		log_ident = ident;
	log_set_level(level);
	log_journal = stderr_is_journal();
	errno = saved_errno;
}

void log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

int log_parse_level(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(name, levels[i].name))
			return levels[i].level;
	return -EINVAL;
}

/* The line being built; appends are cut at the end of the buffer. */
struct log_line {
	char text[LOG_LINE_MAX];
	size_t len;
};

static __attribute__((format(printf, 2, 0))) void line_vappend(struct log_line *line,
							       const char *fmt, va_list ap)
{
	size_t room = sizeof(line->text) - 1 - line->len; /* keep one byte for '\n' */
	int k = vsnprintf(line->text + line->len, room + 1, fmt, ap);

	if (k > 0)
		line->len += (size_t)k < room ? (size_t)k : room;
}

static __attribute__((format(printf, 2, 3))) void line_append(struct log_line *line,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vappend(line, fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 3, 0))) void log_write(int level, int r, const char *fmt,
							    va_list ap)
{
	struct log_line line = { .len = 0 };
	int saved_errno = errno;

	if (level > log_level)
		return;

	if (log_journal)
		line_append(&line, "<%d>", level);
	else
		line_append(&line, "%s: ", log_ident);
	line_vappend(&line, fmt, ap);
	if (r) {
		char buf[256];

		line_append(&line, ": %s", strerror_r(r < 0 ? -r : r, buf, sizeof(buf)));
	}

	for (size_t i = 0; i < line.len; i++)
		if (line.text[i] == '\n' || line.text[i] == '\r')
			line.text[i] = ' ';
	line.text[line.len++] = '\n';

	for (size_t off = 0; off < line.len;) {
		ssize_t w = write(STDERR_FILENO, line.text + off, line.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved_errno;
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

int log_error_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_ERR, r, fmt, ap);
	va_end(ap);
	return r;
}

int log_warn_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_WARNING, r, fmt, ap);
	va_end(ap);
	return r;
}
