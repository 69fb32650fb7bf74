// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-log.c - daemon logging (lib/log.h): one line per call on stderr, with
 * the ident, or with the syslog priority when stderr is the journal stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"

struct capture {
	char path[64];
	int fd;	      /* the file stderr now writes to */
	int saved_fd; /* the real stderr */
};

static int capture_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->path, sizeof(c->path), "/tmp/test-log.XXXXXX");
	c->fd = mkstemp(c->path);
	c->saved_fd = dup(STDERR_FILENO);
	if (c->fd < 0 || c->saved_fd < 0 || dup2(c->fd, STDERR_FILENO) < 0)
		return -1;
	unsetenv("JOURNAL_STREAM");
	*state = c;
	return 0;
}

static int capture_teardown(void **state)
{
	struct capture *c = *state;

	dup2(c->saved_fd, STDERR_FILENO);
	close(c->saved_fd);
	close(c->fd);
	unlink(c->path);
	unsetenv("JOURNAL_STREAM");
	free(c);
	return 0;
}

/* What was written since the last call. */
static const char *captured(struct capture *c)
{
	static char buf[8192];
	ssize_t n;

	n = pread(c->fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_int_equal(ftruncate(c->fd, 0), 0);
	assert_int_equal(lseek(c->fd, 0, SEEK_SET), 0); /* shared with stderr */
	return buf;
}

static void test_ident_and_levels(void **state)
{
	struct capture *c = *state;

	log_init("tollgate-test", LOG_INFO);
	log_info("started %d workers", 4);
	assert_string_equal(captured(c), "tollgate-test: started 4 workers\n");
	log_warn("spool at %d%%", 90);
	log_error("kafka down");
	assert_string_equal(captured(c),
			    "tollgate-test: spool at 90%\ntollgate-test: kafka down\n");

	log_debug("not shown");
	assert_string_equal(captured(c), "");
	log_set_level(LOG_DEBUG);
	log_debug("shown");
	assert_string_equal(captured(c), "tollgate-test: shown\n");

	log_set_level(LOG_ERR);
	log_info("hidden");
	log_warn("hidden");
	log_error("kept");
	assert_string_equal(captured(c), "tollgate-test: kept\n");
}

static void test_errno_variants(void **state)
{
	struct capture *c = *state;
	int r;

	log_init("tg", LOG_INFO);
	r = log_error_errno(-ENOENT, "cannot open '%s'", "/etc/x");
	assert_int_equal(r, -ENOENT);
	assert_string_equal(captured(c), "tg: cannot open '/etc/x': No such file or directory\n");

	r = log_warn_errno(-EACCES, "cannot read %s", "secrets");
	assert_int_equal(r, -EACCES);
	assert_string_equal(captured(c), "tg: cannot read secrets: Permission denied\n");

	/* returned even when not written */
	log_set_level(LOG_ERR);
	assert_int_equal(log_warn_errno(-EIO, "quiet"), -EIO);
	assert_string_equal(captured(c), "");
}

static void test_one_line_and_errno_kept(void **state)
{
	struct capture *c = *state;
	char big[3 * LOG_LINE_MAX];
	const char *out;

	log_init("tg", LOG_INFO);
	errno = EAGAIN;
	log_info("first\nsecond\r\nthird");
	assert_int_equal(errno, EAGAIN);
	assert_string_equal(captured(c), "tg: first second  third\n");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error_errno(-EINVAL, "%s", big);
	out = captured(c);
	assert_int_equal(strlen(out), LOG_LINE_MAX);
	assert_int_equal(out[LOG_LINE_MAX - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + LOG_LINE_MAX - 1);
	assert_int_equal(strncmp(out, "tg: xxx", 7), 0);
}

static void test_journal_stream(void **state)
{
	struct capture *c = *state;
	struct stat st;
	char env[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("tg", LOG_DEBUG);
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	log_error_errno(-ENOENT, "x");
	assert_string_equal(captured(c),
			    "<3>e\n<4>w\n<6>i\n<7>d\n<3>x: No such file or directory\n");

	/* inherited by a process whose stderr goes elsewhere: not the journal */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("tg", LOG_INFO);
	log_info("i");
	assert_string_equal(captured(c), "tg: i\n");

	setenv("JOURNAL_STREAM", "garbage", 1);
	log_init("tg", LOG_INFO);
	log_info("i");
	assert_string_equal(captured(c), "tg: i\n");
}

static void test_parse_level(void **state)
{
	(void)state;
	assert_int_equal(log_parse_level("error"), LOG_ERR);
	assert_int_equal(log_parse_level("warning"), LOG_WARNING);
	assert_int_equal(log_parse_level("warn"), LOG_WARNING);
	assert_int_equal(log_parse_level("INFO"), LOG_INFO);
	assert_int_equal(log_parse_level("Debug"), LOG_DEBUG);
	assert_int_equal(log_parse_level("verbose"), -EINVAL);
	assert_int_equal(log_parse_level(""), -EINVAL);
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, capture_setup, capture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_ident_and_levels),	    TEST(test_errno_variants),
		TEST(test_one_line_and_errno_kept), TEST(test_journal_stream),
		cmocka_unit_test(test_parse_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
