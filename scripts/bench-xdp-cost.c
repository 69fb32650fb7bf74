/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bench-xdp-cost.c - what tg_xdp costs per packet, as the difference to the
 * no-op XDP program on the same frames (DESIGN §10), with BPF_PROG_TEST_RUN.
 *
 *   bench-xdp-cost [--repeat N] [--noop PATH] [--json PATH] [--profile S [--cold|--first]]
 *
 * Cases (the header and payload sizes are printed with the figures):
 *   admitted request, first on its     ~400 header bytes, host-scope plan with
 *   connection                         a huge rate; the flow is empty, as
 *                                      tg_sockops makes it at the handshake;
 *                                      the key is in this CPU's tg_keycache
 *   ... key not cached                 the same after a change of keys (tg_gen
 *                                      bumped): SipHash, key and plan lookups
 *   admitted request, no flow yet      the same when tg_xdp must make the flow
 *                                      (and its timer) itself: connections
 *                                      outside agent.cgroup
 *   admitted request, kept-alive       the same on a connection whose earlier
 *                                      requests were answered (the flow changed
 *                                      in place, bench_state.bpf.c)
 *   ... caches cold                    the same after the CPU's caches were
 *                                      flushed by writing 64 MiB: a request at
 *                                      a low rate, whose maps and code other
 *                                      work has evicted since the last one
 *   refused over_limit (reject)        another key whose bucket is empty: the
 *                                      429 is written and XDP_TX'd
 *   retransmitted request              the admitted frame again (not charged)
 *   non-request segment                a ~1400-byte body segment
 *   non-request, rejects in use        the same, of another connection, once
 *                                      one was answered in-kernel (tg_rejects
 *                                      is in use; tg_rejhint spares the lookup)
 *   ..., refusal flood                 that segment and the kept-alive request
 *                                      with every tg_rejhint slot live, as a
 *                                      minute of many refused connections
 *                                      leaves them: each another's, or for
 *                                      any connection (two at once)
 *
 * Then the floor (bench_state.bpf.c's bench_floor): the steps of the
 * kept-alive request that any program enforcing DESIGN §3 takes, whatever
 * it does around them, on the same frame and tollgate's own maps and keys:
 * the copy of the request, the clock, the tg_flows, tg_routes, tg_buckets
 * and tg_counters lookups, the bucket's lock, the counters' atomic add;
 * each alone, and all of them as the kept-alive row is measured, so that
 * what is left of that row is the rest of tg_xdp (parsing, the key cache,
 * the flow's state).
 *
 * Stateless cases run as one test run of N repeats (default 1e6); the kernel
 * returns the mean ns per repeat. Stateful cases change their own outcome
 * (the flow, the reject entry, the rewritten frame), so each sample is a test
 * run of one repeat with the state reset in between, N / 10 samples, and the
 * figure is their median; the no-op program is measured the same way for
 * them (the cold case: 301 samples, each program after its own flush).
 * Each program is also checked to take the intended path (its return code
 * and tg_stats), so a figure never describes a different branch.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpf/tollgate_abi.h"
#include "bpf/lib/rejhint.h"
#include "bpf/bench_floor.h"
#include "lib/keydigest.h"
#include "packet.h"
#include "bench_state.skel.h"
#include "tollgate.skel.h"

#define BENCH_PORT 8080
#define BENCH_CLIENT_PORT 40000 /* pkt_spec_init()'s */
#define BENCH_API_ID 1
#define BENCH_ROUTE_ID 1
#define BENCH_PLAN_OPEN 1  /* huge rate: always admitted */
#define BENCH_PLAN_EMPTY 2 /* no tokens, refills ~never */
#define BENCH_SECRET_VERSION 1

static const char KEY_OPEN[] = "tg_1benchAdmittedKey00000000000000000000000";
static const char KEY_EMPTY[] = "tg_1benchRefusedKey000000000000000000000000";
static const uint8_t SECRET[16] = { 0x5e, 0xc7, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e };

struct frame {
	uint8_t buf[PKT_MAX];
	size_t len;
	size_t payload_len;
	size_t header_bytes; /* HTTP request line + headers, 0 for a body */
};

struct result {
	const char *name;
	const char *method; /* "mean of N repeats" or "median of N runs" */
	size_t frame_len;
	size_t payload_len;
	size_t header_bytes;
	double tg_ns;
	double noop_ns;
	double target_ns; /* 0 = none */
	bool floor;	  /* a row of the floor table (bench_floor) */
};

static struct result results[32];
static int n_results;

static int die(const char *what, int err)
{
	fprintf(stderr, "bench-xdp-cost: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

#define BENCH_REQ_SEQ 1000 /* pkt_spec_init()'s: the requests' sequence */
#define CHUNK_BODY_SEQ 300000

/* Frame @f: an IPv4 segment of client port @sport at @seq carrying
 * @payload's @n bytes, of which @head_bytes are an HTTP head. */
static void build_frame(struct frame *f, const char *payload, size_t n, size_t head_bytes,
			__u16 sport, __u32 seq, const char *what)
{
	struct pkt_spec spec;

	pkt_spec_init(&spec, false);
	spec.sport = sport;
	spec.seq = seq;
	spec.payload = payload;
	spec.payload_len = n;
	if (pkt_build(&spec, f->buf, sizeof(f->buf), &f->len))
		die(what, EINVAL);
	f->payload_len = n;
	f->header_bytes = head_bytes;
}

/* A request head of about 400 bytes with the key near the end, as clients
 * usually send it (after Host, User-Agent, Accept...): @method, and the
 * header line @line among the others. Returns its length. */
static int request_head(char *buf, size_t size, const char *method, const char *line,
			const char *key)
{
	int n = snprintf(buf, size,
			 "%s /v1/orders/12345?expand=items,customer HTTP/1.1\r\n"
			 "Host: api.example.com\r\n"
			 "User-Agent: example-sdk/2.4.1 (linux; x86_64) python/3.11\r\n"
			 "Accept: application/json\r\n"
			 "%s\r\n"
			 "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
			 "X-Request-Id: 7b2e5c1a-93f0-4d8e-b1a2-0c6f1d2e3a4b\r\n"
			 "X-API-Key: %s\r\n"
			 "Connection: keep-alive\r\n"
			 "\r\n",
			 method, line, key);

	if (n < 0 || (size_t)n >= size)
		die("request_head: too large", EINVAL);
	return n;
}

/* The GET of that head (401 bytes). */
static void build_request(struct frame *f, const char *key)
{
	static char payload[1024];
	int n = request_head(payload, sizeof(payload), "GET", "Accept-Encoding: gzip, deflate, br", key);

	build_frame(f, payload, (size_t)n, (size_t)n, BENCH_CLIENT_PORT, BENCH_REQ_SEQ,
		    "pkt_build request");
}

/* The same head as a POST whose chunked body follows it in its segment:
 * @chunks chunks of @size bytes, then (with @last) the last chunk; XDP reads
 * the framing to the body's end (tg_xdp_chunked), or follows it on. */
static void build_chunked(struct frame *f, const char *key, int chunks, int size, bool last)
{
	static char payload[1460];
	int n, head;

	n = head = request_head(payload, sizeof(payload), "POST", "Transfer-Encoding: chunked", key);
	for (int i = 0; i < chunks; i++) {
		n += snprintf(payload + n, sizeof(payload) - (size_t)n, "%x\r\n", size);
		if ((size_t)n + (size_t)size + 2 >= sizeof(payload))
			die("build_chunked: too large", EINVAL);
		memset(payload + n, 'x', (size_t)size);
		n += size;
		memcpy(payload + n, "\r\n", 2);
		n += 2;
	}
	if (last)
		n += snprintf(payload + n, sizeof(payload) - (size_t)n, "0\r\n\r\n");
	if ((size_t)n >= sizeof(payload))
		die("build_chunked: too large", EINVAL);
	build_frame(f, payload, (size_t)n, (size_t)head, BENCH_CLIENT_PORT, BENCH_REQ_SEQ,
		    "pkt_build chunked request");
}

/* A full-size segment of a chunked body, at CHUNK_BODY_SEQ on the bench's
 * connection: a chunk of 1 KiB whole, then the size line of one that goes
 * on past the segment (two windows read). */
static void build_chunk_body(struct frame *f)
{
	static char payload[1400];
	size_t n;

	memcpy(payload, "400\r\n", 5);
	n = 5;
	memset(payload + n, 'x', 1024);
	n += 1024;
	memcpy(payload + n, "\r\n16d\r\n", 7);
	n += 7;
	memset(payload + n, 'y', sizeof(payload) - n);
	build_frame(f, payload, sizeof(payload), 0, BENCH_CLIENT_PORT, CHUNK_BODY_SEQ,
		    "pkt_build chunk body");
}

/* A full-size body segment of a POST, later on the connection of client
 * port @sport. */
static void build_body(struct frame *f, __u16 sport)
{
	static char payload[1400];
	size_t i;

	memcpy(payload, "{\"items\":[", 10);
	for (i = 10; i < sizeof(payload) - 2; i++)
		payload[i] = "{\"sku\":\"A-1\",\"qty\":1},"[i % 22];
	payload[sizeof(payload) - 2] = ']';
	payload[sizeof(payload) - 1] = '}';
	build_frame(f, payload, sizeof(payload), 0, sport, 200000, "pkt_build body");
}

/* The flow key of pkt_spec_init()'s IPv4 segment. */
static void bench_flow_key(struct tg_flow_key *fk)
{
	static const uint8_t client[4] = { 10, 0, 0, 2 }, server[4] = { 10, 0, 0, 1 };

	memset(fk, 0, sizeof(*fk));
	fk->client_addr[10] = fk->client_addr[11] = 0xff;
	fk->server_addr[10] = fk->server_addr[11] = 0xff;
	memcpy(fk->client_addr + 12, client, 4);
	memcpy(fk->server_addr + 12, server, 4);
	fk->client_port = htons(BENCH_CLIENT_PORT);
	fk->server_port = htons(BENCH_PORT);
}

static void digest_of(const char *key, struct tg_key_digest *ret)
{
	struct key_secrets secrets = { 0 };
	int err;

	secrets.v[BENCH_SECRET_VERSION].valid = true;
	memcpy(secrets.v[BENCH_SECRET_VERSION].key, SECRET, sizeof(SECRET));
	err = keydigest_digest(&secrets, key, strlen(key), ret->bytes);
	if (err)
		die("keydigest_digest", err);
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void populate(struct tollgate *skel)
{
	struct tg_secret secret = { .valid = 1 };
	struct tg_key key = { .flags = TG_KEY_ACTIVE };
	struct tg_plan plan = { .api_id = BENCH_API_ID };
	struct tg_route_key rk = { 0 };
	struct tg_route route = { .api_id = BENCH_API_ID, .route_id = BENCH_ROUTE_ID };
	struct tg_port port = { .mode = TG_PORT_XDP };
	struct tg_bucket_key bk;
	struct tg_bucket bucket = { 0 };
	struct tg_key_digest digest;
	__u32 id, word = TG_XDP_PORTS_WORD(BENCH_PORT);
	__u64 bits = TG_XDP_PORTS_BIT(BENCH_PORT);
	__u16 dport = BENCH_PORT;
	int err = 0;

	memcpy(secret.key, SECRET, sizeof(SECRET));
	id = BENCH_SECRET_VERSION;
	err |= bpf_map__update_elem(skel->maps.tg_secrets, &id, sizeof(id), &secret, sizeof(secret), 0);

	/* rate 1e6/s: rate_fp times the microseconds of a second stays in 64 bits */
	plan.rate_fp = 1000000ULL * TG_TOKEN_ONE;
	plan.burst_fp = 1000000ULL * TG_TOKEN_ONE;
	plan.rate_per_sec = 1000000;
	plan.burst = 1000000;
	id = BENCH_PLAN_OPEN;
	err |= bpf_map__update_elem(skel->maps.tg_plans, &id, sizeof(id), &plan, sizeof(plan), 0);
	/* a token per 65536 s: empty for the whole run; headers say 5/s, 10 */
	plan.rate_fp = 1;
	plan.burst_fp = 10 * TG_TOKEN_ONE;
	plan.rate_per_sec = 5;
	plan.burst = 10;
	id = BENCH_PLAN_EMPTY;
	err |= bpf_map__update_elem(skel->maps.tg_plans, &id, sizeof(id), &plan, sizeof(plan), 0);

	key.key_id = 1;
	key.consumer_id = 1;
	key.plan_id = BENCH_PLAN_OPEN;
	digest_of(KEY_OPEN, &digest);
	err |= bpf_map__update_elem(skel->maps.tg_keys, &digest, sizeof(digest), &key, sizeof(key), 0);
	key.key_id = 2;
	key.consumer_id = 2;
	key.plan_id = BENCH_PLAN_EMPTY;
	digest_of(KEY_EMPTY, &digest);
	err |= bpf_map__update_elem(skel->maps.tg_keys, &digest, sizeof(digest), &key, sizeof(key), 0);

	bk.consumer_id = 2;
	bk.plan_id = BENCH_PLAN_EMPTY;
	bucket.tokens_fp = 0;
	bucket.last_ns = monotonic_ns();
	err |= bpf_map__update_elem(skel->maps.tg_buckets, &bk, sizeof(bk), &bucket, sizeof(bucket), 0);

	/* routes are stored with a trailing '/' (tollgate_abi.h) */
	memcpy(rk.path, "/v1/", 4);
	rk.prefixlen = 4 * 8;
	err |= bpf_map__update_elem(skel->maps.tg_routes, &rk, sizeof(rk), &route, sizeof(route), 0);
	err |= bpf_map__update_elem(skel->maps.tg_ports, &dport, sizeof(dport), &port, sizeof(port), 0);
	err |= bpf_map__update_elem(skel->maps.tg_xdp_ports, &word, sizeof(word), &bits, sizeof(bits), 0);
	if (err)
		die("populating the maps", errno);
}

/* One test run of @repeat repeats; returns the kernel's mean ns per repeat. */
static __u32 run(int prog_fd, struct frame *f, __u32 repeat, __u32 *ret_action)
{
	uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf, .data_size_in = (__u32)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	if (err)
		die("bpf_prog_test_run_opts", errno);
	*ret_action = opts.retval;
	return opts.duration;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

typedef void (*reset_fn)(struct tollgate *skel);

static double median_u32(__u32 *d, __u32 n)
{
	qsort(d, n, sizeof(*d), cmp_u32);
	return n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2.0;
}

/*
 * Median over @samples test runs of one repeat, @reset before each. With
 * @noop_fd (not -1), the no-op program runs on the same frame right after
 * each, and *ret_noop is its median. The VM's speed drifts between two
 * modes (in the slow one the no-op takes ×1.3, tg_xdp ×1.6) that last from
 * a few tenths of a second to minutes: a baseline taken before the runs it
 * is subtracted from may be in the other mode.
 */
static double median_runs(const char *what, int prog_fd, struct frame *f, __u32 samples,
			  struct tollgate *skel, reset_fn reset, __u32 want_action, int noop_fd,
			  double *ret_noop)
{
	__u32 *d = calloc(samples, sizeof(*d)), *nd = calloc(samples, sizeof(*nd)), action, i;
	double m;

	if (!d || !nd)
		die("calloc", ENOMEM);
	for (i = 0; i < samples; i++) {
		if (reset)
			reset(skel);
		d[i] = run(prog_fd, f, 1, &action);
		if (action != want_action) {
			fprintf(stderr, "bench-xdp-cost: %s: returned %u, expected %u (wrong path)\n",
				what, action, want_action);
			exit(1);
		}
		if (noop_fd >= 0)
			nd[i] = run(noop_fd, f, 1, &action);
	}
	m = median_u32(d, samples);
	if (noop_fd >= 0)
		*ret_noop = median_u32(nd, samples);
	free(d);
	free(nd);
	return m;
}

/* Lowest of five test runs of @repeat repeats (the least disturbed one). */
static double mean_repeats(const char *what, int prog_fd, struct frame *f, __u32 repeat,
			   __u32 want_action)
{
	__u32 best = UINT_MAX, action, d;

	for (int i = 0; i < 5; i++) {
		d = run(prog_fd, f, repeat, &action);
		if (action != want_action) {
			fprintf(stderr, "bench-xdp-cost: %s: returned %u, expected %u (wrong path)\n",
				what, action, want_action);
			exit(1);
		}
		if (d < best)
			best = d;
	}
	return best;
}

static void reset_flow(struct tollgate *skel)
{
	struct tg_flow_key fk;

	bench_flow_key(&fk);
	bpf_map__delete_elem(skel->maps.tg_flows, &fk, sizeof(fk), 0);
}

/* A new connection: the empty flow tg_sockops makes at the handshake (its
 * timer is armed there, outside the request path). */
static void reset_flow_handshake(struct tollgate *skel)
{
	struct tg_flow_key fk;
	static struct tg_flow flow;

	bench_flow_key(&fk);
	bpf_map__delete_elem(skel->maps.tg_flows, &fk, sizeof(fk), 0);
	if (bpf_map__update_elem(skel->maps.tg_flows, &fk, sizeof(fk), &flow, sizeof(flow), 0))
		die("writing tg_flows", errno);
}

/* A new connection of a key this CPU has not cached (tg_keycache): the
 * first request after any change of keys or plans (tg_gen counts one), or
 * of a key not seen here lately. */
static void reset_flow_handshake_uncached(struct tollgate *skel)
{
	__u32 zero = 0;
	__u64 gen;

	reset_flow_handshake(skel);
	if (bpf_map__lookup_elem(skel->maps.tg_gen, &zero, sizeof(zero), &gen, sizeof(gen), 0))
		die("reading tg_gen", errno);
	gen++;
	if (bpf_map__update_elem(skel->maps.tg_gen, &zero, sizeof(zero), &gen, sizeof(gen), 0))
		die("writing tg_gen", errno);
}

/* bench_state.bpf.c's programs that mark the flow answered, in place, and
 * that set where it stands in a chunked body */
static int flow_answered_fd = -1, flow_chunked_fd = -1;

/* bench_state.bpf.c's bench_floor() and what it is told to do */
static int floor_fd = -1, floor_cfg_fd = -1;
#define FLOOR_ALL_RUNS "all of them, as the kept-alive row is measured"

struct bench_chunked {
	struct tg_flow_key fk;
	__u32 seq;
	__u32 chunked;
};

static void flow_chunked(__u32 seq, bool chunked)
{
	struct bench_chunked c = { .seq = seq, .chunked = chunked };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &c, .ctx_size_in = sizeof(c));

	bench_flow_key(&c.fk);
	if (bpf_prog_test_run_opts(flow_chunked_fd, &opts) || opts.retval)
		die("bench_flow_chunked", opts.retval ? ENOENT : errno);
}

/* The next size line of a chunked body the connection follows starts where
 * the bench's body segment does. */
static void reset_flow_chunked(struct tollgate *skel)
{
	(void)skel;
	flow_chunked(CHUNK_BODY_SEQ, true);
}

/* The tag of the bench's flow of client port @port in tg_rejhint. */
static __u32 rejhint_tag(__u16 port)
{
	struct tg_flow_key fk;
	__u32 tag;

	bench_flow_key(&fk);
	fk.client_port = htons(port);
	tg_rejhint_index(&fk, &tag);
	return tag;
}

enum rejhint_fill { REJHINT_NONE, REJHINT_ANY, REJHINT_OTHERS };

/* Every tg_rejhint slot never written (REJHINT_NONE), or live for another
 * minute: for any flow (REJHINT_ANY, what two refused connections at once
 * in a slot leave), or with another connection's tag than the bench's
 * (REJHINT_OTHERS, what refused connections still open leave). */
static void rejhint_fill(struct tollgate *skel, enum rejhint_fill how)
{
	int fd = bpf_map__fd(skel->maps.tg_rejhint);
	__u32 tag = 0;
	struct timespec ts;
	__u64 v = 0;

	while (tag == rejhint_tag(BENCH_CLIENT_PORT) || tag == rejhint_tag(BENCH_CLIENT_PORT + 1))
		tag++;
	if (how != REJHINT_NONE) {
		/* bpf_ktime_get_coarse_ns() */
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		v = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec + 60000000000ULL;
	}
	if (how == REJHINT_OTHERS)
		v = tg_rejhint_one(tag, v);
	for (__u32 slot = 0; slot < bpf_map__max_entries(skel->maps.tg_rejhint); slot++)
		if (bpf_map_update_elem(fd, &slot, &v, BPF_ANY))
			die("tg_rejhint", errno);
}

/* The connection stays, its requests answered: next request on a kept-alive
 * connection. The flow is changed where it is, as tg_skmsg changes it: a
 * rewrite from userspace would replace it by a new element each sample. */
static void reset_flow_answered(struct tollgate *skel)
{
	struct tg_flow_key fk;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &fk, .ctx_size_in = sizeof(fk));

	(void)skel;
	bench_flow_key(&fk);
	/* retval 1: the first sample, no connection yet */
	if (bpf_prog_test_run_opts(flow_answered_fd, &opts))
		die("bench_flow_answered", errno);
}

#define COLD_SAMPLES 301
#define COLD_BYTES (64U << 20) /* beyond any last-level cache here */
static volatile unsigned char *cold_buf;

/* Flush this CPU's caches of the programs' code, maps and stack: write a
 * buffer larger than the last-level cache, a line at a time. */
static void evict_caches(struct tollgate *skel)
{
	(void)skel;
	for (size_t i = 0; i < COLD_BYTES; i += 64)
		cold_buf[i]++;
}

/* Stay on this CPU, whose caches evict_caches() flushes, and allocate the
 * buffer it writes. */
static void cold_setup(void)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity", errno);
	cold_buf = malloc(COLD_BYTES);
	if (!cold_buf)
		die("malloc", ENOMEM);
	memset((void *)cold_buf, 0, COLD_BYTES);
}

static void reset_flow_answered_cold(struct tollgate *skel)
{
	reset_flow_answered(skel);
	evict_caches(skel);
}

static void load_bench_state(struct tollgate *skel, struct bench_state **ret)
{
	struct bench_state *st = bench_state__open();
	struct bpf_map *mine[4], *theirs[4];
	int err;

	if (!st)
		die("opening the bench_state skeleton", errno);
	mine[0] = st->maps.tg_flows, theirs[0] = skel->maps.tg_flows;
	mine[1] = st->maps.tg_buckets, theirs[1] = skel->maps.tg_buckets;
	mine[2] = st->maps.tg_counters, theirs[2] = skel->maps.tg_counters;
	mine[3] = st->maps.tg_routes, theirs[3] = skel->maps.tg_routes;
	for (int i = 0; i < 4; i++) {
		err = bpf_map__set_max_entries(mine[i], bpf_map__max_entries(theirs[i]));
		if (!err)
			err = bpf_map__reuse_fd(mine[i], bpf_map__fd(theirs[i]));
		if (err)
			die("reusing tollgate's maps in bench_state.bpf.o", err);
	}
	err = bench_state__load(st);
	if (err)
		die("loading bench_state.bpf.o", err);
	flow_answered_fd = bpf_program__fd(st->progs.bench_flow_answered);
	flow_chunked_fd = bpf_program__fd(st->progs.bench_flow_chunked);
	floor_fd = bpf_program__fd(st->progs.bench_floor);
	floor_cfg_fd = bpf_map__fd(st->maps.bench_floor_cfg);
	*ret = st;
}

static void reset_reject(struct tollgate *skel)
{
	struct tg_flow_key fk;

	bench_flow_key(&fk);
	bpf_map__delete_elem(skel->maps.tg_rejects, &fk, sizeof(fk), 0);
}

static __u64 stat_sum(struct tollgate *skel, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v, sum = 0;

	if (ncpu <= 0)
		die("libbpf_num_possible_cpus", ncpu);
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		die("calloc", ENOMEM);
	if (bpf_map__lookup_elem(skel->maps.tg_stats, &idx, sizeof(idx), v,
				 sizeof(*v) * (size_t)ncpu, 0))
		die("reading tg_stats", errno);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	free(v);
	return sum;
}

static void expect_stat(struct tollgate *skel, __u32 idx, __u64 before, __u64 at_least,
			const char *what)
{
	__u64 now = stat_sum(skel, idx);

	if (now - before < at_least) {
		fprintf(stderr, "bench-xdp-cost: %s: stat %u grew by %llu, expected >= %llu\n", what,
			idx, (unsigned long long)(now - before), (unsigned long long)at_least);
		exit(1);
	}
}

/* Requests seen, less retransmissions and requests without a pending slot,
 * grew by at least @at_least since @before. */
static void expect_stat_net(struct tollgate *skel, __u64 before, __u64 at_least, const char *what)
{
	__u64 now = stat_sum(skel, TG_S_REQUESTS) - stat_sum(skel, TG_S_RETRANSMITS) -
		    stat_sum(skel, TG_S_PENDING_FULL);

	if (now - before < at_least) {
		fprintf(stderr, "bench-xdp-cost: %s: %llu requests charged in full, expected >= %llu\n",
			what, (unsigned long long)(now - before), (unsigned long long)at_least);
		exit(1);
	}
}



static void add_result(const char *name, const char *method, const struct frame *f, double tg,
		       double noop, double target)
{
	struct result *r;

	if (n_results == (int)(sizeof(results) / sizeof(results[0])))
		die("add_result: too many rows", ENOSPC);
	r = &results[n_results++];
	r->name = name;
	r->method = method;
	r->frame_len = f->len;
	r->payload_len = f->payload_len;
	r->header_bytes = f->header_bytes;
	r->tg_ns = tg;
	r->noop_ns = noop;
	r->target_ns = target;
}

static void print_table(void)
{
	printf("| case | frame B | HTTP header B | payload B | tg_xdp ns | no-op ns | added ns | target | how |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---|---|\n");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];
		double added = r->tg_ns - r->noop_ns;
		char target[64] = "-";

		if (r->floor)
			continue;
		if (r->target_ns > 0)
			snprintf(target, sizeof(target), "<= %.0f ns %s", r->target_ns,
				 added <= r->target_ns ? "(met)" : "(MISSED)");
		printf("| %s | %zu | %zu | %zu | %.1f | %.1f | %.1f | %s | %s |\n", r->name,
		       r->frame_len, r->header_bytes, r->payload_len, r->tg_ns, r->noop_ns, added,
		       target, r->method);
	}
}

static const struct result *find_result(const char *name)
{
	for (int i = 0; i < n_results; i++)
		if (!strcmp(results[i].name, name))
			return &results[i];
	die(name, ENOENT);
	return NULL;
}

/* The floor: what the steps every admitted request needs cost here by
 * themselves, and how much of the kept-alive request's figure is left for
 * the rest of what tg_xdp does (parsing, the key cache, the flow's state). */
static void print_floor(void)
{
	const struct result *kept = find_result("admitted request, kept-alive connection");
	const struct result *all = find_result(FLOOR_ALL_RUNS);
	double kept_added = kept->tg_ns - kept->noop_ns, floor = all->tg_ns - all->noop_ns;

	printf("\n| step an admitted request needs (bench_floor, same frame) | ns | no-op ns | added ns "
	       "| how |\n");
	printf("|---|---:|---:|---:|---|\n");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];

		if (r->floor)
			printf("| %s | %.1f | %.1f | %.1f | %s |\n", r->name, r->tg_ns, r->noop_ns,
			       r->tg_ns - r->noop_ns, r->method);
	}
	printf("\nkept-alive admitted request: %.0f ns added, of which the steps above %.0f ns (%.0f %%);"
	       " %.0f ns for the rest of tg_xdp (target for all: <= %.0f ns)\n",
	       kept_added, floor, kept_added > 0 ? 100.0 * floor / kept_added : 0.0,
	       kept_added - floor, kept->target_ns);
}

static void write_json(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path, errno);
	fprintf(f, "[\n");
	for (int i = 0; i < n_results; i++) {
		const struct result *r = &results[i];

		fprintf(f,
			"  {\"case\": \"%s\", \"method\": \"%s\", \"frame_bytes\": %zu, "
			"\"header_bytes\": %zu, \"payload_bytes\": %zu, \"tg_ns\": %.1f, "
			"\"noop_ns\": %.1f, \"added_ns\": %.1f, \"target_added_ns\": %.0f, "
			"\"floor\": %s}%s\n",
			r->name, r->method, r->frame_len, r->header_bytes, r->payload_len, r->tg_ns,
			r->noop_ns, r->tg_ns - r->noop_ns, r->target_ns, r->floor ? "true" : "false",
			i + 1 < n_results ? "," : "");
	}
	fprintf(f, "]\n");
	if (fclose(f))
		die(path, errno);
}

/* bench_floor(), set up to take @what's steps on the kept-alive request @f's
 * keys: its flow, its consumer's bucket and (consumer, API) counters, the
 * route key tg_xdp looks its path up with. */
static void floor_set(const struct frame *f, __u32 what)
{
	static const char path[] = "/v1/orders/12345"; /* request_head()'s */
	struct bench_floor_cfg c = {
		.bk = { .consumer_id = 1, .plan_id = BENCH_PLAN_OPEN },
		.ck = { .consumer_id = 1, .api_id = BENCH_API_ID },
		.rk = { .prefixlen = sizeof(path) * 8 }, /* with the '/' appended */
		.what = what,
		.copy_off = (__u32)(f->len - f->payload_len),
		.copy_len = (__u32)f->payload_len,
	};
	__u32 zero = 0;

	bench_flow_key(&c.fk);
	memcpy(c.rk.path, path, sizeof(path) - 1);
	c.rk.path[sizeof(path) - 1] = '/';
	if (bpf_map_update_elem(floor_cfg_fd, &zero, &c, BPF_ANY))
		die("bench_floor_cfg", errno);
}

/* One row of the floor table: @what's steps as mean_repeats() measures
 * them, beside the no-op's figure on the same frame (@noop_mean). */
static void floor_row(const char *name, const char *method, struct frame *f, __u32 what,
		      __u32 repeat, double noop_mean)
{
	floor_set(f, what);
	add_result(name, method, f, mean_repeats(name, floor_fd, f, repeat, XDP_PASS), noop_mean, 0);
	results[n_results - 1].floor = true;
}

static void measure_floor(struct frame *f, unsigned long repeat, const char *method_mean,
			  const char *method_median, __u32 samples, int noop_fd, double noop_mean)
{
	static char copy_name[80];
	const __u32 all = BENCH_FLOOR_COPY | BENCH_FLOOR_CLOCK | BENCH_FLOOR_FLOW |
			  BENCH_FLOOR_ROUTE | BENCH_FLOOR_BUCKET | BENCH_FLOOR_LOCK |
			  BENCH_FLOOR_COUNTERS;
	double tg, noop;

	snprintf(copy_name, sizeof(copy_name), "copy of the request's %zu bytes (bpf_xdp_load_bytes)",
		 f->payload_len);
	floor_row(copy_name, method_mean, f, BENCH_FLOOR_COPY, (__u32)repeat, noop_mean);
	floor_row("clock (bpf_ktime_get_ns)", method_mean, f, BENCH_FLOOR_CLOCK, (__u32)repeat,
		  noop_mean);
	floor_row("tg_flows lookup (LRU hash, 36-byte key)", method_mean, f, BENCH_FLOOR_FLOW,
		  (__u32)repeat, noop_mean);
	floor_row("tg_routes lookup (LPM trie)", method_mean, f, BENCH_FLOOR_ROUTE, (__u32)repeat,
		  noop_mean);
	floor_row("tg_buckets lookup (hash)", method_mean, f, BENCH_FLOOR_BUCKET, (__u32)repeat,
		  noop_mean);
	floor_row("tg_buckets lookup, its bpf_spin_lock taken and released", method_mean, f,
		  BENCH_FLOOR_BUCKET | BENCH_FLOOR_LOCK, (__u32)repeat, noop_mean);
	floor_row("tg_counters lookup (hash) and an atomic add", method_mean, f,
		  BENCH_FLOOR_COUNTERS, (__u32)repeat, noop_mean);
	floor_row("all of them", method_mean, f, all, (__u32)repeat, noop_mean);
	/* as the kept-alive row: one packet a run, the no-op alongside */
	floor_set(f, all);
	tg = median_runs(FLOOR_ALL_RUNS, floor_fd, f, samples, NULL, NULL, XDP_PASS,
			 noop_fd, &noop);
	add_result(FLOOR_ALL_RUNS, method_median, f, tg, noop, 0);
	results[n_results - 1].floor = true;
}

/* --profile: the kept-alive admitted request over and over for @secs, for
 * perf and build/bpf-lines (README, "Profiling the BPF programs"); with
 * PROFILE_COLD (--cold), the caches flushed before each, as in the cold row;
 * with PROFILE_FIRST (--first), the first request on its connection instead,
 * as in that row. */
enum profile_case { PROFILE_KEPT_ALIVE, PROFILE_COLD, PROFILE_FIRST };

static void profile_request(struct tollgate *skel, int tg_fd, struct frame *f, unsigned long secs,
			    enum profile_case what)
{
	static const char *const names[] = {
		[PROFILE_KEPT_ALIVE] = "kept-alive admitted requests",
		[PROFILE_COLD] = "kept-alive admitted requests, caches cold,",
		[PROFILE_FIRST] = "admitted requests, each first on its connection,",
	};
	void (*reset)(struct tollgate *) = reset_flow_answered;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), action;
	time_t until = time(NULL) + (time_t)secs;
	/* requests between checks of the clock: a cold one takes the flush */
	unsigned long n = 0, batch = what == PROFILE_COLD ? 10 : 1000;

	if (what == PROFILE_COLD)
		reset = reset_flow_answered_cold;
	else if (what == PROFILE_FIRST)
		reset = reset_flow_handshake;
	if (bpf_obj_get_info_by_fd(tg_fd, &info, &len))
		die("bpf_obj_get_info_by_fd", errno);
	printf("tg_xdp is program %u; %s for %lu s\n", info.id, names[what], secs);
	fflush(stdout);
	while (time(NULL) < until) {
		for (unsigned long i = 0; i < batch; i++) {
			reset(skel);
			run(tg_fd, f, 1, &action);
			if (action != XDP_PASS)
				die("admitted request not passed", EINVAL);
		}
		n += batch;
	}
	printf("%lu requests\n", n);
}

static void default_noop_path(const char *argv0, char *out, size_t size)
{
	const char *slash = strrchr(argv0, '/');
	int n = slash ? (int)(slash - argv0) : 1;

	snprintf(out, size, "%.*s/noop.bpf.o", n, slash ? argv0 : ".");
}

/* The non-request segment and the kept-alive request with tg_rejhint
 * filled @how: rows "..., refusal flood (@what)" (their names live to the
 * end). */
static void flood_rows(struct tollgate *skel, int tg_fd, int noop_fd, struct frame *body,
		       struct frame *body_other, struct frame *req, __u32 repeat, __u32 samples,
		       const char *method_mean, const char *method_median, enum rejhint_fill how,
		       const char *what)
{
	char *name;
	double tg, noop;
	__u64 before;

	rejhint_fill(skel, how);
	before = stat_sum(skel, TG_S_NON_REQUEST);
	tg = mean_repeats("non-request, flood", tg_fd, body_other, repeat, XDP_PASS);
	expect_stat(skel, TG_S_NON_REQUEST, before, repeat, "non-request, flood");
	if (asprintf(&name, "non-request segment, refusal flood (%s)", what) < 0)
		die("asprintf", ENOMEM);
	add_result(name, method_mean, body, tg, mean_repeats("no-op", noop_fd, body, repeat, XDP_PASS),
		   50);
	before = stat_sum(skel, TG_S_REQUESTS) - stat_sum(skel, TG_S_RETRANSMITS) -
		 stat_sum(skel, TG_S_PENDING_FULL);
	tg = median_runs("admitted kept-alive, flood", tg_fd, req, samples, skel, reset_flow_answered,
			 XDP_PASS, noop_fd, &noop);
	expect_stat_net(skel, before, samples, "admitted kept-alive, flood");
	if (asprintf(&name, "admitted request, kept-alive, refusal flood (%s)", what) < 0)
		die("asprintf", ENOMEM);
	add_result(name, method_median, req, tg, noop, 500);
}

int main(int argc, char **argv)
{
	static struct frame req_open, req_empty, req_chunked, req_chunked_open, chunk_body, body,
		body_other;
	char noop_path[PATH_MAX], method_mean[64], method_median[64];
	const char *method_cold = "median of 301 runs, caches flushed before each";
	const char *json_path = NULL;
	struct tollgate *skel;
	struct bench_state *state;
	struct bpf_object *noop_obj;
	struct bpf_program *noop_prog;
	unsigned long repeat = 1000000, profile_s = 0;
	enum profile_case profile_what = PROFILE_KEPT_ALIVE;
	__u32 samples, action;
	int tg_fd, noop_fd, opt, err;
	double tg, noop, noop_mean;
	__u64 before;

	static const struct option longopts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "noop", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "profile", required_argument, NULL, 'p' },
		{ "cold", no_argument, NULL, 'c' },
		{ "first", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};

	default_noop_path(argv[0], noop_path, sizeof(noop_path));
	while ((opt = getopt_long(argc, argv, "r:n:j:p:cfh", longopts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'r':
			errno = 0;
			repeat = strtoul(optarg, &end, 10);
			if (errno || *end || repeat < 10 || repeat > 100000000) {
				fprintf(stderr, "bench-xdp-cost: --repeat: '%s' is not 10..1e8\n", optarg);
				return 2;
			}
			break;
		case 'n':
			snprintf(noop_path, sizeof(noop_path), "%s", optarg);
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'p':
			errno = 0;
			profile_s = strtoul(optarg, &end, 10);
			if (errno || *end || profile_s < 1 || profile_s > 3600) {
				fprintf(stderr, "bench-xdp-cost: --profile: '%s' is not 1..3600 s\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
		case 'f': {
			enum profile_case what = opt == 'c' ? PROFILE_COLD : PROFILE_FIRST;

			if (profile_what != PROFILE_KEPT_ALIVE && profile_what != what) {
				fprintf(stderr, "bench-xdp-cost: --cold or --first, not both\n");
				return 2;
			}
			profile_what = what;
			break;
		}
		default:
			fprintf(stderr,
				"usage: %s [--repeat N] [--noop noop.bpf.o] [--json PATH]"
				" [--profile SECONDS [--cold|--first]]\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	samples = (__u32)(repeat / 10);
	snprintf(method_mean, sizeof(method_mean), "mean of %lu repeats", repeat);
	snprintf(method_median, sizeof(method_median), "median of %u runs, no-op alongside",
		 samples);

	skel = tollgate__open();
	if (!skel)
		die("opening the tollgate skeleton", errno);
	skel->rodata->tg_actions[TG_V_OVER_LIMIT] = TG_ACT_REJECT;
	/* every CPU's key cache, as the agent sizes it */
	if (libbpf_num_possible_cpus() <= 0 ||
	    bpf_map__set_max_entries(skel->maps.tg_keycache,
				     TG_KEYCACHE_ENTRIES(libbpf_num_possible_cpus(),
							 skel->rodata->tg_keycache_bits)))
		die("sizing tg_keycache", EINVAL);
	err = tollgate__load(skel);
	if (err)
		die("loading tollgate.bpf.o", err);
	populate(skel);
	load_bench_state(skel, &state);
	tg_fd = bpf_program__fd(skel->progs.tg_xdp);

	noop_obj = bpf_object__open_file(noop_path, NULL);
	if (!noop_obj || libbpf_get_error(noop_obj))
		die(noop_path, errno ? errno : ENOENT);
	err = bpf_object__load(noop_obj);
	if (err)
		die("loading noop.bpf.o", err);
	noop_prog = bpf_object__find_program_by_name(noop_obj, "tg_noop");
	if (!noop_prog)
		die("tg_noop in noop.bpf.o", ENOENT);
	noop_fd = bpf_program__fd(noop_prog);

	_Static_assert(sizeof(KEY_OPEN) - 1 == KEYDIGEST_KEY_LEN &&
			       sizeof(KEY_EMPTY) - 1 == KEYDIGEST_KEY_LEN,
		       "bench keys must have the form of an API key");
	build_request(&req_open, KEY_OPEN);
	build_request(&req_empty, KEY_EMPTY);
	build_chunked(&req_chunked, KEY_OPEN, 4, 200, true);
	build_chunked(&req_chunked_open, KEY_OPEN, 1, 200, false);
	build_chunk_body(&chunk_body);
	build_body(&body, BENCH_CLIENT_PORT);
	build_body(&body_other, BENCH_CLIENT_PORT + 1);
	if (profile_what != PROFILE_KEPT_ALIVE && !profile_s) {
		fprintf(stderr, "bench-xdp-cost: --cold and --first go with --profile\n");
		return 2;
	}
	if (profile_s) {
		if (profile_what == PROFILE_COLD)
			cold_setup();
		profile_request(skel, tg_fd, &req_open, profile_s, profile_what);
		free((void *)cold_buf);
		bench_state__destroy(state);
		tollgate__destroy(skel);
		return 0;
	}

	/* the baseline of the rows measured by repeats (those measured by
	 * runs take theirs alongside, median_runs) */
	noop_mean = mean_repeats("no-op", noop_fd, &req_open, (__u32)repeat, XDP_PASS);

	/* non-request segment, before any in-kernel answer */
	before = stat_sum(skel, TG_S_NON_REQUEST);
	tg = mean_repeats("non-request", tg_fd, &body, (__u32)repeat, XDP_PASS);
	expect_stat(skel, TG_S_NON_REQUEST, before, repeat, "non-request");
	add_result("non-request segment (body)", method_mean, &body, tg,
		   mean_repeats("no-op", noop_fd, &body, (__u32)repeat, XDP_PASS), 50);

	/* admitted, first request on a new connection */
	before = stat_sum(skel, TG_S_REQUESTS);
	tg = median_runs("admitted", tg_fd, &req_open, samples, skel, reset_flow_handshake, XDP_PASS,
			 noop_fd, &noop);
	expect_stat(skel, TG_S_REQUESTS, before, samples, "admitted");
	add_result("admitted request, first on its connection", method_median, &req_open, tg, noop,
		   500);

	/* the same with the key not in this CPU's cache: SipHash, key and plan lookups */
	tg = median_runs("admitted uncached", tg_fd, &req_open, samples, skel,
			 reset_flow_handshake_uncached, XDP_PASS, noop_fd, &noop);
	add_result("admitted request, first on its connection, key not cached", method_median,
		   &req_open, tg, noop, 0);

	/* admitted, no flow yet: tg_xdp makes the flow and arms its timer */
	tg = median_runs("admitted", tg_fd, &req_open, samples, skel, reset_flow, XDP_PASS, noop_fd,
			 &noop);
	add_result("admitted request, no flow yet (made in XDP)", method_median, &req_open, tg, noop,
		   0);

	/* admitted, kept-alive connection: each sample charged (none taken for a
	 * retransmission, none short of a pending slot) */
	before = stat_sum(skel, TG_S_REQUESTS) - stat_sum(skel, TG_S_RETRANSMITS) -
		 stat_sum(skel, TG_S_PENDING_FULL);
	tg = median_runs("admitted kept-alive", tg_fd, &req_open, samples, skel, reset_flow_answered,
			 XDP_PASS, noop_fd, &noop);
	expect_stat_net(skel, before, samples, "admitted kept-alive");
	add_result("admitted request, kept-alive connection", method_median, &req_open, tg, noop,
		   500);

	/* the steps of that request any program would take (the floor) */
	measure_floor(&req_open, repeat, method_mean, method_median, samples, noop_fd, noop_mean);

	/* the same as a POST whose chunked body is whole in its segment: XDP
	 * reads each size line, skipping the data, to the body's end */
	before = stat_sum(skel, TG_S_REQUESTS) - stat_sum(skel, TG_S_RETRANSMITS) -
		 stat_sum(skel, TG_S_PENDING_FULL);
	tg = median_runs("admitted chunked", tg_fd, &req_chunked, samples, skel,
			 reset_flow_answered, XDP_PASS, noop_fd, &noop);
	expect_stat_net(skel, before, samples, "admitted chunked");
	add_result("admitted POST, kept-alive, 4 chunks of 200 B in its segment", method_median,
		   &req_chunked, tg, noop, 0);

	/* a segment of a chunked body the connection follows: its POST, the
	 * first request where the flow is sure one starts, began it (and
	 * marked the connection's tg_seqhint slot); then each sample reads
	 * one whole chunk's size line and the next one's */
	flow_chunked(BENCH_REQ_SEQ, false);
	run(tg_fd, &req_chunked_open, 1, &action);
	if (action != XDP_PASS)
		die("the chunked POST that begins the body", EINVAL);
	before = stat_sum(skel, TG_S_NON_REQUEST);
	tg = median_runs("chunked body segment", tg_fd, &chunk_body, samples, skel,
			 reset_flow_chunked, XDP_PASS, noop_fd, &noop);
	expect_stat(skel, TG_S_NON_REQUEST, before, samples, "chunked body segment");
	add_result("segment of a chunked body, framing read (two size lines)", method_median,
		   &chunk_body, tg, noop, 0);
	flow_chunked(0, false); /* no chunked body followed any more */

	/* the same with the caches flushed before each sample, on this CPU */
	cold_setup();
	before = stat_sum(skel, TG_S_REQUESTS) - stat_sum(skel, TG_S_RETRANSMITS) -
		 stat_sum(skel, TG_S_PENDING_FULL);
	tg = median_runs("admitted kept-alive, cold", tg_fd, &req_open, COLD_SAMPLES, skel,
			 reset_flow_answered_cold, XDP_PASS, -1, NULL);
	expect_stat_net(skel, before, COLD_SAMPLES, "admitted kept-alive, cold");
	add_result("admitted request, kept-alive connection, caches cold", method_cold, &req_open, tg,
		   median_runs("no-op, cold", noop_fd, &req_open, COLD_SAMPLES, skel, evict_caches,
			       XDP_PASS, -1, NULL),
		   0);
	free((void *)cold_buf);

	/* retransmission of the admitted request: flow in place, not charged */
	run(tg_fd, &req_open, 1, &action);
	before = stat_sum(skel, TG_S_RETRANSMITS);
	tg = mean_repeats("retransmission", tg_fd, &req_open, (__u32)repeat, XDP_PASS);
	expect_stat(skel, TG_S_RETRANSMITS, before, repeat, "retransmission");
	add_result("retransmitted request (not charged)", method_mean, &req_open, tg, noop_mean, 0);

	/* refused over_limit: the 429 is built and sent back */
	reset_flow(skel);
	before = stat_sum(skel, TG_S_REJECT_TX);
	tg = median_runs("over_limit", tg_fd, &req_empty, samples, skel, reset_reject, XDP_TX, noop_fd,
			 &noop);
	expect_stat(skel, TG_S_REJECT_TX, before, samples, "over_limit reject");
	add_result("refused over_limit (429 in-kernel, XDP_TX)", method_median, &req_empty, tg, noop,
		   0);

	/* non-request segment of another connection once tg_rejects is in use
	 * (the answered connection's own segments become RSTs) */
	tg = mean_repeats("non-request", tg_fd, &body_other, (__u32)repeat, XDP_PASS);
	add_result("non-request segment, rejects in use", method_mean, &body, tg,
		   mean_repeats("no-op", noop_fd, &body, (__u32)repeat, XDP_PASS), 50);

	/* the same and an admitted request during a flood of refusals: the
	 * connections refused in the last tg_reject_ttl_ns that are still
	 * open hold tg_rejhint slots with their tags; where two shared a
	 * slot, it is for any flow, and each segment of the slot reads the
	 * clock and looks its flow up in tg_rejects */
	reset_reject(skel); /* the refused connection's again, and admitted */
	run(tg_fd, &req_open, 1, &action);
	if (action != XDP_PASS)
		die("the request that opens the kept-alive connection", EINVAL);
	flood_rows(skel, tg_fd, noop_fd, &body, &body_other, &req_open, (__u32)repeat, samples,
		   method_mean, method_median, REJHINT_OTHERS, "every tg_rejhint slot another connection's");
	flood_rows(skel, tg_fd, noop_fd, &body, &body_other, &req_open, (__u32)repeat, samples,
		   method_mean, method_median, REJHINT_ANY, "every tg_rejhint slot for any connection");
	rejhint_fill(skel, REJHINT_NONE);

	print_table();
	print_floor();
	if (json_path)
		write_json(json_path);

	bpf_object__close(noop_obj);
	bench_state__destroy(state);
	tollgate__destroy(skel);
	return 0;
}
