/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http.h - HTTP/1.x request and status-line parsing on copied bytes.
 *
 * Everything here reads a buffer that the caller copied out of a packet or a
 * message (struct tg_scratch.buf), never the packet itself, so tg_xdp today
 * and tg_skmsg in sockmap mode run the same code and the XDP fixtures test it
 * (DESIGN §3). Reads are masked into the buffer, which has TG_BUF_SLACK bytes
 * beyond TG_SCAN_MAX so that 8-byte loads near the end stay inside it; bytes
 * at or beyond the copied length are never interpreted.
 *
 * Scans go a word at a time: a word without the byte sought costs one
 * compare. The header scan takes four words a step (TG_LF_STRIDE).
 */
#ifndef TG_BPF_HTTP_H
#define TG_BPF_HTTP_H

#define TG_BUF_SLACK 64

#ifndef READ_ONCE
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#endif
#define TG_MASK (TG_SCAN_MAX - 1)
#define TG_LEADING_CRLF_MAX 8
#define TG_CHUNK_LINE_MAX 64 /* the window read at a chunk-size line: one fits */

#define TG_ONES 0x0101010101010101ULL
#define TG_HIGHS 0x8080808080808080ULL
#define TG_LOWER8 0x2020202020202020ULL

/* Little-endian words of ASCII, as loaded from the buffer. */
#define TG_W2(a, b) ((__u64)(a) | (__u64)(b) << 8)
#define TG_W4(a, b, c, d) (TG_W2(a, b) | (__u64)(c) << 16 | (__u64)(d) << 24)
#define TG_W8(a, b, c, d, e, f, g, h)                                                              \
	(TG_W4(a, b, c, d) | (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |              \
	 (__u64)(h) << 56)

struct tg_hdr_scan {
	__u32 key_line;	 /* offset of the first X-API-Key line, or 0 */
	__u32 auth_line; /* offset of the first Authorization line, or 0 */
	__u32 pos;	 /* where the scan goes on */
	__u32 end;	 /* just past the blank line ending the head; 0 = not seen */
	__u32 clen_line; /* the last Content-Length line, or 0 */
	__u32 te_line;	 /* the last Transfer-Encoding line, or 0 */
	/* the Content-Length line before the last, or 0: with more than one,
	 * which a server reads is its own choice (RFC 9112 6.3 makes it an
	 * error), so the length is unknown */
	__u32 clen_prev;
	/* the last X-Real-IP and X-Forwarded-For lines, or 0: a proxy's
	 * (sockmap mode) client address, tg_http_proxy_addr() */
	__u32 real_line;
	__u32 xff_line;
	/* the Transfer-Encoding line before the last, or 0: XDP follows a
	 * request's chunked framing only where one line says chunked (a
	 * server may read the first of several) */
	__u32 te_prev;
};

#define TG_BODY_UNKNOWN (~0ULL) /* chunked, or no usable Content-Length */

/* tg_http_req.method of a request with a method other than enum tg_method's
 * (any token: TRACE, PROPFIND, get): never admitted, so never in an event */
#define TG_M_OTHER 255

struct tg_http_req {
	__u32 method;	/* enum tg_method, TG_M_NONE = not a request */
	__u32 path_off; /* request target */
	__u32 path_len; /* up to '?', '#' or SP */
	__u32 line_end; /* the SP after the request target */
	__u32 key_off;	/* X-API-Key value, else the Bearer tg_ token */
	__u32 key_len;	/* 0 = no key; > TG_KEY_MAX - 8 = too long to be one */
	struct tg_hdr_scan scan; /* where the header lines of interest are */
	/* the body's length: Content-Length, 0 without one, or
	 * TG_BODY_UNKNOWN (Transfer-Encoding, a bad Content-Length, or a head
	 * that goes on beyond the copied bytes) */
	__u64 body_len;
	/* with method TG_M_NONE: the bytes begin like a request all the same,
	 * one whose request line cannot be read in them (see
	 * tg_http_parse_request) */
	__u32 unread;
	/* the path has a dot segment, a percent-encoded dot, slash or
	 * backslash, or a backslash (tg_path_unsafe) */
	__u32 path_unsafe;
};

static __always_inline __u64 tg_load64(const __u8 *buf, __u32 off)
{
#ifdef __bpf__
	return *(const __u64 *)(buf + (off & TG_MASK));
#else
	/* userspace (the refusal responder, tests): no unaligned loads */
	__u64 w;

	__builtin_memcpy(&w, buf + (off & TG_MASK), sizeof(w));
	return w;
#endif
}

static __always_inline __u8 tg_load8(const __u8 *buf, __u32 off)
{
	return buf[off & TG_MASK];
}

/* Non-zero iff some byte of w equals the byte repeated in pat (the lowest
 * such byte is exact; callers then look at the bytes one by one). */
static __always_inline __u64 tg_has_byte(__u64 w, __u64 pat)
{
	__u64 x = w ^ pat;

	return (x - TG_ONES) & ~x & TG_HIGHS;
}

/* tg_http_method() - the method at the start of w and its length with the
 * SP, or TG_M_NONE. */
static __always_inline __u32 tg_http_method(__u64 w, __u32 *ret_len)
{
	__u64 w4 = w & 0xffffffffULL, w5 = w & 0xffffffffffULL;

	if (w4 == TG_W4('G', 'E', 'T', ' ')) {
		*ret_len = 4;
		return TG_M_GET;
	}
	if (w5 == (TG_W4('P', 'O', 'S', 'T') | (__u64)' ' << 32)) {
		*ret_len = 5;
		return TG_M_POST;
	}
	if (w4 == TG_W4('P', 'U', 'T', ' ')) {
		*ret_len = 4;
		return TG_M_PUT;
	}
	if ((w & 0xffffffffffffULL) == (TG_W4('P', 'A', 'T', 'C') | (__u64)'H' << 32 | (__u64)' ' << 40)) {
		*ret_len = 6;
		return TG_M_PATCH;
	}
	if ((w & 0xffffffffffffffULL) ==
	    (TG_W4('D', 'E', 'L', 'E') | (__u64)'T' << 32 | (__u64)'E' << 40 | (__u64)' ' << 48)) {
		*ret_len = 7;
		return TG_M_DELETE;
	}
	if (w5 == (TG_W4('H', 'E', 'A', 'D') | (__u64)' ' << 32)) {
		*ret_len = 5;
		return TG_M_HEAD;
	}
	if (w == TG_W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ')) {
		*ret_len = 8;
		return TG_M_OPTIONS;
	}
	return TG_M_NONE;
}

/* tg_http_method_prefix() - whether the @n bytes at the start of w (only
 * those are data) begin like a method and its SP: a method's first bytes,
 * or a whole method and SP followed by anything. */
static __always_inline bool tg_http_method_prefix(__u64 w, __u32 n)
{
	static const __u64 tokens[] = {
		TG_W4('G', 'E', 'T', ' '),
		TG_W4('P', 'O', 'S', 'T') | (__u64)' ' << 32,
		TG_W4('P', 'U', 'T', ' '),
		TG_W4('P', 'A', 'T', 'C') | (__u64)'H' << 32 | (__u64)' ' << 40,
		TG_W4('D', 'E', 'L', 'E') | (__u64)'T' << 32 | (__u64)'E' << 40 | (__u64)' ' << 48,
		TG_W4('H', 'E', 'A', 'D') | (__u64)' ' << 32,
		TG_W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '),
	};
	static const __u8 lens[] = { 4, 5, 4, 6, 7, 5, 8 };
	bool found = false;

	for (int i = 0; i < 7; i++) {
		__u32 m = n < lens[i] ? n : lens[i];
		__u64 mask = m >= 8 ? ~0ULL : (1ULL << (8 * m)) - 1;

		found |= m && (w & mask) == (tokens[i] & mask);
	}
	return found;
}

/* tg_http_maybe_request() - cheap test on the first payload word, before
 * anything is copied: could this segment start a request? */
static __always_inline bool tg_http_maybe_request(__u8 first)
{
	switch (first) {
	case 'G':
	case 'P':
	case 'D':
	case 'H':
	case 'O':
	case '\r':
	case '\n':
		return true;
	}
	return false;
}

/* --- word scans ------------------------------------------------------------ */

/*
 * The scans are plain bounded loops, a word per iteration. What they find is
 * written to memory the verifier does not track (the caller's result struct,
 * seen through a global function's pointer argument) and read back: so the
 * verifier carries no exact offset out of a loop, the code after it is checked
 * once instead of once per possible offset, and the loops cost a compare per
 * word rather than the callback call per word of bpf_loop().
 */

/* Index of the lowest byte of m with its high bit set, where m has no other
 * bits set (what tg_has_byte and tg_eq_bytes return). m & -m is
 * 1 << (8k + 7); shifted down by 7 it is 1 << 8k, and multiplying the
 * constant by that moves its byte 7 - k, which holds k, to the top. No
 * table: the load from .rodata cost more than all the rest. */
static __always_inline __u32 tg_lowest_byte(__u64 m)
{
	return (__u32)((((m & -m) >> 7) * 0x0001020304050607ULL) >> 56);
}

/* High bit of each byte of w that is c, exactly (no borrow between
 * bytes, unlike tg_has_byte). */
static __always_inline __u64 tg_eq_bytes(__u64 w, __u8 c)
{
	__u64 x = w ^ (TG_ONES * c), low7 = ~TG_HIGHS;

	return ~(((x & low7) + low7) | x | low7);
}

/* tg_http_maybe_other() - cheap test on a segment's first 16 bytes (w0,
 * w1), before anything is copied, for one that begins with no method of
 * tg_http_maybe_request()'s: could it be a method of other letters
 * (tg_http_other_method)? Printable bytes, then SP, then '/' or '*'. */
static __always_inline bool tg_http_maybe_other(__u64 w0, __u64 w1)
{
	__u64 sp = tg_eq_bytes(w0, ' '), low, hi;
	__u32 k;
	__u8 next;

	if (!sp) /* a method of 8 characters or more: the parse decides */
		return tg_eq_bytes(w1, ' ') != 0;
	k = tg_lowest_byte(sp);
	if (!k)
		return false;
	low = (1ULL << (8 * k)) - 1; /* the bytes before the SP */
	hi = TG_HIGHS & low;
	/* each 0x21..0x7e: high bit clear, + 0x5f sets it, + 0x01 does not
	 * (no sum carries into the next byte) */
	if ((w0 & hi) || (((w0 & low) + (TG_ONES & low) * 0x5f) & hi) != hi ||
	    (((w0 & low) + (TG_ONES & low)) & hi))
		return false;
	next = k < 7 ? (__u8)(w0 >> (8 * (k + 1))) : (__u8)w1;
	return next == '/' || next == '*';
}

/* tg_scan_for() - offset of the first c1 or c2 in buf[from, len) into
 * *ret_found, or len. The lowest match of either pattern is exact, so the
 * word that has one gives the offset without a look at its bytes. With
 * @ret_odd, also whether the words read had a '.', '%' or '\\' (maybe
 * after the match, never missing one before it): for tg_path_unsafe(). */
static __always_inline void tg_scan_for_noting(const __u8 *buf, __u32 from, __u32 len, __u8 c1,
					       __u8 c2, __u32 *ret_found, __u32 *ret_odd)
{
	__u64 pat1 = TG_ONES * c1, pat2 = TG_ONES * c2, odd = 0;

	*ret_found = len;
	for (__u32 i = 0; i < TG_SCAN_MAX / 8 + 1; i++) {
		__u32 pos = from + i * 8, at;
		__u64 w, m;

		if (pos >= len)
			break;
		w = tg_load64(buf, pos);
		if (ret_odd)
			odd |= tg_has_byte(w, TG_ONES * '.') | tg_has_byte(w, TG_ONES * '%') |
			       tg_has_byte(w, TG_ONES * '\\');
		m = tg_has_byte(w, pat1) | tg_has_byte(w, pat2);
		if (!m)
			continue;
		at = pos + tg_lowest_byte(m);
		if (at < len)
			*ret_found = at;
		break;
	}
	if (ret_odd)
		*ret_odd = odd != 0;
}

static __always_inline void tg_scan_for(const __u8 *buf, __u32 from, __u32 len, __u8 c1, __u8 c2,
					__u32 *ret_found)
{
	tg_scan_for_noting(buf, from, len, c1, c2, ret_found, NULL);
}

static __always_inline bool tg_is_ows(__u8 c)
{
	return c == ' ' || c == '\t';
}

/* Length of the header value token at off: up to CR, LF, SP, HTAB or the end
 * of the copied bytes; TG_KEY_MAX if it is longer than any key. A word at a
 * time: the lowest match of the four patterns is the first terminator. */
static __always_inline __u32 tg_token_len(const __u8 *buf, __u32 off, __u32 len)
{
	__u32 rest = off < len ? len - off : 0;

	for (__u32 i = 0; i < TG_KEY_MAX / 8; i++) {
		__u64 w, m;
		__u32 n;

		if (8 * i >= rest)
			return rest;
		w = tg_load64(buf, off + 8 * i);
		m = tg_has_byte(w, TG_ONES * '\r') | tg_has_byte(w, TG_ONES * '\n') |
		    tg_has_byte(w, TG_ONES * ' ') | tg_has_byte(w, TG_ONES * '\t');
		if (m) {
			n = 8 * i + tg_lowest_byte(m);
			return n < rest ? n : rest;
		}
	}
	return rest < TG_KEY_MAX ? rest : TG_KEY_MAX;
}

static __always_inline __u32 tg_skip_ows(const __u8 *buf, __u32 off, __u32 len)
{
	for (int n = 0; n < 8; n++) {
		if (off >= len || !tg_is_ows(tg_load8(buf, off)))
			break;
		off++;
	}
	return off;
}

#define TG_CLEN_DIGITS 15 /* longest Content-Length value accepted */

/* The decimal Content-Length value at off, or TG_BODY_UNKNOWN (not a
 * number, or a list of them). */
static __always_inline __u64 tg_parse_clen(const __u8 *buf, __u32 off, __u32 len)
{
	__u64 v = 0;
	__u32 n;
	__u8 c;

	off = tg_skip_ows(buf, off, len);
	for (n = 0; n < TG_CLEN_DIGITS; n++) {
		c = tg_load8(buf, off + n);
		if (off + n >= len || c < '0' || c > '9')
			break;
		v = v * 10 + (c - '0');
	}
	if (n == 0 || n == TG_CLEN_DIGITS)
		return TG_BODY_UNKNOWN;
	/* the digits end the value ("12x", "1,2": unknown) */
	c = tg_load8(buf, off + n);
	if (off + n < len && c != '\r' && c != '\n' && !tg_is_ows(c))
		return TG_BODY_UNKNOWN;
	return v;
}

/* Mark the header line at ls if it gives a body's length: w is its first
 * word, lowercased; the second is read only where the first matches. */
static __always_inline void tg_length_line(const __u8 *buf, __u64 w, __u32 ls, __u32 *clen_line,
					   __u32 *clen_prev, __u32 *te_line, __u32 *te_prev)
{
	__u64 w2;

	if (w == TG_W8('c', 'o', 'n', 't', 'e', 'n', 't', '-')) {
		/* "content-length:" is 15 bytes: the 8th of the second word is ':' */
		w2 = tg_load64(buf, ls + 8) | TG_LOWER8;
		if ((w2 & 0x00ffffffffffffffULL) ==
		    (TG_W4('l', 'e', 'n', 'g') | (__u64)'t' << 32 | (__u64)'h' << 40 |
		     (__u64)(':' | 0x20) << 48)) {
			*clen_prev = *clen_line;
			*clen_line = ls;
		}
	} else if (w == TG_W8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r')) {
		w2 = tg_load64(buf, ls + 8) | TG_LOWER8;
		if (w2 == TG_W8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n')) {
			if (te_prev)
				*te_prev = *te_line;
			*te_line = ls;
		}
	}
}

/* Whether the line at ls is the blank line that ends a head: then *end is
 * set just past it. */
static __always_inline bool tg_blank_line(const __u8 *buf, __u32 len, __u32 ls, __u8 c0,
					  __u32 *end)
{
	if (c0 == '\n' || (c0 == '\r' && ls + 1 < len && tg_load8(buf, ls + 1) == '\n')) {
		*end = ls + (c0 == '\r' ? 2 : 1);
		return true;
	}
	return false;
}

/* Mark the header line at ls if it names a proxy's client: w is its first
 * word, lowercased (starting with 'x'); the second is read only here. The
 * last line of each counts (X-Forwarded-For: the one the local proxy
 * appended). */
static __always_inline void tg_forwarded_line(const __u8 *buf, __u64 w, __u32 ls, __u32 *real_line,
					      __u32 *xff_line)
{
	__u64 w2;

	if (w == TG_W8('x', '-', 'r', 'e', 'a', 'l', '-', 'i')) {
		w2 = tg_load64(buf, ls + 8) | TG_LOWER8;
		if ((w2 & 0xffff) == TG_W2('p', ':' | 0x20))
			*real_line = ls;
	} else if (w == TG_W8('x', '-', 'f', 'o', 'r', 'w', 'a', 'r')) {
		w2 = tg_load64(buf, ls + 8) | TG_LOWER8;
		if (w2 == TG_W8('d', 'e', 'd', '-', 'f', 'o', 'r', ':' | 0x20))
			*xff_line = ls;
	}
}

/* Classify the header line starting at ls: remember where the lines of
 * interest are (the key's, and those that give the body's length); their
 * values are read after the scan. Returns 1 when the scan is done (the
 * blank line that ends the head, or the end of the copied bytes). */
static __always_inline int tg_header_line(const __u8 *buf, __u32 len, struct tg_hdr_scan *h,
					  __u32 ls)
{
	__u8 c0 = tg_load8(buf, ls);
	__u64 w;

	if (ls >= len || tg_blank_line(buf, len, ls, c0, &h->end) || c0 == '\r')
		return 1;
	c0 |= 0x20;
	if (c0 != 'x' && c0 != 'a' && c0 != 'c' && c0 != 't')
		return 0;
	w = tg_load64(buf, ls) | TG_LOWER8;
	if (w == TG_W8('x', '-', 'a', 'p', 'i', '-', 'k', 'e')) {
		/* the first X-API-Key line counts; it wins over Bearer */
		if ((tg_load8(buf, ls + 8) | 0x20) == 'y' && tg_load8(buf, ls + 9) == ':' &&
		    ls + 10 <= len && !h->key_line)
			h->key_line = ls;
	} else if (w == TG_W8('a', 'u', 't', 'h', 'o', 'r', 'i', 'z')) {
		if (!h->auth_line)
			h->auth_line = ls;
	} else if (c0 == 'x') {
		tg_forwarded_line(buf, w, ls, &h->real_line, &h->xff_line);
	} else {
		tg_length_line(buf, w, ls, &h->clen_line, &h->clen_prev, &h->te_line, &h->te_prev);
	}
	return 0;
}

/* Iterations of the header scan: one per word without a line end plus one
 * per line end; lines of fewer than 4 bytes ("a:b" + LF) cannot fill more. */
#define TG_HDR_STEPS (TG_SCAN_MAX / 8 + TG_SCAN_MAX / 4)

/* The first line end in buf[pos, pos + TG_LF_STRIDE), or pos +
 * TG_LF_STRIDE if there is none: the words one after another, stopping at
 * the first with a match (whose lowest match is exact). Bytes at or beyond
 * the copied length may be read; the caller ignores a match there. */
#define TG_LF_STRIDE 32
#define TG_LF_WORD(buf, pos, k)                                                                    \
	do {                                                                                       \
		__u64 m_ = tg_has_byte(tg_load64((buf), (pos) + (k)), TG_ONES * '\n');             \
                                                                                                   \
		if (m_)                                                                            \
			return (pos) + (k) + tg_lowest_byte(m_);                             \
	} while (0)
static __always_inline __u32 tg_next_lf(const __u8 *buf, __u32 pos)
{
	TG_LF_WORD(buf, pos, 0);
	TG_LF_WORD(buf, pos, 8);
	TG_LF_WORD(buf, pos, 16);
	TG_LF_WORD(buf, pos, 24);
	return pos + TG_LF_STRIDE;
}

/* The loop of both header scans: LINE_FN(buf, len, h, ls) sees each line
 * start and returns 1 to end the scan; h->pos holds the position. Each
 * iteration handles the first line end of the next TG_LF_STRIDE bytes, or
 * goes past them: four words per trip through memory for the position
 * (see below) rather than one; the bench's 401-byte head takes 15 steps
 * instead of 48. */
#define TG_SCAN_LINES(buf, start, len, h, LINE_FN)                                                \
	do {                                                                                       \
		WRITE_ONCE((h)->pos, (start));                                                     \
		for (__u32 i_ = 0; i_ < TG_HDR_STEPS; i_++) {                                      \
			__u32 pos_ = READ_ONCE((h)->pos), nl_;                                     \
                                                                                                   \
			if (pos_ >= (len))                                                         \
				break;                                                             \
			/* through memory: the verifier then goes on from one     \
			 * state, not one per word the line end was found in */   \
			WRITE_ONCE((h)->pos, tg_next_lf((buf), pos_));                             \
			nl_ = READ_ONCE((h)->pos);                                                 \
			if (nl_ == pos_ + TG_LF_STRIDE)                                            \
				continue; /* no line end: the position is past them */    \
			if (nl_ >= (len) || LINE_FN((buf), (len), (h), nl_ + 1))                   \
				break;                                                             \
			WRITE_ONCE((h)->pos, nl_ + 1);                                             \
		}                                                                                  \
	} while (0)

/*
 * Find the X-API-Key and Authorization lines of the headers at start. Each
 * iteration looks at one word and handles its first line end, found without
 * a branch (the lowest match of tg_has_byte is exact), then resumes just
 * after it. The position lives in memory (h->pos) and is read back each
 * time, so the verifier holds no exact position across iterations and checks
 * the body once per iteration rather than once per position.
 */
static __always_inline void tg_scan_headers(const __u8 *buf, __u32 start, __u32 len,
					    struct tg_hdr_scan *h)
{
	TG_SCAN_LINES(buf, start, len, h, tg_header_line);
}

/* The tg_ token of an "Authorization: Bearer tg_..." line at ls, or 0. */
static __always_inline __u32 tg_bearer_off(const __u8 *buf, __u32 ls, __u32 len)
{
	__u64 w = (tg_load64(buf, ls + 8) | TG_LOWER8) & 0xffffffffffffULL;
	__u32 v;

	/* "authoriz" matched; then "ation:", OWS, "bearer", SP+, "tg_" */
	if (w != (TG_W4('a', 't', 'i', 'o') | (__u64)'n' << 32 | (__u64)':' << 40))
		return 0;
	v = tg_skip_ows(buf, ls + 14, len);
	w = (tg_load64(buf, v) | TG_LOWER8) & 0xffffffffffffULL;
	if (w != (TG_W4('b', 'e', 'a', 'r') | (__u64)'e' << 32 | (__u64)'r' << 40) ||
	    !tg_is_ows(tg_load8(buf, v + 6)))
		return 0;
	v = tg_skip_ows(buf, v + 6, len);
	if ((tg_load64(buf, v) & 0xffffffULL) != (TG_W2('t', 'g') | (__u64)'_' << 16))
		return 0;
	return v;
}

/* The copied bytes; a type of its own so a global function can take it. */
struct tg_http_buf {
	__u8 bytes[TG_SCAN_MAX + TG_BUF_SLACK];
};

/*
 * tg_path_unsafe() - whether the path buf[start, end) has a dot segment
 * ("/./", "/../", or "/." or "/.." at its end), a percent-encoded dot,
 * slash or backslash (%2e, %2f, %5c, either case) or a backslash. A server
 * may resolve them (Tomcat serves /health/../v1/orders as /v1/orders), so
 * the route its literal prefix matches, public or another API's, is not
 * the one served. A word per iteration, each byte compared with the two
 * after it; end at most TG_SCAN_MAX. A global function, so that the
 * verifier checks what follows the call once, not once per way out of the
 * loop.
 */
__noinline int tg_path_unsafe(const struct tg_http_buf *b, __u32 start, __u32 end)
{
	const __u8 *buf;
	__u32 tail;

	if (!b || end > TG_SCAN_MAX || start >= end)
		return 0;
	buf = b->bytes;

	for (__u32 i = 0; i < TG_SCAN_MAX / 8; i++) {
		__u32 off = start + 8 * i;
		__u64 w, w1, w2, next, c2, found;

		if (off + 2 >= end)
			break;
		w = tg_load64(buf, off);
		next = tg_load64(buf, off + 8);
		w1 = w >> 8 | next << 56;  /* the byte after each */
		w2 = w >> 16 | next << 48; /* and the one after that */
		c2 = w2 | TG_LOWER8;	   /* lower case letters */
		found = (tg_eq_bytes(w, '/') & tg_eq_bytes(w1, '.') &
			 (tg_eq_bytes(w2, '.') | tg_eq_bytes(w2, '/'))) |
			(tg_eq_bytes(w, '%') &
			 ((tg_eq_bytes(w1, '2') & (tg_eq_bytes(c2, 'e') | tg_eq_bytes(c2, 'f'))) |
			  (tg_eq_bytes(w1, '5') & tg_eq_bytes(c2, 'c')))) |
			tg_eq_bytes(w, '\\');
		/* the first match counts where its third byte is in the path;
		 * the others are further on (the matches are exact), so past
		 * it only the last two bytes are left to look at */
		if (found) {
			if (off + tg_lowest_byte(found) + 2 < end)
				return 1;
			break;
		}
	}
	/* the last two bytes, which no byte above covered as a first one */
	tail = end >= start + 2 ? end - 2 : start;
	for (__u32 k = 0; k < 2; k++) {
		if (tail + k < end && tg_load8(buf, tail + k) == '\\')
			return 1;
	}
	/* a dot segment at the end: "/." or "/.." */
	if (end >= start + 2 && tg_load8(buf, end - 1) == '.' &&
	    (tg_load8(buf, end - 2) == '/' ||
	     (end >= start + 3 && tg_load8(buf, end - 2) == '.' && tg_load8(buf, end - 3) == '/')))
		return 1;
	return 0;
}

/* A tchar of RFC 9110 5.6.2: what a method is made of. */
static __always_inline bool tg_is_tchar(__u8 c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	}
	return false;
}

#define TG_OTHER_METHOD_MAX 15

/*
 * tg_http_other_method() - the length with its SP of a method at b[p, len)
 * that is none of enum tg_method's, up to TG_OTHER_METHOD_MAX characters,
 * followed by SP and an origin-form path or '*'; 0 if there is none; -1
 * if the bytes end before that can be told (tchars, maybe a SP, then the
 * end: a request sent in pieces). A server may route any method to a
 * handler that never looks at it (Go's ServeMux, Express's app.use), so
 * such a request is no body but a request (TG_M_OTHER). A global function:
 * checked once, called on the rare bytes that begin with no method of ours.
 */
__noinline int tg_http_other_method(const struct tg_http_buf *b, __u32 p, __u32 len)
{
	const __u8 *buf;

	if (!b || len > TG_SCAN_MAX || p >= len)
		return 0;
	buf = b->bytes;
	for (__u32 i = 0; i <= TG_OTHER_METHOD_MAX; i++) {
		__u8 c;

		if (p + i >= len)
			return -1;
		c = tg_load8(buf, p + i);
		if (c == ' ') {
			if (!i)
				return 0;
			if (p + i + 1 >= len)
				return -1;
			c = tg_load8(buf, p + i + 1);
			return c == '/' || c == '*' ? (int)i + 1 : 0;
		}
		if (!tg_is_tchar(c))
			return 0;
	}
	return 0;
}

/*
 * tg_http_parse_target() - the rest of a request line whose target starts at
 * start, then the headers: path, key, where the head ends and how long its
 * body is (so that XDP knows which later segments are body, not requests
 * to charge). Returns 0, or -1 if this is not a
 * request line after all. A global function: the verifier checks it once
 * with start unknown, instead of once per method length and CRLF count.
 */
__noinline int tg_http_parse_target(const struct tg_http_buf *b, __u32 start, __u32 len,
				    struct tg_http_req *ret)
{
	struct tg_hdr_scan *h;
	const __u8 *buf;
	__u32 sp;
	__u8 c;

	if (!b || !ret || len > TG_SCAN_MAX || start >= len)
		return -1;
	buf = b->bytes;
	h = &ret->scan;
	h->key_line = 0;
	h->auth_line = 0;
	h->end = 0;
	h->clen_line = 0;
	h->clen_prev = 0;
	h->te_line = 0;
	h->te_prev = 0;
	h->real_line = 0;
	h->xff_line = 0;
	ret->key_len = 0;
	ret->body_len = TG_BODY_UNKNOWN;
	c = tg_load8(buf, start);
	if (c != '/' && c != '*')
		return -1;
	tg_scan_for(buf, start, len, ' ', '\n', &ret->line_end);
	sp = ret->line_end; /* read back: see "word scans" above */
	if (sp >= len || tg_load8(buf, sp) != ' ' ||
	    (tg_load64(buf, sp + 1) & 0xffffffffffffffULL) !=
		    (TG_W4('H', 'T', 'T', 'P') | (__u64)'/' << 32 | (__u64)'1' << 40 |
		     (__u64)'.' << 48))
		return -1;
	ret->path_off = start;
	tg_scan_for_noting(buf, start, sp, '?', '#', &ret->path_len, &ret->path_unsafe);
	ret->path_len -= start;
	if (ret->path_unsafe) /* a '.', '%' or '\\' in it or just after */
		ret->path_unsafe = tg_path_unsafe(b, start, start + ret->path_len) > 0;

	tg_scan_headers(buf, sp + 1, len, h);
	if (!h->end || h->te_line || h->clen_prev)
		ret->body_len = TG_BODY_UNKNOWN;
	else if (h->clen_line)
		ret->body_len = tg_parse_clen(buf, h->clen_line + 15, len);
	else
		ret->body_len = 0;
	if (h->key_line) {
		ret->key_off = tg_skip_ows(buf, h->key_line + 10, len);
	} else if (h->auth_line) {
		ret->key_off = tg_bearer_off(buf, h->auth_line, len);
		if (!ret->key_off)
			return 0;
	} else {
		return 0;
	}
	ret->key_len = tg_token_len(buf, ret->key_off, len);
	return 0;
}

/*
 * tg_http_parse_request_as() - parse the request that starts b[0, len).
 * Fills ret with the method (TG_M_NONE if this is not a request line), the
 * path, the key (X-API-Key first, else Bearer tg_...), the head's end and
 * the body's length. Only b[0, len) is read; len is at most TG_SCAN_MAX.
 *
 * Bytes that begin like a request but whose request line cannot be read in
 * them get TG_M_NONE with ret->unread set: a method and SP whose line is
 * not `path SP HTTP/1.x` within the bytes (cut short, longer than them, an
 * HTTP/0.9 `GET /path`, two spaces, an absolute URI), bytes too few for a
 * request line that begin like a method, ours or another (`GET /v1/x` or
 * `FOO /v1/x` sent in pieces),
 * or more leading CRLFs than are skipped. A server reads each of them as a
 * request (or its start), so they are no body: XDP refuses them, their key
 * unread, rather than let them through unchecked.
 */
static __always_inline void tg_http_parse_request_as(const struct tg_http_buf *b, __u32 len,
						  struct tg_http_req *ret, bool in_pieces)
{
	const __u8 *buf = b->bytes;
	__u32 p = 0, mlen = 0;
	__u64 w;
	__u8 c;

	ret->method = TG_M_NONE;
	ret->key_len = 0;
	ret->unread = 0;
	ret->path_unsafe = 0;
	ret->body_len = TG_BODY_UNKNOWN;
	/* what a refusal of bytes that are no request line reads */
	ret->scan.end = 0;
	ret->scan.real_line = 0;
	ret->scan.xff_line = 0;
	for (int n = 0; n < TG_LEADING_CRLF_MAX; n++) {
		c = tg_load8(buf, p);
		if (p >= len || (c != '\r' && c != '\n'))
			break;
		p++;
	}
	if (p >= len)
		return; /* empty lines only */
	c = tg_load8(buf, p);
	if (c == '\r' || c == '\n') {
		ret->unread = 1;
		return;
	}
	w = tg_load64(buf, p);
	if (p + 16 > len) {
		/* too few bytes for a request line: the start of one sent in
		 * pieces, if they begin like a method (@in_pieces: of any
		 * letters; a proxy writes whole heads, held until complete) */
		ret->unread = tg_http_method_prefix(w, len - p) ||
			      (in_pieces && tg_http_other_method(b, p, len));
		return;
	}
	ret->method = tg_http_method(w, &mlen);
	if (ret->method == TG_M_NONE) {
		int other = tg_http_other_method(b, p, len);

		if (other <= 0)
			return;
		ret->method = TG_M_OTHER;
		mlen = (__u32)other;
	}
	if (tg_http_parse_target(b, p + mlen, len, ret)) {
		ret->method = TG_M_NONE;
		ret->unread = 1;
	}
}

/* A request as XDP reads it: the start of a segment, maybe sent in pieces. */
static __always_inline void tg_http_parse_request(const struct tg_http_buf *b, __u32 len,
						  struct tg_http_req *ret)
{
	tg_http_parse_request_as(b, len, ret, true);
}

/* A request a local proxy writes (sockmap mode): whole heads. */
static __always_inline void tg_http_parse_proxied(const struct tg_http_buf *b, __u32 len,
						  struct tg_http_req *ret)
{
	tg_http_parse_request_as(b, len, ret, false);
}

/* --- requests a local proxy forwards (sockmap mode) ------------------------- */

/*
 * A proxy in front of the API server (nginx, HAProxy) writes whole request
 * heads upstream and says who the client was. tg_skmsg needs one more thing
 * from such a head than XDP does, the client's address: X-Real-IP, else the
 * last element of the last X-Forwarded-For line (the one the local proxy
 * appended; earlier elements are whatever the client claimed). The request
 * parse finds those lines with the rest (struct tg_hdr_scan); where the head
 * ends and how long its body is (so the verdict covers exactly one request,
 * DESIGN §3: pipelined requests each get theirs) it finds for XDP too.
 * Response heads are read with the same scan of their lines
 * (tg_http_parse_head).
 */

#define TG_ADDR_TEXT_MAX 64	/* longest address text kept (IPv6 with a dotted tail and
				 * brackets is 47), a power of two */

struct tg_proxy_scan {
	__u32 end;	 /* offset just past the blank line ending the head; 0 = not seen */
	__u32 clen_line; /* the last Content-Length line, or 0 */
	__u32 clen_prev; /* as in tg_hdr_scan */
	__u32 te_line;	 /* the last Transfer-Encoding line, or 0 */
	/* the last X-Real-IP and X-Forwarded-For lines, or 0: the request
	 * parse's, for tg_http_proxy_addr() (tg_http_parse_head leaves them) */
	__u32 real_line;
	__u32 xff_line;
	__u32 last;	 /* the last line start seen, or 0 */
	__u32 pos;	 /* where the scan goes on */
};

/*
 * The address parser keeps its whole state in struct tg_addr_state, in the
 * caller's struct seen through a global function's pointer (volatile loads
 * and stores): the verifier then knows nothing exact about it at the top of
 * an iteration, so each loop is checked as one state instead of one per
 * combination of digits, groups and positions seen so far.
 */
struct tg_addr_state {
	__u32 i;
	__u32 val;
	__u32 digits; /* of the current number or group */
	__u32 ng;     /* IPv4 octets or IPv6 groups done */
	__u32 dcolon; /* IPv6: the group where "::" stands, or 8 = none */
	__u32 colon;  /* IPv6: the previous character was ':' */
	__u32 n;      /* the text's length */
	__u16 g[8];
};

struct tg_proxy_req {
	struct tg_proxy_scan scan;
	__u32 addr_ok; /* addr holds the client's address */
	__u32 at;      /* a scan's result, read back (see "word scans") */
	__u64 body_len; /* Content-Length, 0 without one, or TG_BODY_UNKNOWN */
	__u8 addr[16];	/* IPv6, or IPv4 as v4-mapped IPv6, network order */
	/* the address text, copied here to be parsed, and the parser's state */
	__u8 text[TG_ADDR_TEXT_MAX];
	struct tg_addr_state addr_state;
};

/* Remember the header line at ls if it gives the body's length; 1 at the
 * blank line that ends the head (scan->end set) or at len. */
static __always_inline int tg_proxy_line(const __u8 *buf, __u32 len, struct tg_proxy_scan *h,
					 __u32 ls)
{
	__u8 c0 = tg_load8(buf, ls);
	__u64 w;

	h->last = ls;
	if (ls >= len || tg_blank_line(buf, len, ls, c0, &h->end))
		return 1;
	c0 |= 0x20;
	if (c0 != 'c' && c0 != 't')
		return 0;
	w = tg_load64(buf, ls) | TG_LOWER8;
	tg_length_line(buf, w, ls, &h->clen_line, &h->clen_prev, &h->te_line, NULL);
	return 0;
}

/* The header lines of a response head (or of a chunked body's trailer
 * section) in b[start, len), as tg_scan_headers() walks them.
 * A global function: its loop, the verifier's heaviest, is checked once for
 * every caller (tg_http_parse_head, tg_chunk_trailers). Returns 0, or -1
 * on bad arguments. */
__noinline int tg_proxy_scan_headers(const struct tg_http_buf *b, __u32 start, __u32 len,
				     struct tg_proxy_scan *h)
{
	const __u8 *buf;

	if (!b || !h || len > TG_SCAN_MAX)
		return -1;
	buf = b->bytes;
	TG_SCAN_LINES(buf, start, len, h, tg_proxy_line);
	return 0;
}

#define TG_LD(st, f) READ_ONCE((st)->f)
#define TG_ST(st, f, v) WRITE_ONCE((st)->f, (v))

/* Hex digit values plus one (0 = not a hex digit): a table lookup rather than
 * branches keeps the address parser's paths few for the verifier. */
static const __u8 tg_hex1[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,	['6'] = 7,  ['7'] = 8,
	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Dotted IPv4 at t[from, n) into out[0..4); ':' (a port), ']' or the end
 * stop it. */
static __always_inline int tg_parse_ipv4(const __u8 *t, __u32 from, __u8 *out,
					 struct tg_addr_state *st)
{
	TG_ST(st, val, 0);
	TG_ST(st, digits, 0);
	TG_ST(st, ng, 0);
	for (__u32 i = 0; i < 16; i++) {
		__u32 at = from + i, val = TG_LD(st, val), digits = TG_LD(st, digits);
		__u32 ng = TG_LD(st, ng);
		__u8 c;

		if (at >= TG_LD(st, n))
			break;
		c = t[at & (TG_ADDR_TEXT_MAX - 1)];
		if (c >= '0' && c <= '9') {
			val = val * 10 + (c - '0');
			if (digits >= 3 || val > 255)
				return -1;
			TG_ST(st, val, val);
			TG_ST(st, digits, digits + 1);
		} else if (c == '.') {
			if (!digits || ng >= 3)
				return -1;
			out[ng & 3] = val;
			TG_ST(st, ng, ng + 1);
			TG_ST(st, val, 0);
			TG_ST(st, digits, 0);
		} else if (c == ':' || c == ']') {
			break;
		} else {
			return -1;
		}
	}
	if (TG_LD(st, ng) != 3 || !TG_LD(st, digits))
		return -1;
	out[3] = TG_LD(st, val);
	return 0;
}

/* Push the IPv6 group parsed so far. */
static __always_inline int tg_ipv6_push(struct tg_addr_state *st)
{
	__u32 ng = TG_LD(st, ng);

	if (ng >= 8)
		return -1;
	st->g[ng & 7] = TG_LD(st, val);
	TG_ST(st, ng, ng + 1);
	TG_ST(st, val, 0);
	TG_ST(st, digits, 0);
	return 0;
}

/*
 * tg_parse_addr() - the IPv4 or IPv6 address text t[0, n) ("[...]" allowed,
 * an IPv4 ":port" too) into out[16], IPv4 as v4-mapped. 0, or -1 if it is
 * not an address.
 */
static __always_inline int tg_parse_addr(const __u8 *t, __u32 n, __u8 *out,
					 struct tg_addr_state *st)
{
	__u32 from, ng, dcolon, tail;

	if (n == 0 || n >= TG_ADDR_TEXT_MAX)
		return -1;
	/* the length, too, is read back from memory in the loops: where a
	 * loop stops then teaches the verifier nothing that splits what
	 * follows into one state per position */
	TG_ST(st, n, n);
	for (int i = 0; i < 16; i++)
		out[i] = 0;
	if (tg_parse_ipv4(t, 0, out + 12, st) == 0) {
		out[10] = 0xff;
		out[11] = 0xff;
		return 0;
	}
	from = t[0] == '[';
	TG_ST(st, val, 0);
	TG_ST(st, digits, 0);
	TG_ST(st, ng, 0);
	TG_ST(st, dcolon, 8);
	TG_ST(st, colon, 0);
	TG_ST(st, i, 0); /* where a dotted IPv4 tail starts, 0 = none */
	for (__u32 i = from; i < TG_ADDR_TEXT_MAX; i++) {
		__u8 c = i < TG_LD(st, n) ? t[i & (TG_ADDR_TEXT_MAX - 1)] : 0;
		__u32 digits = TG_LD(st, digits), h = tg_hex1[c];

		if (h) {
			if (digits >= 4)
				return -1;
			TG_ST(st, val, TG_LD(st, val) * 16 + h - 1);
			TG_ST(st, digits, digits + 1);
			TG_ST(st, colon, 0);
			continue;
		}
		if (c == ':') {
			if (TG_LD(st, colon)) {
				/* the second ':' of "::" */
				if (TG_LD(st, dcolon) != 8)
					return -1;
				TG_ST(st, dcolon, TG_LD(st, ng));
			} else if (digits && tg_ipv6_push(st)) {
				return -1;
			}
			TG_ST(st, colon, 1);
			continue;
		}
		if (c == '.') {
			/* a dotted IPv4 tail, parsed after the loop */
			if (i < digits || i == digits)
				return -1;
			TG_ST(st, i, i - digits);
			break;
		}
		/* the end of the text, or the closing bracket */
		if (from ? c != ']' : c != 0)
			return -1;
		if (digits && tg_ipv6_push(st))
			return -1;
		break;
	}
	tail = TG_LD(st, i);
	ng = TG_LD(st, ng);
	if (tail) {
		__u8 v4[4];

		if (ng > 6 || tg_parse_ipv4(t, tail, v4, st))
			return -1;
		st->g[ng & 7] = (__u16)v4[0] << 8 | v4[1];
		st->g[(ng + 1) & 7] = (__u16)v4[2] << 8 | v4[3];
		ng += 2;
	}
	dcolon = TG_LD(st, dcolon);
	if (dcolon == 8 ? ng != 8 : (ng > 7 || dcolon > ng))
		return -1;
	TG_ST(st, val, dcolon == 8 ? 0 : 8 - ng); /* the zero groups of "::" */
	for (__u32 k = 0; k < 8; k++) {
		/* read back each time: no range learnt here reaches the next */
		__u32 dc = TG_LD(st, dcolon), zeros = TG_LD(st, val);
		__u16 v;

		if (k < dc)
			v = st->g[k & 7];
		else if (k < dc + zeros)
			v = 0;
		else
			v = st->g[(k - zeros) & 7];
		out[(2 * k) & 15] = v >> 8;
		out[(2 * k + 1) & 15] = v;
	}
	return 0;
}

/* The client's address text of a proxied head into ret->text: the X-Real-IP
 * value, else the last element of the last X-Forwarded-For line, read
 * backwards from the line's end (which must be within the copied bytes).
 * Its length, or 0. */
static __always_inline __u32 tg_proxy_addr_text(const __u8 *buf, __u32 len, struct tg_proxy_req *ret)
{
	const struct tg_proxy_scan *h = &ret->scan;
	__u32 vstart, start, end, n;

	if (h->real_line)
		vstart = h->real_line + 10;
	else if (h->xff_line)
		vstart = h->xff_line + 16;
	else
		return 0;
	tg_scan_for(buf, vstart, len, '\n', '\n', &ret->at);
	if (READ_ONCE(ret->at) >= len)
		return 0;
	/* positions live in memory, as in the scans (see "word scans") */
	for (int i = 0; i < 8; i++) {
		__u32 e = READ_ONCE(ret->at);
		__u8 c = tg_load8(buf, e - 1);

		if (e <= vstart || (c != '\r' && !tg_is_ows(c)))
			break;
		WRITE_ONCE(ret->at, e - 1);
	}
	TG_ST(&ret->addr_state, i, READ_ONCE(ret->at));
	for (int i = 0; i < TG_ADDR_TEXT_MAX; i++) {
		__u32 b = TG_LD(&ret->addr_state, i);
		__u8 c = tg_load8(buf, b - 1);

		if (b <= vstart || c == ',' || tg_is_ows(c))
			break;
		TG_ST(&ret->addr_state, i, b - 1);
	}
	end = READ_ONCE(ret->at);
	start = TG_LD(&ret->addr_state, i);
	n = end - start;
	if (n == 0 || n >= TG_ADDR_TEXT_MAX)
		return 0;
	for (__u32 i = 0; i < TG_ADDR_TEXT_MAX; i++) {
		if (i >= n)
			break;
		ret->text[i & (TG_ADDR_TEXT_MAX - 1)] = tg_load8(buf, start + i);
	}
	return n;
}

/*
 * tg_http_find_lf() - the offset of the first line feed in b[from, len), or
 * len if there is none; *at is scratch. A global function: its word scan is
 * checked once, not once for each way of reaching it (a caller's state
 * before it, each exact from and len).
 */
__noinline __u32 tg_http_find_lf(const struct tg_http_buf *b, __u32 from, __u32 len, __u32 *at)
{
	if (!b || !at || len > TG_SCAN_MAX)
		return len;
	tg_scan_for(b->bytes, from, len, '\n', '\n', at);
	return READ_ONCE(*at);
}

/*
 * tg_http_parse_head() - the header lines of a head in b[start, len) (in
 * sk_msg, a response's, a window at a time): where it ends (ret->scan.end,
 * else ret->scan.last: the last line begun), its body's length
 * (ret->body_len, TG_BODY_UNKNOWN for two Content-Length lines or a
 * Transfer-Encoding line; ret->scan.te_line says where that is). A global
 * function, checked once by the verifier. Returns 0, or -1 on bad arguments.
 */
__noinline int tg_http_parse_head(const struct tg_http_buf *b, __u32 start, __u32 len,
				  struct tg_proxy_req *ret)
{
	struct tg_proxy_scan *h;
	const __u8 *buf;

	if (!b || !ret || len > TG_SCAN_MAX)
		return -1;
	buf = b->bytes;
	h = &ret->scan;
	h->end = 0;
	h->clen_line = 0;
	h->clen_prev = 0;
	h->te_line = 0;
	h->last = 0;
	ret->body_len = 0;
	if (start >= len)
		return 0;
	tg_proxy_scan_headers(b, start, len, h);
	if (h->te_line || h->clen_prev)
		ret->body_len = TG_BODY_UNKNOWN;
	else if (h->clen_line)
		ret->body_len = tg_parse_clen(buf, h->clen_line + 15, len);
	return 0;
}

/*
 * tg_http_proxy_addr() - the client's address in a proxied request head
 * of b[0, len) whose lines tg_http_parse_request() found (req->scan):
 * X-Real-IP, else the last element of the last X-Forwarded-For line, into
 * ret->addr (ret->addr_ok). The head is read once: its parse found these
 * lines with the key and the body's length. A global function, checked
 * once. Returns 0, or -1 on bad arguments.
 */
__noinline int tg_http_proxy_addr(const struct tg_http_buf *b, __u32 len,
				  const struct tg_http_req *req, struct tg_proxy_req *ret)
{
	__u32 n;

	if (!b || !req || !ret || len > TG_SCAN_MAX)
		return -1;
	ret->addr_ok = 0;
	ret->scan.real_line = req->scan.real_line;
	ret->scan.xff_line = req->scan.xff_line;
	n = tg_proxy_addr_text(b->bytes, len, ret);
	if (n && tg_parse_addr(ret->text, n, ret->addr, &ret->addr_state) == 0)
		ret->addr_ok = 1;
	return 0;
}

/*
 * tg_http_te_chunked() - whether the Transfer-Encoding line at ls of
 * b[0, len) ends with the coding "chunked" ("chunked" alone, or "gzip,
 * chunked"): the body is then framed in chunks (RFC 9112 6.1: chunked is the
 * final coding, or the body ends at the close). Any other final coding: the
 * body's end is not known from its framing. *at is scratch for the scan.
 */
static __always_inline bool tg_http_te_chunked(const struct tg_http_buf *b, __u32 ls, __u32 len,
					       __u32 *at)
{
	const __u8 *buf = b->bytes;
	__u32 v = tg_skip_ows(buf, ls + 18, len), end; /* "transfer-encoding:" */
	__u8 sep;

	tg_scan_for(buf, v, len, '\r', '\n', at);
	end = READ_ONCE(*at); /* read back: see "word scans" above */
	if (end >= len)
		return false; /* the line goes on beyond the copied bytes */
	for (int i = 0; i < 8; i++) {
		if (end <= v || !tg_is_ows(tg_load8(buf, end - 1)))
			break;
		end--;
	}
	if (end < v + 7 ||
	    ((tg_load64(buf, end - 7) | TG_LOWER8) & 0x00ffffffffffffffULL) !=
		    TG_W8('c', 'h', 'u', 'n', 'k', 'e', 'd', 0))
		return false;
	/* the whole value, or a coding of its own after a comma (and OWS) */
	sep = tg_load8(buf, end - 8);
	return end == v + 7 || sep == ',' || tg_is_ows(sep);
}

/*
 * Chunked framing (RFC 9112 7.1) read a piece at a time: a send, or a window
 * of one, can end anywhere in a chunk-size line or in the trailer section
 * after the last chunk, and the next piece goes on from where it stood. That
 * is a state: a phase in the top bits, the size read so far in the low ones
 * (TG_CHUNK_*, in tollgate_abi.h: a flow keeps one, chunk_state).
 */

/* What tg_http_chunk_step() returns */
#define TG_CHUNK_MORE 0 /* the framing goes on past ret->used (ret->state) */
#define TG_CHUNK_DATA 1 /* a size line ends at ret->used: ret->size bytes of data
			 * follow, then CRLF */
#define TG_CHUNK_END 2	/* the body ends at ret->used: the blank line after the
			 * last chunk (and its trailer fields) */

struct tg_chunk_step {
	__u64 size;  /* TG_CHUNK_DATA: the chunk's size */
	__u32 used;  /* bytes of the piece read */
	__u32 state; /* where the framing stands at used */
	__u32 at;    /* scratch */
	__u32 off;   /* a caller's: where in its bytes the piece starts */
	struct tg_proxy_scan scan; /* the trailer lines */
};

/* The trailer lines of b[pos, n), pos inside one (state TG_CHUNK_FIELD). */
static __always_inline int tg_chunk_trailers(const struct tg_http_buf *b, __u32 pos, __u32 n,
					     struct tg_chunk_step *ret)
{
	struct tg_proxy_scan *h = &ret->scan;
	__u32 ls;

	h->end = 0;
	h->last = 0;
	tg_proxy_scan_headers(b, pos, n, h);
	if (h->end) {
		ret->used = h->end;
		return TG_CHUNK_END;
	}
	/* the last line begun: one of several, or the one at pos */
	ls = h->last > pos ? h->last : pos;
	ret->used = n;
	if (ls >= n) {
		ret->state = TG_CHUNK_BOL;
		return TG_CHUNK_MORE;
	}
	if (tg_http_find_lf(b, ls, n, &ret->at) < n) {
		/* the scan stopped short of n (many short lines): the next
		 * piece starts at that line */
		if (ls == pos)
			return -1;
		ret->used = ls;
		ret->state = TG_CHUNK_BOL;
		return TG_CHUNK_MORE;
	}
	ret->state = ls > pos && ls + 1 == n && tg_load8(b->bytes, ls) == '\r' ? TG_CHUNK_BOL_CR :
										 TG_CHUNK_FIELD;
	return TG_CHUNK_MORE;
}

/*
 * tg_http_chunk_step() - read chunked framing in b[0, n) from @state on: up
 * to the end of the chunk-size line (TG_CHUNK_DATA) or of the body
 * (TG_CHUNK_END), at ret->used; or TG_CHUNK_MORE when the piece ends first
 * (ret->state then says where the next piece goes on, from ret->used, which
 * is n unless a scan stopped short). -1 when it is not chunked framing: not a
 * size line, a size of more than 8 hex digits (or more than TG_CHUNK_SIZE
 * when the line goes on in the next piece), a CR at the start of a trailer
 * line without its LF. Extensions after ';' are skipped. A global function:
 * checked once.
 */
static __always_inline int tg_http_chunk_step_as(const struct tg_http_buf *b, __u32 n, __u32 state,
						 struct tg_chunk_step *ret, bool trailers)
{
	__u32 phase = state & TG_CHUNK_PHASE, pos = 0, lf;
	__u64 v = state & TG_CHUNK_SIZE;
	__u8 c;

	if (!b || !ret || n > TG_SCAN_MAX)
		return -1;
	ret->size = 0;
	ret->used = n;
	ret->state = state;
	ret->at = 0;
	if (phase == TG_CHUNK_LINE || phase == TG_CHUNK_DIGITS) {
		/* the size and position live in *ret, read back each time
		 * (TG_LD): the verifier then checks what follows the loop
		 * once, not once per number of digits */
		TG_ST(ret, size, v);
		for (__u32 i = 0; i < TG_CHUNK_LINE_MAX; i++) {
			__u8 d = tg_hex1[tg_load8(b->bytes, i)];

			if (i >= n || !d)
				break;
			if (TG_LD(ret, size) >> 28)
				return -1;
			TG_ST(ret, size, TG_LD(ret, size) << 4 | (d - 1));
			TG_ST(ret, at, i + 1);
		}
		pos = TG_LD(ret, at);
		v = TG_LD(ret, size);
		ret->size = 0;
		if (pos)
			phase = TG_CHUNK_DIGITS;
		if (pos >= n)
			goto more;
		c = tg_load8(b->bytes, pos);
		if (phase != TG_CHUNK_DIGITS ||
		    (c != ';' && c != ' ' && c != '\t' && c != '\r' && c != '\n'))
			return -1;
		phase = TG_CHUNK_EXT;
	}
	if (phase == TG_CHUNK_EXT) {
		lf = tg_http_find_lf(b, pos, n, &ret->at);
		if (lf >= n)
			goto more;
		pos = lf + 1;
		if (v) {
			ret->size = v;
			ret->used = pos;
			ret->state = TG_CHUNK_LINE;
			return TG_CHUNK_DATA;
		}
		phase = TG_CHUNK_BOL; /* the last chunk */
	}
	if (phase == TG_CHUNK_BOL_CR) {
		if (pos >= n)
			goto more;
		if (tg_load8(b->bytes, pos) != '\n')
			return -1;
		ret->used = pos + 1;
		return TG_CHUNK_END;
	}
	if (phase == TG_CHUNK_BOL) {
		if (pos >= n)
			goto more;
		c = tg_load8(b->bytes, pos);
		if (c == '\n' || (c == '\r' && pos + 1 < n && tg_load8(b->bytes, pos + 1) == '\n')) {
			ret->used = pos + (c == '\r' ? 2 : 1);
			return TG_CHUNK_END;
		}
		if (c == '\r') {
			if (pos + 1 < n)
				return -1;
			phase = TG_CHUNK_BOL_CR;
			goto more;
		}
	} else if (phase != TG_CHUNK_FIELD) {
		return -1;
	}
	if (!trailers)
		return -1; /* a trailer field */
	if (pos >= n) {
		phase = TG_CHUNK_FIELD;
		goto more;
	}
	return tg_chunk_trailers(b, pos, n, ret);
more:
	if (v > TG_CHUNK_SIZE)
		return -1;
	ret->used = n;
	ret->state = phase | (__u32)v;
	return TG_CHUNK_MORE;
}

__noinline int tg_http_chunk_step(const struct tg_http_buf *b, __u32 n, __u32 state,
				  struct tg_chunk_step *ret)
{
	return tg_http_chunk_step_as(b, n, state, ret, true);
}

/*
 * tg_http_chunk_lean_step() - tg_http_chunk_step() without trailer fields:
 * -1 where the last chunk's line is followed by one rather than by the
 * blank line. XDP's: the scan of trailer lines costs a program that calls
 * it a quarter of the verifier's budget, and a request with trailer fields
 * is rare (its end is then not known, as before XDP followed chunks).
 */
__noinline int tg_http_chunk_lean_step(const struct tg_http_buf *b, __u32 n, __u32 state,
				       struct tg_chunk_step *ret)
{
	return tg_http_chunk_step_as(b, n, state, ret, false);
}

/*
 * tg_http_status() - the status of a response starting at w0 ("HTTP/1.x")
 * and w1 (the next 8 bytes: " NNN ..."), or 0 if this is not a status line.
 */
static __always_inline __u32 tg_http_status(__u64 w0, __u64 w1)
{
	__u8 d0 = w1 >> 8, d1 = w1 >> 16, d2 = w1 >> 24;

	if ((w0 & 0xffffffffffffffULL) !=
		    (TG_W4('H', 'T', 'T', 'P') | (__u64)'/' << 32 | (__u64)'1' << 40 |
		     (__u64)'.' << 48) ||
	    (__u8)w1 != ' ')
		return 0;
	if (d0 < '1' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9')
		return 0;
	return (d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0');
}

#endif /* TG_BPF_HTTP_H */
