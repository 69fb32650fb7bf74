/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tollgate-billing - the money side of tollgate (DESIGN §6).
 *
 *   tollgate-billing [--config FILE] migrate
 *   tollgate-billing [--config FILE] run
 *   tollgate-billing [--config FILE] invoice --period YYYY-MM
 *   tollgate-billing [--config FILE] reconcile --period YYYY-MM
 *   tollgate-billing [--config FILE] replay --from TIME
 *   tollgate-billing [--config FILE] pay [--now UNIX-SECONDS]
 *   tollgate-billing [--config FILE] jobs [--now UNIX-SECONDS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "billing/deprecation.h"
#include "billing/invoice.h"
#include "billing/migrate.h"
#include "billing/payments.h"
#include "billing/pg.h"
#include "billing/reconcile.h"
#include "billing/replay.h"
#include "billing/run.h"
#include "billing/sla.h"
#include "billing/webhook.h"
#include "lib/cli.h"
#include "lib/config.h"
#include "lib/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tollgate-billing [--config FILE] [--log-level LEVEL] COMMAND\n"
		"\n"
		"commands:\n"
		"  migrate                 apply the SQL migrations the database lacks\n"
		"  run                     consume usage into Postgres (consumer group member)\n"
		"  invoice --period YYYY-MM  create or update the invoices of a month\n"
		"  reconcile --period YYYY-MM  compare its rollups, Redis and kernel counts\n"
		"  replay --from TIME      rebuild the rollups from TIME's day on out of Kafka\n"
		"                          (TIME: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds)\n"
		"  pay [--now UNIX-SECONDS]  charge finalized invoices once, then exit (--now:\n"
		"                          the time dunning sees; default the clock)\n"
		"  jobs [--now UNIX-SECONDS]  run the SLA evaluation, deprecation notices and\n"
		"                          webhook deliveries once, then exit (--now: default the\n"
		"                          clock)\n"
		"\n"
		"--config defaults to " CONFIG_DEFAULT_PATH ".\n");
}

static int cmd_migrate(const struct config *cfg)
{
	PGconn *c;
	int r = pg_connect(cfg->postgres.dsn, &c);

	if (r)
		return r;
	r = migrate_apply(c);
	PQfinish(c);
	if (r < 0)
		return r;
	log_info("database up to date (%d migration(s) applied now)", r);
	return 0;
}

/* "[--now UNIX-SECONDS]", the one option of pay and jobs; 0 or -EINVAL */
static int now_arg(const char *cmd, int argc, char **argv, time_t *ret)
{
	static const struct option opts[] = {
		{ "now", required_argument, NULL, 'n' },
		{ 0 },
	};
	long long v;
	char *end;
	int opt;

	*ret = time(NULL);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (opt != 'n') {
			usage(stderr);
			return -EINVAL;
		}
		errno = 0;
		v = strtoll(optarg, &end, 10);
		if (optarg[0] < '0' || optarg[0] > '9' || *end || errno) {
			log_error("%s: --now '%s' is not a number of seconds since the epoch", cmd,
				  optarg);
			return -EINVAL;
		}
		*ret = (time_t)v;
	}
	return 0;
}

/* a connection to a database with every migration applied */
static int connect_migrated(const struct config *cfg, PGconn **ret)
{
	PGconn *c;
	int r = pg_connect(cfg->postgres.dsn, &c);

	if (r)
		return r;
	r = migrate_check(c);
	if (r) {
		PQfinish(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* "--period YYYY-MM", the one option of invoice and reconcile */
static const char *period_arg(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "period", required_argument, NULL, 'p' },
		{ 0 },
	};
	const char *period = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
		if (opt != 'p') {
			usage(stderr);
			return NULL;
		}
		period = optarg;
	}
	if (!period)
		log_error("%s: --period YYYY-MM is required", cmd);
	return period;
}

static int cmd_reconcile(const struct config *cfg, int argc, char **argv)
{
	const char *period = period_arg("reconcile", argc, argv);
	PGconn *c;
	int r;

	if (!period)
		return -EINVAL;
	r = connect_migrated(cfg, &c);
	if (r)
		return r;
	r = reconcile_period(c, cfg, period, time(NULL));
	PQfinish(c);
	return r < 0 ? r : 0;
}

static int cmd_replay(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ 0 },
	};
	time_t from = 0;
	bool have = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		if (opt != 'f') {
			usage(stderr);
			return -EINVAL;
		}
		if (replay_parse_time(optarg, &from)) {
			log_error("replay: --from '%s' is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or "
				  "Unix seconds",
				  optarg);
			return -EINVAL;
		}
		have = true;
	}
	if (!have) {
		log_error("replay: --from TIME is required");
		return -EINVAL;
	}
	if (from > time(NULL)) {
		log_error("replay: --from is in the future");
		return -EINVAL;
	}
	return replay_main(cfg, from);
}

static int cmd_invoice(const struct config *cfg, int argc, char **argv)
{
	const char *period = period_arg("invoice", argc, argv);
	PGconn *c;
	int r;

	if (!period)
		return -EINVAL;
	r = connect_migrated(cfg, &c);
	if (r)
		return r;
	r = invoice_run(c, cfg, period);
	PQfinish(c);
	return r < 0 ? r : 0;
}

static int cmd_pay(const struct config *cfg, int argc, char **argv)
{
	time_t now;
	PGconn *c;
	int r = now_arg("pay", argc, argv, &now);

	if (r)
		return r;
	r = connect_migrated(cfg, &c);
	if (r)
		return r;
	r = payments_run(c, cfg, now);
	PQfinish(c);
	return r < 0 ? r : 0;
}

static int cmd_jobs(const struct config *cfg, int argc, char **argv)
{
	int r, alerts, notices, delivered;
	time_t now;
	PGconn *c;

	r = now_arg("jobs", argc, argv, &now);
	if (r)
		return r;
	r = connect_migrated(cfg, &c);
	if (r)
		return r;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = log_error_errno(-ENOMEM, "jobs: cannot initialise libcurl");
		goto out_finish;
	}
	/* each job runs even when another failed; new webhooks go out in this run */
	alerts = sla_evaluate(c, cfg, now);
	notices = deprecation_notify(c, cfg, now);
	delivered = webhook_deliver(c, cfg, now);
	curl_global_cleanup();
	log_info("jobs: %d SLA alert change(s), %d deprecation notice(s), %d webhook(s) delivered",
		 alerts < 0 ? 0 : alerts, notices < 0 ? 0 : notices, delivered < 0 ? 0 : delivered);
	r = alerts < 0 ? alerts : notices < 0 ? notices : delivered < 0 ? delivered : 0;
out_finish:
	PQfinish(c);
	return r;
}

int main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH, *cmd;
	struct config *cfg;
	char err[512];
	int r, level;

	log_init("tollgate-billing", LOG_INFO);
	r = cli_parse_common(argc, argv, &config_path, &level, err, sizeof(err));
	if (r == CLI_HELP) {
		usage(stdout);
		return 0;
	}
	if (r < 0) {
		log_error("%s", err);
		usage(stderr);
		return 2;
	}
	if (level >= 0)
		log_set_level(level);
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];

	if (cli_load_config(config_path, &cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}

	if (!strcmp(cmd, "migrate"))
		r = cmd_migrate(cfg);
	else if (!strcmp(cmd, "run"))
		r = run_main(cfg);
	else if (!strcmp(cmd, "invoice"))
		r = cmd_invoice(cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "reconcile"))
		r = cmd_reconcile(cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "replay"))
		r = cmd_replay(cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "jobs"))
		r = cmd_jobs(cfg, argc - optind, argv + optind);
	else if (!strcmp(cmd, "pay"))
		r = cmd_pay(cfg, argc - optind, argv + optind);
	else {
		log_error("unknown command '%s'", cmd);
		usage(stderr);
		free(cfg);
		return 2;
	}
	free(cfg);
	return r ? 1 : 0;
}
