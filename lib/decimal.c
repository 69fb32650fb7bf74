// SPDX-License-Identifier: BSD-2-Clause
#include <stddef.h>

#include "decimal.h"

char *decimal_u64(char *p, uint64_t v)
{
	/* 10^1 .. 10^19: the count of digits first, so that they are written
	 * in place, the last one first (no copy of a buffer of digits) */
	static const uint64_t pow10[DECIMAL_U64_MAX - 1] = {
		10ULL,
		100ULL,
		1000ULL,
		10000ULL,
		100000ULL,
		1000000ULL,
		10000000ULL,
		100000000ULL,
		1000000000ULL,
		10000000000ULL,
		100000000000ULL,
		1000000000000ULL,
		10000000000000ULL,
		100000000000000ULL,
		1000000000000000ULL,
		10000000000000000ULL,
		100000000000000000ULL,
		1000000000000000000ULL,
		10000000000000000000ULL,
	};
	size_t n = 1;
	char *end;

	while (n < DECIMAL_U64_MAX && v >= pow10[n - 1])
		n++;
	end = p + n;
	do {
		p[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}
