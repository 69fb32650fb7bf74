/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

int cli_parse_common(int argc, char **argv, const char **ret_config, int *ret_level, char *err,
		     size_t err_len)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = CONFIG_DEFAULT_PATH;
	int opt, level = -1, r = CLI_RUN, saved_opterr = opterr;

	opterr = 0; /* the caller says what was wrong, in its own words */
	while (r == CLI_RUN && (opt = getopt_long(argc, argv, "+:c:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			level = log_parse_level(optarg);
			if (level < 0) {
				snprintf(err, err_len,
					 "--log-level: '%s' is not error, warning, info or debug",
					 optarg);
				r = -EINVAL;
			}
			break;
		case 'h':
			r = CLI_HELP;
			break;
		case ':':
			snprintf(err, err_len, "%s needs a value", argv[optind - 1]);
			r = -EINVAL;
			break;
		default:
			snprintf(err, err_len, "unknown option '%s'", argv[optind - 1]);
			r = -EINVAL;
		}
	}
	opterr = saved_opterr;
	if (r == CLI_RUN) {
		*ret_config = config;
		*ret_level = level;
	}
	return r;
}

int cli_load_config(const char *path, struct config **ret, char *err, size_t err_len)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char why[512];
	int r;

	if (!cfg) {
		snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	r = config_load(cfg, path, why, sizeof(why));
	if (r) {
		snprintf(err, err_len, "%s: %s", path, why[0] ? why : strerror(-r));
		free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}
