/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.h - tollgate's one INI file (DESIGN §9), parsed with libinih.
 *
 * Every key has a default (config_init()); config_load() overlays a file.
 * Unknown sections and keys, keys set twice, bad numbers, out-of-range values,
 * bad enum values, duplicate plan/route ids and plans/routes missing a
 * required key are errors: config_load() returns -EINVAL and writes one line
 * naming the line and the key as it reads in the file ("line 7:
 * agent.max_flows: '12x' is not a number", "line 12: plan.free.id: required
 * key missing") into the caller's error buffer. The library never logs.
 *
 * Keys are `section.key`; standalone plans and routes are `[plan.NAME]` and
 * `[route.NAME]` (NAME: letters, digits, '_' and '-'), their keys named
 * `plan.NAME.key` in errors. Lists (agent.interfaces, agent.api_ports) are
 * separated by commas and/or spaces. Booleans are true/false, yes/no, on/off,
 * 1/0; enum values and booleans are matched case-insensitively. Numbers are
 * unsigned decimal integers (rates: decimal fractions such as 2.5). Comments
 * start a line with '#' or ';', or follow a value after " ;". A line holds at
 * most CONFIG_LINE_MAX characters; lines may be indented (there are no
 * continuation lines).
 * docs/tollgate.conf.example lists every key with its default and range.
 */
#ifndef TG_LIB_CONFIG_H
#define TG_LIB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/tollgate_abi.h"

#define CONFIG_DEFAULT_PATH "/etc/tollgate/tollgate.conf"
#define CONFIG_MAX_IFACES 16
#define CONFIG_MAX_PORTS 16
#define CONFIG_MAX_PLANS 256
#define CONFIG_MAX_ROUTES 1024
#define CONFIG_NAME_MAX 64
#define CONFIG_PATH_MAX 4096
#define CONFIG_LINE_MAX 197 /* longest line libinih reads whole (INI_MAX_LINE - 3) */

enum config_mode { CONFIG_MODE_XDP = 0, CONFIG_MODE_SOCKMAP, CONFIG_MODE_BOTH };
enum config_xdp_mode { CONFIG_XDP_AUTO = 0, CONFIG_XDP_NATIVE, CONFIG_XDP_SKB };
enum config_scope { CONFIG_SCOPE_HOST = 0, CONFIG_SCOPE_GLOBAL };
enum config_format { CONFIG_FORMAT_BINARY = 0, CONFIG_FORMAT_CLOUDEVENTS };

/* [plan.NAME] */
struct config_plan {
	char name[CONFIG_NAME_MAX];
	uint32_t id;		 /* plan.NAME.id, required, >= 1 */
	uint32_t api_id;	 /* plan.NAME.api_id, 0 = any (default) */
	double rate_per_sec;	 /* plan.NAME.rate_per_sec, > 0, required */
	uint32_t burst;		 /* plan.NAME.burst, >= 1, default ceil(rate) */
	uint64_t monthly_quota;	 /* plan.NAME.monthly_quota, 0 = none (default) */
};

/* [route.NAME] */
struct config_route {
	char name[CONFIG_NAME_MAX];
	uint32_t id;	  /* route.NAME.id, required, >= 1 */
	uint32_t api_id;  /* route.NAME.api_id, required, >= 1 */
	char prefix[TG_ROUTE_MAX]; /* route.NAME.prefix, starts with '/', < 127 bytes */
	bool public_route; /* route.NAME.public, default false */
	bool deprecated;   /* route.NAME.deprecated, default false */
};

struct config {
	struct {
		char interfaces[CONFIG_MAX_IFACES][32]; /* agent.interfaces, space or comma list */
		int n_interfaces;
		uint16_t api_ports[CONFIG_MAX_PORTS]; /* agent.api_ports, default 80 */
		int n_api_ports;
		enum config_mode mode;		 /* agent.mode = xdp|sockmap|both */
		enum config_xdp_mode xdp_mode;	 /* agent.xdp_mode = auto|native|skb */
		uint8_t actions[TG_V_COUNT];	 /* agent.action_<verdict> = pass|drop|reject */
		char cgroup[CONFIG_PATH_MAX];	 /* agent.cgroup, "" = the cgroup v2 root */
		char pin_dir[CONFIG_PATH_MAX];	 /* agent.pin_dir */
		char state_dir[CONFIG_PATH_MAX]; /* agent.state_dir */
		uint32_t host_id;		 /* agent.host_id, 0 = from /etc/machine-id */
		char keys_file[CONFIG_PATH_MAX];   /* agent.keys_file */
		char events_file[CONFIG_PATH_MAX]; /* agent.events_file */
		char metrics_listen[128];	   /* agent.metrics_listen, "" = off */
		char refusal_listen[128];	   /* agent.refusal_listen, "" = off (sockmap mode) */
		char geoip_db[CONFIG_PATH_MAX];	   /* agent.geoip_db, "" = none */
		uint32_t max_keys;		   /* agent.max_keys */
		uint32_t max_plans;		   /* agent.max_plans */
		uint32_t max_buckets;		   /* agent.max_buckets */
		uint32_t max_routes;		   /* agent.max_routes */
		uint32_t max_flows;		   /* agent.max_flows */
		uint32_t max_counters;		   /* agent.max_counters */
		uint32_t max_sources;		   /* agent.max_sources */
		uint32_t ringbuf_kb;		   /* agent.ringbuf_kb, power of two >= 4 */
		uint32_t unanswered_after;	   /* agent.unanswered_after, seconds */
		uint32_t snapshot_interval;	   /* agent.snapshot_interval, seconds */
		double source_rate;		   /* agent.source_rate: keyless refusals/s per source */
		uint32_t source_burst;		   /* agent.source_burst */
		bool detach_on_exit;		   /* agent.detach_on_exit */
	} agent;
	struct {
		char key_secret_file[CONFIG_PATH_MAX]; /* security.key_secret_file */
	} security;
	struct {
		enum config_scope scope; /* ratelimit.scope = host|global */
		uint32_t lease_min;	 /* ratelimit.lease_min, tokens */
		uint32_t lease_max;	 /* ratelimit.lease_max, tokens */
		uint32_t lease_interval_ms; /* ratelimit.lease_interval_ms */
	} ratelimit;
	struct {
		char url[CONFIG_PATH_MAX]; /* redis.url, "" = standalone */
	} redis;
	struct {
		char brokers[CONFIG_PATH_MAX];	/* kafka.brokers, "" = events_file */
		char topic_usage[128];		/* kafka.topic_usage */
		char topic_counters[128];	/* kafka.topic_counters */
		char group[128];		/* kafka.group: billing's consumer group */
		enum config_format format;	/* kafka.format = binary|cloudevents */
		char spool_dir[CONFIG_PATH_MAX]; /* kafka.spool_dir */
		uint32_t spool_max_mb;		/* kafka.spool_max_mb */
	} kafka;
	struct {
		char dsn[CONFIG_PATH_MAX]; /* postgres.dsn */
	} postgres;
	struct {
		uint32_t batch_interval;   /* billing.batch_interval, seconds */
		uint32_t grace_period;	   /* billing.grace_period, seconds */
		uint32_t sla_window;	   /* billing.sla_window, seconds */
		uint32_t minute_retention; /* billing.minute_retention, days */
		uint32_t batch_max_events; /* billing.batch_max_events: a batch ends here too */
		uint32_t deprecation_threshold; /* billing.deprecation_threshold: requests in 7 days */
		double reconcile_tolerance;	/* billing.reconcile_tolerance, percent, > 0 */
		char alert_webhook_url[CONFIG_PATH_MAX];
		char notify_webhook_url[CONFIG_PATH_MAX];
		char payment_provider[32]; /* billing.payment_provider = none|stripe */
		char stripe_base_url[CONFIG_PATH_MAX];
		char stripe_key_file[CONFIG_PATH_MAX];
		uint32_t stripe_timeout_ms; /* billing.stripe_timeout_ms: per Stripe exchange */
	} billing;
	struct {
		char listen[128];		      /* api.listen */
		char admin_token_file[CONFIG_PATH_MAX]; /* api.admin_token_file */
		char tls_cert_file[CONFIG_PATH_MAX];
		char tls_key_file[CONFIG_PATH_MAX];
	} api;
	struct config_plan plans[CONFIG_MAX_PLANS];
	int n_plans;
	struct config_route routes[CONFIG_MAX_ROUTES];
	int n_routes;
};

/* config_init() - fill every field with its documented default. */
void config_init(struct config *cfg);

/*
 * config_load() - config_init() then overlay the INI file at @path.
 * Returns 0; -errno from fopen() (-ENOENT, -EACCES, ...) if the file cannot be
 * read; -ENOMEM; or -EINVAL for a bad file. On any error @err (size @err_len,
 * may be 0) holds one line saying what failed (for -EINVAL the first error in
 * the file, "line N: section.key: ...") and @cfg is left untouched, so a
 * reload that fails keeps the running configuration.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* config_load_string() - as config_load() but from a NUL-terminated string. */
int config_load_string(struct config *cfg, const char *text, char *err, size_t err_len);

/* config_find_plan() - the plan with that id, or NULL. Points into @cfg. */
const struct config_plan *config_find_plan(const struct config *cfg, uint32_t id);

/* config_find_route() - the route with that id, or NULL. Points into @cfg. */
const struct config_route *config_find_route(const struct config *cfg, uint32_t id);

/*
 * Names of verdicts (enum tg_verdict: "admitted", "missing_key", ...) and
 * actions (enum tg_action: "pass", "drop", "reject") as they appear in the
 * config, JSON and metrics. Static strings; NULL for a code out of range.
 */
const char *config_verdict_name(unsigned int verdict);
const char *config_action_name(unsigned int action);

#endif /* TG_LIB_CONFIG_H */
