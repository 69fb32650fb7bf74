// SPDX-License-Identifier: BSD-2-Clause
#include <stddef.h>

#include "decimal.h"

char *decimal_u64(char *p, uint64_t v)
{
	/* 10^0 .. 10^19 */
	static const uint64_t pow10[DECIMAL_U64_MAX] = {
		1ULL,
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
	/* "00" .. "99": two digits a division */
	static const char pairs[200] = "00010203040506070809"
				       "10111213141516171819"
				       "20212223242526272829"
				       "30313233343536373839"
				       "40414243444546474849"
				       "50515253545556575859"
				       "60616263646566676869"
				       "70717273747576777879"
				       "80818283848586878889"
				       "90919293949596979899";
	size_t n = 1, t;
	char *end;

	/* The count of digits first, so that they are written in place, the
	 * last ones first. With bits the length of v in binary, v has t =
	 * bits * log10(2) digits rounded down (1233 / 4096 is just above
	 * log10(2)), or t + 1 when v >= 10^t. */
	if (v) {
		t = ((size_t)(64 - __builtin_clzll(v)) * 1233) >> 12;
		n = t + (v >= pow10[t]);
	}
	end = p + n;
	while (v >= 100) {
		const char *d = pairs + 2 * (v % 100);

		v /= 100;
		p[--n] = d[1];
		p[--n] = d[0];
	}
	if (v >= 10) {
		p[1] = pairs[2 * v + 1];
		p[0] = pairs[2 * v];
	} else {
		p[0] = (char)('0' + v);
	}
	return end;
}
