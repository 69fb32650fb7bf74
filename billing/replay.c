/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "billing/migrate.h"
#include "billing/pg.h"
#include "billing/replay.h"
#include "billing/run.h"
#include "billing/usage.h"
#include "lib/log.h"

#define MAX_PARTITIONS 4096

struct replay {
	const struct config *cfg;
	PGconn *pg;
	rd_kafka_t *rk;
	struct usage_batch *batch;
	int n;
	int64_t target[MAX_PARTITIONS]; /* read up to here (the committed offset) */
	int64_t next[MAX_PARTITIONS];	/* the next offset to read; -1: not started */
	bool assigned[MAX_PARTITIONS];
	uint64_t messages;
};

int replay_parse_time(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	const char *end;
	char *e;
	long long v;

	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end && !*end) {
		*ret = timegm(&tm);
		return 0;
	}
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || *e || e == s || v < 0)
		return -EINVAL;
	*ret = (time_t)v;
	return 0;
}

/* the committed next_offset of every partition of the usage topic */
static int read_targets(struct replay *rp, bool lock)
{
	const char *params[] = { rp->cfg->kafka.topic_usage };
	PGresult *res = pg_exec(rp->pg, "read the committed offsets",
				lock ? "SELECT partition, next_offset FROM consumer_offsets"
				       " WHERE topic = $1 ORDER BY partition FOR UPDATE"
				     : "SELECT partition, next_offset FROM consumer_offsets"
				       " WHERE topic = $1 ORDER BY partition",
				1, params);

	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		long p = strtol(PQgetvalue(res, i, 0), NULL, 10);
		int64_t next = strtoll(PQgetvalue(res, i, 1), NULL, 10);

		if (p < 0 || p >= MAX_PARTITIONS)
			continue;
		rp->target[p] = next < 0 ? 0 : next;
		if (p + 1 > rp->n)
			rp->n = (int)p + 1;
	}
	PQclear(res);
	return 0;
}

/* start reading each partition that has something committed not yet read */
static int assign_pending(struct replay *rp, time_t from)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(rp->n + 1);
	rd_kafka_topic_partition_list_t *times = rd_kafka_topic_partition_list_new(rp->n + 1);
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int p = 0; p < rp->n; p++)
		if (!rp->assigned[p] && rp->target[p] > 0)
			rd_kafka_topic_partition_list_add(times, rp->cfg->kafka.topic_usage, p)
				->offset = (int64_t)from * 1000;
	if (times->cnt) {
		/* the first offset at or after TIME by message timestamp; brokers that
		 * cannot tell (the dev broker) answer -1: read from the start */
		e = rd_kafka_offsets_for_times(rp->rk, times, 10000);
		if (e)
			log_warn("kafka: offsets by time: %s; reading from the start",
				 rd_kafka_err2str(e));
	}
	for (int i = 0; i < times->cnt; i++) {
		rd_kafka_topic_partition_t *t = &times->elems[i];
		int p = t->partition;

		rp->assigned[p] = true;
		rp->next[p] = -1;
		rd_kafka_topic_partition_list_add(parts, t->topic, p)->offset =
			!e && !t->err && t->offset >= 0 ? t->offset : RD_KAFKA_OFFSET_BEGINNING;
	}
	e = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (parts->cnt) {
		rd_kafka_error_t *error = rd_kafka_incremental_assign(rp->rk, parts);

		if (error) {
			e = rd_kafka_error_code(error);
			rd_kafka_error_destroy(error);
		}
	}
	rd_kafka_topic_partition_list_destroy(times);
	rd_kafka_topic_partition_list_destroy(parts);
	/* partitions read before, whose target moved on: back to where they
	 * were, since messages past the old target were read and left alone */
	parts = rd_kafka_topic_partition_list_new(rp->n + 1);
	for (int p = 0; p < rp->n && !e; p++)
		if (rp->assigned[p] && rp->next[p] >= 0 && rp->next[p] < rp->target[p])
			rd_kafka_topic_partition_list_add(parts, rp->cfg->kafka.topic_usage, p)
				->offset = rp->next[p];
	if (parts->cnt && !e) {
		rd_kafka_error_t *error = rd_kafka_seek_partitions(rp->rk, parts, 10000);

		if (error) {
			e = rd_kafka_error_code(error);
			rd_kafka_error_destroy(error);
		}
	}
	rd_kafka_topic_partition_list_destroy(parts);
	if (e) {
		log_error("kafka: cannot assign the partitions to replay");
		return -EIO;
	}
	return 0;
}

static bool caught_up(const struct replay *rp)
{
	for (int p = 0; p < rp->n; p++)
		if (rp->target[p] > 0 && (rp->next[p] < 0 || rp->next[p] < rp->target[p]))
			return false;
	return true;
}

/* read until every partition reached its target */
static int read_up_to_targets(struct replay *rp)
{
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rp->rk);
	unsigned int idle = 0;
	int r = 0;

	while (!caught_up(rp) && r == 0) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 1000);
		struct usage_event ev;
		char reason[256];
		int p;

		if (!m) {
			if (++idle == 60) {
				log_error("replay: no message for 60 s before reaching the committed "
					  "offsets");
				r = -ETIMEDOUT;
			}
			continue;
		}
		idle = 0;
		p = m->partition;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (p >= 0 && p < rp->n && (rp->next[p] < 0 || m->offset > rp->next[p]))
				rp->next[p] = m->offset;
		} else if (m->err) {
			log_warn("kafka: %s", rd_kafka_message_errstr(m));
		} else if (p >= 0 && p < rp->n && m->offset < rp->target[p]) {
			if (rp->next[p] < 0 && m->offset > 0)
				log_warn("replay: partition %d starts at offset %" PRId64 " (Kafka's "
					 "retention): events before it cannot be replayed",
					 p, m->offset);
			rp->next[p] = m->offset + 1;
			rp->messages++;
			/* dead letters were recorded by the live members already */
			if (run_decode_usage(m, &ev, reason, sizeof(reason)) == 0) {
				r = usage_batch_add_event(rp->batch, rp->pg, rp->cfg->kafka.topic_usage,
							  p, m->offset, &ev);
				r = r == -EBADMSG || r >= 0 ? 0 : r;
			}
		} else if (p >= 0 && p < rp->n && m->offset >= rp->target[p]) {
			/* past the committed offsets: the live members' */
			if (rp->next[p] < rp->target[p])
				rp->next[p] = rp->target[p];
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_queue_destroy(q);
	return r;
}

static int kafka_open(struct replay *rp)
{
	const char *settings[][2] = {
		{ "bootstrap.servers", rp->cfg->kafka.brokers },
		/* never joins: offsets are assigned by hand and nothing is committed */
		{ "group.id", "tollgate-billing-replay" },
		{ "enable.auto.commit", "false" },
		{ "enable.partition.eof", "true" },
		{ "auto.offset.reset", "earliest" },
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err))) {
			log_error("kafka: %s: %s", settings[i][0], err);
			rd_kafka_conf_destroy(conf);
			return -EINVAL;
		}
	rp->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rp->rk) {
		log_error("kafka: %s", err);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_poll_set_consumer(rp->rk);
	return 0;
}

int replay_main(const struct config *cfg, time_t from)
{
	struct replay *rp = calloc(1, sizeof(*rp));
	const struct usage_stats *st;
	int r;

	if (!rp)
		return -ENOMEM;
	rp->cfg = cfg;
	from -= from % 86400; /* whole day rows are rebuilt */
	if (!cfg->kafka.brokers[0]) {
		log_error("kafka.brokers: replay reads the events from Kafka");
		r = -EINVAL;
		goto out;
	}
	r = pg_connect(cfg->postgres.dsn, &rp->pg);
	if (!r)
		r = migrate_check(rp->pg);
	if (!r)
		r = usage_batch_new_replay(cfg->billing.minute_retention, from, &rp->batch);
	if (!r)
		r = kafka_open(rp);
	if (!r)
		r = read_targets(rp, false);
	if (!r)
		r = assign_pending(rp, from);
	if (!r)
		r = read_up_to_targets(rp);
	if (!r)
		r = usage_batch_prepare_partitions(rp->batch, rp->pg);
	if (r)
		goto out;
	/* hold the group's offsets still while catching up and swapping */
	r = pg_command(rp->pg, "begin", "BEGIN", 0, NULL);
	if (!r)
		r = read_targets(rp, true);
	if (!r)
		r = assign_pending(rp, from);
	if (!r)
		r = read_up_to_targets(rp);
	if (!r)
		r = usage_batch_replace(rp->batch, rp->pg);
	if (!r)
		r = pg_command(rp->pg, "commit", "COMMIT", 0, NULL);
	if (r) {
		PQclear(PQexec(rp->pg, "ROLLBACK"));
		log_error("replay failed; the rollups are as they were");
		goto out;
	}
	st = usage_batch_stats(rp->batch);
	{
		char day[32];
		struct tm tm;

		gmtime_r(&from, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		log_info("replayed from %s: %" PRIu64 " messages, %" PRIu64 " events, %" PRIu64
			 " duplicates; %" PRIu64 " minute, %" PRIu64 " hour, %" PRIu64 " day rows",
			 day, rp->messages, st->events, st->duplicates, st->rows_minute,
			 st->rows_hour, st->rows_day);
	}
out:
	if (rp->rk) {
		rd_kafka_consumer_close(rp->rk);
		rd_kafka_destroy(rp->rk);
	}
	usage_batch_free(rp->batch);
	PQfinish(rp->pg);
	free(rp);
	return r;
}
