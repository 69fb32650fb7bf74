/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.h - what GET /metrics shows (Prometheus text format 0.0.4):
 * requests by route pattern, method and status, their latency as a
 * histogram, authentication failures, and the outbox relay's progress.
 * Counters are updated with atomics from any thread.
 */
#ifndef TG_API_METRICS_H
#define TG_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;

/* metrics_new() - counters for @n_routes routes (plus one for unmatched paths). NULL on -ENOMEM. */
struct metrics *metrics_new(size_t n_routes);
void metrics_free(struct metrics *m);

/*
 * metrics_request() - count one request to route @route_index (@n_routes for
 * no route) answered @status after @seconds.
 */
void metrics_request(struct metrics *m, size_t route_index, unsigned int status, double seconds);

/* the relay's numbers (relay.c) */
void metrics_relay_applied(struct metrics *m, uint64_t rows);
void metrics_relay_failure(struct metrics *m);
void metrics_relay_pending(struct metrics *m, int64_t pending); /* -1 = unknown */

/*
 * metrics_render() - the exposition text, malloc'ed in @ret with its length
 * in @ret_len. 0 or -ENOMEM.
 */
int metrics_render(struct metrics *m, char **ret, size_t *ret_len);

#endif /* TG_API_METRICS_H */
