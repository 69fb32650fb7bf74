/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reply.h - the HTTP answer tg_xdp sends in-kernel for `reject` (DESIGN §3):
 * 401 for key verdicts, 403 for suspended and forbidden_api, 429 with
 * Retry-After and the IETF RateLimit-Policy / RateLimit fields
 * (draft-ietf-httpapi-ratelimit-headers-11) for over_limit and
 * quota_exhausted; always Connection: close and a JSON body naming the
 * verdict.
 */
#ifndef TG_BPF_REPLY_H
#define TG_BPF_REPLY_H

#define TG_REPLY_MAX 448 /* bytes of HTTP answer; with TCP header <= 512 for csum */
#define TG_REPLY_MASK 511

struct tg_reply_info {
	__u32 verdict;
	__u32 wait_s;	 /* Retry-After and RateLimit t */
	__u32 burst;	 /* RateLimit-Policy q */
	__u32 window_s;	 /* RateLimit-Policy w */
};

/* Append a string literal: the length is a compile-time constant. */
#define TG_PUT(out, pos, lit)                                                                      \
	do {                                                                                       \
		__builtin_memcpy((out) + ((pos) & TG_REPLY_MASK), lit, sizeof(lit) - 1);           \
		(pos) += sizeof(lit) - 1;                                                          \
	} while (0)

static const __u64 tg_pow10[16] = {
	1ULL,		 10ULL,		   100ULL,	      1000ULL,
	10000ULL,	 100000ULL,	   1000000ULL,	      10000000ULL,
	100000000ULL,	 1000000000ULL,	   10000000000ULL,    100000000000ULL,
	1000000000000ULL, 10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
};

/*
 * Write v in decimal at pos; returns the position after it. Branch-free on
 * purpose: a loop that stops at the last digit would give the verifier one
 * path per digit count and number, which multiplies to millions; here the
 * digit count is arithmetic (the asm keeps clang from turning it back into
 * compares), and every number writes ten bytes, the ones past its digits
 * overwritten by what follows.
 */
static __always_inline __u32 tg_put_u32(__u8 *out, __u32 pos, __u32 v)
{
	__u64 n = 1, t;

	for (int i = 1; i < 10; i++) {
		t = tg_pow10[i] - 1 - (__u64)v; /* wraps iff v >= 10^i */
		asm volatile("" : "+r"(t));
		n += t >> 63;
	}
	for (int k = 0; k < 10; k++) {
		__u64 e = (n - 1 - k) & 15;

		out[(pos + k) & TG_REPLY_MASK] = '0' + (v / tg_pow10[e]) % 10;
	}
	return pos + n;
}

#define TG_BODY(name) "{\"error\":\"" name "\"}"

/* tg_reply_build() - write the answer for info into out; returns its length. */
static __always_inline __u32 tg_reply_build(__u8 *out, const struct tg_reply_info *info)
{
	__u32 pos = 0;

	switch (info->verdict) {
	case TG_V_OVER_LIMIT:
	case TG_V_QUOTA_EXHAUSTED:
		TG_PUT(out, pos, "HTTP/1.1 429 Too Many Requests\r\n");
		break;
	case TG_V_SUSPENDED:
	case TG_V_FORBIDDEN_API:
		TG_PUT(out, pos, "HTTP/1.1 403 Forbidden\r\n");
		break;
	default:
		TG_PUT(out, pos, "HTTP/1.1 401 Unauthorized\r\n"
				 "WWW-Authenticate: ApiKey header=\"X-API-Key\"\r\n");
		break;
	}
	TG_PUT(out, pos, "Server: tollgate\r\nContent-Type: application/json\r\nConnection: close\r\n");
	if (info->verdict == TG_V_OVER_LIMIT || info->verdict == TG_V_QUOTA_EXHAUSTED) {
		TG_PUT(out, pos, "Retry-After: ");
		pos = tg_put_u32(out, pos, info->wait_s);
		/* the plan's rate policy; for quota_exhausted, t says when the
		 * quota period rolls over */
		TG_PUT(out, pos, "\r\nRateLimit-Policy: \"plan\";q=");
		pos = tg_put_u32(out, pos, info->burst);
		TG_PUT(out, pos, ";w=");
		pos = tg_put_u32(out, pos, info->window_s);
		TG_PUT(out, pos, "\r\nRateLimit: \"plan\";r=0;t=");
		pos = tg_put_u32(out, pos, info->wait_s);
		TG_PUT(out, pos, "\r\n");
	}
	TG_PUT(out, pos, "Content-Length: ");
	switch (info->verdict) {
#define TG_REPLY_BODY(v, name)                                                                     \
	case v:                                                                                    \
		pos = tg_put_u32(out, pos, sizeof(TG_BODY(name)) - 1);                             \
		TG_PUT(out, pos, "\r\n\r\n" TG_BODY(name));                                        \
		break;
		TG_REPLY_BODY(TG_V_MISSING_KEY, "missing_key")
		TG_REPLY_BODY(TG_V_UNKNOWN_KEY, "unknown_key")
		TG_REPLY_BODY(TG_V_REVOKED_KEY, "revoked_key")
		TG_REPLY_BODY(TG_V_SUSPENDED, "suspended")
		TG_REPLY_BODY(TG_V_FORBIDDEN_API, "forbidden_api")
		TG_REPLY_BODY(TG_V_QUOTA_EXHAUSTED, "quota_exhausted")
#undef TG_REPLY_BODY
	default:
		pos = tg_put_u32(out, pos, sizeof(TG_BODY("over_limit")) - 1);
		TG_PUT(out, pos, "\r\n\r\n" TG_BODY("over_limit"));
		break;
	}
	return pos;
}

/* --- checksums --------------------------------------------------------- */

static __always_inline __u16 tg_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

#endif /* TG_BPF_REPLY_H */
