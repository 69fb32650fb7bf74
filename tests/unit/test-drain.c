/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-drain.c - the agent's drain into agent.events_file: every record
 * becomes one CloudEvents line, in order, with consecutive ids, across the
 * writes that gather many lines; lines still gathered are written when the
 * drain is freed; a sink that refuses writes loses the events into
 * write_errors, not silently, and refusal counts it could not take as
 * summaries are summarised again. Needs CAP_BPF (a real ring buffer and counters
 * map, as the agent has).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>

#include "agent/drain.h"
#include "bpf/tollgate_abi.h"
#include "lib/config.h"

struct fixture {
	char dir[64];
	char path[128];
	struct config cfg;
	int rb, counters;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test-drain.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/events.jsonl", f->dir);
	config_init(&f->cfg);
	snprintf(f->cfg.agent.events_file, sizeof(f->cfg.agent.events_file), "%s", f->path);
	snprintf(f->cfg.agent.state_dir, sizeof(f->cfg.agent.state_dir), "%s", f->dir);
	f->rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 4096, NULL);
	f->counters = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(struct tg_counter_key),
				     sizeof(struct tg_counters), 16, NULL);
	*state = f;
	return f->rb < 0 || f->counters < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char snapshot[160];

	if (f->rb >= 0)
		close(f->rb);
	if (f->counters >= 0)
		close(f->counters);
	unlink(f->path);
	snprintf(snapshot, sizeof(snapshot), "%s/refused.snapshot", f->dir);
	unlink(snapshot);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct drain *open_drain(struct fixture *f)
{
	struct drain *d = NULL;
	char err[256];

	if (drain_new(&f->cfg, f->rb, f->counters, 7, 3, 1, NULL, &d, err, sizeof(err)))
		fail_msg("drain_new: %s", err);
	return d;
}

/* Record i: its own consumer, status and an endpoint as long as TG_PATH_MAX
 * allows, so that lines differ in length. */
static void record(struct tg_event *ev, unsigned int i)
{
	memset(ev, 0, sizeof(*ev));
	ev->start_ns = 1000000000ULL + i;
	ev->consumer_id = 1 + i;
	ev->plan_id = 1;
	ev->api_id = 2;
	ev->route_id = 3;
	ev->key_id = 4;
	ev->status = 200 + i % 300;
	ev->method = TG_M_GET;
	ev->count = 1;
	ev->client_addr[10] = ev->client_addr[11] = 0xff;
	ev->client_addr[12] = 192;
	ev->client_addr[15] = (uint8_t)i;
	ev->path_len = (uint8_t)(1 + i % TG_PATH_MAX);
	memset(ev->path, 'a' + i % 26, ev->path_len);
	ev->path[0] = '/';
}

/* The file holds exactly n lines, event i's on line i. */
static void check_lines(const char *path, unsigned int n)
{
	FILE *in = fopen(path, "r");
	char line[4096], want_id[32], want_consumer[16];
	unsigned int i = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		json_error_t error;
		json_t *root, *data;

		assert_non_null(strchr(line, '\n'));
		root = json_loads(line, 0, &error);
		if (!root)
			fail_msg("line %u is not JSON: %s: %s", i, error.text, line);
		data = json_object_get(root, "data");
		snprintf(want_id, sizeof(want_id), "7-3-%u", i);
		snprintf(want_consumer, sizeof(want_consumer), "%u", 1 + i);
		assert_string_equal(json_string_value(json_object_get(root, "id")), want_id);
		assert_string_equal(json_string_value(json_object_get(data, "consumer_id")), want_consumer);
		assert_int_equal(json_integer_value(json_object_get(data, "status")), 200 + i % 300);
		json_decref(root);
		i++;
	}
	fclose(in);
	assert_int_equal(i, n);
}

/* 2,000 lines of up to 500 bytes: many gathered writes, and their seams. */
static void test_lines_in_order(void **state)
{
	struct fixture *f = *state;
	struct drain *d = open_drain(f);
	struct tg_event ev;

	for (unsigned int i = 0; i < 2000; i++) {
		record(&ev, i);
		assert_int_equal(drain_record(d, &ev), 0);
	}
	assert_int_equal(drain_consume(d), 0); /* the ring buffer is empty; it writes out */
	assert_int_equal(drain_stats(d)->written, 2000);
	assert_int_equal(drain_stats(d)->write_errors, 0);
	check_lines(f->path, 2000);
	drain_free(d);
}

/* Lines gathered but not yet written go out when the drain ends. */
static void test_free_writes_the_rest(void **state)
{
	struct fixture *f = *state;
	struct drain *d = open_drain(f);
	struct tg_event ev;

	for (unsigned int i = 0; i < 5; i++) {
		record(&ev, i);
		assert_int_equal(drain_record(d, &ev), 0);
	}
	check_lines(f->path, 0);
	drain_free(d);
	check_lines(f->path, 5);
}

/* A sink with no room (/dev/full): every event is counted as lost. */
static void test_refused_writes_are_counted(void **state)
{
	struct fixture *f = *state;
	struct drain *d;
	struct tg_event ev;
	unsigned int n = 1000, refused = 0;

	snprintf(f->cfg.agent.events_file, sizeof(f->cfg.agent.events_file), "/dev/full");
	d = open_drain(f);
	for (unsigned int i = 0; i < n; i++) {
		record(&ev, i);
		if (drain_record(d, &ev) == -ENOSPC)
			refused++; /* it was full when this one came: not taken */
	}
	drain_consume(d);
	assert_true(refused < n); /* most were taken, then lost at the write */
	assert_int_equal(drain_stats(d)->written, 0);
	assert_int_equal(drain_stats(d)->write_errors + refused, n);
	drain_free(d);
}

/* The file may grow by at most @bytes (RLIMIT_FSIZE; writes past it fail
 * with EFBIG), or without limit for RLIM_INFINITY. */
static void limit_file_size(rlim_t bytes)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* Refusals counted by the kernel become one summary event; when the file
 * cannot take it, the count is summarised again at the next call. */
static void test_summary_written_again_after_a_failed_write(void **state)
{
	struct fixture *f = *state;
	struct tg_counter_key key = { .consumer_id = 5, .api_id = 2 };
	struct tg_counters c = { 0 };
	struct drain *d;
	json_error_t error;
	json_t *root, *data;
	char line[4096];
	FILE *in;

	c.refused[TG_V_OVER_LIMIT] = 7;
	assert_int_equal(bpf_map_update_elem(f->counters, &key, &c, BPF_ANY), 0);
	d = open_drain(f);
	signal(SIGXFSZ, SIG_IGN);
	limit_file_size(0);
	assert_int_equal(drain_summaries(d), 0);
	limit_file_size(RLIM_INFINITY);
	assert_true(drain_stats(d)->write_errors >= 1);
	check_lines(f->path, 0);

	assert_int_equal(drain_summaries(d), 1);
	assert_int_equal(drain_summaries(d), 0); /* nothing new since */
	drain_free(d);

	in = fopen(f->path, "r");
	assert_non_null(in);
	assert_non_null(fgets(line, sizeof(line), in));
	assert_null(fgets(line + strlen(line), (int)(sizeof(line) - strlen(line)), in));
	fclose(in);
	root = json_loads(line, 0, &error);
	assert_non_null(root);
	data = json_object_get(root, "data");
	assert_string_equal(json_string_value(json_object_get(data, "consumer_id")), "5");
	assert_string_equal(json_string_value(json_object_get(data, "verdict")), "over_limit");
	assert_int_equal(json_integer_value(json_object_get(data, "count")), 7);
	assert_true(json_is_true(json_object_get(json_object_get(data, "flags"), "summary")));
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_writes_the_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_writes_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_written_again_after_a_failed_write, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
