// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-decimal.c - decimal_u64() (lib/decimal.h) against snprintf's "%llu"
 * at the edges (0, every power of ten and the values beside it, every power
 * of two and the value before it, UINT64_MAX) and on pseudo-random values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/decimal.h"

static void check(uint64_t v)
{
	char got[DECIMAL_U64_MAX + 1] = { 0 }, want[32];
	char *end = decimal_u64(got, v);

	snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
	assert_int_equal(end - got, (long)strlen(want));
	assert_string_equal(got, want);
}

static void test_edges(void **state)
{
	uint64_t p = 1;

	(void)state;
	check(0);
	check(UINT64_MAX);
	for (int i = 0; i < 20; i++, p *= 10) {
		check(p);
		check(p - 1);
		check(p + 1);
	}
	/* the digit count starts from the binary magnitude */
	for (int i = 0; i < 64; i++) {
		check(1ULL << i);
		check((1ULL << i) - 1);
		check(((1ULL << i) - 1) | (1ULL << i));
	}
}

static void test_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check(x >> (i % 64));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
