// SPDX-License-Identifier: BSD-2-Clause
/*
 * analytics-driver - run one read of dashboard-api/analytics.h against a real
 * Postgres (and Redis) and print its JSON, for test-api-analytics.sh:
 *
 *   analytics-driver --dsn DSN [--redis URL] COMMAND [--consumer N] [--api N]
 *       [--from T] [--to T] [--granularity minute|hour|day] [--window S]
 *       [--limit N] [--now T] [--minute-retention DAYS]
 *
 * COMMAND: usage, endpoints, geo, realtime, sla, deprecation, upcoming.
 * T: unix seconds or RFC 3339 UTC ("2026-10-03T10:00:00Z").
 * Prints the JSON on one line (reals with 15 significant digits, as the API
 * is meant to send them) and exits 0; on an error prints
 * "error: -ENAME (message)" on stderr and exits 1; bad usage exits 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing/pg.h"
#include "dashboard-api/analytics.h"
#include "lib/log.h"
#include "lib/redisconn.h"

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL:
		return "EINVAL";
	case EDOM:
		return "EDOM";
	case E2BIG:
		return "E2BIG";
	case ERANGE:
		return "ERANGE";
	case ENOENT:
		return "ENOENT";
	case ENODATA:
		return "ENODATA";
	case EIO:
		return "EIO";
	case ENOMEM:
		return "ENOMEM";
	default:
		return "E?";
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: analytics-driver --dsn DSN [--redis URL] "
			"usage|endpoints|geo|realtime|sla|deprecation|upcoming\n"
			"       [--consumer N] [--api N] [--from T] [--to T]\n"
			"       [--granularity minute|hour|day] [--window S] [--limit N] [--now T]\n"
			"       [--minute-retention DAYS]\n");
	return 2;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* unix seconds, or "YYYY-MM-DDTHH:MM:SSZ" */
static int parse_time(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	uint64_t v;
	const char *end;

	if (!parse_u64(s, INT64_MAX, &v)) {
		*ret = (time_t)v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*ret = timegm(&tm);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dsn", required_argument, NULL, 'd' },
		{ "redis", required_argument, NULL, 'r' },
		{ "consumer", required_argument, NULL, 'c' },
		{ "api", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "granularity", required_argument, NULL, 'g' },
		{ "window", required_argument, NULL, 'w' },
		{ "limit", required_argument, NULL, 'l' },
		{ "now", required_argument, NULL, 'n' },
		{ "minute-retention", required_argument, NULL, 'm' },
		{ 0 },
	};
	struct analytics_query q = { 0 };
	const char *dsn = NULL, *redis_url = NULL, *cmd;
	redisContext *rc = NULL;
	PGconn *c = NULL;
	json_t *out = NULL;
	uint64_t v;
	char *text;
	int opt, r;

	log_init("analytics-driver", LOG_WARNING);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dsn = optarg;
			break;
		case 'r':
			redis_url = optarg;
			break;
		case 'c':
		case 'a':
			if (parse_u64(optarg, UINT32_MAX, &v))
				return usage();
			*(opt == 'c' ? &q.consumer_id : &q.api_id) = (uint32_t)v;
			break;
		case 'f':
		case 't':
		case 'n':
			if (parse_time(optarg, opt == 'f' ? &q.from : opt == 't' ? &q.to : &q.now))
				return usage();
			break;
		case 'g':
			if (analytics_granularity_parse(optarg, &q.granularity))
				return usage();
			break;
		case 'w':
		case 'l':
		case 'm':
			if (parse_u64(optarg, UINT32_MAX, &v))
				return usage();
			*(opt == 'w' ? &q.window_seconds : opt == 'l' ? &q.limit
								      : &q.minute_retention_days) =
				(unsigned int)v;
			break;
		default:
			return usage();
		}
	}
	if (!dsn || optind != argc - 1)
		return usage();
	cmd = argv[optind];

	if (pg_connect(dsn, &c))
		return 1;
	if (redis_url) {
		struct redis_addr addr;
		char err[256];

		if (redisconn_parse(redis_url, &addr, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			PQfinish(c);
			return 2;
		}
		rc = redisconn_open(&addr, 1000); /* NULL when down: realtime says -EIO */
	}

	if (!strcmp(cmd, "usage"))
		r = analytics_usage(c, &q, &out);
	else if (!strcmp(cmd, "endpoints"))
		r = analytics_top_endpoints(c, &q, &out);
	else if (!strcmp(cmd, "geo"))
		r = analytics_geo(c, &q, &out);
	else if (!strcmp(cmd, "realtime"))
		r = analytics_realtime(rc, c, q.consumer_id, q.now, &out);
	else if (!strcmp(cmd, "sla"))
		r = analytics_api_sla(c, &q, &out);
	else if (!strcmp(cmd, "deprecation"))
		r = analytics_api_deprecation(c, q.api_id, q.now, &out);
	else if (!strcmp(cmd, "upcoming"))
		r = analytics_upcoming_invoice(c, q.consumer_id, q.now, &out);
	else {
		PQfinish(c);
		if (rc)
			redisFree(rc);
		return usage();
	}

	if (rc)
		redisFree(rc);
	PQfinish(c);
	if (r) {
		fprintf(stderr, "error: -%s (%s)\n", errno_name(-r), strerror(-r));
		return 1;
	}
	text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(out);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}
