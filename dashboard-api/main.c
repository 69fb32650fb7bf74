/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tollgate-api - the dashboard REST API and developer portal backend
 * (DESIGN §7).
 *
 *   tollgate-api [--config FILE] [serve] [--threads N] [--auth-fail-burst N]
 *                [--auth-fail-per-min N] [--sandbox-burst N] [--sandbox-per-min N]
 *   tollgate-api [--config FILE] sync-redis
 *   tollgate-api routes
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "dashboard-api/auth.h"
#include "dashboard-api/keys.h"
#include "dashboard-api/limiter.h"
#include "dashboard-api/metrics.h"
#include "dashboard-api/relay.h"
#include "dashboard-api/routes.h"
#include "dashboard-api/sandbox.h"
#include "dashboard-api/server.h"
#include "lib/cli.h"
#include "lib/config.h"
#include "lib/log.h"

#define AUTH_FAIL_BURST_DEFAULT 20
#define AUTH_FAIL_PER_MIN_DEFAULT 10

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tollgate-api [--config FILE] [--log-level LEVEL] [COMMAND]\n"
		"\n"
		"commands:\n"
		"  serve (default)       serve the REST API on api.listen, relay the outbox to "
		"Redis\n"
		"      --threads N           worker threads, each with its Postgres connection\n"
		"                            (default %d)\n"
		"      --auth-fail-burst N   failed authentications an address may make at once\n"
		"                            (default %d)\n"
		"      --auth-fail-per-min N how fast that allowance refills (default %d a "
		"minute)\n"
		"      --sandbox-burst N     sandbox calls a consumer may make at once (default "
		"%d)\n"
		"      --sandbox-per-min N   how fast that allowance refills (default %d a "
		"minute)\n"
		"  sync-redis            rebuild apikey:*, plan:* and route:* in Redis from "
		"Postgres\n"
		"  routes                print the routing table: METHOD PATH ACCESS\n"
		"\n"
		"--config defaults to " CONFIG_DEFAULT_PATH ".\n",
		SERVER_THREADS_DEFAULT, AUTH_FAIL_BURST_DEFAULT, AUTH_FAIL_PER_MIN_DEFAULT,
		SANDBOX_BURST_DEFAULT, SANDBOX_PER_MIN_DEFAULT);
}

static int parse_uint(const char *opt, const char *s, unsigned int min, unsigned int max,
		      unsigned int *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max) {
		log_error("%s: '%s' is not a number from %u to %u", opt, s, min, max);
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

/* what serve and sync-redis share: secrets, admin token, Redis address */
static int ctx_init(struct api_ctx *ctx, const struct config *cfg, bool need_secrets)
{
	char err[512];
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	if (cfg->redis.url[0]) {
		r = redisconn_parse(cfg->redis.url, &ctx->redis, err, sizeof(err));
		if (r) {
			log_error("%s", err);
			return r;
		}
		ctx->redis_enabled = true;
	}
	if (!need_secrets)
		return 0;
	r = keydigest_load_secrets(cfg->security.key_secret_file, &ctx->secrets, err, sizeof(err));
	if (r) {
		log_error("%s", err);
		return r;
	}
	r = keys_newest_version(cfg->security.key_secret_file);
	if (r < 0)
		return log_error_errno(r,
				       "security.key_secret_file: no newest secret version in '%s'",
				       cfg->security.key_secret_file);
	ctx->key_version = (unsigned int)r;
	r = auth_load_admin_token(cfg->api.admin_token_file, &ctx->admin_token, err, sizeof(err));
	if (r == -ENOENT) {
		log_warn("%s: no admin access until it exists", err);
	} else if (r) {
		log_error("%s", err);
		return r;
	} else {
		ctx->admin_token_len = strlen(ctx->admin_token);
	}
	return 0;
}

static void ctx_clear(struct api_ctx *ctx)
{
	if (ctx->admin_token) {
		explicit_bzero(ctx->admin_token, ctx->admin_token_len);
		free(ctx->admin_token);
	}
	explicit_bzero(&ctx->secrets, sizeof(ctx->secrets));
	limiter_free(ctx->limiter);
	limiter_free(ctx->sandbox_limiter);
	metrics_free(ctx->metrics);
}

/*
 * A minute series is a few hundred KiB of JSON built and freed per request.
 * glibc's defaults give such blocks back to the kernel on every free (mmap
 * above 128 KiB, heap trimming), so each request faulted its pages in again:
 * about 15 % of the API's CPU on the minute series. Kept instead; the
 * resident size settles at the worker threads' peak.
 */
static void keep_freed_memory(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static int cmd_serve(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "auth-fail-burst", required_argument, NULL, 'b' },
		{ "auth-fail-per-min", required_argument, NULL, 'm' },
		{ "sandbox-burst", required_argument, NULL, 'B' },
		{ "sandbox-per-min", required_argument, NULL, 'M' },
		{ 0 },
	};
	unsigned int threads = SERVER_THREADS_DEFAULT, burst = AUTH_FAIL_BURST_DEFAULT;
	unsigned int per_min = AUTH_FAIL_PER_MIN_DEFAULT;
	unsigned int sandbox_burst = SANDBOX_BURST_DEFAULT;
	unsigned int sandbox_per_min = SANDBOX_PER_MIN_DEFAULT;
	struct server *srv = NULL;
	struct relay *relay = NULL;
	struct api_ctx ctx;
	sigset_t mask;
	int opt, sig, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:b:m:B:M:", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			r = parse_uint("--threads", optarg, 1, 256, &threads);
			break;
		case 'b':
			r = parse_uint("--auth-fail-burst", optarg, 1, 1000000, &burst);
			break;
		case 'm':
			r = parse_uint("--auth-fail-per-min", optarg, 0, 1000000, &per_min);
			break;
		case 'B':
			r = parse_uint("--sandbox-burst", optarg, 1, 1000000, &sandbox_burst);
			break;
		case 'M':
			r = parse_uint("--sandbox-per-min", optarg, 0, 1000000, &sandbox_per_min);
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	r = ctx_init(&ctx, cfg, true);
	if (r)
		goto out_clear;
	ctx.limiter = limiter_new(burst, per_min);
	ctx.sandbox_limiter = limiter_new(sandbox_burst, sandbox_per_min);
	ctx.metrics = metrics_new(n_routes);
	if (!ctx.limiter || !ctx.sandbox_limiter || !ctx.metrics) {
		r = -ENOMEM;
		goto out_clear;
	}
	/* before any thread: curl_global_init() is not thread-safe (the sandbox's libcurl) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		r = log_error_errno(-ENOMEM, "cannot initialise libcurl");
		goto out_clear;
	}
	/* signals go to this thread's sigwait(), never to a worker */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = server_start(&ctx, threads, &srv);
	if (r)
		goto out_stop;
	if (ctx.redis_enabled) {
		r = relay_start(&ctx, &relay);
		if (r) {
			log_error_errno(r, "cannot start the outbox relay");
			goto out_stop;
		}
	} else {
		log_warn("redis.url is not set: key and plan changes stay in the outbox");
	}
	log_info("ready: listening on %s (port %u)%s, %u worker thread(s)", cfg->api.listen,
		 server_port(srv), cfg->api.tls_cert_file[0] ? " with TLS" : "", threads);
	sd_notifyf(0, "READY=1\nSTATUS=serving on port %u", server_port(srv));
	sigwait(&mask, &sig);
	sd_notify(0, "STOPPING=1");
	log_info("%s: stopping", strsignal(sig));
	relay_stop(relay);
out_stop:
	server_stop(srv);
	curl_global_cleanup();
out_clear:
	ctx_clear(&ctx);
	return r;
}

static int cmd_sync_redis(const struct config *cfg)
{
	struct api_ctx ctx;
	int r = ctx_init(&ctx, cfg, false);

	if (!r)
		r = relay_sync_redis(&ctx);
	ctx_clear(&ctx);
	return r;
}

static int cmd_routes(void)
{
	for (size_t i = 0; i < n_routes; i++)
		printf("%s %s %s\n", routes[i].method, routes[i].pattern,
		       routes_access_name(routes[i].access));
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH, *cmd = "serve";
	struct config *cfg;
	char err[512];
	int r, level;

	log_init("tollgate-api", LOG_INFO);
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
	if (optind < argc)
		cmd = argv[optind];
	if (!strcmp(cmd, "routes"))
		return cmd_routes();

	if (cli_load_config(config_path, &cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (!strcmp(cmd, "serve")) {
		keep_freed_memory();
		r = cmd_serve(cfg, argc - optind, argv + optind);
	}
	else if (!strcmp(cmd, "sync-redis"))
		r = cmd_sync_redis(cfg);
	else {
		log_error("unknown command '%s'", cmd);
		usage(stderr);
		free(cfg);
		return 2;
	}
	free(cfg);
	return r ? 1 : 0;
}
