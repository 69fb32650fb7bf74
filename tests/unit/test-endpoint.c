// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-endpoint.c - endpoint templates (lib/endpoint.h): what analytics group
 * requests by.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/endpoint.h"

static void check(const char *path, const char *expected)
{
	char out[256];
	size_t n;

	memset(out, 'X', sizeof(out));
	n = endpoint_normalize(path, strlen(path), out, sizeof(out));
	assert_string_equal(out, expected);
	assert_int_equal(n, strlen(expected));
}

static void test_plain_paths_unchanged(void **state)
{
	(void)state;
	check("/", "/");
	check("/v1/orders", "/v1/orders");
	check("/v1/orders/", "/v1/orders/");
	check("/v2/users/me/settings", "/v2/users/me/settings");
	check("/a/b-c_d.e~f", "/a/b-c_d.e~f");
	check("/v1/caf%C3%A9", "/v1/caf%C3%A9"); /* no decoding */
	check("/v1/café", "/v1/café");
}

static void test_empty_is_root(void **state)
{
	char out[8];

	(void)state;
	check("", "/");
	check("?x=1", "/");
	check("#frag", "/");
	assert_int_equal(endpoint_normalize(NULL, 0, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
}

static void test_query_and_fragment_dropped(void **state)
{
	(void)state;
	check("/v1/orders?limit=10&after=12", "/v1/orders");
	check("/v1/orders/?x", "/v1/orders/");
	check("/v1/orders#top", "/v1/orders");
	check("/v1/orders/123?x=/456/", "/v1/orders/{id}");
	check("/search?q=a#b", "/search");
}

static void test_numeric_segments(void **state)
{
	(void)state;
	check("/v1/orders/12345", "/v1/orders/{id}");
	check("/v1/orders/0", "/v1/orders/{id}");
	check("/v1/users/42/orders/7", "/v1/users/{id}/orders/{id}");
	check("/v1/orders/12345/", "/v1/orders/{id}/");
	check("/123", "/{id}");
	/* the version segment is not an id, nor a mixed segment */
	check("/v1/orders/12a", "/v1/orders/12a");
	check("/v1/orders/-12", "/v1/orders/-12");
	check("/v1/orders/1.5", "/v1/orders/1.5");
	check("/v1/orders/+1", "/v1/orders/+1");
}

static void test_uuid_segments(void **state)
{
	(void)state;
	check("/v1/orders/123e4567-e89b-12d3-a456-426614174000", "/v1/orders/{id}");
	check("/v1/orders/123E4567-E89B-12D3-A456-426614174000/items", "/v1/orders/{id}/items");
	/* wrong group lengths, a non-hex digit, or no dashes of the right shape */
	check("/x/123e4567-e89b-12d3-a456-42661417400", "/x/123e4567-e89b-12d3-a456-42661417400");
	check("/x/123e4567e-89b-12d3-a456-426614174000", "/x/123e4567e-89b-12d3-a456-426614174000");
	check("/x/123e4567-e89b-12d3-a456-42661417400g", "/x/123e4567-e89b-12d3-a456-42661417400g");
	/* 32 hex digits without dashes are a hex id */
	check("/x/123e4567e89b12d3a456426614174000", "/x/{id}");
}

static void test_hex_segments(void **state)
{
	(void)state;
	check("/v1/objects/507f1f77bcf86cd799439011", "/v1/objects/{id}"); /* 24 hex */
	check("/v1/objects/0123456789abcdef", "/v1/objects/{id}");	   /* 16 hex */
	check("/v1/objects/0123456789ABCDEF", "/v1/objects/{id}");
	check("/v1/objects/0123456789abcde", "/v1/objects/0123456789abcde"); /* 15 hex */
	check("/v1/blobs/deadbeef", "/v1/blobs/deadbeef");
	check("/v1/objects/0123456789abcdefg", "/v1/objects/0123456789abcdefg");
	check("/v1/abcdefabcdefabcd", "/v1/{id}"); /* letters only, still hex */
}

static void test_duplicate_slashes_kept(void **state)
{
	(void)state;
	check("//v1//orders//12//", "//v1//orders//{id}//");
	check("/v1/orders//", "/v1/orders//");
	check("///", "///");
}

static void test_absolute_form(void **state)
{
	(void)state;
	check("http://api.example.com/v1/orders/12?x=1", "/v1/orders/{id}");
	check("https://api.example.com:8443/v1", "/v1");
	check("http://api.example.com", "/");
	check("http://api.example.com?x", "/");
	check("*", "*");
	check("/v1/redirect/http://x/12", "/v1/redirect/http://x/{id}");
}

static void test_stops_at_nul(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	n = endpoint_normalize("/v1/12\0/34", 10, out, sizeof(out));
	assert_string_equal(out, "/v1/{id}");
	assert_int_equal(n, 8);
}

static void test_len_bounds_input(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	/* not NUL-terminated: only len bytes are read */
	n = endpoint_normalize("/v1/orders/12345", 13, out, sizeof(out));
	assert_string_equal(out, "/v1/orders/{id}");
	assert_int_equal(n, 15);
}

static void test_truncation(void **state)
{
	char path[400], out[300], expected[200];
	size_t n;

	(void)state;
	/* never more than 128 characters, even with room */
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	n = endpoint_normalize(path, sizeof(path), out, sizeof(out));
	assert_int_equal(n, 128);
	assert_int_equal(strlen(out), 128);

	/* ids make the template longer than the path: still at most 128 */
	strcpy(path, "");
	for (int i = 0; i < 60; i++)
		strcat(path, "/1");
	n = endpoint_normalize(path, strlen(path), out, sizeof(out));
	assert_int_equal(n, 128);
	strcpy(expected, "");
	for (int i = 0; i < 25; i++) /* 25 * 5 + 3 = 128 */
		strcat(expected, "/{id}");
	strcat(expected, "/{i");
	assert_string_equal(out, expected);

	/* a small buffer: out_size - 1 bytes and the NUL */
	memset(out, 'X', sizeof(out));
	n = endpoint_normalize("/v1/orders/12", 13, out, 8);
	assert_int_equal(n, 7);
	assert_string_equal(out, "/v1/ord");
	assert_int_equal(out[8], 'X');

	n = endpoint_normalize("/v1/orders/12", 13, out, 1);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");

	out[0] = 'X';
	n = endpoint_normalize("/v1", 3, out, 0);
	assert_int_equal(n, 0);
	assert_int_equal(out[0], 'X');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_paths_unchanged),
		cmocka_unit_test(test_empty_is_root),
		cmocka_unit_test(test_query_and_fragment_dropped),
		cmocka_unit_test(test_numeric_segments),
		cmocka_unit_test(test_uuid_segments),
		cmocka_unit_test(test_hex_segments),
		cmocka_unit_test(test_duplicate_slashes_kept),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_stops_at_nul),
		cmocka_unit_test(test_len_bounds_input),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
