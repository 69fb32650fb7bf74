// SPDX-License-Identifier: BSD-2-Clause
/*
 * config.c - the INI file of DESIGN §9 on top of libinih.
 *
 * libinih does the lexing; this file owns everything else. We feed inih through
 * ini_parse_stream() with our own line reader for two reasons: the handler of
 * the packaged libinih gets no line number (INI_HANDLER_LINENO is off), and a
 * line longer than inih's buffer would otherwise be cut silently and its tail
 * parsed as a line of its own.
 *
 * Parsing goes into a scratch struct config; the caller's is written only when
 * the whole file is valid, so a failed SIGHUP reload keeps the old settings.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"

#define MAP_SIZE_MAX (1U << 24)
#define RATE_MAX 100000000.0 /* the kernel's refill math holds up to here */
#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

enum opt_type {
	OPT_STRING, /* char[size] */
	OPT_U32,    /* uint32_t in [min, max] */
	OPT_POW2,   /* uint32_t in [min, max], a power of two */
	OPT_RATE,   /* double, > 0 */
	OPT_BOOL,   /* bool */
	OPT_ENUM,   /* an enum (int) or uint8_t, the index into choices */
	OPT_CHOICE, /* char[size] holding one of choices */
	OPT_IFACES, /* agent.interfaces */
	OPT_PORTS,  /* agent.api_ports */
	OPT_LISTEN, /* char[size], "host:port" or "" */
	OPT_TOPIC,  /* char[size], a Kafka topic name */
};

struct option {
	const char *section;
	const char *name;
	enum opt_type type;
	size_t offset;
	size_t size;
	uint64_t min, max;
	const char *const *choices;
};

static const char *const verdict_names[TG_V_COUNT] = {
	[TG_V_ADMITTED] = "admitted",	    [TG_V_MISSING_KEY] = "missing_key",
	[TG_V_UNKNOWN_KEY] = "unknown_key", [TG_V_REVOKED_KEY] = "revoked_key",
	[TG_V_SUSPENDED] = "suspended",	    [TG_V_FORBIDDEN_API] = "forbidden_api",
	[TG_V_OVER_LIMIT] = "over_limit",   [TG_V_QUOTA_EXHAUSTED] = "quota_exhausted",
};

static const char *const action_names[] = {
	[TG_ACT_PASS] = "pass",
	[TG_ACT_DROP] = "drop",
	[TG_ACT_REJECT] = "reject",
	NULL,
};
static const char *const mode_names[] = {
	[CONFIG_MODE_XDP] = "xdp",
	[CONFIG_MODE_SOCKMAP] = "sockmap",
	[CONFIG_MODE_BOTH] = "both",
	NULL,
};
static const char *const xdp_mode_names[] = {
	[CONFIG_XDP_AUTO] = "auto",
	[CONFIG_XDP_NATIVE] = "native",
	[CONFIG_XDP_SKB] = "skb",
	NULL,
};
static const char *const scope_names[] = {
	[CONFIG_SCOPE_HOST] = "host",
	[CONFIG_SCOPE_GLOBAL] = "global",
	NULL,
};
static const char *const format_names[] = {
	[CONFIG_FORMAT_BINARY] = "binary",
	[CONFIG_FORMAT_CLOUDEVENTS] = "cloudevents",
	NULL,
};
static const char *const payment_provider_names[] = { "none", "stripe", NULL };

#define FIELD_SIZE(field) sizeof(((struct config *)0)->field)
#define OPT(sec, key, type, field, lo, hi, names)                                                  \
	{                                                                                          \
		sec, key, type, offsetof(struct config, field), FIELD_SIZE(field), lo, hi, names   \
	}
#define STR(sec, key, field) OPT(sec, key, OPT_STRING, field, 0, 0, NULL)
#define U32(sec, key, field, lo, hi) OPT(sec, key, OPT_U32, field, lo, hi, NULL)
#define ENUM(sec, key, field, names) OPT(sec, key, OPT_ENUM, field, 0, 0, names)

static const struct option options[] = {
	OPT("agent", "interfaces", OPT_IFACES, agent.interfaces, 0, 0, NULL),
	OPT("agent", "api_ports", OPT_PORTS, agent.api_ports, 0, 0, NULL),
	ENUM("agent", "mode", agent.mode, mode_names),
	ENUM("agent", "xdp_mode", agent.xdp_mode, xdp_mode_names),
	ENUM("agent", "action_missing_key", agent.actions[TG_V_MISSING_KEY], action_names),
	ENUM("agent", "action_unknown_key", agent.actions[TG_V_UNKNOWN_KEY], action_names),
	ENUM("agent", "action_revoked_key", agent.actions[TG_V_REVOKED_KEY], action_names),
	ENUM("agent", "action_suspended", agent.actions[TG_V_SUSPENDED], action_names),
	ENUM("agent", "action_forbidden_api", agent.actions[TG_V_FORBIDDEN_API], action_names),
	ENUM("agent", "action_over_limit", agent.actions[TG_V_OVER_LIMIT], action_names),
	ENUM("agent", "action_quota_exhausted", agent.actions[TG_V_QUOTA_EXHAUSTED], action_names),
	STR("agent", "cgroup", agent.cgroup),
	STR("agent", "pin_dir", agent.pin_dir),
	STR("agent", "state_dir", agent.state_dir),
	U32("agent", "host_id", agent.host_id, 0, UINT32_MAX),
	STR("agent", "keys_file", agent.keys_file),
	STR("agent", "events_file", agent.events_file),
	OPT("agent", "metrics_listen", OPT_LISTEN, agent.metrics_listen, 0, 0, NULL),
	OPT("agent", "refusal_listen", OPT_LISTEN, agent.refusal_listen, 0, 0, NULL),
	STR("agent", "geoip_db", agent.geoip_db),
	U32("agent", "max_keys", agent.max_keys, 1, MAP_SIZE_MAX),
	U32("agent", "max_plans", agent.max_plans, 1, MAP_SIZE_MAX),
	U32("agent", "max_buckets", agent.max_buckets, 1, MAP_SIZE_MAX),
	U32("agent", "max_routes", agent.max_routes, 1, MAP_SIZE_MAX),
	U32("agent", "max_flows", agent.max_flows, 1, MAP_SIZE_MAX),
	U32("agent", "max_counters", agent.max_counters, 1, MAP_SIZE_MAX),
	U32("agent", "max_sources", agent.max_sources, 1, MAP_SIZE_MAX),
	OPT("agent", "ringbuf_kb", OPT_POW2, agent.ringbuf_kb, 4, 1U << 20, NULL),
	U32("agent", "unanswered_after", agent.unanswered_after, 1, 3600),
	U32("agent", "snapshot_interval", agent.snapshot_interval, 1, 3600),
	OPT("agent", "source_rate", OPT_RATE, agent.source_rate, 0, 0, NULL),
	U32("agent", "source_burst", agent.source_burst, 1, 1000000000),
	OPT("agent", "detach_on_exit", OPT_BOOL, agent.detach_on_exit, 0, 0, NULL),

	STR("security", "key_secret_file", security.key_secret_file),

	ENUM("ratelimit", "scope", ratelimit.scope, scope_names),
	U32("ratelimit", "lease_min", ratelimit.lease_min, 1, 1000000000),
	U32("ratelimit", "lease_max", ratelimit.lease_max, 1, 1000000000),
	U32("ratelimit", "lease_interval_ms", ratelimit.lease_interval_ms, 10, 60000),

	STR("redis", "url", redis.url),

	STR("kafka", "brokers", kafka.brokers),
	OPT("kafka", "topic_usage", OPT_TOPIC, kafka.topic_usage, 0, 0, NULL),
	OPT("kafka", "topic_counters", OPT_TOPIC, kafka.topic_counters, 0, 0, NULL),
	OPT("kafka", "group", OPT_TOPIC, kafka.group, 0, 0, NULL),
	ENUM("kafka", "format", kafka.format, format_names),
	STR("kafka", "spool_dir", kafka.spool_dir),
	U32("kafka", "spool_max_mb", kafka.spool_max_mb, 1, 1U << 20),

	STR("postgres", "dsn", postgres.dsn),

	U32("billing", "batch_interval", billing.batch_interval, 1, 3600),
	U32("billing", "grace_period", billing.grace_period, 0, 31 * 86400),
	U32("billing", "sla_window", billing.sla_window, 10, 86400),
	U32("billing", "minute_retention", billing.minute_retention, 1, 400),
	U32("billing", "batch_max_events", billing.batch_max_events, 1000, 100000000),
	U32("billing", "deprecation_threshold", billing.deprecation_threshold, 1, 1000000000),
	OPT("billing", "reconcile_tolerance", OPT_RATE, billing.reconcile_tolerance, 0, 0, NULL),
	STR("billing", "alert_webhook_url", billing.alert_webhook_url),
	STR("billing", "notify_webhook_url", billing.notify_webhook_url),
	OPT("billing", "payment_provider", OPT_CHOICE, billing.payment_provider, 0, 0,
	    payment_provider_names),
	STR("billing", "stripe_base_url", billing.stripe_base_url),
	STR("billing", "stripe_key_file", billing.stripe_key_file),
	U32("billing", "stripe_timeout_ms", billing.stripe_timeout_ms, 1, 600000),

	OPT("api", "listen", OPT_LISTEN, api.listen, 0, 0, NULL),
	STR("api", "admin_token_file", api.admin_token_file),
	STR("api", "tls_cert_file", api.tls_cert_file),
	STR("api", "tls_key_file", api.tls_key_file),
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

enum plan_key { PLAN_ID, PLAN_API_ID, PLAN_RATE, PLAN_BURST, PLAN_QUOTA, PLAN_N_KEYS };
static const char *const plan_keys[PLAN_N_KEYS] = {
	"id", "api_id", "rate_per_sec", "burst", "monthly_quota",
};

enum route_key {
	ROUTE_ID,
	ROUTE_API_ID,
	ROUTE_PREFIX,
	ROUTE_PUBLIC,
	ROUTE_DEPRECATED,
	ROUTE_N_KEYS
};
static const char *const route_keys[ROUTE_N_KEYS] = {
	"id", "api_id", "prefix", "public", "deprecated",
};

struct parse_ctx {
	struct config *cfg;

	/* input: either a string or a FILE */
	const char *text;
	FILE *file;
	char *linebuf;
	size_t linecap;
	int read_errno; /* errno of a failed read, 0 at the end of the file */

	int line;	  /* number of the line inih is working on */
	int section_line; /* line of the last "[section]" header */

	int err_line; /* line of the first error, 0 = none */
	char *err;
	size_t err_len;

	/* where each key was set, 0 = not set */
	int opt_line[N_OPTIONS];
	int plan_line[CONFIG_MAX_PLANS];
	int plan_key_line[CONFIG_MAX_PLANS][PLAN_N_KEYS];
	int route_line[CONFIG_MAX_ROUTES];
	int route_key_line[CONFIG_MAX_ROUTES][ROUTE_N_KEYS];
};

static void set_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));

	cfg->agent.api_ports[0] = 80;
	cfg->agent.n_api_ports = 1;
	cfg->agent.mode = CONFIG_MODE_XDP;
	cfg->agent.xdp_mode = CONFIG_XDP_AUTO;
	cfg->agent.actions[TG_V_ADMITTED] = TG_ACT_PASS;
	for (int v = TG_V_ADMITTED + 1; v < TG_V_COUNT; v++)
		cfg->agent.actions[v] = TG_ACT_REJECT;
	set_string(cfg->agent.pin_dir, sizeof(cfg->agent.pin_dir), "/sys/fs/bpf/tollgate");
	set_string(cfg->agent.state_dir, sizeof(cfg->agent.state_dir), "/var/lib/tollgate");
	set_string(cfg->agent.keys_file, sizeof(cfg->agent.keys_file), "/etc/tollgate/keys");
	set_string(cfg->agent.events_file, sizeof(cfg->agent.events_file),
		   "/var/lib/tollgate/events.jsonl");
	set_string(cfg->agent.metrics_listen, sizeof(cfg->agent.metrics_listen), "127.0.0.1:9109");
	cfg->agent.max_keys = 100000;
	cfg->agent.max_plans = 1024;
	cfg->agent.max_buckets = 100000;
	cfg->agent.max_routes = 1024;
	cfg->agent.max_flows = 32768;
	cfg->agent.max_counters = 65536;
	cfg->agent.max_sources = 65536;
	cfg->agent.ringbuf_kb = 4096;
	cfg->agent.unanswered_after = 30;
	cfg->agent.snapshot_interval = 10;
	cfg->agent.source_rate = 10;
	cfg->agent.source_burst = 20;
	cfg->agent.detach_on_exit = false;

	set_string(cfg->security.key_secret_file, sizeof(cfg->security.key_secret_file),
		   "/etc/tollgate/secrets");

	cfg->ratelimit.scope = CONFIG_SCOPE_HOST;
	cfg->ratelimit.lease_min = 10;
	cfg->ratelimit.lease_max = 10000;
	cfg->ratelimit.lease_interval_ms = 100;

	set_string(cfg->kafka.topic_usage, sizeof(cfg->kafka.topic_usage), "tollgate.usage");
	set_string(cfg->kafka.topic_counters, sizeof(cfg->kafka.topic_counters),
		   "tollgate.counters");
	set_string(cfg->kafka.group, sizeof(cfg->kafka.group), "tollgate-billing");
	cfg->kafka.format = CONFIG_FORMAT_BINARY;
	set_string(cfg->kafka.spool_dir, sizeof(cfg->kafka.spool_dir), "/var/lib/tollgate/spool");
	cfg->kafka.spool_max_mb = 1024;

	cfg->billing.batch_interval = 60;
	cfg->billing.grace_period = 3600;
	cfg->billing.sla_window = 300;
	cfg->billing.minute_retention = 14;
	cfg->billing.batch_max_events = 1000000;
	cfg->billing.deprecation_threshold = 1;
	cfg->billing.reconcile_tolerance = 0.5;
	set_string(cfg->billing.payment_provider, sizeof(cfg->billing.payment_provider), "none");
	set_string(cfg->billing.stripe_base_url, sizeof(cfg->billing.stripe_base_url),
		   "https://api.stripe.com");
	cfg->billing.stripe_timeout_ms = 30000;
	set_string(cfg->billing.stripe_key_file, sizeof(cfg->billing.stripe_key_file),
		   "/etc/tollgate/stripe-key");

	set_string(cfg->api.listen, sizeof(cfg->api.listen), "127.0.0.1:8088");
	set_string(cfg->api.admin_token_file, sizeof(cfg->api.admin_token_file),
		   "/etc/tollgate/admin-token");
}

/* Record the first error only: later ones are usually consequences. */
static __attribute__((format(printf, 3, 4))) int ctx_error(struct parse_ctx *ctx, int line,
							   const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (ctx->err_line && ctx->err_line <= line)
		return -EINVAL;
	ctx->err_line = line > 0 ? line : INT_MAX;
	if (!ctx->err || ctx->err_len == 0)
		return -EINVAL;
	if (line > 0)
		n = snprintf(ctx->err, ctx->err_len, "line %d: ", line);
	if (n >= 0 && (size_t)n < ctx->err_len) {
		va_start(ap, fmt);
		vsnprintf(ctx->err + n, ctx->err_len - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * One line per call, as fgets() would return it, counting lines. A line that
 * does not fit inih's buffer is reported here and handed over empty, instead
 * of being split into pieces that inih would parse as lines of their own.
 * Leading blanks are dropped: inih would take an indented line for the
 * continuation of the previous value, and operators indent keys.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *line;
	size_t len, max;
	ssize_t n;

	if (ctx->file) {
		errno = 0;
		n = getline(&ctx->linebuf, &ctx->linecap, ctx->file);
		if (n < 0) {
			ctx->read_errno = errno;
			return NULL;
		}
		line = ctx->linebuf;
		len = (size_t)n;
	} else {
		if (!*ctx->text)
			return NULL;
		line = ctx->text;
		len = strcspn(line, "\n");
		if (line[len] == '\n')
			len++;
		ctx->text += len;
	}
	ctx->line++;

	/* the line's content, without its end and its indentation */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (ctx->line == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
		line += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		len--;
	}
	if (len > 0 && line[0] == '[')
		ctx->section_line = ctx->line;

	max = num > 3 ? (size_t)num - 3 : 0;
	if (max > CONFIG_LINE_MAX)
		max = CONFIG_LINE_MAX;
	if (len > max) {
		ctx_error(ctx, ctx->line, "line longer than %zu characters", max);
		len = 0;
	}
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* Unsigned decimal, all of it: no sign, no blanks, no base prefix. */
static int parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*ret = v;
	return 0;
}

/*
 * A rate: decimal digits with an optional fraction ("2", "0.5"); no sign,
 * exponent, hex, inf or nan, which strtod() alone would take.
 */
static int parse_rate(const char *s, double *ret)
{
	size_t digits = strspn(s, "0123456789"), frac = 0;
	const char *p = s + digits;
	double v;
	char *end;

	if (*p == '.') {
		frac = strspn(p + 1, "0123456789");
		p += 1 + frac;
	}
	if (digits + frac == 0 || *p)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(v))
		return -ERANGE;
	/* below one fixed-point unit per second the bucket never refills */
	if (v * TG_TOKEN_ONE < 1.0 || v > RATE_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_choice(const char *s, const char *const *choices)
{
	for (int i = 0; choices[i]; i++)
		if (!strcasecmp(s, choices[i]))
			return i;
	return -EINVAL;
}

static void join_choices(const char *const *choices, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; choices[i] && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%s", i ? ", " : "", choices[i]);
}

static int parse_port(const char *s, uint16_t *ret)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* "host:port", "[v6]:port" or "" (off); port 0 = any free port (the daemon
 * logs the one it got). The host is resolved by the daemon. */
static bool listen_valid(const char *s)
{
	const char *colon;
	uint16_t port;

	if (!*s)
		return true;
	colon = strrchr(s, ':');
	if (!colon || colon == s || (strcmp(colon + 1, "0") != 0 && parse_port(colon + 1, &port) < 0))
		return false;
	if (s[0] == '[')
		return colon > s + 2 && colon[-1] == ']';
	return !memchr(s, ':', colon - s) && !strpbrk(s, " \t");
}

/* Kafka's legal topic names: [A-Za-z0-9._-]{1,249}. */
static bool topic_valid(const char *s)
{
	size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return len > 0 && !s[len] && strcmp(s, ".") && strcmp(s, "..");
}

/* What the kernel's dev_valid_name() takes. */
static bool ifname_valid(const char *s, size_t len)
{
	if (len == 0 || len > IFNAME_MAX)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return false;
	return true;
}

#define LIST_SEPARATORS ", \t"

static int set_interfaces(struct parse_ctx *ctx, const char *key, const char *value)
{
	char names[CONFIG_MAX_IFACES][32];
	int n = 0;

	for (const char *p = value + strspn(value, LIST_SEPARATORS); *p;
	     p += strspn(p, LIST_SEPARATORS)) {
		size_t len = strcspn(p, LIST_SEPARATORS);

		if (!ifname_valid(p, len))
			return ctx_error(ctx, ctx->line, "%s: '%.*s' is not an interface name", key,
					 (int)len, p);
		if (n == CONFIG_MAX_IFACES)
			return ctx_error(ctx, ctx->line, "%s: more than %d interfaces", key,
					 CONFIG_MAX_IFACES);
		memcpy(names[n], p, len);
		names[n][len] = '\0';
		for (int i = 0; i < n; i++)
			if (!strcmp(names[i], names[n]))
				return ctx_error(ctx, ctx->line, "%s: '%s' is listed twice", key,
						 names[n]);
		n++;
		p += len;
	}
	if (n == 0)
		return ctx_error(ctx, ctx->line, "%s: empty list", key);

	memcpy(ctx->cfg->agent.interfaces, names, sizeof(names));
	ctx->cfg->agent.n_interfaces = n;
	return 0;
}

static int set_ports(struct parse_ctx *ctx, const char *key, const char *value)
{
	uint16_t ports[CONFIG_MAX_PORTS];
	int n = 0;

	for (const char *p = value + strspn(value, LIST_SEPARATORS); *p;
	     p += strspn(p, LIST_SEPARATORS)) {
		size_t len = strcspn(p, LIST_SEPARATORS);
		uint16_t port = 0;
		char word[8];

		if (len < sizeof(word)) {
			memcpy(word, p, len);
			word[len] = '\0';
		}
		if (len >= sizeof(word) || parse_port(word, &port) < 0)
			return ctx_error(ctx, ctx->line, "%s: '%.*s' is not a port (1-65535)", key,
					 (int)len, p);
		if (n == CONFIG_MAX_PORTS)
			return ctx_error(ctx, ctx->line, "%s: more than %d ports", key,
					 CONFIG_MAX_PORTS);
		ports[n] = port;
		for (int i = 0; i < n; i++)
			if (ports[i] == ports[n])
				return ctx_error(ctx, ctx->line, "%s: %u is listed twice", key,
						 ports[n]);
		n++;
		p += len;
	}
	if (n == 0)
		return ctx_error(ctx, ctx->line, "%s: empty list", key);

	memcpy(ctx->cfg->agent.api_ports, ports, n * sizeof(ports[0]));
	ctx->cfg->agent.n_api_ports = n;
	return 0;
}

static int set_string_checked(struct parse_ctx *ctx, const char *key, char *dst, size_t size,
			      const char *value)
{
	if (strlen(value) >= size)
		return ctx_error(ctx, ctx->line, "%s: longer than %zu characters", key, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* A u32 key: "'12x' is not a number", "'0' is out of range (1-3600)". */
static int get_u32(struct parse_ctx *ctx, const char *key, const char *value, uint64_t min,
		   uint64_t max, uint32_t *ret)
{
	uint64_t v;
	int r;

	r = parse_u64(value, &v);
	if (r == -EINVAL)
		return ctx_error(ctx, ctx->line, "%s: '%s' is not a number", key, value);
	if (r < 0 || v < min || v > max)
		return ctx_error(ctx, ctx->line,
				 "%s: '%s' is out of range (%" PRIu64 "-%" PRIu64 ")", key, value,
				 min, max);
	*ret = (uint32_t)v;
	return 0;
}

static int get_rate(struct parse_ctx *ctx, const char *key, const char *value, double *ret)
{
	int r = parse_rate(value, ret);

	if (r == -EINVAL)
		return ctx_error(ctx, ctx->line, "%s: '%s' is not a decimal number", key, value);
	if (r < 0)
		return ctx_error(
			ctx, ctx->line,
			"%s: '%s' is out of range (more than 0 and at most %.0f per second)", key,
			value, RATE_MAX);
	return 0;
}

static int get_bool(struct parse_ctx *ctx, const char *key, const char *value, bool *ret)
{
	if (parse_bool(value, ret) < 0)
		return ctx_error(ctx, ctx->line,
				 "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", key,
				 value);
	return 0;
}

static int set_option(struct parse_ctx *ctx, const struct option *opt, const char *key,
		      const char *value)
{
	char *field = (char *)ctx->cfg + opt->offset;
	char names[128];
	uint32_t u32;
	int i, r;

	switch (opt->type) {
	case OPT_STRING:
		return set_string_checked(ctx, key, field, opt->size, value);
	case OPT_U32:
	case OPT_POW2:
		r = get_u32(ctx, key, value, opt->min, opt->max, &u32);
		if (r < 0)
			return r;
		if (opt->type == OPT_POW2 && (u32 & (u32 - 1)))
			return ctx_error(ctx, ctx->line, "%s: '%s' is not a power of two", key,
					 value);
		memcpy(field, &u32, sizeof(u32));
		return 0;
	case OPT_RATE:
		return get_rate(ctx, key, value, (double *)field);
	case OPT_BOOL:
		return get_bool(ctx, key, value, (bool *)field);
	case OPT_ENUM:
	case OPT_CHOICE:
		i = parse_choice(value, opt->choices);
		if (i < 0) {
			join_choices(opt->choices, names, sizeof(names));
			return ctx_error(ctx, ctx->line, "%s: '%s' is not one of: %s", key, value,
					 names);
		}
		if (opt->type == OPT_CHOICE)
			set_string(field, opt->size, opt->choices[i]);
		else if (opt->size == sizeof(uint8_t))
			*(uint8_t *)field = (uint8_t)i;
		else
			*(int *)field = i;
		return 0;
	case OPT_IFACES:
		return set_interfaces(ctx, key, value);
	case OPT_PORTS:
		return set_ports(ctx, key, value);
	case OPT_LISTEN:
		if (!listen_valid(value))
			return ctx_error(
				ctx, ctx->line,
				"%s: '%s' is not an address (host:port, [v6]:port or empty)", key,
				value);
		return set_string_checked(ctx, key, field, opt->size, value);
	case OPT_TOPIC:
		if (!topic_valid(value))
			return ctx_error(
				ctx, ctx->line,
				"%s: '%s' is not a topic name (letters, digits, '.', '_', '-')",
				key, value);
		return set_string_checked(ctx, key, field, opt->size, value);
	}
	return -EINVAL;
}

static int duplicate_key(struct parse_ctx *ctx, const char *key, int first_line)
{
	return ctx_error(ctx, ctx->line, "%s: set twice (first on line %d)", key, first_line);
}

static bool name_valid(const char *name)
{
	size_t len =
		strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

	return len > 0 && !name[len] && len < CONFIG_NAME_MAX;
}

static int find_plan_index(struct parse_ctx *ctx, const char *section)
{
	struct config *cfg = ctx->cfg;
	const char *name = section + strlen("plan.");
	struct config_plan *plan;

	for (int i = 0; i < cfg->n_plans; i++)
		if (!strcmp(cfg->plans[i].name, name))
			return i;
	if (!name_valid(name))
		return ctx_error(ctx, ctx->section_line,
				 "[%s]: a plan name is 1-%d letters, digits, '_' or '-'", section,
				 CONFIG_NAME_MAX - 1);
	if (cfg->n_plans == CONFIG_MAX_PLANS)
		return ctx_error(ctx, ctx->section_line, "[%s]: more than %d plans", section,
				 CONFIG_MAX_PLANS);

	plan = &cfg->plans[cfg->n_plans];
	memset(plan, 0, sizeof(*plan));
	set_string(plan->name, sizeof(plan->name), name);
	ctx->plan_line[cfg->n_plans] = ctx->section_line;
	return cfg->n_plans++;
}

static int set_plan_key(struct parse_ctx *ctx, const char *section, const char *name,
			const char *value)
{
	struct config *cfg = ctx->cfg;
	struct config_plan *plan;
	char key[CONFIG_NAME_MAX + 32];
	int idx, k, r;

	idx = find_plan_index(ctx, section);
	if (idx < 0)
		return idx;
	plan = &cfg->plans[idx];
	snprintf(key, sizeof(key), "%s.%s", section, name);

	for (k = 0; k < PLAN_N_KEYS; k++)
		if (!strcmp(name, plan_keys[k]))
			break;
	if (k == PLAN_N_KEYS)
		return ctx_error(ctx, ctx->line, "%s: unknown key", key);
	if (ctx->plan_key_line[idx][k])
		return duplicate_key(ctx, key, ctx->plan_key_line[idx][k]);

	switch (k) {
	case PLAN_ID:
		r = get_u32(ctx, key, value, 1, UINT32_MAX, &plan->id);
		for (int i = 0; r == 0 && i < cfg->n_plans; i++)
			if (i != idx && ctx->plan_key_line[i][PLAN_ID] &&
			    cfg->plans[i].id == plan->id)
				r = ctx_error(ctx, ctx->line, "%s: %u is already the id of plan.%s",
					      key, plan->id, cfg->plans[i].name);
		break;
	case PLAN_API_ID:
		r = get_u32(ctx, key, value, 0, UINT32_MAX, &plan->api_id);
		break;
	case PLAN_RATE:
		r = get_rate(ctx, key, value, &plan->rate_per_sec);
		break;
	case PLAN_BURST:
		r = get_u32(ctx, key, value, 1, UINT32_MAX, &plan->burst);
		break;
	default: {
		uint64_t quota;

		r = parse_u64(value, &quota);
		if (r == -EINVAL)
			r = ctx_error(ctx, ctx->line, "%s: '%s' is not a number", key, value);
		else if (r < 0)
			r = ctx_error(ctx, ctx->line, "%s: '%s' is out of range (0-%" PRIu64 ")",
				      key, value, UINT64_MAX);
		else
			plan->monthly_quota = quota;
		break;
	}
	}
	if (r == 0)
		ctx->plan_key_line[idx][k] = ctx->line;
	return r;
}

static int find_route_index(struct parse_ctx *ctx, const char *section)
{
	struct config *cfg = ctx->cfg;
	const char *name = section + strlen("route.");
	struct config_route *route;

	for (int i = 0; i < cfg->n_routes; i++)
		if (!strcmp(cfg->routes[i].name, name))
			return i;
	if (!name_valid(name))
		return ctx_error(ctx, ctx->section_line,
				 "[%s]: a route name is 1-%d letters, digits, '_' or '-'", section,
				 CONFIG_NAME_MAX - 1);
	if (cfg->n_routes == CONFIG_MAX_ROUTES)
		return ctx_error(ctx, ctx->section_line, "[%s]: more than %d routes", section,
				 CONFIG_MAX_ROUTES);

	route = &cfg->routes[cfg->n_routes];
	memset(route, 0, sizeof(*route));
	set_string(route->name, sizeof(route->name), name);
	ctx->route_line[cfg->n_routes] = ctx->section_line;
	return cfg->n_routes++;
}

/*
 * A route prefix as the LPM trie stores it: '/' first, no trailing '/'
 * (except "/" itself; the agent appends one so prefixes match at segment
 * boundaries), room for that '/' in TG_ROUTE_MAX, nothing a request target
 * cannot hold before its query.
 */
static int set_prefix(struct parse_ctx *ctx, const char *key, int idx, const char *value)
{
	struct config *cfg = ctx->cfg;
	size_t len = strlen(value);

	if (value[0] != '/')
		return ctx_error(ctx, ctx->line, "%s: '%s' does not start with '/'", key, value);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c <= ' ' || c == 0x7f || c == '?' || c == '#')
			return ctx_error(ctx, ctx->line,
					 "%s: '%s' holds a blank, control character, '?' or '#'",
					 key, value);
	}
	while (len > 1 && value[len - 1] == '/')
		len--;
	if (len >= TG_ROUTE_MAX - 1)
		return ctx_error(ctx, ctx->line, "%s: longer than %d characters", key,
				 TG_ROUTE_MAX - 2);

	for (int i = 0; i < cfg->n_routes; i++) {
		const char *other = cfg->routes[i].prefix;

		if (i != idx && ctx->route_key_line[i][ROUTE_PREFIX] && strlen(other) == len &&
		    !memcmp(other, value, len))
			return ctx_error(ctx, ctx->line,
					 "%s: '%s' is already the prefix of route.%s", key, other,
					 cfg->routes[i].name);
	}
	memcpy(cfg->routes[idx].prefix, value, len);
	cfg->routes[idx].prefix[len] = '\0';
	return 0;
}

static int set_route_key(struct parse_ctx *ctx, const char *section, const char *name,
			 const char *value)
{
	struct config *cfg = ctx->cfg;
	struct config_route *route;
	char key[CONFIG_NAME_MAX + 32];
	int idx, k, r;

	idx = find_route_index(ctx, section);
	if (idx < 0)
		return idx;
	route = &cfg->routes[idx];
	snprintf(key, sizeof(key), "%s.%s", section, name);

	for (k = 0; k < ROUTE_N_KEYS; k++)
		if (!strcmp(name, route_keys[k]))
			break;
	if (k == ROUTE_N_KEYS)
		return ctx_error(ctx, ctx->line, "%s: unknown key", key);
	if (ctx->route_key_line[idx][k])
		return duplicate_key(ctx, key, ctx->route_key_line[idx][k]);

	switch (k) {
	case ROUTE_ID:
		r = get_u32(ctx, key, value, 1, UINT32_MAX, &route->id);
		for (int i = 0; r == 0 && i < cfg->n_routes; i++)
			if (i != idx && ctx->route_key_line[i][ROUTE_ID] &&
			    cfg->routes[i].id == route->id)
				r = ctx_error(ctx, ctx->line,
					      "%s: %u is already the id of route.%s", key,
					      route->id, cfg->routes[i].name);
		break;
	case ROUTE_API_ID:
		r = get_u32(ctx, key, value, 1, UINT32_MAX, &route->api_id);
		break;
	case ROUTE_PREFIX:
		r = set_prefix(ctx, key, idx, value);
		break;
	case ROUTE_PUBLIC:
		r = get_bool(ctx, key, value, &route->public_route);
		break;
	default:
		r = get_bool(ctx, key, value, &route->deprecated);
		break;
	}
	if (r == 0)
		ctx->route_key_line[idx][k] = ctx->line;
	return r;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	char key[128];

	if (!*section)
		return ctx_error(ctx, ctx->line, "'%s' is outside any section", name) == 0;
	if (!strncmp(section, "plan.", strlen("plan.")))
		return set_plan_key(ctx, section, name, value) == 0;
	if (!strncmp(section, "route.", strlen("route.")))
		return set_route_key(ctx, section, name, value) == 0;

	snprintf(key, sizeof(key), "%s.%s", section, name);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (strcmp(options[i].section, section))
			continue;
		if (strcmp(options[i].name, name))
			continue;
		if (ctx->opt_line[i])
			return duplicate_key(ctx, key, ctx->opt_line[i]) == 0;
		if (set_option(ctx, &options[i], key, value) < 0)
			return 0;
		ctx->opt_line[i] = ctx->line;
		return 1;
	}
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!strcmp(options[i].section, section))
			return ctx_error(ctx, ctx->line, "%s: unknown key", key) == 0;
	return ctx_error(ctx, ctx->section_line, "unknown section [%s]", section) == 0;
}

static int opt_line(const struct parse_ctx *ctx, const char *section, const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!strcmp(options[i].section, section) && !strcmp(options[i].name, name))
			return ctx->opt_line[i];
	return 0;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/* What can only be checked once the whole file is read. */
static int check_config(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	int line;

	for (int i = 0; i < cfg->n_plans; i++) {
		struct config_plan *plan = &cfg->plans[i];

		for (int k = 0; k < PLAN_N_KEYS; k++)
			if ((k == PLAN_ID || k == PLAN_RATE) && !ctx->plan_key_line[i][k])
				return ctx_error(ctx, ctx->plan_line[i],
						 "plan.%s.%s: required key missing", plan->name,
						 plan_keys[k]);
		if (!ctx->plan_key_line[i][PLAN_BURST]) {
			double burst = ceil(plan->rate_per_sec);

			plan->burst = burst < 1 ? 1 : (uint32_t)burst;
		}
	}
	for (int i = 0; i < cfg->n_routes; i++) {
		for (int k = 0; k < ROUTE_N_KEYS; k++)
			if ((k == ROUTE_ID || k == ROUTE_API_ID || k == ROUTE_PREFIX) &&
			    !ctx->route_key_line[i][k])
				return ctx_error(ctx, ctx->route_line[i],
						 "route.%s.%s: required key missing",
						 cfg->routes[i].name, route_keys[k]);
	}

	if ((uint32_t)cfg->n_plans > cfg->agent.max_plans)
		return ctx_error(ctx, opt_line(ctx, "agent", "max_plans"),
				 "agent.max_plans: %u is less than the %d plans configured",
				 cfg->agent.max_plans, cfg->n_plans);
	if ((uint32_t)cfg->n_routes > cfg->agent.max_routes)
		return ctx_error(ctx, opt_line(ctx, "agent", "max_routes"),
				 "agent.max_routes: %u is less than the %d routes configured",
				 cfg->agent.max_routes, cfg->n_routes);
	if (cfg->ratelimit.lease_min > cfg->ratelimit.lease_max) {
		line = max_int(opt_line(ctx, "ratelimit", "lease_min"),
			       opt_line(ctx, "ratelimit", "lease_max"));
		return ctx_error(ctx, line,
				 "ratelimit.lease_min: %u is more than ratelimit.lease_max %u",
				 cfg->ratelimit.lease_min, cfg->ratelimit.lease_max);
	}
	if (!cfg->api.tls_cert_file[0] != !cfg->api.tls_key_file[0]) {
		bool cert = cfg->api.tls_cert_file[0];

		line = opt_line(ctx, "api", cert ? "tls_cert_file" : "tls_key_file");
		return ctx_error(ctx, line, "api.%s: set without api.%s",
				 cert ? "tls_cert_file" : "tls_key_file",
				 cert ? "tls_key_file" : "tls_cert_file");
	}
	return 0;
}

static int parse(struct config *cfg, const char *text, FILE *file, const char *path, char *err,
		 size_t err_len)
{
	struct parse_ctx *ctx;
	struct config *scratch;
	int r;

	scratch = malloc(sizeof(*scratch));
	ctx = calloc(1, sizeof(*ctx));
	if (!scratch || !ctx) {
		r = -ENOMEM;
		if (err && err_len)
			snprintf(err, err_len, "out of memory");
		goto out_free;
	}
	config_init(scratch);
	ctx->cfg = scratch;
	ctx->text = text;
	ctx->file = file;
	ctx->err = err;
	ctx->err_len = err_len;

	r = ini_parse_stream(read_line, ctx, handle_key, ctx);
	if (r == -2) {
		r = -ENOMEM;
		if (err && err_len)
			snprintf(err, err_len, "out of memory");
		goto out_free;
	}
	if (r > 0 && (!ctx->err_line || r < ctx->err_line))
		ctx_error(ctx, r, "syntax error (expected '[section]' or 'key = value')");
	if (file && ferror(file)) {
		r = ctx->read_errno ? -ctx->read_errno : -EIO;
		if (err && err_len)
			snprintf(err, err_len, "cannot read '%s': %s", path, strerror(-r));
		goto out_free;
	}
	if (!ctx->err_line)
		check_config(ctx);
	if (ctx->err_line) {
		r = -EINVAL;
		goto out_free;
	}

	memcpy(cfg, scratch, sizeof(*cfg));
	r = 0;
out_free:
	if (ctx)
		free(ctx->linebuf);
	free(ctx);
	free(scratch);
	return r;
}

int config_load_string(struct config *cfg, const char *text, char *err, size_t err_len)
{
	return parse(cfg, text, NULL, NULL, err, err_len);
}

int config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct stat st;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f || fstat(fileno(f), &st) < 0) {
		r = -errno;
		if (err && err_len)
			snprintf(err, err_len, "cannot open '%s': %s", path, strerror(-r));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		if (err && err_len)
			snprintf(err, err_len, "cannot read '%s': %s", path, strerror(-r));
		goto out_close;
	}
	r = parse(cfg, NULL, f, path, err, err_len);
out_close:
	if (f)
		fclose(f);
	return r;
}

const struct config_plan *config_find_plan(const struct config *cfg, uint32_t id)
{
	for (int i = 0; i < cfg->n_plans; i++)
		if (cfg->plans[i].id == id)
			return &cfg->plans[i];
	return NULL;
}

const struct config_route *config_find_route(const struct config *cfg, uint32_t id)
{
	for (int i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].id == id)
			return &cfg->routes[i];
	return NULL;
}

const char *config_verdict_name(unsigned int verdict)
{
	return verdict < TG_V_COUNT ? verdict_names[verdict] : NULL;
}

const char *config_action_name(unsigned int action)
{
	return action <= TG_ACT_REJECT ? action_names[action] : NULL;
}
