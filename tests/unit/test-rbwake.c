/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-rbwake.c - bpf/lib/ringbuf.h, compiled as the BPF side compiles it:
 * events submitted one after another wake the agent once per multiple of the
 * mark they fill past, never for the events in between; interleaved
 * reservations that hide a multiple leave the next one to wake it.
 */
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "bpf/lib/ringbuf.h"

#define REC 232 /* a struct tg_event record with its header */

/* One producer, the agent asleep: the fill grows by one record at a time. */
static void test_one_wakeup_per_multiple(void **state)
{
	const __u64 marks[] = { 512, 4096, 64 * 1024, 512 * 1024 };

	(void)state;
	for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		__u64 mark = marks[m], avail = 0, wakes = 0, first = 0;

		while (avail < 8 * mark) {
			avail += REC;
			if (tg_rb_crossed(avail, REC, mark)) {
				wakes++;
				if (!first)
					first = avail;
			}
		}
		/* every multiple up to the last fill, each once */
		assert_int_equal(wakes, avail / mark);
		assert_true(first >= mark && first - REC < mark);
	}
}

/* Below the mark nothing wakes; exactly at it, the record that reaches it. */
static void test_below_and_at_the_mark(void **state)
{
	(void)state;
	assert_false(tg_rb_crossed(REC, REC, 4096));
	assert_false(tg_rb_crossed(4095, REC, 4096));
	assert_true(tg_rb_crossed(4096, REC, 4096));
	assert_false(tg_rb_crossed(4096 + REC, REC, 4096));
	assert_false(tg_rb_crossed(4096, REC, 0)); /* no mark: never */
}

/* Two CPUs: A's reservation crosses the mark, B's follows before A reads
 * the fill; neither sees the crossing, and the next multiple wakes. */
static void test_hidden_crossing_caught_at_the_next(void **state)
{
	const __u64 mark = 4096;
	__u64 avail = mark - 100, wakes = 0;

	(void)state;
	avail += REC; /* A */
	avail += REC; /* B */
	assert_false(tg_rb_crossed(avail, REC, mark)); /* A's view */
	assert_false(tg_rb_crossed(avail, REC, mark)); /* B's view */
	while (avail < 2 * mark + REC) {
		avail += REC;
		wakes += tg_rb_crossed(avail, REC, mark);
	}
	assert_int_equal(wakes, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_wakeup_per_multiple),
		cmocka_unit_test(test_below_and_at_the_mark),
		cmocka_unit_test(test_hidden_crossing_caught_at_the_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
