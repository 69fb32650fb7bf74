// SPDX-License-Identifier: BSD-2-Clause
/* test-snapshot.c - the tollgate.counters message of one (consumer, api). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/snapshot.h"

static void fill(struct tg_counter_key *k, struct tg_counters *c)
{
	memset(c, 0, sizeof(*c));
	k->consumer_id = 4294967295u;
	k->api_id = 3;
	c->requests = 12345678901ULL;
	for (int v = 1; v < TG_V_COUNT; v++)
		c->refused[v] = 100 + v;
	for (int s = 1; s <= 5; s++)
		c->status_class[s] = 10 * s;
	c->unanswered = 7;
	c->unattributed = 8;
	c->bytes_in = 9;
	c->bytes_out = 10;
	c->latency_us_sum = 11;
	c->events_lost = 12;
}

static void test_json_fields(void **state)
{
	static const char *const verdicts[] = { "missing_key", "unknown_key", "revoked_key", "suspended",
						"forbidden_api", "over_limit", "quota_exhausted" };
	struct tg_counter_key k;
	struct tg_counters c;
	char buf[SNAPSHOT_JSON_MAX];
	json_error_t jerr;
	json_t *root, *refused, *status;
	int n;

	(void)state;
	fill(&k, &c);
	n = snapshot_to_json(7, 0x00ab00cd00ef0012ULL, 1700000000123456789ULL, &k, &c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_null(strchr(buf, '\n'));
	root = json_loads(buf, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "host_id")), "7");
	assert_string_equal(json_string_value(json_object_get(root, "pin_generation")), "00ab00cd00ef0012");
	assert_string_equal(json_string_value(json_object_get(root, "time")), "2023-11-14T22:13:20.123456789Z");
	assert_string_equal(json_string_value(json_object_get(root, "consumer_id")), "4294967295");
	assert_string_equal(json_string_value(json_object_get(root, "api_id")), "3");
	assert_int_equal(json_integer_value(json_object_get(root, "requests")), 12345678901LL);
	refused = json_object_get(root, "refused");
	assert_int_equal(json_object_size(refused), TG_V_COUNT - 1);
	for (int v = 1; v < TG_V_COUNT; v++)
		assert_int_equal(json_integer_value(json_object_get(refused, verdicts[v - 1])), 100 + v);
	status = json_object_get(root, "status");
	assert_int_equal(json_integer_value(json_object_get(status, "1xx")), 10);
	assert_int_equal(json_integer_value(json_object_get(status, "5xx")), 50);
	assert_int_equal(json_integer_value(json_object_get(root, "unanswered")), 7);
	assert_int_equal(json_integer_value(json_object_get(root, "unattributed")), 8);
	assert_int_equal(json_integer_value(json_object_get(root, "bytes_in")), 9);
	assert_int_equal(json_integer_value(json_object_get(root, "bytes_out")), 10);
	assert_int_equal(json_integer_value(json_object_get(root, "latency_us_sum")), 11);
	assert_int_equal(json_integer_value(json_object_get(root, "events_lost")), 12);
	json_decref(root);
}

static void test_key_and_space(void **state)
{
	struct tg_counter_key k;
	struct tg_counters c;
	char buf[SNAPSHOT_JSON_MAX], small[40];

	(void)state;
	fill(&k, &c);
	assert_int_equal(snapshot_key(7, 0x12ULL, &k, buf, sizeof(buf)),
			 (int)strlen("7:0000000000000012:4294967295:3"));
	assert_string_equal(buf, "7:0000000000000012:4294967295:3");
	assert_int_equal(snapshot_key(7, 0x12ULL, &k, small, 10), -ENOSPC);
	assert_int_equal(snapshot_to_json(7, 1, 0, &k, &c, small, sizeof(small)), -ENOSPC);
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_key_and_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
