// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-histogram.c - latency histograms (lib/histogram.h): the bucket scheme
 * that billing's SQL depends on, checked against a reference written out
 * separately; percentiles against exact nearest-rank percentiles of 100k
 * samples; merging; the Postgres bigint[] text form; sparse against dense.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/histogram.h"

#define N_SAMPLES 100000

/* The scheme of histogram.h, written the slow way: the exponent by a loop. */
static unsigned int ref_index(uint32_t v)
{
	unsigned int e = 0;

	if (v < 64)
		return v;
	while (e < 31 && (1ull << (e + 1)) <= v)
		e++;
	return 64 + (e - 6) * 32 + ((v >> (e - 5)) & 31);
}

static void check_value(uint32_t v)
{
	unsigned int i = histogram_index(v);
	uint32_t rep;

	if (i >= HIST_BUCKETS || i != ref_index(v))
		fail_msg("value %u: bucket %u, reference %u", v, i, ref_index(v));
	if (histogram_bucket_low(i) > v || histogram_bucket_high(i) < v)
		fail_msg("value %u outside its bucket %u [%u, %u]", v, i, histogram_bucket_low(i),
			 histogram_bucket_high(i));
	rep = histogram_bucket_value(i);
	/* within 1/64 of the value, either side */
	assert_true((uint64_t)(rep > v ? rep - v : v - rep) * 64 <= v);
}

/* splitmix64: a fixed seed gives the same samples everywhere. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* standard normal, Box-Muller */
static double rng_normal(void)
{
	double u = rng_unit(), v = rng_unit();

	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

static uint32_t clamp_us(double x)
{
	if (x <= 0)
		return 0;
	if (x >= (double)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)x;
}

enum distribution { UNIFORM, LOG_NORMAL, CONSTANT, BIMODAL, WIDE, SMALL };

static uint32_t sample(enum distribution d)
{
	switch (d) {
	case UNIFORM:
		return (uint32_t)(rng_next() % 2000000);
	case LOG_NORMAL: /* median 20 ms, a long tail */
		return clamp_us(exp(log(20000.0) + 1.3 * rng_normal()));
	case CONSTANT:
		return 12345;
	case BIMODAL: /* cache hits and misses */
		if (rng_next() % 10 < 7)
			return clamp_us(800 + 100 * rng_normal());
		return clamp_us(250000 + 30000 * rng_normal());
	case WIDE: /* every power of two alike */
		return (uint32_t)(rng_next() >> (32 + rng_next() % 32));
	case SMALL:
		return (uint32_t)(rng_next() % 100);
	}
	return 0;
}

static void fill_samples(uint32_t *samples, size_t n, enum distribution d, uint64_t seed)
{
	rng_state = seed;
	for (size_t i = 0; i < n; i++)
		samples[i] = sample(d);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static struct histogram *histogram_of(const uint32_t *samples, size_t n)
{
	struct histogram *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	for (size_t i = 0; i < n; i++)
		histogram_add(h, samples[i], 1);
	return h;
}

/* ---- buckets ------------------------------------------------------------ */

static void test_known_buckets(void **state)
{
	static const struct {
		uint32_t v;
		unsigned int index;
		uint32_t low, high, value;
	} cases[] = {
		{ 0, 0, 0, 0, 0 },
		{ 1, 1, 1, 1, 1 },
		{ 63, 63, 63, 63, 63 },
		{ 64, 64, 64, 65, 64 },
		{ 65, 64, 64, 65, 64 },
		{ 100, 82, 100, 101, 100 },
		{ 127, 95, 126, 127, 126 },
		{ 128, 96, 128, 131, 129 },
		{ 1000, 190, 992, 1007, 999 },
		{ 1000000, 509, 999424, 1015807, 1007615 },
		{ 0x80000000u, 864, 0x80000000u, 0x83ffffffu, 0x81ffffffu },
		{ UINT32_MAX, 895, 4227858432u, UINT32_MAX, 4261412863u },
	};

	(void)state;
	assert_int_equal(HIST_SUB_BITS, 5);
	assert_int_equal(HIST_BUCKETS, 896);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned int i = histogram_index(cases[c].v);

		assert_int_equal(i, cases[c].index);
		assert_int_equal(histogram_bucket_low(i), cases[c].low);
		assert_int_equal(histogram_bucket_high(i), cases[c].high);
		assert_int_equal(histogram_bucket_value(i), cases[c].value);
	}

	/* out of range */
	assert_int_equal(histogram_bucket_low(HIST_BUCKETS), UINT32_MAX);
	assert_int_equal(histogram_bucket_high(HIST_BUCKETS), UINT32_MAX);
	assert_int_equal(histogram_bucket_value(HIST_BUCKETS), UINT32_MAX);
	assert_int_equal(histogram_bucket_low(UINT32_MAX), UINT32_MAX);
}

static void test_boundaries(void **state)
{
	(void)state;
	for (uint32_t v = 0; v <= 200; v++)
		check_value(v);
	for (unsigned int k = 0; k < 32; k++) {
		uint32_t p = 1u << k;

		check_value(p - 1);
		check_value(p);
		check_value(p + 1);
		/* a power of two from 64 up opens a new range of 32 buckets */
		if (k >= 6) {
			assert_int_equal(histogram_index(p), 64 + (k - 6) * 32);
			assert_int_equal(histogram_bucket_low(histogram_index(p)), p);
			assert_int_equal(histogram_index(p - 1), 64 + (k - 6) * 32 - 1);
		}
	}
	check_value(UINT32_MAX - 1);
	check_value(UINT32_MAX);
	assert_int_equal(histogram_index(UINT32_MAX), HIST_BUCKETS - 1);
}

static void test_buckets_partition(void **state)
{
	(void)state;
	assert_int_equal(histogram_bucket_low(0), 0);
	assert_int_equal(histogram_bucket_high(HIST_BUCKETS - 1), UINT32_MAX);
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		uint32_t low = histogram_bucket_low(i), high = histogram_bucket_high(i);
		uint32_t value = histogram_bucket_value(i);
		uint64_t width = (uint64_t)high - low + 1;

		assert_true(low <= high);
		if (i + 1 < HIST_BUCKETS)
			assert_int_equal((uint64_t)histogram_bucket_low(i + 1), (uint64_t)high + 1);
		assert_int_equal(histogram_index(low), i);
		assert_int_equal(histogram_index(high), i);
		assert_int_equal(value, ((uint64_t)low + high) / 2);
		if (i < 64) {
			assert_int_equal(width, 1);
			assert_int_equal(value, i);
		} else {
			/* 32 buckets per power of two */
			assert_int_equal(width, 1ull << ((i - 64) / 32 + 1));
			assert_int_equal(width * 32, 1ull << ((i - 64) / 32 + 6));
		}
		/* any value of the bucket is within 1/64 of what it reports */
		assert_true((uint64_t)(value - low) * 64 <= low);
		assert_true((uint64_t)(high - value) * 64 <= high);
	}
}

static void test_index_monotonic(void **state)
{
	unsigned int prev = 0;
	uint64_t v;

	(void)state;
	/* steps below a bucket's width: every bucket is visited, in order */
	for (v = 0; v <= UINT32_MAX; v += 1 + v / 4096) {
		unsigned int i = histogram_index((uint32_t)v);

		if (i != prev && i != prev + 1)
			fail_msg("value %" PRIu64 ": bucket %u after %u", v, i, prev);
		if (i != ref_index((uint32_t)v))
			fail_msg("value %" PRIu64 ": bucket %u, reference %u", v, i,
				 ref_index((uint32_t)v));
		assert_true(histogram_bucket_low(i) <= v && v <= histogram_bucket_high(i));
		prev = i;
	}
	assert_int_equal(prev, HIST_BUCKETS - 1);
}

/* ---- percentiles -------------------------------------------------------- */

static void check_percentiles(enum distribution d, const char *name)
{
	static const unsigned int permille[] = { 500, 900, 990, 999, 1000 };
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples));
	struct histogram *h;

	assert_non_null(samples);
	fill_samples(samples, N_SAMPLES, d, 0x746f6c6c67617465ull + d);
	h = histogram_of(samples, N_SAMPLES);
	assert_int_equal(h->total, N_SAMPLES);
	qsort(samples, N_SAMPLES, sizeof(*samples), cmp_u32);

	for (size_t k = 0; k < sizeof(permille) / sizeof(permille[0]); k++) {
		/* nearest rank, in integers: ceil(q * n) */
		uint64_t rank = ((uint64_t)permille[k] * N_SAMPLES + 999) / 1000;
		uint32_t exact = samples[rank - 1], got = 0;
		double error;

		assert_int_equal(histogram_percentile(h, permille[k] / 1000.0, &got), 0);
		error = exact ? fabs((double)got - exact) / exact : (double)got;
		if (error > 0.02 || got != histogram_bucket_value(histogram_index(exact)))
			fail_msg("%s p%.1f: %u, exact %u (error %.4f)", name, permille[k] / 10.0,
				 got, exact, error);
	}
	free(h);
	free(samples);
}

static void test_percentile_accuracy(void **state)
{
	(void)state;
	check_percentiles(UNIFORM, "uniform");
	check_percentiles(LOG_NORMAL, "log-normal");
	check_percentiles(CONSTANT, "constant");
	check_percentiles(BIMODAL, "bimodal");
	check_percentiles(WIDE, "wide");
	check_percentiles(SMALL, "small");
}

static void test_percentile_rank(void **state)
{
	struct histogram h = { 0 };
	uint32_t us = 0;

	(void)state;
	/* 7 samples of 1 µs then 93 of 2 µs */
	histogram_add(&h, 1, 7);
	histogram_add(&h, 2, 93);
	assert_int_equal(histogram_percentile(&h, 0.07, &us), 0);
	assert_int_equal(us, 1); /* rank 7, though 0.07 * 100 > 7 in binary */
	assert_int_equal(histogram_percentile(&h, 0.0701, &us), 0);
	assert_int_equal(us, 2); /* rank 8 */
	assert_int_equal(histogram_percentile(&h, 1e-12, &us), 0);
	assert_int_equal(us, 1); /* rank 1 */
	assert_int_equal(histogram_percentile(&h, 1.0, &us), 0);
	assert_int_equal(us, 2);

	/* two samples: the median is the lower one */
	memset(&h, 0, sizeof(h));
	histogram_add(&h, 10, 1);
	histogram_add(&h, 1000000, 1);
	assert_int_equal(histogram_percentile(&h, 0.5, &us), 0);
	assert_int_equal(us, 10);
	assert_int_equal(histogram_percentile(&h, 0.500001, &us), 0);
	assert_int_equal(us, 1007615);

	/* one sample is every percentile */
	memset(&h, 0, sizeof(h));
	histogram_add(&h, UINT32_MAX, 1);
	assert_int_equal(histogram_percentile(&h, 0.001, &us), 0);
	assert_int_equal(us, 4261412863u);
	assert_int_equal(histogram_percentile(&h, 1.0, &us), 0);
	assert_int_equal(us, 4261412863u);
}

/* several quantiles in one pass: each as histogram_percentile() gives it */
static void test_percentiles_one_pass(void **state)
{
	static const double q[] = { 0.001, 0.07, 0.5, 0.5, 0.9, 0.99, 0.999, 1.0 };
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples)), got[8], one = 0;
	struct histogram *h, empty = { 0 };

	(void)state;
	assert_non_null(samples);
	fill_samples(samples, N_SAMPLES, BIMODAL, 42);
	h = histogram_of(samples, N_SAMPLES);
	assert_int_equal(histogram_percentiles(h, q, 8, got), 0);
	for (int k = 0; k < 8; k++) {
		one = 0;
		assert_int_equal(histogram_percentile(h, q[k], &one), 0);
		assert_int_equal(got[k], one);
	}
	assert_true(got[0] < got[2] && got[2] < got[5]);
	/* q = 1 is the largest sample's bucket */
	one = 0;
	for (size_t i = 0; i < N_SAMPLES; i++)
		one = samples[i] > one ? samples[i] : one;
	assert_int_equal(histogram_percentiles(h, q + 7, 1, got), 0);
	assert_int_equal(got[0], histogram_bucket_value(histogram_index(one)));
	assert_int_equal(histogram_percentiles(h, q, 0, got), -EINVAL);
	assert_int_equal(histogram_percentiles(h, q, HIST_PERCENTILES_MAX + 1, got), -EINVAL);
	assert_int_equal(histogram_percentiles(h, (const double[]){ 0.99, 0.5 }, 2, got), -EINVAL);
	assert_int_equal(histogram_percentiles(h, (const double[]){ 0.5, NAN }, 2, got), -EINVAL);
	assert_int_equal(histogram_percentiles(&empty, q, 2, got), -ENODATA);
	h->total++; /* counts that add up to less than total */
	assert_int_equal(histogram_percentiles(h, q, 8, got), -EINVAL);
	free(h);
	free(samples);
}

static void test_percentile_errors(void **state)
{
	static const double bad_q[] = { 0.0, -0.0, -0.5, 1.0000001, 2.0, NAN, INFINITY, -INFINITY };
	struct histogram h = { 0 };
	uint32_t us = 777;

	(void)state;
	assert_int_equal(histogram_percentile(&h, 0.5, &us), -ENODATA);
	assert_int_equal(us, 777);
	histogram_add(&h, 5, 0); /* adds nothing */
	assert_int_equal(histogram_percentile(&h, 0.5, &us), -ENODATA);

	histogram_add(&h, 5, 3);
	for (size_t i = 0; i < sizeof(bad_q) / sizeof(bad_q[0]); i++) {
		assert_int_equal(histogram_percentile(&h, bad_q[i], &us), -EINVAL);
		assert_int_equal(us, 777);
	}
	/* a total the counts do not reach */
	h.total = 4;
	assert_int_equal(histogram_percentile(&h, 1.0, &us), -EINVAL);
	assert_int_equal(us, 777);
}

/* ---- adding and merging ------------------------------------------------- */

static void test_add_n(void **state)
{
	struct histogram a = { 0 }, b = { 0 };

	(void)state;
	for (int i = 0; i < 1000; i++)
		histogram_add(&a, 4242, 1);
	histogram_add(&b, 4242, 1000);
	histogram_add(&b, 99, 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(a.total, 1000);
	assert_int_equal(a.counts[histogram_index(4242)], 1000);
}

static void test_merge(void **state)
{
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples));
	struct histogram *parts = calloc(4, sizeof(*parts)), *all, *merged;
	struct histogram empty = { 0 };

	(void)state;
	assert_non_null(samples);
	assert_non_null(parts);
	fill_samples(samples, N_SAMPLES, LOG_NORMAL, 42);
	all = histogram_of(samples, N_SAMPLES);
	for (size_t i = 0; i < N_SAMPLES; i++)
		histogram_add(&parts[i % 4], samples[i], 1);

	merged = calloc(1, sizeof(*merged));
	assert_non_null(merged);
	for (int p = 0; p < 4; p++)
		histogram_merge(merged, &parts[p]);
	histogram_merge(merged, &empty);
	assert_memory_equal(merged, all, sizeof(*all));

	/* order does not matter, and merging into the empty histogram copies */
	memset(merged, 0, sizeof(*merged));
	for (int p = 3; p >= 0; p--)
		histogram_merge(merged, &parts[p]);
	assert_memory_equal(merged, all, sizeof(*all));

	/* merging a histogram into itself doubles it */
	histogram_merge(merged, merged);
	assert_int_equal(merged->total, 2 * N_SAMPLES);
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(merged->counts[i], 2 * all->counts[i]);

	free(merged);
	free(all);
	free(parts);
	free(samples);
}

/* ---- Postgres text ------------------------------------------------------ */

static void test_pg_format(void **state)
{
	struct histogram h = { 0 };
	char buf[HIST_PG_MAX], small[64];

	(void)state;
	assert_int_equal(histogram_to_pg_array(&h, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "{}");
	assert_int_equal(histogram_to_pg_array(&h, small, 2), -ENOSPC);
	assert_string_equal(small, "");

	histogram_add(&h, UINT32_MAX, 1);
	histogram_add(&h, 5, 3);
	histogram_add(&h, 100, 2);
	histogram_add(&h, 101, 1); /* same bucket as 100 */
	assert_int_equal(histogram_to_pg_array(&h, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "{5,3,82,3,895,1}");

	/* every size too small fails, the exact one fits */
	for (size_t size = 0; size <= 16; size++) {
		memset(small, 'x', sizeof(small));
		assert_int_equal(histogram_to_pg_array(&h, small, size), -ENOSPC);
		if (size > 0)
			assert_string_equal(small, "");
		assert_int_equal(small[size], 'x'); /* nothing beyond */
	}
	assert_int_equal(histogram_to_pg_array(&h, small, 17), 16);
	assert_string_equal(small, buf);

	/* a count no bigint holds */
	h.counts[0] = (uint64_t)INT64_MAX + 1;
	assert_int_equal(histogram_to_pg_array(&h, buf, sizeof(buf)), -EOVERFLOW);
	assert_string_equal(buf, "");
	h.counts[0] = INT64_MAX;
	assert_true(histogram_to_pg_array(&h, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "{0,9223372036854775807,5,3,", 27);
}

static void test_pg_worst_case_fits(void **state)
{
	struct histogram *h = calloc(1, sizeof(*h)), *back = calloc(1, sizeof(*back));
	char *buf = malloc(HIST_PG_MAX);
	int n;

	(void)state;
	assert_non_null(h);
	assert_non_null(back);
	assert_non_null(buf);
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		h->counts[i] = INT64_MAX;
	n = histogram_to_pg_array(h, buf, HIST_PG_MAX);
	assert_true(n > 0 && n < HIST_PG_MAX);
	assert_int_equal(n, 2 + (10 + 90 * 2 + 796 * 3) + 896 * 19 + (2 * 896 - 1));

	/* 896 such counts are more samples than a u64 counts */
	assert_int_equal(histogram_add_pg_array(back, buf), -EOVERFLOW);
	assert_int_equal(back->total, 0);
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(back->counts[i], 0);

	/* every bucket at once, with counts that do add up */
	memset(h, 0, sizeof(*h));
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		histogram_add(h, histogram_bucket_low(i), 1000000000000ull + i);
	n = histogram_to_pg_array(h, buf, HIST_PG_MAX);
	assert_true(n > 0);
	assert_int_equal(histogram_add_pg_array(back, buf), 0);
	assert_memory_equal(back, h, sizeof(*h));

	free(buf);
	free(back);
	free(h);
}

static void test_pg_round_trip(void **state)
{
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples));
	struct histogram *h, *back = calloc(1, sizeof(*back));
	char *buf = malloc(HIST_PG_MAX), *again = malloc(HIST_PG_MAX);
	int n;

	(void)state;
	assert_non_null(samples);
	assert_non_null(back);
	assert_non_null(buf);
	assert_non_null(again);
	fill_samples(samples, N_SAMPLES, BIMODAL, 7);
	h = histogram_of(samples, N_SAMPLES);

	n = histogram_to_pg_array(h, buf, HIST_PG_MAX);
	assert_true(n > 2);
	assert_int_equal(histogram_add_pg_array(back, buf), 0);
	assert_memory_equal(back, h, sizeof(*h));
	assert_int_equal(histogram_to_pg_array(back, again, HIST_PG_MAX), n);
	assert_string_equal(again, buf);

	/* adding a row is merging it */
	assert_int_equal(histogram_add_pg_array(back, buf), 0);
	histogram_merge(h, h);
	assert_memory_equal(back, h, sizeof(*h));

	/* the empty literal adds nothing */
	assert_int_equal(histogram_add_pg_array(back, "{}"), 0);
	assert_memory_equal(back, h, sizeof(*h));

	free(again);
	free(buf);
	free(back);
	free(h);
	free(samples);
}

static void test_pg_parse_accepts(void **state)
{
	struct histogram h = { 0 };

	(void)state;
	/* whitespace where Postgres allows it, leading zeros, zero counts */
	assert_int_equal(histogram_add_pg_array(&h, " { 1 , 2 ,\t3,\n4 } \n"), 0);
	assert_int_equal(h.counts[1], 2);
	assert_int_equal(h.counts[3], 4);
	assert_int_equal(h.total, 6);
	assert_int_equal(histogram_add_pg_array(&h, "{007,1,0895,0}"), 0);
	assert_int_equal(h.counts[7], 1);
	assert_int_equal(h.counts[895], 0);
	assert_int_equal(h.total, 7);
	assert_int_equal(histogram_add_pg_array(&h, "{ }"), 0);
	assert_int_equal(histogram_add_pg_array(&h, "{0,9223372036854775807}"), 0);
	assert_int_equal(h.counts[0], INT64_MAX);
	assert_int_equal(h.total, (uint64_t)INT64_MAX + 7);
}

static void test_pg_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"{}}",
		"{}x",
		"x{}",
		"[1:2]={1,1}",
		"{1}",
		"{1,2,3}",
		"{1,2,3,}",
		"{1,2,}",
		"{,1,2}",
		"{1,,2}",
		"{1,2,,3,4}",
		"{1,2",
		"{1,2,3,4",
		"{1 2}",
		"{1,2 3,4}",
		"{1,1,1,1}",	 /* repeated index */
		"{2,1,1,1}",	 /* unsorted */
		"{5,1,9,1,7,1}", /* unsorted later */
		"{896,1}",	 /* out of range */
		"{65536,1}",
		"{4294967296,1}",
		"{18446744073709551616,1}",
		"{1,-1}", /* negative count */
		"{-1,1}",
		"{1,-0}",
		"{+1,1}",
		"{1,+1}",
		"{1,9223372036854775808}", /* above a bigint */
		"{1,99999999999999999999999}",
		"{a,1}",
		"{1,1a}",
		"{1,0x10}",
		"{1.5,1}",
		"{1,1e3}",
		"{NULL,1}",
		"{1,NULL}",
		"{{1,1}}",
		"{\"1\",1}",
		"{1;1}",
		"1,1",
		"{1,1}\x01",
	};
	struct histogram h = { 0 }, orig;

	(void)state;
	histogram_add(&h, 1, 10);
	histogram_add(&h, 7000, 20);
	memcpy(&orig, &h, sizeof(h));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = histogram_add_pg_array(&h, bad[i]);

		if (r != -EINVAL)
			fail_msg("'%s': %d, not -EINVAL", bad[i], r);
		assert_memory_equal(&h, &orig, sizeof(h));
	}
	/* a string with a NUL inside ends at the NUL */
	assert_int_equal(histogram_add_pg_array(&h, "{1,1\0,2,2}"), -EINVAL);
	assert_int_equal(histogram_add_pg_array(&h, NULL), -EINVAL);
	assert_memory_equal(&h, &orig, sizeof(h));
}

static void test_pg_parse_overflow(void **state)
{
	struct histogram h = { 0 }, orig;

	(void)state;
	histogram_add(&h, 1, UINT64_MAX - 5);
	memcpy(&orig, &h, sizeof(h));
	assert_int_equal(histogram_add_pg_array(&h, "{1,10}"), -EOVERFLOW); /* the bucket */
	assert_memory_equal(&h, &orig, sizeof(h));
	assert_int_equal(histogram_add_pg_array(&h, "{2,3,3,3}"), -EOVERFLOW); /* the total */
	assert_memory_equal(&h, &orig, sizeof(h));
	/* malformed text is -EINVAL, whatever it would add */
	assert_int_equal(histogram_add_pg_array(&h, "{1,10,2,x}"), -EINVAL);
	assert_memory_equal(&h, &orig, sizeof(h));
	/* up to the limit is fine */
	assert_int_equal(histogram_add_pg_array(&h, "{2,2,3,3}"), 0);
	assert_int_equal(h.total, UINT64_MAX);
}

/* ---- sparse ------------------------------------------------------------- */

static void assert_sparse_equals_dense(const struct histogram_sparse *s, const struct histogram *d)
{
	struct histogram *from_sparse = calloc(1, sizeof(*from_sparse));
	char *sparse_text = malloc(HIST_PG_MAX), *dense_text = malloc(HIST_PG_MAX);
	unsigned int nonzero = 0;
	int n;

	assert_non_null(from_sparse);
	assert_non_null(sparse_text);
	assert_non_null(dense_text);
	histogram_add_sparse(from_sparse, s);
	assert_memory_equal(from_sparse, d, sizeof(*d));
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		nonzero += d->counts[i] != 0;
	assert_int_equal(histogram_sparse_buckets(s), nonzero);
	assert_int_equal(histogram_sparse_total(s), d->total);

	n = histogram_sparse_to_pg_array(s, sparse_text, HIST_PG_MAX);
	assert_int_equal(histogram_to_pg_array(d, dense_text, HIST_PG_MAX), n);
	assert_string_equal(sparse_text, dense_text);
	free(dense_text);
	free(sparse_text);
	free(from_sparse);
}

static void test_sparse_empty(void **state)
{
	struct histogram_sparse s = HISTOGRAM_SPARSE_INIT;
	struct histogram d = { 0 };
	char buf[8];

	(void)state;
	assert_int_equal(histogram_sparse_buckets(&s), 0);
	assert_int_equal(histogram_sparse_total(&s), 0);
	assert_int_equal(histogram_sparse_to_pg_array(&s, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "{}");
	assert_int_equal(histogram_sparse_add(&s, 5, 0), 0); /* adds nothing */
	assert_int_equal(histogram_sparse_buckets(&s), 0);
	assert_null(s.counts); /* and allocates nothing */
	histogram_add_sparse(&d, &s);
	assert_int_equal(d.total, 0);
	histogram_sparse_free(&s);
	histogram_sparse_free(NULL);
}

static void test_sparse_agrees_with_dense(void **state)
{
	static const enum distribution dists[] = {
		UNIFORM, LOG_NORMAL, CONSTANT, BIMODAL, WIDE, SMALL,
	};
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples));

	(void)state;
	assert_non_null(samples);
	for (size_t k = 0; k < sizeof(dists) / sizeof(dists[0]); k++) {
		struct histogram_sparse s = HISTOGRAM_SPARSE_INIT;
		struct histogram *d;

		fill_samples(samples, N_SAMPLES, dists[k], 1000 + k);
		d = histogram_of(samples, N_SAMPLES);
		for (size_t i = 0; i < N_SAMPLES; i++)
			assert_int_equal(histogram_sparse_add(&s, samples[i], 1), 0);
		assert_sparse_equals_dense(&s, d);
		free(d);
		histogram_sparse_free(&s);
		assert_int_equal(histogram_sparse_total(&s), 0);
	}
	free(samples);
}

static void test_sparse_every_bucket(void **state)
{
	struct histogram_sparse s = HISTOGRAM_SPARSE_INIT;
	struct histogram d = { 0 };

	(void)state;
	/* grows from nothing to all 896 buckets, high ones first */
	for (unsigned int i = HIST_BUCKETS; i-- > 0;) {
		assert_int_equal(histogram_sparse_add(&s, histogram_bucket_high(i), i + 1), 0);
		histogram_add(&d, histogram_bucket_high(i), i + 1);
	}
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		assert_int_equal(histogram_sparse_add(&s, histogram_bucket_low(i), 2), 0);
		histogram_add(&d, histogram_bucket_low(i), 2);
	}
	assert_int_equal(histogram_sparse_buckets(&s), HIST_BUCKETS);
	assert_sparse_equals_dense(&s, &d);

	/* freed, it is empty and can be used again */
	histogram_sparse_free(&s);
	assert_int_equal(histogram_sparse_buckets(&s), 0);
	assert_int_equal(histogram_sparse_add(&s, 1000, 3), 0);
	memset(&d, 0, sizeof(d));
	histogram_add(&d, 1000, 3);
	assert_sparse_equals_dense(&s, &d);
	histogram_sparse_free(&s);
}

static void test_sparse_merge(void **state)
{
	uint32_t *samples = malloc(N_SAMPLES * sizeof(*samples));
	struct histogram_sparse parts[3] = { HISTOGRAM_SPARSE_INIT, HISTOGRAM_SPARSE_INIT,
					     HISTOGRAM_SPARSE_INIT };
	struct histogram_sparse merged = HISTOGRAM_SPARSE_INIT, empty = HISTOGRAM_SPARSE_INIT;
	struct histogram *d;

	(void)state;
	assert_non_null(samples);
	fill_samples(samples, N_SAMPLES, WIDE, 99);
	d = histogram_of(samples, N_SAMPLES);
	/* parts with different ranges: small, large, and everything */
	for (size_t i = 0; i < N_SAMPLES; i++)
		assert_int_equal(histogram_sparse_add(&parts[i % 3 == 2 ? 2 : samples[i] < 50000],
						      samples[i], 1),
				 0);

	assert_int_equal(histogram_sparse_merge(&merged, &empty), 0);
	assert_int_equal(histogram_sparse_buckets(&merged), 0);
	for (int p = 0; p < 3; p++)
		assert_int_equal(histogram_sparse_merge(&merged, &parts[p]), 0);
	assert_int_equal(histogram_sparse_merge(&merged, &empty), 0);
	assert_sparse_equals_dense(&merged, d);

	/* into itself: doubles */
	assert_int_equal(histogram_sparse_merge(&merged, &merged), 0);
	histogram_merge(d, d);
	assert_sparse_equals_dense(&merged, d);

	histogram_sparse_free(&merged);
	for (int p = 0; p < 3; p++)
		histogram_sparse_free(&parts[p]);
	free(d);
	free(samples);
}

static void test_sparse_pg(void **state)
{
	struct histogram_sparse s = HISTOGRAM_SPARSE_INIT;
	struct histogram d = { 0 };
	char buf[64], small[64];

	(void)state;
	assert_int_equal(histogram_sparse_add(&s, UINT32_MAX, 1), 0);
	assert_int_equal(histogram_sparse_add(&s, 100, 2), 0);
	assert_int_equal(histogram_sparse_add(&s, 5, 3), 0);
	assert_int_equal(histogram_sparse_add(&s, 101, 1), 0);
	assert_int_equal(histogram_sparse_to_pg_array(&s, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "{5,3,82,3,895,1}");
	for (size_t size = 0; size <= 16; size++) {
		memset(small, 'x', sizeof(small));
		assert_int_equal(histogram_sparse_to_pg_array(&s, small, size), -ENOSPC);
		if (size > 0)
			assert_string_equal(small, "");
	}

	/* what it writes reads back into a dense histogram */
	assert_int_equal(histogram_add_pg_array(&d, buf), 0);
	assert_sparse_equals_dense(&s, &d);

	assert_int_equal(histogram_sparse_add(&s, 7, (uint64_t)INT64_MAX + 1), 0);
	assert_int_equal(histogram_sparse_to_pg_array(&s, buf, sizeof(buf)), -EOVERFLOW);
	assert_string_equal(buf, "");
	histogram_sparse_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_buckets),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_buckets_partition),
		cmocka_unit_test(test_index_monotonic),
		cmocka_unit_test(test_percentile_accuracy),
		cmocka_unit_test(test_percentile_rank),
		cmocka_unit_test(test_percentiles_one_pass),
		cmocka_unit_test(test_percentile_errors),
		cmocka_unit_test(test_add_n),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_pg_format),
		cmocka_unit_test(test_pg_worst_case_fits),
		cmocka_unit_test(test_pg_round_trip),
		cmocka_unit_test(test_pg_parse_accepts),
		cmocka_unit_test(test_pg_parse_rejects),
		cmocka_unit_test(test_pg_parse_overflow),
		cmocka_unit_test(test_sparse_empty),
		cmocka_unit_test(test_sparse_agrees_with_dense),
		cmocka_unit_test(test_sparse_every_bucket),
		cmocka_unit_test(test_sparse_merge),
		cmocka_unit_test(test_sparse_pg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
