// SPDX-License-Identifier: BSD-2-Clause
/*
 * pricing.c - the pricing engine (see pricing.h, DESIGN §6).
 *
 * Lines are built into a local array and copied out only on success, so a
 * caller never sees half an invoice. Validation lives in one place,
 * pricing_plan_validate(), with messages naming the JSON path, so a plan from
 * JSON and a plan built in code are refused with the same words.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pricing.h"

/* What a quoted user string may show of itself in an error message. */
#define QUOTE_MAX 24

static const char *const mode_names[] = {
	[PRICING_GRADUATED] = "graduated",
	[PRICING_VOLUME] = "volume",
};

static const char *const line_kind_names[] = {
	[INVOICE_LINE_TIER] = "tier",
	[INVOICE_LINE_TIER_FLAT] = "tier_flat",
	[INVOICE_LINE_PERIOD_FEE] = "period_fee",
	[INVOICE_LINE_ADJUSTMENT] = "adjustment",
};

const char *pricing_mode_name(enum pricing_mode mode)
{
	return (unsigned int)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode]
									       : NULL;
}

const char *pricing_line_kind_name(enum invoice_line_kind kind)
{
	return (unsigned int)kind < sizeof(line_kind_names) / sizeof(line_kind_names[0])
		       ? line_kind_names[kind]
		       : NULL;
}

/*
 * vsnprintf() cut @s to @len bytes: drop a UTF-8 sequence the cut left
 * incomplete (a plan name or a parser message may hold UTF-8), so the text
 * stays valid for a JSON string.
 */
static void utf8_trim(char *s, size_t len)
{
	size_t i = len, cont = 0, need;
	unsigned char lead;

	while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		cont++;
	}
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (need > cont + 1)
		s[i - 1] = '\0';
}

static __attribute__((format(printf, 3, 0))) void vformat_text(char *buf, size_t size,
							       const char *fmt, va_list ap)
{
	int n;

	if (size == 0)
		return;
	n = vsnprintf(buf, size, fmt, ap);
	if (n < 0)
		buf[0] = '\0';
	else if ((size_t)n >= size)
		utf8_trim(buf, size - 1);
}

static __attribute__((format(printf, 3, 4))) int fail(char *err, size_t err_len, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_text(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static __attribute__((format(printf, 2, 3))) void describe(struct invoice_line *line,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_text(line->description, sizeof(line->description), fmt, ap);
	va_end(ap);
}

/*
 * User text quoted in an error: printable ASCII only (anything else as '?'),
 * at most QUOTE_MAX characters, then "...".
 */
static const char *quote(const char *s, char buf[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < QUOTE_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i])
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* ---- validation --------------------------------------------------------- */

/* RFC 3629: no overlong forms, surrogates or code points above U+10FFFF. */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 2;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 3;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 4;
		else
			return false;
		if (*s == 0xe0)
			lo = 0xa0;
		else if (*s == 0xed)
			hi = 0x9f;
		else if (*s == 0xf0)
			lo = 0x90;
		else if (*s == 0xf4)
			hi = 0x8f;
		/* a NUL fails each test, so nothing is read beyond it */
		if (s[1] < lo || s[1] > hi)
			return false;
		for (size_t i = 2; i < n; i++)
			if (s[i] < 0x80 || s[i] > 0xbf)
				return false;
		s += n;
	}
	return true;
}

int pricing_plan_validate(const struct pricing_plan *p, char *err, size_t err_len)
{
	struct currency known;
	size_t name_len = strnlen(p->name, sizeof(p->name));

	if (name_len == 0 || name_len == sizeof(p->name) || !utf8_valid(p->name))
		return fail(err, err_len, "name: must be 1 to %d bytes of UTF-8",
			    PRICING_NAME_MAX - 1);
	if (!memchr(p->currency.code, '\0', sizeof(p->currency.code)) ||
	    money_currency(p->currency.code, &known) < 0 ||
	    strcmp(known.code, p->currency.code) != 0 ||
	    known.minor_digits != p->currency.minor_digits)
		return fail(err, err_len, "currency: not an ISO 4217 currency of the table");
	if (!pricing_mode_name(p->mode))
		return fail(err, err_len, "tiers_mode: must be \"graduated\" or \"volume\"");
	if (p->n_tiers < 1 || p->n_tiers > PRICING_MAX_TIERS)
		return fail(err, err_len, "tiers: must have 1 to %d tiers", PRICING_MAX_TIERS);

	for (unsigned int i = 0; i < p->n_tiers; i++) {
		const struct pricing_tier *t = &p->tiers[i];
		bool last = i == p->n_tiers - 1;

		if (t->unbounded && !last)
			return fail(err, err_len,
				    "tiers[%u].up_to: only the last tier may be null (unbounded)",
				    i);
		if (!t->unbounded && last)
			return fail(err, err_len,
				    "tiers[%u].up_to: the last tier must be null (unbounded)", i);
		if (!t->unbounded) {
			if (t->up_to < 1)
				return fail(err, err_len, "tiers[%u].up_to: must be at least 1", i);
			if (t->up_to > PRICING_UP_TO_MAX)
				return fail(err, err_len,
					    "tiers[%u].up_to: must be at most %" PRIu64, i,
					    PRICING_UP_TO_MAX);
			if (i > 0 && t->up_to <= p->tiers[i - 1].up_to)
				return fail(err, err_len,
					    "tiers[%u].up_to: must be greater than tiers[%u].up_to",
					    i, i - 1);
		}
		if (t->unit_price < 0)
			return fail(err, err_len, "tiers[%u].unit_price: must not be negative", i);
		if (t->flat_price < 0)
			return fail(err, err_len, "tiers[%u].flat_price: must not be negative", i);
	}
	if (p->period_fee < 0)
		return fail(err, err_len, "period_fee: must not be negative");
	return 0;
}

/* ---- pricing ------------------------------------------------------------ */

/* The tier the @units-th unit falls in; tier 0 for no units. */
static unsigned int tier_of(const struct pricing_plan *p, uint64_t units)
{
	unsigned int i;

	for (i = 0; i < p->n_tiers - 1; i++)
		if (units <= p->tiers[i].up_to)
			break;
	return i;
}

/* A line of @quantity x @unit_price, rounded to the currency's minor unit. */
static int make_line(const struct pricing_plan *p, enum invoice_line_kind kind, unsigned int tier,
		     uint64_t quantity, __int128 unit_price, struct invoice_line *line)
{
	__int128 amount;
	int r;

	memset(line, 0, sizeof(*line));
	line->plan_id = p->plan_id;
	line->kind = kind;
	line->tier = tier;
	line->quantity = quantity;
	line->unit_price = unit_price;
	r = money_mul_qty(quantity, unit_price, &amount);
	if (r < 0)
		return r;
	return money_round_minor(amount, p->currency.minor_digits, &line->amount_minor);
}

static int flat_line(const struct pricing_plan *p, unsigned int tier, struct invoice_line *line)
{
	int r;

	r = make_line(p, INVOICE_LINE_TIER_FLAT, tier, 1, p->tiers[tier].flat_price, line);
	if (r < 0)
		return r;
	describe(line, "%s: tier %u flat fee", p->name, tier + 1);
	return 0;
}

/* The lines of pricing_price() for a valid plan, into @lines (PRICING_MAX_LINES). */
static int price_lines(const struct pricing_plan *p, uint64_t usage, struct invoice_line *lines,
		       size_t *ret_n)
{
	char price[MONEY_STR_MAX];
	const char *cur = p->currency.code;
	int64_t total;
	size_t n = 0;
	int r;

	if (p->period_fee != 0) {
		r = make_line(p, INVOICE_LINE_PERIOD_FEE, 0, 1, p->period_fee, &lines[n]);
		if (r < 0)
			return r;
		describe(&lines[n++], "%s: period fee", p->name);
	}

	if (p->mode == PRICING_GRADUATED) {
		uint64_t prev = 0; /* units below this tier */

		for (unsigned int i = 0; i < p->n_tiers && usage > prev; i++) {
			const struct pricing_tier *t = &p->tiers[i];
			uint64_t in_tier =
				t->unbounded || usage < t->up_to ? usage - prev : t->up_to - prev;

			r = make_line(p, INVOICE_LINE_TIER, i, in_tier, t->unit_price, &lines[n]);
			if (r < 0)
				return r;
			money_format_price(t->unit_price, price, sizeof(price));
			if (t->unbounded)
				describe(&lines[n],
					 "%s: tier %u, units %" PRIu64 " and above at %s %s",
					 p->name, i + 1, prev + 1, price, cur);
			else
				describe(&lines[n],
					 "%s: tier %u, units %" PRIu64 "-%" PRIu64 " at %s %s",
					 p->name, i + 1, prev + 1, t->up_to, price, cur);
			n++;
			if (t->flat_price != 0) {
				r = flat_line(p, i, &lines[n++]);
				if (r < 0)
					return r;
			}
			prev = t->up_to; /* unused after the unbounded (last) tier */
		}
	} else if (usage > 0) {
		unsigned int i = tier_of(p, usage);
		const struct pricing_tier *t = &p->tiers[i];

		r = make_line(p, INVOICE_LINE_TIER, i, usage, t->unit_price, &lines[n]);
		if (r < 0)
			return r;
		money_format_price(t->unit_price, price, sizeof(price));
		describe(&lines[n++], "%s: %" PRIu64 " units at %s %s, volume tier %u", p->name,
			 usage, price, cur, i + 1);
		if (t->flat_price != 0) {
			r = flat_line(p, i, &lines[n++]);
			if (r < 0)
				return r;
		}
	}

	/* a total that fits is part of a priced invoice */
	r = pricing_total(lines, n, &total);
	if (r < 0)
		return r;
	*ret_n = n;
	return 0;
}

int pricing_price(const struct pricing_plan *p, uint64_t usage, struct invoice_line *lines,
		  size_t max_lines, size_t *ret_n)
{
	struct invoice_line out[PRICING_MAX_LINES];
	size_t n;
	int r;

	r = pricing_plan_validate(p, NULL, 0);
	if (r < 0)
		return r;
	r = price_lines(p, usage, out, &n);
	if (r < 0)
		return r;
	if (n > max_lines)
		return -ENOSPC;
	if (n > 0)
		memcpy(lines, out, n * sizeof(out[0]));
	*ret_n = n;
	return 0;
}

int pricing_total(const struct invoice_line *lines, size_t n, int64_t *ret_total)
{
	int64_t total = 0;

	for (size_t i = 0; i < n; i++)
		if (__builtin_add_overflow(total, lines[i].amount_minor, &total))
			return -ERANGE;
	*ret_total = total;
	return 0;
}

static int priced_total(const struct pricing_plan *p, uint64_t usage, int64_t *ret_total)
{
	struct invoice_line lines[PRICING_MAX_LINES];
	size_t n;
	int r;

	r = price_lines(p, usage, lines, &n);
	if (r < 0)
		return r;
	return pricing_total(lines, n, ret_total);
}

static bool valid_period(const char *s)
{
	for (int i = 0; i < 7; i++) {
		if (i == 4 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return false;
	}
	return s[7] == '\0' && ((s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2'));
}

int pricing_adjustment(const struct pricing_plan *p, uint64_t invoiced_usage, uint64_t late_units,
		       const char *period, struct invoice_line *ret)
{
	struct invoice_line line;
	int64_t before, after;
	uint64_t usage;
	unsigned int tier;
	int r;

	r = pricing_plan_validate(p, NULL, 0);
	if (r < 0)
		return r;
	if (!valid_period(period))
		return -EINVAL;
	if (__builtin_add_overflow(invoiced_usage, late_units, &usage))
		return -ERANGE;
	r = priced_total(p, invoiced_usage, &before);
	if (r < 0)
		return r;
	r = priced_total(p, usage, &after);
	if (r < 0)
		return r;

	tier = tier_of(p, usage);
	memset(&line, 0, sizeof(line));
	line.plan_id = p->plan_id;
	line.kind = INVOICE_LINE_ADJUSTMENT;
	line.tier = tier;
	line.quantity = late_units;
	line.unit_price = p->tiers[tier].unit_price;
	if (__builtin_sub_overflow(after, before, &line.amount_minor))
		return -ERANGE;
	describe(&line, "adjustment %s", period);
	*ret = line;
	return 0;
}

/* ---- JSON --------------------------------------------------------------- */

/*
 * A money field at @path: a decimal string, or absent (then @dflt, unless
 * @required). Negative values are left to pricing_plan_validate().
 */
static int get_money(const json_t *obj, const char *key, const char *path, bool required,
		     __int128 *ret, char *err, size_t err_len)
{
	const json_t *v = json_object_get(obj, key);
	char q[QUOTE_MAX + 4];
	int r;

	if (!v) {
		if (required)
			return fail(err, err_len, "%s: is required", path);
		*ret = 0;
		return 0;
	}
	if (json_is_number(v))
		return fail(err, err_len,
			    "%s: must be a decimal string such as \"0.001\", not a number", path);
	if (!json_is_string(v))
		return fail(err, err_len, "%s: must be a decimal string such as \"0.001\"", path);
	r = money_parse(json_string_value(v), ret);
	if (r == -ERANGE)
		return fail(err, err_len, "%s: '%s' is out of range", path,
			    quote(json_string_value(v), q));
	if (r < 0)
		return fail(err, err_len,
			    "%s: '%s' is not a decimal number with at most %d decimal places", path,
			    quote(json_string_value(v), q), MONEY_SCALE_DIGITS);
	return 0;
}

/* "1" to "4294967295", no sign, no leading zero */
static int parse_id(const char *s, uint32_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9')
		return -EINVAL;
	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (s[i] != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_tier(const json_t *obj, unsigned int i, struct pricing_tier *t, char *err,
		      size_t err_len)
{
	char path[32];
	const json_t *up_to;
	int r;

	if (!json_is_object(obj))
		return fail(err, err_len, "tiers[%u]: must be an object", i);

	up_to = json_object_get(obj, "up_to");
	if (!up_to)
		return fail(err, err_len,
			    "tiers[%u].up_to: is required (an integer, or null for the last tier)",
			    i);
	if (json_is_null(up_to)) {
		t->unbounded = true;
		t->up_to = 0;
	} else if (json_is_integer(up_to)) {
		if (json_integer_value(up_to) < 1)
			return fail(err, err_len, "tiers[%u].up_to: must be at least 1", i);
		t->unbounded = false;
		t->up_to = (uint64_t)json_integer_value(up_to);
	} else {
		return fail(err, err_len, "tiers[%u].up_to: must be an integer or null", i);
	}

	snprintf(path, sizeof(path), "tiers[%u].unit_price", i);
	r = get_money(obj, "unit_price", path, true, &t->unit_price, err, err_len);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "tiers[%u].flat_price", i);
	return get_money(obj, "flat_price", path, false, &t->flat_price, err, err_len);
}

int pricing_plan_from_json_object(const json_t *root, struct pricing_plan *ret, char *err,
				  size_t err_len)
{
	struct pricing_plan plan;
	const json_t *v, *tier;
	char q[QUOTE_MAX + 4];
	size_t i;
	int r;

	if (!json_is_object(root))
		return fail(err, err_len, "body: must be a JSON object");
	memset(&plan, 0, sizeof(plan));

	v = json_object_get(root, "id");
	if (v && (!json_is_string(v) || parse_id(json_string_value(v), &plan.plan_id) < 0))
		return fail(err, err_len,
			    "id: must be a decimal string from \"1\" to \"%" PRIu32 "\"",
			    UINT32_MAX);

	v = json_object_get(root, "name");
	if (!v)
		return fail(err, err_len, "name: is required");
	if (!json_is_string(v))
		return fail(err, err_len, "name: must be a string");
	if (json_string_length(v) < 1 || json_string_length(v) >= sizeof(plan.name) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, err_len, "name: must be 1 to %d bytes of UTF-8",
			    PRICING_NAME_MAX - 1);
	memcpy(plan.name, json_string_value(v), json_string_length(v) + 1);

	v = json_object_get(root, "currency");
	if (!v)
		return fail(err, err_len, "currency: is required");
	if (!json_is_string(v))
		return fail(err, err_len, "currency: must be a string such as \"USD\"");
	if (money_currency(json_string_value(v), &plan.currency) < 0)
		return fail(err, err_len, "currency: unknown currency '%s'",
			    quote(json_string_value(v), q));

	v = json_object_get(root, "tiers_mode");
	if (!v)
		return fail(err, err_len, "tiers_mode: is required");
	if (json_is_string(v) && !strcmp(json_string_value(v), "graduated"))
		plan.mode = PRICING_GRADUATED;
	else if (json_is_string(v) && !strcmp(json_string_value(v), "volume"))
		plan.mode = PRICING_VOLUME;
	else
		return fail(err, err_len, "tiers_mode: must be \"graduated\" or \"volume\"");

	v = json_object_get(root, "tiers");
	if (!v)
		return fail(err, err_len, "tiers: is required");
	if (!json_is_array(v))
		return fail(err, err_len, "tiers: must be an array of tiers");
	if (json_array_size(v) < 1 || json_array_size(v) > PRICING_MAX_TIERS)
		return fail(err, err_len, "tiers: must have 1 to %d tiers", PRICING_MAX_TIERS);
	json_array_foreach(v, i, tier) {
		r = parse_tier(tier, (unsigned int)i, &plan.tiers[i], err, err_len);
		if (r < 0)
			return r;
	}
	plan.n_tiers = (unsigned int)json_array_size(v);

	r = get_money(root, "period_fee", "period_fee", false, &plan.period_fee, err, err_len);
	if (r < 0)
		return r;

	v = json_object_get(root, "bill_server_errors");
	if (v && !json_is_boolean(v))
		return fail(err, err_len, "bill_server_errors: must be true or false");
	plan.bill_server_errors = v && json_is_true(v);

	r = pricing_plan_validate(&plan, err, err_len);
	if (r < 0)
		return r;
	*ret = plan;
	return 0;
}

int pricing_plan_from_json(const char *json, struct pricing_plan *ret, char *err, size_t err_len)
{
	json_error_t error;
	json_t *root;
	int r;

	root = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
	if (!root)
		return fail(err, err_len, "invalid JSON: %s (line %d, column %d)", error.text,
			    error.line, error.column);
	r = pricing_plan_from_json_object(root, ret, err, err_len);
	json_decref(root);
	return r;
}

/* json_object_set_new() that also fails for a NULL value (a failed allocation). */
static int set_new(json_t *obj, const char *key, json_t *value)
{
	return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static json_t *money_string(__int128 v)
{
	char buf[MONEY_STR_MAX];

	money_format_price(v, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *tiers_array(const struct pricing_plan *p)
{
	json_t *tiers = json_array();

	if (!tiers)
		return NULL;
	for (unsigned int i = 0; i < p->n_tiers; i++) {
		const struct pricing_tier *t = &p->tiers[i];
		json_t *obj = json_object();

		if (!obj || json_array_append_new(tiers, obj) < 0 ||
		    set_new(obj, "up_to",
			    t->unbounded ? json_null() : json_integer((json_int_t)t->up_to)) < 0 ||
		    set_new(obj, "unit_price", money_string(t->unit_price)) < 0 ||
		    set_new(obj, "flat_price", money_string(t->flat_price)) < 0) {
			json_decref(tiers);
			return NULL;
		}
	}
	return tiers;
}

int pricing_tiers_to_json(const struct pricing_plan *p, char **ret)
{
	json_t *tiers;
	char *text;
	int r;

	r = pricing_plan_validate(p, NULL, 0);
	if (r < 0)
		return r;
	tiers = tiers_array(p);
	if (!tiers)
		return -ENOMEM;
	text = json_dumps(tiers, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(tiers);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

int pricing_plan_to_json_object(const struct pricing_plan *p, json_t **ret)
{
	char id[11];
	json_t *obj;
	int r;

	r = pricing_plan_validate(p, NULL, 0);
	if (r < 0)
		return r;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	snprintf(id, sizeof(id), "%" PRIu32, p->plan_id);
	if ((p->plan_id && set_new(obj, "id", json_string(id)) < 0) ||
	    set_new(obj, "name", json_string(p->name)) < 0 ||
	    set_new(obj, "currency", json_string(p->currency.code)) < 0 ||
	    set_new(obj, "tiers_mode", json_string(pricing_mode_name(p->mode))) < 0 ||
	    set_new(obj, "tiers", tiers_array(p)) < 0 ||
	    set_new(obj, "period_fee", money_string(p->period_fee)) < 0 ||
	    set_new(obj, "bill_server_errors", json_boolean(p->bill_server_errors)) < 0) {
		json_decref(obj);
		return -ENOMEM;
	}
	*ret = obj;
	return 0;
}
