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
 * Scans go a word at a time inside bpf_loop() callbacks: the verifier checks
 * each callback once, and a word without the byte sought costs one compare.
 */
#ifndef TG_BPF_HTTP_H
#define TG_BPF_HTTP_H

#define TG_BUF_SLACK 64
#define TG_MASK (TG_SCAN_MAX - 1)
#define TG_LEADING_CRLF_MAX 8

#define TG_ONES 0x0101010101010101ULL
#define TG_HIGHS 0x8080808080808080ULL
#define TG_LOWER8 0x2020202020202020ULL

/* Little-endian words of ASCII, as loaded from the buffer. */
#define TG_W2(a, b) ((__u64)(a) | (__u64)(b) << 8)
#define TG_W4(a, b, c, d) (TG_W2(a, b) | (__u64)(c) << 16 | (__u64)(d) << 24)
#define TG_W8(a, b, c, d, e, f, g, h)                                                              \
	(TG_W4(a, b, c, d) | (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 |              \
	 (__u64)(h) << 56)

struct tg_http_req {
	__u32 method;	/* enum tg_method, TG_M_NONE = not a request */
	__u32 path_off; /* request target */
	__u32 path_len; /* up to '?', '#' or SP */
	__u32 line_end; /* offset just past the request line's LF */
	__u32 key_off;	/* X-API-Key value, else the Bearer tg_ token */
	__u32 key_len;	/* 0 = no key; > TG_KEY_MAX - 8 = too long to be one */
};

static __always_inline __u64 tg_load64(const __u8 *buf, __u32 off)
{
	return *(const __u64 *)(buf + (off & TG_MASK));
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

/* --- word scan for one of two bytes ------------------------------------ */

struct tg_scan {
	const __u8 *buf;
	__u32 start;
	__u32 len;
	__u32 found; /* offset of the byte, or len */
	__u8 c1, c2;
	__u64 pat1, pat2;
};

/*
 * Word i of a scan covers buf[start + 8i, start + 8i + 8). The callbacks
 * derive the offset from i and write the context only to record a result:
 * the context then stays the same from one iteration to the next, and the
 * verifier sees the callback converge after a few passes.
 */
static long tg_scan_cb(__u32 i, void *data)
{
	struct tg_scan *s = data;
	__u32 pos = s->start + i * 8;
	__u64 w;

	if (pos >= s->len)
		return 1;
	w = tg_load64(s->buf, pos);
	if (!(tg_has_byte(w, s->pat1) | tg_has_byte(w, s->pat2)))
		return 0;
	for (int j = 0; j < 8; j++) {
		__u8 c = w >> (8 * j);

		if (c == s->c1 || c == s->c2) {
			if (pos + j < s->len)
				s->found = pos + j;
			return 1;
		}
	}
	return 0;
}

/* tg_scan_for() - offset of the first c1 or c2 in buf[from, len), or len. */
static __always_inline __u32 tg_scan_for(const __u8 *buf, __u32 from, __u32 len, __u8 c1, __u8 c2)
{
	struct tg_scan s = {
		.buf = buf,
		.start = from,
		.len = len,
		.found = len,
		.c1 = c1,
		.c2 = c2,
		.pat1 = TG_ONES * c1,
		.pat2 = TG_ONES * c2,
	};

	bpf_loop(TG_SCAN_MAX / 8 + 1, tg_scan_cb, &s, 0);
	return s.found;
}

/* --- header scan ---------------------------------------------------------- */

struct tg_hdr_scan {
	const __u8 *buf;
	__u32 start;
	__u32 len;
	__u32 key_line;	 /* offset of the X-API-Key line, or 0 */
	__u32 auth_line; /* offset of the first Authorization line, or 0 */
};

static __always_inline bool tg_is_ows(__u8 c)
{
	return c == ' ' || c == '\t';
}

/* Length of the header value token at off: up to CR, LF, SP, HTAB or the end
 * of the copied bytes; TG_KEY_MAX if it is longer than any key. */
static __always_inline __u32 tg_token_len(const __u8 *buf, __u32 off, __u32 len)
{
	__u32 n;

	for (n = 0; n < TG_KEY_MAX; n++) {
		__u8 c;

		if (off + n >= len)
			break;
		c = tg_load8(buf, off + n);
		if (c == '\r' || c == '\n' || tg_is_ows(c))
			break;
	}
	return n;
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

/* Classify the header line starting at ls; the callback only remembers where
 * the two lines of interest are, values are read after the scan. Returns 1
 * when the scan is done (end of headers, or X-API-Key: it wins over Bearer). */
static __always_inline int tg_header_line(struct tg_hdr_scan *h, __u32 ls)
{
	__u8 c0 = tg_load8(h->buf, ls);
	__u64 w;

	if (ls >= h->len || c0 == '\r' || c0 == '\n')
		return 1;
	if ((c0 | 0x20) != 'x' && (c0 | 0x20) != 'a')
		return 0;
	w = tg_load64(h->buf, ls) | TG_LOWER8;
	if (w == TG_W8('x', '-', 'a', 'p', 'i', '-', 'k', 'e') &&
	    (tg_load8(h->buf, ls + 8) | 0x20) == 'y' && tg_load8(h->buf, ls + 9) == ':') {
		h->key_line = ls;
		return 1;
	}
	if (w == TG_W8('a', 'u', 't', 'h', 'o', 'r', 'i', 'z') && !h->auth_line)
		h->auth_line = ls;
	return 0;
}

static long tg_hdr_cb(__u32 i, void *data)
{
	struct tg_hdr_scan *h = data;
	__u32 pos = h->start + i * 8;
	__u64 w;

	if (pos >= h->len)
		return 1;
	w = tg_load64(h->buf, pos);
	if (!tg_has_byte(w, TG_ONES * '\n'))
		return 0;
	for (int j = 0; j < 8; j++) {
		if ((__u8)(w >> (8 * j)) != '\n')
			continue;
		if (pos + j >= h->len || tg_header_line(h, pos + j + 1))
			return 1;
	}
	return 0;
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
 * tg_http_parse_target() - the rest of a request line whose target starts at
 * start, then the headers: path, key. Returns 0, or -1 if this is not a
 * request line after all. A global function: the verifier checks it once
 * with start unknown, instead of once per method length and CRLF count.
 */
__noinline int tg_http_parse_target(const struct tg_http_buf *b, __u32 start, __u32 len,
				    struct tg_http_req *ret)
{
	struct tg_hdr_scan h = {};
	const __u8 *buf;
	__u32 sp, end;
	__u8 c;

	if (!b || !ret || len > TG_SCAN_MAX || start >= len)
		return -1;
	buf = b->bytes;
	h.buf = buf;
	h.len = len;
	ret->key_len = 0;
	c = tg_load8(buf, start);
	if (c != '/' && c != '*')
		return -1;
	sp = tg_scan_for(buf, start, len, ' ', '\n');
	if (sp >= len || tg_load8(buf, sp) != ' ' ||
	    (tg_load64(buf, sp + 1) & 0xffffffffffffffULL) !=
		    (TG_W4('H', 'T', 'T', 'P') | (__u64)'/' << 32 | (__u64)'1' << 40 |
		     (__u64)'.' << 48))
		return -1;
	ret->path_off = start;
	end = tg_scan_for(buf, start, sp, '?', '#');
	ret->path_len = end - start;
	ret->line_end = sp + 1;

	/* headers: the word scan starts right after the request target */
	h.start = sp + 1;
	bpf_loop(TG_SCAN_MAX / 8 + 1, tg_hdr_cb, &h, 0);
	if (h.key_line) {
		ret->key_off = tg_skip_ows(buf, h.key_line + 10, len);
	} else if (h.auth_line) {
		ret->key_off = tg_bearer_off(buf, h.auth_line, len);
		if (!ret->key_off)
			return 0;
	} else {
		return 0;
	}
	ret->key_len = tg_token_len(buf, ret->key_off, len);
	return 0;
}

/*
 * tg_http_parse_request() - parse the request that starts b[0, len).
 * Fills ret with the method (TG_M_NONE if this is not a request line), the
 * path and the key (X-API-Key first, else Bearer tg_...). Only b[0, len) is
 * read; len is at most TG_SCAN_MAX.
 */
static __always_inline void tg_http_parse_request(const struct tg_http_buf *b, __u32 len,
						  struct tg_http_req *ret)
{
	const __u8 *buf = b->bytes;
	__u32 p = 0, mlen = 0;
	__u8 c;

	ret->method = TG_M_NONE;
	ret->key_len = 0;
	for (int n = 0; n < TG_LEADING_CRLF_MAX; n++) {
		c = tg_load8(buf, p);
		if (p >= len || (c != '\r' && c != '\n'))
			break;
		p++;
	}
	if (p + 16 > len)
		return;
	ret->method = tg_http_method(tg_load64(buf, p), &mlen);
	if (ret->method == TG_M_NONE)
		return;
	if (tg_http_parse_target(b, p + mlen, len, ret))
		ret->method = TG_M_NONE;
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
