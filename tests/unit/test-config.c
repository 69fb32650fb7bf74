// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-config.c - the INI file (lib/config.h): every default, a full valid
 * file, and every error an operator can make, each with the message that
 * names the line and the key.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"

struct fixture {
	struct config *cfg;
	struct config *before; /* to check that a failed load changes nothing */
	char err[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->cfg = malloc(sizeof(*f->cfg));
	f->before = malloc(sizeof(*f->before));
	if (!f->cfg || !f->before)
		return -1;
	config_init(f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->cfg);
	free(f->before);
	free(f);
	return 0;
}

static void load_ok(struct fixture *f, const char *text)
{
	f->err[0] = '\0';
	if (config_load_string(f->cfg, text, f->err, sizeof(f->err)) != 0)
		fail_msg("unexpected error: %s\nin:\n%s", f->err, text);
}

/* The load fails with exactly @expected, and leaves the config as it was. */
static void load_fails(struct fixture *f, const char *text, const char *expected)
{
	int r;

	memcpy(f->before, f->cfg, sizeof(*f->cfg));
	strcpy(f->err, "(none)");
	r = config_load_string(f->cfg, text, f->err, sizeof(f->err));
	if (r != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", r, text);
	assert_string_equal(f->err, expected);
	assert_memory_equal(f->cfg, f->before, sizeof(*f->cfg));
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = f->cfg;

	config_init(c);
	assert_int_equal(c->agent.n_interfaces, 0);
	assert_int_equal(c->agent.n_api_ports, 1);
	assert_int_equal(c->agent.api_ports[0], 80);
	assert_int_equal(c->agent.mode, CONFIG_MODE_XDP);
	assert_int_equal(c->agent.xdp_mode, CONFIG_XDP_AUTO);
	assert_int_equal(c->agent.actions[TG_V_ADMITTED], TG_ACT_PASS);
	for (int v = TG_V_MISSING_KEY; v < TG_V_COUNT; v++)
		assert_int_equal(c->agent.actions[v], TG_ACT_REJECT);
	assert_string_equal(c->agent.cgroup, "");
	assert_string_equal(c->agent.pin_dir, "/sys/fs/bpf/tollgate");
	assert_string_equal(c->agent.state_dir, "/var/lib/tollgate");
	assert_int_equal(c->agent.host_id, 0);
	assert_string_equal(c->agent.keys_file, "/etc/tollgate/keys");
	assert_string_equal(c->agent.events_file, "/var/lib/tollgate/events.jsonl");
	assert_string_equal(c->agent.metrics_listen, "127.0.0.1:9109");
	assert_string_equal(c->agent.geoip_db, "");
	assert_int_equal(c->agent.max_keys, 100000);
	assert_int_equal(c->agent.max_plans, 1024);
	assert_int_equal(c->agent.max_buckets, 100000);
	assert_int_equal(c->agent.max_routes, 1024);
	assert_int_equal(c->agent.max_flows, 32768);
	assert_int_equal(c->agent.max_counters, 65536);
	assert_int_equal(c->agent.max_sources, 65536);
	assert_int_equal(c->agent.ringbuf_kb, 4096);
	assert_int_equal(c->agent.unanswered_after, 30);
	assert_int_equal(c->agent.snapshot_interval, 10);
	assert_true(c->agent.source_rate == 10.0);
	assert_int_equal(c->agent.source_burst, 20);
	assert_false(c->agent.detach_on_exit);

	assert_string_equal(c->security.key_secret_file, "/etc/tollgate/secrets");

	assert_int_equal(c->ratelimit.scope, CONFIG_SCOPE_HOST);
	assert_int_equal(c->ratelimit.lease_min, 10);
	assert_int_equal(c->ratelimit.lease_max, 10000);
	assert_int_equal(c->ratelimit.lease_interval_ms, 100);

	assert_string_equal(c->redis.url, "");

	assert_string_equal(c->kafka.brokers, "");
	assert_string_equal(c->kafka.topic_usage, "tollgate.usage");
	assert_string_equal(c->kafka.topic_counters, "tollgate.counters");
	assert_int_equal(c->kafka.format, CONFIG_FORMAT_BINARY);
	assert_string_equal(c->kafka.spool_dir, "/var/lib/tollgate/spool");
	assert_int_equal(c->kafka.spool_max_mb, 1024);

	assert_string_equal(c->postgres.dsn, "");

	assert_int_equal(c->billing.batch_interval, 60);
	assert_int_equal(c->billing.grace_period, 3600);
	assert_int_equal(c->billing.sla_window, 300);
	assert_int_equal(c->billing.minute_retention, 14);
	assert_string_equal(c->billing.alert_webhook_url, "");
	assert_string_equal(c->billing.notify_webhook_url, "");
	assert_string_equal(c->billing.payment_provider, "none");
	assert_string_equal(c->billing.stripe_base_url, "https://api.stripe.com");
	assert_string_equal(c->billing.stripe_key_file, "/etc/tollgate/stripe-key");

	assert_string_equal(c->api.listen, "127.0.0.1:8088");
	assert_string_equal(c->api.admin_token_file, "/etc/tollgate/admin-token");
	assert_string_equal(c->api.tls_cert_file, "");
	assert_string_equal(c->api.tls_key_file, "");

	assert_int_equal(c->n_plans, 0);
	assert_int_equal(c->n_routes, 0);
}

static void test_empty_file_is_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *defaults = malloc(sizeof(*defaults));

	assert_non_null(defaults);
	config_init(defaults);
	memset(f->cfg, 0x5a, sizeof(*f->cfg));
	load_ok(f, "");
	assert_memory_equal(f->cfg, defaults, sizeof(*defaults));
	load_ok(f, "# only comments\n; and more\n\n   \n[agent]\n");
	assert_memory_equal(f->cfg, defaults, sizeof(*defaults));
	free(defaults);
}

/* ---- a full file -------------------------------------------------------- */

static const char full_file[] = "# tollgate.conf with every key set\n"
				"[agent]\n"
				"interfaces = eth0, eth1 veth-a\n"
				"api_ports = 80 8080,443\n"
				"mode = both\n"
				"xdp_mode = native\n"
				"action_missing_key = drop\n"
				"action_unknown_key = pass\n"
				"action_revoked_key = reject\n"
				"action_suspended = drop\n"
				"action_forbidden_api = pass\n"
				"action_over_limit = drop\n"
				"action_quota_exhausted = pass\n"
				"cgroup = /sys/fs/cgroup/api.slice\n"
				"pin_dir = /sys/fs/bpf/tg2\n"
				"state_dir = /var/lib/tg2\n"
				"host_id = 4294967295\n"
				"keys_file = /etc/tg2/keys\n"
				"events_file = /var/log/tg2/events.jsonl\n"
				"metrics_listen = [::1]:9200\n"
				"geoip_db = /usr/share/GeoIP/GeoLite2-Country.mmdb\n"
				"max_keys = 1000000\n"
				"max_plans = 300\n"
				"max_buckets = 2000000\n"
				"max_routes = 2048\n"
				"max_flows = 65536\n"
				"max_counters = 131072\n"
				"max_sources = 16777216\n"
				"ringbuf_kb = 16384\n"
				"unanswered_after = 60\n"
				"snapshot_interval = 5\n"
				"source_rate = 2.5\n"
				"source_burst = 5\n"
				"detach_on_exit = yes\n"
				"\n"
				"[security]\n"
				"key_secret_file = /run/secrets/tollgate\n"
				"\n"
				"[ratelimit]\n"
				"scope = global\n"
				"lease_min = 5\n"
				"lease_max = 500\n"
				"lease_interval_ms = 250\n"
				"\n"
				"[redis]\n"
				"url = redis://127.0.0.1:6380/0\n"
				"\n"
				"[kafka]\n"
				"brokers = 10.0.0.1:9092,10.0.0.2:9092\n"
				"topic_usage = acme.usage\n"
				"topic_counters = acme.counters-v2\n"
				"format = cloudevents\n"
				"spool_dir = /srv/spool\n"
				"spool_max_mb = 4096\n"
				"\n"
				"[postgres]\n"
				"dsn = postgresql://tollgate@db.internal/tollgate?sslmode=require\n"
				"\n"
				"[billing]\n"
				"batch_interval = 30\n"
				"grace_period = 7200\n"
				"sla_window = 600\n"
				"minute_retention = 30\n"
				"alert_webhook_url = https://hooks.example.com/alerts\n"
				"notify_webhook_url = https://hooks.example.com/notices\n"
				"payment_provider = stripe\n"
				"stripe_base_url = http://127.0.0.1:12111\n"
				"stripe_key_file = /etc/tg2/stripe\n"
				"\n"
				"[api]\n"
				"listen = 0.0.0.0:443\n"
				"admin_token_file = /etc/tg2/admin\n"
				"tls_cert_file = /etc/tg2/cert.pem\n"
				"tls_key_file = /etc/tg2/key.pem\n"
				"\n"
				"[plan.free]\n"
				"id = 1\n"
				"rate_per_sec = 2.5\n"
				"\n"
				"[plan.pro]\n"
				"id = 2\n"
				"api_id = 5\n"
				"rate_per_sec = 100\n"
				"burst = 250\n"
				"monthly_quota = 10000000000\n"
				"\n"
				"[route.orders]\n"
				"id = 10\n"
				"api_id = 5\n"
				"prefix = /v1/orders/\n"
				"\n"
				"[route.health]\n"
				"id = 11\n"
				"api_id = 5\n"
				"prefix = /healthz\n"
				"public = on\n"
				"deprecated = 1\n"
				"\n"
				"[route.root]\n"
				"id = 12\n"
				"api_id = 6\n"
				"prefix = /\n"
				"public = false\n"
				"deprecated = no\n";

static void test_full_file(void **state)
{
	struct fixture *f = *state;
	struct config *c = f->cfg;
	const struct config_plan *p;
	const struct config_route *r;

	load_ok(f, full_file);

	assert_int_equal(c->agent.n_interfaces, 3);
	assert_string_equal(c->agent.interfaces[0], "eth0");
	assert_string_equal(c->agent.interfaces[1], "eth1");
	assert_string_equal(c->agent.interfaces[2], "veth-a");
	assert_int_equal(c->agent.n_api_ports, 3);
	assert_int_equal(c->agent.api_ports[0], 80);
	assert_int_equal(c->agent.api_ports[1], 8080);
	assert_int_equal(c->agent.api_ports[2], 443);
	assert_int_equal(c->agent.mode, CONFIG_MODE_BOTH);
	assert_int_equal(c->agent.xdp_mode, CONFIG_XDP_NATIVE);
	assert_int_equal(c->agent.actions[TG_V_ADMITTED], TG_ACT_PASS);
	assert_int_equal(c->agent.actions[TG_V_MISSING_KEY], TG_ACT_DROP);
	assert_int_equal(c->agent.actions[TG_V_UNKNOWN_KEY], TG_ACT_PASS);
	assert_int_equal(c->agent.actions[TG_V_REVOKED_KEY], TG_ACT_REJECT);
	assert_int_equal(c->agent.actions[TG_V_SUSPENDED], TG_ACT_DROP);
	assert_int_equal(c->agent.actions[TG_V_FORBIDDEN_API], TG_ACT_PASS);
	assert_int_equal(c->agent.actions[TG_V_OVER_LIMIT], TG_ACT_DROP);
	assert_int_equal(c->agent.actions[TG_V_QUOTA_EXHAUSTED], TG_ACT_PASS);
	assert_string_equal(c->agent.cgroup, "/sys/fs/cgroup/api.slice");
	assert_string_equal(c->agent.pin_dir, "/sys/fs/bpf/tg2");
	assert_string_equal(c->agent.state_dir, "/var/lib/tg2");
	assert_int_equal(c->agent.host_id, 4294967295u);
	assert_string_equal(c->agent.keys_file, "/etc/tg2/keys");
	assert_string_equal(c->agent.events_file, "/var/log/tg2/events.jsonl");
	assert_string_equal(c->agent.metrics_listen, "[::1]:9200");
	assert_string_equal(c->agent.geoip_db, "/usr/share/GeoIP/GeoLite2-Country.mmdb");
	assert_int_equal(c->agent.max_keys, 1000000);
	assert_int_equal(c->agent.max_plans, 300);
	assert_int_equal(c->agent.max_buckets, 2000000);
	assert_int_equal(c->agent.max_routes, 2048);
	assert_int_equal(c->agent.max_flows, 65536);
	assert_int_equal(c->agent.max_counters, 131072);
	assert_int_equal(c->agent.max_sources, 16777216);
	assert_int_equal(c->agent.ringbuf_kb, 16384);
	assert_int_equal(c->agent.unanswered_after, 60);
	assert_int_equal(c->agent.snapshot_interval, 5);
	assert_true(c->agent.source_rate == 2.5);
	assert_int_equal(c->agent.source_burst, 5);
	assert_true(c->agent.detach_on_exit);

	assert_string_equal(c->security.key_secret_file, "/run/secrets/tollgate");
	assert_int_equal(c->ratelimit.scope, CONFIG_SCOPE_GLOBAL);
	assert_int_equal(c->ratelimit.lease_min, 5);
	assert_int_equal(c->ratelimit.lease_max, 500);
	assert_int_equal(c->ratelimit.lease_interval_ms, 250);
	assert_string_equal(c->redis.url, "redis://127.0.0.1:6380/0");
	assert_string_equal(c->kafka.brokers, "10.0.0.1:9092,10.0.0.2:9092");
	assert_string_equal(c->kafka.topic_usage, "acme.usage");
	assert_string_equal(c->kafka.topic_counters, "acme.counters-v2");
	assert_int_equal(c->kafka.format, CONFIG_FORMAT_CLOUDEVENTS);
	assert_string_equal(c->kafka.spool_dir, "/srv/spool");
	assert_int_equal(c->kafka.spool_max_mb, 4096);
	assert_string_equal(c->postgres.dsn,
			    "postgresql://tollgate@db.internal/tollgate?sslmode=require");
	assert_int_equal(c->billing.batch_interval, 30);
	assert_int_equal(c->billing.grace_period, 7200);
	assert_int_equal(c->billing.sla_window, 600);
	assert_int_equal(c->billing.minute_retention, 30);
	assert_string_equal(c->billing.alert_webhook_url, "https://hooks.example.com/alerts");
	assert_string_equal(c->billing.notify_webhook_url, "https://hooks.example.com/notices");
	assert_string_equal(c->billing.payment_provider, "stripe");
	assert_string_equal(c->billing.stripe_base_url, "http://127.0.0.1:12111");
	assert_string_equal(c->billing.stripe_key_file, "/etc/tg2/stripe");
	assert_string_equal(c->api.listen, "0.0.0.0:443");
	assert_string_equal(c->api.admin_token_file, "/etc/tg2/admin");
	assert_string_equal(c->api.tls_cert_file, "/etc/tg2/cert.pem");
	assert_string_equal(c->api.tls_key_file, "/etc/tg2/key.pem");

	assert_int_equal(c->n_plans, 2);
	p = config_find_plan(c, 1);
	assert_non_null(p);
	assert_string_equal(p->name, "free");
	assert_int_equal(p->api_id, 0);
	assert_true(p->rate_per_sec == 2.5);
	assert_int_equal(p->burst, 3); /* default: ceil(rate) */
	assert_int_equal(p->monthly_quota, 0);
	p = config_find_plan(c, 2);
	assert_non_null(p);
	assert_string_equal(p->name, "pro");
	assert_int_equal(p->api_id, 5);
	assert_true(p->rate_per_sec == 100.0);
	assert_int_equal(p->burst, 250);
	assert_int_equal(p->monthly_quota, 10000000000ULL);
	assert_null(config_find_plan(c, 3));
	assert_null(config_find_plan(c, 0));

	assert_int_equal(c->n_routes, 3);
	r = config_find_route(c, 10);
	assert_non_null(r);
	assert_string_equal(r->name, "orders");
	assert_int_equal(r->api_id, 5);
	assert_string_equal(r->prefix, "/v1/orders"); /* trailing '/' stripped */
	assert_false(r->public_route);
	assert_false(r->deprecated);
	r = config_find_route(c, 11);
	assert_non_null(r);
	assert_string_equal(r->prefix, "/healthz");
	assert_true(r->public_route);
	assert_true(r->deprecated);
	r = config_find_route(c, 12);
	assert_non_null(r);
	assert_string_equal(r->prefix, "/");
	assert_false(r->public_route);
	assert_false(r->deprecated);
	assert_null(config_find_route(c, 13));
}

static void test_load_file(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/test-config.XXXXXX", dir[] = "/tmp/test-config-dir.XXXXXX";
	int fd = mkstemp(path);
	FILE *file;

	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	assert_non_null(file);
	fputs(full_file, file);
	fclose(file);
	assert_int_equal(config_load(f->cfg, path, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->cfg->n_plans, 2);
	assert_string_equal(f->cfg->kafka.topic_usage, "acme.usage");

	/* errors in a file name the line too */
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("[agent]\n# comment\n\nmax_flows = 12x\n", file);
	fclose(file);
	assert_int_equal(config_load(f->cfg, path, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "line 4: agent.max_flows: '12x' is not a number");
	assert_int_equal(f->cfg->n_plans, 2); /* untouched */

	/* a line too long for libinih, in a file */
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("[agent]\ngeoip_db = /", file);
	for (int i = 0; i < 300; i++)
		fputc('x', file);
	fputs("\nmax_flows = 1\n", file);
	fclose(file);
	assert_int_equal(config_load(f->cfg, path, f->err, sizeof(f->err)), -EINVAL);
	assert_string_equal(f->err, "line 2: line longer than 197 characters");
	unlink(path);

	assert_int_equal(config_load(f->cfg, path, f->err, sizeof(f->err)), -ENOENT);
	assert_non_null(strstr(f->err, "cannot open '/tmp/test-config."));
	assert_non_null(strstr(f->err, "No such file or directory"));

	assert_non_null(mkdtemp(dir));
	assert_int_equal(config_load(f->cfg, dir, f->err, sizeof(f->err)), -EISDIR);
	rmdir(dir);
}

/* ---- syntax ------------------------------------------------------------- */

static void test_syntax_variants(void **state)
{
	struct fixture *f = *state;
	struct config *c = f->cfg;

	load_ok(f, "\xef\xbb\xbf"
		   "[agent]\r\n"
		   "  ; indented comment\r\n"
		   "# hash comment\n"
		   "\tmax_flows = 100   ; inline comment\r\n"
		   "    max_keys: 200\r\n"
		   "mode = SockMap\n"
		   "detach_on_exit = TRUE\n"
		   "interfaces = eth0,,eth1 ,\teth2\n"
		   "[kafka]\n"
		   "brokers =\n");
	assert_int_equal(c->agent.max_flows, 100);
	assert_int_equal(c->agent.max_keys, 200);
	assert_int_equal(c->agent.mode, CONFIG_MODE_SOCKMAP);
	assert_true(c->agent.detach_on_exit);
	assert_int_equal(c->agent.n_interfaces, 3);
	assert_string_equal(c->agent.interfaces[2], "eth2");
	assert_string_equal(c->kafka.brokers, "");

	/* the same section twice merges */
	load_ok(f, "[agent]\nmax_flows = 7\n[kafka]\nformat = binary\n[agent]\nmax_keys = 8\n");
	assert_int_equal(c->agent.max_flows, 7);
	assert_int_equal(c->agent.max_keys, 8);

	/* bools */
	static const char *const yes[] = { "true", "yes", "on", "1", "True", "YES", "On" };
	static const char *const no[] = { "false", "no", "off", "0", "FALSE", "No", "OFF" };
	char text[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "[agent]\ndetach_on_exit = %s\n", yes[i]);
		load_ok(f, text);
		assert_true(c->agent.detach_on_exit);
		snprintf(text, sizeof(text), "[agent]\ndetach_on_exit = %s\n", no[i]);
		load_ok(f, text);
		assert_false(c->agent.detach_on_exit);
	}

	/* listen addresses */
	load_ok(f, "[agent]\nmetrics_listen =\n[api]\nlisten = localhost:8080\n");
	assert_string_equal(c->agent.metrics_listen, "");
	assert_string_equal(c->api.listen, "localhost:8080");
	/* port 0: any free port, for tests and ad-hoc runs */
	load_ok(f, "[agent]\nmetrics_listen = 127.0.0.1:0\n");
	assert_string_equal(c->agent.metrics_listen, "127.0.0.1:0");
}

static void test_syntax_errors(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[agent\nmax_flows = 1\n",
		   "line 1: syntax error (expected '[section]' or 'key = value')");
	load_fails(f, "[agent]\nmax_flows 1\n",
		   "line 2: syntax error (expected '[section]' or 'key = value')");
	load_fails(f, "max_flows = 1\n", "line 1: 'max_flows' is outside any section");
	load_fails(f, "[agnet]\nmax_flows = 1\n", "line 1: unknown section [agnet]");
	load_fails(f, "[agent]\n\n[Agent]\nmax_flows = 1\n", "line 3: unknown section [Agent]");
	load_fails(f, "[plan]\nid = 1\n", "line 1: unknown section [plan]");
	load_fails(f, "[agent]\nmax_flow = 1\n", "line 2: agent.max_flow: unknown key");
	load_fails(f, "[redis]\nurl = x\nhost = y\n", "line 3: redis.host: unknown key");
	load_fails(f, "[agent]\nmax_flows = 1\nmax_flows = 2\n",
		   "line 3: agent.max_flows: set twice (first on line 2)");
	load_fails(f, "[agent]\nmax_flows = 1\n[api]\n[agent]\nmax_flows = 2\n",
		   "line 5: agent.max_flows: set twice (first on line 2)");
	/* only ';' starts an inline comment */
	load_fails(f, "[agent]\nmax_flows = 10 # flows\n",
		   "line 2: agent.max_flows: '10 # flows' is not a number");
}

static void test_first_error_wins(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[agent]\nmax_flows = x\nmax_keys = y\n[nope]\na = b\n",
		   "line 2: agent.max_flows: 'x' is not a number");
	load_fails(f, "[agent]\nmax_flows = 1\njunk\nmax_keys = y\n",
		   "line 3: syntax error (expected '[section]' or 'key = value')");
}

static void test_line_too_long(void **state)
{
	struct fixture *f = *state;
	char text[600];

	strcpy(text, "[agent]\n; fine\ngeoip_db = /");
	memset(text + strlen(text), 'a', 250);
	text[sizeof("[agent]\n; fine\ngeoip_db = /") - 1 + 250] = '\0';
	strcat(text, "\nmax_flows = 1\n");
	load_fails(f, text, "line 3: line longer than 197 characters");

	/* 197 characters is fine */
	strcpy(text, "[agent]\ngeoip_db = /");
	while (strlen(text) < 8 + 197)
		strcat(text, "b");
	strcat(text, "\n");
	load_ok(f, text);
	assert_int_equal(strlen(f->cfg->agent.geoip_db), 197 - strlen("geoip_db = "));
}

/* ---- numbers ------------------------------------------------------------ */

struct number_key {
	const char *section;
	const char *key;
	unsigned long long min, max;
};

static const struct number_key number_keys[] = {
	{ "agent", "host_id", 0, 4294967295ULL },
	{ "agent", "max_keys", 1, 16777216 },
	{ "agent", "max_plans", 1, 16777216 },
	{ "agent", "max_buckets", 1, 16777216 },
	{ "agent", "max_routes", 1, 16777216 },
	{ "agent", "max_flows", 1, 16777216 },
	{ "agent", "max_counters", 1, 16777216 },
	{ "agent", "max_sources", 1, 16777216 },
	{ "agent", "ringbuf_kb", 4, 1048576 },
	{ "agent", "unanswered_after", 1, 3600 },
	{ "agent", "snapshot_interval", 1, 3600 },
	{ "agent", "source_burst", 1, 1000000000 },
	{ "ratelimit", "lease_min", 1, 1000000000 },
	{ "ratelimit", "lease_max", 1, 1000000000 },
	{ "ratelimit", "lease_interval_ms", 10, 60000 },
	{ "kafka", "spool_max_mb", 1, 1048576 },
	{ "billing", "batch_interval", 1, 3600 },
	{ "billing", "grace_period", 0, 2678400 },
	{ "billing", "sla_window", 10, 86400 },
	{ "billing", "minute_retention", 1, 400 },
};

static void test_numbers_every_key(void **state)
{
	static const char *const not_numbers[] = {
		"12x", "x", "-1", "+1", "0x10", "1e3", "1.5", "1 2", "١",
	};
	struct fixture *f = *state;
	char text[256], expected[256];

	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++) {
		const struct number_key *k = &number_keys[i];

		for (size_t j = 0; j < sizeof(not_numbers) / sizeof(not_numbers[0]); j++) {
			snprintf(text, sizeof(text), "[%s]\n%s = %s\n", k->section, k->key,
				 not_numbers[j]);
			snprintf(expected, sizeof(expected), "line 2: %s.%s: '%s' is not a number",
				 k->section, k->key, not_numbers[j]);
			load_fails(f, text, expected);
		}
		/* empty */
		snprintf(text, sizeof(text), "[%s]\n\n%s =\n", k->section, k->key);
		snprintf(expected, sizeof(expected), "line 3: %s.%s: '' is not a number",
			 k->section, k->key);
		load_fails(f, text, expected);

		/* above the range, and far above u64 */
		snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", k->section, k->key, k->max + 1);
		snprintf(expected, sizeof(expected),
			 "line 2: %s.%s: '%llu' is out of range (%llu-%llu)", k->section, k->key,
			 k->max + 1, k->min, k->max);
		load_fails(f, text, expected);
		snprintf(text, sizeof(text), "[%s]\n%s = 99999999999999999999999\n", k->section,
			 k->key);
		snprintf(expected, sizeof(expected),
			 "line 2: %s.%s: '99999999999999999999999' is out of range (%llu-%llu)",
			 k->section, k->key, k->min, k->max);
		load_fails(f, text, expected);

		/* below it */
		if (k->min > 0) {
			snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", k->section, k->key,
				 k->min - 1);
			snprintf(expected, sizeof(expected),
				 "line 2: %s.%s: '%llu' is out of range (%llu-%llu)", k->section,
				 k->key, k->min - 1, k->min, k->max);
			load_fails(f, text, expected);
		}

		/* both ends are accepted (lease_min <= lease_max needs care) */
		if (!strcmp(k->key, "lease_min") || !strcmp(k->key, "lease_max"))
			continue;
		snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", k->section, k->key, k->min);
		load_ok(f, text);
		snprintf(text, sizeof(text), "[%s]\n%s = %llu\n", k->section, k->key, k->max);
		load_ok(f, text);
	}
}

static void test_numbers_example_message(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "# a\n# b\n[agent]\nmode = xdp\n\n\nmax_flows = 12x\n",
		   "line 7: agent.max_flows: '12x' is not a number");
	load_ok(f, "[agent]\nmax_flows = 007\n");
	assert_int_equal(f->cfg->agent.max_flows, 7);
}

static void test_ringbuf_power_of_two(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[agent]\nringbuf_kb = 1000\n",
		   "line 2: agent.ringbuf_kb: '1000' is not a power of two");
	load_fails(f, "[agent]\nringbuf_kb = 12\n",
		   "line 2: agent.ringbuf_kb: '12' is not a power of two");
	load_fails(f, "[agent]\nringbuf_kb = 2\n",
		   "line 2: agent.ringbuf_kb: '2' is out of range (4-1048576)");
	load_ok(f, "[agent]\nringbuf_kb = 64\n");
	assert_int_equal(f->cfg->agent.ringbuf_kb, 64);
}

static void test_rates(void **state)
{
	static const char *const bad[] = { "x",	   "-1", "+1",	  "1e3", "inf", "nan",
					   "0x10", ".",	 "1.2.3", "1,5", "" };
	struct fixture *f = *state;
	char text[128], expected[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[agent]\nsource_rate = %s\n", bad[i]);
		snprintf(expected, sizeof(expected),
			 "line 2: agent.source_rate: '%s' is not a decimal number", bad[i]);
		load_fails(f, text, expected);
	}
	load_fails(f, "[agent]\nsource_rate = 0\n",
		   "line 2: agent.source_rate: '0' is out of range "
		   "(more than 0 and at most 100000000 per second)");
	load_fails(f, "[agent]\nsource_rate = 0.00001\n",
		   "line 2: agent.source_rate: '0.00001' is out of range "
		   "(more than 0 and at most 100000000 per second)");
	load_fails(f, "[agent]\nsource_rate = 100000000.5\n",
		   "line 2: agent.source_rate: '100000000.5' is out of range "
		   "(more than 0 and at most 100000000 per second)");

	load_ok(f, "[agent]\nsource_rate = 0.5\n");
	assert_true(f->cfg->agent.source_rate == 0.5);
	load_ok(f, "[agent]\nsource_rate = .25\n");
	assert_true(f->cfg->agent.source_rate == 0.25);
	load_ok(f, "[agent]\nsource_rate = 3.\n");
	assert_true(f->cfg->agent.source_rate == 3.0);
	load_ok(f, "[agent]\nsource_rate = 100000000\n");
	assert_true(f->cfg->agent.source_rate == 1e8);
	load_ok(f, "[agent]\nsource_rate = 0.0001\n");
}

/* ---- enums and bools ---------------------------------------------------- */

static void test_enums(void **state)
{
	static const struct {
		const char *section, *key, *choices;
	} enums[] = {
		{ "agent", "mode", "xdp, sockmap, both" },
		{ "agent", "xdp_mode", "auto, native, skb" },
		{ "agent", "action_missing_key", "pass, drop, reject" },
		{ "agent", "action_unknown_key", "pass, drop, reject" },
		{ "agent", "action_revoked_key", "pass, drop, reject" },
		{ "agent", "action_suspended", "pass, drop, reject" },
		{ "agent", "action_forbidden_api", "pass, drop, reject" },
		{ "agent", "action_over_limit", "pass, drop, reject" },
		{ "agent", "action_quota_exhausted", "pass, drop, reject" },
		{ "ratelimit", "scope", "host, global" },
		{ "kafka", "format", "binary, cloudevents" },
		{ "billing", "payment_provider", "none, stripe" },
	};
	struct fixture *f = *state;
	char text[256], expected[256];

	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\n%s = bogus\n", enums[i].section, enums[i].key);
		snprintf(expected, sizeof(expected), "line 2: %s.%s: 'bogus' is not one of: %s",
			 enums[i].section, enums[i].key, enums[i].choices);
		load_fails(f, text, expected);
		snprintf(text, sizeof(text), "[%s]\n%s =\n", enums[i].section, enums[i].key);
		snprintf(expected, sizeof(expected), "line 2: %s.%s: '' is not one of: %s",
			 enums[i].section, enums[i].key, enums[i].choices);
		load_fails(f, text, expected);
	}
	/* there is no action for admitted requests */
	load_fails(f, "[agent]\naction_admitted = drop\n",
		   "line 2: agent.action_admitted: unknown key");

	load_ok(f, "[billing]\npayment_provider = Stripe\n[agent]\nxdp_mode = SKB\n");
	assert_string_equal(f->cfg->billing.payment_provider, "stripe");
	assert_int_equal(f->cfg->agent.xdp_mode, CONFIG_XDP_SKB);
}

static void test_bools(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[agent]\ndetach_on_exit = maybe\n",
		   "line 2: agent.detach_on_exit: 'maybe' is not a boolean "
		   "(true/false, yes/no, on/off, 1/0)");
	load_fails(f, "[agent]\ndetach_on_exit = 2\n",
		   "line 2: agent.detach_on_exit: '2' is not a boolean "
		   "(true/false, yes/no, on/off, 1/0)");
	load_fails(f, "[agent]\ndetach_on_exit =\n",
		   "line 2: agent.detach_on_exit: '' is not a boolean "
		   "(true/false, yes/no, on/off, 1/0)");
}

/* ---- lists -------------------------------------------------------------- */

static void test_interfaces(void **state)
{
	struct fixture *f = *state;
	char text[512];

	load_fails(f, "[agent]\ninterfaces =\n", "line 2: agent.interfaces: empty list");
	load_fails(f, "[agent]\ninterfaces = , ,\n", "line 2: agent.interfaces: empty list");
	load_fails(f, "[agent]\ninterfaces = eth0 verylonginterface0\n",
		   "line 2: agent.interfaces: 'verylonginterface0' is not an interface name");
	load_fails(f, "[agent]\ninterfaces = eth/0\n",
		   "line 2: agent.interfaces: 'eth/0' is not an interface name");
	load_fails(f, "[agent]\ninterfaces = eth0:1\n",
		   "line 2: agent.interfaces: 'eth0:1' is not an interface name");
	load_fails(f, "[agent]\ninterfaces = ..\n",
		   "line 2: agent.interfaces: '..' is not an interface name");
	load_fails(f, "[agent]\ninterfaces = eth0, eth1, eth0\n",
		   "line 2: agent.interfaces: 'eth0' is listed twice");

	strcpy(text, "[agent]\ninterfaces =");
	for (int i = 0; i < CONFIG_MAX_IFACES; i++)
		sprintf(text + strlen(text), " e%d", i);
	load_ok(f, text);
	assert_int_equal(f->cfg->agent.n_interfaces, CONFIG_MAX_IFACES);
	assert_string_equal(f->cfg->agent.interfaces[15], "e15");
	strcat(text, " e16\n");
	load_fails(f, text, "line 2: agent.interfaces: more than 16 interfaces");

	load_ok(f, "[agent]\ninterfaces = abcdefghijklmno\n"); /* 15 characters */
	assert_string_equal(f->cfg->agent.interfaces[0], "abcdefghijklmno");
}

static void test_api_ports(void **state)
{
	struct fixture *f = *state;
	char text[512];

	load_fails(f, "[agent]\napi_ports =\n", "line 2: agent.api_ports: empty list");
	load_fails(f, "[agent]\napi_ports = ,\n", "line 2: agent.api_ports: empty list");
	load_fails(f, "[agent]\napi_ports = 0\n",
		   "line 2: agent.api_ports: '0' is not a port (1-65535)");
	load_fails(f, "[agent]\napi_ports = 80 65536\n",
		   "line 2: agent.api_ports: '65536' is not a port (1-65535)");
	load_fails(f, "[agent]\napi_ports = http\n",
		   "line 2: agent.api_ports: 'http' is not a port (1-65535)");
	load_fails(f, "[agent]\napi_ports = 80,-1\n",
		   "line 2: agent.api_ports: '-1' is not a port (1-65535)");
	load_fails(f, "[agent]\napi_ports = 99999999999999999999\n",
		   "line 2: agent.api_ports: '99999999999999999999' is not a port (1-65535)");
	load_fails(f, "[agent]\napi_ports = 80 8080 80\n",
		   "line 2: agent.api_ports: 80 is listed twice");

	load_ok(f, "[agent]\napi_ports = 1 65535\n");
	assert_int_equal(f->cfg->agent.n_api_ports, 2);
	assert_int_equal(f->cfg->agent.api_ports[0], 1);
	assert_int_equal(f->cfg->agent.api_ports[1], 65535);

	strcpy(text, "[agent]\napi_ports =");
	for (int i = 0; i < CONFIG_MAX_PORTS; i++)
		sprintf(text + strlen(text), " %d", 8000 + i);
	load_ok(f, text);
	assert_int_equal(f->cfg->agent.n_api_ports, CONFIG_MAX_PORTS);
	strcat(text, ",9000\n");
	load_fails(f, text, "line 2: agent.api_ports: more than 16 ports");
}

/* ---- strings ------------------------------------------------------------ */

static void test_listen_addresses(void **state)
{
	static const char *const bad[] = {
		"localhost", "127.0.0.1:", "127.0.0.1:00", "127.0.0.1:65536", ":80",	  "::1:80",
		"[::1]",     "[]:80",	   "[::1]80:",	  "a b:80",	     "host:http",
	};
	static const char *const good[] = {
		"127.0.0.1:80", "[::1]:9109", "[::]:1", "0.0.0.0:65535", "api.local:8088", "", "127.0.0.1:0",
	};
	struct fixture *f = *state;
	char text[256], expected[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nlisten = %s\n", bad[i]);
		snprintf(expected, sizeof(expected),
			 "line 2: api.listen: '%s' is not an address (host:port, [v6]:port or "
			 "empty)",
			 bad[i]);
		load_fails(f, text, expected);
		snprintf(text, sizeof(text), "[agent]\nmetrics_listen = %s\n", bad[i]);
		snprintf(expected, sizeof(expected),
			 "line 2: agent.metrics_listen: '%s' is not an address (host:port, "
			 "[v6]:port or empty)",
			 bad[i]);
		load_fails(f, text, expected);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nlisten = %s\n", good[i]);
		load_ok(f, text);
		assert_string_equal(f->cfg->api.listen, good[i]);
	}

	/* longer than the field */
	strcpy(text, "[api]\nlisten = ");
	for (int i = 0; i < 130; i++)
		strcat(text, "h");
	strcat(text, ":80\n");
	load_fails(f, text, "line 2: api.listen: longer than 127 characters");
}

static void test_topics(void **state)
{
	static const char *const bad[] = { "a b", "topic/x", "", ".", "..", "t:1", "tö" };
	struct fixture *f = *state;
	char text[256], expected[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[kafka]\ntopic_counters = %s\n", bad[i]);
		snprintf(expected, sizeof(expected),
			 "line 2: kafka.topic_counters: '%s' is not a topic name (letters, digits, "
			 "'.', '_', '-')",
			 bad[i]);
		load_fails(f, text, expected);
	}
	load_fails(f, "[kafka]\ntopic_usage = a b\n",
		   "line 2: kafka.topic_usage: 'a b' is not a topic name (letters, digits, "
		   "'.', '_', '-')");

	strcpy(text, "[kafka]\ntopic_usage = ");
	for (int i = 0; i < 128; i++)
		strcat(text, "t");
	load_fails(f, text, "line 2: kafka.topic_usage: longer than 127 characters");
	text[strlen(text) - 1] = '\0';
	load_ok(f, text);
	assert_int_equal(strlen(f->cfg->kafka.topic_usage), 127);
}

static void test_cross_checks(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[ratelimit]\nlease_min = 100\nlease_max = 50\n",
		   "line 3: ratelimit.lease_min: 100 is more than ratelimit.lease_max 50");
	load_fails(f, "[ratelimit]\nlease_min = 20000\n",
		   "line 2: ratelimit.lease_min: 20000 is more than ratelimit.lease_max 10000");
	load_ok(f, "[ratelimit]\nlease_min = 50\nlease_max = 50\n");

	load_fails(f, "[api]\ntls_cert_file = /c.pem\n",
		   "line 2: api.tls_cert_file: set without api.tls_key_file");
	load_fails(f, "[api]\n\ntls_key_file = /k.pem\n",
		   "line 3: api.tls_key_file: set without api.tls_cert_file");

	load_fails(f,
		   "[agent]\nmax_plans = 1\n"
		   "[plan.a]\nid = 1\nrate_per_sec = 1\n"
		   "[plan.b]\nid = 2\nrate_per_sec = 1\n",
		   "line 2: agent.max_plans: 1 is less than the 2 plans configured");
	load_fails(f,
		   "[route.a]\nid = 1\napi_id = 1\nprefix = /a\n"
		   "[route.b]\nid = 2\napi_id = 1\nprefix = /b\n"
		   "[agent]\nmax_routes = 1\n",
		   "line 10: agent.max_routes: 1 is less than the 2 routes configured");
}

/* ---- plans -------------------------------------------------------------- */

static void test_plans(void **state)
{
	struct fixture *f = *state;
	const struct config_plan *p;

	load_ok(f, "[plan.half]\nid = 7\nrate_per_sec = 0.5\n"
		   "[plan.big]\nid = 8\nrate_per_sec = 100000000\nburst = 4294967295\n"
		   "monthly_quota = 18446744073709551615\napi_id = 4294967295\n"
		   "[plan.half]\nmonthly_quota = 0\n");
	assert_int_equal(f->cfg->n_plans, 2);
	p = config_find_plan(f->cfg, 7);
	assert_non_null(p);
	assert_int_equal(p->burst, 1); /* ceil(0.5) */
	assert_int_equal(p->monthly_quota, 0);
	p = config_find_plan(f->cfg, 8);
	assert_non_null(p);
	assert_int_equal(p->burst, 4294967295u);
	assert_int_equal(p->monthly_quota, UINT64_MAX);
	assert_int_equal(p->api_id, 4294967295u);
	assert_string_equal(p->name, "big");

	load_ok(f, "[plan.Free_tier-2]\nid = 1\nrate_per_sec = 1\n");
	assert_string_equal(f->cfg->plans[0].name, "Free_tier-2");
}

static void test_plan_errors(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[plan.free]\nrate_per_sec = 1\n",
		   "line 1: plan.free.id: required key missing");
	load_fails(f, "[agent]\n\n[plan.free]\nid = 1\n",
		   "line 3: plan.free.rate_per_sec: required key missing");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 1\nprice = 3\n",
		   "line 4: plan.free.price: unknown key");
	load_fails(f, "[plan.free]\nid = 0\nrate_per_sec = 1\n",
		   "line 2: plan.free.id: '0' is out of range (1-4294967295)");
	load_fails(f, "[plan.free]\nid = one\n", "line 2: plan.free.id: 'one' is not a number");
	load_fails(f, "[plan.free]\nid = 1\napi_id = x\n",
		   "line 3: plan.free.api_id: 'x' is not a number");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = fast\n",
		   "line 3: plan.free.rate_per_sec: 'fast' is not a decimal number");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 0\n",
		   "line 3: plan.free.rate_per_sec: '0' is out of range "
		   "(more than 0 and at most 100000000 per second)");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 1\nburst = 0\n",
		   "line 4: plan.free.burst: '0' is out of range (1-4294967295)");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 1\nburst = 4294967296\n",
		   "line 4: plan.free.burst: '4294967296' is out of range (1-4294967295)");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 1\nmonthly_quota = lots\n",
		   "line 4: plan.free.monthly_quota: 'lots' is not a number");
	load_fails(f,
		   "[plan.free]\nid = 1\nrate_per_sec = 1\nmonthly_quota = 18446744073709551616\n",
		   "line 4: plan.free.monthly_quota: '18446744073709551616' is out of range "
		   "(0-18446744073709551615)");
	load_fails(f, "[plan.free]\nid = 1\nid = 2\n",
		   "line 3: plan.free.id: set twice (first on line 2)");
	load_fails(f, "[plan.free]\nid = 1\nrate_per_sec = 1\n[plan.free]\nrate_per_sec = 2\n",
		   "line 5: plan.free.rate_per_sec: set twice (first on line 3)");
	load_fails(f,
		   "[plan.free]\nid = 1\nrate_per_sec = 1\n\n"
		   "[plan.pro]\nrate_per_sec = 10\nid = 1\n",
		   "line 7: plan.pro.id: 1 is already the id of plan.free");
	load_fails(f, "[plan.]\nid = 1\n",
		   "line 1: [plan.]: a plan name is 1-63 letters, digits, '_' or '-'");
	load_fails(f, "[plan.a b]\nid = 1\n",
		   "line 1: [plan.a b]: a plan name is 1-63 letters, digits, '_' or '-'");
	load_fails(f, "[plan.a.b]\nid = 1\n",
		   "line 1: [plan.a.b]: a plan name is 1-63 letters, digits, '_' or '-'");
}

static void test_too_many_plans(void **state)
{
	struct fixture *f = *state;
	size_t size = (CONFIG_MAX_PLANS + 1) * 64;
	char *text = malloc(size), expected[128];
	size_t n = 0;

	assert_non_null(text);
	for (int i = 0; i < CONFIG_MAX_PLANS; i++)
		n += (size_t)snprintf(text + n, size - n, "[plan.p%d]\nid = %d\nrate_per_sec = 1\n",
				      i, i + 1);
	load_ok(f, text);
	assert_int_equal(f->cfg->n_plans, CONFIG_MAX_PLANS);
	assert_non_null(config_find_plan(f->cfg, CONFIG_MAX_PLANS));

	snprintf(text + n, size - n, "[plan.extra]\nid = 9999\nrate_per_sec = 1\n");
	snprintf(expected, sizeof(expected), "line %d: [plan.extra]: more than %d plans",
		 3 * CONFIG_MAX_PLANS + 1, CONFIG_MAX_PLANS);
	load_fails(f, text, expected);
	free(text);
}

/* ---- routes ------------------------------------------------------------- */

static void test_routes(void **state)
{
	struct fixture *f = *state;
	char text[512], prefix[200];

	load_ok(f, "[route.a]\nid = 1\napi_id = 2\nprefix = /v1/a///\n"
		   "[route.root]\nid = 2\napi_id = 2\nprefix = ///\n"
		   "[route.b]\nid = 3\napi_id = 2\nprefix = /v1/a/b\npublic = YES\n");
	assert_int_equal(f->cfg->n_routes, 3);
	assert_string_equal(config_find_route(f->cfg, 1)->prefix, "/v1/a");
	assert_string_equal(config_find_route(f->cfg, 2)->prefix, "/");
	assert_string_equal(config_find_route(f->cfg, 3)->prefix, "/v1/a/b");
	assert_true(config_find_route(f->cfg, 3)->public_route);

	/* 126 characters is the longest prefix (the trie adds a '/') */
	prefix[0] = '/';
	memset(prefix + 1, 'p', 125);
	prefix[126] = '\0';
	snprintf(text, sizeof(text), "[route.long]\nid = 1\napi_id = 1\nprefix = %s/\n", prefix);
	load_ok(f, text);
	assert_int_equal(strlen(f->cfg->routes[0].prefix), 126);
	snprintf(text, sizeof(text), "[route.long]\nid = 1\napi_id = 1\nprefix = %sp\n", prefix);
	load_fails(f, text, "line 4: route.long.prefix: longer than 126 characters");
}

static void test_route_errors(void **state)
{
	struct fixture *f = *state;

	load_fails(f, "[route.a]\napi_id = 1\nprefix = /a\n",
		   "line 1: route.a.id: required key missing");
	load_fails(f, "[route.a]\nid = 1\nprefix = /a\n",
		   "line 1: route.a.api_id: required key missing");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\n",
		   "line 1: route.a.prefix: required key missing");
	load_fails(f, "[route.a]\nid = 1\napi_id = 0\n",
		   "line 3: route.a.api_id: '0' is out of range (1-4294967295)");
	load_fails(f, "[route.a]\nid = 0\n",
		   "line 2: route.a.id: '0' is out of range (1-4294967295)");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = v1/orders\n",
		   "line 4: route.a.prefix: 'v1/orders' does not start with '/'");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix =\n",
		   "line 4: route.a.prefix: '' does not start with '/'");
	load_fails(
		f, "[route.a]\nid = 1\napi_id = 1\nprefix = /v1/a b\n",
		"line 4: route.a.prefix: '/v1/a b' holds a blank, control character, '?' or '#'");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = /v1/a?x=1\n",
		   "line 4: route.a.prefix: '/v1/a?x=1' holds a blank, control character, '?' or "
		   "'#'");
	load_fails(
		f, "[route.a]\nid = 1\napi_id = 1\nprefix = /v1/a#x\n",
		"line 4: route.a.prefix: '/v1/a#x' holds a blank, control character, '?' or '#'");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = /a\npublic = sometimes\n",
		   "line 5: route.a.public: 'sometimes' is not a boolean "
		   "(true/false, yes/no, on/off, 1/0)");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = /a\ndeprecated = 2\n",
		   "line 5: route.a.deprecated: '2' is not a boolean "
		   "(true/false, yes/no, on/off, 1/0)");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = /a\nmethod = GET\n",
		   "line 5: route.a.method: unknown key");
	load_fails(f,
		   "[route.a]\nid = 1\napi_id = 1\nprefix = /a\n"
		   "[route.b]\nid = 1\n",
		   "line 6: route.b.id: 1 is already the id of route.a");
	load_fails(f,
		   "[route.a]\nid = 1\napi_id = 1\nprefix = /v1/a\n"
		   "[route.b]\nid = 2\napi_id = 2\nprefix = /v1/a/\n",
		   "line 8: route.b.prefix: '/v1/a' is already the prefix of route.a");
	load_fails(f, "[route.a]\nid = 1\napi_id = 1\nprefix = /a\nprefix = /b\n",
		   "line 5: route.a.prefix: set twice (first on line 4)");
	load_fails(f, "[route.x/y]\nid = 1\n",
		   "line 1: [route.x/y]: a route name is 1-63 letters, digits, '_' or '-'");
}

static void test_too_many_routes(void **state)
{
	struct fixture *f = *state;
	size_t size = (CONFIG_MAX_ROUTES + 1) * 80;
	char *text = malloc(size), expected[128];
	size_t n = 0;

	assert_non_null(text);
	for (int i = 0; i < CONFIG_MAX_ROUTES; i++)
		n += (size_t)snprintf(text + n, size - n,
				      "[route.r%d]\nid = %d\napi_id = 1\nprefix = /r%d\n", i, i + 1,
				      i);
	load_ok(f, text);
	assert_int_equal(f->cfg->n_routes, CONFIG_MAX_ROUTES);

	snprintf(text + n, size - n, "[route.extra]\nid = 99999\napi_id = 1\nprefix = /x\n");
	snprintf(expected, sizeof(expected), "line %d: [route.extra]: more than %d routes",
		 4 * CONFIG_MAX_ROUTES + 1, CONFIG_MAX_ROUTES);
	load_fails(f, text, expected);
	free(text);
}

/* ---- error buffer and names -------------------------------------------- */

static void test_error_buffer(void **state)
{
	struct fixture *f = *state;
	char small[12];

	assert_int_equal(config_load_string(f->cfg, "[agent]\nmax_flows = x\n", NULL, 0), -EINVAL);
	assert_int_equal(config_load_string(f->cfg, "[agent]\nmax_flows = x\n", small, 0), -EINVAL);
	assert_int_equal(
		config_load_string(f->cfg, "[agent]\nmax_flows = x\n", small, sizeof(small)),
		-EINVAL);
	assert_string_equal(small, "line 2: age");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_verdict_name(TG_V_ADMITTED), "admitted");
	assert_string_equal(config_verdict_name(TG_V_MISSING_KEY), "missing_key");
	assert_string_equal(config_verdict_name(TG_V_UNKNOWN_KEY), "unknown_key");
	assert_string_equal(config_verdict_name(TG_V_REVOKED_KEY), "revoked_key");
	assert_string_equal(config_verdict_name(TG_V_SUSPENDED), "suspended");
	assert_string_equal(config_verdict_name(TG_V_FORBIDDEN_API), "forbidden_api");
	assert_string_equal(config_verdict_name(TG_V_OVER_LIMIT), "over_limit");
	assert_string_equal(config_verdict_name(TG_V_QUOTA_EXHAUSTED), "quota_exhausted");
	assert_null(config_verdict_name(TG_V_COUNT));
	assert_string_equal(config_action_name(TG_ACT_PASS), "pass");
	assert_string_equal(config_action_name(TG_ACT_DROP), "drop");
	assert_string_equal(config_action_name(TG_ACT_REJECT), "reject");
	assert_null(config_action_name(3));
}

/* ---- docs/tollgate.conf.example ----------------------------------------- */

#define EXAMPLE_PATH "docs/tollgate.conf.example"

static char *read_example(void)
{
	FILE *file = fopen(EXAMPLE_PATH, "r");
	char *text;
	long size;

	if (!file)
		return NULL;
	fseek(file, 0, SEEK_END);
	size = ftell(file);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

/*
 * The example documents the defaults: as shipped it loads to config_init(),
 * and with every "#key = value" line uncommented it still does, apart from the
 * example plan and route.
 */
static void test_example_file(void **state)
{
	struct fixture *f = *state;
	struct config *defaults;
	char *text, *out, *line;
	size_t n = 0;
	int settings = 0;

	text = read_example();
	if (!text)
		skip(); /* not run from the top of the tree */
	defaults = malloc(sizeof(*defaults));
	out = calloc(1, strlen(text) + 1);
	assert_non_null(defaults);
	assert_non_null(out);
	config_init(defaults);

	assert_int_equal(config_load(f->cfg, EXAMPLE_PATH, f->err, sizeof(f->err)), 0);
	assert_memory_equal(f->cfg, defaults, sizeof(*defaults));

	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		bool setting =
			line[0] == '#' && (line[1] == '[' || (line[1] >= 'a' && line[1] <= 'z'));

		if (setting) {
			line++;
			settings++;
		}
		n += (size_t)sprintf(out + n, "%s\n", line);
	}
	assert_true(settings > 60);
	load_ok(f, out);
	assert_memory_equal(&f->cfg->agent, &defaults->agent, sizeof(defaults->agent));
	assert_memory_equal(&f->cfg->security, &defaults->security, sizeof(defaults->security));
	assert_memory_equal(&f->cfg->ratelimit, &defaults->ratelimit, sizeof(defaults->ratelimit));
	assert_memory_equal(&f->cfg->redis, &defaults->redis, sizeof(defaults->redis));
	assert_memory_equal(&f->cfg->kafka, &defaults->kafka, sizeof(defaults->kafka));
	assert_memory_equal(&f->cfg->postgres, &defaults->postgres, sizeof(defaults->postgres));
	assert_memory_equal(&f->cfg->billing, &defaults->billing, sizeof(defaults->billing));
	assert_memory_equal(&f->cfg->api, &defaults->api, sizeof(defaults->api));
	assert_int_equal(f->cfg->n_plans, 1);
	assert_string_equal(f->cfg->plans[0].name, "free");
	assert_int_equal(f->cfg->plans[0].id, 1);
	assert_int_equal(f->cfg->n_routes, 1);
	assert_string_equal(f->cfg->routes[0].name, "orders");
	assert_string_equal(f->cfg->routes[0].prefix, "/v1/orders");

	free(out);
	free(text);
	free(defaults);
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_defaults),
		TEST(test_empty_file_is_defaults),
		TEST(test_full_file),
		TEST(test_load_file),
		TEST(test_syntax_variants),
		TEST(test_syntax_errors),
		TEST(test_first_error_wins),
		TEST(test_line_too_long),
		TEST(test_numbers_every_key),
		TEST(test_numbers_example_message),
		TEST(test_ringbuf_power_of_two),
		TEST(test_rates),
		TEST(test_enums),
		TEST(test_bools),
		TEST(test_interfaces),
		TEST(test_api_ports),
		TEST(test_listen_addresses),
		TEST(test_topics),
		TEST(test_cross_checks),
		TEST(test_plans),
		TEST(test_plan_errors),
		TEST(test_too_many_plans),
		TEST(test_routes),
		TEST(test_route_errors),
		TEST(test_too_many_routes),
		TEST(test_error_buffer),
		TEST(test_names),
		TEST(test_example_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
