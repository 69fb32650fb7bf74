// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-money.c - exact decimal money (lib/money.h): parsing and printing
 * amounts, the ISO 4217 table, half-even rounding to minor units, and
 * quantities beyond 2^53 multiplied exactly. Amounts are compared as the
 * strings a user sees, and as integers where the value itself matters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/money.h"

#define SENTINEL ((__int128)0x5a5a5a5a5a5aLL)
#define MAX_TEXT "170141183460469231731687303.715884105727"

/* The amount of @s, which must parse. */
static __int128 amount(const char *s)
{
	__int128 v = SENTINEL;

	assert_int_equal(money_parse(s, &v), 0);
	return v;
}

/* @v as money_format_price() writes it, checked to parse back to @v. */
static void assert_price(__int128 v, const char *want)
{
	char buf[MONEY_STR_MAX];

	assert_int_equal(money_format_price(v, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
	assert_true(amount(buf) == v);
}

static void assert_format(__int128 v, unsigned int digits, const char *want)
{
	char buf[MONEY_STR_MAX];

	assert_int_equal(money_format(v, digits, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void assert_parse_error(const char *s, int err)
{
	__int128 v = SENTINEL;

	assert_int_equal(money_parse(s, &v), err);
	assert_true(v == SENTINEL);
}

static void test_parse(void **state)
{
	(void)state;
	assert_true(amount("0") == 0);
	assert_true(amount("12") == 12 * MONEY_SCALE);
	assert_true(amount("0.001") == 1000000000);
	assert_true(amount("-3.5") == -35 * MONEY_SCALE / 10);
	assert_true(amount("0.000000000001") == 1);
	assert_true(amount("1.000000000000") == MONEY_SCALE);
	assert_true(amount("-0") == 0);
	assert_true(amount("-0.000") == 0);
	assert_true(amount("007") == 7 * MONEY_SCALE);
	assert_true(amount("0.10") == MONEY_SCALE / 10);
	assert_true(amount("123456789.123456789012") ==
		    (__int128)123456789 * MONEY_SCALE + 123456789012LL);

	/* the whole range, and exactly its ends */
	assert_true(amount(MAX_TEXT) == MONEY_MAX);
	assert_true(amount("-" MAX_TEXT) == MONEY_MIN);
	assert_true(amount("170141183460469231731687303") ==
		    (MONEY_MAX / MONEY_SCALE) * MONEY_SCALE);
}

static void test_parse_errors(void **state)
{
	static const char *const garbage[] = {
		"",    "-",	"+1",	  "1e3",  "1E3",      " 1",   "1 ",    "1.",  ".5",
		"-.5", "1.2.3", "1,000",  "1,5",  "abc",      "0x10", "--1",   "1-",  "12a",
		"NaN", "inf",	"1.5e-3", "1._5", "\xc2\xbd", "0 .1", "1.0\n", "- 1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_parse_error(garbage[i], -EINVAL);

	/* 13 fractional digits: not a valid price, even when the 13th is 0 */
	assert_parse_error("0.0000000000001", -EINVAL);
	assert_parse_error("1.0000000000000", -EINVAL);
	assert_parse_error("-0.0000000000005", -EINVAL);

	/* one unit of 10^-12 beyond either end, and far beyond */
	assert_parse_error("170141183460469231731687303.715884105728", -ERANGE);
	assert_parse_error("-170141183460469231731687303.715884105728", -ERANGE);
	assert_parse_error("170141183460469231731687304", -ERANGE);
	assert_parse_error("340282366920938463463374607431768211456", -ERANGE);
	assert_parse_error("99999999999999999999999999999999999999999999999999999999999", -ERANGE);
	assert_parse_error("-99999999999999999999999999999999999999999999999999999999999", -ERANGE);
}

static void test_format_fixed_digits(void **state)
{
	char buf[MONEY_STR_MAX];

	(void)state;
	assert_format(amount("1.5"), 2, "1.50");
	assert_format(amount("1.5"), 1, "1.5");
	assert_format(amount("1.5"), 12, "1.500000000000");
	assert_format(amount("2"), 0, "2");
	assert_format(amount("50"), 2, "50.00");
	assert_format(amount("-1.5"), 2, "-1.50");
	assert_format(amount("-0.5"), 1, "-0.5");
	assert_format(amount("-0.05"), 2, "-0.05");
	assert_format(0, 2, "0.00");
	assert_format(0, 0, "0");
	assert_format(amount("-0"), 2, "0.00"); /* never "-0.00" */
	assert_format(1, 12, "0.000000000001");
	assert_format(MONEY_MAX, 12, MAX_TEXT);
	assert_format(MONEY_MIN, 12, "-" MAX_TEXT);
	/* below MONEY_MIN, the one __int128 without a positive twin, still prints */
	assert_format(MONEY_MIN - 1, 12, "-170141183460469231731687303.715884105728");

	/* never rounds: digits beyond frac_digits must be zero */
	assert_int_equal(money_format(amount("0.001"), 2, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(money_format(amount("2.5"), 0, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(money_format(amount("-0.015"), 2, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(money_format(1, 11, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(money_format(0, 13, buf, sizeof(buf)), -EINVAL);
}

static void test_format_buffer_size(void **state)
{
	char buf[MONEY_STR_MAX];

	(void)state;
	/* "-1.50" is 5 bytes plus its NUL */
	for (size_t size = 1; size <= 5; size++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(money_format(amount("-1.5"), 2, buf, size), -ENOSPC);
		assert_string_equal(buf, "");
	}
	assert_int_equal(money_format(amount("-1.5"), 2, buf, 0), -ENOSPC);
	assert_int_equal(money_format(amount("-1.5"), 2, buf, 6), 5);
	assert_string_equal(buf, "-1.50");

	assert_int_equal(money_format_price(amount("0.001"), buf, 5), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(money_format_price(amount("0.001"), buf, 6), 5);
	assert_int_equal(money_format_minor(5000, 2, buf, 5), -ENOSPC);
	assert_int_equal(money_format_minor(5000, 2, buf, 6), 5);

	/* the longest amount fits MONEY_STR_MAX */
	assert_int_equal(money_format(MONEY_MIN - 1, 12, buf, sizeof(buf)), 41);
	assert_true(41 < MONEY_STR_MAX);
}

static void test_format_price(void **state)
{
	(void)state;
	assert_price(amount("0.001"), "0.001");
	assert_price(amount("2"), "2");
	assert_price(amount("2.000"), "2");
	assert_price(amount("0.000000000001"), "0.000000000001");
	assert_price(amount("-3.5"), "-3.5");
	assert_price(amount("0.0005"), "0.0005");
	assert_price(amount("10.10"), "10.1");
	assert_price(amount("1000000"), "1000000");
	assert_price(amount("123456789.123456789012"), "123456789.123456789012");
	assert_price(0, "0");
	assert_price(MONEY_MAX, MAX_TEXT);
	assert_price(MONEY_MIN, "-" MAX_TEXT);
}

static void assert_currency(const char *code, const char *want_code, unsigned int want_digits)
{
	struct currency c;

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(money_currency(code, &c), 0);
	assert_string_equal(c.code, want_code);
	assert_int_equal(c.minor_digits, want_digits);
}

static void test_currency(void **state)
{
	static const char *const two[] = {
		"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "CNY", "INR", "BRL", "SEK",
		"NOK", "DKK", "PLN", "MXN", "SGD", "HKD", "NZD", "ZAR", "CZK", "HUF",
		"TRY", "ILS", "AED", "SAR", "THB", "TWD", "IDR", "PHP", "MYR", "RON",
	};
	static const char *const zero[] = { "JPY", "KRW", "CLP", "ISK", "VND", "PYG",
					    "UGX", "XAF", "XOF", "XPF", "BIF", "RWF" };
	static const char *const three[] = { "KWD", "BHD", "OMR", "JOD", "TND", "IQD", "LYD" };
	static const char *const unknown[] = {
		"XYZ", "US", "USDD", "", "U1D", "U D", "XAU", "XXX", "XTS", "XDR", "usd ", " usd",
	};
	struct currency c;

	(void)state;
	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
		assert_currency(two[i], two[i], 2);
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		assert_currency(zero[i], zero[i], 0);
	for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
		assert_currency(three[i], three[i], 3);
	assert_currency("CLF", "CLF", 4);

	/* any case in, upper case out */
	assert_currency("usd", "USD", 2);
	assert_currency("Eur", "EUR", 2);
	assert_currency("jpY", "JPY", 0);
	assert_currency("kwd", "KWD", 3);

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		assert_int_equal(money_currency(unknown[i], &c), -EINVAL);
		assert_int_equal(c.minor_digits, 0x5a5a5a5a);
	}
}

static void assert_round(const char *v, unsigned int digits, int64_t want)
{
	int64_t minor = -12345;

	assert_int_equal(money_round_minor(amount(v), digits, &minor), 0);
	assert_int_equal(minor, want);
}

static void test_round_half_even(void **state)
{
	int64_t minor = 77;

	(void)state;
	/* exact halves go to the even cent, which half-up would not */
	assert_round("0.005", 2, 0);
	assert_round("0.015", 2, 2);
	assert_round("0.025", 2, 2);
	assert_round("0.035", 2, 4);
	assert_round("0.045", 2, 4);
	assert_round("1.005", 2, 100);
	assert_round("1.115", 2, 112);
	/* not a half: nearest */
	assert_round("0.004999999999", 2, 0);
	assert_round("0.005000000001", 2, 1);
	assert_round("0.025000000001", 2, 3);
	assert_round("0.014", 2, 1);
	assert_round("0.016", 2, 2);
	assert_round("0.01", 2, 1);
	assert_round("0", 2, 0);
	/* negative amounts mirror positive ones */
	assert_round("-0.005", 2, 0);
	assert_round("-0.015", 2, -2);
	assert_round("-0.025", 2, -2);
	assert_round("-0.026", 2, -3);
	assert_round("-0.004", 2, 0);
	/* JPY: 0 digits */
	assert_round("0.5", 0, 0);
	assert_round("1.5", 0, 2);
	assert_round("2.5", 0, 2);
	assert_round("2.500000000001", 0, 3);
	assert_round("-2.5", 0, -2);
	/* KWD: 3 digits */
	assert_round("0.0005", 3, 0);
	assert_round("0.0015", 3, 2);
	assert_round("0.0025", 3, 2);
	assert_round("1.2345", 3, 1234);
	/* 12 digits: the amount itself */
	assert_round("0.000000000001", 12, 1);
	assert_round("-1.5", 12, -1500000000000LL);

	assert_int_equal(money_round_minor(0, 13, &minor), -EINVAL);
	assert_int_equal(minor, 77);
}

static void test_round_range(void **state)
{
	int64_t minor = 77;

	(void)state;
	assert_round("92233720368547758.07", 2, INT64_MAX);
	assert_round("-92233720368547758.08", 2, INT64_MIN);
	assert_round("92233720368547758.074", 2, INT64_MAX);
	assert_int_equal(money_round_minor(amount("92233720368547758.075"), 2, &minor), -ERANGE);
	assert_int_equal(money_round_minor(amount("92233720368547758.08"), 2, &minor), -ERANGE);
	assert_int_equal(money_round_minor(amount("-92233720368547758.09"), 2, &minor), -ERANGE);
	assert_int_equal(money_round_minor(MONEY_MAX, 0, &minor), -ERANGE);
	assert_int_equal(money_round_minor(MONEY_MIN, 2, &minor), -ERANGE);
	assert_int_equal(minor, 77);
	/* 10^7 units at 12 digits is already beyond int64 */
	assert_int_equal(money_round_minor(amount("10000000"), 12, &minor), -ERANGE);
}

static void assert_minor(int64_t minor, unsigned int digits, const char *want)
{
	char buf[MONEY_STR_MAX];
	__int128 v;

	assert_int_equal(money_format_minor(minor, digits, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
	/* and back: the amount of those minor units, exactly */
	assert_int_equal(money_from_minor(minor, digits, &v), 0);
	assert_true(v == amount(want));
}

static void test_format_minor(void **state)
{
	char buf[MONEY_STR_MAX];
	__int128 v = SENTINEL;

	(void)state;
	assert_minor(2, 2, "0.02");
	assert_minor(5000, 2, "50.00");
	assert_minor(2, 0, "2");
	assert_minor(-150, 2, "-1.50");
	assert_minor(-5, 2, "-0.05");
	assert_minor(0, 2, "0.00");
	assert_minor(0, 0, "0");
	assert_minor(1234, 3, "1.234");
	assert_minor(5, 3, "0.005");
	assert_minor(1, 4, "0.0001");
	assert_minor(INT64_MAX, 2, "92233720368547758.07");
	assert_minor(INT64_MIN, 2, "-92233720368547758.08");
	assert_minor(INT64_MIN, 0, "-9223372036854775808");
	assert_minor(INT64_MAX, 12, "9223372.036854775807");
	assert_int_equal(money_format_minor(1, 13, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(money_from_minor(1, 13, &v), -EINVAL);
	assert_true(v == SENTINEL);
}

static void assert_product(uint64_t qty, const char *price, const char *want)
{
	__int128 v = SENTINEL;

	assert_int_equal(money_mul_qty(qty, amount(price), &v), 0);
	assert_price(v, want);
}

static void test_mul_qty(void **state)
{
	__int128 v = SENTINEL;

	(void)state;
	assert_product(5, "0.001", "0.005");
	assert_product(0, "0.001", "0");
	assert_product(9000, "0.001", "9");
	assert_product(3, "-0.5", "-1.5");
	/* beyond 2^53, where a double would drop units */
	assert_product(1ULL << 60, "0.000000000001", "1152921.504606846976");
	assert_product((1ULL << 53) + 1, "0.001", "9007199254740.993");
	assert_product(UINT64_MAX, "0.000000000001", "18446744.073709551615");
	assert_product(UINT64_MAX, "1", "18446744073709551615");
	assert_product(UINT64_MAX, "1000000", "18446744073709551615000000");

	/* overflow is an error, not a wrap */
	assert_int_equal(money_mul_qty(UINT64_MAX, MONEY_MAX, &v), -ERANGE);
	assert_int_equal(money_mul_qty(UINT64_MAX, amount("10000000000"), &v), -ERANGE);
	assert_int_equal(money_mul_qty(UINT64_MAX, amount("-10000000000"), &v), -ERANGE);
	assert_int_equal(money_mul_qty(2, MONEY_MIN, &v), -ERANGE);
	assert_true(v == SENTINEL);
	assert_int_equal(money_mul_qty(1, MONEY_MAX, &v), 0);
	assert_true(v == MONEY_MAX);
}

static void test_add(void **state)
{
	__int128 v = SENTINEL;

	(void)state;
	assert_int_equal(money_add(amount("0.1"), amount("0.2"), &v), 0);
	assert_price(v, "0.3"); /* as it should, unlike 0.1 + 0.2 in binary */
	assert_int_equal(money_add(amount("1"), amount("-1.5"), &v), 0);
	assert_price(v, "-0.5");
	v = SENTINEL;
	assert_int_equal(money_add(MONEY_MAX, 1, &v), -ERANGE);
	assert_int_equal(money_add(MONEY_MIN, -1, &v), -ERANGE);
	assert_true(v == SENTINEL);
	assert_int_equal(money_add(MONEY_MAX, MONEY_MIN, &v), 0);
	assert_true(v == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_format_fixed_digits),
		cmocka_unit_test(test_format_buffer_size),
		cmocka_unit_test(test_format_price),
		cmocka_unit_test(test_currency),
		cmocka_unit_test(test_round_half_even),
		cmocka_unit_test(test_round_range),
		cmocka_unit_test(test_format_minor),
		cmocka_unit_test(test_mul_qty),
		cmocka_unit_test(test_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
