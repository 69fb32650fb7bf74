// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>

#include "decimal.h"

char *decimal_u64(char *p, uint64_t v)
{
	char digits[DECIMAL_U64_MAX];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(p, digits + n, sizeof(digits) - n);
	return p + sizeof(digits) - n;
}
