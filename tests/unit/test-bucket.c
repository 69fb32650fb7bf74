/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-bucket.c - bpf/lib/bucket.h, compiled as the BPF side compiles it
 * (the lock is a no-op here: one thread): refill credits exactly
 * floor(whole µs x rate / 10^6) in both of its branches, carries what is
 * below a microsecond, caps at the burst and after TG_ELAPSED_CAP_NS, and
 * ignores a clock that goes backwards; take, charge and refund keep the
 * scopes' rules.
 */
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "bpf/tollgate_abi.h"
#define bpf_spin_lock(l) ((void)(l))
#define bpf_spin_unlock(l) ((void)(l))
#include "bpf/lib/bucket.h"

/* What refill must credit for @elapsed ns at @rate_fp, in 128 bits. */
static __u64 credit_ref(__u64 elapsed, __u64 rate_fp)
{
	unsigned __int128 us = elapsed / 1000;

	return (__u64)(us * rate_fp / 1000000);
}

/* xorshift64*, seeded: the same cases every run */
static __u64 rnd(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Both branches (under a second and from a second up to the cap) credit
 * what 128-bit arithmetic gives, and move last_ns by whole µs only. */
static void test_refill_exact(void **state)
{
	const __u64 rates[] = { 1, TG_TOKEN_ONE / 3, TG_TOKEN_ONE, 5 * TG_TOKEN_ONE,
				1000 * TG_TOKEN_ONE, 1000000 * TG_TOKEN_ONE,
				(__u64)(12345.678 * TG_TOKEN_ONE) };
	const __u64 edges[] = { 0, 1, 999, 1000, 1001, 999999999, 1000000000, 1000000999,
				1000001000, 59999999999ULL, TG_ELAPSED_CAP_NS - 1 };
	__u64 seed = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		for (int i = 0; i < 20000; i++) {
			__u64 elapsed, tokens = 0, last = 5000000000ULL, want;

			if (i < (int)(sizeof(edges) / sizeof(edges[0])))
				elapsed = edges[i];
			else if (i & 1)
				elapsed = rnd(&seed) % 1000000000ULL; /* under a second */
			else
				elapsed = rnd(&seed) % TG_ELAPSED_CAP_NS;
			want = credit_ref(elapsed, rates[r]);
			tg_refill(&tokens, &last, 5000000000ULL + elapsed, rates[r], UINT64_MAX);
			assert_int_equal(tokens, want);
			if (want)
				assert_int_equal(last, 5000000000ULL + elapsed / 1000 * 1000);
			else /* nothing credited: the time is kept for the next */
				assert_int_equal(last, 5000000000ULL);
		}
	}
}

/* Refills a few µs apart add up to one refill over the whole time, less
 * under one fixed-point unit per refill: the sub-µs rest is carried (a
 * refill every 1.7 µs on a 1000/s bucket keeps 99.5 % of the rate). */
static void test_refill_carries_sub_microsecond(void **state)
{
	const __u64 rate = 1000 * TG_TOKEN_ONE; /* 1000 requests/s */
	__u64 tokens = 0, last = 0, now = 0, steps = 0;

	(void)state;
	while (now < 2000000000ULL) { /* 2 s in steps of 1.7 µs */
		now += 1700;
		tg_refill(&tokens, &last, now, rate, UINT64_MAX);
		steps++;
	}
	assert_true(tokens <= credit_ref(now, rate));
	assert_true(credit_ref(now, rate) - tokens < steps);
	assert_true(tokens >= credit_ref(now, rate) / 1000 * 995);
}

static void test_refill_caps_and_clock(void **state)
{
	__u64 tokens = 7, last = 1000000;

	(void)state;
	/* a clock behind last: no time passed */
	tg_refill(&tokens, &last, 999999, TG_TOKEN_ONE, 100 * TG_TOKEN_ONE);
	assert_int_equal(tokens, 7);
	assert_int_equal(last, 1000000);
	tg_refill(&tokens, &last, 1000000, TG_TOKEN_ONE, 100 * TG_TOKEN_ONE);
	assert_int_equal(tokens, 7);
	/* never above the burst */
	tg_refill(&tokens, &last, 1000000 + 500000000000ULL, 1000 * TG_TOKEN_ONE,
		  100 * TG_TOKEN_ONE);
	assert_int_equal(tokens, 100 * TG_TOKEN_ONE);
	/* an hour or more: the burst, whatever the rate, and last = now */
	tokens = 0;
	last = 0;
	tg_refill(&tokens, &last, TG_ELAPSED_CAP_NS, UINT64_MAX / 2, 3 * TG_TOKEN_ONE);
	assert_int_equal(tokens, 3 * TG_TOKEN_ONE);
	assert_int_equal(last, TG_ELAPSED_CAP_NS);
}

static void test_take_host_scope(void **state)
{
	struct tg_plan plan = { .rate_fp = 2 * TG_TOKEN_ONE, .burst_fp = 2 * TG_TOKEN_ONE };
	struct tg_bucket b = { .tokens_fp = 2 * TG_TOKEN_ONE, .last_ns = 1000 };
	__u32 wait = 0;

	(void)state;
	assert_int_equal(tg_bucket_take(&b, &plan, 1000, &wait), TG_V_ADMITTED);
	assert_int_equal(tg_bucket_take(&b, &plan, 1000, &wait), TG_V_ADMITTED);
	assert_int_equal(tg_bucket_take(&b, &plan, 1000, &wait), TG_V_OVER_LIMIT);
	assert_int_equal(wait, 1); /* half a second at 2/s, rounded up */
	assert_int_equal(b.consumed_total, 2);
	/* 0.6 s later: one token back */
	assert_int_equal(tg_bucket_take(&b, &plan, 1000 + 600000000ULL, &wait), TG_V_ADMITTED);
	assert_int_equal(b.consumed_total, 3);
	tg_bucket_refund(&b, &plan);
	assert_int_equal(b.consumed_total, 2);
	assert_true(b.tokens_fp >= TG_TOKEN_ONE);
	tg_bucket_charge(&b, &plan, 1000 + 600000000ULL);
	assert_int_equal(b.consumed_total, 3);
	tg_bucket_charge(&b, &plan, 1000 + 600000000ULL); /* empty, never negative */
	assert_int_equal(b.tokens_fp, 0);

	b.flags = TG_BUCKET_QUOTA_EXHAUSTED;
	b.quota_retry_s = 42;
	assert_int_equal(tg_bucket_take(&b, &plan, 2000000000ULL, &wait), TG_V_QUOTA_EXHAUSTED);
	assert_int_equal(wait, 42);
}

static void test_take_global_scope(void **state)
{
	struct tg_plan plan = { .flags = TG_PLAN_GLOBAL, .rate_fp = TG_TOKEN_ONE,
				.burst_fp = TG_TOKEN_ONE };
	struct tg_bucket b = { .granted_total = 2, .last_ns = 0 };
	__u32 wait = 0;

	(void)state;
	/* the kernel never refills in global scope: leases only */
	assert_int_equal(tg_bucket_take(&b, &plan, 10000000000ULL, &wait), TG_V_ADMITTED);
	assert_int_equal(tg_bucket_take(&b, &plan, 20000000000ULL, &wait), TG_V_ADMITTED);
	assert_int_equal(tg_bucket_take(&b, &plan, 30000000000ULL, &wait), TG_V_OVER_LIMIT);
	assert_int_equal(b.tokens_fp, 0);
	assert_int_equal(b.consumed_total, 2);
	b.granted_total++;
	assert_int_equal(tg_bucket_take(&b, &plan, 30000000000ULL, &wait), TG_V_ADMITTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refill_exact),
		cmocka_unit_test(test_refill_carries_sub_microsecond),
		cmocka_unit_test(test_refill_caps_and_clock),
		cmocka_unit_test(test_take_host_scope),
		cmocka_unit_test(test_take_global_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
