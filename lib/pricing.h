/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pricing.h - the pricing engine (DESIGN §6): tiered plans, and the invoice
 * lines a period's usage costs on one of them. Shared by tollgate-billing
 * (invoices, adjustments) and tollgate-api (plans, the upcoming invoice).
 *
 * A plan has 1 to PRICING_MAX_TIERS tiers. Tier i covers the units
 * (tiers[i-1].up_to, tiers[i].up_to], the first one from unit 1: up_to is
 * inclusive, strictly increasing, and the last tier - only the last - is
 * unbounded. Each tier has a unit price and an optional flat price; a plan
 * may also have a period fee, charged every period, with or without usage.
 *
 *   - graduated: each unit is priced by the tier it falls in: with tiers
 *     (1000 at 0, 10000 at 0.001, unbounded at 0.0005), 12000 units cost
 *     1000 x 0 + 9000 x 0.001 + 2000 x 0.0005 = 10.00.
 *   - volume: all units are priced at the unit price of the tier the total
 *     falls in: 12000 units cost 12000 x 0.0005 = 6.00, so crossing into a
 *     cheaper tier can lower the total.
 *
 * A tier's flat price is charged once usage enters that tier (graduated: each
 * tier entered; volume: only the tier the total falls in). Zero usage enters
 * no tier, in either mode: it costs the period fee alone.
 *
 * Every invoice line is rounded half to even to the plan currency's minor
 * unit on its own (money_round_minor()); an invoice total is the sum of its
 * lines' rounded amounts, never the rounded sum of exact amounts. All
 * arithmetic is exact (money.h); nothing here allocates except the JSON
 * writers, and nothing logs.
 */
#ifndef TG_LIB_PRICING_H
#define TG_LIB_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "money.h"

#define PRICING_MAX_TIERS 16
#define PRICING_NAME_MAX 64 /* bytes of a plan name with its NUL */
/* The largest bounded up_to: a JSON integer, a Postgres bigint. */
#define PRICING_UP_TO_MAX ((uint64_t)INT64_MAX)
/* Lines of one pricing_price(): a unit line and a flat line per tier, the fee. */
#define PRICING_MAX_LINES (2 * PRICING_MAX_TIERS + 1)
#define PRICING_DESCRIPTION_MAX 128
#define PRICING_ERR_MAX 256 /* an error message of this module always fits */

enum pricing_mode {
	PRICING_GRADUATED,
	PRICING_VOLUME,
};

struct pricing_tier {
	uint64_t up_to;	     /* last unit of the tier, inclusive; unused if unbounded */
	bool unbounded;	     /* up_to null in JSON: the last tier, and only it */
	__int128 unit_price; /* per unit, MONEY_SCALE fixed point, >= 0 */
	__int128 flat_price; /* once per period when usage enters the tier, >= 0 */
};

struct pricing_plan {
	uint32_t plan_id; /* >= 1; 0 for a plan not stored yet (no "id" in JSON) */
	char name[PRICING_NAME_MAX];
	struct currency currency;
	enum pricing_mode mode;
	unsigned int n_tiers; /* 1 to PRICING_MAX_TIERS */
	struct pricing_tier tiers[PRICING_MAX_TIERS];
	__int128 period_fee;	 /* every period, >= 0, 0 = none */
	bool bill_server_errors; /* carried for billing (DESIGN §6 "Billable"); unused here */
};

enum invoice_line_kind {
	INVOICE_LINE_TIER,	 /* units of one tier at its unit price */
	INVOICE_LINE_TIER_FLAT,	 /* the flat price of a tier usage entered */
	INVOICE_LINE_PERIOD_FEE, /* the plan's period fee */
	INVOICE_LINE_ADJUSTMENT, /* late units of a finalized period (pricing_adjustment()) */
};

/*
 * One line of an invoice. unit_price is in MONEY_SCALE fixed point: the tier's
 * unit price (TIER, ADJUSTMENT), the flat price (TIER_FLAT) or the fee
 * (PERIOD_FEE). description is ASCII apart from the plan name (valid UTF-8).
 */
struct invoice_line {
	uint32_t plan_id;
	enum invoice_line_kind kind;
	unsigned int tier; /* index into the plan's tiers (0-based); 0 for PERIOD_FEE */
	char description[PRICING_DESCRIPTION_MAX];
	uint64_t quantity; /* units; 1 for TIER_FLAT and PERIOD_FEE */
	__int128 unit_price;
	int64_t amount_minor; /* rounded half-even to the currency's minor unit */
};

/* pricing_mode_name() - "graduated", "volume"; NULL for an unknown mode. Static strings. */
const char *pricing_mode_name(enum pricing_mode mode);

/*
 * pricing_line_kind_name() - "tier", "tier_flat", "period_fee", "adjustment";
 * NULL for an unknown kind. Static strings, for storage and JSON.
 */
const char *pricing_line_kind_name(enum invoice_line_kind kind);

/*
 * pricing_plan_validate() - check a plan built in code as pricing_price()
 * does: a name of 1 to PRICING_NAME_MAX - 1 bytes of UTF-8, a currency of
 * money_currency()'s table (code and digits), a known mode, 1 to
 * PRICING_MAX_TIERS tiers, up_to from 1 to PRICING_UP_TO_MAX and strictly
 * increasing, the last tier and only it unbounded, no negative price or fee.
 * Returns 0, or -EINVAL and, if @err_len > 0, one line in @err naming the
 * field as in the plan's JSON: "tiers[1].up_to: must be greater than
 * tiers[0].up_to".
 */
int pricing_plan_validate(const struct pricing_plan *p, char *err, size_t err_len);

/*
 * pricing_plan_from_json() - parse a plan object (DESIGN §7) for its pricing
 * fields; other fields (api_id, rate_per_sec, ...) are ignored:
 *
 *   {"id": "7", "name": "Pro", "currency": "usd", "tiers_mode": "graduated",
 *    "tiers": [{"up_to": 1000, "unit_price": "0", "flat_price": "0"},
 *              {"up_to": null, "unit_price": "0.001"}],
 *    "period_fee": "0", "bill_server_errors": false}
 *
 *   id                  optional; a decimal string "1" to "4294967295" without
 *                       leading zeros (ids are strings, DESIGN §5); absent = 0
 *   name                required; 1 to PRICING_NAME_MAX - 1 bytes
 *   currency            required; ISO 4217, any case (stored upper case)
 *   tiers_mode          required; "graduated" or "volume"
 *   tiers               required; an array of 1 to PRICING_MAX_TIERS objects:
 *     up_to             required; an integer >= 1, or null (unbounded) for
 *                       the last tier, which must be unbounded
 *     unit_price        required; a decimal string (money_parse()), >= 0
 *     flat_price        optional; as unit_price; default "0"
 *   period_fee          optional; as unit_price; default "0"
 *   bill_server_errors  optional; a boolean; default false
 *
 * Money is a decimal string: a JSON number is an error (it would have been
 * through a double). Duplicate keys are an error.
 * Returns 0 and fills @ret; or -EINVAL with @ret untouched and, if
 * @err_len > 0, one line in @err (PRICING_ERR_MAX fits) for the first problem
 * found, "<param>: <what is wrong>" with the param's JSON path as the REST
 * API reports it: "tiers[1].up_to: must be greater than tiers[0].up_to",
 * "currency: unknown currency 'XYZ'", "tiers[0].unit_price: must be a decimal
 * string, not a number". Text that is not JSON at all gives "invalid JSON:
 * <parser message> (line L, column C)"; a document that is not an object
 * gives "body: must be a JSON object".
 */
int pricing_plan_from_json(const char *json, struct pricing_plan *ret, char *err, size_t err_len);

struct json_t; /* jansson's json_t */

/*
 * pricing_plan_from_json_object() - as pricing_plan_from_json(), from a
 * jansson value the caller has parsed already (a request body), which stays
 * the caller's.
 */
int pricing_plan_from_json_object(const struct json_t *obj, struct pricing_plan *ret, char *err,
				  size_t err_len);

/*
 * pricing_tiers_to_json() - the plan's tiers as one line of compact JSON, in
 * the input shape: [{"up_to":1000,"unit_price":"0","flat_price":"0"},
 * {"up_to":null,"unit_price":"0.001","flat_price":"0"}]; prices as trimmed
 * decimal strings (money_format_price()), flat_price always present.
 * Returns 0 and a malloc'ed NUL-terminated string in @ret (free() it);
 * -EINVAL for a plan pricing_plan_validate() refuses; -ENOMEM.
 */
int pricing_tiers_to_json(const struct pricing_plan *p, char **ret);

/*
 * pricing_plan_to_json_object() - a new jansson object (the caller owns the
 * reference) with the pricing fields of the plan as pricing_plan_from_json()
 * reads them: id (omitted when plan_id is 0), name, currency, tiers_mode,
 * tiers (as pricing_tiers_to_json()), period_fee, bill_server_errors. The REST
 * API adds its other plan fields to it. Returns 0; -EINVAL for a plan
 * pricing_plan_validate() refuses; -ENOMEM.
 */
int pricing_plan_to_json_object(const struct pricing_plan *p, struct json_t **ret);

/*
 * pricing_price() - the invoice lines for @usage billable units of plan @p in
 * one period, in this order:
 *
 *   - PERIOD_FEE, if period_fee is not 0: quantity 1, unit_price = the fee,
 *     charged with zero usage too;
 *   - graduated: for each tier usage reaches, a TIER line (quantity = the
 *     units in that tier, unit_price = the tier's, also when it is 0: a free
 *     tier shows on the invoice) followed by a TIER_FLAT line if the tier's
 *     flat_price is not 0 (quantity 1, unit_price = the flat price);
 *   - volume: if @usage > 0, one TIER line for the tier @usage falls in
 *     (quantity = @usage, unit_price = that tier's) and its TIER_FLAT line if
 *     its flat_price is not 0.
 *
 * Each amount_minor is quantity x unit_price rounded half to even to the plan
 * currency's minor unit. Descriptions read "Pro: tier 2, units 1001-10000 at
 * 0.001 USD" (graduated), "Pro: 12000 units at 0.0005 USD, volume tier 3",
 * "Pro: tier 2 flat fee", "Pro: period fee".
 *
 * Writes at most @max_lines lines (PRICING_MAX_LINES always fits) to @lines
 * and their count to @ret_n. Returns 0; -EINVAL for a plan
 * pricing_plan_validate() refuses; -ERANGE if an amount or the lines' total
 * does not fit an int64_t of minor units; -ENOSPC if more than @max_lines
 * lines are needed. On failure @lines and @ret_n are untouched.
 */
int pricing_price(const struct pricing_plan *p, uint64_t usage, struct invoice_line *lines,
		  size_t max_lines, size_t *ret_n);

/*
 * pricing_total() - the sum of the @n lines' amount_minor, the invoice total.
 * Returns 0, or -ERANGE if it does not fit an int64_t (@ret_total untouched).
 */
int pricing_total(const struct invoice_line *lines, size_t n, int64_t *ret_total);

/*
 * pricing_adjustment() - the ADJUSTMENT line for @late_units that arrived
 * after the invoice of @period ("YYYY-MM") was finalized with
 * @invoiced_usage units, for the next invoice (DESIGN §6 "Invoices"):
 *
 *   amount_minor = total(price(invoiced + late)) - total(price(invoiced))
 *
 * each total a sum of per-line rounded amounts, so the two invoices together
 * cost exactly what one invoice with all the units would have. The late
 * units are thus priced at the period's marginal tier(s), and a tier they
 * enter charges its flat price; the period fee cancels out.
 *
 * quantity = @late_units; tier = the index of the tier the last unit falls
 * in; unit_price = that tier's unit price - in graduated mode the price of the
 * marginal unit, in volume mode the price every unit of the period now has.
 * The amount is not quantity x unit_price in general (late units spanning
 * tiers, rounding, flat prices, volume repricing). In volume mode the amount
 * is negative when the late units take the total into a cheaper tier. With
 * @late_units 0 the line has quantity 0 and amount 0. The description is
 * "adjustment YYYY-MM".
 *
 * Returns 0; -EINVAL for an invalid plan or a @period not "YYYY-MM" with
 * month 01-12; -ERANGE if the usage sum or an amount overflows. @ret is
 * written only on success.
 */
int pricing_adjustment(const struct pricing_plan *p, uint64_t invoiced_usage, uint64_t late_units,
		       const char *period, struct invoice_line *ret);

#endif /* TG_LIB_PRICING_H */
