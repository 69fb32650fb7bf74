/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tollgate_abi.h - the one header that crosses the kernel/user boundary.
 *
 * Every struct here is a BPF map key or value, or a ring-buffer record, shared
 * by the programs in bpf/ and the agent. Fixed-width fields, no pointers,
 * explicit padding and a size assertion on each: a change of layout is a
 * change of TG_ABI_VERSION, and an agent that finds pins of another version
 * recreates them (DESIGN §3).
 *
 * Byte order: addresses and ports inside struct tg_flow_key are network order;
 * every other integer is host order.
 */
#ifndef TOLLGATE_ABI_H
#define TOLLGATE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock, struct bpf_timer */
#endif

#define TG_ABI_VERSION 4 /* 2: tg_request carries the client address; tg_refusals;
			   * 3: tg_flow keeps the order of requests beyond its ring;
			   * 4: tg_flow follows a request's chunked body across
			   * segments (chunk_state, chunk_end) */

/* Limits of the data plane. */
#define TG_SCAN_MAX 1024	/* payload bytes searched for the key */
#define TG_KEY_MAX 64		/* longest key value considered */
#define TG_PATH_MAX 128		/* request path bytes kept (= endpoint_len max) */
#define TG_ROUTE_MAX 128	/* longest route prefix */
#define TG_FLOW_PENDING 4	/* admitted requests awaiting a response per flow */
#define TG_FLOW_BEYOND_KINDS 64	/* requests beyond those whose kind a flow keeps */
/* requests beyond those still unanswered at a connection's close that
 * become unanswered events (a client that pipelined more goes without) */
#define TG_FLOW_BEYOND_CLOSE_MAX 4096
#define TG_SECRET_SLOTS 10	/* key secret versions 1..9; slot 0 unused */
#define TG_UNATTRIBUTED_RESET 16 /* unattributed responses a connection may have */
/* The ring-buffer fill whose every multiple wakes the agent (bpf/lib/
 * ringbuf.h): an eighth of the ring, at most TG_RB_WAKEUP_MAX (a wakeup costs
 * the agent a context switch on a busy CPU; it also drains every 100 ms). */
#define TG_RB_WAKEUP_MAX (512 * 1024)
/* tg_xdp's key cache (not pinned) has 1 << bits slots of 128 bytes a CPU:
 * the power of two at or above agent.max_keys, within these bounds (a slot
 * is one key, two slots a set; 4096 slots are 512 KiB a CPU). */
#define TG_KEYCACHE_BITS_MIN 7
#define TG_KEYCACHE_BITS_MAX 12
/* The map's entries: as many slots for each possible CPU. */
#define TG_KEYCACHE_ENTRIES(ncpus, bits) ((__u32)(ncpus) << (bits))

/* Token buckets count in fixed point: one token is 1 << TG_TOKEN_SHIFT. */
#define TG_TOKEN_SHIFT 16
#define TG_TOKEN_ONE (1ULL << TG_TOKEN_SHIFT)
/* Elapsed time is capped before it is multiplied by a rate (DESIGN §3). */
#define TG_ELAPSED_CAP_NS (3600ULL * 1000000000ULL)

/* Verdicts, in the order of the event format (docs/event-format.md). */
enum tg_verdict {
	TG_V_ADMITTED = 0,
	TG_V_MISSING_KEY = 1,
	TG_V_UNKNOWN_KEY = 2,
	TG_V_REVOKED_KEY = 3,
	TG_V_SUSPENDED = 4,
	TG_V_FORBIDDEN_API = 5,
	TG_V_OVER_LIMIT = 6,
	TG_V_QUOTA_EXHAUSTED = 7,
	TG_V_COUNT = 8,
};

/* What XDP does with a request of a given verdict. */
enum tg_action {
	TG_ACT_PASS = 0,
	TG_ACT_DROP = 1,
	TG_ACT_REJECT = 2,
};

/* HTTP methods, codes of the event format; 0 = not a request. */
enum tg_method {
	TG_M_NONE = 0,
	TG_M_GET = 1,
	TG_M_POST = 2,
	TG_M_PUT = 3,
	TG_M_PATCH = 4,
	TG_M_DELETE = 5,
	TG_M_HEAD = 6,
	TG_M_OPTIONS = 7,
};

/* Event flags (DESIGN §5). */
#define TG_EF_UNANSWERED (1U << 0)
#define TG_EF_SUMMARY (1U << 1)
#define TG_EF_UNATTRIBUTED (1U << 2)

/* tg_meta: one entry, index 0. */
struct tg_meta {
	__u32 abi_version;
	__u32 flags;
	__u64 pin_generation; /* random, new whenever the maps are created */
	__u64 created_unix_ns;
};
_Static_assert(sizeof(struct tg_meta) == 24, "tg_meta layout");

/* tg_secrets: array indexed by key secret version (1..9). */
struct tg_secret {
	__u8 key[16];
	__u32 valid;
	__u32 pad;
};
_Static_assert(sizeof(struct tg_secret) == 24, "tg_secret layout");

/* tg_keys: digest -> key. */
struct tg_key_digest {
	__u8 bytes[16];
};
_Static_assert(sizeof(struct tg_key_digest) == 16, "tg_key_digest layout");

#define TG_KEY_ACTIVE (1U << 0)	   /* absent = revoked */
#define TG_KEY_SUSPENDED (1U << 1) /* consumer suspended (e.g. unpaid) */
#define TG_KEY_NEGATIVE (1U << 2)  /* cached "no such key" */

struct tg_key {
	__u32 key_id;
	__u32 consumer_id;
	__u32 plan_id;
	__u32 flags;
};
_Static_assert(sizeof(struct tg_key) == 16, "tg_key layout");

/* tg_plans: plan id -> plan. */
#define TG_PLAN_GLOBAL (1U << 0) /* tokens come from agent leases only */

struct tg_plan {
	__u32 api_id; /* 0 = any API */
	__u32 flags;
	__u64 rate_fp;	/* tokens per second, fixed point */
	__u64 burst_fp; /* bucket capacity, fixed point */
	__u32 rate_per_sec; /* rounded, for RateLimit-Policy */
	__u32 burst;	    /* for RateLimit-Policy */
	__u64 monthly_quota; /* requests per calendar month (UTC), 0 = none; the agent
			      * enforces it through TG_BUCKET_QUOTA_EXHAUSTED */
};
_Static_assert(sizeof(struct tg_plan) == 40, "tg_plan layout");

/* tg_buckets: (consumer, plan) -> bucket. */
struct tg_bucket_key {
	__u32 consumer_id;
	__u32 plan_id;
};
_Static_assert(sizeof(struct tg_bucket_key) == 8, "tg_bucket_key layout");

#define TG_BUCKET_QUOTA_EXHAUSTED (1U << 0)

struct tg_bucket {
	struct bpf_spin_lock lock;
	__u32 flags;
	__u64 tokens_fp; /* host scope: current tokens */
	__u64 last_ns;	 /* host scope: CLOCK_MONOTONIC of the last refill */
	__u64 consumed_total; /* requests admitted, all scopes */
	__u64 granted_total;  /* global scope: tokens leased by the agent */
	__u32 quota_retry_s;  /* Retry-After for quota_exhausted */
	__u32 pad;
};
_Static_assert(sizeof(struct tg_bucket) == 48, "tg_bucket layout");

/* The context of tg_bucket_op, the agent's atomic writes into a bucket. */
struct tg_bucket_op {
	struct tg_bucket_key key;
	__u64 grant;	    /* added to granted_total (global scope leases) */
	__u32 set_flags;    /* TG_BUCKET_* to set, */
	__u32 clear_flags;  /* and to clear */
	__u32 quota_retry_s; /* when set_flags has QUOTA_EXHAUSTED: Retry-After */
	__s32 result;	    /* 0, or -ENOENT when there is no such bucket */
};
_Static_assert(sizeof(struct tg_bucket_op) == 32, "tg_bucket_op layout");

/* tg_routes: LPM trie over the path; prefixes are stored with a trailing '/'
 * and paths are looked up with one appended, so routes match at '/'
 * boundaries. */
struct tg_route_key {
	__u32 prefixlen; /* in bits */
	__u8 path[TG_ROUTE_MAX];
};
_Static_assert(sizeof(struct tg_route_key) == 4 + TG_ROUTE_MAX, "tg_route_key layout");

#define TG_ROUTE_PUBLIC (1U << 0)     /* no key needed, not metered */
#define TG_ROUTE_DEPRECATED (1U << 1)

struct tg_route {
	__u32 api_id;
	__u32 route_id;
	__u32 flags;
	__u32 pad;
};
_Static_assert(sizeof(struct tg_route) == 16, "tg_route layout");

/* tg_ports: TCP port (host order) -> mode bits. */
#define TG_PORT_XDP (1U << 0)
#define TG_PORT_SOCKMAP (1U << 1)

struct tg_port {
	__u32 mode;
};

/* tg_xdp_ports: the ports of tg_ports whose mode has TG_PORT_XDP, as a
 * bitmap (1024 words of 64 ports), kept beside tg_ports by the agent: the
 * check every packet makes is then an array load, not a hash lookup. */
#define TG_XDP_PORTS_WORDS 1024
#define TG_XDP_PORTS_WORD(port) ((__u32)(port) >> 6)
#define TG_XDP_PORTS_BIT(port) (1ULL << ((port) & 63))

/* Flow key everywhere (DESIGN §3): IPv4 as v4-mapped IPv6, network order. */
struct tg_flow_key {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
};
_Static_assert(sizeof(struct tg_flow_key) == 36, "tg_flow_key layout");

#define TG_RESP_LEFT_UNKNOWN 0xffffffffU
/* resp_left of a chunked response: this bit and the bytes left of the
 * current chunk (its data and CRLF); none left: a chunk-size line is next */
#define TG_RESP_CHUNKED 0x80000000U

/* One admitted request waiting for its response. */
struct tg_request {
	__u64 start_ns; /* CLOCK_MONOTONIC when XDP saw its first segment */
	__u32 consumer_id;
	__u32 plan_id;
	__u32 key_id;
	__u32 api_id;
	__u32 route_id;
	union {
		__u32 req_bytes;
		/* XDP, a request let through unadmitted (TG_RQ_UNCHARGED):
		 * the client's sequence at its first byte, where a
		 * retransmission of it must not turn out admitted */
		__u32 start_seq;
	};
	__u8 method;
	__u8 path_len;
	__u16 flags; /* TG_RQ_* */
	__u32 seg_end; /* XDP: the client's sequence after the request's
			* first segment (a retransmission starts before it) */
	/* the client's address: the packet's source for XDP, X-Real-IP or
	 * X-Forwarded-For for requests a local proxy forwards (sockmap mode) */
	__u8 client_addr[16];
	char path[TG_PATH_MAX];
};
_Static_assert(sizeof(struct tg_request) == 56 + TG_PATH_MAX, "tg_request layout");

#define TG_RQ_FORWARDED (1U << 0) /* client_addr came from a proxy's header */
#define TG_RQ_UNCHARGED (1U << 1) /* let through unadmitted (a public route,
				   * a pass action): its answer ends it
				   * without an event or a charge */

/* Flags change only through atomic or/and: the unanswered timer runs
 * beside the socket's own programs (see tg_flow_timer). */
#define TG_FLOW_UPGRADED (1U << 0)  /* 101 seen: no more HTTP on this connection */
#define TG_FLOW_RESPONDING (1U << 1) /* a response is in progress: for pending[head],
				      * or for cur when resp_flags says unattributed */
#define TG_FLOW_CUT (1U << 2)	     /* too many unattributed responses */
#define TG_FLOW_TIMER_BUSY (1U << 3) /* the timer is expiring unanswered requests */
#define TG_FLOW_CLOSING (1U << 4)    /* the connection is being closed out */
#define TG_FLOW_REST (1U << 5)	     /* the next run of tg_skmsg is over the
				      * rest of a send whose first part went
				      * out: it must not hold bytes (see
				      * tg_skmsg_cork) */
#define TG_FLOW_TO_CLOSE (1U << 6)   /* the response in progress has no length:
				      * its body runs to the close (RFC 9112
				      * 6.3), every later byte is its */
#define TG_FLOW_REQ_REST (1U << 7) /* the same as TG_FLOW_REST for the
				      * local proxy's socket of the connection
				      * (sockmap mode), which shares its flow;
				      * kept only where holds need it (no
				      * tg_rest_hold) */
#define TG_FLOW_STATUS_PART (1U << 8) /* a send ended with the first bytes
					 * of a status line it could not hold:
					 * resp_status says how many,
					 * resp_first_ns keeps those after
					 * "HTTP/1." (tg_skmsg_status_keep) */
#define TG_FLOW_CHUNK_PART (1U << 9) /* a send (or a run of tg_skmsg) ended
				       * inside a chunk-size line or the
				       * trailer section: resp_left is
				       * TG_RESP_CHUNKED | where the framing
				       * stands (TG_CHUNK_*, bpf/lib/http.h) */
#define TG_FLOW_SEQ (1U << 10)	/* next_seq holds a sequence (tg_xdp; set
				 * by tg_sockops at the handshake) */
#define TG_FLOW_BODY_OPEN (1U << 11) /* the last admitted request has a body
				      * whose end is not known (chunked, a
				      * bad Content-Length, a head longer
				      * than was read): until every admitted
				      * request is answered, bytes that
				      * begin like a request are its body
				      * (only with TG_FLOW_SOCK) */
#define TG_FLOW_SOCK (1U << 12) /* tg_sockops put the connection's socket in
				 * the sockhash: tg_skmsg sees its answers */
#define TG_FLOW_BODY_PASSED (1U << 13) /* sockmap mode: the last request
					* passed unadmitted (a public route, a
					* pass action) has a body whose end is
					* not known: open until the server
					* answers (tg_skmsg clears it at the
					* next send on the connection; the
					* proxy frames the body, so no request
					* hides in it) */
#define TG_FLOW_UNSURE (1U << 14) /* where requests start on the connection
				   * is no longer sure (a body of unknown
				   * length went by, a request began where
				   * the last did not end, or bytes that are
				   * no request came after one in its
				   * segment): no request's
				   * body is skipped by the length its head
				   * gives, past its segment (tg_xdp) or
				   * write (sk_msg), as a body's bytes read
				   * as a head could give any length; until
				   * the next SYN on the tuple */

/* Where chunked framing stands (RFC 9112 7.1), read a piece at a time
 * (bpf/lib/http.h, tg_http_chunk_step): a phase in the top bits, the size
 * read so far in the low ones. sk_msg keeps one for a response (resp_left),
 * tg_xdp one for a request's body (chunk_state). */
#define TG_CHUNK_LINE 0U	    /* at the start of a chunk-size line */
#define TG_CHUNK_DIGITS (1U << 28) /* in its hex digits */
#define TG_CHUNK_EXT (2U << 28)    /* past them (extensions, CR): to its LF */
#define TG_CHUNK_BOL (3U << 28)    /* after the last chunk's line: at the start
				    * of a trailer field or of the blank line */
#define TG_CHUNK_BOL_CR (4U << 28) /* the same, past a CR there */
#define TG_CHUNK_FIELD (5U << 28)  /* in a trailer field line: to its LF */
#define TG_CHUNK_CRLF (6U << 28)    /* tg_xdp's: past a chunk's data, before
				    * its CRLF */
#define TG_CHUNK_CRLF_LF (7U << 28) /* the same, past its CR */
#define TG_CHUNK_PHASE (7U << 28)
#define TG_CHUNK_SIZE ((1U << 28) - 1) /* a larger size is not carried */

#define TG_FLOW_CHUNKED (1U << 15) /* tg_xdp follows the chunked body of
				    * the last request let through: next_seq
				    * is where its framing stands (in
				    * chunk_state), not where a request
				    * starts */
#define TG_FLOW_CHUNK_SEEN (1U << 16) /* chunk_end holds the end of the
				       * chunk framing tg_xdp read */
#define TG_FLOW_CHUNK_FREE (1U << 17) /* the request of that body was let
				       * through unadmitted */

/*
 * tg_flows is an LRU hash, which cannot hold a bpf_spin_lock: the pending
 * requests form a single-producer (tg_xdp, serialised per flow by the RX
 * queue) single-consumer (tg_skmsg and tg_sockops, serialised by the socket
 * lock) ring; the producer writes the slot before it publishes tail with an
 * atomic add, and only the consumer writes head, flags and resp_*.
 */
struct tg_flow {
	__u32 responses; /* responses seen on the connection (one with an
			  * admitted request) */
	__u32 flags;
	__u32 next_seq; /* client sequence after the last request tg_xdp let
			 * through, its body included where its length is known */
	__u32 head;	/* pending[head % N] is the oldest */
	__u32 tail;	/* pending[tail % N] is the next free slot */
	__u32 unattributed;
	/* the connection's consumer, charged for unattributed responses */
	__u32 consumer_id;
	__u32 plan_id;
	__u32 key_id;
	__u32 api_id;
	/* the response in progress */
	__u16 resp_status;
	__u16 resp_flags; /* TG_EF_* */
	__u32 resp_left; /* its bytes still to come (head + Content-Length),
			  * TG_RESP_CHUNKED | the current chunk's, or
			  * TG_RESP_LEFT_UNKNOWN: it ends at the next one or the close */
	__u64 resp_first_ns;
	__u64 resp_bytes;
	struct bpf_timer timer; /* expires requests unanswered after unanswered_after */
	/* the key of the last admitted request and its digest: a kept-alive
	 * client sends the same key each time, and SipHash is the dearest step
	 * of admission (tg_xdp only, like next_seq) */
	__u64 key_raw[6];
	struct tg_key_digest key_digest;
	/* requests beyond the ring (it was full, or some were beyond it
	 * already): counted in order behind those in it, not kept; their
	 * answers come after all of the ring's, and are charged as
	 * unattributed (tg_flow_beyond). Of the first TG_FLOW_BEYOND_KINDS
	 * still unanswered a bit each (i % 64) says which was let through
	 * unadmitted (its answer is nobody's) and which was a HEAD (its
	 * answer has no body); the producer sets them, the consumer clears
	 * them as it takes each request's answer, both atomically. */
	__u32 beyond_tail; /* producer: requests beyond, ever */
	__u32 beyond_head; /* consumer: of which answered */
	__u64 beyond_uncharged;
	__u64 beyond_headreq;
	__u64 beyond_last_ns; /* the start of the last one beyond: each one
			       * still beyond is at least as old (the timer) */
	__u32 beyond_seg_end; /* the seg_end of the last one beyond (XDP) */
	/* tg_xdp, with TG_FLOW_CHUNKED: where the chunked body of the last
	 * request stands at next_seq (TG_CHUNK_* of bpf/lib/http.h) */
	__u32 chunk_state;
	/* with TG_FLOW_CHUNK_SEEN: the end of the bytes whose chunk framing
	 * tg_xdp read (client sequence); bytes before it sent again that the
	 * server's TCP has not taken are refused, as the server may read
	 * other framing in them than tg_xdp did */
	__u32 chunk_end;
	__u32 pad;
	struct tg_request cur; /* the request of an unattributed response */
	struct tg_request pending[TG_FLOW_PENDING];
};
_Static_assert(sizeof(struct tg_flow) == 192 + 5 * sizeof(struct tg_request), "tg_flow layout");

/* tg_rejects: connections answered in-kernel; their next client segment is
 * turned into a RST toward the server, later ones are answered in its place;
 * a SYN on the same ports ends the entry. */
struct tg_reject {
	__u32 server_rcv_nxt; /* sequence the server expects (the request's) */
	__u32 flags;	      /* TG_REJECT_* */
	__u64 expires_ns;
};
/* the server's TCP may be elsewhere than at server_rcv_nxt (a refused
 * retransmission, or bytes before the refused segment may be missing):
 * the RST goes at its socket's rcv_nxt, looked up */
#define TG_REJECT_LOOKUP (1U << 0)
/* the RST went to the server: its socket is gone, and XDP answers the
 * client's later segments in the server's place (tg_answer_closed) */
#define TG_REJECT_RESET (1U << 1)
_Static_assert(sizeof(struct tg_reject) == 16, "tg_reject layout");
/* how long an entry lives after its answer (expires_ns - this = answered) */
#define TG_REJECT_TTL_NS (60ULL * 1000000000ULL)

/* tg_refusals: key digest (zero for a request without a usable key) -> the
 * kernel's latest refusal of a proxied request (sockmap mode), so the
 * agent's refusal responder, the proxy's backup upstream, answers the
 * status the kernel decided (docs/sockmap.md). */
struct tg_refusal {
	__u64 refused_ns; /* CLOCK_MONOTONIC */
	__u32 verdict;
	__u32 wait_s;	/* Retry-After for over_limit and quota_exhausted */
	__u32 burst;	/* RateLimit-Policy q */
	__u32 window_s; /* RateLimit-Policy w */
};
_Static_assert(sizeof(struct tg_refusal) == 24, "tg_refusal layout");

/* tg_srclimit: source address (v4-mapped) -> bucket for keyless refusals. */
/* Updated without a lock (an LRU hash cannot hold one): racing updates can
 * only lose a debit, which errs toward admitting a few more refusals. */
struct tg_src_bucket {
	__u64 tokens_fp;
	__u64 last_ns;
};
_Static_assert(sizeof(struct tg_src_bucket) == 16, "tg_src_bucket layout");

/* tg_counters: (consumer, api) -> cumulative counters, atomic adds. */
struct tg_counter_key {
	__u32 consumer_id;
	__u32 api_id;
};
_Static_assert(sizeof(struct tg_counter_key) == 8, "tg_counter_key layout");

struct tg_counters {
	__u64 requests; /* admitted (charged), including unattributed */
	__u64 refused[TG_V_COUNT]; /* by verdict; [TG_V_ADMITTED] unused */
	__u64 status_class[8];	   /* [1..5] = 1xx..5xx answered; [0], [6..7] unused */
	__u64 unanswered;	   /* status-0 events: no response before close */
	__u64 unattributed;
	__u64 bytes_in;
	__u64 bytes_out;
	__u64 latency_us_sum;
	__u64 events_lost; /* events the ring buffer had no room for */
	__u32 plan_id;	   /* the plan of the latest admitted request */
	__u32 pad;
};
/* Every usage event the kernel emits is counted once: in status_class[1..5]
 * or in unanswered; those the ring buffer could not take also in events_lost,
 * which the agent turns into summary events (DESIGN §4). */
_Static_assert(sizeof(struct tg_counters) == 8 * (1 + TG_V_COUNT + 8 + 7), "tg_counters layout");

/* tg_stats: per-CPU array indexed by enum tg_stat. */
enum tg_stat {
	TG_S_PACKETS = 0,	/* packets seen by XDP */
	TG_S_API_SEGMENTS,	/* TCP segments with payload to an API port */
	TG_S_REQUESTS,		/* requests XDP read: segments that start one, and
				 * those behind one let through unadmitted */
	TG_S_NON_REQUEST,	/* payload that does not start a request */
	TG_S_PARSE_FAIL,	/* truncated or malformed IP/TCP headers */
	TG_S_FRAGMENTS,
	TG_S_RETRANSMITS,	/* admitted requests seen again, not charged */
	TG_S_REJECT_TX,		/* in-kernel answers sent */
	TG_S_RESETS,		/* client segments turned into RSTs */
	TG_S_SRC_LIMITED,	/* keyless refusals dropped by the per-source limit */
	TG_S_RINGBUF_FULL,	/* ring-buffer reserve failures */
	TG_S_MAP_FULL,		/* map updates that failed for lack of room */
	TG_S_PENDING_FULL,	/* requests beyond TG_FLOW_PENDING */
	TG_S_RESPONSES,		/* responses seen by sk_msg */
	TG_S_UNATTRIBUTED,	/* responses with no admitted request */
	TG_S_SOCKETS,		/* sockets added to the sockhash */
	TG_S_NO_FLOW,		/* responses on connections without an admitted request */
	TG_S_CUT,		/* connections cut for too many unattributed responses */
	TG_S_PROXY_REQUESTS,	/* requests a local proxy sent upstream (sockmap mode) */
	TG_S_PROXY_REFUSED,	/* of which refused (SK_DROP) */
	TG_S_PROXY_CORKED,	/* request heads split over writes, held until complete */
	TG_S_SCRATCH_BUSY,	/* sk_msg runs that found no free scratch slot (passed) */
	TG_S_FLOWS_LOST,	/* connections whose flow was gone when they closed:
				 * evicted from tg_flows while open */
	TG_S_RESP_HELD,		/* response heads written in pieces shorter than a
				 * status line, held until it is complete */
	TG_S_CHUNK_GAPS,	/* segments past where a chunked request body
				 * stands (one before them lost or reordered),
				 * dropped: the client sends them again */
	TG_S_COUNT,
};

/* Ring-buffer record, kernel -> agent: one per answered, unanswered or
 * unattributed request. Times are CLOCK_MONOTONIC; the agent converts. */
struct tg_event {
	__u64 start_ns;
	__u32 consumer_id;
	__u32 plan_id;
	__u32 api_id;
	__u32 route_id;
	__u32 key_id;
	__u32 flags; /* TG_EF_* */
	__u32 latency_us;
	__u32 req_bytes;
	__u32 resp_bytes;
	__u32 count;
	__u16 status;
	__u8 method;
	__u8 verdict;
	__u8 path_len;
	__u8 pad[3];
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
	__u32 pad2;
	char path[TG_PATH_MAX];
};
_Static_assert(sizeof(struct tg_event) == 96 + TG_PATH_MAX, "tg_event layout");

#endif /* TOLLGATE_ABI_H */
