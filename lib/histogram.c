// SPDX-License-Identifier: BSD-2-Clause
/*
 * histogram.c - log-linear latency histograms (see histogram.h).
 *
 * The bucket of a value is two shifts and a count of leading zeros: no
 * floating point, so the agent, billing and Postgres (which recomputes the
 * bounds in SQL) agree to the microsecond.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "histogram.h"

/* The exponent of the first log-linear bucket: 64 = 2^6. */
#define FIRST_EXP (HIST_SUB_BITS + 1)

_Static_assert(HIST_BUCKETS == 896, "the bucket scheme is part of the Postgres schema");
_Static_assert(HIST_EXACT == 1u << FIRST_EXP, "exact buckets end where log-linear ones start");
_Static_assert(HIST_PG_MAX == HIST_BUCKETS * (3 + 1 + 19 + 1) + 2, "see histogram.h");

unsigned int histogram_index(uint32_t us)
{
	unsigned int e;

	if (us < HIST_EXACT)
		return us;
	e = 31 - (unsigned int)__builtin_clz(us);
	return HIST_EXACT + (e - FIRST_EXP) * HIST_SUB_BUCKETS +
	       ((us >> (e - HIST_SUB_BITS)) & (HIST_SUB_BUCKETS - 1));
}

/* log2 of the width of log-linear bucket @i (>= HIST_EXACT). */
static unsigned int bucket_width_bits(unsigned int i)
{
	return (i - HIST_EXACT) / HIST_SUB_BUCKETS + FIRST_EXP - HIST_SUB_BITS;
}

uint32_t histogram_bucket_low(unsigned int i)
{
	uint32_t sub;

	if (i >= HIST_BUCKETS)
		return UINT32_MAX;
	if (i < HIST_EXACT)
		return i;
	sub = (i - HIST_EXACT) % HIST_SUB_BUCKETS;
	return (HIST_SUB_BUCKETS + sub) << bucket_width_bits(i);
}

uint32_t histogram_bucket_high(unsigned int i)
{
	if (i >= HIST_BUCKETS)
		return UINT32_MAX;
	if (i < HIST_EXACT)
		return i;
	/* low + (width - 1): never wraps, the last bucket ends at UINT32_MAX */
	return histogram_bucket_low(i) + ((1u << bucket_width_bits(i)) - 1);
}

uint32_t histogram_bucket_value(unsigned int i)
{
	uint32_t low = histogram_bucket_low(i);

	/* (low + high) / 2 without the sum overflowing */
	return low + (histogram_bucket_high(i) - low) / 2;
}

void histogram_add(struct histogram *h, uint32_t us, uint64_t n)
{
	h->counts[histogram_index(us)] += n;
	h->total += n;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
}

/* ceil(q * total) in 1..total, for 0 < q <= 1 and total > 0. */
static uint64_t nearest_rank(double q, uint64_t total)
{
	long double x;
	uint64_t rank;

	if (q == 1.0)
		return total;
	/* A double q is off the decimal it was written as by up to half an ulp
	 * (0.07 * 100 is 7.0000000000000007); discount that much, far less
	 * than a rank below 2^50 samples, so q = 0.07 of 100 is rank 7. */
	x = (long double)q * (long double)total;
	x -= x * DBL_EPSILON;
	rank = (uint64_t)ceill(x);
	if (rank < 1)
		return 1;
	return rank < total ? rank : total;
}

int histogram_percentiles(const struct histogram *h, const double *q, unsigned int n,
			  uint32_t *ret_us)
{
	uint64_t rank[HIST_PERCENTILES_MAX], seen = 0;
	unsigned int k = 0;

	if (n == 0 || n > HIST_PERCENTILES_MAX)
		return -EINVAL;
	for (unsigned int j = 0; j < n; j++)
		if (!(q[j] > 0 && q[j] <= 1) || (j > 0 && q[j] < q[j - 1]))
			return -EINVAL;
	if (h->total == 0)
		return -ENODATA;

	for (unsigned int j = 0; j < n; j++)
		rank[j] = nearest_rank(q[j], h->total);
	/* one pass for all: the ranks ascend with q */
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		while (k < n && seen >= rank[k])
			ret_us[k++] = histogram_bucket_value(i);
		if (k == n)
			return 0;
	}
	return -EINVAL; /* the counts add up to less than total */
}

int histogram_percentile(const struct histogram *h, double q, uint32_t *ret_us)
{
	uint32_t v;
	int r = histogram_percentiles(h, &q, 1, &v);

	if (!r)
		*ret_us = v;
	return r;
}

/* ---- Postgres text form ------------------------------------------------- */

/* A writer into a fixed buffer; overflow is sticky and checked once. */
struct pg_out {
	char *buf;
	size_t size;
	size_t len;
	unsigned int pairs;
	bool overflow;
};

static void out_char(struct pg_out *out, char c)
{
	if (out->overflow || out->len + 1 >= out->size) {
		out->overflow = true;
		return;
	}
	out->buf[out->len++] = c;
}

static void out_u64(struct pg_out *out, uint64_t v)
{
	char digits[DECIMAL_U64_MAX];
	size_t n = (size_t)(decimal_u64(digits, v) - digits);

	if (out->overflow || n >= out->size - out->len) {
		out->overflow = true;
		return;
	}
	memcpy(out->buf + out->len, digits, n);
	out->len += n;
}

static void out_pair(struct pg_out *out, unsigned int index, uint64_t count)
{
	if (out->pairs++)
		out_char(out, ',');
	out_u64(out, index);
	out_char(out, ',');
	out_u64(out, count);
}

/* Closes the array; the length, or -ENOSPC with "" in the buffer. */
static int out_finish(struct pg_out *out)
{
	out_char(out, '}');
	if (out->overflow) {
		if (out->size > 0)
			out->buf[0] = '\0';
		return -ENOSPC;
	}
	out->buf[out->len] = '\0';
	return (int)out->len;
}

static int out_fail(struct pg_out *out, int r)
{
	if (out->size > 0)
		out->buf[0] = '\0';
	return r;
}

int histogram_to_pg_array(const struct histogram *h, char *buf, size_t size)
{
	struct pg_out out = { .buf = buf, .size = size };

	out_char(&out, '{');
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		if (!h->counts[i])
			continue;
		if (h->counts[i] > INT64_MAX)
			return out_fail(&out, -EOVERFLOW);
		out_pair(&out, i, h->counts[i]);
	}
	return out_finish(&out);
}

static bool is_space(char c)
{
	/* isspace() in the C locale, whatever the process's locale is */
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

/* The decimal digits at @p as a number at most @max into @ret; the end, or
 * NULL if there are no digits or the number is larger. */
static const char *parse_number(const char *p, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (v > (max - digit) / 10)
			return NULL;
		v = v * 10 + digit;
	}
	*ret = v;
	return p;
}

/*
 * Walks the literal @text: checks it and what adding it to @h would give
 * when !@apply, adds it when @apply. Run twice, so that @h is changed only
 * by a literal known to be good, without a copy of up to 896 pairs.
 */
static int pg_array_walk(struct histogram *h, const char *text, bool apply)
{
	const char *p = skip_space(text);
	uint64_t total = h->total, index, count;
	bool overflow = false;
	int prev = -1;

	if (*p != '{')
		return -EINVAL;
	p = skip_space(p + 1);
	while (*p != '}') {
		if (prev >= 0 && *p++ != ',')
			return -EINVAL;
		p = parse_number(skip_space(p), HIST_BUCKETS - 1, &index);
		if (!p || (int)index <= prev)
			return -EINVAL;
		p = skip_space(p);
		if (*p != ',')
			return -EINVAL;
		p = parse_number(skip_space(p + 1), INT64_MAX, &count);
		if (!p)
			return -EINVAL;
		p = skip_space(p);

		if (apply)
			h->counts[index] += count;
		else if (h->counts[index] > UINT64_MAX - count || total > UINT64_MAX - count)
			overflow = true;
		if (!overflow)
			total += count;
		prev = (int)index;
	}
	if (*skip_space(p + 1) != '\0')
		return -EINVAL;
	if (overflow)
		return -EOVERFLOW;
	if (apply)
		h->total = total;
	return 0;
}

int histogram_add_pg_array(struct histogram *h, const char *text)
{
	int r;

	if (!text)
		return -EINVAL;
	r = pg_array_walk(h, text, false);
	if (r < 0)
		return r;
	return pg_array_walk(h, text, true);
}

/* ---- sparse ------------------------------------------------------------- */

#define SPARSE_FREE 0xffff
#define SPARSE_MIN_CAP 16
#define SPARSE_MAX_CAP 2048 /* the least power of two holding 896 at <= 3/4 */

_Static_assert(HIST_BUCKETS < SPARSE_FREE, "indices fit a u16 with a free marker");
_Static_assert(HIST_BUCKETS * 4 <= SPARSE_MAX_CAP * 3, "every bucket fits the largest table");
_Static_assert(SPARSE_MAX_CAP <= UINT16_MAX, "cap is a u16");

/* Fibonacci hashing: bucket indices are runs of neighbours, which identity
 * modulo cap would lay out as one long probe chain. */
static unsigned int sparse_slot(unsigned int index, unsigned int cap)
{
	return ((index * 0x9e3779b1u) >> 16) & (cap - 1);
}

/* The slot holding @index, or the free slot where it would go. */
static unsigned int sparse_find(const struct histogram_sparse *h, unsigned int index)
{
	unsigned int mask = h->cap - 1, slot = sparse_slot(index, h->cap);

	while (h->indices[slot] != index && h->indices[slot] != SPARSE_FREE)
		slot = (slot + 1) & mask;
	return slot;
}

static bool sparse_fits(unsigned int len, unsigned int cap)
{
	return len * 4 <= cap * 3;
}

/* Rehash @h into at least enough slots for @len entries. */
static int sparse_reserve(struct histogram_sparse *h, unsigned int len)
{
	unsigned int cap = h->cap ? h->cap : SPARSE_MIN_CAP;
	struct histogram_sparse grown;
	void *mem;

	while (!sparse_fits(len, cap))
		cap *= 2;
	if (cap == h->cap)
		return 0;

	/* one allocation: the counts, then the indices (no padding needed) */
	mem = malloc(cap * (sizeof(uint64_t) + sizeof(uint16_t)));
	if (!mem)
		return -ENOMEM;
	grown = (struct histogram_sparse){
		.counts = mem,
		.indices = (uint16_t *)((uint64_t *)mem + cap),
		.total = h->total,
		.len = h->len,
		.cap = (uint16_t)cap,
	};
	memset(grown.indices, 0xff, cap * sizeof(uint16_t));
	for (unsigned int i = 0; i < h->cap; i++) {
		unsigned int slot;

		if (h->indices[i] == SPARSE_FREE)
			continue;
		slot = sparse_find(&grown, h->indices[i]);
		grown.indices[slot] = h->indices[i];
		grown.counts[slot] = h->counts[i];
	}
	free(h->counts);
	*h = grown;
	return 0;
}

/* Add @n to bucket @index; the table has room for one more entry. */
static void sparse_add_index(struct histogram_sparse *h, unsigned int index, uint64_t n)
{
	unsigned int slot = sparse_find(h, index);

	if (h->indices[slot] == SPARSE_FREE) {
		h->indices[slot] = (uint16_t)index;
		h->counts[slot] = 0;
		h->len++;
	}
	h->counts[slot] += n;
	h->total += n;
}

int histogram_sparse_add(struct histogram_sparse *h, uint32_t us, uint64_t n)
{
	unsigned int index = histogram_index(us), slot;
	int r;

	if (n == 0)
		return 0;
	if (h->cap) {
		slot = sparse_find(h, index);
		if (h->indices[slot] == index) {
			/* the common case: a bucket seen before, one probe or two */
			h->counts[slot] += n;
			h->total += n;
			return 0;
		}
		if (sparse_fits(h->len + 1u, h->cap)) {
			h->indices[slot] = (uint16_t)index;
			h->counts[slot] = n;
			h->len++;
			h->total += n;
			return 0;
		}
	}
	r = sparse_reserve(h, h->len + 1u);
	if (r < 0)
		return r;
	sparse_add_index(h, index, n);
	return 0;
}

int histogram_sparse_merge(struct histogram_sparse *dst, const struct histogram_sparse *src)
{
	unsigned int missing = 0;
	int r;

	if (dst == src) {
		for (unsigned int i = 0; i < dst->cap; i++)
			if (dst->indices[i] != SPARSE_FREE)
				dst->counts[i] *= 2;
		dst->total *= 2;
		return 0;
	}

	/* make room first, so that a failure leaves @dst's counts as they were */
	for (unsigned int i = 0; i < src->cap; i++) {
		if (src->indices[i] == SPARSE_FREE)
			continue;
		if (!dst->cap || dst->indices[sparse_find(dst, src->indices[i])] == SPARSE_FREE)
			missing++;
	}
	if (missing) {
		r = sparse_reserve(dst, dst->len + missing);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < src->cap; i++)
		if (src->indices[i] != SPARSE_FREE)
			sparse_add_index(dst, src->indices[i], src->counts[i]);
	return 0;
}

void histogram_add_sparse(struct histogram *dst, const struct histogram_sparse *src)
{
	for (unsigned int i = 0; i < src->cap; i++)
		if (src->indices[i] != SPARSE_FREE)
			dst->counts[src->indices[i]] += src->counts[i];
	dst->total += src->total;
}

unsigned int histogram_sparse_buckets(const struct histogram_sparse *h)
{
	return h->len;
}

uint64_t histogram_sparse_total(const struct histogram_sparse *h)
{
	return h->total;
}

int histogram_sparse_to_pg_array(const struct histogram_sparse *h, char *buf, size_t size)
{
	struct pg_out out = { .buf = buf, .size = size };
	uint64_t present[(HIST_BUCKETS + 63) / 64] = { 0 };
	uint16_t slot_of[HIST_BUCKETS];

	/* sorted by index through a bitmap: O(slots), no sort, no allocation */
	for (unsigned int i = 0; i < h->cap; i++) {
		unsigned int index = h->indices[i];

		if (index == SPARSE_FREE)
			continue;
		if (h->counts[i] > INT64_MAX)
			return out_fail(&out, -EOVERFLOW);
		present[index / 64] |= 1ull << (index % 64);
		slot_of[index] = (uint16_t)i;
	}

	out_char(&out, '{');
	for (unsigned int w = 0; w < sizeof(present) / sizeof(present[0]); w++) {
		uint64_t bits = present[w];

		while (bits) {
			unsigned int index = w * 64 + (unsigned int)__builtin_ctzll(bits);

			bits &= bits - 1;
			out_pair(&out, index, h->counts[slot_of[index]]);
		}
	}
	return out_finish(&out);
}

void histogram_sparse_free(struct histogram_sparse *h)
{
	if (!h)
		return;
	free(h->counts);
	*h = (struct histogram_sparse)HISTOGRAM_SPARSE_INIT;
}
