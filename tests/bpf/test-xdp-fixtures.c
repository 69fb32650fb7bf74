/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test-xdp-fixtures.c - packet fixtures for tg_xdp, run with BPF_PROG_TEST_RUN.
 *
 * Each test loads a fresh skeleton (nothing pinned), installs one secret
 * (version 1), keys, plans, routes and the API port, feeds frames built with
 * packet.h through the program and asserts what a user of the gateway relies
 * on: the XDP action, the frame that comes out (untouched, an in-kernel HTTP
 * answer, a RST) and the effect on the maps (flows, counters, buckets,
 * rejects, stats). DESIGN §3 is the contract. One test opens a real TCP
 * connection over the loopback, for tg_xdp to find its server socket.
 *
 * Runs as root (CAP_BPF, CAP_NET_ADMIN for XDP test runs).
 */

#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/tollgate_abi.h"
#include "bpf/lib/siphash.h"
#include "bpf/lib/rejhint.h"
#include "tests/bpf/packet.h"
#include "tollgate.skel.h"

#define API_PORT 8080
#define OTHER_PORT 9090

#define API_ORDERS 10
#define API_ARCHIVE 11
#define API_USERS 20

#define ROUTE_ORDERS 1
#define ROUTE_USERS 2
#define ROUTE_ARCHIVE 3
#define ROUTE_HEALTH 4

#define PLAN_ORDERS 1 /* api 10, host scope, 100/s, burst 100 */
#define PLAN_ANY 2    /* any api, host scope, 100/s, burst 100 */
#define PLAN_GLOBAL 3 /* any api, global scope (leases) */
#define PLAN_TIGHT 4  /* api 10, host scope, 10/s, burst 2 */

#define KEY_ACTIVE "tg_1FixtureActiveKey0123456789abcdefghijklm"
#define KEY_ANY "tg_1FixtureAnyKey0123456789abcdefghijklmnop"
#define KEY_REVOKED "tg_1FixtureRevokedKey0123456789abcdefghijkl"
#define KEY_SUSPENDED "tg_1FixtureSuspendedKey0123456789abcdefghij"
#define KEY_GLOBAL "tg_1FixtureGlobalKey0123456789abcdefghijklm"
#define KEY_TIGHT "tg_1FixtureTightKey0123456789abcdefghijklmn"
#define KEY_NEGATIVE "tg_1FixtureNegativeKey0123456789abcdefghijk"
#define KEY_UNKNOWN "tg_1FixtureUnknownKey0123456789abcdefghijkl" /* well formed, absent */
#define KEY_V2 "tg_2FixtureV2Key0123456789abcdefghijklmnopq"	  /* no secret v2 */

#define C_ACTIVE 101
#define C_ANY 102
#define C_REVOKED 103
#define C_SUSPENDED 104
#define C_GLOBAL 105
#define C_TIGHT 106
#define C_COLLIDE 107

#define NSEC_PER_SEC 1000000000ULL

static const __u8 SECRET_V1[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
				    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78 };
static const __u8 SECRET_ZERO[16];

struct fixture_key {
	const char *key;
	const __u8 *secret;
	struct tg_key value;
};

static const struct fixture_key fixture_keys[] = {
	{ KEY_ACTIVE, SECRET_V1, { 1, C_ACTIVE, PLAN_ORDERS, TG_KEY_ACTIVE } },
	{ KEY_ANY, SECRET_V1, { 2, C_ANY, PLAN_ANY, TG_KEY_ACTIVE } },
	{ KEY_REVOKED, SECRET_V1, { 3, C_REVOKED, PLAN_ORDERS, 0 } },
	{ KEY_SUSPENDED,
	  SECRET_V1,
	  { 4, C_SUSPENDED, PLAN_ORDERS, TG_KEY_ACTIVE | TG_KEY_SUSPENDED } },
	{ KEY_GLOBAL, SECRET_V1, { 5, C_GLOBAL, PLAN_GLOBAL, TG_KEY_ACTIVE } },
	{ KEY_TIGHT, SECRET_V1, { 6, C_TIGHT, PLAN_TIGHT, TG_KEY_ACTIVE } },
	{ KEY_NEGATIVE, SECRET_V1, { 0, 0, 0, TG_KEY_NEGATIVE } },
	/* a trap: the digest a program would compute for a v2 key if it used
	 * the unset (zero) slot 2 instead of refusing the version */
	{ KEY_V2, SECRET_ZERO, { 9, C_ANY, PLAN_ANY, TG_KEY_ACTIVE } },
};

struct fixture_plan {
	__u32 id;
	struct tg_plan value;
};

static const struct fixture_plan fixture_plans[] = {
	{ PLAN_ORDERS, { API_ORDERS, 0, 100 * TG_TOKEN_ONE, 100 * TG_TOKEN_ONE, 100, 100, 0 } },
	{ PLAN_ANY, { 0, 0, 100 * TG_TOKEN_ONE, 100 * TG_TOKEN_ONE, 100, 100, 0 } },
	{ PLAN_GLOBAL, { 0, TG_PLAN_GLOBAL, 50 * TG_TOKEN_ONE, 50 * TG_TOKEN_ONE, 50, 50, 0 } },
	{ PLAN_TIGHT, { API_ORDERS, 0, 10 * TG_TOKEN_ONE, 2 * TG_TOKEN_ONE, 10, 2, 0 } },
};

struct fixture_route {
	const char *prefix; /* as configured, without the trailing '/' */
	struct tg_route value;
};

static const struct fixture_route fixture_routes[] = {
	{ "/v1/orders", { API_ORDERS, ROUTE_ORDERS, 0, 0 } },
	{ "/v1/orders/archive", { API_ARCHIVE, ROUTE_ARCHIVE, 0, 0 } },
	{ "/v2/users", { API_USERS, ROUTE_USERS, TG_ROUTE_DEPRECATED, 0 } },
	{ "/health", { API_ORDERS, ROUTE_HEALTH, TG_ROUTE_PUBLIC, 0 } },
};

/* Actions per verdict of each setup. */
static const __u8 ACTIONS_REJECT[TG_V_COUNT] = {
	TG_ACT_PASS,   TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT,
	TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT,
};
static const __u8 ACTIONS_MIXED[TG_V_COUNT] = {
	[TG_V_ADMITTED] = TG_ACT_PASS,	  [TG_V_MISSING_KEY] = TG_ACT_PASS,
	[TG_V_UNKNOWN_KEY] = TG_ACT_DROP, [TG_V_REVOKED_KEY] = TG_ACT_DROP,
	[TG_V_SUSPENDED] = TG_ACT_PASS,	  [TG_V_FORBIDDEN_API] = TG_ACT_DROP,
	[TG_V_OVER_LIMIT] = TG_ACT_PASS,  [TG_V_QUOTA_EXHAUSTED] = TG_ACT_DROP,
};

struct fixture {
	struct tollgate *skel;
	int prog_fd;
	int keys_fd;
	int plans_fd;
	int buckets_fd;
	int routes_fd;
	int ports_fd;
	int flows_fd;
	int counters_fd;
	int stats_fd;
	int rejects_fd;
	int secrets_fd;
	int ncpus;
	__u16 next_sport;
};

/* One request frame: the spec and the payload it points to. */
struct req {
	struct pkt_spec spec;
	size_t len;
	char payload[3000];
};

/* One BPF_PROG_TEST_RUN: frame in, action and frame out. */
struct xdp_run {
	__u32 retval;
	size_t in_len;
	size_t out_len;
	__u8 in[PKT_MAX];
	__u8 out[PKT_MAX];
};

/* --- setup ------------------------------------------------------------ */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

static void key_digest(const __u8 secret[16], const char *key, struct tg_key_digest *ret)
{
	__u8 buf[TG_KEY_MAX + 8] = { 0 };
	size_t len = strlen(key);

	assert_true(len < sizeof(buf) - 8);
	memcpy(buf, key, len);
	tg_siphash(secret, buf, (__u32)len, 1, ret->bytes);
}

static void route_key(const char *prefix, struct tg_route_key *ret)
{
	size_t len = strlen(prefix);

	memset(ret, 0, sizeof(*ret));
	memcpy(ret->path, prefix, len);
	if (len == 0 || prefix[len - 1] != '/')
		ret->path[len++] = '/';
	ret->prefixlen = (__u32)(len * 8);
}

_Static_assert(sizeof(((struct tollgate *)0)->rodata->tg_actions) == TG_V_COUNT,
	       "tg_actions is one __u8 per verdict");

/* Map sizes for fixtures: small, so each load stays light. */
static const struct {
	const char *name;
	__u32 entries;
} fixture_map_sizes[] = {
	{ "tg_keys", 256 },	{ "tg_plans", 64 },    { "tg_buckets", 256 },
	{ "tg_routes", 64 },	{ "tg_ports", 16 },    { "tg_flows", 256 },
	{ "tg_counters", 256 }, { "tg_rejects", 256 }, { "tg_srclimit", 256 },
};

/*
 * fixture_load() - open the skeleton with these tunables, load it unpinned
 * and install secret, keys, plans, routes and the API port.
 * Returns 0, or -errno with the skeleton destroyed and a line on stderr.
 */
static int fixture_load(struct fixture *f, const __u8 actions[TG_V_COUNT], __u64 src_rate_fp,
			__u64 src_burst_fp)
{
	struct tg_secret secret = { .valid = 1 };
	struct tg_port port = { .mode = TG_PORT_XDP };
	struct bpf_map *map;
	__u32 idx = 1;
	__u16 port_no = API_PORT;
	size_t i;
	int r;

	f->skel = tollgate__open();
	if (!f->skel) {
		r = -errno;
		fprintf(stderr, "tollgate__open: %s\n", strerror(-r));
		return r;
	}

	/* nothing pinned: clear any pin path the object asks for */
	bpf_object__for_each_map(map, f->skel->obj) {
		r = bpf_map__set_pin_path(map, NULL);
		if (r) {
			fprintf(stderr, "clear pin path of %s: %s\n", bpf_map__name(map),
				strerror(-r));
			goto out_destroy;
		}
	}
	for (i = 0; i < sizeof(fixture_map_sizes) / sizeof(fixture_map_sizes[0]); i++) {
		map = bpf_object__find_map_by_name(f->skel->obj, fixture_map_sizes[i].name);
		r = map ? bpf_map__set_max_entries(map, fixture_map_sizes[i].entries) : -ENOENT;
		if (r) {
			fprintf(stderr, "size map %s: %s\n", fixture_map_sizes[i].name,
				strerror(-r));
			goto out_destroy;
		}
	}

	/* every CPU's key cache, as the agent sizes it */
	r = libbpf_num_possible_cpus();
	if (r > 0)
		r = bpf_map__set_max_entries(f->skel->maps.tg_keycache,
					     TG_KEYCACHE_ENTRIES(r, f->skel->rodata->tg_keycache_bits));
	if (r) {
		fprintf(stderr, "size map tg_keycache: %s\n", strerror(r < 0 ? -r : EINVAL));
		goto out_destroy;
	}

	memcpy((void *)f->skel->rodata->tg_actions, actions, TG_V_COUNT);
	f->skel->rodata->tg_source_rate_fp = src_rate_fp;
	f->skel->rodata->tg_source_burst_fp = src_burst_fp;

	r = tollgate__load(f->skel);
	if (r) {
		fprintf(stderr, "tollgate__load: %s\n", strerror(-r));
		goto out_destroy;
	}

	f->prog_fd = bpf_program__fd(f->skel->progs.tg_xdp);
	f->keys_fd = bpf_map__fd(f->skel->maps.tg_keys);
	f->plans_fd = bpf_map__fd(f->skel->maps.tg_plans);
	f->buckets_fd = bpf_map__fd(f->skel->maps.tg_buckets);
	f->routes_fd = bpf_map__fd(f->skel->maps.tg_routes);
	f->ports_fd = bpf_map__fd(f->skel->maps.tg_ports);
	f->flows_fd = bpf_map__fd(f->skel->maps.tg_flows);
	f->counters_fd = bpf_map__fd(f->skel->maps.tg_counters);
	f->stats_fd = bpf_map__fd(f->skel->maps.tg_stats);
	f->rejects_fd = bpf_map__fd(f->skel->maps.tg_rejects);
	f->secrets_fd = bpf_map__fd(f->skel->maps.tg_secrets);
	f->ncpus = libbpf_num_possible_cpus();
	f->next_sport = 40000;
	if (f->ncpus <= 0) {
		r = f->ncpus ? f->ncpus : -EINVAL;
		fprintf(stderr, "possible CPUs: %s\n", strerror(-r));
		goto out_destroy;
	}

	memcpy(secret.key, SECRET_V1, sizeof(secret.key));
	r = bpf_map_update_elem(f->secrets_fd, &idx, &secret, BPF_ANY);
	if (r)
		goto out_map_error;
	for (i = 0; i < sizeof(fixture_keys) / sizeof(fixture_keys[0]); i++) {
		struct tg_key_digest digest;

		key_digest(fixture_keys[i].secret, fixture_keys[i].key, &digest);
		r = bpf_map_update_elem(f->keys_fd, &digest, &fixture_keys[i].value, BPF_ANY);
		if (r)
			goto out_map_error;
	}
	for (i = 0; i < sizeof(fixture_plans) / sizeof(fixture_plans[0]); i++) {
		r = bpf_map_update_elem(f->plans_fd, &fixture_plans[i].id, &fixture_plans[i].value,
					BPF_ANY);
		if (r)
			goto out_map_error;
	}
	for (i = 0; i < sizeof(fixture_routes) / sizeof(fixture_routes[0]); i++) {
		struct tg_route_key key;

		route_key(fixture_routes[i].prefix, &key);
		r = bpf_map_update_elem(f->routes_fd, &key, &fixture_routes[i].value, BPF_ANY);
		if (r)
			goto out_map_error;
	}
	r = bpf_map_update_elem(f->ports_fd, &port_no, &port, BPF_ANY);
	if (r)
		goto out_map_error;
	/* and its bit, as the agent keeps it (sync_xdp_ports()) */
	{
		__u32 word = TG_XDP_PORTS_WORD(port_no);
		__u64 bits = TG_XDP_PORTS_BIT(port_no);

		r = bpf_map_update_elem(bpf_map__fd(f->skel->maps.tg_xdp_ports), &word, &bits, BPF_ANY);
		if (r)
			goto out_map_error;
	}
	return 0;

out_map_error:
	fprintf(stderr, "install fixture map entries: %s\n", strerror(-r));
out_destroy:
	tollgate__destroy(f->skel);
	f->skel = NULL;
	return r;
}

static int fixture_setup(void **state, const __u8 actions[TG_V_COUNT], __u64 src_rate_fp,
			 __u64 src_burst_fp)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (fixture_load(f, actions, src_rate_fp, src_burst_fp)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* Every refusal answered in-kernel; the per-source limit out of the way. */
static int setup_reject(void **state)
{
	return fixture_setup(state, ACTIONS_REJECT, 1000 * TG_TOKEN_ONE, 1000 * TG_TOKEN_ONE);
}

/* pass for some verdicts, drop for the others. */
static int setup_mixed(void **state)
{
	return fixture_setup(state, ACTIONS_MIXED, 1000 * TG_TOKEN_ONE, 1000 * TG_TOKEN_ONE);
}

/* Three keyless refusals per source, practically no refill. */
static int setup_srclimit(void **state)
{
	return fixture_setup(state, ACTIONS_REJECT, 1, 3 * TG_TOKEN_ONE);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	if (f) {
		tollgate__destroy(f->skel);
		free(f);
	}
	*state = NULL;
	return 0;
}

/* --- frames and runs ---------------------------------------------------- */

/*
 * req_init() - a request from a new client port: "METHOD path HTTP/1.1", a Host
 * header, then @headers (each ending in CRLF), then the blank line.
 */
static void req_init(struct fixture *f, struct req *r, bool ipv6, const char *method,
		     const char *path, const char *headers)
{
	int n;

	pkt_spec_init(&r->spec, ipv6);
	r->spec.sport = f->next_sport++;
	n = snprintf(r->payload, sizeof(r->payload),
		     "%s %s HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: fixture/1\r\n%s\r\n",
		     method, path, headers ? headers : "");
	assert_true(n > 0 && (size_t)n < sizeof(r->payload));
	r->len = (size_t)n;
	r->spec.payload = r->payload;
	r->spec.payload_len = r->len;
}

/* req_raw() - a segment from a new client port carrying @payload as is. */
static void req_raw(struct fixture *f, struct req *r, bool ipv6, const void *payload, size_t len)
{
	assert_true(len <= sizeof(r->payload));
	pkt_spec_init(&r->spec, ipv6);
	r->spec.sport = f->next_sport++;
	memcpy(r->payload, payload, len);
	r->len = len;
	r->spec.payload = r->payload;
	r->spec.payload_len = len;
}

/* req_segment() - make @r the segment of its connection at sequence @seq
 * that carries @text. */
static void req_segment(struct req *r, __u32 seq, const char *text)
{
	r->len = strlen(text);
	assert_true(r->len <= sizeof(r->payload));
	memcpy(r->payload, text, r->len);
	r->spec.seq = seq;
}

static void run_frame(struct fixture *f, const __u8 *frame, size_t len, struct xdp_run *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	memcpy(ret->in, frame, len);
	ret->in_len = len;
	memset(ret->out, 0, sizeof(ret->out));
	opts.data_in = ret->in;
	opts.data_size_in = (__u32)len;
	opts.data_out = ret->out;
	opts.data_size_out = sizeof(ret->out);
	opts.repeat = 1;
	err = bpf_prog_test_run_opts(f->prog_fd, &opts);
	if (err)
		fail_msg("BPF_PROG_TEST_RUN failed: %d (%s)", err, strerror(-err));
	ret->retval = opts.retval;
	ret->out_len = opts.data_size_out;
}

static void run_spec(struct fixture *f, const struct pkt_spec *spec, struct xdp_run *ret)
{
	__u8 frame[PKT_MAX];
	size_t len;

	assert_int_equal(pkt_build(spec, frame, sizeof(frame), &len), 0);
	run_frame(f, frame, len, ret);
}

static void run_req(struct fixture *f, struct req *r, struct xdp_run *ret)
{
	r->spec.payload = r->payload;
	r->spec.payload_len = r->len;
	run_spec(f, &r->spec, ret);
}

/* --- map access ---------------------------------------------------------- */

static __u64 stat_get(struct fixture *f, enum tg_stat stat)
{
	__u64 values[f->ncpus], sum = 0;
	__u32 idx = stat;

	assert_int_equal(bpf_map_lookup_elem(f->stats_fd, &idx, values), 0);
	for (int i = 0; i < f->ncpus; i++)
		sum += values[i];
	return sum;
}

static struct tg_counters counters_get(struct fixture *f, __u32 consumer, __u32 api)
{
	struct tg_counter_key key = { .consumer_id = consumer, .api_id = api };
	struct tg_counters c;

	if (bpf_map_lookup_elem(f->counters_fd, &key, &c))
		memset(&c, 0, sizeof(c));
	return c;
}

/* Sum of one field over every (consumer, api) entry. */
static __u64 refused_total(struct fixture *f, enum tg_verdict verdict)
{
	struct tg_counter_key key, next;
	struct tg_counters c;
	__u64 sum = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(f->counters_fd, prev, &next)) {
		if (!bpf_map_lookup_elem(f->counters_fd, &next, &c))
			sum += c.refused[verdict];
		key = next;
		prev = &key;
	}
	return sum;
}

static __u64 requests_total(struct fixture *f)
{
	struct tg_counter_key key, next;
	struct tg_counters c;
	__u64 sum = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(f->counters_fd, prev, &next)) {
		if (!bpf_map_lookup_elem(f->counters_fd, &next, &c))
			sum += c.requests;
		key = next;
		prev = &key;
	}
	return sum;
}

static bool bucket_get(struct fixture *f, __u32 consumer, __u32 plan, struct tg_bucket *ret)
{
	struct tg_bucket_key key = { .consumer_id = consumer, .plan_id = plan };

	memset(ret, 0, sizeof(*ret));
	return bpf_map_lookup_elem_flags(f->buckets_fd, &key, ret, BPF_F_LOCK) == 0;
}

static void bucket_put(struct fixture *f, __u32 consumer, __u32 plan, const struct tg_bucket *b)
{
	struct tg_bucket_key key = { .consumer_id = consumer, .plan_id = plan };

	assert_int_equal(bpf_map_update_elem(f->buckets_fd, &key, b, BPF_F_LOCK), 0);
}

static void flow_key_of(const struct pkt_spec *spec, struct tg_flow_key *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (spec->ipv6) {
		memcpy(ret->client_addr, spec->saddr, 16);
		memcpy(ret->server_addr, spec->daddr, 16);
	} else {
		ret->client_addr[10] = ret->client_addr[11] = 0xff;
		ret->server_addr[10] = ret->server_addr[11] = 0xff;
		memcpy(ret->client_addr + 12, spec->saddr, 4);
		memcpy(ret->server_addr + 12, spec->daddr, 4);
	}
	ret->client_port = htons(spec->sport);
	ret->server_port = htons(spec->dport);
}

static bool flow_get(struct fixture *f, const struct pkt_spec *spec, struct tg_flow *ret)
{
	struct tg_flow_key key;

	flow_key_of(spec, &key);
	memset(ret, 0, sizeof(*ret));
	return bpf_map_lookup_elem(f->flows_fd, &key, ret) == 0;
}

/* Make @r's flow as tg_sockops does at the handshake for a socket it put
 * in the sockhash: the client's first request starts at @r's sequence. */
static void flow_with_socket(struct fixture *f, const struct req *r)
{
	struct tg_flow_key key;
	struct tg_flow flow = { .flags = TG_FLOW_SOCK | TG_FLOW_SEQ, .next_seq = r->spec.seq };

	flow_key_of(&r->spec, &key);
	assert_int_equal(bpf_map_update_elem(f->flows_fd, &key, &flow, BPF_NOEXIST), 0);
}

/* Forget that @r's connection was answered in-kernel, as if the client
 * sent its segment again before the answer reached it. */
static void reject_forget(struct fixture *f, const struct req *r)
{
	struct tg_flow_key key;

	flow_key_of(&r->spec, &key);
	assert_int_equal(bpf_map_delete_elem(f->rejects_fd, &key), 0);
}

static bool reject_get(struct fixture *f, const struct pkt_spec *spec, struct tg_reject *ret)
{
	struct tg_flow_key key;

	flow_key_of(spec, &key);
	memset(ret, 0, sizeof(*ret));
	return bpf_map_lookup_elem(f->rejects_fd, &key, ret) == 0;
}

/* --- assertions ------------------------------------------------------------ */

static void assert_untouched(const struct xdp_run *run)
{
	assert_int_equal(run->out_len, run->in_len);
	assert_memory_equal(run->out, run->in, run->in_len);
}

static void assert_pass_untouched(const struct xdp_run *run)
{
	assert_int_equal(run->retval, XDP_PASS);
	assert_untouched(run);
}

/* Run @r; its XDP action, the frame untouched where that is XDP_PASS. */
static __u32 run_action(struct fixture *f, struct req *r)
{
	struct xdp_run run;

	run_req(f, r, &run);
	if (run.retval == XDP_PASS)
		assert_untouched(&run);
	return run.retval;
}

/* The body bytes @r's head declares beyond those in its segment (a
 * Content-Length), or 0. */
static size_t declared_body(const struct req *r)
{
	char head[sizeof(r->payload) + 1];
	const char *cl, *end;
	size_t body;

	memcpy(head, r->payload, r->len);
	head[r->len] = '\0';
	cl = strcasestr(head, "\r\ncontent-length:");
	end = strstr(head, "\r\n\r\n");
	if (!cl || !end || cl > end)
		return 0;
	body = strtoul(cl + 17, NULL, 10);
	end += 4;
	return (size_t)(end - head) + body > r->len ? (size_t)(end - head) + body - r->len : 0;
}

/* The last admitted request of the flow is @r with these attributes. */
static void assert_flow_request(struct fixture *f, const struct req *r, __u32 consumer, __u32 plan,
				__u32 key_id, __u32 api, __u32 route, enum tg_method method,
				const char *path)
{
	struct tg_flow flow;
	const struct tg_request *p;

	if (!flow_get(f, &r->spec, &flow))
		fail_msg("no tg_flows entry for client port %u", r->spec.sport);
	assert_true(flow.tail > flow.head);
	p = &flow.pending[(flow.tail - 1) % TG_FLOW_PENDING];
	assert_int_equal(p->consumer_id, consumer);
	assert_int_equal(p->plan_id, plan);
	assert_int_equal(p->key_id, key_id);
	assert_int_equal(p->api_id, api);
	assert_int_equal(p->route_id, route);
	assert_int_equal(p->method, method);
	assert_int_equal(p->path_len, strlen(path));
	assert_memory_equal(p->path, path, strlen(path));
	assert_int_equal(p->req_bytes, r->len);
	assert_true(p->start_ns != 0);
	assert_int_equal(p->seg_end, r->spec.seq + (__u32)r->len);
	/* where the next request can start: after the body the head declares,
	 * where the flow is sure requests start there (flow_with_socket) */
	if (flow.flags & TG_FLOW_UNSURE)
		assert_int_equal(flow.next_seq, r->spec.seq + (__u32)r->len);
	else
		assert_int_equal(flow.next_seq, r->spec.seq + (__u32)(r->len + declared_body(r)));
	assert_true(flow.flags & TG_FLOW_SEQ);
	assert_false(flow.flags & TG_FLOW_BODY_OPEN);
}

/*
 * assert_admitted() - run @r, expect it admitted and charged to (consumer,
 * api) and to the (consumer, plan) bucket, recorded in its flow.
 */
static void assert_admitted(struct fixture *f, struct req *r, __u32 consumer, __u32 plan,
			    __u32 key_id, __u32 api, __u32 route, enum tg_method method,
			    const char *path)
{
	struct tg_counters before = counters_get(f, consumer, api), after;
	struct tg_bucket b0, b1;
	bool had_bucket = bucket_get(f, consumer, plan, &b0);
	struct xdp_run run;

	run_req(f, r, &run);
	assert_pass_untouched(&run);
	after = counters_get(f, consumer, api);
	assert_int_equal(after.requests, before.requests + 1);
	assert_int_equal(after.bytes_in, before.bytes_in + r->len);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(after.refused[v], before.refused[v]);
	assert_true(bucket_get(f, consumer, plan, &b1));
	assert_int_equal(b1.consumed_total, (had_bucket ? b0.consumed_total : 0) + 1);
	assert_flow_request(f, r, consumer, plan, key_id, api, route, method, path);
}

/* Digits only, as a number. */
static bool parse_uint(const char *s, unsigned long long *ret)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Header @name present exactly once; its value in @ret. Prints the response
 * head otherwise. */
static void assert_header(const struct pkt_http *http, const char *name, char *ret, size_t size)
{
	int n = pkt_http_header(http, name, ret, size);

	if (n != 1)
		fail_msg("%d '%s' headers in the %d answer (expected 1):\n%.*s", n, name,
			 http->status, (int)http->headers_len, http->headers);
}

/*
 * assert_answer() - @run is the in-kernel answer to the request in @run->in:
 * addresses and ports swapped, VLAN tag kept, TTL 64, seq = request's ack,
 * ack = request's seq + payload, FIN|PSH|ACK, full checksums, lengths that
 * match the frame, and an HTTP/1.1 @status response that closes the
 * connection. Fills *ret_http.
 */
/*
 * assert_sent_back() - @run turned the client's segment into one from the
 * server back to it (XDP_TX): MACs, addresses and ports swapped, VLAN tag
 * kept, fresh TTL, lengths = what the frame holds, IPv4 not fragmented,
 * seq = the client's ack, valid checksums. The frames parsed, in *@in and
 * *@out.
 */
static void assert_sent_back(const struct xdp_run *run, struct pkt_view *in, struct pkt_view *out)
{
	size_t alen;

	if (run->retval != XDP_TX)
		fail_msg("expected XDP_TX (%d) of a segment to the client, got %u", XDP_TX,
			 run->retval);
	assert_int_equal(pkt_parse(run->in, run->in_len, in), 0);
	if (pkt_parse(run->out, run->out_len, out))
		fail_msg("answer is not an Ethernet/IP/TCP frame with consistent lengths");

	/* L2 */
	assert_memory_equal(out->eth_dst, in->eth_src, 6);
	assert_memory_equal(out->eth_src, in->eth_dst, 6);
	assert_int_equal(out->vlan, in->vlan);
	if (in->vlan)
		assert_int_equal(out->vlan_tci, in->vlan_tci);
	assert_int_equal(out->ipv6, in->ipv6);

	/* L3 */
	alen = in->ipv6 ? 16 : 4;
	assert_memory_equal(out->saddr, in->daddr, alen);
	assert_memory_equal(out->daddr, in->saddr, alen);
	assert_int_equal(out->ttl, 64);
	assert_int_equal(out->l3_off + out->l3_len, run->out_len);
	if (!out->ipv6) {
		const __u8 *ip = out->frame + out->l3_off;

		assert_true(pkt_ipv4_csum_ok(out));
		assert_int_equal(((ip[6] << 8) | ip[7]) & (PKT_IP_MF | PKT_IP_OFFMASK), 0);
		assert_int_equal(ip[9], PKT_IPPROTO_TCP);
	}

	/* L4 */
	assert_int_equal(out->sport, in->dport);
	assert_int_equal(out->dport, in->sport);
	assert_int_equal(out->seq, in->ack_seq);
	if (!pkt_tcp_csum_ok(out))
		fail_msg("answer TCP checksum does not verify (pseudo-header + %zu bytes)",
			 out->l3_len - out->ip_hdr_len);
}

static void assert_answer(const struct xdp_run *run, int status, struct pkt_http *ret_http)
{
	struct pkt_view in, out;
	struct pkt_http http;
	char value[256];
	unsigned long long n;

	assert_sent_back(run, &in, &out);
	assert_int_equal(out.ack_seq, (__u32)(in.seq + in.payload_len));
	assert_int_equal(out.tcp_flags, PKT_FIN | PKT_PSH | PKT_ACK);

	/* HTTP */
	if (pkt_http_parse(out.payload, out.payload_len, &http))
		fail_msg("answer payload is not an HTTP response: '%.*s'", (int)out.payload_len,
			 (const char *)out.payload);
	assert_string_equal(http.version, "HTTP/1.1");
	assert_int_equal(http.status, status);
	assert_header(&http, "Connection", value, sizeof(value));
	assert_string_equal(value, "close");
	assert_header(&http, "Content-Length", value, sizeof(value));
	assert_true(parse_uint(value, &n));
	assert_int_equal(n, http.body_len);

	if (status == 429) {
		char policy_name[64], limit_name[64];
		unsigned long long q, w, r, t;
		int end = 0;

		assert_header(&http, "Retry-After", value, sizeof(value));
		if (!parse_uint(value, &n) || n < 1)
			fail_msg("Retry-After '%s' is not a positive number of seconds", value);

		/* draft-ietf-httpapi-ratelimit-headers: "plan";q=…;w=… */
		assert_header(&http, "RateLimit-Policy", value, sizeof(value));
		if (sscanf(value, "\"%63[^\"]\";q=%llu;w=%llu%n", policy_name, &q, &w, &end) != 3 ||
		    (size_t)end != strlen(value))
			fail_msg("RateLimit-Policy '%s' is not \"name\";q=N;w=N", value);
		assert_true(w >= 1);

		/* "plan";r=0;t=… */
		assert_header(&http, "RateLimit", value, sizeof(value));
		end = 0;
		if (sscanf(value, "\"%63[^\"]\";r=%llu;t=%llu%n", limit_name, &r, &t, &end) != 3 ||
		    (size_t)end != strlen(value))
			fail_msg("RateLimit '%s' is not \"name\";r=0;t=N", value);
		assert_int_equal(r, 0);
		assert_string_equal(limit_name, policy_name);
	}
	if (ret_http)
		*ret_http = http;
}

/*
 * assert_refused() - run @r, expect @verdict counted for (consumer, api) and
 * nothing admitted; with @status the in-kernel answer, else @action.
 */
static void assert_refused(struct fixture *f, struct req *r, __u32 consumer, __u32 api,
			   enum tg_verdict verdict, __u32 xdp_action, int status,
			   struct xdp_run *ret_run)
{
	struct tg_counters before = counters_get(f, consumer, api), after;
	__u64 requests = requests_total(f);
	__u64 tx = stat_get(f, TG_S_REJECT_TX);
	struct tg_reject rej;
	struct xdp_run run_local, *run = ret_run ? ret_run : &run_local;

	run_req(f, r, run);
	after = counters_get(f, consumer, api);
	for (int v = 1; v < TG_V_COUNT; v++) {
		if (after.refused[v] != before.refused[v] + (v == (int)verdict))
			fail_msg("(consumer %u, api %u) refused[%d]: %" PRIu64 " -> %" PRIu64
				 ", expected verdict %d",
				 consumer, api, v, (uint64_t)before.refused[v],
				 (uint64_t)after.refused[v], verdict);
	}
	assert_int_equal(requests_total(f), requests);

	if (status) {
		assert_answer(run, status, NULL);
		assert_int_equal(stat_get(f, TG_S_REJECT_TX), tx + 1);
		if (!reject_get(f, &r->spec, &rej))
			fail_msg("answered flow not remembered in tg_rejects");
		assert_int_equal(rej.server_rcv_nxt, r->spec.seq);
		return;
	}
	if (run->retval != xdp_action)
		fail_msg("expected XDP action %u, got %u", xdp_action, run->retval);
	if (xdp_action == XDP_PASS)
		assert_untouched(run);
	assert_false(reject_get(f, &r->spec, &rej));
	assert_int_equal(stat_get(f, TG_S_REJECT_TX), tx);
}

/*
 * assert_rst() - @run turned the client segment into a bare RST toward the
 * server: same addresses and ports, RST only, seq = @seq, no payload, valid
 * checksums, XDP_PASS.
 */
static void assert_rst(const struct xdp_run *run, __u32 seq)
{
	struct pkt_view in, out;
	size_t alen;

	if (run->retval != XDP_PASS)
		fail_msg("expected XDP_PASS of a RST, got action %u", run->retval);
	assert_int_equal(pkt_parse(run->in, run->in_len, &in), 0);
	if (pkt_parse(run->out, run->out_len, &out))
		fail_msg("RST is not an Ethernet/IP/TCP frame with consistent lengths");
	assert_memory_equal(out.eth_dst, in.eth_dst, 6);
	assert_memory_equal(out.eth_src, in.eth_src, 6);
	assert_int_equal(out.vlan, in.vlan);
	assert_int_equal(out.ipv6, in.ipv6);
	alen = in.ipv6 ? 16 : 4;
	assert_memory_equal(out.saddr, in.saddr, alen);
	assert_memory_equal(out.daddr, in.daddr, alen);
	assert_int_equal(out.sport, in.sport);
	assert_int_equal(out.dport, in.dport);
	assert_int_equal(out.tcp_flags, PKT_RST);
	assert_int_equal(out.seq, seq);
	assert_int_equal(out.payload_len, 0);
	if (!out.ipv6)
		assert_true(pkt_ipv4_csum_ok(&out));
	assert_true(pkt_tcp_csum_ok(&out));
}

static void header_key(char *buf, size_t size, const char *key)
{
	snprintf(buf, size, "X-API-Key: %s\r\n", key);
}

/* --- fixtures: admission ----------------------------------------------- */

static void test_admitted(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];
	__u64 packets = stat_get(f, TG_S_PACKETS);
	struct tg_bucket b;
	struct tg_counters c;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	assert_int_equal(stat_get(f, TG_S_PACKETS), packets + 1);

	/* the bucket was created full and paid one token */
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_true(b.tokens_fp >= 99 * TG_TOKEN_ONE && b.tokens_fp < 100 * TG_TOKEN_ONE);
	assert_int_equal(b.consumed_total, 1);
	c = counters_get(f, C_ACTIVE, API_ORDERS);
	assert_int_equal(c.requests, 1);
	assert_int_equal(c.bytes_in, r.len);
}

static void test_admitted_exact_route_and_query(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders");

	/* the query is not part of the path */
	req_init(f, &r, false, "GET", "/v1/orders?x=1&y=2", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders");
}

static void test_admitted_methods(void **state)
{
	static const struct {
		const char *name;
		enum tg_method code;
	} methods[] = {
		{ "POST", TG_M_POST },	   { "PUT", TG_M_PUT },	  { "PATCH", TG_M_PATCH },
		{ "DELETE", TG_M_DELETE }, { "HEAD", TG_M_HEAD }, { "OPTIONS", TG_M_OPTIONS },
	};
	struct fixture *f = *state;
	struct req r;
	char h[256];

	snprintf(h, sizeof(h),
		 "X-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 13\r\n",
		 KEY_ACTIVE);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		req_init(f, &r, false, methods[i].name, "/v1/orders/9", h);
		/* a body in the same segment counts in req_bytes */
		memcpy(r.payload + r.len, "{\"qty\": 3000}", 13);
		r.len += 13;
		assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS,
				methods[i].code, "/v1/orders/9");
	}
}

static void test_admitted_ipv4_options(void **state)
{
	static const __u8 nops[4] = { 1, 1, 1, 0 };
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/1", h);
	r.spec.ip_options = nops;
	r.spec.ip_options_len = sizeof(nops);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/1");
}

static void test_admitted_ipv6(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	struct tg_flow_key key;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	pkt_set_ipv6(&r.spec, "2001:db8::beef", "2001:db8::1");
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	/* the flow key carries the IPv6 addresses as they are */
	flow_key_of(&r.spec, &key);
	assert_int_equal(key.client_addr[15], 0xef);
	assert_int_equal(bpf_map_lookup_elem(f->flows_fd, &key, &flow), 0);
}

static void test_admitted_vlan(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	r.spec.vlan = true;
	r.spec.vlan_tci = 100;
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");

	req_init(f, &r, true, "GET", "/v1/orders/8", h);
	r.spec.vlan = true;
	r.spec.vlan_tci = 0x2000 | 4000; /* priority 1, VLAN 4000 */
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/8");
}

static void test_header_name_case_and_trim(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	snprintf(h, sizeof(h), "x-aPi-kEY: \t  %s \t \r\n", KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");

	snprintf(h, sizeof(h), "X-API-KEY:%s\r\n", KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
}

static void test_bearer(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n", KEY_ANY);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_admitted(f, &r, C_ANY, PLAN_ANY, 2, API_USERS, ROUTE_USERS, TG_M_GET, "/v2/users/1");

	/* header name and scheme are case-insensitive, the value is trimmed */
	snprintf(h, sizeof(h), "authorization:  bEaReR %s \r\n", KEY_ANY);
	req_init(f, &r, false, "GET", "/v2/users/2", h);
	assert_admitted(f, &r, C_ANY, PLAN_ANY, 2, API_USERS, ROUTE_USERS, TG_M_GET, "/v2/users/2");
}

static void test_x_api_key_preferred_over_bearer(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[256];

	/* Bearer first in the request, still the X-API-Key wins */
	snprintf(h, sizeof(h), "Authorization: Bearer %s\r\nX-API-Key: %s\r\n", KEY_REVOKED,
		 KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	assert_int_equal(counters_get(f, C_REVOKED, API_ORDERS).refused[TG_V_REVOKED_KEY], 0);

	/* and the other way round: a bad X-API-Key is not rescued by a Bearer */
	snprintf(h, sizeof(h), "X-API-Key: %s\r\nAuthorization: Bearer %s\r\n", KEY_REVOKED,
		 KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
}

static void test_leading_crlf(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];
	int n;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	n = snprintf(r.payload, sizeof(r.payload), "\r\n\r\n\nGET /v1/orders/7 HTTP/1.1\r\n%s\r\n",
		     h);
	r.len = (size_t)n;
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
}

static void test_keepalive_second_request(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	char h[128];
	__u32 seq;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/1", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/1");
	seq = r.spec.seq + (__u32)r.len;

	/* the next request on the connection starts where the first ended */
	{
		__u16 sport = r.spec.sport;

		req_init(f, &r, false, "DELETE", "/v1/orders/2", h);
		r.spec.sport = sport;
		r.spec.seq = seq;
	}
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_DELETE,
			"/v1/orders/2");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail - flow.head, 2);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 2);
}

/* The connection caches its last key's digest: another key on the same
 * connection must be looked up afresh, not take the cached one. */
static void test_keepalive_key_changes(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];
	__u32 seq;
	__u16 sport;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/1", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/1");
	seq = r.spec.seq + (__u32)r.len;
	sport = r.spec.sport;

	header_key(h, sizeof(h), KEY_REVOKED);
	req_init(f, &r, false, "GET", "/v1/orders/2", h);
	r.spec.sport = sport;
	r.spec.seq = seq;
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
}

/* Send @n requests for @path with header @h on the connection from client
 * port @sport, the first at client sequence @seq, each passed; @r ends as
 * the last one. Returns the sequence after them. */
static __u32 send_on_conn(struct fixture *f, struct req *r, const char *path, const char *h,
			  __u16 sport, __u32 seq, int n)
{
	struct xdp_run run;

	for (int i = 0; i < n; i++) {
		req_init(f, r, false, "GET", path, h);
		r->spec.sport = sport;
		r->spec.seq = seq;
		run_req(f, r, &run);
		assert_int_equal(run.retval, XDP_PASS);
		seq += (__u32)r->len;
	}
	return seq;
}

/* Send one request, @method @path with header @h, on the connection from
 * client port @sport at client sequence @seq, passed; @r ends as it.
 * Returns the sequence after it. */
static __u32 send_one_on_conn(struct fixture *f, struct req *r, const char *method,
			      const char *path, const char *h, __u16 sport, __u32 seq)
{
	struct xdp_run run;

	req_init(f, r, false, method, path, h);
	r->spec.sport = sport;
	r->spec.seq = seq;
	run_req(f, r, &run);
	assert_int_equal(run.retval, XDP_PASS);
	return seq + (__u32)r->len;
}

/* A connection holds TG_FLOW_PENDING unanswered requests. One more goes
 * beyond them: admitted, counted in order behind them, and charged when
 * its response comes (tg_skmsg charges the response of one beyond as
 * unattributed): XDP neither counts it nor keeps its token. While any are
 * beyond, later requests go there too, behind them, even where the
 * consumer freed slots (their answers come after those of the ones beyond),
 * each with its kind (let through unadmitted, HEAD); once those are
 * answered, requests get slots again. */
static void test_pending_ring_full_then_freed(void **state)
{
	struct fixture *f = *state;
	struct tg_flow_key key;
	struct xdp_run run;
	struct tg_bucket b;
	struct tg_flow flow;
	__u64 full, retrans;
	struct req r;
	char h[128];
	__u32 seq;
	__u16 sport;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/1", h);
	sport = r.spec.sport;
	seq = r.spec.seq;
	full = stat_get(f, TG_S_PENDING_FULL);
	seq = send_on_conn(f, &r, "/v1/orders/1", h, sport, seq, TG_FLOW_PENDING + 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, TG_FLOW_PENDING);
	assert_int_equal(flow.head, 0);
	assert_int_equal(flow.beyond_tail, 1);
	assert_int_equal(flow.beyond_head, 0);
	assert_int_equal(flow.beyond_uncharged, 0);
	assert_int_equal(flow.beyond_headreq, 0);
	assert_int_equal(flow.beyond_seg_end, seq);
	/* its start, for the unanswered timer */
	assert_true(flow.beyond_last_ns && flow.beyond_last_ns >= flow.pending[3].start_ns);
	assert_int_equal(flow.next_seq, seq);
	assert_int_equal(stat_get(f, TG_S_PENDING_FULL), full + 1);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, TG_FLOW_PENDING);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.consumed_total, TG_FLOW_PENDING);
	/* burst 100, and far less than a token's refill time has passed */
	assert_true(b.tokens_fp >= 100 * TG_TOKEN_ONE - TG_FLOW_PENDING * TG_TOKEN_ONE);
	assert_true(b.tokens_fp < 100 * TG_TOKEN_ONE - (TG_FLOW_PENDING - 1) * TG_TOKEN_ONE);
	/* the fifth again, as TCP retransmits it: known for a retransmission
	 * by where its segment ended, though it has no slot */
	retrans = stat_get(f, TG_S_RETRANSMITS);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_RETRANSMITS), retrans + 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.beyond_tail, 1);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, TG_FLOW_PENDING);

	/* the consumer answers two: a public request, a HEAD and a GET still
	 * go beyond, behind the fifth */
	flow.head = 2;
	flow_key_of(&r.spec, &key);
	assert_int_equal(bpf_map_update_elem(f->flows_fd, &key, &flow, BPF_EXIST), 0);
	seq = send_one_on_conn(f, &r, "GET", "/health", "", sport, seq);
	seq = send_one_on_conn(f, &r, "HEAD", "/v1/orders/1", h, sport, seq);
	seq = send_one_on_conn(f, &r, "GET", "/v1/orders/1", h, sport, seq);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, TG_FLOW_PENDING);
	assert_int_equal(flow.beyond_tail, 4);
	assert_int_equal(flow.beyond_uncharged, 1ULL << 1);
	assert_int_equal(flow.beyond_headreq, 1ULL << 2);
	assert_int_equal(flow.beyond_seg_end, seq);
	assert_int_equal(flow.next_seq, seq);
	assert_int_equal(stat_get(f, TG_S_PENDING_FULL), full + 4);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, TG_FLOW_PENDING);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.consumed_total, TG_FLOW_PENDING);

	/* every one answered (tg_skmsg clears the kinds as it takes them):
	 * the next request takes a slot, and is charged now */
	flow.head = TG_FLOW_PENDING;
	flow.beyond_head = 4;
	flow.beyond_uncharged = 0;
	flow.beyond_headreq = 0;
	assert_int_equal(bpf_map_update_elem(f->flows_fd, &key, &flow, BPF_EXIST), 0);
	seq = send_one_on_conn(f, &r, "GET", "/v1/orders/1", h, sport, seq);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, TG_FLOW_PENDING + 1);
	assert_int_equal(flow.beyond_tail, 4);
	assert_int_equal(flow.pending[TG_FLOW_PENDING % TG_FLOW_PENDING].seg_end, seq);
	assert_int_equal(stat_get(f, TG_S_PENDING_FULL), full + 4);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, TG_FLOW_PENDING + 1);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.consumed_total, TG_FLOW_PENDING + 1);
}

/* --- tg_xdp's per-CPU key cache (tg_keycache, tg_gen) ------------------- */

/* Keep the test on the CPU it runs on: a test run runs the program on the
 * caller's CPU, and the cache is that CPU's. */
static void stay_on_this_cpu(void)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	assert_true(cpu >= 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
}

static void any_cpu(void)
{
	cpu_set_t all;

	CPU_ZERO(&all);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
}

/* What every writer of tg_keys, tg_plans and tg_secrets does after a change
 * (bpfload_config_changed() in the agent). */
static void gen_bump(struct fixture *f)
{
	int fd = bpf_map__fd(f->skel->maps.tg_gen);
	__u32 zero = 0;
	__u64 gen;

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &gen), 0);
	gen++;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &gen, BPF_ANY), 0);
}

static void key_put(struct fixture *f, const char *key, const struct tg_key *value)
{
	struct tg_key_digest d;

	key_digest(SECRET_V1, key, &d);
	assert_int_equal(bpf_map_update_elem(f->keys_fd, &d, value, BPF_ANY), 0);
}

/*
 * A change of a cached key, its plan or its secret counts once tg_gen does:
 * until then this CPU admits the key from its cache (which is why every
 * writer counts its changes), from then on the change holds, on a new
 * connection as on the kept-alive one.
 */
static void test_key_cache_follows_generation(void **state)
{
	struct fixture *f = *state;
	struct tg_key revoked = { 1, C_ACTIVE, PLAN_ORDERS, 0 };
	struct tg_key active = { 1, C_ACTIVE, PLAN_ORDERS, TG_KEY_ACTIVE };
	struct tg_plan archive_only = fixture_plans[0].value;
	struct tg_secret retired = { .valid = 0 };
	__u32 plan_id = PLAN_ORDERS, v1 = 1;
	struct req r;
	char h[128];

	assert_int_equal(fixture_plans[0].id, PLAN_ORDERS);
	stay_on_this_cpu();
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/1", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/1");

	key_put(f, KEY_ACTIVE, &revoked);
	req_init(f, &r, false, "GET", "/v1/orders/2", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/2");
	gen_bump(f);
	req_init(f, &r, false, "GET", "/v1/orders/3", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);

	/* active again: cached again */
	key_put(f, KEY_ACTIVE, &active);
	gen_bump(f);
	req_init(f, &r, false, "GET", "/v1/orders/4", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/4");

	/* its plan now covers another API */
	archive_only.api_id = API_ARCHIVE;
	assert_int_equal(bpf_map_update_elem(f->plans_fd, &plan_id, &archive_only, BPF_ANY), 0);
	gen_bump(f);
	req_init(f, &r, false, "GET", "/v1/orders/5", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);
	assert_int_equal(bpf_map_update_elem(f->plans_fd, &plan_id, &fixture_plans[0].value, BPF_ANY),
			 0);
	gen_bump(f);
	req_init(f, &r, false, "GET", "/v1/orders/6", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/6");

	/* its secret version retired */
	assert_int_equal(bpf_map_update_elem(f->secrets_fd, &v1, &retired, BPF_ANY), 0);
	gen_bump(f);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	any_cpu();
}

/* The hash tg_xdp picks a key's cache set by (tg_keycache_set(): the set
 * is its first slot, the hash less its low bit), with the fixture's
 * tg_keycache_bits (the object's default). */
static unsigned keycache_hash(const struct fixture *f, const char *key)
{
	__u64 w1, w3;

	memcpy(&w1, key + 8, 8);
	memcpy(&w3, key + 24, 8);
	return (unsigned)(((w1 ^ w3) * 0x9e3779b97f4a7c15ULL) >> (64 - f->skel->rodata->tg_keycache_bits));
}

/* Another key (in @other, a copy of KEY_ANY) of @key's cache set, put into
 * tg_keys as consumer C_COLLIDE's. Its hash is @key's to the last bit, so
 * a cache of one way a set would give both the same slot. */
static void key_of_same_set(struct fixture *f, const char *key, char *other)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	struct tg_key collide = { 7, C_COLLIDE, PLAN_ANY, TG_KEY_ACTIVE };
	unsigned tries = 0;

	/* vary two of its random bytes */
	do {
		other[8] = digits[tries % 62];
		other[9] = digits[(tries / 62) % 62];
		tries++;
	} while (keycache_hash(f, other) != keycache_hash(f, key) && tries < 62 * 62);
	assert_int_equal(keycache_hash(f, other), keycache_hash(f, key));
	key_put(f, other, &collide);
}

/* KEY_ACTIVE's request, then @other's (key_of_same_set()), @rounds times:
 * each admitted and charged to its own key's consumer. */
static void admit_turn_about(struct fixture *f, const char *other, int rounds)
{
	char h[128], path[32];
	struct req r;

	for (int i = 0; i < rounds; i++) {
		snprintf(path, sizeof(path), "/v1/orders/%d", i);
		header_key(h, sizeof(h), KEY_ACTIVE);
		req_init(f, &r, false, "GET", path, h);
		assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
				path);
		header_key(h, sizeof(h), other);
		req_init(f, &r, false, "GET", path, h);
		assert_admitted(f, &r, C_COLLIDE, PLAN_ANY, 7, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
				path);
	}
}

/* Two keys of one cache set: each request is charged to its own key's
 * consumer. */
static void test_key_cache_shared_slot(void **state)
{
	struct fixture *f = *state;
	char other[] = KEY_ANY;

	key_of_same_set(f, KEY_ACTIVE, other);
	stay_on_this_cpu();
	admit_turn_about(f, other, 3);
	any_cpu();
}

/*
 * Two keys of one set both stay cached, each in a way of its own: with
 * their tg_keys entries revoked behind the cache's back (no tg_gen change),
 * both are still admitted, turn about, until tg_gen counts the change. A
 * cache of one way a set would keep only the last.
 */
static void test_key_cache_two_ways(void **state)
{
	struct fixture *f = *state;
	struct tg_key revoked = { 1, C_ACTIVE, PLAN_ORDERS, 0 };
	struct tg_key revoked_other = { 7, C_COLLIDE, PLAN_ANY, 0 };
	char other[] = KEY_ANY, h[128];
	struct req r;

	key_of_same_set(f, KEY_ACTIVE, other);
	stay_on_this_cpu();
	gen_bump(f); /* every way free: the first key fills the first */
	admit_turn_about(f, other, 1);
	key_put(f, KEY_ACTIVE, &revoked);
	key_put(f, other, &revoked_other);
	admit_turn_about(f, other, 3); /* from the cache */
	gen_bump(f);
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/c", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
	header_key(h, sizeof(h), other);
	req_init(f, &r, false, "GET", "/v1/orders/d", h);
	assert_refused(f, &r, C_COLLIDE, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
	any_cpu();
}

static void test_retransmission_not_charged(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b0, b1;
	struct tg_counters c0, c1;
	struct tg_flow flow;
	struct xdp_run run;
	char h[128];
	__u64 retrans;

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "POST", "/v1/orders", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_POST,
			"/v1/orders");
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b0));
	c0 = counters_get(f, C_ACTIVE, API_ORDERS);
	retrans = stat_get(f, TG_S_RETRANSMITS);

	/* the same segment again, as TCP retransmits it */
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_RETRANSMITS), retrans + 1);
	c1 = counters_get(f, C_ACTIVE, API_ORDERS);
	assert_int_equal(c1.requests, c0.requests);
	assert_int_equal(c1.bytes_in, c0.bytes_in);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b1));
	assert_int_equal(b1.consumed_total, b0.consumed_total);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail - flow.head, 1);
	assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
}

static void test_retransmission_across_seq_wrap(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	struct xdp_run run;
	char h[128];
	__u64 retrans;

	/* the request's sequence space wraps past 2^32 */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "POST", "/v1/orders", h);
	r.spec.seq = 0xffffffff - 20;
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_POST,
			"/v1/orders");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_true(flow.next_seq < 0x1000);

	retrans = stat_get(f, TG_S_RETRANSMITS);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_RETRANSMITS), retrans + 1);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 1);
}

static void test_body_in_second_segment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	char h[256];
	__u64 non_request = stat_get(f, TG_S_NON_REQUEST);
	int n;

	snprintf(h, sizeof(h), "X-API-Key: %s\r\nContent-Length: 24\r\n", KEY_ACTIVE);
	req_init(f, &r, false, "POST", "/v1/orders", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_POST,
			"/v1/orders");

	/* the body follows as new data: passed, not a request, not charged */
	r.spec.seq += (__u32)r.len;
	n = snprintf(r.payload, sizeof(r.payload), "{\"item\": 7, \"qty\": 300}");
	r.len = (size_t)n;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_NON_REQUEST), non_request + 1);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 1);
	assert_int_equal(requests_total(f), 1);
}

/* A request line with a key no consumer has: a segment that begins with it
 * and is taken for a request is refused (XDP_TX, 401). */
#define LOOKALIKE "GET /v1/orders/9 HTTP/1.1\r\nX-API-Key: " KEY_UNKNOWN "\r\n\r\n"

/* Run @text as the segment of @r's connection at sequence @seq and expect
 * it passed untouched as body (not a request, nothing charged or refused). */
static void assert_body_passed(struct fixture *f, struct req *r, __u32 seq, const char *text)
{
	__u64 non_request = stat_get(f, TG_S_NON_REQUEST), retrans = stat_get(f, TG_S_RETRANSMITS);
	__u64 requests = requests_total(f), refused[TG_V_COUNT];
	struct xdp_run run;

	for (int v = 1; v < TG_V_COUNT; v++)
		refused[v] = refused_total(f, v);
	req_segment(r, seq, text);
	run_req(f, r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_NON_REQUEST), non_request + 1);
	assert_int_equal(stat_get(f, TG_S_RETRANSMITS), retrans);
	assert_int_equal(requests_total(f), requests);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(refused_total(f, v), refused[v]);
}

/* A kept-alive GET on @conn's connection at sequence @seq: admitted and
 * charged. */
static void assert_next_admitted(struct fixture *f, const struct req *conn, __u32 seq)
{
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/8", h);
	r.spec.sport = conn->spec.sport;
	r.spec.seq = seq;
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/8");
}

/*
 * A body whose segments begin like requests (an upload of HTTP text, say):
 * its head gave its length, so every segment before its end is body, and
 * the first at its end is a request again. Near the top of the sequence
 * space too, where the body's end wraps.
 */
static void test_body_that_begins_like_a_request(void **state)
{
	static const __u32 starts[] = { 1000, 0xfffffc00U };
	struct fixture *f = *state;
	struct req r, first;
	struct xdp_run run;
	char h[256];
	__u32 body_at, end;

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		snprintf(h, sizeof(h), "X-API-Key: %s\r\nContent-Length: 3000\r\n", KEY_ACTIVE);
		req_init(f, &r, false, "POST", "/v1/orders", h);
		r.spec.seq = starts[i];
		flow_with_socket(f, &r);
		assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS,
				TG_M_POST, "/v1/orders");
		first = r;
		body_at = r.spec.seq + (__u32)r.len;
		end = body_at + 3000;

		assert_body_passed(f, &r, body_at, LOOKALIKE);
		assert_body_passed(f, &r, body_at + 1448, LOOKALIKE);
		assert_body_passed(f, &r, end - 1, "G");

		/* the request's own segment again: a retransmission, as before */
		run_req(f, &first, &run);
		assert_pass_untouched(&run);
		assert_int_equal(requests_total(f), 2 * i + 1);

		/* at the body's end a request starts: checked and charged */
		assert_next_admitted(f, &first, end);
		assert_int_equal(requests_total(f), 2 * i + 2);
	}
}

/* Pretend tg_skmsg answered every admitted request of @r's flow. */
static void flow_answer_all(struct fixture *f, const struct req *r)
{
	struct tg_flow_key key;
	struct tg_flow flow;

	assert_true(flow_get(f, &r->spec, &flow));
	flow.head = flow.tail;
	flow_key_of(&r->spec, &key);
	assert_int_equal(bpf_map_update_elem(f->flows_fd, &key, &flow, BPF_EXIST), 0);
}

/* Heads whose request's end XDP cannot know: its body's length unknown
 * (chunked framing XDP does not follow, a bad or repeated Content-Length,
 * 4 GiB), or the head itself going on beyond the bytes XDP reads (the
 * last). */
#define TE_UNFOLLOWED "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
static const char *const UNKNOWN_END_HEADS[] = {
	TE_UNFOLLOWED,
	"Transfer-Encoding: gzip, chunked\r\nContent-Length: 10\r\n",
	"Content-Length: 12x\r\n",
	"Content-Length: 5\r\nContent-Length: 5\r\n",
	"Content-Length: 4294967296\r\n",
	"Cookie: ",
};
#define N_UNKNOWN_END_HEADS (sizeof(UNKNOWN_END_HEADS) / sizeof(UNKNOWN_END_HEADS[0]))

/* Header lines for a request with UNKNOWN_END_HEADS[@i] (and @key's
 * X-API-Key line first, where @key is not NULL) into @h. */
static void unknown_end_head(char h[1500], const char *key, size_t i)
{
	int n = key ? snprintf(h, 1500, "X-API-Key: %s\r\n%s", key, UNKNOWN_END_HEADS[i]) :
		      snprintf(h, 1500, "%s", UNKNOWN_END_HEADS[i]);

	if (i == N_UNKNOWN_END_HEADS - 1) { /* a cookie past the 1024 bytes read */
		memset(h + n, 'a', 1100);
		h[n + 1100] = '\0';
	}
}

/*
 * A body whose end XDP cannot know (chunked, or a head longer than it reads):
 * segments that begin like requests are body until the request is answered
 * (a client sends its next request after the answer; one that pipelines
 * behind such a body has those requests charged as unattributed responses).
 * Only on connections whose answers tg_skmsg sees: on others a request is
 * "answered" only when the flow's timer gives it up.
 */
static void test_open_body_until_answered(void **state)
{
	struct fixture *f = *state;
	struct req r, first;
	struct xdp_run run;
	struct tg_flow flow;
	char h[1500];
	__u32 next;

	for (size_t i = 0; i < N_UNKNOWN_END_HEADS; i++) {
		unknown_end_head(h, KEY_ACTIVE, i);
		req_init(f, &r, false, "POST", "/v1/orders", h);
		flow_with_socket(f, &r);
		run_req(f, &r, &run);
		assert_pass_untouched(&run);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.tail, 1);
		assert_true(flow.flags & TG_FLOW_BODY_OPEN);
		assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
		first = r;
		next = r.spec.seq + (__u32)r.len;

		assert_body_passed(f, &r, next, LOOKALIKE);
		next += (__u32)r.len;
		assert_body_passed(f, &r, next, "\r\n" LOOKALIKE);
		next += (__u32)r.len;

		/* answered: the next segment that begins like a request is one */
		flow_answer_all(f, &first);
		assert_next_admitted(f, &first, next);
		assert_int_equal(requests_total(f), 2 * i + 2);
	}

	/* a connection outside agent.cgroup (no socket in the sockhash): its
	 * segments that begin like requests are requests */
	unknown_end_head(h, KEY_ACTIVE, 0);
	req_init(f, &r, false, "POST", "/v1/orders", h);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	req_segment(&r, r.spec.seq + (__u32)r.len, LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
}

/* A public route is not charged, but its body is no request either: with a
 * flow (tg_sockops makes one at the handshake), a segment inside the body
 * it declared is passed as body, not refused. */
static void test_public_route_body(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	__u32 body_at;

	req_init(f, &r, false, "POST", "/health/report", "Content-Length: 5000\r\n");
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	body_at = r.spec.seq + (__u32)r.len;
	assert_body_passed(f, &r, body_at + 100, LOOKALIKE);

	/* after its end: a request again, and this one is refused */
	req_segment(&r, body_at + 5000, LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
}

/*
 * A request smuggled behind a public one: the client ends a public route's
 * chunked body and sends a request of its own, before the answer, where XDP
 * cannot see it: in the segment of the body's end, or in one that begins
 * with it. So a public route's request whose end XDP cannot find is not
 * let through as public: without a key it is refused (missing_key); with
 * one it is admitted and charged, and its body is open until answered, as
 * any admitted request's (its consumer answers for what follows it). A
 * public request whose end is known passes uncharged (test_public_route_body).
 */
static void test_public_route_unknown_end_needs_a_key(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;
	char h[1500];
	__u64 charged;

	for (size_t i = 0; i < N_UNKNOWN_END_HEADS; i++) {
		unknown_end_head(h, NULL, i);
		req_init(f, &r, false, "POST", "/health/upload", h);
		flow_with_socket(f, &r);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}

	/* the same with a key: admitted, charged, its body open until answered */
	unknown_end_head(h, KEY_ACTIVE, 0);
	req_init(f, &r, false, "POST", "/health/upload", h);
	flow_with_socket(f, &r);
	charged = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, charged + 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.consumer_id, C_ACTIVE);
	assert_int_equal(flow.tail, 1);
	assert_int_equal(flow.pending[0].route_id, ROUTE_HEALTH);
	assert_int_equal(flow.pending[0].flags & TG_RQ_UNCHARGED, 0);
	assert_true(flow.flags & TG_FLOW_BODY_OPEN);
	assert_body_passed(f, &r, r.spec.seq + (__u32)r.len, "0\r\n\r\n" LOOKALIKE);

	/* a public request whose length is known, behind nothing: still public */
	req_init(f, &r, false, "POST", "/health/upload", "Content-Length: 5\r\n");
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
}

/*
 * A body of unknown length (chunked framing XDP does not follow) let
 * through unadmitted (a `pass` action; here
 * missing_key's) is not followed: no admitted request's consumer answers
 * for what follows it, so XDP does not take a segment that begins like a
 * request for body: the request is read, and one with an unknown key is
 * dropped (unknown_key's action). On a connection whose answers tg_skmsg
 * sees too.
 */
static void test_passed_chunked_body_is_not_followed(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;

	req_init(f, &r, false, "POST", "/v1/orders", TE_UNFOLLOWED);
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_false(flow.flags & (TG_FLOW_BODY_OPEN | TG_FLOW_BODY_PASSED | TG_FLOW_CHUNKED));

	req_segment(&r, r.spec.seq + (__u32)r.len, "0\r\n\r\n"); /* the body's end */
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	req_segment(&r, r.spec.seq + (__u32)r.len, LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_DROP, 0, NULL);
}

/* A POST of @path whose head (with @headers) and chunked @body share a
 * segment of a new connection, whose flow is sure of its framing (the
 * first request on it), and @tail behind them. */
static void chunked_req(struct fixture *f, struct req *r, const char *path, const char *headers,
			const char *body, const char *tail)
{
	size_t nb = strlen(body), nt = strlen(tail);

	req_init(f, r, false, "POST", path, headers);
	assert_true(r->len + nb + nt <= sizeof(r->payload));
	memcpy(r->payload + r->len, body, nb);
	memcpy(r->payload + r->len + nb, tail, nt);
	r->len += nb + nt;
	flow_with_socket(f, r);
}

/* chunked_req(), and that segment passes untouched; returns the sequence
 * after it. */
static __u32 chunked_passes(struct fixture *f, struct req *r, const char *path, const char *headers,
			    const char *body, const char *tail)
{
	struct xdp_run run;

	chunked_req(f, r, path, headers, body, tail);
	run_req(f, r, &run);
	assert_pass_untouched(&run);
	return r->spec.seq + (__u32)r->len;
}

/* Chunked bodies XDP reads to their end in their segment: one chunk,
 * several, sizes in either case, extensions, LF line ends in the size lines
 * and after the last chunk */
static const char *const WHOLE_CHUNKED_BODIES[] = {
	"5\r\nhello\r\n0\r\n\r\n",
	"0\r\n\r\n",
	"3\r\nabc\r\nA\r\n0123456789\r\nb\r\nGET / HTTP/\r\n0\r\n\r\n",
	"5;name=value\r\nhello\r\n0;last\r\n\r\n",
	"5\nhello\r\n0\n\n",
};

/*
 * A chunked body whole in its request's segment frames the connection like a
 * Content-Length: a public route's POST with one needs no key and takes an
 * uncharged slot, the flow still sure where the next request starts (just
 * past the body, not open until answered); the segment sent again passes
 * (the same framing), and a segment at the body's end is a request.
 */
static void test_chunked_body_read_to_its_end(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;
	__u64 charged = requests_total(f);

	for (size_t i = 0; i < sizeof(WHOLE_CHUNKED_BODIES) / sizeof(WHOLE_CHUNKED_BODIES[0]); i++) {
		const char *te = i == 1 ? "transfer-encoding:  gzip, chunked \r\n" :
					  "Transfer-Encoding: chunked\r\n";

		chunked_req(f, &r, "/health/upload", te, WHOLE_CHUNKED_BODIES[i], "");
		run_req(f, &r, &run);
		if (run.retval != XDP_PASS)
			fail_msg("body %zu: refused (%u)", i, run.retval);
		assert_pass_untouched(&run);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.tail, 1);
		assert_true(flow.pending[0].flags & TG_RQ_UNCHARGED);
		if (flow.flags & (TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN))
			fail_msg("body %zu: flow flags %#x", i, flow.flags);
		assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
		/* sent again: decided again, framed the same, passes */
		run_req(f, &r, &run);
		assert_pass_untouched(&run);
		/* the next segment is a request: this one's key is unknown */
		req_segment(&r, r.spec.seq + (__u32)r.len, LOOKALIKE);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	}
	assert_int_equal(requests_total(f), charged);
}

/*
 * What a client sends behind a chunked body's end, in the same segment, is
 * the server's next request: XDP decides it. A keyless public POST with a
 * request of an unknown key behind it is refused as a whole (here
 * unknown_key's action drops it: nothing reaches the server; before, the
 * public POST was refused for want of a key, as XDP could not see the
 * request behind it); with admitted ones
 * behind it, each is charged in order; with a key, the POST is charged and
 * the request behind it too, as a request of its own and not as an
 * unattributed answer.
 */
static void test_request_behind_chunked_body_is_decided(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;
	char h[256], get[256];
	__u64 charged, unknown;

	chunked_req(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n",
		    LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_DROP, 0, NULL);

	snprintf(get, sizeof(get), "GET /v1/orders/7 HTTP/1.1\r\nX-API-Key: %s\r\n\r\n", KEY_ACTIVE);
	charged = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	chunked_passes(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n",
		       "5\r\nhello\r\n0\r\n\r\n", get);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, charged + 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_true(flow.pending[0].flags & TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[1].flags & TG_RQ_UNCHARGED, 0);
	assert_int_equal(flow.pending[1].method, TG_M_GET);
	assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
	assert_false(flow.flags & (TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN));

	/* a consumer's chunked POST, then its GET: two requests charged */
	snprintf(h, sizeof(h), "X-API-Key: %s\r\nTransfer-Encoding: chunked\r\n", KEY_ACTIVE);
	charged = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	chunked_passes(f, &r, "/v1/orders", h, "5\r\nhello\r\n0\r\n\r\n", get);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, charged + 2);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.pending[0].method, TG_M_POST);
	assert_false(flow.flags & (TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN));

	/* a `pass` action's chunked POST (missing_key's) is followed too:
	 * the request of an unknown key behind it is decided, dropped */
	unknown = refused_total(f, TG_V_UNKNOWN_KEY);
	chunked_req(f, &r, "/v1/orders", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n",
		    LOOKALIKE);
	run_req(f, &r, &run);
	assert_int_equal(run.retval, XDP_DROP);
	assert_int_equal(refused_total(f, TG_V_UNKNOWN_KEY), unknown + 1);
}

/*
 * Chunked framing XDP does not follow, so the request's end is not known,
 * as before: a keyless public POST with it is refused (missing_key). Bytes
 * other than CRLF after a chunk's data (a bare LF, which some servers take);
 * a trailer field; a size that is no hex or too large; and heads whose
 * framing a server might read otherwise: two Transfer-Encoding lines, one
 * with a Content-Length, a last coding other than chunked, a header name
 * that only begins like Transfer-Encoding; more chunks than XDP reads.
 */
static void test_chunked_body_not_followed(void **state)
{
	static const struct {
		const char *te, *body;
	} cases[] = {
		{ "Transfer-Encoding: chunked\r\n", "5\r\nhelloXY0\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\n", "5\r\nhello\n0\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\n", "0\r\nX-Checksum: 1\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\n", "zz\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\n", "123456789\r\nx\r\n0\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" },
		{ "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" },
		{ "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n" },
		{ "Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n" },
		{ "Transfer-Encodings: chunked\r\n", "0\r\n\r\n" },
	};
	struct fixture *f = *state;
	char body[512];
	struct req r;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		chunked_req(f, &r, "/health/upload", cases[i].te, cases[i].body, "");
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}

	/* a window a chunk, TG_CHUNK_STEPS (32) in all: 31 chunks and the last
	 * are read to the end, one more chunk is not */
	for (int i = 0; i < 31; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "1\r\n%c\r\n", 'a' + i % 26);
	snprintf(body + n, sizeof(body) - n, "0\r\n\r\n");
	chunked_passes(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n", body, "");
	snprintf(body + n, sizeof(body) - n, "1\r\nz\r\n0\r\n\r\n");
	chunked_req(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n", body, "");
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

/* The segment of @r's connection at @seq carrying @text passes untouched,
 * nothing charged or refused; returns the sequence after it. */
static __u32 chunk_seg_passes(struct fixture *f, struct req *r, __u32 seq, const char *text)
{
	__u64 requests = requests_total(f), refused[TG_V_COUNT];
	struct xdp_run run;

	for (int v = 1; v < TG_V_COUNT; v++)
		refused[v] = refused_total(f, v);
	req_segment(r, seq, text);
	run_req(f, r, &run);
	if (run.retval != XDP_PASS)
		fail_msg("segment at +%u (%.12s...): action %u", seq - r->spec.seq, text, run.retval);
	assert_pass_untouched(&run);
	assert_int_equal(requests_total(f), requests);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(refused_total(f, v), refused[v]);
	return seq + (__u32)strlen(text);
}

/*
 * A chunked body that goes on past its request's segment is followed
 * segment by segment, where XDP is sure where the request began: a keyless
 * public POST passes; the framing stands where the data of a chunk ends (its
 * CRLF split over segments), or in a size line a segment cuts; data that
 * begins like a request is data; at the body's end the flow is sure where the
 * next request starts again, and a request behind it in that segment is
 * decided (this one's key is unknown: refused).
 */
static void test_chunked_body_followed_across_segments(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;
	char data[400], last[256];
	__u32 seq, head;

	chunked_req(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n", "5\r\nhel", "");
	head = (__u32)r.len - 6;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_true(flow.flags & TG_FLOW_CHUNKED);
	assert_true(flow.flags & TG_FLOW_CHUNK_SEEN);
	assert_true(flow.flags & TG_FLOW_CHUNK_FREE);
	assert_false(flow.flags & (TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN));
	assert_int_equal(flow.tail, 1);
	assert_true(flow.pending[0].flags & TG_RQ_UNCHARGED);
	/* the framing stands past the chunk's 5 bytes, before its CRLF */
	assert_int_equal(flow.next_seq, r.spec.seq + head + 3 + 5);
	assert_int_equal(flow.chunk_state, TG_CHUNK_CRLF);
	assert_int_equal(flow.chunk_end, r.spec.seq + head + 3);

	seq = r.spec.seq + (__u32)r.len;
	seq = chunk_seg_passes(f, &r, seq, "lo\r\n1"); /* a size line cut */
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.next_seq, seq);
	assert_int_equal(flow.chunk_state, TG_CHUNK_DIGITS | 1);
	/* "10": 16 bytes of data, its CR here, its LF in the next */
	seq = chunk_seg_passes(f, &r, seq, "0\r\n0123456789abcdef\r");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.chunk_state, TG_CHUNK_CRLF_LF);
	/* a chunk of 0x180 bytes whose data begins like a request */
	seq = chunk_seg_passes(f, &r, seq, "\n180\r\n");
	memset(data, 'd', sizeof(data));
	memcpy(data, LOOKALIKE, strlen(LOOKALIKE));
	data[0x180 - 10] = '\0';
	seq = chunk_seg_passes(f, &r, seq, data);
	seq = chunk_seg_passes(f, &r, seq, "dddddddddd");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_true(flow.flags & TG_FLOW_CHUNKED);
	assert_int_equal(flow.next_seq, seq);
	assert_int_equal(flow.chunk_state, TG_CHUNK_CRLF);

	/* the end, and a request behind it */
	snprintf(last, sizeof(last), "\r\n0\r\n\r\n%s", LOOKALIKE);
	req_segment(&r, seq, last);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_false(flow.flags & TG_FLOW_CHUNKED);
	assert_int_equal(flow.next_seq, seq + 7);
	assert_int_equal(flow.chunk_end, seq + 7);
}

/*
 * A consumer's chunked POST followed to its end: its body is not open until
 * answered, and the GET behind it is charged as a request of its own, in
 * order; a keyless GET there would be refused.
 */
static void test_chunked_body_followed_admitted(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_flow flow;
	char h[256], last[256];
	__u64 charged = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	__u32 seq;

	snprintf(h, sizeof(h), "X-API-Key: %s\r\nTransfer-Encoding: chunked\r\n", KEY_ACTIVE);
	chunked_passes(f, &r, "/v1/orders", h, "", "");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_FREE | TG_FLOW_BODY_OPEN),
			 TG_FLOW_CHUNKED);
	seq = r.spec.seq + (__u32)r.len;
	assert_int_equal(flow.next_seq, seq);
	seq = chunk_seg_passes(f, &r, seq, "5\r\nhello\r\n");
	snprintf(last, sizeof(last), "0\r\n\r\nGET /v1/orders/8 HTTP/1.1\r\nX-API-Key: %s\r\n\r\n",
		 KEY_ACTIVE);
	req_segment(&r, seq, last);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, charged + 2);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.pending[1].method, TG_M_GET);
	assert_int_equal(flow.next_seq, seq + (__u32)strlen(last));
	assert_false(flow.flags & (TG_FLOW_CHUNKED | TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN));
}

/*
 * Where a followed body's framing goes where XDP does not follow it (here
 * trailer fields after the last chunk): an admitted request's body is open
 * until answered, as any of unknown length; a public request's segment is
 * refused (missing_key), as what follows could not be seen.
 */
static void test_chunked_body_followed_then_lost(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	char h[256];
	__u32 seq;

	snprintf(h, sizeof(h), "X-API-Key: %s\r\nTransfer-Encoding: chunked\r\n", KEY_ACTIVE);
	chunked_passes(f, &r, "/v1/orders", h, "5\r\nhello\r\n", "");
	seq = chunk_seg_passes(f, &r, r.spec.seq + (__u32)r.len, "0\r\nX-Checksum: 1\r\n\r\n");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_false(flow.flags & TG_FLOW_CHUNKED);
	assert_true(flow.flags & TG_FLOW_BODY_OPEN);
	assert_true(flow.flags & TG_FLOW_UNSURE);
	assert_int_equal(flow.next_seq, seq);
	/* a segment that begins like a request is body until answered */
	assert_body_passed(f, &r, seq, LOOKALIKE);

	chunked_passes(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n", "");
	req_segment(&r, r.spec.seq + (__u32)r.len, "0\r\nX-Checksum: 1\r\n\r\n");
	assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

/*
 * A segment past where a followed body's framing stands (one before it lost
 * or reordered): of a body let through unadmitted, it is dropped, counted
 * in chunk_gaps_dropped; once the missing one comes, the one after is
 * followed again. Of an admitted request's body, it passes, and the body is
 * open until answered: the missing segment passes, and one behind that
 * begins like a request is body. A segment at the body's
 * start sent again, whose bytes the server's TCP has not taken (here there
 * is no socket to ask), is refused: XDP read its framing in what it saw
 * first, which TCP may have dropped, and these bytes may frame the body
 * otherwise. In a consumer's body still followed it passes instead, and
 * the body is open until answered; once XDP read that body's end and
 * decided the request behind it, it is refused.
 */
static void test_chunked_body_gap_and_resend(void **state)
{
	struct fixture *f = *state;
	struct tg_flow flow;
	struct req r;
	struct xdp_run run;
	char h[256], get[256];
	__u64 gaps = stat_get(f, TG_S_CHUNK_GAPS);
	__u32 seq;

	seq = chunked_passes(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n",
			     "5\r\nhello\r\n", "");
	req_segment(&r, seq + 10, "3\r\nabc\r\n");
	run_req(f, &r, &run);
	assert_int_equal(run.retval, XDP_DROP);
	assert_int_equal(stat_get(f, TG_S_CHUNK_GAPS), gaps + 1);
	seq = chunk_seg_passes(f, &r, seq, "a\r\n0123456789\r\n"); /* the missing one */
	seq = chunk_seg_passes(f, &r, seq, "3\r\nabc\r\n");

	/* the same gap in a consumer's body */
	snprintf(h, sizeof(h), "X-API-Key: %s\r\nTransfer-Encoding: chunked\r\n", KEY_ACTIVE);
	seq = chunked_passes(f, &r, "/v1/orders", h, "5\r\nhello\r\n", "");
	chunk_seg_passes(f, &r, seq + 15, "3\r\nabc\r\n");
	assert_int_equal(stat_get(f, TG_S_CHUNK_GAPS), gaps + 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_false(flow.flags & TG_FLOW_CHUNKED);
	assert_true(flow.flags & TG_FLOW_BODY_OPEN);
	assert_true(flow.flags & TG_FLOW_UNSURE);
	assert_int_equal(flow.next_seq, seq + 15 + 8);
	chunk_seg_passes(f, &r, seq, "a\r\n0123456789\r\n");
	assert_body_passed(f, &r, seq + 23, LOOKALIKE);

	/* a new connection; its second chunk again, other bytes in its place */
	seq = chunked_passes(f, &r, "/health/upload", "Transfer-Encoding: chunked\r\n",
			     "5\r\nhello\r\n", "");
	seq = chunk_seg_passes(f, &r, seq, "5\r\nworld\r\n");
	req_segment(&r, seq - 10, "0\r\n\r\nGET /v1/orders/1 HTTP/1.1\r\n\r\n");
	assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);

	/* the same in a consumer's body, followed still: it passes, as does
	 * the next sent again, and the body is open until answered */
	seq = chunked_passes(f, &r, "/v1/orders", h, "5\r\nhello\r\n", "");
	seq = chunk_seg_passes(f, &r, seq, "5\r\nworld\r\n");
	chunk_seg_passes(f, &r, seq - 10, "0\r\n\r\nGET /v1/orders/1 HTTP/1.1\r\n\r\n");
	assert_true(flow_get(f, &r.spec, &flow));
	assert_false(flow.flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN));
	assert_true(flow.flags & TG_FLOW_BODY_OPEN);
	assert_true(flow.flags & TG_FLOW_UNSURE);
	chunk_seg_passes(f, &r, seq - 20, "5\r\nhello\r\n");
	assert_body_passed(f, &r, seq + 30, LOOKALIKE);

	/* once its end was read, and the GET behind it decided: refused */
	seq = chunked_passes(f, &r, "/v1/orders", h, "5\r\nhello\r\n", "");
	snprintf(get, sizeof(get), "0\r\n\r\nGET /v1/orders/8 HTTP/1.1\r\nX-API-Key: %s\r\n\r\n",
		 KEY_ACTIVE);
	req_segment(&r, seq, get);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	req_segment(&r, seq - 10, "5\r\nhello\r\n0\r\n\r\nGET /v1/orders/1 HTTP/1.1\r\n\r\n");
	assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

/*
 * A new connection on the tuple of one whose flow is still there (a
 * connection outside agent.cgroup is never closed): its first request, at a
 * sequence below the old connection's, is a request, not a retransmission;
 * and the old connection's open body is gone with it.
 */
static void test_new_connection_on_old_tuple(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	struct xdp_run run;
	struct pkt_spec syn;
	char h[128];

	snprintf(h, sizeof(h), "X-API-Key: %s\r\n" TE_UNFOLLOWED, KEY_ACTIVE);
	req_init(f, &r, false, "POST", "/v1/orders", h);
	r.spec.seq = 3000000000U;
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_true(flow.flags & TG_FLOW_BODY_OPEN);

	/* the new connection's SYN, then its first request */
	syn = r.spec;
	syn.seq = 1000000000U;
	syn.tcp_flags = PKT_SYN;
	syn.payload = NULL;
	syn.payload_len = 0;
	run_spec(f, &syn, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.next_seq, syn.seq + 1);
	assert_false(flow.flags & TG_FLOW_BODY_OPEN);

	assert_next_admitted(f, &r, syn.seq + 1);
	assert_int_equal(requests_total(f), 2);
}

/*
 * Where XDP cannot be sure a request starts where it reads one, it skips no
 * body by the length that head gives: that head could be a body's bytes,
 * claiming any length, and skipping by it would let the requests after it
 * through unread. Four ways to lose that certainty, each followed by a
 * segment inside the claimed body that begins like a request: it is read as
 * one (refused), not skipped.
 */
static void test_unsure_framing_skips_nothing(void **state)
{
	static const char *const cases[] = {
		"gap",	    /* the request starts beyond where the last one ended */
		"trailing", /* bytes that are no request follow it in its segment */
		"twice",    /* two Content-Length lines */
		"chunked",  /* an earlier body of unknown length, answered */
	};
	struct fixture *f = *state;
	struct req r;
	struct tg_flow flow;
	struct xdp_run run;
	char h[256];
	__u32 end;
	__u16 sport;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = cases[i];

		snprintf(h, sizeof(h), "X-API-Key: %s\r\nContent-Length: %s\r\n%s", KEY_ACTIVE,
			 !strcmp(c, "twice")	  ? "5\r\nContent-Length: 1000000" :
			 !strcmp(c, "trailing") ? "2" :
						  "1000000",
			 strcmp(c, "chunked") ? "" : "Transfer-Encoding: chunked\r\n");
		req_init(f, &r, false, "POST", "/v1/orders", h);
		flow_with_socket(f, &r);
		if (!strcmp(c, "gap"))
			r.spec.seq += 100;
		if (!strcmp(c, "trailing")) {
			/* its body, then bytes the server cannot read either */
			const char *more = "ab" "zzzz is no request\r\n";

			memcpy(r.payload + r.len, more, strlen(more));
			r.len += strlen(more);
		}
		run_req(f, &r, &run);
		assert_pass_untouched(&run);
		assert_true(flow_get(f, &r.spec, &flow));
		if (!(flow.flags & TG_FLOW_UNSURE))
			fail_msg("%s: the flow is still sure", c);
		end = r.spec.seq + (__u32)r.len;
		assert_int_equal(flow.next_seq, end);
		sport = r.spec.sport;
		/* a body of unknown length is open until answered */
		if (!strcmp(c, "twice") || !strcmp(c, "chunked"))
			flow_answer_all(f, &r);
		if (!strcmp(c, "chunked")) {
			/* a request with a length after it: still not skipped by */
			snprintf(h, sizeof(h), "X-API-Key: %s\r\nContent-Length: 1000000\r\n",
				 KEY_ACTIVE);
			req_init(f, &r, false, "POST", "/v1/orders", h);
			r.spec.sport = sport;
			r.spec.seq = end;
			run_req(f, &r, &run);
			assert_pass_untouched(&run);
			assert_true(flow_get(f, &r.spec, &flow));
			assert_int_equal(flow.next_seq, end + (__u32)r.len);
			end += (__u32)r.len;
		}
		req_segment(&r, end, LOOKALIKE);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	}
}

/*
 * The attack the rule above stops: a chunked body XDP does not follow, let
 * through unadmitted (missing_key's `pass` action; not followed to its
 * answer) carries, at a
 * segment start, a public route's head claiming a 100 MB body. Skipped by,
 * the requests after it would pass unread; they are read, and one with an
 * unknown key is dropped (unknown_key's action).
 */
static void test_lookalike_cannot_open_a_window(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	const char *claim = "GET /health/x HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n";
	__u32 next;

	req_init(f, &r, false, "POST", "/v1/orders", TE_UNFOLLOWED);
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	next = r.spec.seq + (__u32)r.len;

	req_segment(&r, next, claim);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	next += (__u32)r.len;

	req_segment(&r, next + 7, LOOKALIKE); /* after the rest of the chunked body */
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_DROP, 0, NULL);
}

/* --- fixtures: key verdicts ---------------------------------------------- */

static void test_missing_key(void **state)
{
	static const char *const headers[] = {
		"",
		"Authorization: Basic dXNlcjpwYXNz\r\n",
		"X-API-Key-Old: " KEY_ACTIVE "\r\n",			    /* another header */
		"Referer: https://x.example/X-API-Key: " KEY_ACTIVE "\r\n", /* in a value */
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln\r\n",  /* not tg_ */
	};
	struct fixture *f = *state;
	struct req r;

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", headers[i]);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}

	/* a key in the query string is not a header */
	req_init(f, &r, false, "GET", "/v1/orders?X-API-Key:" KEY_ACTIVE, NULL);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

static void test_unknown_key(void **state)
{
	static const char *const headers[] = {
		"X-API-Key: " KEY_UNKNOWN "\r\n", /* well formed, no such digest */
		"X-API-Key: " KEY_V2 "\r\n",	  /* no secret for version 2 */
		"X-API-Key: hello-world\r\n",	  /* not a tollgate key */
		"X-API-Key: tg_x"
		"FixtureActiveKey0123456789abcdefghijklm\r\n", /* no version */
	};
	struct fixture *f = *state;
	struct req r;

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", headers[i]);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	}
}

static void test_negative_key(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_NEGATIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
}

static void test_revoked_key(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_REVOKED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
}

static void test_suspended(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_SUSPENDED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_SUSPENDED, API_ORDERS, TG_V_SUSPENDED, XDP_TX, 403, NULL);
}

static void test_forbidden_api(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	/* plan PLAN_ORDERS covers api 10 only */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_ACTIVE, API_USERS, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);
}

static void test_key_beyond_scan_window(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[TG_SCAN_MAX + 256], pad[TG_SCAN_MAX + 64];

	/* the X-API-Key line starts past byte 1024 */
	memset(pad, 'a', TG_SCAN_MAX);
	pad[TG_SCAN_MAX] = '\0';
	snprintf(h, sizeof(h), "X-Pad: %s\r\nX-API-Key: %s\r\n", pad, KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_true(strstr(r.payload, "X-API-Key") - r.payload > TG_SCAN_MAX);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

static void test_key_inside_scan_window(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[TG_SCAN_MAX + 256], pad[TG_SCAN_MAX + 64], line[128];
	size_t base, pad_len, end;

	/* the X-API-Key line (with its CRLF) ends 8 bytes before byte 1024 */
	req_init(f, &r, false, "GET", "/v1/orders/7", "");
	base = r.len - 2; /* before the blank line */
	header_key(line, sizeof(line), KEY_ACTIVE);
	pad_len = TG_SCAN_MAX - 8 - base - strlen("X-Pad: \r\n") - strlen(line);
	memset(pad, 'b', pad_len);
	pad[pad_len] = '\0';
	snprintf(h, sizeof(h), "X-Pad: %s\r\n%s", pad, line);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	end = (size_t)(strstr(r.payload, KEY_ACTIVE) - r.payload) + strlen(KEY_ACTIVE) + 2;
	assert_int_equal(end, TG_SCAN_MAX - 8);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
}

/* --- fixtures: routes ------------------------------------------------------ */

static void test_longest_prefix(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	/* /v1/orders/archive (api 11) is longer than /v1/orders (api 10) */
	header_key(h, sizeof(h), KEY_ANY);
	req_init(f, &r, false, "GET", "/v1/orders/archive/2019", h);
	assert_admitted(f, &r, C_ANY, PLAN_ANY, 2, API_ARCHIVE, ROUTE_ARCHIVE, TG_M_GET,
			"/v1/orders/archive/2019");

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/archive", h);
	assert_refused(f, &r, C_ACTIVE, API_ARCHIVE, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);

	/* at a '/' boundary only: /v1/orders/archived is /v1/orders */
	req_init(f, &r, false, "GET", "/v1/orders/archived", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/archived");
}

static void test_route_boundary(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	/* /v1/ordersX matches no route: api 0, which plan PLAN_ORDERS lacks */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/ordersX", h);
	assert_refused(f, &r, C_ACTIVE, 0, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);

	/* an any-API plan is admitted on it, with api 0 and no route */
	header_key(h, sizeof(h), KEY_ANY);
	req_init(f, &r, false, "GET", "/v1/ordersX/1", h);
	assert_admitted(f, &r, C_ANY, PLAN_ANY, 2, 0, 0, TG_M_GET, "/v1/ordersX/1");
}

static void test_public_route(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct tg_bucket b;
	struct tg_reject rej;
	char h[128];

	/* no key needed */
	req_init(f, &r, false, "GET", "/health", NULL);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_false(reject_get(f, &r.spec, &rej));

	/* a key is not checked, nothing is charged */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/health/live?verbose=1", h);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	assert_int_equal(requests_total(f), 0);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(refused_total(f, v), 0);
	assert_false(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b) && b.consumed_total != 0);
}

/*
 * A public route on a consumer's kept-alive connection: its answer comes in
 * turn with those of the admitted requests, so it takes a pending slot
 * marked TG_RQ_UNCHARGED (tg_skmsg then writes no event and charges nobody
 * for it). Nothing is charged now either; a retransmission of it is one. A
 * connection without an admitted request needs no slot.
 */
static void test_public_route_on_a_consumers_connection(void **state)
{
	struct fixture *f = *state;
	struct req r, first, pub;
	struct xdp_run run;
	struct tg_flow flow;
	char h[128];

	/* on a connection with no consumer yet too: a request admitted in a
	 * later segment, before the answer, has its slot after it */
	req_init(f, &r, false, "HEAD", "/health", NULL);
	flow_with_socket(f, &r);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 1);
	assert_int_equal(flow.pending[0].flags, TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[0].method, TG_M_HEAD);
	assert_int_equal(flow.consumer_id, 0);
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_segment(&r, r.spec.seq + (__u32)r.len,
		    "GET /v1/orders/7 HTTP/1.1\r\nX-API-Key: " KEY_ACTIVE "\r\n\r\n");
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.pending[0].flags, TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[1].flags, 0);
	assert_int_equal(flow.pending[1].consumer_id, C_ACTIVE);
	assert_int_equal(requests_total(f), 1);

	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	flow_with_socket(f, &r);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	first = r;
	req_init(f, &pub, false, "HEAD", "/health", h);
	pub.spec.sport = first.spec.sport;
	pub.spec.seq = first.spec.seq + (__u32)first.len;
	run_req(f, &pub, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &pub.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.pending[1].flags, TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[1].method, TG_M_HEAD);
	assert_int_equal(flow.pending[1].consumer_id, 0);
	assert_int_equal(flow.pending[1].seg_end, pub.spec.seq + (__u32)pub.len);
	assert_int_equal(requests_total(f), 2);

	/* its retransmission takes no second slot */
	run_req(f, &pub, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &pub.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(requests_total(f), 2);
}

/*
 * A path whose literal prefix may not be the route a server serves
 * (dot segments, percent-encoded dots, slashes or backslashes) is refused
 * as forbidden_api, public route or not, key or not: Tomcat, for one,
 * serves /health/../v1/orders as /v1/orders.
 */
static void test_path_not_its_route(void **state)
{
	static const struct {
		const char *path;
		__u32 api; /* of the route its literal prefix matches */
	} paths[] = {
		{ "/health/../v1/orders/7", API_ORDERS }, { "/health/./x", API_ORDERS },
		{ "/v1/orders/7/..", API_ORDERS },	   { "/v1/orders/%2e%2e/x", API_ORDERS },
		{ "/health%2f..%2fv1", 0 },		   { "/health\\..\\v1", 0 },
	};
	struct fixture *f = *state;
	struct tg_bucket b0, b1;
	char h[128];
	struct req r;

	header_key(h, sizeof(h), KEY_ANY);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		/* public or not, a key is needed, and then refused */
		req_init(f, &r, i % 2, "GET", paths[i].path, NULL);
		assert_refused(f, &r, 0, paths[i].api, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
		req_init(f, &r, i % 2, "GET", paths[i].path, h);
		bucket_get(f, C_ANY, PLAN_ANY, &b0);
		assert_refused(f, &r, C_ANY, paths[i].api, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);
		/* with no token taken */
		assert_true(!bucket_get(f, C_ANY, PLAN_ANY, &b1) ||
			    b1.consumed_total == b0.consumed_total);
	}
	/* dots that are no segment, encodings of other bytes, and a query */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7.json?next=/../x", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7.json");
	req_init(f, &r, false, "GET", "/v1/orders/a%20b..c", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/a%20b..c");
	req_init(f, &r, false, "GET", "/health/.status", NULL);
	assert_int_equal(run_action(f, &r), XDP_PASS);
}

/*
 * A method other than the seven of DESIGN §3, in any case: a server may
 * route it to a handler that never looks at the method (Go's ServeMux, an
 * Express app.use), so it is a request, refused as forbidden_api with a
 * key (no token taken) and missing_key without. To a public route it
 * passes like any other.
 */
static void test_other_methods(void **state)
{
	static const char *const methods[] = { "FETCH", "get", "TRACE", "PROPFIND", "M-SEARCH",
					       "VERYLONGMETHOD1" };
	struct fixture *f = *state;
	char h[128];
	struct req r;

	header_key(h, sizeof(h), KEY_ACTIVE);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		req_init(f, &r, i % 2, methods[i], "/v1/orders/7", h);
		assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);
		req_init(f, &r, i % 2, methods[i], "/v1/orders/7", NULL);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}
	req_init(f, &r, false, "TRACE", "/health", NULL);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	/* a token longer than a method is taken to be: no request */
	req_init(f, &r, false, "VERYLONGMETHOD12", "/v1/orders/7", NULL);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_int_equal(requests_total(f), 0);
}

#define PUBLIC_HEAD "HEAD /health HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
#define ORDER_WITH(key) "GET /v1/orders/7 HTTP/1.1\r\nHost: api.example.com\r\nX-API-Key: " key "\r\n\r\n"

/* req_pipeline() - a segment from a new client port with a flow as
 * tg_sockops makes it, carrying @text: requests pipelined in one segment. */
static void req_pipeline(struct fixture *f, struct req *r, const char *text)
{
	req_raw(f, r, false, text, strlen(text));
	flow_with_socket(f, r);
}

/* The flow of @r is as its handshake left it: nothing recorded. */
static void assert_flow_untouched(struct fixture *f, const struct req *r)
{
	struct tg_flow flow;

	assert_true(flow_get(f, &r->spec, &flow));
	assert_int_equal(flow.tail, 0);
	assert_int_equal(flow.next_seq, r->spec.seq);
	assert_false(flow.flags & TG_FLOW_UNSURE);
}

/*
 * Requests pipelined behind a public one in the same segment are the
 * server's next requests: XDP reads and decides them. A segment whose
 * request behind is refused is refused whole, with nothing recorded, so
 * its retransmission is refused again rather than passed as one.
 */
static void test_request_behind_a_public_one(void **state)
{
	struct fixture *f = *state;
	struct req r;

	req_pipeline(f, &r, PUBLIC_HEAD ORDER_WITH(KEY_UNKNOWN));
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	assert_flow_untouched(f, &r);
	reject_forget(f, &r);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	assert_flow_untouched(f, &r);

	/* no key at all behind it */
	req_pipeline(f, &r, PUBLIC_HEAD "GET /v1/orders/7 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	assert_flow_untouched(f, &r);

	/* behind a public request's Content-Length body */
	req_pipeline(f, &r,
		     "POST /health/report HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	assert_flow_untouched(f, &r);

	/* over the limit behind it: 429 */
	for (int i = 0; i < 2; i++) {
		req_pipeline(f, &r, PUBLIC_HEAD ORDER_WITH(KEY_TIGHT));
		assert_int_equal(run_action(f, &r), XDP_PASS);
	}
	req_pipeline(f, &r, PUBLIC_HEAD ORDER_WITH(KEY_TIGHT));
	assert_refused(f, &r, C_TIGHT, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_flow_untouched(f, &r);
}

/*
 * A request admitted behind a public one in its segment is charged as
 * any other, and the public one's answer, which comes first, has its own
 * uncharged slot ahead of it, even on a connection without a consumer yet:
 * else that answer would be paired with the admitted request and the
 * request's own answer charged again as unattributed. The public request
 * behind it has its slot too, after it.
 */
static void test_admitted_behind_a_public_one(void **state)
{
	struct fixture *f = *state;
	struct tg_counters before = counters_get(f, C_ACTIVE, API_ORDERS), after;
	const char *order = ORDER_WITH(KEY_ACTIVE);
	struct tg_flow flow;
	struct req r;

	req_pipeline(f, &r, PUBLIC_HEAD PUBLIC_HEAD ORDER_WITH(KEY_ACTIVE) PUBLIC_HEAD);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	after = counters_get(f, C_ACTIVE, API_ORDERS);
	assert_int_equal(after.requests, before.requests + 1);
	assert_int_equal(after.bytes_in, before.bytes_in + strlen(order));
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 4);
	for (int i = 0; i < 4; i += i == 1 ? 2 : 1) {
		assert_int_equal(flow.pending[i].flags, TG_RQ_UNCHARGED);
		assert_int_equal(flow.pending[i].method, TG_M_HEAD);
		assert_int_equal(flow.pending[i].consumer_id, 0);
		assert_int_equal(flow.pending[i].seg_end, r.spec.seq + (__u32)r.len);
	}
	assert_int_equal(flow.pending[2].flags, 0);
	assert_int_equal(flow.pending[2].consumer_id, C_ACTIVE);
	assert_int_equal(flow.pending[2].method, TG_M_GET);
	assert_int_equal(flow.pending[2].path_len, strlen("/v1/orders/7"));
	assert_int_equal(flow.pending[2].seg_end, r.spec.seq + (__u32)r.len);
	assert_int_equal(flow.consumer_id, C_ACTIVE);
	assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
	assert_false(flow.flags & TG_FLOW_UNSURE);

	/* its retransmission is charged nothing more */
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, after.requests);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 4);
}

/*
 * Requests pipelined behind an admitted one in its segment are the
 * server's next requests too: each is decided like any other (key, plan,
 * bucket), and charged with a pending slot of its own, not as an
 * unattributed answer. One refused refuses the whole segment: nothing of
 * it is recorded or charged, and the tokens the requests before it took go
 * back (its retransmission is decided again). Else a consumer could reach
 * an API its plan does not cover, or go past its bucket, by pipelining.
 */
static void test_requests_behind_an_admitted_one(void **state)
{
	static const char *const refused[] = {
		ORDER_WITH(KEY_ACTIVE) ORDER_WITH(KEY_UNKNOWN),
		ORDER_WITH(KEY_ACTIVE) "GET /v1/orders/7 HTTP/1.1\r\nHost: a\r\n\r\n",
		ORDER_WITH(KEY_ACTIVE) "GET /v2/users/1 HTTP/1.1\r\nX-API-Key: " KEY_ACTIVE "\r\n\r\n",
		ORDER_WITH(KEY_TIGHT) ORDER_WITH(KEY_TIGHT) ORDER_WITH(KEY_TIGHT),
	};
	static const __u32 verdicts[] = { TG_V_UNKNOWN_KEY, TG_V_MISSING_KEY, TG_V_FORBIDDEN_API,
					  TG_V_OVER_LIMIT };
	static const __u32 consumers[] = { 0, 0, C_ACTIVE, C_TIGHT };
	static const __u32 apis[] = { API_ORDERS, API_ORDERS, API_USERS, API_ORDERS };
	static const int statuses[] = { 401, 401, 403, 429 };
	struct fixture *f = *state;
	struct tg_counters before, after;
	struct tg_bucket b0, b1;
	struct tg_flow flow;
	struct req r;

	/* two consumers' requests and a public one in a segment: each its own */
	before = counters_get(f, C_ACTIVE, API_ORDERS);
	req_pipeline(f, &r, ORDER_WITH(KEY_ACTIVE) ORDER_WITH(KEY_TIGHT) PUBLIC_HEAD
			    ORDER_WITH(KEY_ACTIVE));
	assert_int_equal(run_action(f, &r), XDP_PASS);
	after = counters_get(f, C_ACTIVE, API_ORDERS);
	assert_int_equal(after.requests, before.requests + 2);
	assert_int_equal(after.bytes_in, before.bytes_in + 2 * strlen(ORDER_WITH(KEY_ACTIVE)));
	assert_int_equal(counters_get(f, C_TIGHT, API_ORDERS).requests, 1);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 4);
	assert_int_equal(flow.pending[0].consumer_id, C_ACTIVE);
	assert_int_equal(flow.pending[1].consumer_id, C_TIGHT);
	assert_int_equal(flow.pending[2].flags, TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[3].consumer_id, C_ACTIVE);
	for (int i = 0; i < 4; i++)
		assert_int_equal(flow.pending[i].seg_end, r.spec.seq + (__u32)r.len);
	assert_int_equal(flow.pending[3].path_len, strlen("/v1/orders/7"));
	assert_int_equal(flow.consumer_id, C_ACTIVE);
	assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
	assert_false(flow.flags & TG_FLOW_UNSURE);
	/* its retransmission is charged nothing more */
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, after.requests);

	/* one refused behind admitted ones: all refused, no token kept */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		__u32 c = i == 3 ? C_TIGHT : C_ACTIVE;
		__u32 plan = i == 3 ? PLAN_TIGHT : PLAN_ORDERS;

		if (i == 3) { /* a full bucket: two tokens */
			assert_true(bucket_get(f, C_TIGHT, PLAN_TIGHT, &b0));
			b0.tokens_fp = 2 * TG_TOKEN_ONE;
			b0.last_ns = now_ns();
			bucket_put(f, C_TIGHT, PLAN_TIGHT, &b0);
		}
		assert_true(bucket_get(f, c, plan, &b0));
		before = counters_get(f, c, API_ORDERS);
		req_pipeline(f, &r, refused[i]);
		assert_refused(f, &r, consumers[i], apis[i], verdicts[i], XDP_TX, statuses[i], NULL);
		assert_flow_untouched(f, &r);
		assert_int_equal(counters_get(f, c, API_ORDERS).requests, before.requests);
		assert_int_equal(counters_get(f, c, API_ORDERS).bytes_in, before.bytes_in);
		assert_true(bucket_get(f, c, plan, &b1));
		assert_int_equal(b1.consumed_total, b0.consumed_total);
		if (b1.tokens_fp < b0.tokens_fp)
			fail_msg("case %zu: %llu tokens, %llu before", i,
				 (unsigned long long)b1.tokens_fp, (unsigned long long)b0.tokens_fp);
	}
}

/* Fill the bucket of (@consumer, @plan) to @tokens. */
static void bucket_fill(struct fixture *f, __u32 consumer, __u32 plan, __u64 tokens)
{
	struct tg_bucket b;

	bucket_get(f, consumer, plan, &b);
	b.tokens_fp = tokens * TG_TOKEN_ONE;
	b.last_ns = now_ns();
	bucket_put(f, consumer, plan, &b);
}

/*
 * Segments of 1 to 8 pipelined requests drawn at random from public ones,
 * two consumers' and refused ones (unknown key, no key): a segment with a
 * refused request is refused for the first of them, with nothing recorded
 * and no token kept; any other passes with each request in its own pending
 * slot, in order, while the flow has slots, and each admitted one charged
 * (those beyond the slots are counted there, in order, with their kinds,
 * and charged when answered, their tokens back).
 */
static void test_pipelined_segments_at_random(void **state)
{
	enum { PUB, ACTIVE, ANY, UNKNOWN, NOKEY, KINDS };
	static const char *const text[KINDS] = {
		PUBLIC_HEAD,
		ORDER_WITH(KEY_ACTIVE),
		ORDER_WITH(KEY_ANY),
		ORDER_WITH(KEY_UNKNOWN),
		"GET /v1/orders/7 HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	static const __u32 consumer[KINDS] = { 0, C_ACTIVE, C_ANY, 0, 0 };
	static const __u32 plan[KINDS] = { 0, PLAN_ORDERS, PLAN_ANY, 0, 0 };
	struct fixture *f = *state;
	char seg[2048];
	unsigned int seed = 20261130;

	for (int round = 0; round < 300; round++) {
		int kinds[8], n = 1 + rand_r(&seed) % 8, refused = -1;
		__u64 charged[KINDS] = { 0 }, c0[KINDS], b0[KINDS], beyond;
		struct tg_bucket b;
		struct tg_flow flow;
		struct req r;

		seg[0] = '\0';
		for (int i = 0; i < n; i++) {
			/* refusals one time in five */
			kinds[i] = rand_r(&seed) % 5 ? rand_r(&seed) % 3 : 3 + rand_r(&seed) % 2;
			strcat(seg, text[kinds[i]]);
			if (refused < 0 && kinds[i] >= UNKNOWN)
				refused = i;
			if (kinds[i] == ACTIVE || kinds[i] == ANY)
				charged[kinds[i]] += i < TG_FLOW_PENDING;
		}
		bucket_fill(f, C_ACTIVE, PLAN_ORDERS, 100);
		bucket_fill(f, C_ANY, PLAN_ANY, 100);
		for (int k = ACTIVE; k <= ANY; k++) {
			c0[k] = counters_get(f, consumer[k], API_ORDERS).requests;
			bucket_get(f, consumer[k], plan[k], &b);
			b0[k] = b.consumed_total;
		}
		req_pipeline(f, &r, seg);
		if (refused >= 0) {
			assert_refused(f, &r, 0, API_ORDERS,
				       kinds[refused] == UNKNOWN ? TG_V_UNKNOWN_KEY : TG_V_MISSING_KEY,
				       XDP_TX, 401, NULL);
			assert_flow_untouched(f, &r);
		} else {
			assert_int_equal(run_action(f, &r), XDP_PASS);
			assert_true(flow_get(f, &r.spec, &flow));
			assert_int_equal(flow.tail, n < TG_FLOW_PENDING ? n : TG_FLOW_PENDING);
			for (int i = 0; i < n && i < TG_FLOW_PENDING; i++) {
				assert_int_equal(flow.pending[i].consumer_id, consumer[kinds[i]]);
				assert_int_equal(flow.pending[i].flags,
						 kinds[i] == PUB ? TG_RQ_UNCHARGED : 0);
			}
			/* the rest beyond them, in order, the public ones
			 * (HEADs) marked */
			beyond = 0;
			for (int i = TG_FLOW_PENDING; i < n; i++)
				beyond |= (__u64)(kinds[i] == PUB) << (i - TG_FLOW_PENDING);
			assert_int_equal(flow.beyond_tail, n > TG_FLOW_PENDING ? n - TG_FLOW_PENDING : 0);
			assert_int_equal(flow.beyond_uncharged, beyond);
			assert_int_equal(flow.beyond_headreq, beyond);
			assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
			assert_false(flow.flags & TG_FLOW_UNSURE);
		}
		for (int k = ACTIVE; k <= ANY; k++) {
			__u64 want = refused >= 0 ? 0 : charged[k];

			if (counters_get(f, consumer[k], API_ORDERS).requests != c0[k] + want)
				fail_msg("round %d: consumer %u charged %" PRIu64 ", not %" PRIu64, round,
					 consumer[k],
					 (uint64_t)(counters_get(f, consumer[k], API_ORDERS).requests - c0[k]),
					 (uint64_t)want);
			bucket_get(f, consumer[k], plan[k], &b);
			assert_int_equal(b.consumed_total, b0[k] + want);
		}
	}
}

/*
 * Public requests pipelined in one segment pass, up to TG_SEG_REQUESTS of
 * them; bytes behind the last that XDP reads are refused as missing_key.
 * Bytes behind a public request that are no request are the server's to
 * answer (400): they pass.
 */
static void test_public_requests_pipelined(void **state)
{
	struct fixture *f = *state;
	char text[2048] = "";
	struct tg_flow flow;
	struct req r;

	for (int i = 0; i < 8; i++)
		strcat(text, PUBLIC_HEAD);
	req_pipeline(f, &r, text);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_true(flow_get(f, &r.spec, &flow));
	/* an uncharged slot each, as many as a flow keeps */
	assert_int_equal(flow.tail, TG_FLOW_PENDING);
	for (int i = 0; i < TG_FLOW_PENDING; i++)
		assert_int_equal(flow.pending[i].flags, TG_RQ_UNCHARGED);
	/* each began where the one before it ended: where the next request
	 * starts is still known */
	assert_int_equal(flow.next_seq, r.spec.seq + (__u32)r.len);
	assert_false(flow.flags & TG_FLOW_UNSURE);

	strcat(text, PUBLIC_HEAD);
	req_pipeline(f, &r, text);
	assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	assert_flow_untouched(f, &r);

	req_pipeline(f, &r, PUBLIC_HEAD "\r\nnot a request\r\n");
	assert_int_equal(run_action(f, &r), XDP_PASS);
}

/* How many slots of tg_seqhint say that a request starts for sure at
 * client sequence @seq. */
/*
 * A segment that begins before the end of the last one recorded is a
 * retransmission: not charged again, but decided again. XDP saw the first
 * one before TCP did, and TCP may have dropped it (a bad checksum, an ACK
 * of data never sent) and take this one: so a public request first, then
 * a keyless one, or an admitted one (whose answer the public request's
 * uncharged slot would take), at the same sequence are refused; as is one
 * for an API the key's plan does not cover behind an admitted request, and
 * one whose body runs past where the request it retransmits ended. A true
 * retransmission passes as before, even with the bucket empty.
 */

/* A new connection (its flow as tg_sockops makes it) whose first segment,
 * a public route's head, passes with 100 bytes of body to follow; returns
 * the sequence where that body ends. */
static __u32 public_body_head(struct fixture *f, struct req *r)
{
	struct xdp_run run;

	req_init(f, r, false, "POST", "/health/report", "Content-Length: 100\r\n");
	flow_with_socket(f, r);
	run_req(f, r, &run);
	assert_pass_untouched(&run);
	return r->spec.seq + (__u32)r->len + 100;
}

/* A new connection (its flow as tg_sockops makes it) whose first segment,
 * @text, passes; returns its sequence. */
static __u32 conn_passed(struct fixture *f, struct req *r, const char *text)
{
	struct xdp_run run;

	req_pipeline(f, r, text);
	run_req(f, r, &run);
	assert_pass_untouched(&run);
	return r->spec.seq;
}

/* @r's connection's segment at @seq carrying @text passes untouched. */
static void segment_passes(struct fixture *f, struct req *r, __u32 seq, const char *text)
{
	struct xdp_run run;

	req_segment(r, seq, text);
	run_req(f, r, &run);
	assert_pass_untouched(&run);
}

/* @r's connection's segment at @seq carrying @text is refused for
 * (@consumer, @api) with @verdict, answered in-kernel with @status; then
 * forgotten as answered, so the connection goes on. */
static void segment_answered(struct fixture *f, struct req *r, __u32 seq, const char *text,
			     __u32 consumer, __u32 api, enum tg_verdict verdict, int status)
{
	req_segment(r, seq, text);
	assert_refused(f, r, consumer, api, verdict, XDP_TX, status, NULL);
	reject_forget(f, r);
}

/* A request line and an X-Pad header that make the head @len bytes long. */
static const char *padded(char *out, size_t size, const char *line, size_t len)
{
	int n = snprintf(out, size, "%s\r\nHost: api.example.com\r\nX-Pad: ", line);

	assert_true(n > 0 && (size_t)n + 5 <= len && len < size);
	memset(out + n, 'p', len - 4 - (size_t)n);
	memcpy(out + len - 4, "\r\n\r\n", 5);
	return out;
}

/* @text sent on a loopback connection (sock[0] the client's socket), and
 * taken by its server (sock[1]): its TCP is past it. */
static void loopback_send(const int sock[2], const char *text)
{
	size_t n = strlen(text), got = 0;
	char buf[3000];

	assert_int_equal(send(sock[0], text, n, 0), (ssize_t)n);
	while (got < n) {
		ssize_t k = recv(sock[1], buf, sizeof(buf), 0);

		assert_true(k > 0);
		got += (size_t)k;
	}
}

/*
 * A real TCP connection over the loopback (::1 with @ipv6) whose server
 * socket took @text from the client: @r is then the client's segment that
 * carried it, the flow as tg_sockops made it, the server port one of the
 * API ports. The sockets go to sock[0] (client) and sock[1] (server).
 */
static void conn_on_loopback(struct fixture *f, struct req *r, bool ipv6, const char *text,
			     int sock[2])
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr *a = ipv6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
	socklen_t alen = ipv6 ? sizeof(a6) : sizeof(a4);
	__u16 cport, sport;
	int lfd, on = 1, off = TCP_REPAIR_OFF_NO_WP, q = TCP_RECV_QUEUE;
	size_t n = strlen(text);
	__u32 rcv_nxt, word;
	__u64 bits;
	socklen_t ql = sizeof(rcv_nxt);

	lfd = socket(a->sa_family, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, a, alen), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, a, &alen), 0);
	sport = ntohs(ipv6 ? a6.sin6_port : a4.sin_port);
	sock[0] = socket(a->sa_family, SOCK_STREAM, 0);
	assert_true(sock[0] >= 0);
	assert_int_equal(connect(sock[0], a, alen), 0);
	sock[1] = accept(lfd, NULL, NULL);
	close(lfd);
	assert_true(sock[1] >= 0);
	assert_int_equal(getsockname(sock[0], a, &alen), 0);
	cport = ntohs(ipv6 ? a6.sin6_port : a4.sin_port);

	loopback_send(sock, text);
	/* where the server's TCP is (repair mode reads it): the client's
	 * segment with @text ended there */
	assert_int_equal(setsockopt(sock[1], SOL_TCP, TCP_REPAIR, &on, sizeof(on)), 0);
	assert_int_equal(setsockopt(sock[1], SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)), 0);
	assert_int_equal(getsockopt(sock[1], SOL_TCP, TCP_QUEUE_SEQ, &rcv_nxt, &ql), 0);
	assert_int_equal(setsockopt(sock[1], SOL_TCP, TCP_REPAIR, &off, sizeof(off)), 0);

	req_raw(f, r, ipv6, text, n);
	if (ipv6)
		pkt_set_ipv6(&r->spec, "::1", "::1");
	else
		pkt_set_ipv4(&r->spec, "127.0.0.1", "127.0.0.1");
	r->spec.sport = cport;
	r->spec.dport = sport;
	r->spec.seq = rcv_nxt - (__u32)n;
	flow_with_socket(f, r);
	word = TG_XDP_PORTS_WORD(sport);
	if (bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.tg_xdp_ports), &word, &bits))
		bits = 0;
	bits |= TG_XDP_PORTS_BIT(sport);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.tg_xdp_ports), &word, &bits,
					     BPF_ANY),
			 0);
}

/* The client's next segment on @r's connection, a bare ACK, becomes a RST
 * toward the server at @seq. */
static void assert_next_is_rst(struct fixture *f, const struct req *r, __u32 seq)
{
	struct req ack = *r;
	struct xdp_run run;

	ack.spec.seq = r->spec.seq + (__u32)r->len;
	ack.spec.tcp_flags = PKT_ACK;
	ack.len = 0;
	run_req(f, &ack, &run);
	assert_rst(&run, seq);
}


/*
 * A public request beyond a connection's four slots keeps no sequence in
 * the flow: an admitted request sent in its place, decided again (its
 * first copy never reached the server's TCP), is refused, as it would
 * take that request's answer uncharged; the public request itself passes.
 */
static void test_beyond_public_resend_refused(void **state)
{
	struct fixture *f = *state;
	size_t len = strlen(ORDER_WITH(KEY_ACTIVE));
	char public_get[128];
	const char *PUBLIC_GET = padded(public_get, sizeof(public_get), "GET /health HTTP/1.1", len);
	__u64 req0 = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	struct tg_flow flow;
	struct req r;
	__u32 seq, pub;

	req_pipeline(f, &r, ORDER_WITH(KEY_ACTIVE));
	assert_int_equal(run_action(f, &r), XDP_PASS);
	seq = r.spec.seq + (__u32)len;
	for (int i = 1; i < TG_FLOW_PENDING; i++, seq += (__u32)len) {
		req_segment(&r, seq, ORDER_WITH(KEY_ACTIVE));
		assert_int_equal(run_action(f, &r), XDP_PASS);
	}
	pub = seq;
	req_segment(&r, pub, PUBLIC_GET);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, TG_FLOW_PENDING);
	assert_int_equal(flow.beyond_tail, 1);
	assert_int_equal(flow.beyond_uncharged, 1);

	segment_answered(f, &r, pub, ORDER_WITH(KEY_ACTIVE), 0, API_ORDERS, TG_V_MISSING_KEY, 401);
	segment_passes(f, &r, pub, PUBLIC_GET);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, req0 + TG_FLOW_PENDING);
}

/*
 * A segment whose bytes the server's TCP took already (its socket's
 * rcv_nxt is past them) is dropped by TCP whatever it carries: it passes,
 * not decided again. One that runs past rcv_nxt is decided again. The RST
 * that follows a refusal is at the socket's rcv_nxt: past the refused
 * segment's start (a retransmission) or short of it (bytes before it
 * lost); a refusal where the last request ended, the common one, looks
 * for no socket. Without a socket to look up, as in every other fixture,
 * retransmissions are decided again and the RST is at the refused
 * segment's start.
 */
static void test_retransmission_tcp_took(void **state)
{
	struct fixture *f = *state;
	size_t len = strlen(ORDER_WITH(KEY_ACTIVE));
	char keyless_get[128], longer[256];
	const char *KEYLESS_GET =
		padded(keyless_get, sizeof(keyless_get), "GET /v1/orders/7 HTTP/1.1", len);
	const char *LONGER = padded(longer, sizeof(longer), "GET /v1/orders/7 HTTP/1.1", len + 20);
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct tg_reject rej;
	struct xdp_run run;
	struct tg_flow flow;
	int sock[2];
	__u64 retrans, missing;
	__u32 seq;
	struct req r;

	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		conn_on_loopback(f, &r, ipv6, ORDER_WITH(KEY_ACTIVE), sock);
		seq = r.spec.seq;
		assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS,
				TG_M_GET, "/v1/orders/7");

		/* a keyless request in its place, as long: TCP has those bytes */
		retrans = stat_get(f, TG_S_RETRANSMITS);
		missing = refused_total(f, TG_V_MISSING_KEY);
		segment_passes(f, &r, seq, KEYLESS_GET);
		assert_int_equal(stat_get(f, TG_S_RETRANSMITS), retrans + 1);
		assert_int_equal(refused_total(f, TG_V_MISSING_KEY), missing);
		assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, (__u64)ipv6 + 1);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.tail, 1);
		assert_int_equal(flow.next_seq, seq + (__u32)len);

		/* one that runs 20 bytes past them: TCP takes those */
		req_segment(&r, seq, LONGER);
		run_req(f, &r, &run);
		assert_answer(&run, 401, NULL);
		assert_int_equal(refused_total(f, TG_V_MISSING_KEY), missing + 1);
		assert_true(reject_get(f, &r.spec, &rej));
		assert_int_equal(rej.flags, TG_REJECT_LOOKUP);
		assert_next_is_rst(f, &r, seq + (__u32)len);
		reject_forget(f, &r);

		/* a request refused with 100 bytes before it lost */
		req_segment(&r, seq + (__u32)len + 100, KEYLESS_GET);
		run_req(f, &r, &run);
		assert_answer(&run, 401, NULL);
		assert_next_is_rst(f, &r, seq + (__u32)len);
		reject_forget(f, &r);

		/* one where the last one ended: no socket to look up after it */
		req_segment(&r, seq + (__u32)len, KEYLESS_GET);
		run_req(f, &r, &run);
		assert_answer(&run, 401, NULL);
		assert_true(reject_get(f, &r.spec, &rej));
		assert_int_equal(rej.flags, 0);
		assert_next_is_rst(f, &r, seq + (__u32)len);
		reject_forget(f, &r);

		/* the same where the socket is gone (reset at once) */
		assert_int_equal(setsockopt(sock[1], SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)),
				 0);
		close(sock[1]);
		close(sock[0]);
		req_segment(&r, seq, KEYLESS_GET);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
		assert_next_is_rst(f, &r, seq);
		reject_forget(f, &r);
	}
}

/*
 * Bytes of a followed chunked body sent again pass where the server's TCP
 * took them (its socket's rcv_nxt is past them), other bytes in their
 * place too: TCP drops them, whatever they carry (with no socket they are
 * refused: test_chunked_body_gap_and_resend). Once TCP has taken every
 * byte whose framing XDP read, the flow stops asking (TG_FLOW_CHUNK_SEEN
 * cleared), and not before.
 */
static void test_chunked_body_resend_tcp_took(void **state)
{
	static const char HEAD[] =
		"POST /health/upload HTTP/1.1\r\nHost: api.example.com\r\n"
		"Transfer-Encoding: chunked\r\n\r\n";
	static const char GET[] = "GET /health HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
	struct fixture *f = *state;
	char first[256], other[256];
	struct tg_flow flow, was;
	struct req r;
	int sock[2];
	__u32 start, seq;

	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		snprintf(first, sizeof(first), "%s5\r\nhel", HEAD);
		snprintf(other, sizeof(other), "%s0\r\n\r\nG", HEAD); /* as long */
		conn_on_loopback(f, &r, ipv6, first, sock);
		start = r.spec.seq;
		seq = chunk_seg_passes(f, &r, start, first);
		assert_true(flow_get(f, &r.spec, &was));
		assert_int_equal(was.flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN),
				 TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN);
		assert_int_equal(was.chunk_end, start + (__u32)strlen(HEAD) + 3);

		/* sent again, as it was and with other framing: TCP has both */
		chunk_seg_passes(f, &r, start, first);
		chunk_seg_passes(f, &r, start, other);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.flags, was.flags);
		assert_int_equal(flow.next_seq, was.next_seq);
		assert_int_equal(flow.chunk_state, was.chunk_state);

		/* the body's end, read before TCP has it: XDP still asks */
		seq = chunk_seg_passes(f, &r, seq, "lo\r\n0\r\n\r\n");
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN),
				 TG_FLOW_CHUNK_SEEN);
		assert_int_equal(flow.chunk_end, seq);
		segment_passes(f, &r, seq, GET);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_true(flow.flags & TG_FLOW_CHUNK_SEEN);
		seq += (__u32)strlen(GET);

		/* TCP takes them: the next segment finds it past chunk_end */
		loopback_send(sock, "lo\r\n0\r\n\r\n");
		loopback_send(sock, GET);
		segment_passes(f, &r, seq, GET);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_false(flow.flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN));
		assert_int_equal(flow.next_seq, seq + (__u32)strlen(GET));
		close(sock[0]);
		close(sock[1]);
	}
}

static void test_retransmission_decided_again(void **state)
{
	struct fixture *f = *state;
	struct req r, a;
	struct tg_flow flow;
	struct tg_bucket b0, b1;
	/* all as long as an admitted request */
	size_t len = strlen(ORDER_WITH(KEY_ACTIVE));
	char text[512], public_get[128], keyless_get[128], bodyless[128];
	const char *PUBLIC_GET = padded(public_get, sizeof(public_get), "GET /health HTTP/1.1", len);
	const char *KEYLESS_GET =
		padded(keyless_get, sizeof(keyless_get), "GET /v1/orders/7 HTTP/1.1", len);
	__u64 req0;
	__u32 seq;

	/* a public request, then a keyless one in its place */
	seq = conn_passed(f, &r, PUBLIC_GET);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 1);
	assert_true(flow.pending[0].flags & TG_RQ_UNCHARGED);
	assert_int_equal(flow.pending[0].start_seq, seq);
	segment_answered(f, &r, seq, KEYLESS_GET, 0, API_ORDERS, TG_V_MISSING_KEY, 401);

	/* an admitted request in its place: refused, no token taken */
	segment_answered(f, &r, seq, ORDER_WITH(KEY_ACTIVE), 0, API_ORDERS, TG_V_MISSING_KEY, 401);
	assert_false(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b1) && b1.consumed_total);

	/* the public request itself again: passes, nothing recorded */
	segment_passes(f, &r, seq, PUBLIC_GET);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 1);
	assert_int_equal(flow.next_seq, seq + (__u32)strlen(PUBLIC_GET));

	/* an admitted request, then one for an API its plan does not cover */
	req_pipeline(f, &a, ORDER_WITH(KEY_ACTIVE));
	seq = a.spec.seq;
	assert_admitted(f, &a, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	snprintf(text, sizeof(text), "GET /v2/users/7 HTTP/1.1\r\nHost: api.example.com\r\nX-API-Key: %s\r\n\r\n",
		 KEY_ACTIVE);
	segment_answered(f, &a, seq, text, C_ACTIVE, API_USERS, TG_V_FORBIDDEN_API, 403);

	/* the true retransmission, the bucket empty: passes, not charged */
	bucket_fill(f, C_ACTIVE, PLAN_ORDERS, 0);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b0));
	segment_passes(f, &a, seq, ORDER_WITH(KEY_ACTIVE));
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b1));
	assert_int_equal(b1.consumed_total, b0.consumed_total);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 1);
	assert_true(flow_get(f, &a.spec, &flow));
	assert_int_equal(flow.tail, 1);
	bucket_fill(f, C_ACTIVE, PLAN_ORDERS, 100);

	/* in its place a request whose body runs past where it ended: the
	 * server would read a body where the flow expects the next request */
	snprintf(text, sizeof(text),
		 "POST /v1/orders HTTP/1.1\r\nX-API-Key: %s\r\nContent-Length: 500\r\n\r\n", KEY_ACTIVE);
	segment_answered(f, &a, seq, text, 0, API_ORDERS, TG_V_MISSING_KEY, 401);
	assert_true(flow_get(f, &a.spec, &flow));
	assert_int_equal(flow.next_seq, seq + (__u32)strlen(ORDER_WITH(KEY_ACTIVE)));

	/* a public request whose body is to follow, then one as long without
	 * a body in its place: XDP would take the requests behind it for
	 * body; the same head again passes */
	snprintf(text, sizeof(text), "POST /health HTTP/1.1\r\nHost: api.example.com\r\n"
				     "Content-Length: 5000\r\n\r\n");
	seq = conn_passed(f, &r, text);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.next_seq, seq + (__u32)strlen(text) + 5000);
	segment_answered(f, &r, seq, padded(bodyless, sizeof(bodyless), "GET /health HTTP/1.1", strlen(text)), 0, API_ORDERS, TG_V_MISSING_KEY, 401);
	segment_passes(f, &r, seq, text);

	/* a shorter public request in a public one's place, bytes that are
	 * no request, then a keyless request where the first one ended: TCP
	 * keeps either segment's bytes there, so that request is decided */
	seq = conn_passed(f, &r, PUBLIC_GET);
	snprintf(text, sizeof(text), "GET /health HTTP/1.1\r\n\r\n");
	memset(text + strlen(text), '~', len - strlen(text));
	strcpy(text + len, KEYLESS_GET);
	segment_answered(f, &r, seq, text, 0, API_ORDERS, TG_V_MISSING_KEY, 401);

	/* a public request past where the connection's next one starts (TCP
	 * drops it, or holds it out of order), then an admitted one where
	 * that starts: its answer would take the public one's slot, so it is
	 * refused; the public one again passes */
	req_pipeline(f, &r, PUBLIC_GET);
	seq = r.spec.seq;
	segment_passes(f, &r, seq + 500, PUBLIC_GET);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_true(flow.flags & TG_FLOW_UNSURE);
	segment_answered(f, &r, seq, ORDER_WITH(KEY_ACTIVE), 0, API_ORDERS, TG_V_MISSING_KEY, 401);
	segment_passes(f, &r, seq + 500, PUBLIC_GET);

	/* two requests in segments of their own: the first again passes (the
	 * second is behind it) */
	req_pipeline(f, &a, ORDER_WITH(KEY_ACTIVE));
	seq = a.spec.seq;
	assert_admitted(f, &a, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	segment_passes(f, &a, seq + (__u32)len, ORDER_WITH(KEY_ACTIVE));
	segment_passes(f, &a, seq, ORDER_WITH(KEY_ACTIVE));
	assert_true(flow_get(f, &a.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.next_seq, seq + 2 * (__u32)len);

	/* a public request and an admitted one pipelined, then the same two
	 * again: passes as they are; with a keyless one in the public one's
	 * place: refused */
	req0 = counters_get(f, C_ACTIVE, API_ORDERS).requests;
	snprintf(text, sizeof(text), "%s%s", PUBLIC_GET, ORDER_WITH(KEY_ACTIVE));
	seq = conn_passed(f, &r, text);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, req0 + 1);
	segment_passes(f, &r, seq, text);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, req0 + 1);
	snprintf(text, sizeof(text), "%s%s", KEYLESS_GET, ORDER_WITH(KEY_ACTIVE));
	segment_answered(f, &r, seq, text, 0, API_ORDERS, TG_V_MISSING_KEY, 401);

	/* the same two and a third, new, behind them: the third is charged */
	snprintf(text, sizeof(text), "%s%s%s", PUBLIC_GET, ORDER_WITH(KEY_ACTIVE),
		 ORDER_WITH(KEY_ACTIVE));
	segment_passes(f, &r, seq, text);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 3);
	assert_int_equal(flow.next_seq, seq + (__u32)strlen(text));
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, req0 + 2);
}

static int seqhint_count(struct fixture *f, __u32 seq)
{
	int fd = bpf_map__fd(f->skel->maps.tg_seqhint), n = 0;
	__u32 slots = bpf_map__max_entries(f->skel->maps.tg_seqhint);
	__u64 v;

	for (__u32 i = 0; i < slots; i++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &i, &v), 0);
		n += (v & (1ULL << 32)) && (__u32)v == seq;
	}
	return n;
}

/* Write @value into every slot of tg_seqhint. */
static void seqhint_fill(struct fixture *f, __u64 value)
{
	int fd = bpf_map__fd(f->skel->maps.tg_seqhint);
	__u32 slots = bpf_map__max_entries(f->skel->maps.tg_seqhint);

	for (__u32 i = 0; i < slots; i++)
		assert_int_equal(bpf_map_update_elem(fd, &i, &value, BPF_ANY), 0);
}

/*
 * A request behind the end of a body, in a segment that began before it:
 * TCP hands the server the bytes from the end of the body on as its next
 * request, so XDP decides it, whatever the segment begins with. On a
 * connection with no consumer (a public route's body) it would otherwise
 * reach the server unread and unbilled; on a consumer's, bypass its key,
 * plan and bucket. The same for bytes a client sends again with a request
 * behind them (a retransmission that overlaps the last request's end).
 * Whichever way tg_xdp learns the boundary: from tg_seqhint, or from the
 * flow where another flow holds the slot or none wrote it.
 */
static void test_request_behind_a_body_end(void **state)
{
	struct fixture *f = *state;
	char text[2048], h[256], good[256];
	struct req r, first;
	struct xdp_run run;
	struct tg_flow flow;
	__u32 end;

	snprintf(good, sizeof(good),
		 "GET /v1/orders/9 HTTP/1.1\r\nX-API-Key: %s\r\n\r\n", KEY_ACTIVE);
	for (int pass = 0; pass < 3; pass++) {
		/* a public route's body, in two segments; the second ends it
		 * and carries a request with an unknown key */
		end = public_body_head(f, &r);
		if (pass == 0) /* the flow wrote its slot: where the body ends */
			assert_int_equal(seqhint_count(f, end), 1);
		if (pass == 1)
			seqhint_fill(f, 0); /* no slot written */
		if (pass == 2)
			seqhint_fill(f, 0x5a5a5a5b00000000ULL | (end - 10)); /* another flow's */
		memset(text, 'x', 100);
		strcpy(text + 100, LOOKALIKE);
		req_segment(&r, end - 100, text);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
		assert_true(flow_get(f, &r.spec, &flow));
		assert_int_equal(flow.next_seq, end); /* nothing recorded */
	}

	/* body bytes up to the end only, or past it with no request there:
	 * body; a request at the end of the body in a segment of its own */
	end = public_body_head(f, &r);
	memset(text, 'x', 100);
	text[100] = '\0';
	assert_body_passed(f, &r, end - 100, text);
	memset(text, 'x', 50);
	strcpy(text + 50, "not a request at all\r\n");
	req_segment(&r, end - 50, text);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	req_segment(&r, end, good);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/9");

	/* a body that begins like a method but is none, a request behind its
	 * end: that one is decided */
	end = public_body_head(f, &r);
	memset(text, 'x', 100);
	memcpy(text, "G\r\n", 3);
	strcpy(text + 100, LOOKALIKE);
	req_segment(&r, end - 100, text);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);

	/* the same on a consumer's connection: a request behind its body is
	 * checked and charged, a slot of its own */
	header_key(h, sizeof(h), KEY_ACTIVE);
	strcat(h, "Content-Length: 2000\r\n");
	req_init(f, &first, false, "POST", "/v1/orders", h);
	flow_with_socket(f, &first);
	assert_admitted(f, &first, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_POST,
			"/v1/orders");
	end = first.spec.seq + (__u32)first.len + 2000;
	r = first;
	memset(text, 'x', 20);
	strcpy(text + 20, good);
	req_segment(&r, end - 20, text);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_true(flow_get(f, &r.spec, &flow));
	assert_int_equal(flow.tail, 2);
	assert_int_equal(flow.next_seq, end + (__u32)strlen(good));
	assert_false(flow.flags & TG_FLOW_UNSURE);

	/* ... and one with an unknown key there is refused */
	r = first;
	r.spec.sport = f->next_sport++;
	flow_with_socket(f, &r);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_POST,
			"/v1/orders");
	strcpy(text + 20, LOOKALIKE);
	req_segment(&r, end - 20, text);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);

	/* a retransmission of a public request with a request behind it,
	 * whole, or from inside the first */
	for (int from = 0; from < 2; from++) {
		req_pipeline(f, &r, PUBLIC_HEAD);
		run_req(f, &r, &run);
		assert_pass_untouched(&run);
		snprintf(text, sizeof(text), "%s%s", PUBLIC_HEAD + (from ? 7 : 0), LOOKALIKE);
		req_segment(&r, r.spec.seq + (from ? 7 : 0), text);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
	}

	/* public requests pipelined, then a public body over two segments
	 * with a request behind it: where it starts is still known */
	snprintf(text, sizeof(text), "%s%sPOST /health/report HTTP/1.1\r\nContent-Length: 30\r\n\r\n0123456789",
		 PUBLIC_HEAD, PUBLIC_HEAD);
	req_pipeline(f, &r, text);
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	end = r.spec.seq + (__u32)r.len + 20;
	memset(text, 'y', 20);
	strcpy(text + 20, LOOKALIKE);
	req_segment(&r, end - 20, text);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
}

/*
 * Bytes that begin like a request whose request line cannot be read in the
 * segment: the server reads them as a request (or its start), so they are
 * refused as missing_key (the key cannot be read either), not passed as
 * non-requests. Each was a way to reach the server unchecked.
 */
static void test_request_line_not_read(void **state)
{
	static const char *const payloads[] = {
		"GET /v1/orders/",		     /* the request sent in pieces */
		"G",
		"DELETE",
		"\r\nPOST /v1",
		"FOO",				     /* a method of other letters, in pieces */
		"PROPFIND /v1/o",
		"GET /v1/orders/7\r\nHost: a\r\n\r\n", /* HTTP/0.9 */
		"GET  /v1/orders/7 HTTP/1.1\r\nX-API-Key: " KEY_ACTIVE "\r\n\r\n",
		"GET http://api.example.com/v1/orders/7 HTTP/1.1\r\nX-API-Key: " KEY_ACTIVE
		"\r\n\r\n",
		"GET /v1/orders HTTP/2\r\nX-API-Key: " KEY_ACTIVE "\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /* HTTP/2, which XDP cannot read */
		"\r\n\r\n\r\n\r\n\r\nGET /v1/orders/7 HTTP/1.1\r\nX-API-Key: " KEY_ACTIVE "\r\n\r\n",
	};
	struct fixture *f = *state;
	char text[1500];
	struct req r;
	int n;

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		req_raw(f, &r, i % 2, payloads[i], strlen(payloads[i]));
		flow_with_socket(f, &r);
		assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}
	/* a request line longer than the 1024 bytes read */
	n = snprintf(text, sizeof(text), "GET /v1/orders/7?q=%01100d HTTP/1.1\r\nX-API-Key: %s\r\n\r\n",
		     0, KEY_ACTIVE);
	req_raw(f, &r, false, text, (size_t)n);
	assert_refused(f, &r, 0, 0, TG_V_MISSING_KEY, XDP_TX, 401, NULL);

	/* not so the same bytes inside a body the flow knows of */
	req_init(f, &r, false, "POST", "/health/report", "Content-Length: 5000\r\n");
	flow_with_socket(f, &r);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	req_segment(&r, r.spec.seq + (__u32)r.len + 100, "GET /v1/orders/");
	assert_int_equal(run_action(f, &r), XDP_PASS);
	/* nor bytes that cannot begin a request */
	req_raw(f, &r, false, "{\"a\":1}", 7);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	req_raw(f, &r, false, "FOO x", 5);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	req_raw(f, &r, false, "\r\n", 2);
	assert_int_equal(run_action(f, &r), XDP_PASS);
	assert_int_equal(requests_total(f), 0);
}

/* --- fixtures: limits ------------------------------------------------------ */

static void test_over_limit_then_refill(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b;
	char h[128];

	header_key(h, sizeof(h), KEY_TIGHT);
	for (int i = 0; i < 2; i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", h);
		assert_admitted(f, &r, C_TIGHT, PLAN_TIGHT, 6, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
				"/v1/orders/7");
	}
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_TIGHT, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_TIGHT, PLAN_TIGHT, &b));
	assert_int_equal(b.consumed_total, 2);
	assert_true(b.tokens_fp < TG_TOKEN_ONE);

	/* 10 tokens/s: 300 ms refill more than the burst of 2 */
	usleep(300 * 1000);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_TIGHT, PLAN_TIGHT, 6, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	assert_true(bucket_get(f, C_TIGHT, PLAN_TIGHT, &b));
	assert_true(b.tokens_fp <= 2 * TG_TOKEN_ONE);
	assert_int_equal(b.consumed_total, 3);
}

static void test_quota_exhausted(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b = { 0 };
	struct xdp_run run;
	struct pkt_http http;
	char h[128], value[64];

	b.tokens_fp = 100 * TG_TOKEN_ONE;
	b.last_ns = now_ns();
	b.flags = TG_BUCKET_QUOTA_EXHAUSTED;
	b.quota_retry_s = 86400;
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_QUOTA_EXHAUSTED, XDP_TX, 429, &run);
	assert_answer(&run, 429, &http);
	assert_int_equal(pkt_http_header(&http, "Retry-After", value, sizeof(value)), 1);
	assert_string_equal(value, "86400");
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.consumed_total, 0);
}

static void test_clock_backwards_empty(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b = { 0 };
	char h[128];

	b.tokens_fp = 0;
	b.last_ns = now_ns() + 1000 * NSEC_PER_SEC;
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.tokens_fp, 0);
	assert_int_equal(b.consumed_total, 0);
}

static void test_clock_backwards_two_tokens(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b = { 0 };
	char h[128];

	b.tokens_fp = 2 * TG_TOKEN_ONE;
	b.last_ns = now_ns() + 1000 * NSEC_PER_SEC;
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);

	header_key(h, sizeof(h), KEY_ACTIVE);
	for (int i = 0; i < 2; i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", h);
		assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
				"/v1/orders/7");
		assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
		/* no refill while the clock is behind last_ns */
		assert_int_equal(b.tokens_fp, (__u64)(1 - i) * TG_TOKEN_ONE);
	}
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_ACTIVE, PLAN_ORDERS, &b));
	assert_int_equal(b.tokens_fp, 0);
	assert_int_equal(b.consumed_total, 2);
}

/* The agent's writes go through tg_bucket_op: a lease adds to granted_total
 * and flags change in place, leaving the kernel's counts alone. */
static __s32 bucket_op(struct fixture *f, struct tg_bucket_op *op)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = op, .ctx_size_in = sizeof(*op));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.tg_bucket_op), &opts), 0);
	return op->result;
}

static void test_bucket_op(void **state)
{
	struct fixture *f = *state;
	struct tg_bucket_op op = { .key = { C_GLOBAL, PLAN_GLOBAL }, .grant = 3 };
	struct tg_bucket b;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_GLOBAL);
	/* no bucket yet: the op says so and creates nothing */
	assert_int_equal(bucket_op(f, &op), -2);
	assert_false(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	/* the first request makes the bucket (nothing granted: refused) */
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	/* a lease of 3: three admitted, the fourth refused */
	assert_int_equal(bucket_op(f, &op), 0);
	for (int i = 0; i < 3; i++) {
		req_init(f, &r, false, "GET", "/v2/users/1", h);
		assert_admitted(f, &r, C_GLOBAL, PLAN_GLOBAL, 5, API_USERS, ROUTE_USERS, TG_M_GET,
				"/v2/users/1");
	}
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	assert_int_equal(b.granted_total, 3);
	assert_int_equal(b.consumed_total, 3);
	/* quota_exhausted set in place: refused with its own verdict, counts kept */
	memset(&op, 0, sizeof(op));
	op.key = (struct tg_bucket_key){ C_GLOBAL, PLAN_GLOBAL };
	op.grant = 10;
	op.set_flags = TG_BUCKET_QUOTA_EXHAUSTED;
	op.quota_retry_s = 7200;
	assert_int_equal(bucket_op(f, &op), 0);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_QUOTA_EXHAUSTED, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	assert_int_equal(b.granted_total, 13);
	assert_int_equal(b.consumed_total, 3);
	assert_int_equal(b.quota_retry_s, 7200);
	/* and cleared */
	memset(&op, 0, sizeof(op));
	op.key = (struct tg_bucket_key){ C_GLOBAL, PLAN_GLOBAL };
	op.clear_flags = TG_BUCKET_QUOTA_EXHAUSTED;
	assert_int_equal(bucket_op(f, &op), 0);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_admitted(f, &r, C_GLOBAL, PLAN_GLOBAL, 5, API_USERS, ROUTE_USERS, TG_M_GET,
			"/v2/users/1");
}

/* Global scope: the token a request without a slot took goes back to the
 * lease (consumed_total), so the lease still covers as many requests. */
static void test_global_pending_full_gives_back(void **state)
{
	struct fixture *f = *state;
	struct tg_bucket_op op = { .key = { C_GLOBAL, PLAN_GLOBAL }, .grant = TG_FLOW_PENDING + 1 };
	struct tg_bucket b;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_GLOBAL);
	/* the first request makes the bucket (nothing granted yet: refused) */
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_int_equal(bucket_op(f, &op), 0);
	/* five on one connection: four slots; the fifth's token goes back */
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	send_on_conn(f, &r, "/v2/users/1", h, r.spec.sport, r.spec.seq, TG_FLOW_PENDING + 1);
	assert_true(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	assert_int_equal(b.consumed_total, TG_FLOW_PENDING);
	assert_int_equal(counters_get(f, C_GLOBAL, API_USERS).requests, TG_FLOW_PENDING);
	/* so the lease of five still admits one more, on another connection */
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_admitted(f, &r, C_GLOBAL, PLAN_GLOBAL, 5, API_USERS, ROUTE_USERS, TG_M_GET,
			"/v2/users/1");
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
}

static void test_global_plan(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b;
	char h[128];

	header_key(h, sizeof(h), KEY_GLOBAL);

	/* no lease yet: nothing available */
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);

	/* the agent leases 2 tokens */
	if (!bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b)) {
		memset(&b, 0, sizeof(b));
		b.last_ns = now_ns();
	}
	assert_int_equal(b.consumed_total, 0);
	b.granted_total = b.consumed_total + 2;
	bucket_put(f, C_GLOBAL, PLAN_GLOBAL, &b);

	for (int i = 0; i < 2; i++) {
		req_init(f, &r, false, "GET", "/v2/users/1", h);
		assert_admitted(f, &r, C_GLOBAL, PLAN_GLOBAL, 5, API_USERS, ROUTE_USERS, TG_M_GET,
				"/v2/users/1");
	}
	/* spent, and time does not refill a global bucket */
	usleep(50 * 1000);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_refused(f, &r, C_GLOBAL, API_USERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
	assert_true(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	assert_int_equal(b.consumed_total, 2);
	assert_int_equal(b.granted_total, 2);

	/* one more lease, one more request */
	b.granted_total += 1;
	bucket_put(f, C_GLOBAL, PLAN_GLOBAL, &b);
	req_init(f, &r, false, "GET", "/v2/users/1", h);
	assert_admitted(f, &r, C_GLOBAL, PLAN_GLOBAL, 5, API_USERS, ROUTE_USERS, TG_M_GET,
			"/v2/users/1");
	assert_true(bucket_get(f, C_GLOBAL, PLAN_GLOBAL, &b));
	assert_int_equal(b.consumed_total, 3);
	assert_int_equal(b.granted_total, 3);
}

static void test_source_limit(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	char h[128];
	__u64 limited;

	/* three keyless refusals from 10.0.0.2 are answered */
	for (int i = 0; i < 3; i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
	}
	/* then dropped, missing or unknown key alike */
	limited = stat_get(f, TG_S_SRC_LIMITED);
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	run_req(f, &r, &run);
	assert_int_equal(run.retval, XDP_DROP);
	header_key(h, sizeof(h), KEY_UNKNOWN);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	run_req(f, &r, &run);
	assert_int_equal(run.retval, XDP_DROP);
	header_key(h, sizeof(h), KEY_REVOKED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	run_req(f, &r, &run);
	assert_int_equal(run.retval, XDP_DROP);
	assert_int_equal(stat_get(f, TG_S_SRC_LIMITED), limited + 3);

	/* a refusal with a valid key is not keyless: still answered */
	header_key(h, sizeof(h), KEY_SUSPENDED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_SUSPENDED, API_ORDERS, TG_V_SUSPENDED, XDP_TX, 403, NULL);
	assert_int_equal(stat_get(f, TG_S_SRC_LIMITED), limited + 3);

	/* another source still gets its answer */
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	pkt_set_ipv4(&r.spec, "10.0.0.3", "10.0.0.1");
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);

	/* and a valid key from the limited source is admitted */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
}

/* --- fixtures: in-kernel answers ------------------------------------------- */

static void test_answer_401(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	struct pkt_http http;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.seq = 0xfffffff0; /* ack wraps around */
	r.spec.ack_seq = 0x7abcdef0;
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
	assert_answer(&run, 401, &http);
	assert_true(http.body_len > 0);
}

static void test_answer_ipv4_options(void **state)
{
	static const __u8 ip_opts[8] = { 0x94, 0x04, 0x00, 0x00, 1, 1, 1, 0 }; /* router alert */
	struct fixture *f = *state;
	struct req r;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.ip_options = ip_opts;
	r.spec.ip_options_len = sizeof(ip_opts);
	r.spec.ttl = 7;
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, NULL);
}

static void test_answer_401_ipv6(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_UNKNOWN);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_TX, 401, NULL);
}

static void test_answer_403_vlan(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_SUSPENDED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	r.spec.vlan = true;
	r.spec.vlan_tci = 0xa000 | 42;
	assert_refused(f, &r, C_SUSPENDED, API_ORDERS, TG_V_SUSPENDED, XDP_TX, 403, NULL);

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, true, "GET", "/v2/users", h);
	r.spec.vlan = true;
	r.spec.vlan_tci = 7;
	assert_refused(f, &r, C_ACTIVE, API_USERS, TG_V_FORBIDDEN_API, XDP_TX, 403, NULL);
}

static void test_answer_429_short_request(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct tg_bucket b = { 0 };
	char h[128];
	int n;

	/* the smallest request: the answer is longer than the frame it replaces */
	b.last_ns = now_ns();
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders", h);
	n = snprintf(r.payload, sizeof(r.payload), "GET /v1/orders HTTP/1.1\r\n%s\r\n", h);
	r.len = (size_t)n;
	r.spec.tcp_options_len = 0;
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);
}

static void test_reject_then_ack_is_rst(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run, next;
	struct pkt_view answer;
	__u64 resets;
	__u32 req_seq;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
	assert_int_equal(pkt_parse(run.out, run.out_len, &answer), 0);
	req_seq = r.spec.seq;
	resets = stat_get(f, TG_S_RESETS);

	/* the client acknowledges the answer and its FIN */
	r.spec.seq = req_seq + (__u32)r.len;
	r.spec.ack_seq = answer.seq + (__u32)answer.payload_len + 1;
	r.spec.tcp_flags = PKT_ACK;
	r.len = 0;
	run_req(f, &r, &next);
	assert_rst(&next, req_seq);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
	assert_int_equal(requests_total(f), 0);
}

/* The answered connection's slot of tg_rejhint says until when its
 * tg_rejects entry may live; a segment whose slot has passed is not looked
 * up (and so passes), one whose slot has not is. */
static void test_reject_hint(void **state)
{
	struct fixture *f = *state;
	int fd = bpf_map__fd(f->skel->maps.tg_rejhint);
	__u32 slots = bpf_map__max_entries(f->skel->maps.tg_rejhint), hot = 0, hot_slot = 0;
	__u64 until = 0, zero = 0, v;
	struct xdp_run run, next;
	struct pkt_view answer;
	struct req r, ack;
	__u64 resets;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
	assert_int_equal(pkt_parse(run.out, run.out_len, &answer), 0);
	for (__u32 i = 0; i < slots; i++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &i, &v), 0);
		if (v) {
			hot++;
			hot_slot = i;
			until = v;
		}
	}
	assert_int_equal(hot, 1);

	ack = r;
	ack.spec.seq = r.spec.seq + (__u32)r.len;
	ack.spec.ack_seq = answer.seq + (__u32)answer.payload_len + 1;
	ack.spec.tcp_flags = PKT_ACK;
	ack.len = 0;
	resets = stat_get(f, TG_S_RESETS);
	assert_int_equal(bpf_map_update_elem(fd, &hot_slot, &zero, BPF_ANY), 0);
	run_req(f, &ack, &next);
	assert_pass_untouched(&next);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets);

	assert_int_equal(bpf_map_update_elem(fd, &hot_slot, &until, BPF_ANY), 0);
	run_req(f, &ack, &next);
	assert_rst(&next, r.spec.seq);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
}

/*
 * assert_to_client() - @run answered the client segment in the server's
 * place (assert_sent_back): @flags only, ack = @ack where @flags has ACK,
 * no payload; an ACK echoes the segment's timestamps (PAWS lets it in).
 */
static void assert_to_client(const struct xdp_run *run, __u8 flags, __u32 ack)
{
	struct pkt_view in, out;

	assert_sent_back(run, &in, &out);
	assert_int_equal(out.tcp_flags, flags);
	assert_int_equal(out.payload_len, 0);
	if (flags & PKT_ACK) {
		const __u8 *opt = out.frame + out.l4_off + 20, *in_opt = in.frame + in.l4_off + 20;

		assert_int_equal(out.ack_seq, ack);
		/* the fixtures' segments carry timestamps: echoed, swapped */
		assert_int_equal(out.tcp_hdr_len, 32);
		assert_memory_equal(opt, "\x01\x01\x08\x0a", 4);
		assert_memory_equal(opt + 4, in_opt + 8, 4);
		assert_memory_equal(opt + 8, in_opt + 4, 4);
	} else {
		assert_int_equal(out.tcp_hdr_len, 20);
	}
}

/* How many slots of tg_rejhint are not 0. */
static __u32 rejhint_written(struct fixture *f)
{
	int fd = bpf_map__fd(f->skel->maps.tg_rejhint);
	__u32 slots = bpf_map__max_entries(f->skel->maps.tg_rejhint), n = 0;
	__u64 v;

	for (__u32 i = 0; i < slots; i++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &i, &v), 0);
		n += v != 0;
	}
	return n;
}

/*
 * Once the server's socket is reset, the client's later segments are
 * answered in its place: data gets a RST; a bare ACK, nothing; the
 * client's RST goes on to the server; its FIN (sent again, as the first
 * one went into the RST) gets its ACK, so the client's socket leaves
 * LAST-ACK at once and frees its port. The client is done then: the entry
 * goes, and its tg_rejhint slot is 0 again, so that in a flood of refusals
 * other connections' segments do not look in tg_rejects for the rest of
 * the entry's minute; that FIN sent again reaches the server's TCP, which
 * has no socket for it. IPv4 and IPv6 (with a VLAN tag).
 */
static void test_reject_then_fin_is_acked(void **state)
{
	struct fixture *f = *state;
	struct tg_reject rej;
	struct xdp_run run, next;
	struct pkt_view answer;
	struct req r;
	__u32 req_seq, fin_seq;
	__u64 resets;

	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		req_init(f, &r, ipv6, "GET", "/v1/orders/7", NULL);
		r.spec.vlan = ipv6;
		r.spec.vlan_tci = 300;
		assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
		assert_int_equal(pkt_parse(run.out, run.out_len, &answer), 0);
		assert_int_equal(rejhint_written(f), 1);
		req_seq = r.spec.seq;
		fin_seq = req_seq + (__u32)r.len;
		resets = stat_get(f, TG_S_RESETS);

		/* the client acknowledges the answer with its own FIN: the
		 * server gets the RST */
		r.spec.seq = fin_seq;
		r.spec.ack_seq = answer.seq + (__u32)answer.payload_len + 1;
		r.spec.tcp_flags = PKT_FIN | PKT_ACK;
		r.len = 0;
		run_req(f, &r, &next);
		assert_rst(&next, req_seq);
		assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
		assert_true(reject_get(f, &r.spec, &rej));
		assert_int_equal(rej.flags & TG_REJECT_RESET, TG_REJECT_RESET);

		/* a bare ACK: dropped */
		r.spec.seq = fin_seq + 1;
		r.spec.tcp_flags = PKT_ACK;
		run_req(f, &r, &next);
		assert_int_equal(next.retval, XDP_DROP);

		/* data, the request again: a RST */
		r.spec.seq = req_seq;
		r.spec.tcp_flags = PKT_PSH | PKT_ACK;
		r.len = (size_t)snprintf(r.payload, sizeof(r.payload),
					 "GET /v1/orders/7 HTTP/1.1\r\nHost: a\r\n\r\n");
		run_req(f, &r, &next);
		assert_to_client(&next, PKT_RST, 0);

		/* the client's RST: on to the server as it is (a socket the
		 * RST from XDP missed is freed by it) */
		r.spec.seq = fin_seq + 1;
		r.spec.tcp_flags = PKT_RST;
		r.len = 0;
		run_req(f, &r, &next);
		assert_pass_untouched(&next);
		assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
		assert_true(reject_get(f, &r.spec, &rej));

		/* the FIN again: its ACK, the server left alone; the entry
		 * and its slot go */
		r.spec.seq = fin_seq;
		r.spec.tcp_flags = PKT_FIN | PKT_ACK;
		run_req(f, &r, &next);
		assert_to_client(&next, PKT_ACK, fin_seq + 1);
		assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
		assert_false(reject_get(f, &r.spec, &rej));
		assert_int_equal(rejhint_written(f), 0);

		/* that ACK lost, the FIN once more: on to the server's TCP */
		run_req(f, &r, &next);
		assert_pass_untouched(&next);
		assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
		assert_int_equal(requests_total(f), 0);
	}
}

/* Flow @spec's slot of tg_rejhint and its tag, as tg_xdp makes them. */
static __u32 rejhint_slot(const struct pkt_spec *spec, __u32 *ret_tag)
{
	struct tg_flow_key fk;

	flow_key_of(spec, &fk);
	return tg_rejhint_index(&fk, ret_tag);
}

/*
 * A refused connection's tg_rejhint slot holds its tag: another flow of the
 * slot is not looked up in tg_rejects (an entry put there for it from
 * here is not seen: its request is admitted). Two refused connections of
 * one slot at once make it a slot for any flow (the second one's entry is
 * then seen), which the first one's answered FIN does not clear.
 */
static void test_reject_hint_tagged(void **state)
{
	struct fixture *f = *state;
	int fd = bpf_map__fd(f->skel->maps.tg_rejhint);
	struct tg_reject rej = { .flags = TG_REJECT_RESET };
	struct tg_flow_key fk;
	struct xdp_run run, next;
	struct pkt_view answer;
	struct req a, b;
	struct timespec ts;
	__u32 slot, tag, tag_b, a_seq, tries = 0;
	__u64 v, coarse;
	char h[128];

	req_init(f, &a, false, "GET", "/v1/orders/7", NULL);
	assert_refused(f, &a, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
	assert_int_equal(pkt_parse(run.out, run.out_len, &answer), 0);
	slot = rejhint_slot(&a.spec, &tag);
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
	assert_true(v >> 63);
	assert_int_equal((v >> 40) & ((1U << 23) - 1), tag);

	/* b: another client port of the same slot, with another tag */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &b, false, "GET", "/v1/orders/7", h);
	while (rejhint_slot(&b.spec, &tag_b) != slot || tag_b == tag) {
		b.spec.sport++;
		assert_true(++tries < 65536);
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	rej.expires_ns = now_ns() + 60000000000ULL;
	flow_key_of(&b.spec, &fk);
	assert_int_equal(bpf_map_update_elem(f->rejects_fd, &fk, &rej, BPF_ANY), 0);
	assert_admitted(f, &b, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");

	/* b refused too while a's entry is live: the slot is for any flow */
	assert_int_equal(bpf_map_delete_elem(f->rejects_fd, &fk), 0);
	b.spec.seq += (__u32)b.len;
	b.len = (size_t)snprintf(b.payload, sizeof(b.payload),
				 "GET /v1/orders/8 HTTP/1.1\r\nHost: a\r\n\r\n");
	run_req(f, &b, &next);
	assert_int_equal(next.retval, XDP_TX);
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
	coarse = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	assert_false(v >> 63);
	assert_true(v >= coarse + 60000000000ULL);

	/* a's client done (its FIN into the RST, then again, answered): a's
	 * entry goes, the slot stays for b */
	a_seq = a.spec.seq;
	a.spec.seq += (__u32)a.len;
	a.spec.ack_seq = answer.seq + (__u32)answer.payload_len + 1;
	a.spec.tcp_flags = PKT_FIN | PKT_ACK;
	a.len = 0;
	run_req(f, &a, &next);
	assert_rst(&next, a_seq);
	run_req(f, &a, &next);
	assert_to_client(&next, PKT_ACK, a.spec.seq + 1);
	assert_false(reject_get(f, &a.spec, &rej));
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
	assert_false(v >> 63);
	assert_true(v >= coarse + 60000000000ULL);
	assert_true(reject_get(f, &b.spec, &rej));
}

/*
 * A SYN on an answered connection's ports opens a new connection: the
 * entry goes, and the new connection's segments reach the server as they
 * are (the client, its FIN acknowledged, may take the port again at once).
 */
static void test_reject_then_syn_is_new(void **state)
{
	struct fixture *f = *state;
	struct tg_reject rej;
	struct xdp_run run, next;
	struct req r, syn;
	__u64 resets;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_TX, 401, &run);
	resets = stat_get(f, TG_S_RESETS);

	/* a SYN-ACK from the client's side is not a new connection */
	syn = r;
	syn.len = 0;
	syn.spec.seq = 777000;
	syn.spec.ack_seq = 0;
	syn.spec.tcp_flags = PKT_SYN | PKT_ACK;
	run_req(f, &syn, &next);
	assert_pass_untouched(&next);
	assert_true(reject_get(f, &r.spec, &rej));

	syn.spec.tcp_flags = PKT_SYN;
	run_req(f, &syn, &next);
	assert_pass_untouched(&next);
	assert_false(reject_get(f, &r.spec, &rej));

	/* the new connection's handshake ACK and request pass */
	syn.spec.seq = 777001;
	syn.spec.ack_seq = 90001;
	syn.spec.tcp_flags = PKT_ACK;
	run_req(f, &syn, &next);
	assert_pass_untouched(&next);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets);
}

/*
 * The refused request sent again (its answer lost), while the server's
 * socket is still there: decided again and answered again, not turned
 * into a RST; other data is. Once the socket is reset, the request again
 * gets a RST. IPv6 with a VLAN tag.
 */
static void test_reject_then_request_again_ipv6(void **state)
{
	struct fixture *f = *state;
	struct tg_reject rej;
	struct pkt_view answer;
	struct xdp_run run;
	struct req r, more;
	char h[128];
	__u64 resets;

	header_key(h, sizeof(h), KEY_REVOKED);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	r.spec.vlan = true;
	r.spec.vlan_tci = 300;
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, &run);
	assert_int_equal(pkt_parse(run.out, run.out_len, &answer), 0);
	resets = stat_get(f, TG_S_RESETS);

	/* the request again: answered again, refused (and counted) again */
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_TX, 401, NULL);
	assert_int_equal(counters_get(f, C_REVOKED, API_ORDERS).refused[TG_V_REVOKED_KEY], 2);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets);

	/* bytes behind it: the server gets its RST */
	more = r;
	more.spec.seq = r.spec.seq + (__u32)r.len;
	run_req(f, &more, &run);
	assert_rst(&run, r.spec.seq);
	assert_int_equal(stat_get(f, TG_S_RESETS), resets + 1);
	assert_true(reject_get(f, &r.spec, &rej));
	assert_int_equal(rej.flags & TG_REJECT_RESET, TG_REJECT_RESET);

	/* now the request again: a RST back, as from a server with no socket */
	run_req(f, &r, &run);
	assert_to_client(&run, PKT_RST, 0);
	assert_int_equal(counters_get(f, C_REVOKED, API_ORDERS).refused[TG_V_REVOKED_KEY], 2);
}

/*
 * A request refused over its limit, sent again once a token is there: it
 * is admitted and reaches the server, whose socket was left alone, and
 * the connection goes on (its next segment is not turned into a RST).
 */
static void test_reject_then_request_again_admitted(void **state)
{
	struct fixture *f = *state;
	struct tg_bucket b = { 0 };
	struct tg_reject rej;
	struct xdp_run run;
	struct req r, ack;
	char h[128];

	b.last_ns = now_ns();
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_OVER_LIMIT, XDP_TX, 429, NULL);

	b.tokens_fp = TG_TOKEN_ONE;
	b.last_ns = now_ns();
	bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);
	assert_admitted(f, &r, C_ACTIVE, PLAN_ORDERS, 1, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
			"/v1/orders/7");
	assert_false(reject_get(f, &r.spec, &rej));

	ack = r;
	ack.spec.seq = r.spec.seq + (__u32)r.len;
	ack.spec.tcp_flags = PKT_ACK;
	ack.len = 0;
	run_req(f, &ack, &run);
	assert_pass_untouched(&run);
}

/* --- fixtures: actions other than reject ---------------------------------- */

/* A request a pass action lets through: its body, where its head gives
 * the length, is not taken for requests (here one whose unknown key the
 * mixed actions drop). */
static void test_action_pass_body(void **state)
{
	struct fixture *f = *state;
	struct req r;
	__u32 body_at;

	req_init(f, &r, false, "POST", "/v1/orders", "Content-Length: 2000\r\n");
	flow_with_socket(f, &r);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_PASS, 0, NULL);
	body_at = r.spec.seq + (__u32)r.len;
	assert_body_passed(f, &r, body_at, LOOKALIKE);
	assert_body_passed(f, &r, body_at + 1999, "G");

	/* after its end: a request again, dropped */
	req_segment(&r, body_at + 2000, LOOKALIKE);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_DROP, 0, NULL);
}

static void test_action_pass(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_PASS, 0, NULL);

	header_key(h, sizeof(h), KEY_SUSPENDED);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_SUSPENDED, API_ORDERS, TG_V_SUSPENDED, XDP_PASS, 0, NULL);
	assert_int_equal(counters_get(f, C_SUSPENDED, API_ORDERS).requests, 0);

	/* over the limit, passed: counted as refused, not charged */
	header_key(h, sizeof(h), KEY_TIGHT);
	for (int i = 0; i < 2; i++) {
		req_init(f, &r, false, "GET", "/v1/orders/7", h);
		assert_admitted(f, &r, C_TIGHT, PLAN_TIGHT, 6, API_ORDERS, ROUTE_ORDERS, TG_M_GET,
				"/v1/orders/7");
	}
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_TIGHT, API_ORDERS, TG_V_OVER_LIMIT, XDP_PASS, 0, NULL);
	{
		struct tg_bucket b;

		assert_true(bucket_get(f, C_TIGHT, PLAN_TIGHT, &b));
		assert_int_equal(b.consumed_total, 2);
	}
}

static void test_action_drop(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_UNKNOWN);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, 0, API_ORDERS, TG_V_UNKNOWN_KEY, XDP_DROP, 0, NULL);

	header_key(h, sizeof(h), KEY_REVOKED);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_REVOKED, API_ORDERS, TG_V_REVOKED_KEY, XDP_DROP, 0, NULL);

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, true, "GET", "/v2/users", h);
	assert_refused(f, &r, C_ACTIVE, API_USERS, TG_V_FORBIDDEN_API, XDP_DROP, 0, NULL);

	{
		struct tg_bucket b = { 0 };

		b.tokens_fp = 100 * TG_TOKEN_ONE;
		b.last_ns = now_ns();
		b.flags = TG_BUCKET_QUOTA_EXHAUSTED;
		b.quota_retry_s = 3600;
		bucket_put(f, C_ACTIVE, PLAN_ORDERS, &b);
	}
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	assert_refused(f, &r, C_ACTIVE, API_ORDERS, TG_V_QUOTA_EXHAUSTED, XDP_DROP, 0, NULL);
}

static void test_key_in_second_segment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	char h[128];
	int n;

	/* the first segment ends before the headers do and holds no key */
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	n = snprintf(r.payload, sizeof(r.payload),
		     "GET /v1/orders/7 HTTP/1.1\r\nHost: api.example.com\r\n");
	r.len = (size_t)n;
	assert_refused(f, &r, 0, API_ORDERS, TG_V_MISSING_KEY, XDP_PASS, 0, NULL);

	/* the key follows in the next segment: not a request, not admitted */
	r.spec.seq += (__u32)r.len;
	header_key(h, sizeof(h), KEY_ACTIVE);
	n = snprintf(r.payload, sizeof(r.payload), "%s\r\n", h);
	r.len = (size_t)n;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 0);
	assert_int_equal(requests_total(f), 0);
}

/* --- fixtures: what tg_xdp leaves alone or refuses to parse -------------- */

static void test_non_request(void **state)
{
	static const char *const payloads[] = {
		"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit\r\n",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
		"FETCH me/v1/orders HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		__u64 non_request = stat_get(f, TG_S_NON_REQUEST);

		req_raw(f, &r, i % 2, payloads[i], strlen(payloads[i]));
		run_req(f, &r, &run);
		assert_pass_untouched(&run);
		if (stat_get(f, TG_S_NON_REQUEST) != non_request + 1)
			fail_msg("payload %zu ('%.12s...') not counted as non-request", i,
				 payloads[i]);
	}
	assert_int_equal(requests_total(f), 0);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(refused_total(f, v), 0);
}

static void test_other_port(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	__u64 api_segments = stat_get(f, TG_S_API_SEGMENTS);

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.dport = OTHER_PORT;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	req_init(f, &r, true, "GET", "/v1/orders/7", NULL);
	r.spec.dport = OTHER_PORT;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	/* a response from the API server (source port 8080) is not a request */
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.sport = API_PORT;
	r.spec.dport = 40123;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	assert_int_equal(stat_get(f, TG_S_API_SEGMENTS), api_segments);
	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), 0);
}

static void test_not_tcp(void **state)
{
	static const __u8 arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 0, 0, 2 };
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;

	/* UDP to the API port, IPv4 and IPv6 */
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.l4_proto = PKT_IPPROTO_UDP;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	req_init(f, &r, true, "GET", "/v1/orders/7", NULL);
	r.spec.l4_proto = PKT_IPPROTO_UDP;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	/* ARP, with and without a VLAN tag */
	req_raw(f, &r, false, arp, sizeof(arp));
	r.spec.eth_proto = PKT_ETH_P_ARP;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);
	r.spec.vlan = true;
	r.spec.vlan_tci = 5;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), 0);
}

static void test_bare_ack(void **state)
{
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;

	req_raw(f, &r, false, "", 0);
	r.spec.tcp_flags = PKT_ACK;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	r.spec.tcp_flags = PKT_SYN;
	r.spec.ack_seq = 0;
	run_req(f, &r, &run);
	assert_pass_untouched(&run);

	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), 0);
	assert_int_equal(requests_total(f), 0);
}

/* A fragment carrying a request with a valid key is missing_key, and a
 * reject becomes a drop. */
static void assert_fragment_dropped(struct fixture *f, struct req *r)
{
	__u64 missing = refused_total(f, TG_V_MISSING_KEY);
	__u64 fragments = stat_get(f, TG_S_FRAGMENTS);
	struct tg_reject rej;
	struct xdp_run run;

	run_req(f, r, &run);
	if (run.retval != XDP_DROP)
		fail_msg("fragment: expected XDP_DROP, got action %u", run.retval);
	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), missing + 1);
	assert_int_equal(stat_get(f, TG_S_FRAGMENTS), fragments + 1);
	assert_int_equal(requests_total(f), 0);
	assert_false(reject_get(f, &r->spec, &rej));
}

/*
 * A fragment after the first carries no TCP header: its port is unknown, so
 * it is passed untouched (it may belong to any TCP service). Dropping the
 * first fragment already keeps the datagram from being reassembled.
 */
static void assert_later_fragment_passed(struct fixture *f, struct req *r)
{
	__u64 missing = refused_total(f, TG_V_MISSING_KEY);
	struct xdp_run run;

	run_req(f, r, &run);
	if (run.retval != XDP_PASS)
		fail_msg("later fragment: expected XDP_PASS, got action %u", run.retval);
	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), missing);
	assert_int_equal(requests_total(f), 0);
}

static void test_ipv4_first_fragment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	r.spec.frag_off = PKT_IP_MF;
	assert_fragment_dropped(f, &r);
}

static void test_ipv4_last_fragment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	/* offset set, MF clear: what follows the IP header only looks like TCP */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	r.spec.frag_off = 185;
	assert_later_fragment_passed(f, &r);
}

static void test_ipv6_fragment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	r.spec.frag_hdr = true;
	r.spec.frag_more = true;
	r.spec.frag_id = 0xdeadbeef;
	assert_fragment_dropped(f, &r);
}

static void test_ipv6_later_fragment(void **state)
{
	struct fixture *f = *state;
	struct req r;
	char h[128];

	/* a fragment header with an offset: what follows only looks like TCP */
	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, true, "GET", "/v1/orders/7", h);
	r.spec.frag_hdr = true;
	r.spec.frag_offset = 185;
	r.spec.frag_id = 0xdeadbeef;
	assert_later_fragment_passed(f, &r);
}

static void test_tfo_syn_with_data(void **state)
{
	/* TFO cookie option (kind 34, 8-byte cookie) padded with NOPs */
	static const __u8 tfo[12] = { 34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1 };
	struct fixture *f = *state;
	struct req r;
	struct xdp_run run;
	char h[128];
	__u64 missing = refused_total(f, TG_V_MISSING_KEY);

	header_key(h, sizeof(h), KEY_ACTIVE);
	req_init(f, &r, false, "GET", "/v1/orders/7", h);
	r.spec.tcp_flags = PKT_SYN;
	r.spec.ack_seq = 0;
	r.spec.tcp_options = tfo;
	r.spec.tcp_options_len = sizeof(tfo);
	run_req(f, &r, &run);
	/* refused (reject): answered or dropped, never passed */
	if (run.retval != XDP_DROP && run.retval != XDP_TX)
		fail_msg("TFO SYN with data: expected XDP_DROP or XDP_TX, got action %u",
			 run.retval);
	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), missing + 1);
	assert_int_equal(counters_get(f, C_ACTIVE, API_ORDERS).requests, 0);
	assert_int_equal(requests_total(f), 0);
	print_message("      TFO SYN with data under reject: %s\n",
		      run.retval == XDP_TX ? "XDP_TX" : "XDP_DROP");
}

/* A malformed frame passes untouched and counts as a parse failure. */
static void assert_parse_fail(struct fixture *f, struct req *r)
{
	__u64 fails = stat_get(f, TG_S_PARSE_FAIL);
	struct xdp_run run;

	run_req(f, r, &run);
	assert_pass_untouched(&run);
	assert_int_equal(stat_get(f, TG_S_PARSE_FAIL), fails + 1);
	assert_int_equal(requests_total(f), 0);
	assert_int_equal(refused_total(f, TG_V_MISSING_KEY), 0);
}

static void test_truncated_ipv4_header(void **state)
{
	struct fixture *f = *state;
	struct req r;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.truncate = 14 + 12;
	assert_parse_fail(f, &r);

	/* behind a VLAN tag, and IPv6 */
	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.vlan = true;
	r.spec.truncate = 18 + 19;
	assert_parse_fail(f, &r);
	req_init(f, &r, true, "GET", "/v1/orders/7", NULL);
	r.spec.truncate = 14 + 39;
	assert_parse_fail(f, &r);
}

static void test_truncated_tcp_header(void **state)
{
	struct fixture *f = *state;
	struct req r;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.truncate = 14 + 20 + 12;
	assert_parse_fail(f, &r);

	req_init(f, &r, true, "GET", "/v1/orders/7", NULL);
	r.spec.truncate = 14 + 40 + 19;
	assert_parse_fail(f, &r);
}

static void test_bad_ihl(void **state)
{
	struct fixture *f = *state;
	struct req r;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.ihl_override = 4;
	assert_parse_fail(f, &r);

	/* IHL 15 (60 bytes) reaches past this short frame */
	req_raw(f, &r, false, "", 0);
	r.spec.tcp_options_len = 0;
	r.spec.ihl_override = 15;
	assert_parse_fail(f, &r);
}

static void test_bad_doff(void **state)
{
	struct fixture *f = *state;
	struct req r;

	req_init(f, &r, false, "GET", "/v1/orders/7", NULL);
	r.spec.doff_override = 4;
	assert_parse_fail(f, &r);

	/* data offset 60 bytes in a 32-byte segment */
	req_raw(f, &r, true, "", 0);
	r.spec.doff_override = 15;
	assert_parse_fail(f, &r);
}

/* --- packet builder self-check ------------------------------------------------ */

static void test_builder_checksums(void **state)
{
	struct pkt_spec spec;
	struct pkt_view v;
	__u8 frame[PKT_MAX];
	size_t len;
	const char *payload = "GET / HTTP/1.1\r\n\r\n!"; /* odd length */

	(void)state;
	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		pkt_spec_init(&spec, ipv6);
		spec.vlan = ipv6;
		spec.payload = payload;
		spec.payload_len = strlen(payload);
		assert_int_equal(pkt_build(&spec, frame, sizeof(frame), &len), 0);
		assert_int_equal(pkt_parse(frame, len, &v), 0);
		assert_int_equal(v.payload_len, strlen(payload));
		assert_int_equal(v.sport, 40000);
		assert_int_equal(v.dport, 8080);
		if (!ipv6)
			assert_true(pkt_ipv4_csum_ok(&v));
		assert_true(pkt_tcp_csum_ok(&v));
		/* a flipped payload bit breaks the TCP checksum */
		frame[len - 1] ^= 1;
		assert_false(pkt_tcp_csum_ok(&v));
	}
}

/* libbpf messages: warnings only, and of a verifier log only its end (the
 * reason a load failed), so one failing setup does not bury the report. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char msg[1 << 16];
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vsnprintf(msg, sizeof(msg), fmt, args);
	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (n > 4000)
		return fprintf(stderr, "libbpf: [...]%s", msg + n - 4000);
	return fprintf(stderr, "libbpf: %s", msg);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_reject, fixture_teardown)
#define T_MIXED(name) cmocka_unit_test_setup_teardown(name, setup_mixed, fixture_teardown)
#define T_SRC(name) cmocka_unit_test_setup_teardown(name, setup_srclimit, fixture_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_checksums),
		T(test_admitted),
		T(test_admitted_exact_route_and_query),
		T(test_admitted_methods),
		T(test_admitted_ipv4_options),
		T(test_admitted_ipv6),
		T(test_admitted_vlan),
		T(test_header_name_case_and_trim),
		T(test_bearer),
		T(test_x_api_key_preferred_over_bearer),
		T(test_leading_crlf),
		T(test_keepalive_second_request),
		T(test_keepalive_key_changes),
		T(test_pending_ring_full_then_freed),
		T(test_key_cache_follows_generation),
		T(test_key_cache_shared_slot),
		T(test_key_cache_two_ways),
		T(test_retransmission_not_charged),
		T(test_retransmission_across_seq_wrap),
		T(test_retransmission_decided_again),
		T(test_beyond_public_resend_refused),
		T(test_retransmission_tcp_took),
		T(test_body_in_second_segment),
		T(test_new_connection_on_old_tuple),
		T(test_unsure_framing_skips_nothing),
		T_MIXED(test_lookalike_cannot_open_a_window),
		T(test_body_that_begins_like_a_request),
		T(test_open_body_until_answered),
		T(test_public_route_body),
		T(test_public_route_unknown_end_needs_a_key),
		T_MIXED(test_passed_chunked_body_is_not_followed),
		T(test_chunked_body_read_to_its_end),
		T_MIXED(test_request_behind_chunked_body_is_decided),
		T(test_chunked_body_not_followed),
		T(test_chunked_body_followed_across_segments),
		T(test_chunked_body_followed_admitted),
		T(test_chunked_body_followed_then_lost),
		T(test_chunked_body_gap_and_resend),
		T(test_chunked_body_resend_tcp_took),
		T(test_request_behind_a_body_end),
		T(test_missing_key),
		T(test_unknown_key),
		T(test_negative_key),
		T(test_revoked_key),
		T(test_suspended),
		T(test_forbidden_api),
		T(test_key_beyond_scan_window),
		T(test_key_inside_scan_window),
		T(test_longest_prefix),
		T(test_route_boundary),
		T(test_public_route),
		T(test_public_route_on_a_consumers_connection),
		T(test_request_line_not_read),
		T(test_path_not_its_route),
		T(test_other_methods),
		T(test_request_behind_a_public_one),
		T(test_admitted_behind_a_public_one),
		T(test_public_requests_pipelined),
		T(test_requests_behind_an_admitted_one),
		T(test_pipelined_segments_at_random),
		T(test_over_limit_then_refill),
		T(test_quota_exhausted),
		T(test_clock_backwards_empty),
		T(test_clock_backwards_two_tokens),
		T(test_global_plan),
		T(test_global_pending_full_gives_back),
		T(test_bucket_op),
		T_SRC(test_source_limit),
		T(test_answer_401),
		T(test_answer_ipv4_options),
		T(test_answer_401_ipv6),
		T(test_answer_403_vlan),
		T(test_answer_429_short_request),
		T(test_reject_then_ack_is_rst),
		T(test_reject_hint),
		T(test_reject_hint_tagged),
		T(test_reject_then_request_again_ipv6),
		T(test_reject_then_request_again_admitted),
		T(test_reject_then_fin_is_acked),
		T(test_reject_then_syn_is_new),
		T_MIXED(test_action_pass),
		T_MIXED(test_action_pass_body),
		T_MIXED(test_action_drop),
		T_MIXED(test_key_in_second_segment),
		T(test_non_request),
		T(test_other_port),
		T(test_not_tcp),
		T(test_bare_ack),
		T(test_ipv4_first_fragment),
		T(test_ipv4_last_fragment),
		T(test_ipv6_fragment),
		T(test_ipv6_later_fragment),
		T(test_tfo_syn_with_data),
		T(test_truncated_ipv4_header),
		T(test_truncated_tcp_header),
		T(test_bad_ihl),
		T(test_bad_doff),
	};
#undef T
#undef T_MIXED
#undef T_SRC

	if (geteuid() != 0) {
		fprintf(stderr, "test-xdp-fixtures: needs root (CAP_BPF, CAP_NET_ADMIN)\n");
		return 77;
	}
	libbpf_set_print(libbpf_print);
	/* TG_FIXTURES=test_bearer (a cmocka pattern, * and ?) runs a subset */
	if (getenv("TG_FIXTURES"))
		cmocka_set_test_filter(getenv("TG_FIXTURES"));
	return cmocka_run_group_tests_name("tg_xdp fixtures", tests, NULL, NULL);
}
