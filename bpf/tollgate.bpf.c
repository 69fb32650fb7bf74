/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tollgate.bpf.c - the in-kernel gateway (DESIGN §3).
 *
 * tg_xdp      parses each request to an API port, looks the key up, applies
 *             the plan's token bucket and admits, drops or answers in-kernel;
 *             admitted requests become pending entries of their flow.
 * tg_sockops  puts the API port's accepted sockets into tg_sockhash and
 *             closes their flows when they end.
 * tg_skmsg    sees the server's responses on those sockets, pairs each with
 *             its pending request and emits one usage event per request; in
 *             sockmap mode it also enforces on the requests a local proxy
 *             sends upstream to an API port (SK_DROP for refused ones).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tollgate_abi.h"
#define TG_SIPHASH_INLINE static __always_inline
#include "lib/siphash.h"
#include "lib/http.h"
#include "lib/bucket.h"
#include "lib/reply.h"
#include "lib/ringbuf.h"
#include "lib/rejhint.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define TG_NEXTHDR_FRAGMENT 44
#define TG_TCP_FIN 0x01
#define TG_TCP_SYN 0x02
#define TG_TCP_RST 0x04
#define TG_TCP_PSH 0x08
#define TG_TCP_ACK 0x10
#define TG_KEY_LEN 43
#define TG_NSEC_PER_SEC 1000000000ULL
#define TG_E2BIG 7

/* --- tunables, set by the agent before load ------------------------------ */

const volatile __u8 tg_actions[TG_V_COUNT] = {
	TG_ACT_PASS,   TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT,
	TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT, TG_ACT_REJECT,
};
const volatile __u64 tg_source_rate_fp = 10 * TG_TOKEN_ONE;
const volatile __u64 tg_source_burst_fp = 20 * TG_TOKEN_ONE;
const volatile __u64 tg_reject_ttl_ns = TG_REJECT_TTL_NS;
/* ring-buffer fill that wakes the agent (tollgate_abi.h) */
const volatile __u64 tg_rb_wakeup_bytes = 64 * 1024;
/* agent.unanswered_after, and how often each flow's timer looks */
const volatile __u64 tg_unanswered_ns = 30 * TG_NSEC_PER_SEC;
const volatile __u64 tg_flow_timer_ns = 7500 * 1000000ULL;
/* report unknown digests to the agent (it has Redis to ask) */
const volatile __u8 tg_miss_path = 0;
/* tg_keycache has 1 << tg_keycache_bits slots a CPU (the agent sizes it
 * from agent.max_keys, and the map's max_entries to as many slots for each
 * possible CPU) */
const volatile __u32 tg_keycache_bits = TG_KEYCACHE_BITS_MIN;
/* the kernel's bpf_msg_pull_data() moves a message's write position to its
 * end (sk_msg_reset_curr, Linux 6.13): sk_msg may then hold the rest of a
 * split send after a pull (tg_skmsg_cork) */
const volatile __u8 tg_rest_hold = 0;
/* keys tg_seqhint's slots and tags (the agent draws it at load), so that
 * no client can pick two connections that share both */
const volatile __u64 tg_seqhint_key = 0;

/* --- maps (DESIGN §3) ------------------------------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tg_meta);
} tg_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TG_SECRET_SLOTS);
	__type(key, __u32);
	__type(value, struct tg_secret);
} tg_secrets SEC(".maps");

/* tg_gen[0]: the generation of tg_keys, tg_plans and tg_secrets; the agent
 * adds one after every change of them (see tg_keycache). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tg_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, struct tg_key_digest);
	__type(value, struct tg_key);
} tg_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct tg_plan);
} tg_plans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, struct tg_bucket_key);
	__type(value, struct tg_bucket);
} tg_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tg_route_key);
	__type(value, struct tg_route);
} tg_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, struct tg_port);
} tg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TG_XDP_PORTS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tg_xdp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct tg_flow_key);
	__type(value, struct tg_flow);
} tg_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tg_counter_key);
	__type(value, struct tg_counters);
} tg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} tg_events SEC(".maps");

/* Digests of keys the kernel did not know (the miss path, DESIGN §4): the
 * agent looks them up in Redis and installs a key or a negative entry. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} tg_misses SEC(".maps");

/* Tell the agent about an unknown digest. The negative entry the agent then
 * installs keeps the same digest from being reported again; a flood of new
 * digests only fills this small ring. */
static __always_inline void tg_report_miss(const struct tg_key_digest *d)
{
	struct tg_key_digest *m = bpf_ringbuf_reserve(&tg_misses, sizeof(*m), 0);

	if (!m)
		return;
	*m = *d;
	bpf_ringbuf_submit(m, 0);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_S_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} tg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tg_flow_key);
	__type(value, struct tg_reject);
} tg_rejects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct in6_addr);
	__type(value, struct tg_src_bucket);
} tg_srclimit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 32768);
	__type(key, struct tg_flow_key);
	__type(value, __u64);
} tg_sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tg_key_digest);
	__type(value, struct tg_refusal);
} tg_refusals SEC(".maps");

/*
 * sockmap mode: a local proxy's upstream sockets. A map of their own, because
 * besides tg_skmsg they carry tg_skb_pass: on a socket in a sockmap with only
 * an sk_msg program, 6.18's FIONREAD counts the sockmap's receive queue, which
 * stays empty, and says 0 while the TCP queue holds the response; nginx
 * believes it, stops reading a full buffer's worth early and waits for an
 * event that never comes. With a verdict program received data goes through
 * that queue and FIONREAD is right. The API server's sockets stay without it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 32768);
	__type(key, struct tg_flow_key);
	__type(value, __u64);
} tg_proxysocks SEC(".maps");

/*
 * tg_rejhint: for each slot of flow keys (tg_rejhint_slot()), until when
 * (bpf_ktime_get_coarse_ns()) a tg_rejects entry of one of its flows may
 * still be live. A client segment whose slot says no needs no tg_rejects
 * lookup: the coarse clock is read from memory, a lookup in an LRU hash
 * hashes a 36-byte key and walks a bucket. Pinned with tg_rejects, so an
 * agent that adopts one adopts the other.
 *
 * A slot is 0 (never written, or its flow's entry is gone), or holds one
 * flow's tag (TG_REJHINT_ONE: the flow's tag and the time in units of
 * 2^20 ns, rounded up), or the time alone in ns, for any flow of the slot
 * (two refused connections at once in one slot; what slots held before
 * they had tags, so a slot of an older program reads right): lib/rejhint.h
 * reads and writes them, and the tests with it. A tagged
 * slot spares every other flow of the slot the clock and the lookup, and
 * the refused connection clears it once its FIN is answered: in a flood
 * of refusals few slots are live at a time, where with the time alone
 * every slot was, for a minute, and so were every segment's clock read and
 * lookup. An older program reads a tagged slot as a time far ahead: it
 * looks, as it did.
 */
#define TG_REJHINT_SLACK_NS (100 * 1000000ULL) /* > 2 ticks of the coarse clock at HZ 100 */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TG_REJHINT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tg_rejhint SEC(".maps");

/*
 * tg_seqhint: for each slot of flow keys (tg_seqhint_slot()), the tag of the
 * flow that wrote it last and, with TG_SEQHINT_SURE, where that flow's next
 * request starts for sure (its next_seq, TG_FLOW_SEQ without
 * TG_FLOW_UNSURE). A client segment that does not begin like a request may
 * still hold one, at that boundary: behind the end of a body that began in
 * an earlier segment, or behind bytes the client sent again. The slot says
 * whether the boundary falls inside the segment without a tg_flows lookup;
 * a slot another flow wrote (or none has) sends tg_xdp to tg_flows, and
 * the flow takes the slot back. Every change tg_xdp or tg_sockops makes to
 * a flow's next_seq or those flags writes its slot (tg_seqhint_put());
 * sk_msg's, on a local proxy's connections, which tg_xdp never sees, need
 * not. Pinned: all of an agent's programs, and the next agent's, share one.
 */
#define TG_SEQHINT_SLOTS 65536
#define TG_SEQHINT_SURE (1ULL << 32)
/* the flow follows a chunked body, or has bytes whose chunk framing XDP
 * read (TG_FLOW_CHUNKED, TG_FLOW_CHUNK_SEEN): its segments go to
 * tg_xdp_chunk_seg() */
#define TG_SEQHINT_CHUNK (1ULL << 33)
#define TG_SEQHINT_TAG (~0ULL << 34)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TG_SEQHINT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tg_seqhint SEC(".maps");

/* Zeroed template for new counters; never written. */
struct tg_counters tg_counters_zero;
/* Set once any connection was answered in-kernel, so that until then no
 * client segment pays for a tg_rejects lookup. */
__u32 tg_rejects_used;

/* --- small helpers ----------------------------------------------------------- */

/* Flow @fk's slot of tg_rejhint, and its tag in *ret_tag. */
static __always_inline __u64 *tg_rejhint_slot(const struct tg_flow_key *fk, __u32 *ret_tag)
{
	__u32 slot = tg_rejhint_index(fk, ret_tag);

	return bpf_map_lookup_elem(&tg_rejhint, &slot);
}

/* Could flow fk have a live tg_rejects entry? A slot never written (0), or
 * another flow's, says no without the clock: a helper call, which a segment
 * of every other connection would pay once rejects are in use. */
static __always_inline bool tg_reject_maybe(const struct tg_flow_key *fk)
{
	__u32 tag;
	__u64 *slot = tg_rejhint_slot(fk, &tag), until;

	if (!slot)
		return true;
	until = tg_rejhint_until(READ_ONCE(*slot), tag);
	return until && until >= bpf_ktime_get_coarse_ns();
}

/* Flow @fk has a tg_rejects entry now: its slot says so, for it alone where
 * no other flow's entry may be live there, else for any flow. */
static __always_inline void tg_rejhint_set(const struct tg_flow_key *fk)
{
	__u64 *slot, old, v, now = bpf_ktime_get_coarse_ns(), until;
	__u32 tag;

	slot = tg_rejhint_slot(fk, &tag);
	if (!slot)
		return;
	until = now + tg_reject_ttl_ns + TG_REJHINT_SLACK_NS;
	old = READ_ONCE(*slot);
	/* another flow's entry may be live there: the slot is for any flow */
	if (old & TG_REJHINT_ONE ? TG_REJHINT_TAG_OF(old) != tag && TG_REJHINT_NS_OF(old) >= now :
				   old >= now)
		v = until;
	else
		v = tg_rejhint_one(tag, until);
	/* another CPU changed it meanwhile: for any flow, which covers both */
	if (__sync_val_compare_and_swap(slot, old, v) != old)
		WRITE_ONCE(*slot, until);
}

/* Flow @fk's tg_rejects entry goes, and its slot, where it is the flow's
 * alone, says no more. */
static __always_inline void tg_reject_forget(const struct tg_flow_key *fk)
{
	__u64 *slot, old;
	__u32 tag;

	bpf_map_delete_elem(&tg_rejects, fk);
	slot = tg_rejhint_slot(fk, &tag);
	if (!slot)
		return;
	old = READ_ONCE(*slot);
	if ((old & TG_REJHINT_ONE) && TG_REJHINT_TAG_OF(old) == tag)
		__sync_val_compare_and_swap(slot, old, 0);
}

/* Flow @fk's slot of tg_seqhint, and its tag in *ret_tag: a keyed hash of
 * the whole key (tg_seqhint_key), its low bits the slot, its top 31 the
 * tag, the first of which is set so that no tag matches an unwritten slot. */
static __always_inline __u64 *tg_seqhint_slot(const struct tg_flow_key *fk, __u64 *ret_tag)
{
	const __u32 *w = (const __u32 *)fk;
	const __u64 mul = 0x9e3779b97f4a7c15ULL;
	__u64 h = tg_seqhint_key;
	__u32 slot;

	_Static_assert(sizeof(*fk) == 9 * 4, "nine words");
	h = (h ^ ((__u64)w[0] << 32 | w[1])) * mul;
	h = (h ^ ((__u64)w[2] << 32 | w[3])) * mul;
	h = (h ^ ((__u64)w[4] << 32 | w[5])) * mul;
	h = (h ^ ((__u64)w[6] << 32 | w[7])) * mul;
	h = (h ^ w[8]) * mul;
	*ret_tag = (h | (1ULL << 63)) & TG_SEQHINT_TAG;
	slot = (h ^ (h >> 32)) & (TG_SEQHINT_SLOTS - 1);
	return bpf_map_lookup_elem(&tg_seqhint, &slot);
}

/* Whether flow @f (or none) knows where its next request starts: at
 * next_seq, where the last one ended (TG_FLOW_SEQ, not TG_FLOW_UNSURE). */
static __always_inline bool tg_flow_sure(const struct tg_flow *f)
{
	return f && (READ_ONCE(f->flags) & (TG_FLOW_SEQ | TG_FLOW_UNSURE | TG_FLOW_CHUNKED)) ==
			    TG_FLOW_SEQ;
}

/* Write flow @fk's slot from its flow @f (NULL: it has none). Returns
 * what it wrote. */
static __always_inline __u64 tg_seqhint_put(const struct tg_flow_key *fk, struct tg_flow *f)
{
	__u64 tag, *slot = tg_seqhint_slot(fk, &tag);

	if (f && (READ_ONCE(f->flags) & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN)))
		tag |= TG_SEQHINT_CHUNK;
	else if (tg_flow_sure(f))
		tag |= TG_SEQHINT_SURE | READ_ONCE(f->next_seq);
	if (slot)
		WRITE_ONCE(*slot, tag);
	return tag;
}

static __always_inline void tg_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tg_stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct tg_counters *tg_counters_get(__u32 consumer_id, __u32 api_id)
{
	struct tg_counter_key k = { .consumer_id = consumer_id, .api_id = api_id };
	struct tg_counters *c = bpf_map_lookup_elem(&tg_counters, &k);

	if (c)
		return c;
	if (bpf_map_update_elem(&tg_counters, &k, &tg_counters_zero, BPF_NOEXIST) == -TG_E2BIG)
		tg_stat(TG_S_MAP_FULL);
	c = bpf_map_lookup_elem(&tg_counters, &k);
	return c;
}

static __always_inline void tg_count_refused(__u32 consumer_id, __u32 api_id, __u32 verdict)
{
	struct tg_counters *c = tg_counters_get(consumer_id, api_id);

	if (c)
		__sync_fetch_and_add(&c->refused[verdict & (TG_V_COUNT - 1)], 1);
}

static __always_inline void tg_addr_v4mapped(__u8 *dst, __be32 v4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &v4, 4);
}

/* --- packet parsing ----------------------------------------------------------- */

struct tg_pkt {
	__u32 l3off;
	__u32 l4off;
	__u32 payload_off;
	__u32 payload_len;
	__u32 frame_len;
	__u32 seq;
	__u32 ack_seq;
	__u16 window;
	__u8 tcp_flags;
	__u8 ipv6;
	__u8 fragment;
	__u8 tcp_hlen;
	__u8 has_ts;
	__u8 pad;
	__u32 ts_val;
	__u32 ts_ecr;
	struct tg_flow_key fk;
};

/*
 * What tg_resp_window() has found of a response head so far. sk_msg copies a
 * head into tg_scratch's buffer TG_SCAN_MAX bytes at a time, up to
 * TG_HEAD_MAX: each window after the first starts at the line feed before
 * the last line the previous one saw begin, so every line is whole in some
 * window (a line longer than a window is skipped: the scan never takes a
 * window's first byte for a line start). Offsets are in the send.
 */
#define TG_HEAD_MAX (16 * TG_SCAN_MAX) /* a longer response head: end unknown */
#define TG_HEAD_WINDOWS (2 * TG_HEAD_MAX / TG_SCAN_MAX)
/* Chunk framing is read in windows of TG_CHUNK_LINE_MAX bytes at a size
 * line, else of TG_SCAN_MAX; at most this many in one run of tg_skmsg */
#define TG_CHUNK_STEPS 32

struct tg_head_scan {
	__u32 base;	/* where the window in the buffer starts */
	__u32 next;	/* where the next one starts; 0 = the scan is over */
	__u32 te;	/* the last Transfer-Encoding line: TG_TE_* */
	__u32 clen;	/* the last Content-Length line: TG_CLEN_* */
	__u64 body_len; /* its value */
	__u32 end;	/* just past the head's blank line; 0 = not seen */
	__u32 to_close; /* the head ended: no length, the body runs to the close */
	__u32 cut;	/* the send ended before the head did */
};

enum { TG_TE_NONE, TG_TE_CHUNKED, TG_TE_OTHER };
enum { TG_CLEN_NONE, TG_CLEN_OK, TG_CLEN_BAD };

/* Requests tg_xdp reads in one segment: each one let through (admitted, or
 * unadmitted: a public route, a `pass` action) is followed by the next, up
 * to this many (tg_xdp_request); a power of two */
#define TG_SEG_REQUESTS 8
/* tg_xdp_request(): the next request starts at the offset r - TG_XDP_NEXT */
#define TG_XDP_NEXT 8
/* tg_xdp_request()'s offset for a segment whose bytes cannot be read
 * (fragments, TCP Fast Open data): refused as missing_key (DESIGN §3) */
#define TG_XDP_UNREAD 0xffffffffU
/* tg_xdp_request()'s offset flag for the first request of a segment that
 * does not begin with one (tg_flow_boundary_at) */
#define TG_XDP_AT 0x40000000U
/* tg_seqhint_at(): the segment's flow follows a chunked body, or read chunk
 * framing: tg_xdp_chunk_seg() decides it; tg_xdp_request() returns
 * TG_XDP_NEXT plus one of these for tg_xdp to call that, _BODY where the
 * segment does not begin like a request */
#define TG_XDP_CHUNKS 0x20000000U
#define TG_XDP_CHUNKS_BODY (TG_XDP_CHUNKS + 1)
/* tg_xdp_chunk_seg(): no chunk framing is at stake in the segment */
#define TG_XDP_CHUNK_NONE 0x10000000
/* tg_xdp_request()'s offset flag for a segment that begins like a request
 * whose chunk framing tg_xdp_chunk_seg() found nothing at stake in: read it
 * as usual (tg_xdp calls that, to keep the calls' stacks within 512 bytes) */
#define TG_XDP_PLAIN 0x08000000U

/* Per-CPU working memory: XDP runs in softirq, never preempted by itself;
 * sk_msg runs preemptible and claims one of several slots (tg_msg_scratch). */
struct tg_scratch {
	struct tg_http_buf buf;
	__u8 key[TG_KEY_MAX + 8];
	struct tg_key_digest digest;
	__u32 key_cached; /* digest came from the flow's cache */
	struct tg_route_key rkey;
	__u32 digest_ok; /* digest holds the request key's digest */
	struct tg_request req;
	struct tg_http_req http; /* the parse of the current request */
	struct tg_proxy_req proxy; /* sockmap mode: the rest of a proxied head */
	__u8 out[TG_REPLY_MASK + 1 + 64];
	__u8 l3[40];
	struct tg_pkt pkt; /* tg_reject's own parse */
	struct tg_reply_info rinfo; /* tg_reject's: off its stack, which */
	struct tg_reject rj;	    /* tg_xdp's frame shares (512 bytes) */
	__u64 req_len; /* sk_msg: bytes of the proxied request, 0 = unknown */
	/* tg_xdp: the flow flags tg_req_end_seq() leaves, read back from here
	 * so that the verifier follows the admission once, not once a value */
	__u32 req_flags;
	struct tg_head_scan head; /* sk_msg: a response head, window by window */
	struct tg_chunk_step chunk; /* chunk framing, window by window: sk_msg's
				     * of a response, tg_xdp's of a request */
	struct tg_http_buf cbuf;    /* tg_xdp: a window of a chunked body */
	/* tg_xdp_chunk_read(): the end of the framing bytes it read */
	__u32 chunk_read;
	/* tg_xdp: the request decided last has a chunked body that goes on
	 * past its segment, and XDP follows it (tg_xdp_commit): its framing
	 * at chunk_fseq, in state chunk_fstate; framing read to chunk_fread */
	__u32 chunk_follow;
	__u32 chunk_fseq;
	__u32 chunk_fstate;
	__u32 chunk_fread;
	/* zeroes for a new flow, never written: a map value that holds a
	 * bpf_timer cannot be the source of an update itself */
	__u8 flow_zero[sizeof(struct tg_flow)];
	/* tg_xdp: the requests of the segment decided so far, in order, the
	 * one tg_xdp_request() decides last: each let through unadmitted
	 * (TG_RQ_UNCHARGED; only its method counts) or admitted (its token
	 * taken, seg_admitted of them); recorded in the flow once the whole
	 * segment is decided (tg_xdp_commit), their tokens given back if it is
	 * refused (tg_xdp_refund) */
	__u32 seg_n;
	__u32 seg_admitted;
	struct tg_request seg_req[TG_SEG_REQUESTS];
	/* tg_xdp: where the next request of the segment starts, and whether
	 * for sure (tg_req_start_sure) */
	__u32 chain_seq;
	__u32 chain_sure;
	/* tg_xdp: the segment is a retransmission (tg_seg_kind): its requests
	 * that start before again_end (the flow's next_seq) are decided again,
	 * TG_RQ_AGAIN, and those from there on as new ones; TG_AGAIN_SURE
	 * where the flow was sure where they end */
	__u32 again;
	__u32 again_end;
	__u32 again_seg_end; /* the end of the last segment recorded */
};

enum { TG_AGAIN = 1, TG_AGAIN_SURE = 2 };

/* A scratch-only flag of s->seg_req (never in a flow): a request of a
 * retransmission decided again; tg_xdp_commit records nothing of it and
 * tg_xdp_refund gives nothing back for it, as it took no token. */
#define TG_RQ_AGAIN (1U << 15)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tg_scratch);
} tg_scratch SEC(".maps");

/*
 * tg_keycache: for each CPU, the keys tg_xdp found lately, each with its digest,
 * its tg_keys entry and its plan, so a client that sends a key again (on any
 * connection) costs no SipHash and no key or plan lookup. A slot holds one
 * key; the key's bytes choose a set of two slots side by side, and it may
 * sit in either (tg_keycache_set()); an entry counts only while tg_gen[0] is
 * what it was when the entry was filled, and it is filled from lookups made
 * after that generation was read: so any change the agent makes, then
 * counts in tg_gen, is seen by the next request. tg_xdp only: it never
 * preempts itself on a CPU (sk_msg does, and looks keys up every time).
 * Not pinned: a new program starts with an empty cache. 1 << tg_keycache_bits
 * slots a CPU (tollgate_abi.h), CPU c's from c << tg_keycache_bits: a plain
 * array, not a per-CPU one, so that a lookup (inlined) is one load of the
 * entry, not first one of the entry's per-CPU pointer, which on a request
 * with a key not used on that CPU just before is a cache miss of its own.
 * Where the loader left fewer entries than CPUs need, a CPU beyond them has
 * no cache.
 */
struct tg_keycache_entry {
	__u64 key_raw[6]; /* the key's bytes, zero-padded (never all zero) */
	__u64 gen;
	struct tg_key_digest digest;
	struct tg_key key;
	struct tg_plan plan;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << TG_KEYCACHE_BITS_MIN);
	__type(key, __u32);
	__type(value, struct tg_keycache_entry);
} tg_keycache SEC(".maps");

/* sk_msg's working memory: a program preempted on one CPU must not share a
 * slot with the one that preempted it, so each run claims a free slot of its
 * CPU's (a bit in tg_msg_busy) and gives it back. */
#define TG_MSG_SLOTS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_MSG_SLOTS);
	__type(key, __u32);
	__type(value, struct tg_scratch);
} tg_msg_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tg_msg_busy SEC(".maps");

enum { TG_PARSE_OURS = 0, TG_PARSE_OTHER = 1, TG_PARSE_BAD = 2 };

/* Parse Ethernet, optional VLAN, IPv4/IPv6 and TCP up to the payload. */
static __always_inline int tg_parse(struct xdp_md *ctx, struct tg_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;
	__u32 ip_end, l4off;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return TG_PARSE_OTHER;
	p->frame_len = data_end - data;
	proto = eth->h_proto;
	p->l3off = sizeof(*eth);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = data + sizeof(*eth);

		if ((void *)(vh + 1) > data_end)
			return TG_PARSE_BAD;
		proto = vh->h_vlan_encapsulated_proto;
		p->l3off += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + p->l3off;
		__u32 ihl, tot;

		if ((void *)(iph + 1) > data_end)
			return TG_PARSE_BAD;
		if (iph->protocol != IPPROTO_TCP)
			return TG_PARSE_OTHER;
		ihl = iph->ihl * 4;
		tot = bpf_ntohs(iph->tot_len);
		if (iph->version != 4 || ihl < sizeof(*iph) || tot < ihl || p->l3off + tot > p->frame_len)
			return TG_PARSE_BAD;
		if (iph->frag_off & bpf_htons(0x1fff))
			return TG_PARSE_OTHER; /* not the first fragment: no TCP header */
		p->fragment = !!(iph->frag_off & bpf_htons(0x2000));
		l4off = p->l3off + ihl;
		ip_end = p->l3off + tot;
		tg_addr_v4mapped(p->fk.client_addr, iph->saddr);
		tg_addr_v4mapped(p->fk.server_addr, iph->daddr);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + p->l3off;
		__u8 next;

		if ((void *)(ip6 + 1) > data_end)
			return TG_PARSE_BAD;
		if (ip6->version != 6)
			return TG_PARSE_BAD;
		ip_end = p->l3off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		if (ip_end > p->frame_len)
			return TG_PARSE_BAD;
		l4off = p->l3off + sizeof(*ip6);
		next = ip6->nexthdr;
		if (next == TG_NEXTHDR_FRAGMENT) {
			struct frag_hdr *fh = data + l4off;

			if ((void *)(fh + 1) > data_end)
				return TG_PARSE_BAD;
			if (fh->frag_off & bpf_htons(0xfff8))
				return TG_PARSE_OTHER;
			next = fh->nexthdr;
			l4off += sizeof(*fh);
			p->fragment = 1;
		}
		if (next != IPPROTO_TCP)
			return TG_PARSE_OTHER;
		__builtin_memcpy(p->fk.client_addr, &ip6->saddr, 16);
		__builtin_memcpy(p->fk.server_addr, &ip6->daddr, 16);
		p->ipv6 = 1;
	} else {
		return TG_PARSE_OTHER;
	}

	if (l4off > 128)
		return TG_PARSE_BAD;
	th = data + l4off;
	if ((void *)(th + 1) > data_end)
		return TG_PARSE_BAD;
	p->tcp_hlen = th->doff * 4;
	if (p->tcp_hlen < sizeof(*th) || l4off + p->tcp_hlen > ip_end)
		return TG_PARSE_BAD;
	p->l4off = l4off;
	p->payload_off = l4off + p->tcp_hlen;
	p->payload_len = ip_end - p->payload_off;
	p->seq = bpf_ntohl(th->seq);
	p->ack_seq = bpf_ntohl(th->ack_seq);
	p->window = th->window;
	p->tcp_flags = ((__u8 *)th)[13];
	p->fk.client_port = th->source;
	p->fk.server_port = th->dest;

	/* Linux puts the timestamp option first: NOP NOP TS(10). */
	if (p->tcp_hlen >= sizeof(*th) + 12) {
		__u8 *opt = (void *)(th + 1);

		if ((void *)(opt + 12) <= data_end && opt[0] == 1 && opt[1] == 1 && opt[2] == 8 &&
		    opt[3] == 10) {
			p->has_ts = 1;
			p->ts_val = *(__u32 *)(opt + 4);
			p->ts_ecr = *(__u32 *)(opt + 8);
		}
	}
	return TG_PARSE_OURS;
}

/* --- in-kernel answers ------------------------------------------------------- */

static __always_inline __u64 tg_csum_add_words(const void *p, int words16)
{
	const __u16 *w = p;
	__u64 sum = 0;

	for (int i = 0; i < words16; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u64 tg_pseudo_sum(const struct tg_pkt *p, __u32 tcp_len, bool swap)
{
	const __u8 *src = swap ? p->fk.server_addr : p->fk.client_addr;
	const __u8 *dst = swap ? p->fk.client_addr : p->fk.server_addr;
	__u64 sum = bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)tcp_len);

	if (p->ipv6)
		return sum + tg_csum_add_words(src, 8) + tg_csum_add_words(dst, 8);
	return sum + tg_csum_add_words(src + 12, 2) + tg_csum_add_words(dst + 12, 2);
}

/* Build the new L3 header (no options, no extension headers) for a segment
 * of tcp_len bytes going the direction given by swap. */
static __always_inline __u32 tg_build_l3(const struct tg_pkt *p, __u8 *l3, __u32 tcp_len, bool swap)
{
	const __u8 *src = swap ? p->fk.server_addr : p->fk.client_addr;
	const __u8 *dst = swap ? p->fk.client_addr : p->fk.server_addr;

	if (p->ipv6) {
		struct ipv6hdr *ip6 = (void *)l3;

		__builtin_memset(ip6, 0, sizeof(*ip6));
		ip6->version = 6;
		ip6->payload_len = bpf_htons((__u16)tcp_len);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
		return sizeof(*ip6);
	} else {
		struct iphdr *iph = (void *)l3;

		__builtin_memset(iph, 0, sizeof(*iph));
		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = bpf_htons((__u16)(sizeof(*iph) + tcp_len));
		iph->frag_off = bpf_htons(0x4000); /* DF */
		iph->ttl = 64;
		iph->protocol = IPPROTO_TCP;
		__builtin_memcpy(&iph->saddr, src + 12, 4);
		__builtin_memcpy(&iph->daddr, dst + 12, 4);
		iph->check = tg_csum_fold(tg_csum_add_words(iph, 10));
		return sizeof(*iph);
	}
}

/*
 * Resize the frame to l3off + l3_len + l4_len and write l3 and l4 into it.
 * Growing prefers the tail, but veth leaves frames almost no tailroom while
 * XDP always has headroom: then the frame grows at the head and its L2
 * header (Ethernet and VLAN tag, at most 18 bytes) moves to the new start.
 */
static __always_inline int tg_rewrite(struct xdp_md *ctx, const struct tg_pkt *p, __u8 *l3,
				      __u32 l3_len, __u8 *l4, __u32 l4_len)
{
	int delta = (int)(p->l3off + l3_len + l4_len) - (int)bpf_xdp_get_buff_len(ctx);
	__u8 l2[18];
	__u32 l2_len = p->l3off;

	if (l3_len > 40 || l4_len < 20 || l4_len > TG_REPLY_MASK + 1 || l2_len < 14 || l2_len > 18)
		return -1;
	if (delta > 0 && bpf_xdp_adjust_tail(ctx, delta)) {
		if (bpf_xdp_load_bytes(ctx, 0, l2, l2_len) || bpf_xdp_adjust_head(ctx, -delta))
			return -1;
		if (bpf_xdp_store_bytes(ctx, 0, l2, l2_len))
			return -1;
	} else if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta)) {
		return -1;
	}
	if (bpf_xdp_store_bytes(ctx, p->l3off, l3, l3_len))
		return -1;
	if (bpf_xdp_store_bytes(ctx, p->l3off + l3_len, l4, l4_len))
		return -1;
	return 0;
}

/* @p's timestamps echoed at @opt (12 bytes: NOP, NOP, TS), as the server
 * would: its TSval is the one the client echoes, so PAWS lets it in. */
static __always_inline void tg_ts_reply(__u8 *opt, const struct tg_pkt *p)
{
	opt[0] = 1;
	opt[1] = 1;
	opt[2] = 8;
	opt[3] = 10;
	*(__u32 *)(opt + 4) = p->ts_ecr;
	*(__u32 *)(opt + 8) = p->ts_val;
}

/* Make the frame TCP segment @l4 (@l4_len bytes, checksummed) from the
 * server to @p's client: a new IP header in @l3 (40 bytes), addresses and
 * MACs swapped, ready for XDP_TX. 0, or -1 where the frame cannot be
 * made. */
static __always_inline int tg_to_client(struct xdp_md *ctx, const struct tg_pkt *p, __u8 *l3,
					__u8 *l4, __u32 l4_len)
{
	void *data, *data_end;
	struct ethhdr *eth;
	__u8 mac[6];

	if (tg_rewrite(ctx, p, l3, tg_build_l3(p, l3, l4_len, true), l4, l4_len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(mac, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, mac, 6);
	return 0;
}

/*
 * Whether flow @f (or none) knows that a request starts at offset @off of
 * segment @p: where the last request ended (next_seq), or, behind a
 * request of the segment let through, where that one ended if it started
 * at such a place too (s->chain_sure, s->chain_seq).
 */
static __always_inline bool tg_req_start_sure(const struct tg_scratch *s, const struct tg_flow *f,
					      const struct tg_pkt *p, __u32 off)
{
	__u32 start = p->seq + off;

	if (!tg_flow_sure(f))
		return false;
	return start == f->next_seq || (off && s->chain_sure && start == s->chain_seq);
}

/*
 * Answer the request in-kernel: a FIN|PSH|ACK segment carrying the HTTP
 * reply. A global function, so the verifier checks it once rather than at
 * every refusal; it parses the headers again rather than take pointers.
 */
__noinline int tg_reject(struct xdp_md *ctx, __u32 verdict, __u32 wait_s, __u32 burst,
			 __u32 window_s)
{
	struct tg_reply_info *info;
	struct tg_scratch *s;
	struct tg_reject *rj;
	struct tg_pkt *p;
	struct tcphdr *th;
	__u8 *l3;
	__u32 hlen, rlen, l4_len, zero = 0;
	__u64 sum;

	s = bpf_map_lookup_elem(&tg_scratch, &zero);
	if (!ctx || !s)
		return XDP_DROP;
	info = &s->rinfo;
	__builtin_memset(info, 0, sizeof(*info));
	info->verdict = verdict;
	info->wait_s = wait_s;
	info->burst = burst;
	info->window_s = window_s;
	rj = &s->rj;
	p = &s->pkt;
	__builtin_memset(p, 0, sizeof(*p));
	l3 = s->l3;
	if (tg_parse(ctx, p) != TG_PARSE_OURS)
		return XDP_DROP;
	th = (void *)s->out;
	hlen = p->has_ts ? 32 : 20;
	/* the server never gets this segment: it expects its first byte
	 * next, unless its TCP may be elsewhere: where the segment is a
	 * retransmission (tg_xdp_request's s->again), or the flow is not sure
	 * a request starts there (bytes before it lost or on their way); the
	 * RST then looks */
	rj->server_rcv_nxt = p->seq;
	rj->flags = s->again || !tg_req_start_sure(s, bpf_map_lookup_elem(&tg_flows, &p->fk), p, 0) ?
			    TG_REJECT_LOOKUP :
			    0;
	rj->expires_ns = bpf_ktime_get_ns() + tg_reject_ttl_ns;

	rlen = tg_reply_build(s->out + hlen, info);
	if (rlen > TG_REPLY_MAX)
		return XDP_DROP;
	l4_len = hlen + rlen;
	/* zero pad for the 4-byte checksum over the whole segment */
	*(__u32 *)(s->out + (l4_len & TG_REPLY_MASK)) = 0;

	__builtin_memset(th, 0, sizeof(*th));
	th->source = p->fk.server_port;
	th->dest = p->fk.client_port;
	th->seq = bpf_htonl(p->ack_seq);
	th->ack_seq = bpf_htonl(p->seq + p->payload_len);
	th->doff = hlen / 4;
	((__u8 *)th)[13] = TG_TCP_FIN | TG_TCP_PSH | TG_TCP_ACK;
	th->window = p->window;
	if (p->has_ts)
		tg_ts_reply(s->out + 20, p);
	sum = bpf_csum_diff(NULL, 0, (void *)s->out, (l4_len + 3) & ~3U & TG_REPLY_MASK, 0);
	sum = (__u32)sum + tg_pseudo_sum(p, l4_len, true);
	th->check = tg_csum_fold(sum);

	if (tg_to_client(ctx, p, l3, s->out, l4_len))
		return XDP_DROP;
	if (bpf_map_update_elem(&tg_rejects, &p->fk, rj, BPF_ANY) == 0) {
		tg_rejhint_set(&p->fk);
		tg_rejects_used = 1;
	}
	tg_stat(TG_S_REJECT_TX);
	return XDP_TX;
}

/*
 * The rcv_nxt of the server's socket of @p's connection, in the network
 * namespace of the device (bpf_skc_lookup_tcp): false where there is none
 * that takes data (none here, a listener's, a request or time-wait
 * socket). The server reads no byte before it: TCP trims or drops a
 * segment's bytes up to it (RFC 9293 3.10.7.4).
 */
static __always_inline bool tg_tcp_rcv_nxt(struct xdp_md *ctx, const struct tg_pkt *p,
					   __u32 *ret_rcv_nxt)
{
	struct bpf_sock_tuple t = {};
	struct tcp_sock *tp;
	struct bpf_sock *sk;
	bool found = false;
	__u32 state;

	if (p->ipv6) {
		__builtin_memcpy(t.ipv6.saddr, p->fk.client_addr, 16);
		__builtin_memcpy(t.ipv6.daddr, p->fk.server_addr, 16);
		t.ipv6.sport = p->fk.client_port;
		t.ipv6.dport = p->fk.server_port;
		sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	} else {
		t.ipv4.saddr = *(const __be32 *)(p->fk.client_addr + 12);
		t.ipv4.daddr = *(const __be32 *)(p->fk.server_addr + 12);
		t.ipv4.sport = p->fk.client_port;
		t.ipv4.dport = p->fk.server_port;
		sk = bpf_skc_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return false;
	state = sk->state;
	if (state == BPF_TCP_ESTABLISHED || state == BPF_TCP_FIN_WAIT1 ||
	    state == BPF_TCP_FIN_WAIT2 || state == BPF_TCP_CLOSE_WAIT || state == BPF_TCP_CLOSING ||
	    state == BPF_TCP_LAST_ACK) {
		tp = bpf_skc_to_tcp_sock(sk);
		if (tp) {
			*ret_rcv_nxt = tp->rcv_nxt;
			found = true;
		}
	}
	bpf_sk_release(sk);
	return found;
}

/* The client's next segment on an answered connection becomes a RST at the
 * sequence the server still expects, so the server frees its socket (a RST
 * off it would get a challenge ACK, RFC 5961): @rcv_nxt, the first byte of
 * the refused segment, or with @lookup (TG_REJECT_LOOKUP) its socket's
 * rcv_nxt where there is one. A global function: its frame is not tg_xdp's,
 * which tg_xdp_request's adds to. */
__noinline int tg_reset_server(struct xdp_md *ctx, const struct tg_pkt *p, __u32 rcv_nxt,
			       __u32 lookup)
{
	struct tcphdr th = {};
	__u8 l3[40];
	__u32 l3_len;
	__u64 sum;

	if (!ctx || !p)
		return XDP_DROP;
	if (lookup)
		tg_tcp_rcv_nxt(ctx, p, &rcv_nxt);
	th.source = p->fk.client_port;
	th.dest = p->fk.server_port;
	th.seq = bpf_htonl(rcv_nxt);
	th.doff = 5;
	((__u8 *)&th)[13] = TG_TCP_RST;
	sum = tg_csum_add_words(&th, 10) + tg_pseudo_sum(p, sizeof(th), false);
	th.check = tg_csum_fold(sum);
	l3_len = tg_build_l3(p, l3, sizeof(th), false);
	if (tg_rewrite(ctx, p, l3, l3_len, (__u8 *)&th, sizeof(th)))
		return XDP_DROP;
	tg_stat(TG_S_RESETS);
	return XDP_PASS;
}

/*
 * The client's segment @p on an answered connection whose server socket was
 * reset already. Where the segment reached the server, its TCP would find
 * no socket and answer with a RST (RFC 9293 3.10.7.1); XDP answers in its
 * place, and gracefully where it can. The client's FIN without data gets
 * its ACK: the socket leaves LAST-ACK at once, where it would otherwise send
 * the FIN again for minutes and keep its port. Data gets a RST at the
 * sequence the client expects.
 *
 * The RST from XDP may have missed the server's socket: sent without a
 * lookup (tg_reject: the flow was sure where the refused request began),
 * it is off the socket's rcv_nxt where bytes before the refused segment
 * never arrived (lost, yet acknowledged by the answer), and the socket
 * answered it with a challenge ACK (RFC 5961). The client answers that:
 * with a duplicate ACK while its socket is open, with a RST at exactly
 * that rcv_nxt once it is closed. So a bare ACK looks the socket up and,
 * where it is still there, resets it at its rcv_nxt (else it needs no
 * answer); a RST goes on to the server, whose TCP ignores it where there
 * is no socket.
 */
__noinline int tg_answer_closed(struct xdp_md *ctx, const struct tg_pkt *p)
{
	__u8 seg[32] = {}, l3[40];
	struct tcphdr *th = (void *)seg;
	__u32 hlen = 20, rcv_nxt;
	__u64 sum;

	if (!ctx || !p)
		return XDP_DROP;
	if (p->tcp_flags & TG_TCP_RST)
		return XDP_PASS;
	if (!(p->tcp_flags & TG_TCP_ACK))
		return XDP_DROP;
	if (!p->payload_len && !(p->tcp_flags & TG_TCP_FIN))
		return tg_tcp_rcv_nxt(ctx, p, &rcv_nxt) ? tg_reset_server(ctx, p, rcv_nxt, 0) :
							   XDP_DROP;
	th->source = p->fk.server_port;
	th->dest = p->fk.client_port;
	th->seq = bpf_htonl(p->ack_seq);
	if (p->payload_len) {
		seg[13] = TG_TCP_RST;
	} else {
		th->ack_seq = bpf_htonl(p->seq + 1);
		seg[13] = TG_TCP_ACK;
		th->window = p->window;
		if (p->has_ts) {
			tg_ts_reply(seg + 20, p);
			hlen = 32;
		}
	}
	th->doff = hlen / 4;
	sum = tg_csum_add_words(seg, hlen == 32 ? 16 : 10) + tg_pseudo_sum(p, hlen, true);
	th->check = tg_csum_fold(sum);
	if (tg_to_client(ctx, p, l3, seg, hlen))
		return XDP_DROP;
	/* the client's socket, its FIN acknowledged, is closed: nothing more
	 * comes but that FIN again, should this ACK be lost, which the
	 * server's TCP answers with a RST (no socket), as it would its RST
	 * from XDP; the entry need not stay for the rest of its minute, nor
	 * keep its slot of tg_rejhint live */
	if (!p->payload_len)
		tg_reject_forget(&p->fk);
	return XDP_TX;
}

/* Per-source limit on refusals without a valid key: true = may answer. */
static __always_inline bool tg_source_allows(const struct tg_pkt *p, __u64 now)
{
	struct tg_src_bucket *b = bpf_map_lookup_elem(&tg_srclimit, p->fk.client_addr);
	struct tg_src_bucket fresh = { .tokens_fp = tg_source_burst_fp - TG_TOKEN_ONE, .last_ns = now };
	__u64 tokens, last;

	if (!b) {
		bpf_map_update_elem(&tg_srclimit, p->fk.client_addr, &fresh, BPF_ANY);
		return tg_source_burst_fp >= TG_TOKEN_ONE;
	}
	tokens = b->tokens_fp;
	last = b->last_ns;
	tg_refill(&tokens, &last, now, tg_source_rate_fp, tg_source_burst_fp);
	if (tokens < TG_TOKEN_ONE) {
		b->last_ns = last;
		b->tokens_fp = tokens;
		return false;
	}
	b->tokens_fp = tokens - TG_TOKEN_ONE;
	b->last_ns = last;
	return true;
}

/* A refused request's (consumer, API), as tg_refuse_decide() takes them. */
#define TG_IDS(consumer_id, api_id) ((__u64)(consumer_id) << 32 | (api_id))
#define TG_XDP_REJECT 0x100 /* tg_refuse_decide: answer with tg_reject() */

/*
 * What to do with a refused request of (consumer, API) @ids (TG_IDS): count
 * it, then its verdict's action, the per-source limit applied to refusals
 * without a valid key; TG_XDP_REJECT where the caller answers it. A global
 * function: one copy, checked once, off the admitted path's code; tg_reject
 * is called by the caller, so the stack of calls stays three deep.
 */
__noinline int tg_refuse_decide(const struct tg_pkt *p, const struct tg_reply_info *info, __u64 ids,
				__u64 now)
{
	__u32 v;
	__u8 action;

	if (!p || !info)
		return XDP_PASS;
	v = info->verdict & (TG_V_COUNT - 1);
	action = tg_actions[v];
	tg_count_refused(ids >> 32, (__u32)ids, v);
	if (action == TG_ACT_PASS)
		return XDP_PASS;
	if (v == TG_V_MISSING_KEY || v == TG_V_UNKNOWN_KEY || v == TG_V_REVOKED_KEY) {
		if (!tg_source_allows(p, now)) {
			tg_stat(TG_S_SRC_LIMITED);
			return XDP_DROP;
		}
	}
	if (action == TG_ACT_DROP || p->fragment || (p->tcp_flags & TG_TCP_SYN))
		return XDP_DROP;
	return TG_XDP_REJECT;
}

/* Apply the configured action to a refused request of (consumer, API) @ids. */
static __always_inline int tg_refuse(struct xdp_md *ctx, const struct tg_pkt *p,
				     const struct tg_reply_info *info, __u64 ids, __u64 now)
{
	int r = tg_refuse_decide(p, info, ids, now);

	if (r != TG_XDP_REJECT)
		return r;
	return tg_reject(ctx, info->verdict & (TG_V_COUNT - 1), info->wait_s, info->burst,
			 info->window_s);
}

/* --- admission ------------------------------------------------------------------ */

static int tg_flow_timer(void *map, struct tg_flow_key *key, struct tg_flow *f);

/* A new, empty flow with its unanswered timer armed (arming allocates: the
 * dearest step of a flow's life, so tg_sockops does it at the handshake). */
static __always_inline struct tg_flow *tg_flow_create(const struct tg_flow_key *fk,
						      struct tg_scratch *s)
{
	struct tg_flow *f;

	if (bpf_map_update_elem(&tg_flows, fk, s->flow_zero, BPF_NOEXIST) == -TG_E2BIG)
		tg_stat(TG_S_MAP_FULL);
	f = bpf_map_lookup_elem(&tg_flows, fk);
	if (!f) {
		tg_stat(TG_S_MAP_FULL);
		return NULL;
	}
	/* -EBUSY: another CPU made it first and armed its timer */
	if (bpf_timer_init(&f->timer, &tg_flows, 1 /* CLOCK_MONOTONIC */) == 0) {
		bpf_timer_set_callback(&f->timer, tg_flow_timer);
		bpf_timer_start(&f->timer, tg_flow_timer_ns, 0);
	}
	return f;
}

#define TG_FLOW_REQ_FLAGS                                                                          \
	(TG_FLOW_SEQ | TG_FLOW_BODY_OPEN | TG_FLOW_BODY_PASSED | TG_FLOW_UNSURE |                   \
	 TG_FLOW_CHUNKED | TG_FLOW_CHUNK_FREE)

/* Set flow @f's TG_FLOW_REQ_FLAGS as in @want, but TG_FLOW_UNSURE, which
 * only a SYN clears (tg_flow_syn). Only the side that admits requests on
 * the flow changes these, so a plain read says which need an atomic;
 * usually none does. */
static __always_inline void tg_flow_req_flags(struct tg_flow *f, __u32 want)
{
	__u32 have = READ_ONCE(f->flags) & TG_FLOW_REQ_FLAGS;

	want |= have & TG_FLOW_UNSURE;
	if (have & ~want)
		__sync_fetch_and_and(&f->flags, ~(have & ~want));
	if (want & ~have)
		__sync_fetch_and_or(&f->flags, want & ~have);
}

/* tg_xdp_commit records requests in a loop over a flow that may be NULL,
 * checked at each call: without this at the top of the callee, clang
 * hoists the addresses of @f's fields above that check, and the verifier
 * refuses arithmetic on a pointer that may be NULL. */
#define tg_flow_checked(f) asm volatile("" : "+r"(f))

/*
 * Whether the request the producer records next in flow @f (whose tail it
 * read: @tail) goes beyond the ring of pending requests: when the ring is
 * full, or when some are beyond it already, as its answer comes after
 * theirs. Then it is counted there, in order, with its kind (@uncharged:
 * let through unadmitted; @method HEAD) where it is among the first
 * TG_FLOW_BEYOND_KINDS unanswered (else it is taken for an admitted GET),
 * @seg_end (as in tg_request) for tg_flow_last_seg_end() and its start
 * @now for the unanswered timer (tg_flow_timer). The consumer
 * takes answers from the ring while it has any, so they pair with their
 * requests: the ring's are all older than those beyond it.
 */
static __always_inline bool tg_flow_beyond(struct tg_flow *f, __u32 tail, bool uncharged,
					   __u32 method, __u32 seg_end, __u64 now)
{
	__u32 bt, depth;
	__u64 bit;

	bt = f->beyond_tail;
	depth = bt - READ_ONCE(f->beyond_head);
	if (!depth && tail - READ_ONCE(f->head) < TG_FLOW_PENDING)
		return false;
	tg_stat(TG_S_PENDING_FULL);
	bit = 1ULL << (bt & (TG_FLOW_BEYOND_KINDS - 1));
	/* the consumer cleared this bit before it counted the request that
	 * had it answered (depth below the limit says it was) */
	if (depth < TG_FLOW_BEYOND_KINDS) {
		if (uncharged)
			__sync_fetch_and_or(&f->beyond_uncharged, bit);
		if (method == TG_M_HEAD)
			__sync_fetch_and_or(&f->beyond_headreq, bit);
	}
	f->beyond_seg_end = seg_end;
	f->beyond_last_ns = now;
	__sync_fetch_and_add(&f->beyond_tail, 1); /* publishes it */
	return true;
}

/*
 * Record in flow @f a request let through unadmitted (a public route, a
 * `pass` action): its answer comes in turn with those of the connection's
 * admitted requests, before or after it, so it takes a pending slot
 * (TG_RQ_UNCHARGED) that tg_skmsg pairs the answer with, writing no event
 * and charging nobody, rather than pairing it with the next admitted
 * request or charging the connection's consumer for it as unattributed.
 * So on a connection with no consumer yet too: a request admitted while a
 * public one's answer is still to come would be paired with that answer,
 * and its own charged again as unattributed. @method
 * (HEAD: an answer without a body), @seg_end as in tg_request, @now its
 * start, for the unanswered timer, which drops it without an event.
 */
static __always_inline void tg_flow_pend_uncharged(struct tg_flow *f, __u32 method, __u32 seg_end,
						   __u32 start_seq, __u64 now)
{
	struct tg_request *rq;
	__u32 tail;

	tg_flow_checked(f);
	tail = f->tail;
	if (tg_flow_beyond(f, tail, true, method, seg_end, now))
		return;
	rq = &f->pending[tail & (TG_FLOW_PENDING - 1)];
	/* no consumer, route or path: nothing of it is ever written out */
	__builtin_memset(rq, 0, __builtin_offsetof(struct tg_request, client_addr));
	rq->start_ns = now;
	rq->start_seq = start_seq;
	rq->method = method;
	rq->flags = TG_RQ_UNCHARGED;
	rq->seg_end = seg_end;
	__sync_fetch_and_add(&f->tail, 1); /* publishes the slot */
}

/* Record admitted request @rq as a pending request of flow @f, whose
 * consumer it makes the connection's. Returns whether the request is
 * charged now: not when it goes beyond the flow's ring (tg_flow_beyond),
 * for then its response is charged (see tg_admit_charge). */
static __always_inline bool tg_flow_pend(struct tg_flow *f, const struct tg_request *rq)
{
	__u32 tail;

	tg_flow_checked(f);
	f->consumer_id = rq->consumer_id;
	f->plan_id = rq->plan_id;
	f->key_id = rq->key_id;
	f->api_id = rq->api_id;
	tail = f->tail;
	if (tg_flow_beyond(f, tail, false, rq->method, rq->seg_end, rq->start_ns))
		return false;
	__builtin_memcpy(&f->pending[tail & (TG_FLOW_PENDING - 1)], rq, sizeof(*rq));
	__sync_fetch_and_add(&f->tail, 1); /* publishes the slot */
	return true;
}

/* The key of the request just admitted (s->key, s->digest) is flow @f's
 * from now on, unless it came from the flow's cache already. */
static __always_inline void tg_flow_key_keep(struct tg_flow *f, const struct tg_scratch *s)
{
	if (!s->key_cached) { /* a new key on this connection (or a new flow) */
		__builtin_memcpy(f->key_raw, s->key, sizeof(f->key_raw));
		f->key_digest = s->digest;
	}
}

/* Give back the token tg_bucket_take() took for a request of (@consumer_id,
 * @plan_id). */
static __always_inline void tg_token_refund(__u32 consumer_id, __u32 plan_id)
{
	struct tg_bucket_key bk = { .consumer_id = consumer_id, .plan_id = plan_id };
	struct tg_plan *plan = bpf_map_lookup_elem(&tg_plans, &bk.plan_id);
	struct tg_bucket *b = bpf_map_lookup_elem(&tg_buckets, &bk);

	if (plan && b)
		tg_bucket_refund(b, plan);
}

/* Charge admitted request @rq to its (consumer, API) counters, its bytes
 * in; where it is not @charged now, its response will find no pending
 * request and tg_skmsg charges it then, as unattributed, to the flow's
 * consumer: charging it here too would count it twice, and the token it
 * took goes back. */
static __always_inline void tg_admit_charge(const struct tg_request *rq, bool charged)
{
	struct tg_counters *c;

	if (!charged)
		tg_token_refund(rq->consumer_id, rq->plan_id);
	c = tg_counters_get(rq->consumer_id, rq->api_id);
	if (c) {
		if (charged)
			__sync_fetch_and_add(&c->requests, 1);
		__sync_fetch_and_add(&c->bytes_in, rq->req_bytes);
		if (c->plan_id != rq->plan_id)
			c->plan_id = rq->plan_id;
	}
}

static __always_inline struct tg_bucket *tg_bucket_get(const struct tg_bucket_key *bk,
						       const struct tg_plan *plan, __u64 now)
{
	struct tg_bucket *b = bpf_map_lookup_elem(&tg_buckets, bk);
	struct tg_bucket fresh = {};

	if (b)
		return b;
	fresh.tokens_fp = plan->burst_fp;
	fresh.last_ns = now;
	if (bpf_map_update_elem(&tg_buckets, bk, &fresh, BPF_NOEXIST) == -TG_E2BIG)
		tg_stat(TG_S_MAP_FULL);
	return bpf_map_lookup_elem(&tg_buckets, bk);
}

/* Copy the key at buf[off, off + len) into s->key, zero-padded as SipHash
 * reads it (see lib/siphash.h): five whole words, then the last three bytes
 * with zeros after them. Returns its secret version, or 0 when it cannot be
 * a key. */
static __always_inline __u32 tg_key_copy(struct tg_scratch *s, __u32 off, __u32 len)
{
	__u64 *kw = (__u64 *)s->key;
	__u32 version;

	if (len != TG_KEY_LEN)
		return 0;
	for (int i = 0; i < TG_KEY_LEN / 8; i++)
		kw[i] = tg_load64(s->buf.bytes, off + 8 * i);
	kw[TG_KEY_LEN / 8] = tg_load64(s->buf.bytes, off + 8 * (TG_KEY_LEN / 8)) &
			     ((1ULL << (8 * (TG_KEY_LEN % 8))) - 1);
	if (s->key[0] != 't' || s->key[1] != 'g' || s->key[2] != '_')
		return 0;
	version = s->key[3] - '0';
	return version >= 1 && version <= 9 ? version : 0;
}

/* The same key bytes (the six zero-padded words tg_key_copy() writes)? */
static __always_inline bool tg_key_raw_eq(const __u64 *a, const __u64 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

/* s->digest = the key in s->key digested under @secret: SipHash-2-4-128,
 * some 600 instructions run only for a key no cache holds. A global
 * function, out of the request path's code and checked once. */
__noinline int tg_key_digest(struct tg_scratch *s, const struct tg_secret *secret)
{
	if (!s || !secret)
		return -1;
	tg_siphash(secret->key, s->key, TG_KEY_LEN, 1, s->digest.bytes);
	return 0;
}

/* Digest the key in s->key (or take the connection's cached digest when the
 * key is the same) and look it up; the digest is left in s->digest for
 * admission to cache. */
static __always_inline struct tg_key *tg_key_lookup(struct tg_scratch *s, __u32 version,
						    const struct tg_flow *flow)
{
	struct tg_secret *secret;
	struct tg_key *key;
	__u64 *kw = (__u64 *)s->key;

	secret = bpf_map_lookup_elem(&tg_secrets, &version);
	if (!secret || !secret->valid)
		return NULL;
	s->key_cached = flow && tg_key_raw_eq(flow->key_raw, kw);
	if (s->key_cached)
		s->digest = flow->key_digest;
	else if (tg_key_digest(s, secret))
		return NULL;
	s->digest_ok = 1;
	key = bpf_map_lookup_elem(&tg_keys, &s->digest);
	if (!key && tg_miss_path)
		tg_report_miss(&s->digest);
	return key;
}

static __always_inline bool tg_digest_eq(const struct tg_key_digest *a,
					 const struct tg_key_digest *b)
{
	const __u64 *x = (const __u64 *)a->bytes, *y = (const __u64 *)b->bytes;

	return x[0] == y[0] && x[1] == y[1];
}

/* The first of the two slots of this CPU's tg_keycache set for the key in
 * s->key (its random bytes pick the set). */
static __always_inline __u32 tg_keycache_set(const struct tg_scratch *s)
{
	const __u64 *kw = (const __u64 *)s->key;
	__u32 set = ((kw[1] ^ kw[3]) * 0x9e3779b97f4a7c15ULL) >> (64 - tg_keycache_bits);

	return (set & ~1U) | bpf_get_smp_processor_id() << tg_keycache_bits;
}

static __always_inline struct tg_keycache_entry *tg_keycache_way(__u32 slot)
{
	return bpf_map_lookup_elem(&tg_keycache, &slot);
}

/* Whether a miss may take entry @e of a set without evicting a key: empty,
 * or of an older generation. */
static __always_inline bool tg_keycache_free(const struct tg_keycache_entry *e, __u64 gen)
{
	return e->gen != gen || !e->key_raw[0];
}

/* On a miss in both ways of a set, whether to fill the second (@e2) rather
 * than the first (@e): a free one, else either, at random (with three keys
 * taking turns in a set, least-recently-used would keep none). */
static __always_inline bool tg_keycache_second(const struct tg_keycache_entry *e,
					       const struct tg_keycache_entry *e2, __u64 gen)
{
	if (tg_keycache_free(e, gen))
		return false;
	return tg_keycache_free(e2, gen) || (bpf_get_prandom_u32() & 1);
}

static __always_inline bool tg_keycache_hit(const struct tg_keycache_entry *e,
					    const struct tg_scratch *s, __u64 gen)
{
	const __u64 *kw = (const __u64 *)s->key;

	return e->gen == gen && tg_key_raw_eq(e->key_raw, kw);
}

static __always_inline void tg_keycache_fill(struct tg_keycache_entry *e,
					     const struct tg_scratch *s, __u64 gen,
					     const struct tg_key *key, const struct tg_plan *plan)
{
	__builtin_memcpy(e->key_raw, s->key, sizeof(e->key_raw));
	e->gen = gen;
	e->digest = s->digest;
	e->key = *key;
	e->plan = *plan;
}

static __always_inline const struct tg_route *tg_route_lookup(struct tg_scratch *s,
							      const struct tg_http_req *req)
{
	struct tg_route_key *rk = &s->rkey;
	__u32 n = req->path_len;
	__u64 *dst = (__u64 *)rk->path;

	for (int i = 0; i < TG_ROUTE_MAX / 8; i++)
		dst[i] = tg_load64(s->buf.bytes, req->path_off + 8 * i);
	if (n < TG_ROUTE_MAX) {
		rk->path[n & (TG_ROUTE_MAX - 1)] = '/';
		rk->prefixlen = (n + 1) * 8;
	} else {
		rk->prefixlen = TG_ROUTE_MAX * 8;
	}
	return bpf_map_lookup_elem(&tg_routes, rk);
}

/*
 * The verdict for a parsed request to api_id: key, consumer, plan scope,
 * bucket. Fills ret_key with the key's ids (zero when there is no key) and,
 * for over_limit and quota_exhausted, info's Retry-After and policy. With
 * @use_cache (tg_xdp), an active key and its plan come from this CPU's
 * tg_keycache when they are there, and go into it when they are not.
 */
static __always_inline __u32 tg_classify(struct tg_scratch *s, const struct tg_http_req *req,
					 const struct tg_flow *flow, __u32 api_id, __u64 now,
					 struct tg_reply_info *info, struct tg_key *ret_key,
					 bool use_cache, bool take)
{
	struct tg_keycache_entry *e = NULL, *e2;
	const struct tg_plan *plan;
	bool hit;
	struct tg_bucket_key bk;
	struct tg_bucket *bucket;
	struct tg_key *key;
	__u32 verdict, version, set, zero = 0;
	__u64 gen = 0;

	if (req->key_len == 0)
		return TG_V_MISSING_KEY;
	s->digest_ok = 0;
	version = tg_key_copy(s, req->key_off, req->key_len);
	if (!version)
		return TG_V_UNKNOWN_KEY;
	if (use_cache) {
		/* the generation first: what is looked up after it is at least as new */
		__u64 *g = bpf_map_lookup_elem(&tg_gen, &zero);

		gen = g ? READ_ONCE(*g) : 0;
		/* two ways a set: two keys of one set both stay cached (with
		 * 1000 keys in 4096 slots of one way, one in five shares its
		 * slot with another, and misses each time the other came
		 * between) */
		set = tg_keycache_set(s);
		e = tg_keycache_way(set);
		hit = e && tg_keycache_hit(e, s, gen);
		if (!hit) {
			e2 = tg_keycache_way(set | 1);
			hit = e2 && tg_keycache_hit(e2, s, gen);
			if (hit || (e2 && (!e || tg_keycache_second(e, e2, gen))))
				e = e2;
		}
		if (hit && e) {
			s->digest = e->digest;
			s->digest_ok = 1;
			s->key_cached = flow && tg_digest_eq(&flow->key_digest, &e->digest);
			*ret_key = e->key;
			plan = &e->plan;
			goto scope;
		}
	}
	key = tg_key_lookup(s, version, flow);
	if (!key || (key->flags & TG_KEY_NEGATIVE))
		return TG_V_UNKNOWN_KEY;
	*ret_key = *key;
	if (!(ret_key->flags & TG_KEY_ACTIVE))
		return TG_V_REVOKED_KEY;
	if (ret_key->flags & TG_KEY_SUSPENDED)
		return TG_V_SUSPENDED;
	plan = bpf_map_lookup_elem(&tg_plans, &ret_key->plan_id);
	if (!plan)
		return TG_V_UNKNOWN_KEY;
	if (e)
		tg_keycache_fill(e, s, gen, ret_key, plan);

scope:
	/* a path whose literal prefix may not be the route served
	 * (/health/../v1/orders, tg_path_unsafe): no route's, nor its API's;
	 * so not public either (the callers' check). A method none of the
	 * plans covers (TG_M_OTHER): a server may serve it all the same. */
	if ((plan->api_id && plan->api_id != api_id) || req->path_unsafe ||
	    req->method == TG_M_OTHER)
		return TG_V_FORBIDDEN_API;
	if (!take) /* decided again: its token was taken the first time */
		return TG_V_ADMITTED;

	bk.consumer_id = ret_key->consumer_id;
	bk.plan_id = ret_key->plan_id;
	bucket = tg_bucket_get(&bk, plan, now);
	if (!bucket)
		return TG_V_ADMITTED; /* bucket map full (counted): fail open */
	verdict = tg_bucket_take(bucket, plan, now, &info->wait_s);
	if (verdict != TG_V_ADMITTED) {
		info->burst = plan->burst;
		info->window_s = plan->rate_per_sec ?
					 (plan->burst + plan->rate_per_sec - 1) / plan->rate_per_sec :
					 1;
		if (!info->window_s)
			info->window_s = 1;
	}
	return verdict;
}

/* Fill @rq, but for its client address, TG_RQ_* flags and seg_end, with
 * the request parsed in @s (s->http, the route key in s->rkey), admitted
 * for key @k to @api_id's @route_id at @now, @req_bytes long. */
static __always_inline void tg_request_fill(struct tg_request *rq, const struct tg_scratch *s,
					    const struct tg_key *k, __u32 api_id, __u32 route_id,
					    __u64 now, __u32 req_bytes)
{
	rq->start_ns = now;
	rq->consumer_id = k->consumer_id;
	rq->plan_id = k->plan_id;
	rq->key_id = k->key_id;
	rq->api_id = api_id;
	rq->route_id = route_id;
	rq->req_bytes = req_bytes;
	rq->method = s->http.method;
	rq->path_len = s->http.path_len < TG_PATH_MAX ? s->http.path_len : TG_PATH_MAX;
	__builtin_memcpy(rq->path, s->rkey.path, TG_PATH_MAX);
}

/*
 * Admit the request parsed in @s whose client address, TG_RQ_* flags and
 * seg_end the caller set in s->req (tg_request_fill() the rest): a pending
 * request of flow @fk (@flow: the caller's lookup of it, or NULL: made
 * here), which it leaves with the TG_FLOW_REQ_FLAGS of @flags (as
 * tg_flow_req_flags() sets them), and the (consumer, API) counters.
 * Sockmap mode's admission, on a local proxy's connection, which tg_xdp
 * never sees: next_seq and tg_seqhint are not its. tg_xdp's admission is
 * tg_xdp_commit(), once its segment is decided.
 */
static __always_inline void tg_admit(struct tg_scratch *s, const struct tg_flow_key *fk,
				     struct tg_flow *flow, __u32 flags, const struct tg_key *k,
				     __u32 api_id, __u32 route_id, __u64 now, __u32 req_bytes)
{
	bool charged = true; /* no flow (map_full): no response is seen */

	tg_request_fill(&s->req, s, k, api_id, route_id, now, req_bytes);
	if (!flow) /* normally tg_sockops made it when the proxy connected */
		flow = tg_flow_create(fk, s);
	if (flow) {
		tg_flow_req_flags(flow, flags);
		tg_flow_key_keep(flow, s);
		charged = tg_flow_pend(flow, &s->req);
	}
	tg_admit_charge(&s->req, charged);
}

/*
 * Where the request parsed in @req, which starts at offset @off of segment
 * @p of flow @f (or none yet), ends in the client's sequence, for next_seq,
 * and the flags
 * that leaves in *ret_flags (TG_FLOW_SEQ; TG_FLOW_CHUNKED where its chunked
 * body goes on past the segment and is followed (s->chunk_follow: next_seq
 * is then where its framing stands); TG_FLOW_BODY_OPEN where the body's
 * end is not known: chunk framing XDP does not follow, a bad or repeated
 * Content-Length, a head longer than was read, TG_BODY_SEQ_MAX or more, as
 * sequence numbers compare only within 2 GiB). The body is skipped by the length the head
 * gives only where the flow knows a request starts there
 * (tg_req_start_sure: where the last request ended, from the handshake on,
 * or behind one of the segment let through that started so) and no bytes
 * follow it in the segment (behind the last request read, they go unread).
 * Else the head might be a body's bytes read as one, claiming any length:
 * skipping by it would let the requests that follow through unread; so the
 * flow becomes TG_FLOW_UNSURE and the request ends with its segment.
 */
#define TG_BODY_SEQ_MAX (1ULL << 30)

static __always_inline __u32 tg_req_end_seq(const struct tg_scratch *s, const struct tg_flow *f,
					    const struct tg_pkt *p, const struct tg_http_req *req,
					    __u32 off, __u32 *ret_flags)
{
	__u32 seg_end = p->seq + p->payload_len;
	__u64 len = req->body_len;

	*ret_flags = TG_FLOW_SEQ;
	if (s->chunk_follow) {
		/* its chunked body goes on past the segment, followed */
		*ret_flags |= TG_FLOW_CHUNKED;
		return s->chunk_fseq;
	}
	if (len >= TG_BODY_SEQ_MAX) { /* TG_BODY_UNKNOWN too */
		*ret_flags |= TG_FLOW_BODY_OPEN | TG_FLOW_UNSURE;
		return seg_end;
	}
	len += req->scan.end; /* the head ended: its length is known */
	if (!tg_req_start_sure(s, f, p, off) || len < p->payload_len - off) {
		*ret_flags |= TG_FLOW_UNSURE;
		return seg_end;
	}
	return p->seq + off + (__u32)len;
}

/* Whether flow @f has a request body open whose end is not known: its
 * request, the last admitted, is not answered yet (or, in sockmap mode, the
 * last passed unadmitted: the server has not answered since,
 * TG_FLOW_BODY_PASSED). Only where answers are seen (TG_FLOW_SOCK):
 * elsewhere a request is answered only when the flow's timer gives it up,
 * and later requests would pass as body until then. */
static __always_inline bool tg_flow_body_open(struct tg_flow *f)
{
	__u32 flags = READ_ONCE(f->flags);

	if (!(flags & TG_FLOW_SOCK))
		return false;
	if (flags & TG_FLOW_BODY_OPEN)
		return READ_ONCE(f->head) != READ_ONCE(f->tail) ||
		       READ_ONCE(f->beyond_head) != f->beyond_tail;
	return flags & TG_FLOW_BODY_PASSED;
}

/*
 * Segment @p passes: record in flow @f (or none) the requests decided in it
 * (s->seg_req), in order, the last of them parsed in @last at offset @off,
 * or NULL where bytes that are no request follow them. One let through
 * takes an uncharged pending slot (tg_flow_pend_uncharged), so that its
 * answer is paired with it; one admitted, a charged one (tg_flow_pend,
 * tg_admit_charge). Their bodies, where the head gives the length, are no
 * requests (the server frames them by that length too): where the flow is
 * sure of where the last began, next_seq is where its body ends
 * (tg_req_end_seq); a chunked body that goes on past the segment is
 * followed (TG_FLOW_CHUNKED, and TG_FLOW_CHUNK_FREE for one let through:
 * tg_xdp_chunk_seg). An admitted request's body of unknown length is open
 * until it is answered (TG_FLOW_BODY_OPEN); one let through is not
 * followed: the client frames it, and where it ends the server reads the
 * next request, which no admitted request's consumer would answer for if
 * it passed as body (a request smuggled behind a public one); so segments
 * that begin like requests are read as requests.
 */
static __always_inline void tg_xdp_commit(struct tg_scratch *s, struct tg_flow *f,
					  const struct tg_pkt *p, const struct tg_http_req *last,
					  __u32 off, __u64 now)
{
	__u32 seg_end = p->seq + p->payload_len, n = s->seg_n, next_seq = seg_end;
	__u32 flags = TG_FLOW_SEQ | TG_FLOW_UNSURE;
	struct tg_request *rq;

	/* a retransmission with nothing new: the flow stays as it was */
	if (!n || (s->seg_req[(n - 1) & (TG_SEG_REQUESTS - 1)].flags & TG_RQ_AGAIN))
		return;
	if (f && last)
		next_seq = tg_req_end_seq(s, f, p, last, off, &flags);
	if (s->seg_req[(n - 1) & (TG_SEG_REQUESTS - 1)].flags & TG_RQ_UNCHARGED)
		flags = (flags & ~TG_FLOW_BODY_OPEN) |
			(flags & TG_FLOW_CHUNKED ? TG_FLOW_CHUNK_FREE : 0);
	s->req_flags = flags;
	for (__u32 i = 0; i < TG_SEG_REQUESTS; i++) {
		if (i >= n)
			break;
		rq = &s->seg_req[i];
		if (rq->flags & TG_RQ_AGAIN)
			continue;
		if (rq->flags & TG_RQ_UNCHARGED) {
			if (f)
				tg_flow_pend_uncharged(f, rq->method, seg_end, rq->start_seq, now);
			continue;
		}
		/* without a flow (none could be made: map_full), no
		 * response is seen: charged now */
		tg_admit_charge(rq, !f || tg_flow_pend(f, rq));
	}
	if (!f)
		return;
	f->next_seq = next_seq;
	if (READ_ONCE(s->req_flags) & TG_FLOW_CHUNKED) {
		f->chunk_state = s->chunk_fstate;
		f->chunk_end = s->chunk_fread;
		if (!(READ_ONCE(f->flags) & TG_FLOW_CHUNK_SEEN))
			__sync_fetch_and_or(&f->flags, TG_FLOW_CHUNK_SEEN);
	}
	tg_flow_req_flags(f, READ_ONCE(s->req_flags));
	tg_seqhint_put(&p->fk, f);
}

/* Segment @p is refused: the tokens its requests admitted so far took go
 * back (nothing of them was recorded; its retransmission is decided
 * again). */
static __always_inline void tg_xdp_refund(struct tg_scratch *s)
{
	__u32 n = s->seg_n;
	struct tg_request *rq;

	if (!s->seg_admitted)
		return;
	for (__u32 i = 0; i < TG_SEG_REQUESTS; i++) {
		if (i >= n)
			break;
		rq = &s->seg_req[i];
		if (!(rq->flags & TG_RQ_UNCHARGED))
			tg_token_refund(rq->consumer_id, rq->plan_id);
	}
}

/* A client's SYN (@p): a new connection on the tuple. A flow an old one
 * left (one outside agent.cgroup is never closed, a close can be lost)
 * knows nothing of this one's sequence, and would take its first requests
 * for retransmissions or body: they start after the SYN. */
static __always_inline void tg_flow_syn(const struct tg_pkt *p)
{
	struct tg_flow *f = bpf_map_lookup_elem(&tg_flows, &p->fk);

	if (f) {
		f->next_seq = p->seq + 1;
		if (READ_ONCE(f->flags) & ((TG_FLOW_REQ_FLAGS | TG_FLOW_CHUNK_SEEN) & ~TG_FLOW_SEQ))
			__sync_fetch_and_and(&f->flags,
					     ~((TG_FLOW_REQ_FLAGS | TG_FLOW_CHUNK_SEEN) & ~TG_FLOW_SEQ));
		tg_flow_req_flags(f, TG_FLOW_SEQ);
	}
	tg_seqhint_put(&p->fk, f);
}

enum { TG_SEG_REQUEST, TG_SEG_RETRANSMIT, TG_SEG_BODY };

/* The offset of client sequence @seq in segment @p where that is after its
 * first byte and before its end; else 0. */
static __always_inline __u32 tg_seq_inside(const struct tg_pkt *p, __u32 seq)
{
	__u32 at = seq - p->seq;

	return at < p->payload_len ? at : 0;
}

/*
 * The offset in segment @p of flow @f where a request starts for sure
 * (next_seq, with TG_FLOW_SEQ and not TG_FLOW_UNSURE), when that is inside
 * the segment, after its first byte; else 0. The segment began in the body
 * of the last request let through (or in bytes the client sent before):
 * TCP hands the server the bytes from there on as its next request, which
 * must be decided like any other, not pass as body.
 */
static __always_inline __u32 tg_flow_boundary_at(struct tg_flow *f, const struct tg_pkt *p)
{
	if (!tg_flow_sure(f))
		return 0;
	return tg_seq_inside(p, READ_ONCE(f->next_seq));
}

/* The same for a segment that does not begin like a request, from flow
 * @p's slot of tg_seqhint where that is the flow's, else from its flow
 * (which writes the slot). */
static __always_inline __u32 tg_seqhint_at(const struct tg_pkt *p)
{
	__u64 tag, v, *slot = tg_seqhint_slot(&p->fk, &tag);

	if (!slot)
		return 0;
	v = READ_ONCE(*slot);
	if ((v & TG_SEQHINT_TAG) != tag)
		v = tg_seqhint_put(&p->fk, bpf_map_lookup_elem(&tg_flows, &p->fk));
	if (v & TG_SEQHINT_CHUNK)
		return TG_XDP_CHUNKS;
	return v & TG_SEQHINT_SURE ? tg_seq_inside(p, (__u32)v) : 0;
}

/* The seg_end (as in tg_request) of the last request recorded in flow @f
 * (XDP): beyond its ring while some are, else in it. */
static __always_inline __u32 tg_flow_last_seg_end(struct tg_flow *f)
{
	if (READ_ONCE(f->beyond_head) != f->beyond_tail)
		return READ_ONCE(f->beyond_seg_end);
	return READ_ONCE(f->pending[(READ_ONCE(f->tail) - 1) & (TG_FLOW_PENDING - 1)].seg_end);
}

/*
 * What a segment of flow @f at client sequence @seq that begins like a
 * request is: a request, a retransmission of one let through (it starts
 * before the end of the last admitted request's first segment), or body
 * bytes (before the end of the last request's body, or while a body whose
 * end is not known is open: until every admitted request is answered).
 */
static __always_inline int tg_seg_kind(struct tg_flow *f, __u32 seq)
{
	__u32 flags = READ_ONCE(f->flags), tail = READ_ONCE(f->tail);

	/* a flow an older tg_xdp admitted to has a tail but no TG_FLOW_SEQ */
	if (((flags & TG_FLOW_SEQ) || tail) && (__s32)(seq - f->next_seq) < 0)
		return tail && (__s32)(seq - tg_flow_last_seg_end(f)) < 0 ? TG_SEG_RETRANSMIT :
									    TG_SEG_BODY;
	return tg_flow_body_open(f) ? TG_SEG_BODY : TG_SEG_REQUEST;
}

/* Whether flow @f has a pending request let through unadmitted that began
 * at client sequence @seq (its start_seq), or with @after, after it; or one
 * beyond its ring, whose sequence it does not keep. */
static __always_inline bool tg_flow_passed_at(struct tg_flow *f, __u32 seq, bool after)
{
	__u32 head = READ_ONCE(f->head), tail = READ_ONCE(f->tail);
	const struct tg_request *rq;

	/* those beyond the ring keep no sequence: any one there might be it */
	if (READ_ONCE(f->beyond_uncharged))
		return true;

	for (__u32 i = 0; i < TG_FLOW_PENDING; i++) {
		if (head + i == tail)
			break;
		rq = &f->pending[(head + i) & (TG_FLOW_PENDING - 1)];
		if ((READ_ONCE(rq->flags) & TG_RQ_UNCHARGED) &&
		    (READ_ONCE(rq->start_seq) == seq ||
		     (after && (__s32)(READ_ONCE(rq->start_seq) - seq) > 0)))
			return true;
	}
	return false;
}

/* What tg_xdp_chunk_read() finds */
enum { TG_CR_UNKNOWN, TG_CR_END, TG_CR_PAST };

/*
 * tg_xdp_chunk_read() - read the chunk framing of a request's body in segment
 * @p from offset @at on, where it stands in @state (TG_CHUNK_*). Each
 * chunk's data is skipped, its size line read in a window of its own
 * (tg_http_chunk_lean_step, the reader of sk_msg's chunked responses
 * without trailer fields), up to TG_CHUNK_STEPS windows. Returns
 * TG_CR_END where the body ends in the segment (s->chunk.off just past
 * it); TG_CR_PAST where it goes on past the segment (s->chunk.off is where
 * the framing stands, beyond the segment's end inside a chunk's data, in
 * s->chunk.state); TG_CR_UNKNOWN for framing XDP does not follow: trailer
 * fields, bytes other than CRLF after a chunk's data (a bare LF, which some
 * servers take), a size of TG_CHUNK_SIZE or more, more windows. s->chunk_read
 * is then the end of the framing bytes read. A global function: checked
 * once.
 */
__noinline int tg_xdp_chunk_read(struct xdp_md *ctx, struct tg_pkt *p, __u32 at, __u32 state)
{
	struct tg_chunk_step *c;
	struct tg_scratch *s;
	__u32 zero = 0, len, phase, k;
	__u8 two[2];
	int r;

	s = bpf_map_lookup_elem(&tg_scratch, &zero);
	if (!ctx || !p || !s)
		return TG_CR_UNKNOWN;
	c = &s->chunk;
	c->off = at;
	c->state = state;
	s->chunk_read = at;
	for (__u32 i = 0; i < TG_CHUNK_STEPS; i++) {
		/* read back: the verifier then checks one iteration for all */
		at = READ_ONCE(c->off);
		state = READ_ONCE(c->state);
		if (at >= p->payload_len)
			return TG_CR_PAST;
		len = p->payload_len - at;
		/* for the verifier, which does not relate len to at */
		asm volatile("" : "+r"(len));
		if (!len)
			return TG_CR_UNKNOWN;
		phase = state & TG_CHUNK_PHASE;
		if (phase == TG_CHUNK_CRLF || phase == TG_CHUNK_CRLF_LF) {
			/* the CRLF after a chunk's data, or its LF */
			k = phase == TG_CHUNK_CRLF && len >= 2 ? 2 : 1;
			if (bpf_xdp_load_bytes(ctx, p->payload_off + at, two, k))
				return TG_CR_UNKNOWN;
			if (phase == TG_CHUNK_CRLF_LF ? two[0] != '\n' :
							two[0] != '\r' || (k == 2 && two[1] != '\n'))
				return TG_CR_UNKNOWN;
			c->state = phase == TG_CHUNK_CRLF && k == 1 ? TG_CHUNK_CRLF_LF : TG_CHUNK_LINE;
			c->off = at + k;
			s->chunk_read = at + k;
			continue;
		}
		if (len > (state == TG_CHUNK_LINE ? TG_CHUNK_LINE_MAX : TG_SCAN_MAX))
			len = state == TG_CHUNK_LINE ? TG_CHUNK_LINE_MAX : TG_SCAN_MAX;
		if (bpf_xdp_load_bytes(ctx, p->payload_off + at, s->cbuf.bytes, len))
			return TG_CR_UNKNOWN;
		r = tg_http_chunk_lean_step(&s->cbuf, len, state, c);
		if (r < 0 || c->used > len || (r == TG_CHUNK_MORE && !c->used))
			return TG_CR_UNKNOWN;
		at += c->used;
		s->chunk_read = at;
		if (r == TG_CHUNK_END) {
			c->off = at;
			return TG_CR_END;
		}
		if (r == TG_CHUNK_DATA) {
			if (c->size >= TG_CHUNK_SIZE)
				return TG_CR_UNKNOWN;
			at += (__u32)c->size; /* may be past the segment */
			c->state = TG_CHUNK_CRLF;
			if (at + 2 <= p->payload_len) {
				/* its CRLF, in this window's step */
				if (bpf_xdp_load_bytes(ctx, p->payload_off + at, two, 2) ||
				    two[0] != '\r' || two[1] != '\n')
					return TG_CR_UNKNOWN;
				at += 2;
				c->state = TG_CHUNK_LINE;
				s->chunk_read = at;
			}
		}
		c->off = at;
	}
	return TG_CR_UNKNOWN;
}

/*
 * tg_xdp_chunked() - the chunked body of the request parsed in the scratch's
 * s->http (from s->buf's @n bytes, copied from offset @off of segment @p),
 * read from its start (tg_xdp_chunk_read): TG_CR_END where it ends in the
 * segment, s->chunk.off past its end; TG_CR_PAST where it goes on past the
 * segment. XDP follows the framing only where it reads like the server's:
 * one Transfer-Encoding line, whose last coding is chunked, and no
 * Content-Length line (RFC 9112 6.1 and 6.3; a server that reads another
 * framing answers 400 and closes). Else, and for a head that does not end
 * in the bytes read, TG_CR_UNKNOWN. A request whose body ends in its segment
 * then frames the connection like one with a Content-Length: what follows
 * it is the next request, decided as any (a public route's chunked POST
 * needs no key, and a request behind it, or behind one a `pass` action let
 * through, is no longer unread); one whose body goes on is followed
 * segment by segment (tg_xdp_chunk_seg). A global function: checked once.
 */
__noinline int tg_xdp_chunked(struct xdp_md *ctx, struct tg_pkt *p, __u32 off, __u32 n)
{
	const struct tg_hdr_scan *h;
	struct tg_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&tg_scratch, &zero);
	if (!ctx || !p || !s || n > TG_SCAN_MAX)
		return TG_CR_UNKNOWN;
	h = &s->http.scan;
	if (!h->te_line || h->te_prev || h->clen_line || !h->end || h->end > n ||
	    h->te_line + 18 > n || (tg_load8(s->buf.bytes, h->te_line + 16) | 0x20) != 'g' ||
	    tg_load8(s->buf.bytes, h->te_line + 17) != ':' ||
	    !tg_http_te_chunked(&s->buf, h->te_line, n, &s->chunk.at))
		return TG_CR_UNKNOWN;
	return tg_xdp_chunk_read(ctx, p, off + h->end, TG_CHUNK_LINE);
}

/* Flow @f stops following its chunked body, an admitted request's, at
 * segment @p, up to client sequence @end: the body is open until that
 * request is answered, as one of unknown length (tg_req_end_seq). XDP
 * decided nothing by the framing it read (the body had not ended), so
 * bytes of it sent again need no check any more (TG_FLOW_CHUNK_SEEN). */
static __always_inline int tg_chunk_body_open(const struct tg_pkt *p, struct tg_flow *f, __u32 end)
{
	f->next_seq = end;
	if (READ_ONCE(f->flags) & TG_FLOW_CHUNK_SEEN)
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_CHUNK_SEEN);
	tg_flow_req_flags(f, TG_FLOW_SEQ | TG_FLOW_UNSURE | TG_FLOW_BODY_OPEN);
	tg_seqhint_put(&p->fk, f);
	return XDP_PASS;
}

/*
 * tg_xdp_chunk_seg() - segment @p of a connection whose flow follows a
 * chunked request body (TG_FLOW_CHUNKED: next_seq is where its framing
 * stands), or has bytes whose chunk framing XDP read (TG_FLOW_CHUNK_SEEN,
 * up to chunk_end); @body: the segment does not begin like a request.
 * - Bytes before chunk_end sent again that the server's TCP has not taken
 *   (bpf_skc_lookup_tcp; or no socket found): XDP read the framing of what
 *   it saw there first, which TCP may have dropped (a bad checksum), and
 *   the server may read other framing in these, with a request behind it.
 *   TCP takes a true retransmission's bytes once. While an admitted
 *   request's body is followed, they pass and the body is open until
 *   answered; else they are refused (missing_key).
 * - A segment past where the framing stands (one before it was lost or
 *   reordered, so the framing between is not known): of a body let through
 *   unadmitted, it is dropped (chunk_gaps_dropped), and the client sends it
 *   again once the one before is there; of an admitted request's body, it
 *   passes, and the body is open until answered (no retransmission timeout
 *   for that consumer's upload).
 * - A segment inside a chunk's data passes; one that reaches where the
 *   framing stands has it read from there on: where the body ends, the
 *   flow is sure where the next request starts, and one in the segment is
 *   decided (TG_XDP_NEXT + its offset); where the framing is not followed,
 *   an admitted request's body is open until answered (as any body of
 *   unknown length), and one let through unadmitted is refused.
 * Returns the XDP action, TG_XDP_NEXT + the offset of a request to decide,
 * or TG_XDP_CHUNK_NONE where no framing is at stake (a request-like segment
 * is then read as usual; for a body segment this decides it). A global
 * function: checked once.
 */
__noinline int tg_xdp_chunk_seg(struct xdp_md *ctx, struct tg_pkt *p, __u32 body)
{
	struct tg_reply_info info = {};
	struct tg_scratch *s;
	struct tg_flow *f;
	__u32 zero = 0, flags, seq, end, fp, ce, at, rcv_nxt;
	bool gap;
	int r;

	s = bpf_map_lookup_elem(&tg_scratch, &zero);
	if (!ctx || !p || !s)
		return XDP_PASS;
	f = bpf_map_lookup_elem(&tg_flows, &p->fk);
	flags = f ? READ_ONCE(f->flags) : 0;
	if (!f || !(flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN))) {
		tg_seqhint_put(&p->fk, f);
		goto none;
	}
	seq = p->seq;
	end = seq + p->payload_len;
	ce = READ_ONCE(f->chunk_end);
	if ((flags & TG_FLOW_CHUNK_SEEN) && (__s32)(seq - ce) < 0) {
		/* framing bytes XDP read, sent again: taken by TCP already? */
		if (!tg_tcp_rcv_nxt(ctx, p, &rcv_nxt) ||
		    (__s32)(((__s32)(end - ce) < 0 ? end : ce) - rcv_nxt) > 0) {
			if ((flags & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_FREE)) != TG_FLOW_CHUNKED)
				goto refuse;
			/* an admitted request's body, not ended: its framing
			 * is no longer sure */
			fp = READ_ONCE(f->next_seq);
			return tg_chunk_body_open(p, f, (__s32)(end - fp) > 0 ? end : fp);
		}
	} else if (!(flags & TG_FLOW_CHUNKED)) {
		/* past them: once TCP has taken them all, nothing is left to check */
		if (tg_tcp_rcv_nxt(ctx, p, &rcv_nxt) && (__s32)(rcv_nxt - ce) >= 0) {
			__sync_fetch_and_and(&f->flags, ~TG_FLOW_CHUNK_SEEN);
			tg_seqhint_put(&p->fk, f);
		}
	}
	if (!(flags & TG_FLOW_CHUNKED))
		goto none;
	fp = READ_ONCE(f->next_seq);
	gap = (__s32)(seq - fp) > 0;
	if (gap && (flags & TG_FLOW_CHUNK_FREE)) {
		tg_stat(TG_S_CHUNK_GAPS);
		return XDP_DROP;
	}
	if (!body)
		tg_stat(TG_S_NON_REQUEST);
	if (gap) /* an admitted request's body: its framing is lost */
		return tg_chunk_body_open(p, f, end);
	if ((__s32)(end - fp) <= 0)
		return XDP_PASS; /* inside a chunk's data, or sent again */
	r = tg_xdp_chunk_read(ctx, p, fp - seq, READ_ONCE(f->chunk_state));
	if (r == TG_CR_PAST) {
		f->next_seq = seq + s->chunk.off;
		f->chunk_state = s->chunk.state;
		f->chunk_end = seq + s->chunk_read;
		tg_seqhint_put(&p->fk, f);
		return XDP_PASS;
	}
	if (r == TG_CR_END) {
		at = s->chunk.off;
		f->next_seq = seq + at;
		f->chunk_end = seq + at;
		tg_flow_req_flags(f, TG_FLOW_SEQ);
		tg_seqhint_put(&p->fk, f);
		if (at < p->payload_len)
			return TG_XDP_NEXT + (at | TG_XDP_AT);
		return XDP_PASS;
	}
	if (!(flags & TG_FLOW_CHUNK_FREE))
		return tg_chunk_body_open(p, f, end);
refuse:
	s->again = TG_AGAIN; /* the RST looks the server's socket up */
	info.verdict = TG_V_MISSING_KEY;
	return tg_refuse(ctx, p, &info, 0, bpf_ktime_get_ns());
none:
	if (!body)
		return TG_XDP_CHUNK_NONE;
	at = tg_flow_boundary_at(f, p);
	return at ? TG_XDP_NEXT + (at | TG_XDP_AT) : XDP_PASS;
}

/*
 * Whether a request of a retransmission, decided again at offset @off of
 * segment @p, @end bytes long (0: not known), frames the connection other
 * than the requests decided before, where the flow was sure of their
 * framing (all had a known length, and the next request starts at
 * s->again_end): its length is not known; it runs past again_end; or it
 * ends short of it with nothing behind it in a segment that covers the
 * last one recorded. A true retransmission has the same bytes, so the same
 * framing. The last: a segment TCP dropped gave a body length
 * (`POST /health`, `Content-Length: 5000`), and a shorter request sent in
 * its place would leave XDP taking the requests behind it for body.
 */
static __always_inline bool tg_again_reframes(const struct tg_scratch *s, const struct tg_pkt *p,
					      __u32 off, __u32 end)
{
	__u32 start = p->seq + off;

	if (!end || (__s32)(start + end - s->again_end) > 0)
		return true;
	return start + end != s->again_end && end >= p->payload_len - off &&
	       (__s32)(p->seq + p->payload_len - s->again_seg_end) >= 0;
}

/*
 * Decide the request that starts at payload offset @off of segment @p
 * (tg_xdp's parse of it; @now, its clock). Returns the segment's XDP
 * action, or TG_XDP_NEXT plus the offset of the next request where this one
 * is let through (admitted, or unadmitted: a public route, a `pass` action)
 * and bytes follow it in the segment. Those are the server's next request,
 * and must be decided too: else a request pipelined behind `GET /health`
 * would reach the server unread, on a connection without a consumer
 * unbilled, and one behind an admitted request would skip its key, plan
 * and bucket. So a segment is decided by all its requests: if each is let
 * through, the segment passes and they are recorded in order
 * (tg_xdp_commit); the first refused refuses the whole segment, with
 * nothing recorded (the tokens taken go back; its retransmission is
 * decided again). Bytes behind the TG_SEG_REQUESTS-th request are not
 * read: refused as missing_key, as is a segment whose bytes cannot be read
 * (@off TG_XDP_UNREAD). A segment that begins before the end of the last
 * one recorded (a retransmission, tg_seg_kind) is decided again up to
 * where the flow's next request starts, its requests neither charged nor
 * recorded (TG_RQ_AGAIN), and refused where a decision or the framing
 * differs from the one made (tg_flow_passed_at, tg_again_reframes): TCP
 * may have dropped what XDP saw first. A global function: the verifier
 * checks it once, whichever request it decides.
 */
__noinline int tg_xdp_request(struct xdp_md *ctx, struct tg_pkt *p, __u32 off, __u64 now)
{
	struct tg_reply_info info = {};
	const struct tg_route *route;
	struct tg_key admitted = {};
	struct tg_flow *flow = NULL;
	struct tg_http_req *req;
	struct tg_request *rq;
	struct tg_scratch *s;
	__u32 zero = 0, n, api_id = 0, route_id = 0, end;
	bool first, again, plain;
	int r;

	s = bpf_map_lookup_elem(&tg_scratch, &zero);
	if (!ctx || !p || !s)
		return XDP_PASS;
	if (off == TG_XDP_UNREAD) {
		info.verdict = TG_V_MISSING_KEY;
		return tg_refuse(ctx, p, &info, 0, now);
	}
	first = !(off & ~TG_XDP_PLAIN) || (off & TG_XDP_AT);
	plain = off & TG_XDP_PLAIN;
	off &= ~(TG_XDP_AT | TG_XDP_PLAIN);
	if (off >= p->payload_len)
		return XDP_PASS;
	if (first) {
		s->seg_n = 0;
		s->seg_admitted = 0;
		s->chain_sure = 0;
		s->again = 0;
	}
	n = p->payload_len - off;
	if (n > TG_SCAN_MAX)
		n = TG_SCAN_MAX;
	req = &s->http;
	if (n == 0 || bpf_xdp_load_bytes(ctx, p->payload_off + off, s->buf.bytes, n))
		req->method = TG_M_NONE;
	else
		tg_http_parse_request(&s->buf, n, req);
	if (req->method == TG_M_NONE && !req->unread) {
		tg_stat(TG_S_NON_REQUEST);
		/* bytes that are no request, where the flow is sure the next
		 * request starts further on in the segment: the end of a
		 * body that began like a method (`G` CR LF ...), or of a
		 * retransmission's bytes decided again; that one is decided */
		if (!off) {
			n = tg_seqhint_at(p);
			if (n == TG_XDP_CHUNKS) /* tg_xdp: tg_xdp_chunk_seg() */
				return TG_XDP_NEXT + TG_XDP_CHUNKS_BODY;
			return n ? TG_XDP_NEXT + (n | TG_XDP_AT) : XDP_PASS;
		}
		if (first)
			return XDP_PASS;
		n = tg_seq_inside(p, s->again_end);
		if (s->again == TG_AGAIN_SURE && n > off)
			return TG_XDP_NEXT + n;
		/* bytes that are no request behind requests let through:
		 * the server's to refuse */
		tg_xdp_commit(s, bpf_map_lookup_elem(&tg_flows, &p->fk), p, NULL, off, now);
		return XDP_PASS;
	}

	flow = bpf_map_lookup_elem(&tg_flows, &p->fk);
	if (flow && !off) {
		/* tg_xdp reads its chunk framing first (tg_xdp_chunk_seg) */
		if (!plain && (READ_ONCE(flow->flags) & (TG_FLOW_CHUNKED | TG_FLOW_CHUNK_SEEN)))
			return TG_XDP_NEXT + TG_XDP_CHUNKS;
		r = tg_seg_kind(flow, p->seq);
		if (r == TG_SEG_BODY) {
			/* body bytes that begin like a request pass free; the
			 * next request may start inside, where the last one
			 * ends: that one is decided */
			tg_stat(TG_S_NON_REQUEST);
			n = tg_flow_boundary_at(flow, p);
			return n ? TG_XDP_NEXT + n : XDP_PASS;
		}
		if (r == TG_SEG_RETRANSMIT) {
			__u32 rcv_nxt;

			tg_stat(TG_S_RETRANSMITS);
			/* bytes the server's TCP took already: it drops
			 * them, whatever they are */
			if (tg_tcp_rcv_nxt(ctx, p, &rcv_nxt) &&
			    (__s32)(p->seq + p->payload_len - rcv_nxt) <= 0)
				return XDP_PASS;
			/* else decided again, not charged again: what XDP
			 * saw at this sequence before may be a segment TCP
			 * dropped (a bad checksum, an ACK of unsent data),
			 * and this one what the server reads */
			s->again = tg_flow_sure(flow) ? TG_AGAIN_SURE : TG_AGAIN;
			s->again_end = READ_ONCE(flow->next_seq);
			s->again_seg_end = tg_flow_last_seg_end(flow);
		}
	}
	again = s->again && (__s32)(p->seq + off - s->again_end) < 0;
	tg_stat(TG_S_REQUESTS);
	s->chunk_follow = 0;
	if (req->scan.te_line && req->method != TG_M_NONE) {
		r = tg_xdp_chunked(ctx, p, off, n);
		if (r == TG_CR_END) {
			req->body_len = s->chunk.off - off - req->scan.end;
		} else if (r == TG_CR_PAST && flow && !again && tg_req_start_sure(s, flow, p, off)) {
			/* followed segment by segment, where XDP is sure the
			 * request starts here */
			s->chunk_follow = 1;
			s->chunk_fseq = p->seq + s->chunk.off;
			s->chunk_fstate = s->chunk.state;
			s->chunk_fread = p->seq + s->chunk_read;
		}
	}
	/* its length, where its head gives it (0: not known) */
	end = req->body_len < TG_BODY_SEQ_MAX ? req->scan.end + (__u32)req->body_len : 0;

	if (req->method == TG_M_NONE) {
		/* a request whose line cannot be read here: nor can its key */
		info.verdict = TG_V_MISSING_KEY;
		goto refuse;
	}
	route = tg_route_lookup(s, req);
	if (route) {
		api_id = route->api_id;
		route_id = route->route_id;
	}
	if (again && s->again == TG_AGAIN_SURE && tg_again_reframes(s, p, off, end)) {
		/* the bytes differ from those decided, and the server may
		 * read either */
		info.verdict = TG_V_MISSING_KEY;
		goto refuse;
	}
	/* a public route's request whose end XDP cannot find or follow (its
	 * body's length unknown: chunk framing XDP does not follow, a bad
	 * Content-Length; or its head goes on past the bytes read) is decided
	 * as any other: the server reads what
	 * follows its end as the next request, which XDP cannot see, and with
	 * no consumer to answer for it that one would reach the server
	 * unchecked. With a key, its consumer does (an admitted body is open
	 * until answered) */
	if (route && (route->flags & TG_ROUTE_PUBLIC) && !req->path_unsafe &&
	    (end || READ_ONCE(s->chunk_follow)))
		goto passed;
	info.verdict = tg_classify(s, req, flow, api_id, now, &info, &admitted, true, !again);
	if (info.verdict == TG_V_ADMITTED && again) {
		/* a request let through unadmitted began here: a client
		 * that sends an admitted one in its place would have it
		 * answered into that request's slot, uncharged. Where the
		 * flow is not sure where requests start, so is one that
		 * began after it: XDP took a segment TCP dropped for a
		 * request ahead of this one (it began past where the last
		 * one ended), whose slot this one's answer would take. */
		if (flow && tg_flow_passed_at(flow, p->seq + off, s->again != TG_AGAIN_SURE)) {
			info.verdict = TG_V_MISSING_KEY; /* as the first one had none */
			admitted.consumer_id = 0;
			goto refuse;
		}
		goto passed;
	}
	if (info.verdict == TG_V_ADMITTED)
		goto admit;
refuse:
	r = tg_refuse(ctx, p, &info, TG_IDS(admitted.consumer_id, api_id), now);
	if (r != XDP_PASS) {
		tg_xdp_refund(s);
		return r;
	}

passed: /* let through unadmitted, or decided again */
	rq = &s->seg_req[s->seg_n & (TG_SEG_REQUESTS - 1)];
	rq->method = req->method;
	rq->flags = again ? TG_RQ_UNCHARGED | TG_RQ_AGAIN : TG_RQ_UNCHARGED;
	rq->start_seq = p->seq + off;
	goto next;

admit:
	if (!flow) /* normally tg_sockops made it at the handshake */
		flow = tg_flow_create(&p->fk, s);
	if (flow) /* s->key and s->digest are this request's until the next */
		tg_flow_key_keep(flow, s);
	n = p->payload_len - off;
	rq = &s->seg_req[s->seg_n & (TG_SEG_REQUESTS - 1)];
	tg_request_fill(rq, s, &admitted, api_id, route_id, now, end && end < n ? end : n);
	rq->flags = 0;
	rq->seg_end = p->seq + p->payload_len;
	__builtin_memcpy(rq->client_addr, p->fk.client_addr, 16);
	s->seg_admitted++;

next:
	s->seg_n++;
	if (end && end < p->payload_len - off) {
		if (s->seg_n < TG_SEG_REQUESTS) {
			s->chain_sure = tg_req_start_sure(s, flow, p, off);
			s->chain_seq = p->seq + off + end;
			return TG_XDP_NEXT + off + end;
		}
		/* the bytes behind it go unread */
		info.verdict = TG_V_MISSING_KEY;
		r = tg_refuse(ctx, p, &info, 0, now);
		if (r != XDP_PASS) {
			tg_xdp_refund(s);
			return r;
		}
	}
	tg_xdp_commit(s, flow, p, req, off, now);
	return XDP_PASS;
}

SEC("xdp")
int tg_xdp(struct xdp_md *ctx)
{
	struct tg_pkt p = {};
	__u32 n, off, word;
	__u64 now, *ports;
	__u16 dport;
	int r;

	tg_stat(TG_S_PACKETS);
	r = tg_parse(ctx, &p);
	if (r == TG_PARSE_OTHER)
		return XDP_PASS;
	if (r == TG_PARSE_BAD) {
		tg_stat(TG_S_PARSE_FAIL);
		return XDP_PASS;
	}
	dport = bpf_ntohs(p.fk.server_port);
	word = TG_XDP_PORTS_WORD(dport);
	ports = bpf_map_lookup_elem(&tg_xdp_ports, &word);
	if (!ports || !(*ports & TG_XDP_PORTS_BIT(dport)))
		return XDP_PASS;

	if (tg_rejects_used && tg_reject_maybe(&p.fk)) {
		struct tg_reject *rj;

		/* a new connection on an answered one's ports: not answered */
		if (p.tcp_flags & TG_TCP_SYN) {
			if (!(p.tcp_flags & TG_TCP_ACK))
				tg_reject_forget(&p.fk);
		} else if ((rj = bpf_map_lookup_elem(&tg_rejects, &p.fk))) {
			if (rj->expires_ns <= bpf_ktime_get_ns()) {
				tg_reject_forget(&p.fk); /* over */
			} else if (rj->flags & TG_REJECT_RESET) {
				return tg_answer_closed(ctx, &p);
			} else if (p.payload_len && p.seq == rj->server_rcv_nxt) {
				/* the refused segment again, its answer lost, the
				 * server's socket still there: decided again below,
				 * answered again where refused */
				tg_reject_forget(&p.fk);
			} else {
				r = tg_reset_server(ctx, &p, rj->server_rcv_nxt,
						    rj->flags & TG_REJECT_LOOKUP);
				if (r == XDP_PASS)
					rj->flags |= TG_REJECT_RESET;
				return r;
			}
		}
	}
	if ((p.tcp_flags & (TG_TCP_SYN | TG_TCP_ACK)) == TG_TCP_SYN)
		tg_flow_syn(&p);
	if (!p.payload_len)
		return XDP_PASS;
	tg_stat(TG_S_API_SEGMENTS);

	if (p.fragment || (p.tcp_flags & TG_TCP_SYN)) {
		/* fragments and TCP Fast Open data: no key can be read (DESIGN §3) */
		if (p.fragment)
			tg_stat(TG_S_FRAGMENTS);
		return tg_xdp_request(ctx, &p, TG_XDP_UNREAD, bpf_ktime_get_ns());
	}

	/* cheap look at the first bytes before copying anything: a method
	 * of ours, else maybe another (a short segment is copied anyway);
	 * tg_parse bounds payload_off below 256 */
	off = 0;
	{
		void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
		__u8 *first = data + (p.payload_off & 0xff);

		if ((void *)(first + 1) > data_end ||
		    (!tg_http_maybe_request(*first) && (void *)(first + 16) <= data_end &&
		     !tg_http_maybe_other(*(__u64 *)first, *(__u64 *)(first + 8)))) {
			tg_stat(TG_S_NON_REQUEST);
			/* no request at its start; one may start inside */
			off = tg_seqhint_at(&p);
			if (off == TG_XDP_CHUNKS) {
				/* in a chunked body, or after one */
				r = tg_xdp_chunk_seg(ctx, &p, 1);
				if (r < TG_XDP_NEXT)
					return r;
				off = r - TG_XDP_NEXT;
			} else {
				if (!off)
					return XDP_PASS;
				off |= TG_XDP_AT;
			}
		}
	}
	/* a request, probably: the clock (slow to read in VMs), then each
	 * request of the segment until one decides it */
	now = bpf_ktime_get_ns();
	for (n = 0; n < TG_SEG_REQUESTS; n++) {
		r = tg_xdp_request(ctx, &p, off, now);
		if (r < TG_XDP_NEXT)
			return r;
		off = r - TG_XDP_NEXT;
		if (off == TG_XDP_CHUNKS || off == TG_XDP_CHUNKS_BODY) {
			/* its flow follows a chunked body, or read one */
			r = tg_xdp_chunk_seg(ctx, &p, off == TG_XDP_CHUNKS_BODY);
			if (r < TG_XDP_NEXT)
				return r;
			off = r == TG_XDP_CHUNK_NONE ? TG_XDP_PLAIN : r - TG_XDP_NEXT;
		}
	}
	return XDP_DROP; /* not reached: tg_xdp_request decides the last itself */
}

/* --- responses: sockops + sk_msg ------------------------------------------------- */

/* The network-order remote port of a sock_ops or sk_msg context: some
 * kernels hand it shifted left by 16. */
#define TG_REMOTE_PORT(ctx)                                                                        \
	({                                                                                         \
		__u32 rp_ = (ctx)->remote_port;                                                    \
		rp_ > 0xffff ? bpf_htons((__u16)bpf_ntohl(rp_)) : (__u16)rp_;                      \
	})
#define TG_LOCAL_PORT(ctx) bpf_htons((__u16)(ctx)->local_port) /* host order in ctx */

/*
 * The flow key of a socket from a sock_ops or sk_msg context, with the
 * client on side CL (remote or local) and the server on side SV: the
 * verifier wants each context field read directly, so this is a macro.
 * TG_FLOW_KEY_SOCK is a server socket's view (the client is the peer);
 * TG_FLOW_KEY_SOCK_ACTIVE a local proxy's upstream socket (sockmap mode): the
 * proxy is the client, so both sockets of a connection have one flow key.
 */
#define TG_FLOW_KEY_SIDES(fk, ctx, CL, SV, cport, sport)                                          \
	do {                                                                                       \
		__u32 *c_ = (__u32 *)(fk)->client_addr, *s_ = (__u32 *)(fk)->server_addr;         \
		if ((ctx)->family == 2 /* AF_INET */) {                                           \
			tg_addr_v4mapped((fk)->client_addr, (ctx)->CL##_ip4);                      \
			tg_addr_v4mapped((fk)->server_addr, (ctx)->SV##_ip4);                      \
		} else {                                                                           \
			c_[0] = (ctx)->CL##_ip6[0];                                                \
			c_[1] = (ctx)->CL##_ip6[1];                                                \
			c_[2] = (ctx)->CL##_ip6[2];                                                \
			c_[3] = (ctx)->CL##_ip6[3];                                                \
			s_[0] = (ctx)->SV##_ip6[0];                                                \
			s_[1] = (ctx)->SV##_ip6[1];                                                \
			s_[2] = (ctx)->SV##_ip6[2];                                                \
			s_[3] = (ctx)->SV##_ip6[3];                                                \
		}                                                                                  \
		(fk)->client_port = (cport);                                                       \
		(fk)->server_port = (sport);                                                       \
	} while (0)
#define TG_FLOW_KEY_SOCK(fk, ctx)                                                                  \
	TG_FLOW_KEY_SIDES(fk, ctx, remote, local, TG_REMOTE_PORT(ctx), TG_LOCAL_PORT(ctx))
#define TG_FLOW_KEY_SOCK_ACTIVE(fk, ctx)                                                           \
	TG_FLOW_KEY_SIDES(fk, ctx, local, remote, TG_LOCAL_PORT(ctx), TG_REMOTE_PORT(ctx))

/* Whether the event just reserved wakes the agent (lib/ringbuf.h), with
 * @avail bytes of events waiting. */
static __always_inline bool tg_rb_wake(__u64 avail)
{
	return tg_rb_crossed(avail, (sizeof(struct tg_event) + 8 + 7) & ~7ULL, tg_rb_wakeup_bytes);
}

/* Emit the event for the flow's response in progress (or for an unanswered
 * request) and count it; nothing for a request let through unadmitted
 * (TG_RQ_UNCHARGED), whose answer is nobody's. */
static __always_inline void tg_emit(const struct tg_flow_key *fk, const struct tg_request *rq,
				    __u32 status, __u32 flags, __u64 first_ns, __u64 resp_bytes)
{
	struct tg_counters *c;
	struct tg_event *ev;
	__u32 latency_us = 0, cls;

	if (rq->flags & TG_RQ_UNCHARGED)
		return;
	c = tg_counters_get(rq->consumer_id, rq->api_id);
	if (first_ns > rq->start_ns)
		latency_us = (first_ns - rq->start_ns) / 1000;
	cls = status / 100;
	if (cls > 5)
		cls = 5;
	asm volatile("" : "+r"(cls)); /* keep the mask below: the verifier needs it */
	if (c) {
		if (flags & TG_EF_UNANSWERED) {
			__sync_fetch_and_add(&c->unanswered, 1);
		} else {
			__sync_fetch_and_add(&c->status_class[cls & 7], 1);
			__sync_fetch_and_add(&c->bytes_out, resp_bytes);
			__sync_fetch_and_add(&c->latency_us_sum, latency_us);
		}
	}
	ev = bpf_ringbuf_reserve(&tg_events, sizeof(*ev), 0);
	if (!ev) {
		/* counted per (consumer, api): the agent sends the count on as a
		 * summary event, so billing loses no call, only its detail */
		tg_stat(TG_S_RINGBUF_FULL);
		if (c)
			__sync_fetch_and_add(&c->events_lost, 1);
		return;
	}
	ev->start_ns = rq->start_ns;
	ev->consumer_id = rq->consumer_id;
	ev->plan_id = rq->plan_id;
	ev->api_id = rq->api_id;
	ev->route_id = rq->route_id;
	ev->key_id = rq->key_id;
	ev->flags = flags;
	ev->latency_us = latency_us;
	ev->req_bytes = rq->req_bytes;
	ev->resp_bytes = resp_bytes > 0xffffffffULL ? 0xffffffffU : resp_bytes;
	ev->count = 1;
	ev->status = status;
	ev->method = rq->method;
	ev->verdict = TG_V_ADMITTED;
	ev->path_len = rq->path_len;
	__builtin_memcpy(ev->client_addr, rq->client_addr, 16);
	__builtin_memcpy(ev->server_addr, fk->server_addr, 16);
	/* a forwarded request's port is the proxy's, not the client's */
	ev->client_port = (rq->flags & TG_RQ_FORWARDED) ? 0 : fk->client_port;
	ev->server_port = fk->server_port;
	__builtin_memcpy(ev->path, rq->path, TG_PATH_MAX);
	bpf_ringbuf_submit(ev, tg_rb_wake(bpf_ringbuf_query(&tg_events, BPF_RB_AVAIL_DATA)) ?
				       BPF_RB_FORCE_WAKEUP :
				       BPF_RB_NO_WAKEUP);
}

/* The consumer takes the first request beyond flow @f's ring, @bhead (its
 * beyond_head; one is there): returns TG_RQ_UNCHARGED where it was let
 * through unadmitted, else 0, and sets *@method to TG_M_HEAD where it was
 * a HEAD. Its bits are cleared before the producer can see its place free
 * (tg_flow_beyond). */
static __always_inline __u32 tg_flow_beyond_take(struct tg_flow *f, __u32 bhead, __u32 *method)
{
	__u64 bit = 1ULL << (bhead & (TG_FLOW_BEYOND_KINDS - 1));
	__u32 uncharged = READ_ONCE(f->beyond_uncharged) & bit ? TG_RQ_UNCHARGED : 0;

	if (READ_ONCE(f->beyond_headreq) & bit)
		*method = TG_M_HEAD;
	__sync_fetch_and_and(&f->beyond_uncharged, ~bit);
	__sync_fetch_and_and(&f->beyond_headreq, ~bit);
	__sync_fetch_and_add(&f->beyond_head, 1);
	return uncharged;
}

/* Make the response that starts at @now on flow @f (@fk) an unattributed
 * one, of the connection's consumer, with request @method (TG_M_HEAD or
 * none) and TG_RQ_* @flags (TG_RQ_UNCHARGED: nobody's, no event). */
static __always_inline void tg_flow_cur(struct tg_flow *f, const struct tg_flow_key *fk, __u64 now,
					__u32 method, __u32 flags)
{
	f->cur.start_ns = now;
	f->cur.route_id = 0;
	f->cur.req_bytes = 0;
	f->cur.method = method;
	f->cur.path_len = 0;
	f->cur.flags = flags;
	__builtin_memcpy(f->cur.client_addr, fk->client_addr, 16);
	f->cur.consumer_id = f->consumer_id;
	f->cur.plan_id = f->plan_id;
	f->cur.key_id = f->key_id;
	f->cur.api_id = f->api_id;
	f->resp_flags = TG_EF_UNATTRIBUTED;
}

/* Emit the event of the response in progress and free its request's slot. */
static __always_inline void tg_finish_response(const struct tg_flow_key *fk, struct tg_flow *f)
{
	__u32 head = f->head;

	if (f->resp_flags & TG_EF_UNATTRIBUTED) {
		tg_emit(fk, &f->cur, f->resp_status, f->resp_flags, f->resp_first_ns, f->resp_bytes);
	} else {
		tg_emit(fk, &f->pending[head & (TG_FLOW_PENDING - 1)], f->resp_status, f->resp_flags,
			f->resp_first_ns, f->resp_bytes);
		f->head = head + 1; /* the slot is the producer's again */
	}
	__sync_fetch_and_and(&f->flags, ~TG_FLOW_RESPONDING);
}

static long tg_timer_idle_cb(__u32 i, void *ctx)
{
	struct tg_flow *f = *(struct tg_flow **)ctx;

	return !(READ_ONCE(f->flags) & TG_FLOW_TIMER_BUSY);
}

/* Wait until the flow's timer has left its critical section (it emits at
 * most TG_FLOW_PENDING + TG_FLOW_BEYOND_KINDS events, so this is short). */
static __always_inline void tg_wait_timer(struct tg_flow *f)
{
	bpf_loop(1 << 20, tg_timer_idle_cb, &f, 0);
}

struct tg_beyond_ctx {
	const struct tg_flow_key *fk;
	struct tg_flow *f;
};

/* One request beyond the ring of a flow being closed, or of one whose
 * requests beyond are unanswered for too long (bpf_loop): an
 * admitted one becomes an unanswered event of f->cur (the connection's
 * consumer; its endpoint was not kept) and is counted in its requests, as
 * one unanswered in the ring was when admitted (the kernel's requests and
 * the events' agree: billing reconciles them); one let through unadmitted
 * is nobody's. Stops when none is left. */
static long tg_beyond_unanswered_cb(__u32 i, void *ctx)
{
	struct tg_beyond_ctx *c = ctx;
	struct tg_flow *f = c->f;
	__u32 bhead = f->beyond_head, method = TG_M_NONE;
	struct tg_counters *cn;

	if (bhead == READ_ONCE(f->beyond_tail))
		return 1;
	if (!tg_flow_beyond_take(f, bhead, &method) && f->cur.consumer_id) {
		cn = tg_counters_get(f->cur.consumer_id, f->cur.api_id);
		if (cn)
			__sync_fetch_and_add(&cn->requests, 1);
		tg_emit(c->fk, &f->cur, 0, TG_EF_UNANSWERED | TG_EF_UNATTRIBUTED, 0, 0);
	}
	return 0;
}

/*
 * The flow's timer: requests pending longer than agent.unanswered_after
 * become status-0 unanswered events (DESIGN §3), on connections that stay
 * open; so do those beyond the ring, once the last of them is as old. It
 * runs beside the socket's programs, which are serialised by the socket
 * lock but not with it, so the flags are a small protocol, changed
 * only atomically: the timer sets TIMER_BUSY and expires nothing if a
 * response is in progress (RESPONDING), the connection is closing (CLOSING)
 * or was upgraded; sk_msg and sockops set their bit first and wait while
 * TIMER_BUSY is set, then read head again.
 */
static int tg_flow_timer(void *map, struct tg_flow_key *key, struct tg_flow *f)
{
	__u32 old = __sync_fetch_and_or(&f->flags, TG_FLOW_TIMER_BUSY);
	__u64 now;

	if (!(old & (TG_FLOW_RESPONDING | TG_FLOW_CLOSING | TG_FLOW_UPGRADED))) {
		now = bpf_ktime_get_ns();
		for (int i = 0; i < TG_FLOW_PENDING; i++) {
			__u32 head = f->head, tail = READ_ONCE(f->tail);
			struct tg_request *rq;

			if (head == tail)
				break;
			rq = &f->pending[head & (TG_FLOW_PENDING - 1)];
			if (now - rq->start_ns < tg_unanswered_ns)
				break;
			tg_emit(key, rq, 0, TG_EF_UNANSWERED, 0, 0);
			f->head = head + 1;
		}
		/* those beyond the ring, once it is empty, when the last of
		 * them (so each) is as old (a few a run: sk_msg may be
		 * waiting) */
		if (f->head == READ_ONCE(f->tail) && f->beyond_head != READ_ONCE(f->beyond_tail) &&
		    now - READ_ONCE(f->beyond_last_ns) >= tg_unanswered_ns) {
			struct tg_beyond_ctx c = { .fk = key, .f = f };

			tg_flow_cur(f, key, now, TG_M_NONE, 0);
			bpf_loop(TG_FLOW_BEYOND_KINDS, tg_beyond_unanswered_cb, &c, 0);
		}
	}
	__sync_fetch_and_and(&f->flags, ~TG_FLOW_TIMER_BUSY);
	if (!(old & TG_FLOW_CLOSING))
		bpf_timer_start(&f->timer, tg_flow_timer_ns, 0);
	return 0;
}

/* Close out a flow whose connection ended: the response in progress, then
 * every request still pending as unanswered, those beyond the ring too. */
static __always_inline void tg_flow_close(const struct tg_flow_key *fk)
{
	struct tg_flow *f = bpf_map_lookup_elem(&tg_flows, fk);
	__u32 head, tail;

	if (!f) {
		/* tg_sockops made it at the handshake: the LRU evicted it while
		 * the connection was open (or it could not be made: map_full),
		 * and with it any requests still pending, which then have no
		 * event (agent.max_flows is too small) */
		tg_stat(TG_S_FLOWS_LOST);
		return;
	}
	if (__sync_fetch_and_or(&f->flags, TG_FLOW_CLOSING) & TG_FLOW_TIMER_BUSY)
		tg_wait_timer(f);
	if (f->flags & TG_FLOW_RESPONDING)
		tg_finish_response(fk, f);
	head = f->head;
	tail = READ_ONCE(f->tail);
	for (int i = 0; i < TG_FLOW_PENDING; i++) {
		if (head == tail)
			break;
		tg_emit(fk, &f->pending[head & (TG_FLOW_PENDING - 1)], 0, TG_EF_UNANSWERED, 0, 0);
		head++;
	}
	f->head = head;
	if (f->beyond_head != READ_ONCE(f->beyond_tail)) {
		struct tg_beyond_ctx c = { .fk = fk, .f = f };

		tg_flow_cur(f, fk, bpf_ktime_get_ns(), TG_M_NONE, 0);
		bpf_loop(TG_FLOW_BEYOND_CLOSE_MAX, tg_beyond_unanswered_cb, &c, 0);
	}
	bpf_map_delete_elem(&tg_flows, fk);
	tg_seqhint_put(fk, NULL);
}

/* Whether the peer of a connecting socket, whose flow key (the socket's own
 * view: TG_FLOW_KEY_SOCK) is fk, is on this host: loopback, or the socket's
 * own address (a connection to a local address has it as source). */
static __always_inline bool tg_peer_local(const struct tg_flow_key *fk)
{
	const __u32 *r = (const __u32 *)fk->client_addr, *l = (const __u32 *)fk->server_addr;

	if (!r[0] && !r[1] && !r[2] && r[3] == bpf_htonl(1))
		return true; /* ::1 */
	if (!r[0] && !r[1] && r[2] == bpf_htonl(0xffff) && (r[3] & 0xff) == 127)
		return true; /* 127.0.0.0/8 */
	return r[0] == l[0] && r[1] == l[1] && r[2] == l[2] && r[3] == l[3];
}

/* The flow of a connection just established (tg_flow_create), marked
 * TG_FLOW_SOCK if its socket went into a sockhash (@seen); where the
 * client's first request starts (@rcv_nxt, 0 for a proxy's connection),
 * unless tg_xdp saw a request first. */
static __always_inline void tg_sockops_flow(const struct tg_flow_key *fk, bool seen, __u32 rcv_nxt)
{
	__u32 zero = 0;
	struct tg_scratch *s = bpf_map_lookup_elem(&tg_scratch, &zero);
	struct tg_flow *f = s ? tg_flow_create(fk, s) : NULL;

	if (!f)
		return;
	if (rcv_nxt && !(READ_ONCE(f->flags) & TG_FLOW_SEQ)) {
		f->next_seq = rcv_nxt;
		__sync_fetch_and_or(&f->flags, TG_FLOW_SEQ);
	}
	tg_seqhint_put(fk, f); /* the slot may hold an older connection's */
	if (seen)
		__sync_fetch_and_or(&f->flags, TG_FLOW_SOCK);
}

SEC("sockops")
int tg_sockops(struct bpf_sock_ops *skops)
{
	struct tg_flow_key fk = {};
	__u16 lport = skops->local_port, rport;
	struct tg_port *port;
	bool seen;

	if (skops->family != 2 && skops->family != 10)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		/* sockmap mode: a local proxy's connection to an API port. It
		 * goes into the sockhash under its own key (the server's socket
		 * has the flow's); the server's socket closes the flow. */
		rport = bpf_ntohs(TG_REMOTE_PORT(skops));
		port = bpf_map_lookup_elem(&tg_ports, &rport);
		if (!port || !(port->mode & TG_PORT_SOCKMAP))
			return 1;
		TG_FLOW_KEY_SOCK(&fk, skops);
		if (!tg_peer_local(&fk))
			return 1;
		seen = bpf_sock_hash_update(skops, &tg_proxysocks, &fk, BPF_ANY) == 0;
		tg_stat(seen ? TG_S_SOCKETS : TG_S_MAP_FULL);
		__builtin_memset(&fk, 0, sizeof(fk));
		TG_FLOW_KEY_SOCK_ACTIVE(&fk, skops);
		tg_sockops_flow(&fk, seen, 0);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		port = bpf_map_lookup_elem(&tg_ports, &lport);
		if (!port)
			return 1;
		TG_FLOW_KEY_SOCK(&fk, skops);
		seen = bpf_sock_hash_update(skops, &tg_sockhash, &fk, BPF_ANY) == 0;
		tg_stat(seen ? TG_S_SOCKETS : TG_S_MAP_FULL);
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		/* the flow and its timer now, off the request path */
		tg_sockops_flow(&fk, seen, skops->rcv_nxt);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] != BPF_TCP_CLOSE)
			return 1;
		TG_FLOW_KEY_SOCK(&fk, skops);
		tg_flow_close(&fk);
		break;
	}
	return 1;
}

/* --- sockmap mode: requests a local proxy sends upstream -------------------- */

/* Claim a free scratch slot of this CPU: its number in *ret_slot and the
 * busy bits in *ret_busy, for tg_msg_scratch_put(); NULL (counted) if none is
 * free. */
static __always_inline struct tg_scratch *tg_msg_scratch_get(__u32 **ret_busy, __u32 *ret_slot)
{
	__u32 zero = 0, *busy = bpf_map_lookup_elem(&tg_msg_busy, &zero);
	struct tg_scratch *s;

	if (!busy)
		return NULL;
	for (__u32 i = 0; i < TG_MSG_SLOTS; i++) {
		__u32 bit = 1U << i;

		if (__sync_fetch_and_or(busy, bit) & bit)
			continue;
		*ret_slot = i;
		s = bpf_map_lookup_elem(&tg_msg_scratch, ret_slot);
		if (!s) {
			__sync_fetch_and_and(busy, ~bit);
			break;
		}
		*ret_busy = busy;
		return s;
	}
	tg_stat(TG_S_SCRATCH_BUSY);
	return NULL;
}

static __always_inline void tg_msg_scratch_put(__u32 *busy, __u32 slot)
{
	__sync_fetch_and_and(busy, ~(1U << (slot & (TG_MSG_SLOTS - 1))));
}

/* Remember a refusal for the agent's refusal responder (tg_refusals). */
static __always_inline void tg_refusal_note(const struct tg_scratch *s,
					    const struct tg_reply_info *info, __u64 now)
{
	struct tg_refusal r = {
		.refused_ns = now,
		.verdict = info->verdict,
		.wait_s = info->wait_s,
		.burst = info->burst,
		.window_s = info->window_s,
	};
	struct tg_key_digest none = {};

	bpf_map_update_elem(&tg_refusals, s->digest_ok ? &s->digest : &none, &r, BPF_ANY);
}

/*
 * Hold the bytes of @msg until there are @bytes: the kernel runs tg_skmsg
 * again over all of them. In a run over the rest of a send whose first part
 * went out (@rest, TG_FLOW_REST), the kernel keeps the held message
 * (psock->cork) with the position where the next send's bytes go, which
 * sending that first part left stale (tcp_bpf_push), so the next send's
 * bytes would be written in the wrong place and the peer would get other
 * bytes. A pull puts that position back at the message's end on kernels
 * that have sk_msg_reset_curr (tg_rest_hold); elsewhere, and if the pull
 * fails, nothing is held there and this returns false. After a cork the
 * held message stays for every later send on the socket, with the cork size
 * and apply_bytes of its last run: tg_skmsg resets both at the start of
 * each run. Packet pointers are invalid after it.
 */
static __always_inline bool tg_skmsg_cork(struct sk_msg_md *msg, __u32 bytes, bool rest)
{
	if (rest && (!tg_rest_hold || bpf_msg_pull_data(msg, 0, 1, 0)))
		return false;
	bpf_msg_cork_bytes(msg, bytes);
	return true;
}

/* The verdict of a message that holds no complete request head yet: the
 * kernel keeps it (it counts as written) until more bytes come and runs the
 * program again over all of them; SK_DROP applies only if it cannot keep
 * them, so a head split into many writes is refused rather than let through
 * unparsed. In a run over the rest of a write whose first request went out
 * (@rest) on a kernel where that cannot be held (tg_skmsg_cork), the rest
 * is refused: the write comes out short, and the kernel keeps the verdict
 * for the socket's later writes (psock->eval stays SK_DROP), which fail
 * with EACCES, so the proxy gives the connection up as after a refusal. */
static __always_inline int tg_skmsg_wait(struct sk_msg_md *msg, const struct tg_flow_key *fk,
					 __u32 size, bool rest)
{
	struct tg_flow *f = bpf_map_lookup_elem(&tg_flows, fk);

	/* not a head at all but a body's bytes: held, they might never see
	 * the end of a head, and the body's end would wait with them */
	if (f && tg_flow_body_open(f)) {
		tg_stat(TG_S_NON_REQUEST);
		return SK_PASS;
	}
	tg_stat(TG_S_PROXY_CORKED);
	/* where a pull makes the hold safe, every hold pulls: no flow lookup
	 * to tell a rest run from a first one (TG_FLOW_REQ_REST) */
	tg_skmsg_cork(msg, size + 1, rest || tg_rest_hold);
	return SK_DROP;
}

/* The verdict of one request's bytes: the next request starts after them,
 * in a run of its own over the rest (marked TG_FLOW_REQ_REST on the
 * connection's flow, which admission made, where that run cannot hold). */
static __always_inline int tg_skmsg_pass(struct sk_msg_md *msg, const struct tg_flow_key *fk,
					 __u64 req_len)
{
	struct tg_flow *f;

	if (req_len && req_len < 0xffffffffULL) {
		bpf_msg_apply_bytes(msg, req_len);
		f = !tg_rest_hold && req_len < msg->size ? bpf_map_lookup_elem(&tg_flows, fk) : NULL;
		if (f)
			__sync_fetch_and_or(&f->flags, TG_FLOW_REQ_REST);
	}
	return SK_PASS;
}

/* A proxied request (@method) that flow @f lets through unadmitted (a
 * public route, a pass action) at @now, of @req_len bytes (0: its body's
 * end is not known, the body is open until the next response starts). */
static __always_inline void tg_msg_passed(struct tg_flow *f, __u32 method, __u64 req_len,
					  __u64 now)
{
	if (!f)
		return;
	tg_flow_pend_uncharged(f, method, 0, 0, now);
	if (req_len && req_len < 0xffffffffULL) {
		tg_flow_req_flags(f, 0);
		return;
	}
	tg_flow_req_flags(f, TG_FLOW_BODY_PASSED | TG_FLOW_UNSURE);
}

/*
 * The verdict of the proxied request parsed into scratch slot @slot (its
 * head in s->http and s->proxy, its flow key in s->pkt.fk): the same route
 * match, key lookup, plan scope and bucket as tg_xdp, then admission or a
 * refusal noted for the refusal responder. A global function, so the
 * verifier checks this heavy part once, not once per way of reaching it.
 */
__noinline int tg_msg_decide(__u32 slot, __u32 size)
{
	struct tg_reply_info info = {};
	struct tg_key admitted = {};
	const struct tg_route *route;
	struct tg_http_req *req;
	struct tg_proxy_req *pr;
	struct tg_flow_key *fk;
	struct tg_scratch *s;
	struct tg_flow *flow;
	__u32 api_id = 0, route_id = 0, v;
	__u64 now, req_len;

	s = bpf_map_lookup_elem(&tg_msg_scratch, &slot);
	if (!s)
		return SK_PASS;
	req = &s->http;
	pr = &s->proxy;
	fk = &s->pkt.fk;
	req_len = s->req_len;
	flow = bpf_map_lookup_elem(&tg_flows, fk);
	if (flow && tg_flow_body_open(flow)) {
		/* body bytes: passed, and no verdict over what follows them
		 * (the length this lookalike head gives is no length at all) */
		s->req_len = 0;
		tg_stat(TG_S_NON_REQUEST);
		return SK_PASS;
	}
	if (req_len > size && flow && (READ_ONCE(flow->flags) & TG_FLOW_UNSURE)) {
		/* a length this connection's framing cannot vouch for: no
		 * verdict over later writes, the body is open as if chunked */
		req_len = 0;
		s->req_len = 0;
	}
	tg_stat(TG_S_PROXY_REQUESTS);
	now = bpf_ktime_get_ns();

	s->digest_ok = 0; /* the refusal's note is under the key's digest, if any */
	if (req->method == TG_M_NONE) {
		/* a request line that cannot be read in the write (longer
		 * than the bytes read): nor can its key */
		info.verdict = TG_V_MISSING_KEY;
		goto refused;
	}
	route = tg_route_lookup(s, req);
	if (route) {
		if ((route->flags & TG_ROUTE_PUBLIC) && !req->path_unsafe) {
			tg_msg_passed(flow, req->method, req_len, now);
			return SK_PASS;
		}
		api_id = route->api_id;
		route_id = route->route_id;
	}
	info.verdict = tg_classify(s, req, flow, api_id, now, &info, &admitted, false, true);
	if (info.verdict != TG_V_ADMITTED) {
refused:
		v = info.verdict & (TG_V_COUNT - 1);
		tg_count_refused(admitted.consumer_id, api_id, v);
		if (tg_actions[v] == TG_ACT_PASS) {
			tg_msg_passed(flow, req->method, req_len, now);
			return SK_PASS;
		}
		tg_refusal_note(s, &info, now);
		tg_stat(TG_S_PROXY_REFUSED);
		return SK_DROP;
	}

	if (pr->addr_ok) {
		s->req.flags = TG_RQ_FORWARDED;
		__builtin_memcpy(s->req.client_addr, pr->addr, 16);
	} else {
		s->req.flags = 0;
		__builtin_memcpy(s->req.client_addr, fk->client_addr, 16);
	}
	s->req.seg_end = 0;
	/* a body of a length not known (chunked): later writes that begin
	 * like a request are its until the request is answered */
	req_len = req_len < 0xffffffffULL ? req_len : 0;
	tg_admit(s, fk, flow, req_len ? 0 : TG_FLOW_BODY_OPEN | TG_FLOW_UNSURE, &admitted,
		 api_id, route_id, now, req_len ? req_len : size);
	return SK_PASS;
}

/*
 * A write of a local proxy to an API port (sockmap mode): when it starts a
 * request, the same parsing, key lookup, route match, bucket and verdicts as
 * tg_xdp (bpf/lib/); the client's address from X-Real-IP or
 * X-Forwarded-For. Refused requests are dropped (the proxy's write fails
 * with EACCES) and noted for the refusal responder.
 */
static __always_inline int tg_skmsg_proxied(struct sk_msg_md *msg, struct tg_scratch *s, __u32 slot)
{
	struct tg_http_req *req = &s->http;
	struct tg_proxy_req *pr = &s->proxy;
	__u32 size = msg->size, n;
	void *data, *data_end;
	__u64 req_len = 0;
	struct tg_flow *f;
	bool rest = false;

	TG_FLOW_KEY_SOCK_ACTIVE(&s->pkt.fk, msg);
	f = tg_rest_hold ? NULL : bpf_map_lookup_elem(&tg_flows, &s->pkt.fk);
	if (f && (f->flags & TG_FLOW_REQ_REST)) {
		rest = true;
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_REQ_REST);
	}
	n = size;
	if (n > TG_SCAN_MAX)
		n = TG_SCAN_MAX;
	if (n == 0)
		return SK_PASS;
	data = msg->data;
	data_end = msg->data_end;
	if (data + n > data_end) {
		/* only the head's prefix is made linear */
		if (bpf_msg_pull_data(msg, 0, n, 0))
			return SK_PASS;
		data = msg->data;
		data_end = msg->data_end;
	}
	if (data + n > data_end || bpf_probe_read_kernel(s->buf.bytes, n & (2 * TG_SCAN_MAX - 1), data))
		return SK_PASS;
	if (!tg_http_maybe_request(s->buf.bytes[0]) && tg_http_other_method(&s->buf, 0, n) <= 0) {
		tg_stat(TG_S_NON_REQUEST); /* a body, or not HTTP */
		return SK_PASS;
	}
	tg_http_parse_proxied(&s->buf, n, req);
	if (req->method == TG_M_NONE) {
		/* no request line yet, or not one at all, or one that cannot
		 * be read in the bytes read (refused by tg_msg_decide) */
		if (size < TG_SCAN_MAX && tg_http_find_lf(&s->buf, 0, n, &pr->at) >= n)
			return tg_skmsg_wait(msg, &s->pkt.fk, size, rest);
		if (!req->unread) {
			tg_stat(TG_S_NON_REQUEST);
			return SK_PASS;
		}
	} else if (!req->scan.end && size < TG_SCAN_MAX) {
		return tg_skmsg_wait(msg, &s->pkt.fk, size, rest);
	}
	tg_http_proxy_addr(&s->buf, n, req, pr);
	if (req->scan.end && req->body_len != TG_BODY_UNKNOWN)
		req_len = req->scan.end + req->body_len;
	s->req_len = req_len;
	if (tg_msg_decide(slot, size) == SK_DROP)
		return SK_DROP;
	return tg_skmsg_pass(msg, &s->pkt.fk, s->req_len);
}

/* A write on a socket with no flow of its own: a local proxy's upstream
 * socket (sockmap mode), or a server socket whose flow is gone. */
static __always_inline int tg_skmsg_other(struct sk_msg_md *msg)
{
	__u16 lport = msg->local_port, rport = bpf_ntohs(TG_REMOTE_PORT(msg));
	struct tg_port *port = bpf_map_lookup_elem(&tg_ports, &rport);
	struct tg_scratch *s;
	__u32 *busy = NULL, slot = 0;
	int verdict;

	if (!port || !(port->mode & TG_PORT_SOCKMAP) || bpf_map_lookup_elem(&tg_ports, &lport)) {
		tg_stat(TG_S_NO_FLOW);
		return SK_PASS;
	}
	s = tg_msg_scratch_get(&busy, &slot);
	if (!s || !busy)
		return SK_PASS;
	__builtin_memset(&s->pkt.fk, 0, sizeof(s->pkt.fk));
	verdict = tg_skmsg_proxied(msg, s, slot);
	tg_msg_scratch_put(busy, slot);
	return verdict;
}

/*
 * One window of a response head: scratch slot @slot holds @n bytes of the
 * send from s->head.base on. Returns TG_RESP_SCAN_MORE when the head goes on
 * past the window (s->head.next says where the next one starts), else the
 * response's length: head + Content-Length, the head alone (s->head.end) for
 * 204, 304 and interim 1xx, TG_RESP_CHUNKED | the head's length for a
 * chunked body, or TG_RESP_LEFT_UNKNOWN (no length or another final
 * transfer coding: then s->head.to_close is set, as the body runs to the
 * close; a bad Content-Length; a head the send cuts, s->head.cut, or longer
 * than TG_HEAD_MAX; 2 GiB or more). The last Content-Length or
 * Transfer-Encoding line counts, as in one window. A global function:
 * checked once.
 */
#define TG_RESP_SCAN_MORE 0U /* no response is 0 bytes long: its head is more */

__noinline __u32 tg_resp_window(__u32 slot, __u32 n, __u32 size, __u32 status)
{
	struct tg_head_scan *hs;
	struct tg_proxy_req *pr;
	struct tg_scratch *s;
	__u32 base, end, next, last;
	__u64 left;

	s = bpf_map_lookup_elem(&tg_msg_scratch, &slot);
	if (!s || n > TG_SCAN_MAX)
		return TG_RESP_LEFT_UNKNOWN;
	pr = &s->proxy;
	hs = &s->head;
	base = hs->base;
	hs->next = 0;
	tg_http_parse_head(&s->buf, 0, n, pr);
	if (pr->scan.te_line)
		hs->te = tg_http_te_chunked(&s->buf, pr->scan.te_line, n, &pr->at) ? TG_TE_CHUNKED :
										      TG_TE_OTHER;
	else if (pr->scan.clen_line) {
		hs->clen = pr->body_len != TG_BODY_UNKNOWN ? TG_CLEN_OK : TG_CLEN_BAD;
		hs->body_len = pr->body_len;
	}
	if (!pr->scan.end) {
		/* on from the line feed before the last line begun here */
		last = pr->scan.last;
		next = base + (last > 1 ? last - 1 : n);
		if (next >= TG_HEAD_MAX)
			return TG_RESP_LEFT_UNKNOWN;
		if (next >= size) {
			hs->cut = 1;
			return TG_RESP_LEFT_UNKNOWN;
		}
		hs->next = next;
		return TG_RESP_SCAN_MORE;
	}
	end = base + pr->scan.end;
	hs->end = end;
	if (status < 200 || status == 204 || status == 304)
		return end;
	if (hs->te == TG_TE_CHUNKED)
		return TG_RESP_CHUNKED | end;
	/* another final coding, or no length at all: to the close */
	if (hs->te || hs->clen == TG_CLEN_NONE) {
		hs->to_close = 1;
		return TG_RESP_LEFT_UNKNOWN;
	}
	if (hs->clen == TG_CLEN_BAD)
		return TG_RESP_LEFT_UNKNOWN;
	left = end + hs->body_len;
	return left < TG_RESP_CHUNKED ? left : TG_RESP_LEFT_UNKNOWN;
}

/*
 * Copy @n bytes of @msg from @off on (@off + @n at most TG_HEAD_MAX +
 * TG_SCAN_MAX, @n at most TG_SCAN_MAX) into @s->buf; false if they cannot
 * be had. At @off 0 they are read where msg->data points (the start of the
 * send), made linear first if they are not: callers read there only before
 * anything further on. Any other @off is pulled, which makes msg->data point
 * at it (a copy only where the bytes span pages, or are pages the send
 * shares, as sendfile's are): after one pull,
 * msg->data no longer says where the send starts, so offsets cannot be
 * taken from it.
 */
static __always_inline bool tg_msg_copy_at(struct sk_msg_md *msg, struct tg_scratch *s, __u32 off,
					   __u32 n)
{
	void *data = msg->data, *data_end = msg->data_end;

	off &= 2 * TG_HEAD_MAX - 1;
	n &= 2 * TG_SCAN_MAX - 1;
	if (off || data + n > data_end) {
		if (bpf_msg_pull_data(msg, off, off + n, 0))
			return false;
		data = msg->data; /* now at @off */
		data_end = msg->data_end;
	}
	return data + n <= data_end && !bpf_probe_read_kernel(s->buf.bytes, n, data);
}

/* What tg_skmsg_resp_length() found of a response head besides its length */
struct tg_resp_head {
	__u32 end;     /* the head's length (a response to HEAD ends there); 0 = unknown */
	bool to_close; /* no length: the body runs to the close */
	bool cut;      /* the send ended before the head did */
};

/* Where the response starting in @msg ends (tg_resp_window()), its head
 * read a window at a time, as if the request was not HEAD. A global
 * function: the verifier checks its loop once, not once for each way
 * tg_skmsg reaches it (its pulls move msg->data: the caller's packet
 * pointers are void after it, which kernels from 6.13 on enforce). */
__noinline __u32 tg_skmsg_resp_length(struct sk_msg_md *msg, __u32 size, __u32 status,
				      struct tg_resp_head *rh)
{
	__u32 *busy = NULL, slot = 0, base = 0, n, left = TG_RESP_LEFT_UNKNOWN;
	struct tg_scratch *s;

	if (!rh)
		return left;
	rh->end = 0;
	rh->to_close = false;
	rh->cut = false;
	if (!size)
		return left;
	s = tg_msg_scratch_get(&busy, &slot);
	if (!s || !busy)
		return left;
	__builtin_memset(&s->head, 0, sizeof(s->head));
	for (__u32 w = 0; w < TG_HEAD_WINDOWS; w++) {
		n = size - base < TG_SCAN_MAX ? size - base : TG_SCAN_MAX;
		s->head.base = base;
		if (!tg_msg_copy_at(msg, s, base, n)) {
			left = TG_RESP_LEFT_UNKNOWN;
			break;
		}
		left = tg_resp_window(slot, n, size, status);
		base = READ_ONCE(s->head.next);
		if (left != TG_RESP_SCAN_MORE || !base || base >= size)
			break;
	}
	if (left == TG_RESP_SCAN_MORE)
		left = TG_RESP_LEFT_UNKNOWN;
	rh->end = s->head.end;
	rh->to_close = left == TG_RESP_LEFT_UNKNOWN && s->head.to_close;
	rh->cut = left == TG_RESP_LEFT_UNKNOWN && s->head.cut;
	tg_msg_scratch_put(busy, slot);
	return left;
}

/* Whether the @size bytes at @data (of a send, up to @end), fewer than a
 * status line needs, could be the start of one ("HTTP/1."). */
static __always_inline bool tg_skmsg_status_prefix(__u8 *p, void *end, __u32 size)
{
	const char want[8] = "HTTP/1.";

	if (!size)
		return false;
	for (__u32 i = 0; i < 7; i++) {
		if (i >= size)
			break;
		if ((void *)(p + i + 1) > (void *)end || p[i] != (__u8)want[i])
			return false;
	}
	return true;
}

/*
 * The first @size bytes of a status line (fewer than 16) at the end of a
 * send whose rest cannot be held (tg_skmsg_cork): kept in the flow for the
 * next send to complete. Its response fields are free until a response
 * starts: resp_status holds how many, resp_first_ns those after "HTTP/1.".
 */
static __always_inline void tg_skmsg_status_keep(struct tg_flow *f, __u8 *p, void *end, __u32 size)
{
	__u64 w = 0;

	for (__u32 i = 7; i < 15; i++) {
		if (i >= size || (void *)(p + i + 1) > end)
			break;
		w |= (__u64)p[i] << (8 * (i - 7));
	}
	f->resp_status = size;
	f->resp_first_ns = w;
	__sync_fetch_and_or(&f->flags, TG_FLOW_STATUS_PART);
}

/*
 * The status of the status line whose first @k bytes (1 to 15: "HTTP/1."
 * and @kept, see tg_skmsg_status_keep) ended the previous send and whose
 * rest begins this one with the words @w0 @w1; 0 if it is none. A global
 * function: checked once, its result one unknown to the verifier after it.
 */
__noinline __u32 tg_status_joined(__u32 k, __u64 kept, __u64 w0, __u64 w1)
{
	const char want[8] = "HTTP/1.";
	__u8 b[32] = {};

	if (!k || k >= 16)
		return 0;
	for (__u32 i = 0; i < 15; i++)
		b[i] = i < 7 ? (__u8)want[i] : (__u8)(kept >> (8 * (i - 7)));
	for (__u32 j = 0; j < 16; j++)
		b[(k + j) & 31] = (__u8)((j < 8 ? w0 : w1) >> (8 * (j & 7)));
	return tg_http_status(*(__u64 *)b, *(__u64 *)(b + 8));
}

/*
 * The verdict of a send whose first @used bytes end a response (or an
 * interim 1xx): when more bytes follow, the verdict covers only those and
 * the kernel runs tg_skmsg again over the rest (marked TG_FLOW_REST), so a
 * server that writes several responses in one send has each of them seen.
 */
static __always_inline int tg_skmsg_next(struct sk_msg_md *msg, struct tg_flow *f, __u32 size,
					 __u32 used)
{
	if (used && used < size && used != TG_RESP_LEFT_UNKNOWN) {
		bpf_msg_apply_bytes(msg, used);
		__sync_fetch_and_or(&f->flags, TG_FLOW_REST);
	}
	return SK_PASS;
}

/* @v, which the compiler must treat as unknown: a subprogram whose every
 * return is one constant would otherwise return nothing (the caller uses the
 * constant), and the verifier refuses whatever it leaves in R0. */
static __always_inline int tg_opaque(int v)
{
	asm volatile("" : "+r"(v));
	return v;
}

/*
 * One window of chunk framing: scratch slot @slot holds @n bytes of the send
 * from s->chunk.off on, where the framing stands at s->chunk.state. Reads
 * it (tg_http_chunk_step) and moves s->chunk.off on: past what it read, and
 * past the data and CRLF of a chunk whose size line ended (s->chunk.state
 * then the start of the next size line). Returns what the step did, or -1
 * for what is not chunk framing or a chunk of 2 GiB or more. A global
 * function: checked once, not once per window.
 */
__noinline int tg_chunk_window(__u32 slot, __u32 n)
{
	struct tg_chunk_step *c;
	struct tg_scratch *s;
	__u32 off;
	int r;

	s = bpf_map_lookup_elem(&tg_msg_scratch, &slot);
	if (!s || n > TG_SCAN_MAX)
		return -1;
	c = &s->chunk;
	r = tg_http_chunk_step(&s->buf, n, c->state, c);
	if (r < 0 || c->used > n || (r == TG_CHUNK_MORE && !c->used))
		return -1;
	off = c->off + c->used;
	if (r == TG_CHUNK_DATA) {
		if (c->size >= TG_RESP_CHUNKED - off - 2)
			return -1;
		off += c->size + 2; /* c->state: the next size line's start */
	}
	c->off = off;
	return r;
}

/*
 * Body bytes of a chunked response in progress, at the start of @msg: the
 * rest of a chunk, or chunk framing (a size line; after the last chunk, its
 * trailer fields and the blank line). The framing is read a window at a
 * time (tg_chunk_window), the chunks' data skipped, so one run covers every
 * chunk of a send up to TG_CHUNK_STEPS windows or TG_HEAD_MAX bytes; there
 * the kernel sends that far and runs tg_skmsg again over the rest
 * (tg_skmsg_next), as it does where the response ends before the send does.
 * Framing that a send (or such a split) cuts is followed into the next run
 * (TG_FLOW_CHUNK_PART: never held, see tg_skmsg_cork). The blank line ends
 * the response (its event is written); anything that is not chunk framing
 * leaves its end to the next response or the close. Not inlined: only
 * chunked responses pay for the call, and its reads of msg->data stay apart
 * from tg_skmsg's (the compiler would merge them into a form the verifier
 * refuses).
 */
static __noinline int tg_skmsg_chunked(struct sk_msg_md *msg, const struct tg_flow_key *fk,
				       struct tg_flow *f, __u32 size)
{
	__u32 left = f->resp_left & ~TG_RESP_CHUNKED, state = TG_CHUNK_LINE, off, n;
	__u32 *busy = NULL, slot = 0;
	struct tg_scratch *s;
	int r = TG_CHUNK_MORE;

	if (f->flags & TG_FLOW_CHUNK_PART) {
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_CHUNK_PART);
		state = left;
		left = 0;
	}
	/* within a chunk's data and its CRLF (or the head, before the first
	 * size line) */
	if (size <= left) {
		f->resp_bytes += size;
		f->resp_left = TG_RESP_CHUNKED | (left - size);
		return tg_opaque(SK_PASS);
	}
	s = tg_msg_scratch_get(&busy, &slot);
	if (!s || !busy)
		goto unknown;
	s->chunk.off = left;
	s->chunk.state = state;
	for (__u32 i = 0; i < TG_CHUNK_STEPS; i++) {
		/* read back: the verifier then checks one iteration for all */
		off = READ_ONCE(s->chunk.off);
		state = READ_ONCE(s->chunk.state);
		if (off >= size || off >= TG_HEAD_MAX)
			break;
		n = size - off;
		if (n > (state == TG_CHUNK_LINE ? TG_CHUNK_LINE_MAX : TG_SCAN_MAX))
			n = state == TG_CHUNK_LINE ? TG_CHUNK_LINE_MAX : TG_SCAN_MAX;
		if (!tg_msg_copy_at(msg, s, off, n)) {
			r = -1;
			break;
		}
		r = tg_chunk_window(slot, n);
		if (r != TG_CHUNK_MORE && r != TG_CHUNK_DATA)
			break;
	}
	off = READ_ONCE(s->chunk.off);
	state = READ_ONCE(s->chunk.state);
	tg_msg_scratch_put(busy, slot);
	if (r < 0)
		goto unknown;
	if (r == TG_CHUNK_END) {
		f->resp_bytes += off;
		tg_finish_response(fk, f);
		return tg_opaque(tg_skmsg_next(msg, f, size, off));
	}
	if (off > size) {
		/* the send ends inside a chunk's data */
		f->resp_bytes += size;
		f->resp_left = TG_RESP_CHUNKED | (off - size);
		return tg_opaque(SK_PASS);
	}
	/* the framing stands at off: the send's end, or where this run stops */
	f->resp_bytes += off;
	f->resp_left = TG_RESP_CHUNKED | state;
	if (state != TG_CHUNK_LINE)
		__sync_fetch_and_or(&f->flags, TG_FLOW_CHUNK_PART);
	return tg_opaque(tg_skmsg_next(msg, f, size, off));
unknown:
	f->resp_bytes += size;
	f->resp_left = TG_RESP_LEFT_UNKNOWN;
	return tg_opaque(SK_PASS);
}

/* Bytes at the start of @msg of the response in progress, whose end its head
 * gave: f->resp_left is what is left of it (with TG_RESP_CHUNKED: of its
 * chunk, the head counting as one before the first). Body bytes, even those
 * that look like a status line (a body can be a response itself); at its
 * last byte the event is written, not at the next response or the close. */
static __always_inline int tg_skmsg_known(struct sk_msg_md *msg, const struct tg_flow_key *fk,
					  struct tg_flow *f, __u32 size)
{
	__u32 left = f->resp_left;

	if (left & TG_RESP_CHUNKED)
		return tg_skmsg_chunked(msg, fk, f, size);
	if (size >= left) {
		f->resp_bytes += left;
		tg_finish_response(fk, f);
		return tg_skmsg_next(msg, f, size, left);
	}
	f->resp_bytes += size;
	f->resp_left = left - size;
	return SK_PASS;
}

SEC("sk_msg")
int tg_skmsg(struct sk_msg_md *msg)
{
	struct tg_flow_key fk = {};
	struct tg_flow *f;
	void *data, *data_end;
	__u64 w0 = 0, w1 = 0, now;
	__u32 status = 0, head, tail, bhead, size = msg->size, method = TG_M_NONE, left, part = 0;
	struct tg_resp_head rh = {};
	bool charge = false, rest;

	/* a message the kernel held (tg_skmsg_cork) keeps the cork size and
	 * apply_bytes of its last run for every later send on the socket, and
	 * one run again over the rest of a send keeps those of the run before:
	 * each run starts from none */
	bpf_msg_cork_bytes(msg, 0);
	bpf_msg_apply_bytes(msg, 0);
	TG_FLOW_KEY_SOCK(&fk, msg);
	f = bpf_map_lookup_elem(&tg_flows, &fk);
	if (!f)
		return tg_skmsg_other(msg);
	if (!f->consumer_id && READ_ONCE(f->head) == READ_ONCE(f->tail) &&
	    f->beyond_head == READ_ONCE(f->beyond_tail) &&
	    !(READ_ONCE(f->flags) & TG_FLOW_RESPONDING)) {
		/* no admitted request on this connection yet (public routes, a
		 * local client that bypassed XDP, a flow the LRU evicted), nor
		 * a request let through waiting for its answer: nobody to
		 * charge. The answer to a request passed with its body open
		 * has begun: that body is over (tg_flow_body_open) */
		if (f->flags & TG_FLOW_BODY_PASSED)
			__sync_fetch_and_and(&f->flags, ~TG_FLOW_BODY_PASSED);
		tg_stat(TG_S_NO_FLOW);
		return SK_PASS;
	}
	rest = f->flags & TG_FLOW_REST;
	if (rest)
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_REST);
	if (f->flags & TG_FLOW_CUT)
		return SK_DROP; /* every write fails until the server closes it */
	if (f->flags & (TG_FLOW_UPGRADED | TG_FLOW_TO_CLOSE)) {
		/* no more HTTP, or the body of a response without a length,
		 * which the close ends: even a send that begins like a status
		 * line is its */
		f->resp_bytes += size;
		return SK_PASS;
	}

	if ((f->flags & TG_FLOW_RESPONDING) && f->resp_left != TG_RESP_LEFT_UNKNOWN)
		return tg_skmsg_known(msg, &fk, f, size);

	data = msg->data;
	data_end = msg->data_end;
	if (size >= 16 && data + 16 > data_end) {
		bpf_msg_pull_data(msg, 0, 16, 0);
		data = msg->data;
		data_end = msg->data_end;
	}
	if (data + 16 <= data_end) {
		w0 = *(__u64 *)data;
		w1 = *(__u64 *)(data + 8);
		status = tg_http_status(w0, w1);
	}
	if (f->flags & TG_FLOW_STATUS_PART) {
		/* the previous send ended with this status line's first bytes
		 * (a send shorter than the rest of 16 bytes: not followed) */
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_STATUS_PART);
		status = 0;
		if (!(f->flags & TG_FLOW_RESPONDING) && data + 16 <= data_end) {
			status = tg_status_joined(f->resp_status, f->resp_first_ns, w0, w1);
			if (status)
				part = f->resp_status;
		}
	}
	if (!status) {
		if (!(f->flags & TG_FLOW_RESPONDING)) {
			/* none in progress: a send too short for a status line
			 * that starts like one is a head written in pieces; the
			 * kernel holds it until there are 16 bytes and runs
			 * the program again over all of them (if it cannot
			 * hold them, they pass, unseen); in the rest of a
			 * send, its bytes are kept in the flow instead, which
			 * needs no hold there (see tg_skmsg_cork) */
			if (size < 16 && tg_skmsg_status_prefix(data, data_end, size)) {
				if (rest)
					tg_skmsg_status_keep(f, data, data_end, size);
				else if (tg_skmsg_cork(msg, 16, false))
					tg_stat(TG_S_RESP_HELD);
			}
			return SK_PASS;
		}
		/* body bytes of the response in progress, of unknown length */
		f->resp_bytes += size;
		return SK_PASS;
	}
	/* where it ends, if its head says (read before anything changes: a
	 * head the send cuts short is held until more comes, and the kernel
	 * runs the program again over all of it; if it cannot hold it, the
	 * response's end is not known) */
	left = TG_RESP_LEFT_UNKNOWN;
	if (status != 101) {
		left = tg_skmsg_resp_length(msg, size, status, &rh);
		if (status < 200) {
			/* an interim 1xx, skipped: not a response of its own,
			 * but the one in progress (of unknown length) ended
			 * before it; what follows its head in the same send is
			 * looked at on its own */
			if (f->flags & TG_FLOW_RESPONDING)
				tg_finish_response(&fk, f);
			return tg_skmsg_next(msg, f, size, left);
		}
		/* (not when the status line began in the send before: held,
		 * this send would be run again without those bytes) */
		if (rh.cut && !part && tg_skmsg_cork(msg, size + 1, rest)) {
			tg_stat(TG_S_RESP_HELD);
			return SK_PASS;
		}
	}

	now = bpf_ktime_get_ns();
	tg_stat(TG_S_RESPONSES);
	if (f->flags & TG_FLOW_RESPONDING)
		tg_finish_response(&fk, f);
	/* claim the response side before reading head (see tg_flow_timer) */
	if (__sync_fetch_and_or(&f->flags, TG_FLOW_RESPONDING) & TG_FLOW_TIMER_BUSY)
		tg_wait_timer(f);

	head = f->head;
	tail = READ_ONCE(f->tail);
	if (head != tail) {
		/* the response of pending[head]; its slot is freed when it ends */
		f->resp_flags = 0;
		method = f->pending[head & (TG_FLOW_PENDING - 1)].method;
	} else if ((bhead = f->beyond_head) != READ_ONCE(f->beyond_tail)) {
		/* the response of the first request beyond the ring: one let
		 * through unadmitted is nobody's; an admitted one is charged
		 * now, unattributed (its endpoint was not kept), and is no
		 * sign of a server that answers what it was not asked */
		__u32 uncharged = tg_flow_beyond_take(f, bhead, &method);

		tg_flow_cur(f, &fk, now, method, uncharged);
		charge = !uncharged;
	} else {
		/* a response beyond the admitted requests: charged, unattributed;
		 * a connection that keeps doing it is cut, and the response that
		 * goes over the limit is neither delivered nor charged. On a
		 * connection with no consumer yet, nobody to charge: as above */
		if (!f->consumer_id) {
			__sync_fetch_and_and(&f->flags, ~TG_FLOW_RESPONDING);
			tg_stat(TG_S_NO_FLOW);
			return SK_PASS;
		}
		if (f->unattributed >= TG_UNATTRIBUTED_RESET) {
			__sync_fetch_and_and(&f->flags, ~TG_FLOW_RESPONDING);
			__sync_fetch_and_or(&f->flags, TG_FLOW_CUT);
			tg_stat(TG_S_CUT);
			return SK_DROP;
		}
		tg_flow_cur(f, &fk, now, TG_M_NONE, 0);
		f->unattributed++;
		charge = true;
	}
	f->resp_status = status;
	f->resp_first_ns = now;
	f->resp_bytes = size + part;
	f->responses++;
	/* a body passed open (sockmap mode) ends where an answer starts */
	if (f->flags & TG_FLOW_BODY_PASSED)
		__sync_fetch_and_and(&f->flags, ~TG_FLOW_BODY_PASSED);
	if (status == 101)
		__sync_fetch_and_or(&f->flags, TG_FLOW_UPGRADED);

	if (charge) {
		struct tg_counters *c = tg_counters_get(f->consumer_id, f->api_id);
		struct tg_bucket_key bk = { .consumer_id = f->consumer_id, .plan_id = f->plan_id };
		struct tg_plan *plan = bpf_map_lookup_elem(&tg_plans, &bk.plan_id);
		struct tg_bucket *b = bpf_map_lookup_elem(&tg_buckets, &bk);

		tg_stat(TG_S_UNATTRIBUTED);
		if (c) {
			__sync_fetch_and_add(&c->requests, 1);
			__sync_fetch_and_add(&c->unattributed, 1);
		}
		if (plan && b)
			tg_bucket_charge(b, plan, now);
	}
	/* a response to HEAD has no body, whatever its head says */
	if (method == TG_M_HEAD && rh.end) {
		left = rh.end;
		rh.to_close = false;
	}
	/* where its head says it ends, its bytes, head included, go the way of
	 * every later send's (a response written whole in one send ends here) */
	f->resp_left = left;
	if (left == TG_RESP_LEFT_UNKNOWN) {
		if (rh.to_close)
			__sync_fetch_and_or(&f->flags, TG_FLOW_TO_CLOSE);
		return SK_PASS;
	}
	f->resp_bytes = part;
	return tg_skmsg_known(msg, &fk, f, size);
}

/* The receive side of the proxy's upstream sockets (tg_proxysocks): every
 * byte passes; its only job is to keep FIONREAD right (see tg_proxysocks). */
SEC("sk_skb")
int tg_skb_pass(struct __sk_buff *skb)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --- the agent's writes into buckets ------------------------------------------- */

/*
 * Run by the agent (BPF_PROG_RUN with a struct tg_bucket_op as context), so
 * that what it changes in a bucket is changed atomically in place: a map
 * update from userspace would write the whole value back and lose the
 * kernel's own updates made since the agent read it (DESIGN §3: "kernel and
 * agent never overwrite each other").
 */
SEC("syscall")
int tg_bucket_op(struct tg_bucket_op *op)
{
	struct tg_bucket_key key = op->key; /* a map key cannot be the context */
	struct tg_bucket *b = bpf_map_lookup_elem(&tg_buckets, &key);

	if (!b) {
		op->result = -2; /* -ENOENT */
		return 0;
	}
	if (op->grant)
		__sync_fetch_and_add(&b->granted_total, op->grant);
	if (op->set_flags || op->clear_flags) {
		bpf_spin_lock(&b->lock);
		b->flags = (b->flags & ~op->clear_flags) | op->set_flags;
		if (op->quota_retry_s)
			b->quota_retry_s = op->quota_retry_s;
		bpf_spin_unlock(&b->lock);
	}
	op->result = 0;
	return 0;
}
