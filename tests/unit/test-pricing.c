// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-pricing.c - the pricing engine (lib/pricing.h, DESIGN §6): the invoice
 * lines and totals a period's usage costs on graduated and volume plans,
 * rounded half-even per line to the currency's minor unit; plans read from
 * the REST API's JSON with errors naming the param; and adjustment lines for
 * late units. Amounts are asserted as the strings an invoice shows.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/pricing.h"

/* What one invoice line should be; amounts as the invoice prints them. */
struct want_line {
	enum invoice_line_kind kind;
	unsigned int tier;
	uint64_t quantity;
	const char *unit_price;
	const char *amount;
};

static __int128 amount(const char *s)
{
	__int128 v = 0;

	assert_int_equal(money_parse(s, &v), 0);
	return v;
}

static void plan_init(struct pricing_plan *p, const char *name, const char *currency,
		      enum pricing_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->plan_id = 7;
	snprintf(p->name, sizeof(p->name), "%s", name);
	assert_int_equal(money_currency(currency, &p->currency), 0);
	p->mode = mode;
}

/* Append a tier; up_to 0 makes it unbounded. */
static void add_tier(struct pricing_plan *p, uint64_t up_to, const char *unit_price,
		     const char *flat_price)
{
	struct pricing_tier *t = &p->tiers[p->n_tiers++];

	t->unbounded = up_to == 0;
	t->up_to = up_to;
	t->unit_price = amount(unit_price);
	t->flat_price = amount(flat_price);
}

/* The seed plan: the first N = 1000 units free, the next M = 9000 at 0.001 USD, beyond at 0.0005.
 */
static void seed_plan(struct pricing_plan *p, enum pricing_mode mode)
{
	plan_init(p, "Pro", "USD", mode);
	add_tier(p, 1000, "0", "0");
	add_tier(p, 10000, "0.001", "0");
	add_tier(p, 0, "0.0005", "0");
}

/* A plan with a single unbounded tier at @unit_price. */
static void flat_rate_plan(struct pricing_plan *p, const char *currency, const char *unit_price)
{
	plan_init(p, "Metered", currency, PRICING_GRADUATED);
	add_tier(p, 0, unit_price, "0");
}

static const char *minor_text(const struct pricing_plan *p, int64_t minor, char *buf)
{
	assert_true(money_format_minor(minor, p->currency.minor_digits, buf, MONEY_STR_MAX) > 0);
	return buf;
}

/*
 * Price @usage on @p and compare every line with @want and the total with
 * @total; the lines are left in @ret_lines if it is not NULL.
 */
static void check_price(const struct pricing_plan *p, uint64_t usage, const struct want_line *want,
			size_t n_want, const char *total, struct invoice_line *ret_lines)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	char buf[MONEY_STR_MAX];
	int64_t sum = -1;
	size_t n = 999;

	assert_int_equal(pricing_price(p, usage, lines, PRICING_MAX_LINES, &n), 0);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++) {
		char price[MONEY_STR_MAX];

		assert_int_equal(lines[i].plan_id, p->plan_id);
		assert_int_equal(lines[i].kind, want[i].kind);
		assert_int_equal(lines[i].tier, want[i].tier);
		assert_int_equal(lines[i].quantity, want[i].quantity);
		assert_true(money_format_price(lines[i].unit_price, price, sizeof(price)) > 0);
		assert_string_equal(price, want[i].unit_price);
		assert_string_equal(minor_text(p, lines[i].amount_minor, buf), want[i].amount);
		assert_true(lines[i].description[0] != '\0');
	}
	assert_int_equal(pricing_total(lines, n, &sum), 0);
	assert_string_equal(minor_text(p, sum, buf), total);
	if (ret_lines)
		memcpy(ret_lines, lines, n * sizeof(lines[0]));
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define TIER INVOICE_LINE_TIER
#define FLAT INVOICE_LINE_TIER_FLAT
#define FEE INVOICE_LINE_PERIOD_FEE

/* ---- graduated ---------------------------------------------------------- */

static void test_graduated_seed(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	seed_plan(&p, PRICING_GRADUATED);

	/* no usage, no lines, nothing to pay */
	check_price(&p, 0, NULL, 0, "0.00", NULL);

	/* N: the free tier, shown at 0 */
	check_price(&p, 1000, (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" } }, 1,
		    "0.00", lines);
	assert_string_equal(lines[0].description, "Pro: tier 1, units 1-1000 at 0 USD");

	/* N + 1: one unit at 0.001 = 0.001, rounds to 0.00 */
	check_price(&p, 1001,
		    (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 1, "0.001", "0.00" } },
		    2, "0.00", lines);
	assert_string_equal(lines[1].description, "Pro: tier 2, units 1001-10000 at 0.001 USD");

	/* N + M: all of tier 2 */
	check_price(&p, 10000,
		    (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 9000, "0.001", "9.00" } },
		    2, "9.00", NULL);

	/* N + M + 1: the first unit of the unbounded tier */
	check_price(&p, 10001,
		    (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 9000, "0.001", "9.00" },
						{ TIER, 2, 1, "0.0005", "0.00" } },
		    3, "9.00", lines);
	assert_string_equal(lines[2].description,
			    "Pro: tier 3, units 10001 and above at 0.0005 USD");

	/* N + M + 2: 0.001 in tier 3, still 0.00 */
	check_price(&p, 10002,
		    (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 9000, "0.001", "9.00" },
						{ TIER, 2, 2, "0.0005", "0.00" } },
		    3, "9.00", NULL);

	/* a billion requests */
	check_price(&p, 1000000000,
		    (const struct want_line[]){ { TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 9000, "0.001", "9.00" },
						{ TIER, 2, 999990000, "0.0005", "499995.00" } },
		    3, "500004.00", NULL);

	/* 2^62: (2^62 - 10000) x 0.0005 = 2305843009213688.952, exactly */
	check_price(&p, 1ULL << 62,
		    (const struct want_line[]){
			    { TIER, 0, 1000, "0", "0.00" },
			    { TIER, 1, 9000, "0.001", "9.00" },
			    { TIER, 2, (1ULL << 62) - 10000, "0.0005", "2305843009213688.95" } },
		    3, "2305843009213697.95", NULL);
}

static void test_half_even_per_line(void **state)
{
	struct pricing_plan p;

	(void)state;
	/* exact half cents: half-even gives 0.00 0.02 0.02 0.04, half-up 0.01 0.02 0.03 0.04 */
	flat_rate_plan(&p, "USD", "0.001");
	check_price(&p, 5, (const struct want_line[]){ { TIER, 0, 5, "0.001", "0.00" } }, 1, "0.00",
		    NULL);
	check_price(&p, 15, (const struct want_line[]){ { TIER, 0, 15, "0.001", "0.02" } }, 1,
		    "0.02", NULL);
	check_price(&p, 25, (const struct want_line[]){ { TIER, 0, 25, "0.001", "0.02" } }, 1,
		    "0.02", NULL);
	check_price(&p, 35, (const struct want_line[]){ { TIER, 0, 35, "0.001", "0.04" } }, 1,
		    "0.04", NULL);
	check_price(&p, 6, (const struct want_line[]){ { TIER, 0, 6, "0.001", "0.01" } }, 1, "0.01",
		    NULL);
	check_price(&p, 4, (const struct want_line[]){ { TIER, 0, 4, "0.001", "0.00" } }, 1, "0.00",
		    NULL);
}

static void test_per_line_rounding_not_rounded_sum(void **state)
{
	struct pricing_plan p;

	(void)state;
	/*
	 * 5 x 0.001 = 0.005 -> 0.00 and 5 x 0.002 = 0.010 -> 0.01: the invoice
	 * total is 0.01, the sum of its lines, where rounding the exact sum
	 * 0.015 would give 0.02.
	 */
	plan_init(&p, "Split", "USD", PRICING_GRADUATED);
	add_tier(&p, 5, "0.001", "0");
	add_tier(&p, 0, "0.002", "0");
	check_price(&p, 10,
		    (const struct want_line[]){ { TIER, 0, 5, "0.001", "0.00" },
						{ TIER, 1, 5, "0.002", "0.01" } },
		    2, "0.01", NULL);

	/* three lines of 0.004 each: 0.00 in total, not 0.012 -> 0.01 */
	plan_init(&p, "Thirds", "USD", PRICING_GRADUATED);
	add_tier(&p, 4, "0.001", "0");
	add_tier(&p, 8, "0.001", "0");
	add_tier(&p, 0, "0.001", "0");
	check_price(&p, 12,
		    (const struct want_line[]){ { TIER, 0, 4, "0.001", "0.00" },
						{ TIER, 1, 4, "0.001", "0.00" },
						{ TIER, 2, 4, "0.001", "0.00" } },
		    3, "0.00", NULL);
}

static void test_graduated_flat_fees(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	plan_init(&p, "Flat", "USD", PRICING_GRADUATED);
	add_tier(&p, 100, "0.01", "5");
	add_tier(&p, 1000, "0.005", "10");
	add_tier(&p, 0, "0.001", "20");

	/* zero usage enters no tier */
	check_price(&p, 0, NULL, 0, "0.00", NULL);
	check_price(&p, 50,
		    (const struct want_line[]){ { TIER, 0, 50, "0.01", "0.50" },
						{ FLAT, 0, 1, "5", "5.00" } },
		    2, "5.50", lines);
	assert_string_equal(lines[1].description, "Flat: tier 1 flat fee");
	/* the last unit of tier 1 does not enter tier 2 */
	check_price(&p, 100,
		    (const struct want_line[]){ { TIER, 0, 100, "0.01", "1.00" },
						{ FLAT, 0, 1, "5", "5.00" } },
		    2, "6.00", NULL);
	/* one unit into tier 2 charges its flat fee once */
	check_price(&p, 101,
		    (const struct want_line[]){ { TIER, 0, 100, "0.01", "1.00" },
						{ FLAT, 0, 1, "5", "5.00" },
						{ TIER, 1, 1, "0.005", "0.00" },
						{ FLAT, 1, 1, "10", "10.00" } },
		    4, "16.00", NULL);
	/* every tier entered, each flat fee once */
	check_price(&p, 2000,
		    (const struct want_line[]){ { TIER, 0, 100, "0.01", "1.00" },
						{ FLAT, 0, 1, "5", "5.00" },
						{ TIER, 1, 900, "0.005", "4.50" },
						{ FLAT, 1, 1, "10", "10.00" },
						{ TIER, 2, 1000, "0.001", "1.00" },
						{ FLAT, 2, 1, "20", "20.00" } },
		    6, "41.50", NULL);
}

/* ---- volume ------------------------------------------------------------- */

static void test_volume_crossing_lowers_total(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	plan_init(&p, "Bulk", "USD", PRICING_VOLUME);
	add_tier(&p, 1000, "0.01", "0");
	add_tier(&p, 10000, "0.005", "0");
	add_tier(&p, 0, "0.001", "0");

	/* zero usage: no line at all (it falls in no tier) */
	check_price(&p, 0, NULL, 0, "0.00", NULL);
	check_price(&p, 1, (const struct want_line[]){ { TIER, 0, 1, "0.01", "0.01" } }, 1, "0.01",
		    NULL);
	check_price(&p, 1000, (const struct want_line[]){ { TIER, 0, 1000, "0.01", "10.00" } }, 1,
		    "10.00", NULL);
	/* one more unit prices all 1001 at 0.005: 5.005, half-even 5.00 < 10.00 */
	check_price(&p, 1001, (const struct want_line[]){ { TIER, 1, 1001, "0.005", "5.00" } }, 1,
		    "5.00", lines);
	assert_string_equal(lines[0].description, "Bulk: 1001 units at 0.005 USD, volume tier 2");
	check_price(&p, 10000, (const struct want_line[]){ { TIER, 1, 10000, "0.005", "50.00" } },
		    1, "50.00", NULL);
	check_price(&p, 10001, (const struct want_line[]){ { TIER, 2, 10001, "0.001", "10.00" } },
		    1, "10.00", NULL);
	check_price(&p, 1ULL << 40,
		    (const struct want_line[]){ { TIER, 2, 1ULL << 40, "0.001", "1099511627.78" } },
		    1, "1099511627.78", NULL);
}

static void test_volume_flat_fee_of_the_tier_only(void **state)
{
	struct pricing_plan p;

	(void)state;
	plan_init(&p, "Flat", "USD", PRICING_VOLUME);
	add_tier(&p, 100, "0.01", "5");
	add_tier(&p, 1000, "0.005", "10");
	add_tier(&p, 0, "0.001", "20");

	check_price(&p, 0, NULL, 0, "0.00", NULL);
	check_price(&p, 50,
		    (const struct want_line[]){ { TIER, 0, 50, "0.01", "0.50" },
						{ FLAT, 0, 1, "5", "5.00" } },
		    2, "5.50", NULL);
	/* 101 x 0.005 = 0.505 -> 0.50 (half-even), and tier 2's fee alone */
	check_price(&p, 101,
		    (const struct want_line[]){ { TIER, 1, 101, "0.005", "0.50" },
						{ FLAT, 1, 1, "10", "10.00" } },
		    2, "10.50", NULL);
	check_price(&p, 2000,
		    (const struct want_line[]){ { TIER, 2, 2000, "0.001", "2.00" },
						{ FLAT, 2, 1, "20", "20.00" } },
		    2, "22.00", NULL);
}

/* ---- fees, currencies, exactness ---------------------------------------- */

static void test_period_fee(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	seed_plan(&p, PRICING_GRADUATED);
	p.period_fee = amount("49.99");

	/* charged with no usage too */
	check_price(&p, 0, (const struct want_line[]){ { FEE, 0, 1, "49.99", "49.99" } }, 1,
		    "49.99", lines);
	assert_string_equal(lines[0].description, "Pro: period fee");
	check_price(&p, 10001,
		    (const struct want_line[]){ { FEE, 0, 1, "49.99", "49.99" },
						{ TIER, 0, 1000, "0", "0.00" },
						{ TIER, 1, 9000, "0.001", "9.00" },
						{ TIER, 2, 1, "0.0005", "0.00" } },
		    4, "58.99", NULL);

	/* volume too, and a fee with more digits than the currency rounds per line */
	seed_plan(&p, PRICING_VOLUME);
	p.period_fee = amount("0.125");
	check_price(&p, 0, (const struct want_line[]){ { FEE, 0, 1, "0.125", "0.12" } }, 1, "0.12",
		    NULL);
	check_price(&p, 2000,
		    (const struct want_line[]){ { FEE, 0, 1, "0.125", "0.12" },
						{ TIER, 1, 2000, "0.001", "2.00" } },
		    2, "2.12", NULL);
}

static void test_zero_digit_currency(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	/* JPY: whole yen, halves to even */
	flat_rate_plan(&p, "jpy", "0.5");
	check_price(&p, 1, (const struct want_line[]){ { TIER, 0, 1, "0.5", "0" } }, 1, "0", NULL);
	check_price(&p, 3, (const struct want_line[]){ { TIER, 0, 3, "0.5", "2" } }, 1, "2", lines);
	assert_int_equal(lines[0].amount_minor, 2);
	assert_string_equal(lines[0].description, "Metered: tier 1, units 1 and above at 0.5 JPY");
	check_price(&p, 5, (const struct want_line[]){ { TIER, 0, 5, "0.5", "2" } }, 1, "2", NULL);
	check_price(&p, 7, (const struct want_line[]){ { TIER, 0, 7, "0.5", "4" } }, 1, "4", NULL);

	plan_init(&p, "Yen", "JPY", PRICING_GRADUATED);
	add_tier(&p, 100, "0", "0");
	add_tier(&p, 0, "0.15", "0");
	p.period_fee = amount("1000");
	check_price(&p, 110,
		    (const struct want_line[]){ { FEE, 0, 1, "1000", "1000" },
						{ TIER, 0, 100, "0", "0" },
						{ TIER, 1, 10, "0.15", "2" } },
		    3, "1002", NULL);
}

static void test_three_digit_currency(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	/* KWD: fils, 3 digits */
	flat_rate_plan(&p, "KWD", "0.0005");
	check_price(&p, 1, (const struct want_line[]){ { TIER, 0, 1, "0.0005", "0.000" } }, 1,
		    "0.000", NULL);
	check_price(&p, 3, (const struct want_line[]){ { TIER, 0, 3, "0.0005", "0.002" } }, 1,
		    "0.002", NULL);
	check_price(&p, 5, (const struct want_line[]){ { TIER, 0, 5, "0.0005", "0.002" } }, 1,
		    "0.002", lines);
	assert_int_equal(lines[0].amount_minor, 2);
	check_price(&p, 1000, (const struct want_line[]){ { TIER, 0, 1000, "0.0005", "0.500" } }, 1,
		    "0.500", NULL);
}

static void test_large_quantities_exact(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;

	(void)state;
	/* 2^60 units at the smallest price: 1152921.504606846976 -> 1152921.50 */
	flat_rate_plan(&p, "USD", "0.000000000001");
	check_price(&p, 1ULL << 60,
		    (const struct want_line[]){
			    { TIER, 0, 1ULL << 60, "0.000000000001", "1152921.50" } },
		    1, "1152921.50", lines);
	assert_int_equal(lines[0].quantity, 1152921504606846976ULL);
	assert_string_equal(lines[0].description,
			    "Metered: tier 1, units 1 and above at 0.000000000001 USD");

	/* 2^53 + 1 is not a double: a float engine would bill ...09.92 */
	flat_rate_plan(&p, "USD", "0.01");
	check_price(&p, (1ULL << 53) + 1,
		    (const struct want_line[]){
			    { TIER, 0, (1ULL << 53) + 1, "0.01", "90071992547409.93" } },
		    1, "90071992547409.93", NULL);

	/* every unit of a uint64_t */
	flat_rate_plan(&p, "USD", "0.000000000001");
	check_price(&p, UINT64_MAX,
		    (const struct want_line[]){
			    { TIER, 0, UINT64_MAX, "0.000000000001", "18446744.07" } },
		    1, "18446744.07", NULL);
}

static void test_twelve_decimal_prices(void **state)
{
	struct pricing_plan p;

	(void)state;
	/* 10^9 x 0.000000000005 = 0.005 -> 0.00; 3 x 10^9 -> 0.015 -> 0.02 */
	flat_rate_plan(&p, "USD", "0.000000000005");
	check_price(&p, 1000000000,
		    (const struct want_line[]){ { TIER, 0, 1000000000, "0.000000000005", "0.00" } },
		    1, "0.00", NULL);
	check_price(&p, 3000000000,
		    (const struct want_line[]){ { TIER, 0, 3000000000, "0.000000000005", "0.02" } },
		    1, "0.02", NULL);

	plan_init(&p, "Fine", "USD", PRICING_GRADUATED);
	add_tier(&p, 1000000, "0.000001234567", "0");
	add_tier(&p, 0, "0.000000987654", "0.123456789012");
	/* 1.234567 -> 1.23; 1000000 x 0.000000987654 = 0.987654 -> 0.99; flat 0.12 */
	check_price(&p, 2000000,
		    (const struct want_line[]){ { TIER, 0, 1000000, "0.000001234567", "1.23" },
						{ TIER, 1, 1000000, "0.000000987654", "0.99" },
						{ FLAT, 1, 1, "0.123456789012", "0.12" } },
		    3, "2.34", NULL);
}

static void test_price_errors(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES], before[PRICING_MAX_LINES];
	struct pricing_plan p;
	int64_t total = 5;
	size_t n = 999;

	(void)state;
	memset(lines, 0x5a, sizeof(lines));
	memcpy(before, lines, sizeof(lines));

	/* too few lines: nothing written */
	seed_plan(&p, PRICING_GRADUATED);
	assert_int_equal(pricing_price(&p, 10001, lines, 2, &n), -ENOSPC);
	assert_int_equal(n, 999);
	assert_memory_equal(lines, before, sizeof(lines));
	assert_int_equal(pricing_price(&p, 10001, lines, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pricing_price(&p, 0, NULL, 0, &n), 0);
	assert_int_equal(n, 0);

	/* amounts beyond int64 minor units */
	memcpy(lines, before, sizeof(lines));
	flat_rate_plan(&p, "USD", "1000000000");
	n = 999;
	assert_int_equal(pricing_price(&p, UINT64_MAX, lines, PRICING_MAX_LINES, &n), -ERANGE);
	assert_int_equal(n, 999);
	assert_memory_equal(lines, before, sizeof(lines));
	/* each line fits, their total does not */
	plan_init(&p, "Big", "USD", PRICING_GRADUATED);
	add_tier(&p, 1, "0", "90000000000000000");
	add_tier(&p, 0, "0", "90000000000000000");
	assert_int_equal(pricing_price(&p, 2, lines, PRICING_MAX_LINES, &n), -ERANGE);
	assert_int_equal(pricing_price(&p, 1, lines, PRICING_MAX_LINES, &n), 0);

	/* an invalid plan */
	seed_plan(&p, PRICING_GRADUATED);
	p.tiers[2].unbounded = false;
	assert_int_equal(pricing_price(&p, 1, lines, PRICING_MAX_LINES, &n), -EINVAL);
	seed_plan(&p, PRICING_GRADUATED);
	p.n_tiers = 0;
	assert_int_equal(pricing_price(&p, 1, lines, PRICING_MAX_LINES, &n), -EINVAL);

	/* the checked total */
	lines[0].amount_minor = INT64_MAX;
	lines[1].amount_minor = 1;
	assert_int_equal(pricing_total(lines, 2, &total), -ERANGE);
	assert_int_equal(total, 5);
	lines[1].amount_minor = -1;
	assert_int_equal(pricing_total(lines, 2, &total), 0);
	assert_int_equal(total, INT64_MAX - 1);
	assert_int_equal(pricing_total(lines, 0, &total), 0);
	assert_int_equal(total, 0);
}

static void test_description_truncated(void **state)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	struct pricing_plan p;
	char name[PRICING_NAME_MAX] = "";
	json_t *text;
	size_t n;

	(void)state;
	/* the longest name (31 x U+00E9) with the longest bounds: cut to fit, still UTF-8 */
	for (int i = 0; i < 31; i++)
		strcat(name, "\xc3\xa9");
	plan_init(&p, name, "USD", PRICING_GRADUATED);
	add_tier(&p, 9223372036854775806ULL, "0", "0");
	add_tier(&p, 0, "0.000000000001", "0");
	assert_int_equal(pricing_price(&p, UINT64_MAX, lines, PRICING_MAX_LINES, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(strlen(lines[1].description), PRICING_DESCRIPTION_MAX - 1);
	assert_memory_equal(lines[1].description, name, strlen(name));
	assert_string_equal(minor_text(&p, lines[1].amount_minor, (char[MONEY_STR_MAX]){ 0 }),
			    "9223372.04");
	/* jansson, and so the REST API, accepts only valid UTF-8 */
	text = json_string(lines[1].description);
	assert_non_null(text);
	json_decref(text);
}

/* ---- JSON --------------------------------------------------------------- */

static const char seed_json[] =
	"{\"id\": \"7\", \"name\": \"Pro\", \"api_id\": null, \"rate_per_sec\": 100, "
	"\"burst\": 200, \"monthly_quota\": 0, \"currency\": \"usd\", "
	"\"tiers_mode\": \"graduated\", \"tiers\": ["
	"{\"up_to\": 1000, \"unit_price\": \"0\"}, "
	"{\"up_to\": 10000, \"unit_price\": \"0.001\", \"flat_price\": \"0\"}, "
	"{\"up_to\": null, \"unit_price\": \"0.0005\"}]}";

static void assert_plans_equal(const struct pricing_plan *a, const struct pricing_plan *b)
{
	assert_int_equal(a->plan_id, b->plan_id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->currency.code, b->currency.code);
	assert_int_equal(a->currency.minor_digits, b->currency.minor_digits);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->n_tiers, b->n_tiers);
	for (unsigned int i = 0; i < a->n_tiers; i++) {
		assert_int_equal(a->tiers[i].unbounded, b->tiers[i].unbounded);
		if (!a->tiers[i].unbounded)
			assert_int_equal(a->tiers[i].up_to, b->tiers[i].up_to);
		assert_true(a->tiers[i].unit_price == b->tiers[i].unit_price);
		assert_true(a->tiers[i].flat_price == b->tiers[i].flat_price);
	}
	assert_true(a->period_fee == b->period_fee);
	assert_int_equal(a->bill_server_errors, b->bill_server_errors);
}

static void test_json_parse(void **state)
{
	struct pricing_plan p, want;
	char err[PRICING_ERR_MAX] = "untouched";

	(void)state;
	assert_int_equal(pricing_plan_from_json(seed_json, &p, err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
	seed_plan(&want, PRICING_GRADUATED);
	assert_plans_equal(&p, &want);
	assert_string_equal(p.currency.code, "USD"); /* lowercase accepted, stored upper */

	assert_int_equal(pricing_plan_from_json(
				 "{\"name\": \"Bulk\", \"currency\": \"KWD\", \"tiers_mode\": "
				 "\"volume\", \"tiers\": [{\"up_to\": 5, \"unit_price\": \"1.5\", "
				 "\"flat_price\": \"0.25\"}, {\"up_to\": null, \"unit_price\": "
				 "\"0.000000000001\"}], \"period_fee\": \"49.99\", "
				 "\"bill_server_errors\": true}",
				 &p, err, sizeof(err)),
			 0);
	assert_int_equal(p.plan_id, 0); /* no id: a plan not stored yet */
	assert_string_equal(p.name, "Bulk");
	assert_string_equal(p.currency.code, "KWD");
	assert_int_equal(p.currency.minor_digits, 3);
	assert_int_equal(p.mode, PRICING_VOLUME);
	assert_int_equal(p.n_tiers, 2);
	assert_int_equal(p.tiers[0].up_to, 5);
	assert_true(p.tiers[0].unit_price == amount("1.5"));
	assert_true(p.tiers[0].flat_price == amount("0.25"));
	assert_true(p.tiers[1].unbounded);
	assert_true(p.tiers[1].unit_price == 1);
	assert_true(p.period_fee == amount("49.99"));
	assert_true(p.bill_server_errors);

	/* the largest id, the largest up_to, sixteen tiers */
	{
		char json[4096];
		size_t len;

		len = (size_t)snprintf(json, sizeof(json),
				       "{\"id\": \"4294967295\", \"name\": \"Many\", \"currency\": "
				       "\"EUR\", \"tiers_mode\": \"graduated\", \"tiers\": [");
		for (int i = 1; i < PRICING_MAX_TIERS; i++)
			len += (size_t)snprintf(json + len, sizeof(json) - len,
						"{\"up_to\": %d, \"unit_price\": \"0.%d\"}, ", i,
						i);
		snprintf(json + len, sizeof(json) - len,
			 "{\"up_to\": 9223372036854775807, \"unit_price\": \"0\"}, "
			 "{\"up_to\": null, \"unit_price\": \"0\"}]}");
		assert_int_equal(pricing_plan_from_json(json, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "tiers: must have 1 to 16 tiers");
		/* drop the 9223372036854775807 tier: 16 tiers */
		len = (size_t)snprintf(json, sizeof(json),
				       "{\"id\": \"4294967295\", \"name\": \"Many\", \"currency\": "
				       "\"EUR\", \"tiers_mode\": \"graduated\", \"tiers\": [");
		for (int i = 1; i < PRICING_MAX_TIERS - 1; i++)
			len += (size_t)snprintf(json + len, sizeof(json) - len,
						"{\"up_to\": %d, \"unit_price\": \"0.%d\"}, ", i,
						i);
		snprintf(json + len, sizeof(json) - len,
			 "{\"up_to\": 9223372036854775807, \"unit_price\": \"0\"}, "
			 "{\"up_to\": null, \"unit_price\": \"0\"}]}");
		assert_int_equal(pricing_plan_from_json(json, &p, err, sizeof(err)), 0);
		assert_int_equal(p.plan_id, UINT32_MAX);
		assert_int_equal(p.n_tiers, PRICING_MAX_TIERS);
		assert_int_equal(p.tiers[14].up_to, INT64_MAX);
	}
}

/* @json must be refused with exactly @want_err, and @ret left alone. */
static void assert_json_error(const char *json, const char *want_err)
{
	struct pricing_plan p, before;
	char err[PRICING_ERR_MAX];

	memset(&p, 0x5a, sizeof(p));
	memcpy(&before, &p, sizeof(p));
	assert_int_equal(pricing_plan_from_json(json, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want_err);
	assert_memory_equal(&p, &before, sizeof(p));
}

/* A plan with @tiers (the inside of the array) and a valid rest. */
static void assert_tiers_error(const char *tiers, const char *want_err)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"graduated\", "
		 "\"tiers\": [%s]}",
		 tiers);
	assert_json_error(json, want_err);
}

#define PLAN_WITH(fields)                                                                          \
	"{" fields "\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"graduated\", "     \
	"\"tiers\": [{\"up_to\": null, \"unit_price\": \"0.001\"}]}"

static void test_json_errors(void **state)
{
	(void)state;
	/* money as JSON numbers */
	assert_tiers_error("{\"up_to\": 1000, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": 0.001}",
			   "tiers[1].unit_price: must be a decimal string such as \"0.001\", not a "
			   "number");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": 1}",
			   "tiers[0].unit_price: must be a decimal string such as \"0.001\", not a "
			   "number");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"0\", \"flat_price\": 5}",
			   "tiers[0].flat_price: must be a decimal string such as \"0.001\", not a "
			   "number");
	assert_json_error(PLAN_WITH("\"period_fee\": 9.99, "),
			  "period_fee: must be a decimal string such as \"0.001\", not a number");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": true}",
			   "tiers[0].unit_price: must be a decimal string such as \"0.001\"");
	assert_tiers_error("{\"up_to\": null}", "tiers[0].unit_price: is required");

	/* money strings that are not valid amounts */
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"0.0000000000001\"}",
			   "tiers[0].unit_price: '0.0000000000001' is not a decimal number with at "
			   "most 12 decimal places");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"abc\"}",
			   "tiers[0].unit_price: 'abc' is not a decimal number with at most 12 "
			   "decimal places");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"1e-3\"}",
			   "tiers[0].unit_price: '1e-3' is not a decimal number with at most 12 "
			   "decimal places");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": "
			   "\"999999999999999999999999999999999999\"}",
			   "tiers[0].unit_price: '999999999999999999999999...' is out of range");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"-0.001\"}",
			   "tiers[0].unit_price: must not be negative");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"0\", \"flat_price\": \"-1\"}",
			   "tiers[0].flat_price: must not be negative");
	assert_json_error(PLAN_WITH("\"period_fee\": \"-5\", "),
			  "period_fee: must not be negative");

	/* tier bounds */
	assert_tiers_error("{\"up_to\": 1000, \"unit_price\": \"0\"}, "
			   "{\"up_to\": 1000, \"unit_price\": \"0.001\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0.0005\"}",
			   "tiers[1].up_to: must be greater than tiers[0].up_to");
	assert_tiers_error("{\"up_to\": 1000, \"unit_price\": \"0\"}, "
			   "{\"up_to\": 2000, \"unit_price\": \"0.001\"}, "
			   "{\"up_to\": 1500, \"unit_price\": \"0.001\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0.0005\"}",
			   "tiers[2].up_to: must be greater than tiers[1].up_to");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0.001\"}",
			   "tiers[0].up_to: only the last tier may be null (unbounded)");
	assert_tiers_error("{\"up_to\": 1000, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0\"}, "
			   "{\"up_to\": 5000, \"unit_price\": \"0.001\"}",
			   "tiers[1].up_to: only the last tier may be null (unbounded)");
	assert_tiers_error("{\"up_to\": 1000, \"unit_price\": \"0\"}, "
			   "{\"up_to\": 5000, \"unit_price\": \"0.001\"}",
			   "tiers[1].up_to: the last tier must be null (unbounded)");
	assert_tiers_error("{\"up_to\": 0, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0\"}",
			   "tiers[0].up_to: must be at least 1");
	assert_tiers_error("{\"up_to\": -5, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0\"}",
			   "tiers[0].up_to: must be at least 1");
	assert_tiers_error("{\"up_to\": 1000.0, \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0\"}",
			   "tiers[0].up_to: must be an integer or null");
	assert_tiers_error("{\"up_to\": \"1000\", \"unit_price\": \"0\"}, "
			   "{\"up_to\": null, \"unit_price\": \"0\"}",
			   "tiers[0].up_to: must be an integer or null");
	assert_tiers_error("{\"unit_price\": \"0\"}",
			   "tiers[0].up_to: is required (an integer, or null for the last tier)");
	assert_tiers_error("{\"up_to\": null, \"unit_price\": \"0\"}, 5",
			   "tiers[1]: must be an object");
	assert_tiers_error("", "tiers: must have 1 to 16 tiers");

	/* currency */
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"XYZ\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "currency: unknown currency 'XYZ'");
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"dollars\\n\", "
			  "\"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "currency: unknown currency 'dollars?'");
	assert_json_error("{\"name\": \"Pro\", \"currency\": 840, \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "currency: must be a string such as \"USD\"");
	assert_json_error("{\"name\": \"Pro\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "currency: is required");

	/* mode */
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"tiered\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "tiers_mode: must be \"graduated\" or \"volume\"");
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"Volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "tiers_mode: must be \"graduated\" or \"volume\"");
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"USD\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "tiers_mode: is required");

	/* tiers as a whole */
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"volume\"}",
			  "tiers: is required");
	assert_json_error("{\"name\": \"Pro\", \"currency\": \"USD\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": {}}",
			  "tiers: must be an array of tiers");

	/* id, name, bill_server_errors */
	assert_json_error(PLAN_WITH("\"id\": 7, "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"id\": \"0\", "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"id\": \"007\", "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"id\": \"4294967296\", "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"id\": \"12345678901\", "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"id\": \"-1\", "),
			  "id: must be a decimal string from \"1\" to \"4294967295\"");
	assert_json_error(PLAN_WITH("\"bill_server_errors\": \"yes\", "),
			  "bill_server_errors: must be true or false");
	assert_json_error("{\"currency\": \"USD\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "name: is required");
	assert_json_error("{\"name\": \"\", \"currency\": \"USD\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "name: must be 1 to 63 bytes of UTF-8");
	assert_json_error("{\"name\": \"0123456789012345678901234567890123456789012345678901234567"
			  "890123\", \"currency\": \"USD\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "name: must be 1 to 63 bytes of UTF-8");
	assert_json_error("{\"name\": 5, \"currency\": \"USD\", \"tiers_mode\": \"volume\", "
			  "\"tiers\": [{\"up_to\": null, \"unit_price\": \"0\"}]}",
			  "name: must be a string");

	/* not a plan object at all */
	assert_json_error("[]", "body: must be a JSON object");
	assert_json_error("\"plan\"", "body: must be a JSON object");
}

static void test_json_error_edges(void **state)
{
	struct pricing_plan p;
	char err[PRICING_ERR_MAX], small[12];

	(void)state;
	/* not JSON, or JSON with a duplicate key */
	assert_int_equal(pricing_plan_from_json("{", &p, err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, "invalid JSON: ", 14));
	assert_int_equal(
		pricing_plan_from_json(PLAN_WITH("\"name\": \"Again\", "), &p, err, sizeof(err)),
		-EINVAL);
	assert_true(!strncmp(err, "invalid JSON: ", 14));
	assert_non_null(strstr(err, "duplicate"));

	/* a short buffer gets a NUL-terminated prefix; no buffer is fine too */
	assert_int_equal(pricing_plan_from_json("[]", &p, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "body: must ");
	assert_int_equal(pricing_plan_from_json("[]", &p, NULL, 0), -EINVAL);

	/* the same check for a plan built in code */
	seed_plan(&p, PRICING_GRADUATED);
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), 0);
	p.tiers[1].up_to = 1000;
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tiers[1].up_to: must be greater than tiers[0].up_to");
	seed_plan(&p, PRICING_GRADUATED);
	p.tiers[0].up_to = (uint64_t)INT64_MAX + 1;
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tiers[0].up_to: must be at most 9223372036854775807");
	seed_plan(&p, PRICING_GRADUATED);
	p.mode = 2;
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tiers_mode: must be \"graduated\" or \"volume\"");
	seed_plan(&p, PRICING_GRADUATED);
	p.currency.minor_digits = 3;
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), -EINVAL);
	seed_plan(&p, PRICING_GRADUATED);
	memcpy(p.name, "\xff", 2);
	assert_int_equal(pricing_plan_validate(&p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "name: must be 1 to 63 bytes of UTF-8");
}

static void test_json_output(void **state)
{
	struct pricing_plan p, back;
	char err[PRICING_ERR_MAX];
	json_t *obj;
	char *text;

	(void)state;
	seed_plan(&p, PRICING_GRADUATED);
	p.tiers[1].flat_price = amount("2.50");
	assert_int_equal(pricing_tiers_to_json(&p, &text), 0);
	assert_string_equal(text,
			    "[{\"up_to\":1000,\"unit_price\":\"0\",\"flat_price\":\"0\"},"
			    "{\"up_to\":10000,\"unit_price\":\"0.001\",\"flat_price\":\"2.5\"},"
			    "{\"up_to\":null,\"unit_price\":\"0.0005\",\"flat_price\":\"0\"}]");
	free(text);

	/* the plan object reads back as the same plan */
	p.period_fee = amount("0.000000000001");
	p.bill_server_errors = true;
	assert_int_equal(pricing_plan_to_json_object(&p, &obj), 0);
	assert_string_equal(json_string_value(json_object_get(obj, "id")), "7");
	assert_string_equal(json_string_value(json_object_get(obj, "currency")), "USD");
	assert_string_equal(json_string_value(json_object_get(obj, "tiers_mode")), "graduated");
	assert_string_equal(json_string_value(json_object_get(obj, "period_fee")),
			    "0.000000000001");
	assert_true(json_is_true(json_object_get(obj, "bill_server_errors")));
	/* the API adds its own fields; they are ignored on the way back */
	json_object_set_new(obj, "rate_per_sec", json_integer(100));
	text = json_dumps(obj, JSON_COMPACT);
	assert_non_null(text);
	assert_int_equal(pricing_plan_from_json(text, &back, err, sizeof(err)), 0);
	assert_plans_equal(&back, &p);
	assert_int_equal(pricing_plan_from_json_object(obj, &back, err, sizeof(err)), 0);
	assert_plans_equal(&back, &p);
	free(text);
	json_decref(obj);

	/* no id for a plan not stored yet; volume */
	p.plan_id = 0;
	p.mode = PRICING_VOLUME;
	assert_int_equal(pricing_plan_to_json_object(&p, &obj), 0);
	assert_null(json_object_get(obj, "id"));
	assert_string_equal(json_string_value(json_object_get(obj, "tiers_mode")), "volume");
	json_decref(obj);

	/* invalid plans are not written */
	p.n_tiers = 0;
	text = NULL;
	assert_int_equal(pricing_tiers_to_json(&p, &text), -EINVAL);
	assert_null(text);
	obj = NULL;
	assert_int_equal(pricing_plan_to_json_object(&p, &obj), -EINVAL);
	assert_null(obj);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pricing_mode_name(PRICING_GRADUATED), "graduated");
	assert_string_equal(pricing_mode_name(PRICING_VOLUME), "volume");
	assert_null(pricing_mode_name(2));
	assert_string_equal(pricing_line_kind_name(INVOICE_LINE_TIER), "tier");
	assert_string_equal(pricing_line_kind_name(INVOICE_LINE_TIER_FLAT), "tier_flat");
	assert_string_equal(pricing_line_kind_name(INVOICE_LINE_PERIOD_FEE), "period_fee");
	assert_string_equal(pricing_line_kind_name(INVOICE_LINE_ADJUSTMENT), "adjustment");
	assert_null(pricing_line_kind_name(4));
}

/* ---- adjustments -------------------------------------------------------- */

static void check_adjustment(const struct pricing_plan *p, uint64_t invoiced, uint64_t late,
			     unsigned int want_tier, const char *want_unit, const char *want_amount)
{
	struct invoice_line line;
	char buf[MONEY_STR_MAX];

	memset(&line, 0x5a, sizeof(line));
	assert_int_equal(pricing_adjustment(p, invoiced, late, "2024-05", &line), 0);
	assert_int_equal(line.plan_id, p->plan_id);
	assert_int_equal(line.kind, INVOICE_LINE_ADJUSTMENT);
	assert_int_equal(line.tier, want_tier);
	assert_int_equal(line.quantity, late);
	assert_true(money_format_price(line.unit_price, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want_unit);
	assert_string_equal(minor_text(p, line.amount_minor, buf), want_amount);
	assert_string_equal(line.description, "adjustment 2024-05");
}

static void test_adjustment_graduated(void **state)
{
	struct pricing_plan p;

	(void)state;
	seed_plan(&p, PRICING_GRADUATED);
	/* inside tier 2: 1000 x 0.001 */
	check_adjustment(&p, 5000, 1000, 1, "0.001", "1.00");
	/* inside the free tier */
	check_adjustment(&p, 10, 500, 0, "0", "0.00");
	/* crossing into tier 3: 500 x 0.001 + 500 x 0.0005 = 0.75 */
	check_adjustment(&p, 9500, 1000, 2, "0.0005", "0.75");
	/* from nothing invoiced, across two tiers */
	check_adjustment(&p, 0, 12000, 2, "0.0005", "10.00");
	/* no late units: a zero line */
	check_adjustment(&p, 5000, 0, 1, "0.001", "0.00");
	/*
	 * per-line rounding: invoiced 1005 billed 5 x 0.001 = 0.005 as 0.00; with
	 * 10 late units the period costs 15 x 0.001 = 0.015 -> 0.02, so the
	 * adjustment is 0.02 (not 10 x 0.001 = 0.01): both invoices together
	 * cost what one would have
	 */
	check_adjustment(&p, 1005, 10, 1, "0.001", "0.02");
	/* the period fee was on the invoice already */
	p.period_fee = amount("49.99");
	check_adjustment(&p, 5000, 1000, 1, "0.001", "1.00");

	/* late units entering a tier charge its flat fee */
	plan_init(&p, "Flat", "USD", PRICING_GRADUATED);
	add_tier(&p, 100, "0.01", "5");
	add_tier(&p, 0, "0.005", "10");
	check_adjustment(&p, 100, 1, 1, "0.005", "10.00");
	check_adjustment(&p, 0, 1, 0, "0.01", "5.01");
	check_adjustment(&p, 150, 2, 1, "0.005", "0.01");
}

static void test_adjustment_volume(void **state)
{
	struct pricing_plan p;

	(void)state;
	plan_init(&p, "Bulk", "USD", PRICING_VOLUME);
	add_tier(&p, 1000, "0.01", "0");
	add_tier(&p, 0, "0.005", "0");
	/* within tier 1: 10 x 0.01 */
	check_adjustment(&p, 500, 10, 0, "0.01", "0.10");
	/* 1000 units invoiced at 10.00; 1010 cost 5.05: a credit of 4.95 */
	check_adjustment(&p, 1000, 10, 1, "0.005", "-4.95");
	/* within the cheaper tier */
	check_adjustment(&p, 2000, 100, 1, "0.005", "0.50");

	/* the flat fee moves with the tier the total falls in */
	p.tiers[0].flat_price = amount("1");
	p.tiers[1].flat_price = amount("3");
	/* 10.00 + 1.00 before, 5.05 + 3.00 after */
	check_adjustment(&p, 1000, 10, 1, "0.005", "-2.95");
}

static void test_adjustment_errors(void **state)
{
	static const char *const bad_periods[] = {
		"2024-13", "2024-00", "2024-5",	 "24-05",   "2024-05-01",
		"2024/05", "",	      "2024-1a", "abcd-05", "2024-05 ",
	};
	struct invoice_line line, before;
	struct pricing_plan p;

	(void)state;
	seed_plan(&p, PRICING_GRADUATED);
	memset(&line, 0x5a, sizeof(line));
	memcpy(&before, &line, sizeof(line));
	for (size_t i = 0; i < N_OF(bad_periods); i++) {
		assert_int_equal(pricing_adjustment(&p, 1, 1, bad_periods[i], &line), -EINVAL);
		assert_memory_equal(&line, &before, sizeof(line));
	}
	assert_int_equal(pricing_adjustment(&p, 1, 1, "2024-12", &line), 0);
	assert_int_equal(pricing_adjustment(&p, 1, 1, "2025-01", &line), 0);

	memcpy(&line, &before, sizeof(line));
	assert_int_equal(pricing_adjustment(&p, UINT64_MAX, 1, "2024-05", &line), -ERANGE);
	p.n_tiers = 0;
	assert_int_equal(pricing_adjustment(&p, 1, 1, "2024-05", &line), -EINVAL);
	assert_memory_equal(&line, &before, sizeof(line));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_graduated_seed),
		cmocka_unit_test(test_half_even_per_line),
		cmocka_unit_test(test_per_line_rounding_not_rounded_sum),
		cmocka_unit_test(test_graduated_flat_fees),
		cmocka_unit_test(test_volume_crossing_lowers_total),
		cmocka_unit_test(test_volume_flat_fee_of_the_tier_only),
		cmocka_unit_test(test_period_fee),
		cmocka_unit_test(test_zero_digit_currency),
		cmocka_unit_test(test_three_digit_currency),
		cmocka_unit_test(test_large_quantities_exact),
		cmocka_unit_test(test_twelve_decimal_prices),
		cmocka_unit_test(test_price_errors),
		cmocka_unit_test(test_description_truncated),
		cmocka_unit_test(test_json_parse),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_error_edges),
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_adjustment_graduated),
		cmocka_unit_test(test_adjustment_volume),
		cmocka_unit_test(test_adjustment_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
