/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dashboard-api/metrics.h"
#include "dashboard-api/routes.h"

#define STATUS_MIN 100
#define STATUS_N 500 /* 100..599 */

static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct route_stats {
	uint64_t by_status[STATUS_N];
	uint64_t buckets[N_BOUNDS]; /* not cumulative: the first bound a duration is below */
	uint64_t count;
	uint64_t micros; /* sum of durations in microseconds */
};

struct metrics {
	size_t n_routes;
	uint64_t relay_applied;
	uint64_t relay_failures;
	int64_t relay_pending;
	struct route_stats routes[]; /* n_routes + 1 */
};

struct metrics *metrics_new(size_t n)
{
	struct metrics *m = calloc(1, sizeof(*m) + (n + 1) * sizeof(struct route_stats));

	if (!m)
		return NULL;
	m->n_routes = n;
	m->relay_pending = -1;
	return m;
}

void metrics_free(struct metrics *m)
{
	free(m);
}

void metrics_request(struct metrics *m, size_t route_index, unsigned int status, double seconds)
{
	struct route_stats *r = &m->routes[route_index <= m->n_routes ? route_index : m->n_routes];
	size_t b;

	if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_N)
		__atomic_fetch_add(&r->by_status[status - STATUS_MIN], 1, __ATOMIC_RELAXED);
	for (b = 0; b < N_BOUNDS && seconds > bounds[b]; b++)
		;
	if (b < N_BOUNDS)
		__atomic_fetch_add(&r->buckets[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->micros, (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

void metrics_relay_applied(struct metrics *m, uint64_t rows)
{
	__atomic_fetch_add(&m->relay_applied, rows, __ATOMIC_RELAXED);
}

void metrics_relay_failure(struct metrics *m)
{
	__atomic_fetch_add(&m->relay_failures, 1, __ATOMIC_RELAXED);
}

void metrics_relay_pending(struct metrics *m, int64_t pending)
{
	__atomic_store_n(&m->relay_pending, pending, __ATOMIC_RELAXED);
}

static void labels(FILE *f, const struct metrics *m, size_t i)
{
	if (i < m->n_routes)
		fprintf(f, "method=\"%s\",route=\"%s\"", routes[i].method, routes[i].pattern);
	else
		fputs("method=\"\",route=\"unmatched\"", f);
}

int metrics_render(struct metrics *m, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int64_t pending;

	if (!f)
		return -ENOMEM;
	fputs("# HELP tollgate_api_requests_total Requests answered, by route and status.\n"
	      "# TYPE tollgate_api_requests_total counter\n", f);
	for (size_t i = 0; i <= m->n_routes; i++)
		for (unsigned int s = 0; s < STATUS_N; s++) {
			uint64_t v = __atomic_load_n(&m->routes[i].by_status[s], __ATOMIC_RELAXED);

			if (!v)
				continue;
			fputs("tollgate_api_requests_total{", f);
			labels(f, m, i);
			fprintf(f, ",status=\"%u\"} %llu\n", s + STATUS_MIN, (unsigned long long)v);
		}
	fputs("# HELP tollgate_api_request_duration_seconds Time to answer a request.\n"
	      "# TYPE tollgate_api_request_duration_seconds histogram\n", f);
	for (size_t i = 0; i <= m->n_routes; i++) {
		struct route_stats *r = &m->routes[i];
		uint64_t count = __atomic_load_n(&r->count, __ATOMIC_RELAXED), cum = 0;

		if (!count)
			continue;
		for (size_t b = 0; b < N_BOUNDS; b++) {
			cum += __atomic_load_n(&r->buckets[b], __ATOMIC_RELAXED);
			fputs("tollgate_api_request_duration_seconds_bucket{", f);
			labels(f, m, i);
			fprintf(f, ",le=\"%g\"} %llu\n", bounds[b], (unsigned long long)cum);
		}
		fputs("tollgate_api_request_duration_seconds_bucket{", f);
		labels(f, m, i);
		fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)count);
		fputs("tollgate_api_request_duration_seconds_sum{", f);
		labels(f, m, i);
		fprintf(f, "} %.6f\n", __atomic_load_n(&r->micros, __ATOMIC_RELAXED) / 1e6);
		fputs("tollgate_api_request_duration_seconds_count{", f);
		labels(f, m, i);
		fprintf(f, "} %llu\n", (unsigned long long)count);
	}
	fprintf(f,
		"# HELP tollgate_api_outbox_applied_total Outbox rows applied to Redis.\n"
		"# TYPE tollgate_api_outbox_applied_total counter\n"
		"tollgate_api_outbox_applied_total %llu\n"
		"# HELP tollgate_api_outbox_failures_total Relay attempts that failed (Redis or "
		"Postgres down).\n"
		"# TYPE tollgate_api_outbox_failures_total counter\n"
		"tollgate_api_outbox_failures_total %llu\n",
		(unsigned long long)__atomic_load_n(&m->relay_applied, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&m->relay_failures, __ATOMIC_RELAXED));
	pending = __atomic_load_n(&m->relay_pending, __ATOMIC_RELAXED);
	if (pending >= 0)
		fprintf(f,
			"# HELP tollgate_api_outbox_pending Outbox rows not applied yet.\n"
			"# TYPE tollgate_api_outbox_pending gauge\n"
			"tollgate_api_outbox_pending %lld\n",
			(long long)pending);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
