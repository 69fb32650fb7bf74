/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * money.h - exact decimal money (DESIGN §6): amounts and unit prices as fixed
 * point, ISO 4217 currencies, and rounding to a currency's minor unit.
 *
 * An amount is a plain signed `__int128` counting 10^-12 of a currency unit
 * (MONEY_SCALE per unit): "0.001" is 10^9, "1" is 10^12, the smallest unit
 * price "0.000000000001" is 1. There is no wrapper struct: the value is the
 * amount, compared and added as an integer (with the overflow-checked helpers
 * below where the operands come from users). Amounts lie in
 * [MONEY_MIN, MONEY_MAX], symmetric around zero so that negating one never
 * overflows; that is about +-1.7e26 currency units.
 *
 * Binary floating point never appears: a double cannot hold 0.001, and a sum
 * of 10^6 such prices drifts. Strings are the only exchange format (JSON
 * carries money as decimal strings, never numbers).
 *
 * An invoice amount is an integer count of the currency's minor unit (cents
 * for USD, yen for JPY, fils for KWD) held in an int64_t; money_round_minor()
 * gets there from an amount, rounding half to even, and money_format_minor()
 * writes it with exactly the currency's digits ("0.02", "50.00", JPY "2").
 */
#ifndef TG_LIB_MONEY_H
#define TG_LIB_MONEY_H

#include <stddef.h>
#include <stdint.h>

#define MONEY_SCALE_DIGITS 12
#define MONEY_SCALE ((__int128)1000000000000LL) /* 10^MONEY_SCALE_DIGITS */
#define MONEY_MAX ((__int128)(((unsigned __int128)1 << 127) - 1))
#define MONEY_MIN (-MONEY_MAX)
/* Any amount as text with its NUL: "-170141183460469231731687303.715884105727". */
#define MONEY_STR_MAX 48

/* An ISO 4217 currency. */
struct currency {
	char code[4];		   /* alphabetic code, upper case, NUL-terminated: "USD" */
	unsigned int minor_digits; /* decimal digits of the minor unit: USD 2, JPY 0, KWD 3 */
};

/*
 * money_parse() - parse the decimal string @s into an amount.
 *
 * Grammar: an optional '-', one or more digits, then optionally '.' and 1 to
 * MONEY_SCALE_DIGITS digits: "12", "0.001", "-3.5", "0.000000000001", "007"
 * (leading zeros are accepted). Nothing else: no '+', no exponent, no spaces,
 * no "5." or ".5", no thousands separators. "-0" is 0.
 * Returns 0; -EINVAL if @s does not follow the grammar, including more than
 * 12 fractional digits (even trailing zeros: such a string is not a valid
 * price, rather than one to be rounded); -ERANGE if the value lies outside
 * [MONEY_MIN, MONEY_MAX]. @ret is written only on success.
 */
int money_parse(const char *s, __int128 *ret);

/*
 * money_format() - write the amount @v with exactly @frac_digits (0 to 12)
 * fractional digits into @buf (@size bytes, MONEY_STR_MAX always fits),
 * NUL-terminated: money_format(1500000000000, 2) is "1.50", with 0 digits
 * "2" (no '.'); negative amounts start with '-', zero is never "-0".
 *
 * This never rounds: an amount with non-zero digits beyond @frac_digits is
 * -ERANGE (round with money_round_minor() first). Returns the length without
 * the NUL; -EINVAL if @frac_digits is above 12; -ERANGE as said; -ENOSPC if
 * @buf is too small (it then holds "" when @size > 0).
 */
int money_format(__int128 v, unsigned int frac_digits, char *buf, size_t size);

/*
 * money_format_price() - write the amount @v with its trailing fractional
 * zeros trimmed, as unit prices are shown: "0.001", "2", "0.000000000001",
 * "-3.5". The output parses back to @v with money_parse(). Returns the length,
 * or -ENOSPC as money_format().
 */
int money_format_price(__int128 v, char *buf, size_t size);

/*
 * money_currency() - look up the ISO 4217 alphabetic code @code, matched
 * case-insensitively ("usd", "Eur"). The table holds the active ISO 4217
 * currencies with their minor-unit digits (most 2; BIF CLP DJF GNF ISK JPY
 * KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF 0; BHD IQD JOD KWD LYD OMR TND
 * 3; CLF UYW 4); codes without a minor unit (gold, SDR, test codes) are not
 * currencies here. @ret gets the upper-case code. Returns 0, or -EINVAL for
 * anything else (@ret untouched).
 */
int money_currency(const char *code, struct currency *ret);

/*
 * money_round_minor() - round the amount @v to @minor_digits (0 to 12)
 * fractional digits, half to even ("banker's rounding", so half-cent lines do
 * not all round up: 0.005 -> 0, 0.015 -> 2, 0.025 -> 2 cents, -0.015 -> -2),
 * and give the result as an integer count of minor units in @ret_minor.
 * Returns 0; -EINVAL if @minor_digits is above 12; -ERANGE if the result does
 * not fit an int64_t (@ret_minor untouched on failure).
 */
int money_round_minor(__int128 v, unsigned int minor_digits, int64_t *ret_minor);

/*
 * money_from_minor() - the amount of @minor minor units of a currency with
 * @minor_digits (0 to 12) digits: (1234, 2) is 12.34. Always exact. Returns
 * 0, or -EINVAL if @minor_digits is above 12.
 */
int money_from_minor(int64_t minor, unsigned int minor_digits, __int128 *ret);

/*
 * money_format_minor() - write @minor minor units with exactly @minor_digits
 * (0 to 12) fractional digits, as invoice amounts are shown: (2, 2) "0.02",
 * (5000, 2) "50.00", (2, 0) "2", (-150, 2) "-1.50", (1234, 3) "1.234".
 * Returns the length; -EINVAL if @minor_digits is above 12; -ENOSPC as
 * money_format().
 */
int money_format_minor(int64_t minor, unsigned int minor_digits, char *buf, size_t size);

/*
 * money_mul_qty() - @quantity units at @unit_price each, exactly: any uint64_t
 * quantity (also beyond 2^53, where a double would lose units) times any
 * amount. Returns 0, or -ERANGE if the product lies outside
 * [MONEY_MIN, MONEY_MAX] (@ret untouched).
 */
int money_mul_qty(uint64_t quantity, __int128 unit_price, __int128 *ret);

/*
 * money_add() - @a + @b into @ret. Returns 0, or -ERANGE if the sum lies
 * outside [MONEY_MIN, MONEY_MAX] (@ret untouched).
 */
int money_add(__int128 a, __int128 b, __int128 *ret);

#endif /* TG_LIB_MONEY_H */
