/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * histogram.h - latency histograms of the billing rollups (DESIGN §6): integer
 * log-linear buckets over uint32_t microseconds, merged by adding counts, so
 * a percentile over any range of rows is an exact merge.
 *
 * The bucket scheme is part of the Postgres schema (billing's SQL computes
 * bucket bounds from an index): never change it.
 *
 *   index(v) = v                                     for v < 64 (exact)
 *   index(v) = 64 + (e - 6) * 32 + ((v >> (e - 5)) & 31)  for v >= 64,
 *              where e = floor(log2(v)), 6..31
 *
 * That is HIST_SUB_BITS = 5: 32 equal sub-buckets per power of two, each
 * 2^(e-5) wide, and HIST_BUCKETS = 64 + 26 * 32 = 896 buckets. A bucket's
 * representative value is the midpoint (low + high) / 2, rounded down, so
 * any value is within 1/64 (1.6 %) of the value its bucket reports.
 *
 * Two forms in memory: struct histogram, dense (7 KiB, for percentiles and
 * merging many rows), and struct histogram_sparse, a small hash table of the
 * non-zero buckets (for an aggregator holding thousands at once). One text
 * form, a Postgres bigint[] literal of (index, count) pairs.
 */
#ifndef TG_LIB_HISTOGRAM_H
#define TG_LIB_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS) /* 32 per power of two */
#define HIST_EXACT (2u * HIST_SUB_BUCKETS)	/* 0..63 have a bucket each */
#define HIST_BUCKETS (HIST_EXACT + (32 - HIST_SUB_BITS - 1) * HIST_SUB_BUCKETS) /* 896 */

/*
 * The longest Postgres text form with its NUL: every bucket non-zero, each
 * index at most 3 digits and each count at most 19 (INT64_MAX), a comma after
 * each number but the last, and the braces. 21,506 bytes.
 */
#define HIST_PG_MAX 21506 /* HIST_BUCKETS * (3 + 1 + 19 + 1) + 2 */

/*
 * A dense histogram. All zeros (memset, "= { 0 }") is the empty histogram.
 * @total is the sum of @counts; the functions below keep it so, code that
 * writes @counts directly must too.
 */
struct histogram {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
};

/* histogram_index() - the bucket of @us, 0..HIST_BUCKETS-1. */
unsigned int histogram_index(uint32_t us);

/*
 * histogram_bucket_low(), histogram_bucket_high() - the smallest and the
 * largest value of bucket @i (both inclusive): bucket 0 is [0, 0], bucket
 * 895 is [4227858432, 4294967295]. UINT32_MAX for @i >= HIST_BUCKETS.
 */
uint32_t histogram_bucket_low(unsigned int i);
uint32_t histogram_bucket_high(unsigned int i);

/*
 * histogram_bucket_value() - the value bucket @i reports: the midpoint
 * (low + high) / 2 rounded down, the value itself for i < 64. UINT32_MAX for
 * @i >= HIST_BUCKETS.
 */
uint32_t histogram_bucket_value(unsigned int i);

/*
 * histogram_add() - count @n samples of @us microseconds. Counts are not
 * checked for overflow (2^64 samples).
 */
void histogram_add(struct histogram *h, uint32_t us, uint64_t n);

/* histogram_merge() - add every count of @src to @dst. */
void histogram_merge(struct histogram *dst, const struct histogram *src);

/*
 * histogram_percentile() - the nearest-rank @q-quantile: the value
 * (histogram_bucket_value()) of the bucket holding the sample of rank
 * ceil(@q * total), counting from 1 in increasing order. @q = 1 is the
 * largest sample's bucket. @q is taken as the decimal it was written as:
 * 0.07 is 0.0700000000000000067 in binary, still the 7th of 100 samples.
 *
 * Returns 0 with the value in @ret_us; -EINVAL unless 0 < @q <= 1 (NaN
 * included) or if @h->total disagrees with its counts; -ENODATA if @h is
 * empty. @ret_us is written only on success.
 */
int histogram_percentile(const struct histogram *h, double q, uint32_t *ret_us);

/*
 * histogram_percentiles() - histogram_percentile() for the @n quantiles of
 * @q (ascending, 1 <= @n <= HIST_PERCENTILES_MAX) in one pass over @h,
 * their values in @ret_us[0..n-1]. Returns as histogram_percentile() does,
 * -EINVAL also for @n out of range or @q not ascending; @ret_us may be
 * partly written on failure.
 */
#define HIST_PERCENTILES_MAX 8
int histogram_percentiles(const struct histogram *h, const double *q, unsigned int n,
			  uint32_t *ret_us);

/*
 * histogram_to_pg_array() - @h as the text of a Postgres bigint[]: the pairs
 * "{i1,c1,i2,c2,...}" of the non-zero buckets by increasing index, "{}" if
 * empty; no spaces. NUL-terminated in @buf (@size bytes, HIST_PG_MAX always
 * fits).
 *
 * Returns the length without the NUL; -ENOSPC if @buf is too small (it then
 * holds "" when @size > 0); -EOVERFLOW if a count is above INT64_MAX, which
 * a bigint cannot hold.
 */
int histogram_to_pg_array(const struct histogram *h, char *buf, size_t size);

/*
 * histogram_add_pg_array() - parse @text, a bigint[] literal as written by
 * histogram_to_pg_array() (or by Postgres from such a column), and add its
 * counts to @h: reading rows and merging them is calling this once per row.
 *
 * Accepted: '{' and '}' around pairs "index,count" of decimal digits
 * (leading zeros allowed, no sign), whitespace around any element and the
 * braces, indices strictly increasing and below HIST_BUCKETS, counts at most
 * INT64_MAX; a zero count adds nothing.
 *
 * Returns 0; -EINVAL if @text is NULL or not such a literal (an unsorted or
 * repeated index, an index out of range, anything not a number, an odd number
 * of elements, a negative count, NULL elements, nested arrays); -EOVERFLOW if
 * a count of @h or its total would pass UINT64_MAX. @h is changed only on
 * success.
 */
int histogram_add_pg_array(struct histogram *h, const char *text);

/*
 * A sparse histogram: an open-addressed hash table (linear probing) of the
 * non-zero buckets, 10 bytes per slot, at most 3/4 full. It starts empty
 * without memory (all zeros, HISTOGRAM_SPARSE_INIT, calloc) and grows by
 * doubling up to 2048 slots (all 896 buckets). An add hashes and probes, it
 * never shifts entries: the aggregator's hot path.
 *
 * The struct is the caller's (embed it by value); the slots it points to are
 * its own, allocated by histogram_sparse_add() and _merge() and released by
 * histogram_sparse_free(). The fields are private: read it through the
 * functions below. Not thread-safe; copying the struct by value shares the
 * slots (free only one copy).
 */
struct histogram_sparse {
	uint64_t *counts;  /* @cap counts, in the same allocation as: */
	uint16_t *indices; /* @cap bucket indices, 0xffff when unused */
	uint64_t total;	   /* sum of counts */
	uint16_t len;	   /* used slots = non-zero buckets */
	uint16_t cap;	   /* slots, 0 or a power of two */
};

#define HISTOGRAM_SPARSE_INIT { 0 }

/*
 * histogram_sparse_add() - count @n samples of @us microseconds (@n = 0 does
 * nothing). Returns 0, or -ENOMEM with @h unchanged.
 */
int histogram_sparse_add(struct histogram_sparse *h, uint32_t us, uint64_t n);

/*
 * histogram_sparse_merge() - add every count of @src to @dst (@src may be
 * @dst: it doubles). Returns 0, or -ENOMEM with @dst unchanged.
 */
int histogram_sparse_merge(struct histogram_sparse *dst, const struct histogram_sparse *src);

/* histogram_add_sparse() - add every count of sparse @src to dense @dst. */
void histogram_add_sparse(struct histogram *dst, const struct histogram_sparse *src);

/* histogram_sparse_buckets() - how many buckets of @h are non-zero. */
unsigned int histogram_sparse_buckets(const struct histogram_sparse *h);

/* histogram_sparse_total() - the number of samples in @h. */
uint64_t histogram_sparse_total(const struct histogram_sparse *h);

/*
 * histogram_sparse_to_pg_array() - as histogram_to_pg_array(), the same text
 * for the same counts.
 */
int histogram_sparse_to_pg_array(const struct histogram_sparse *h, char *buf, size_t size);

/*
 * histogram_sparse_free() - release the slots of @h (not @h itself, which is
 * the caller's) and leave it empty, ready for reuse. @h may be NULL.
 */
void histogram_sparse_free(struct histogram_sparse *h);

#endif /* TG_LIB_HISTOGRAM_H */
