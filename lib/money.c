// SPDX-License-Identifier: BSD-2-Clause
/*
 * money.c - exact decimal money (see money.h).
 *
 * Everything is integer arithmetic on __int128 with the overflow builtins;
 * text is produced digit by digit because printf has no conversion for
 * 128-bit integers.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "money.h"

static const struct currency currencies[] = {
	{ "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 }, { "ANG", 2 }, { "AOA", 2 },
	{ "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 }, { "AZN", 2 }, { "BAM", 2 }, { "BBD", 2 },
	{ "BDT", 2 }, { "BGN", 2 }, { "BHD", 3 }, { "BIF", 0 }, { "BMD", 2 }, { "BND", 2 },
	{ "BOB", 2 }, { "BOV", 2 }, { "BRL", 2 }, { "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 },
	{ "BYN", 2 }, { "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHE", 2 }, { "CHF", 2 },
	{ "CHW", 2 }, { "CLF", 4 }, { "CLP", 0 }, { "CNY", 2 }, { "COP", 2 }, { "COU", 2 },
	{ "CRC", 2 }, { "CUP", 2 }, { "CVE", 2 }, { "CZK", 2 }, { "DJF", 0 }, { "DKK", 2 },
	{ "DOP", 2 }, { "DZD", 2 }, { "EGP", 2 }, { "ERN", 2 }, { "ETB", 2 }, { "EUR", 2 },
	{ "FJD", 2 }, { "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 }, { "GIP", 2 },
	{ "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 }, { "GYD", 2 }, { "HKD", 2 }, { "HNL", 2 },
	{ "HTG", 2 }, { "HUF", 2 }, { "IDR", 2 }, { "ILS", 2 }, { "INR", 2 }, { "IQD", 3 },
	{ "IRR", 2 }, { "ISK", 0 }, { "JMD", 2 }, { "JOD", 3 }, { "JPY", 0 }, { "KES", 2 },
	{ "KGS", 2 }, { "KHR", 2 }, { "KMF", 0 }, { "KPW", 2 }, { "KRW", 0 }, { "KWD", 3 },
	{ "KYD", 2 }, { "KZT", 2 }, { "LAK", 2 }, { "LBP", 2 }, { "LKR", 2 }, { "LRD", 2 },
	{ "LSL", 2 }, { "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 }, { "MGA", 2 }, { "MKD", 2 },
	{ "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 }, { "MRU", 2 }, { "MUR", 2 }, { "MVR", 2 },
	{ "MWK", 2 }, { "MXN", 2 }, { "MXV", 2 }, { "MYR", 2 }, { "MZN", 2 }, { "NAD", 2 },
	{ "NGN", 2 }, { "NIO", 2 }, { "NOK", 2 }, { "NPR", 2 }, { "NZD", 2 }, { "OMR", 3 },
	{ "PAB", 2 }, { "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 }, { "PKR", 2 }, { "PLN", 2 },
	{ "PYG", 0 }, { "QAR", 2 }, { "RON", 2 }, { "RSD", 2 }, { "RUB", 2 }, { "RWF", 0 },
	{ "SAR", 2 }, { "SBD", 2 }, { "SCR", 2 }, { "SDG", 2 }, { "SEK", 2 }, { "SGD", 2 },
	{ "SHP", 2 }, { "SLE", 2 }, { "SOS", 2 }, { "SRD", 2 }, { "SSP", 2 }, { "STN", 2 },
	{ "SVC", 2 }, { "SYP", 2 }, { "SZL", 2 }, { "THB", 2 }, { "TJS", 2 }, { "TMT", 2 },
	{ "TND", 3 }, { "TOP", 2 }, { "TRY", 2 }, { "TTD", 2 }, { "TWD", 2 }, { "TZS", 2 },
	{ "UAH", 2 }, { "UGX", 0 }, { "USD", 2 }, { "USN", 2 }, { "UYI", 0 }, { "UYU", 2 },
	{ "UYW", 4 }, { "UZS", 2 }, { "VED", 2 }, { "VES", 2 }, { "VND", 0 }, { "VUV", 0 },
	{ "WST", 2 }, { "XAF", 0 }, { "XCD", 2 }, { "XCG", 2 }, { "XOF", 0 }, { "XPF", 0 },
	{ "YER", 2 }, { "ZAR", 2 }, { "ZMW", 2 }, { "ZWG", 2 },
};

#define N_CURRENCIES (sizeof(currencies) / sizeof(currencies[0]))

/* 10^n for n <= 38 */
static unsigned __int128 pow10_u128(unsigned int n)
{
	unsigned __int128 p = 1;

	while (n--)
		p *= 10;
	return p;
}

int money_parse(const char *s, __int128 *ret)
{
	unsigned __int128 mag = 0;
	unsigned int frac = 0;
	bool negative = false;
	const char *p = s;

	if (*p == '-') {
		negative = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* MONEY_MAX / MONEY_SCALE bounds the integer part; checked again below */
		if (mag > (unsigned __int128)MONEY_MAX / 10)
			return -ERANGE;
		mag = mag * 10 + (unsigned int)(*p - '0');
	}
	if (mag > (unsigned __int128)(MONEY_MAX / MONEY_SCALE))
		return -ERANGE;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++frac > MONEY_SCALE_DIGITS)
				return -EINVAL;
			mag = mag * 10 + (unsigned int)(*p - '0');
		}
	}
	if (*p != '\0')
		return -EINVAL;

	/* the integer part times 10^12 fits (checked above); the fraction may not */
	mag *= pow10_u128(MONEY_SCALE_DIGITS - frac);
	if (mag > (unsigned __int128)MONEY_MAX)
		return -ERANGE;
	*ret = negative ? -(__int128)mag : (__int128)mag;
	return 0;
}

/* |v| as unsigned, also for INT128_MIN */
static unsigned __int128 magnitude(__int128 v)
{
	return v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
}

/*
 * Write @v with @frac_digits fractional digits, dropping the lowest
 * 12 - @frac_digits digits, which the callers have checked are zero.
 */
static int format_digits(__int128 v, unsigned int frac_digits, char *buf, size_t size)
{
	unsigned __int128 mag = magnitude(v) / pow10_u128(MONEY_SCALE_DIGITS - frac_digits);
	char tmp[MONEY_STR_MAX];
	size_t n = sizeof(tmp), len;
	unsigned int i;

	/* backwards from the last digit: fraction, '.', at least one integer digit */
	for (i = 0; i < frac_digits; i++) {
		tmp[--n] = (char)('0' + (unsigned int)(mag % 10));
		mag /= 10;
	}
	if (frac_digits > 0)
		tmp[--n] = '.';
	do {
		tmp[--n] = (char)('0' + (unsigned int)(mag % 10));
		mag /= 10;
	} while (mag);
	if (v < 0)
		tmp[--n] = '-';

	len = sizeof(tmp) - n;
	if (len >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, tmp + n, len);
	buf[len] = '\0';
	return (int)len;
}

int money_format(__int128 v, unsigned int frac_digits, char *buf, size_t size)
{
	if (frac_digits > MONEY_SCALE_DIGITS)
		return -EINVAL;
	if (magnitude(v) % pow10_u128(MONEY_SCALE_DIGITS - frac_digits))
		return -ERANGE;
	return format_digits(v, frac_digits, buf, size);
}

int money_format_price(__int128 v, char *buf, size_t size)
{
	unsigned __int128 mag = magnitude(v);
	unsigned int frac_digits = MONEY_SCALE_DIGITS;

	while (frac_digits > 0 && mag % 10 == 0) {
		mag /= 10;
		frac_digits--;
	}
	return format_digits(v, frac_digits, buf, size);
}

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int money_currency(const char *code, struct currency *ret)
{
	char upper[4];

	for (size_t i = 0; i < 3; i++) {
		upper[i] = ascii_upper(code[i]);
		if (upper[i] < 'A' || upper[i] > 'Z')
			return -EINVAL;
	}
	if (code[3] != '\0')
		return -EINVAL;
	upper[3] = '\0';

	for (size_t i = 0; i < N_CURRENCIES; i++) {
		if (!memcmp(currencies[i].code, upper, sizeof(upper))) {
			*ret = currencies[i];
			return 0;
		}
	}
	return -EINVAL;
}

int money_round_minor(__int128 v, unsigned int minor_digits, int64_t *ret_minor)
{
	__int128 unit, q, r;

	if (minor_digits > MONEY_SCALE_DIGITS)
		return -EINVAL;
	unit = (__int128)pow10_u128(MONEY_SCALE_DIGITS - minor_digits);
	q = v / unit; /* truncates toward zero */
	r = v % unit; /* carries the sign of v */
	if (r < 0)
		r = -r;
	/* more than half away from zero, or exactly half with an odd quotient */
	if (2 * r > unit || (2 * r == unit && (q & 1)))
		q += v < 0 ? -1 : 1;
	if (q > INT64_MAX || q < INT64_MIN)
		return -ERANGE;
	*ret_minor = (int64_t)q;
	return 0;
}

int money_from_minor(int64_t minor, unsigned int minor_digits, __int128 *ret)
{
	if (minor_digits > MONEY_SCALE_DIGITS)
		return -EINVAL;
	/* |int64| * 10^12 < 2^63 * 2^40, far inside MONEY_MAX */
	*ret = (__int128)minor * (__int128)pow10_u128(MONEY_SCALE_DIGITS - minor_digits);
	return 0;
}

int money_format_minor(int64_t minor, unsigned int minor_digits, char *buf, size_t size)
{
	__int128 v;
	int r;

	r = money_from_minor(minor, minor_digits, &v);
	if (r < 0)
		return r;
	return format_digits(v, minor_digits, buf, size);
}

int money_mul_qty(uint64_t quantity, __int128 unit_price, __int128 *ret)
{
	__int128 product;

	if (__builtin_mul_overflow((__int128)quantity, unit_price, &product) || product < MONEY_MIN)
		return -ERANGE;
	*ret = product;
	return 0;
}

int money_add(__int128 a, __int128 b, __int128 *ret)
{
	__int128 sum;

	if (__builtin_add_overflow(a, b, &sum) || sum < MONEY_MIN)
		return -ERANGE;
	*ret = sum;
	return 0;
}
