/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cli.h"

static int parse(int argc, char **argv, const char **config, int *level, char *err, size_t len)
{
	optind = 0; /* glibc: start over */
	return cli_parse_common(argc, argv, config, level, err, len);
}

static void test_defaults_and_command(void **state)
{
	char *argv[] = { "prog", "run", "--period", "x", NULL };
	const char *config = "untouched";
	char err[128] = "";
	int level = 99;

	(void)state;
	assert_int_equal(parse(4, argv, &config, &level, err, sizeof(err)), CLI_RUN);
	assert_string_equal(config, CONFIG_DEFAULT_PATH);
	assert_int_equal(level, -1);
	assert_int_equal(optind, 1); /* the command; its own options stay for it */
}

static void test_options(void **state)
{
	char *argv[] = { "prog", "--config", "/tmp/t.conf", "--log-level", "DEBUG", "serve", NULL };
	const char *config = NULL;
	char err[128];
	int level = 0;

	(void)state;
	assert_int_equal(parse(6, argv, &config, &level, err, sizeof(err)), CLI_RUN);
	assert_string_equal(config, "/tmp/t.conf");
	assert_int_equal(level, LOG_DEBUG);
	assert_string_equal(argv[optind], "serve");
}

static void test_help(void **state)
{
	char *argv[] = { "prog", "--help", NULL };
	const char *config = "untouched";
	char err[128];
	int level = 5;

	(void)state;
	assert_int_equal(parse(2, argv, &config, &level, err, sizeof(err)), CLI_HELP);
	assert_string_equal(config, "untouched");
}

static void test_errors(void **state)
{
	char *bad_level[] = { "prog", "--log-level", "loud", "run", NULL };
	char *unknown[] = { "prog", "--colour", "run", NULL };
	char *no_value[] = { "prog", "--config", NULL };
	const char *config = "untouched";
	char err[128];
	int level = 5;

	(void)state;
	assert_int_equal(parse(4, bad_level, &config, &level, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--log-level: 'loud' is not error, warning, info or debug");
	assert_int_equal(parse(3, unknown, &config, &level, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown option '--colour'");
	assert_int_equal(parse(2, no_value, &config, &level, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--config needs a value");
	assert_string_equal(config, "untouched");
	assert_int_equal(level, 5);
	assert_int_equal(opterr, 1); /* left as it was for the commands' own getopt */
}

static void test_load_config(void **state)
{
	char path[] = "/tmp/tg-test-cli.XXXXXX", err[600];
	struct config *cfg = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "[billing]\nbatch_interval = 7\n", 29) == 29);
	close(fd);
	assert_int_equal(cli_load_config(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->billing.batch_interval, 7);
	free(cfg);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(write(fd, "[billing]\nbatch_interval = 0\n", 29) == 29);
	close(fd);
	assert_int_equal(cli_load_config(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, path, strlen(path)));
	assert_non_null(strstr(err, "billing.batch_interval"));
	unlink(path);
	assert_int_equal(cli_load_config(path, &cfg, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_command),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
