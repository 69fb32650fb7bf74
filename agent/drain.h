/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * drain.h - from the kernel's ring buffer and counters to usage events.
 *
 * Each tg_event becomes a struct usage_event (DESIGN §5): its id
 * {host_id}-{epoch}-{seq}, Unix time, endpoint template, client address and
 * its country (agent/geoip.h).
 * Refusals are counted by the kernel per (consumer, api, verdict) rather
 * than sent one by one (a flood must stay cheap); every snapshot interval
 * the drain turns the counters' growth into summary events carrying the
 * count, so every request is accounted for; events the ring buffer had no
 * room for are counted the same way and become admitted summary events.
 * Events go to the Kafka spool or, in standalone mode, to agent.events_file
 * as CloudEvents JSON lines.
 */
#ifndef TG_AGENT_DRAIN_H
#define TG_AGENT_DRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "lib/config.h"

struct drain_stats {
	uint64_t drained;	/* ring-buffer records read */
	uint64_t written;	/* events written to the sink */
	uint64_t summaries;	/* summary events written */
	uint64_t summarized;	/* requests those summaries carry */
	uint64_t write_errors;
	uint64_t bad_records;
	uint64_t held_back;	/* drains skipped because the spool was full */
};

struct drain;

struct spool;

/*
 * drain_new() - attach to the ring buffer and counters map fds (not owned)
 * and write events into spool (kafka.format encoding) when it is given, else
 * into agent.events_file (CloudEvents lines, appended). The summary baseline
 * is read from agent.state_dir when it belongs to the same pin generation.
 */
int drain_new(const struct config *cfg, int events_fd, int counters_fd, uint32_t host_id,
	      uint32_t epoch, uint64_t pin_generation, struct spool *spool, struct drain **ret,
	      char *err, size_t err_len);

/* drain_epoll_fd() - becomes readable when the ring buffer has records. */
int drain_epoll_fd(struct drain *d);

/* drain_consume() - write out every record waiting; returns how many. */
int drain_consume(struct drain *d);

/* drain_record() - one ring-buffer record through the drain (what
 * drain_consume() does for each; benchmarks feed synthetic ones). Times are
 * converted with the clock pair of the last drain_consume(). Returns 0 or
 * the sink's -errno. */
struct tg_event;
int drain_record(struct drain *d, const struct tg_event *k);

/* drain_summaries() - summary events for refusals counted since the last
 * call; the baseline is then saved to agent.state_dir. Returns the number of
 * summary events written. */
int drain_summaries(struct drain *d);

/* drain_set_geoip() - take each event's country from g (agent.geoip_db; not
 * owned, NULL = none: every country "--"). The agent swaps it on SIGHUP. */
struct geoip;
void drain_set_geoip(struct drain *d, struct geoip *g);

/* drain_observe() - call fn for every event written (the Redis usage
 * counters watch them). */
struct usage_event;
void drain_observe(struct drain *d, void (*fn)(void *ctx, const struct usage_event *ev), void *ctx);

const struct drain_stats *drain_stats(const struct drain *d);

void drain_free(struct drain *d);

#endif /* TG_AGENT_DRAIN_H */
