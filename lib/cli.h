/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cli.h - what the command line of every tollgate service starts with:
 *
 *   PROGRAM [--config FILE] [--log-level LEVEL] [--help] COMMAND [ARGS...]
 *
 * (DESIGN §9: every binary takes --config PATH before its subcommand).
 */
#ifndef TG_LIB_CLI_H
#define TG_LIB_CLI_H

#include <stddef.h>

#include "config.h"

#define CLI_RUN 0
#define CLI_HELP 1

/*
 * cli_parse_common() - parse the options before the command. Returns CLI_RUN
 * with @ret_config (default CONFIG_DEFAULT_PATH) and @ret_level (LOG_ERR ..
 * LOG_DEBUG, or -1 when not given) set and optind at the command; CLI_HELP
 * for --help; -EINVAL for anything else, one line in @err naming it.
 */
int cli_parse_common(int argc, char **argv, const char **ret_config, int *ret_level, char *err,
		     size_t err_len);

/*
 * cli_load_config() - a struct config loaded from @path (config_load()), in
 * @ret (free() it). Returns 0, or -errno with one line in @err that starts
 * with the path.
 */
int cli_load_config(const char *path, struct config **ret, char *err, size_t err_len);

#endif /* TG_LIB_CLI_H */
