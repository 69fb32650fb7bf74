/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <systemd/sd-daemon.h>

#include "billing/deprecation.h"
#include "billing/invoice.h"
#include "billing/migrate.h"
#include "billing/payments.h"
#include "billing/pg.h"
#include "billing/run.h"
#include "billing/sla.h"
#include "billing/usage.h"
#include "billing/webhook.h"
#include "lib/event.h"
#include "lib/log.h"

#define CT_BINARY "application/vnd.tollgate.usage.v1"
#define CT_CLOUDEVENTS "application/cloudevents+json"

struct run {
	const struct config *cfg;
	rd_kafka_t *rk;
	PGconn *pg;
	struct usage_batch *batch;
	struct timespec batch_start;
	struct usage_stats at_commit; /* usage_batch_stats() after the last commit */
	time_t last_requests_check, last_invoicing, last_sla, last_deprecation, last_webhooks;
	time_t last_payments, last_retention;
	bool notified; /* an invoice run was requested (NOTIFY) */
	uint64_t committed_events;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Wait @ms while serving the group (heartbeats, rebalances). A message that
 * arrives is dropped: callers seek every partition back afterwards. */
static void idle(struct run *run, int ms)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(run->rk, ms);

	if (m)
		rd_kafka_message_destroy(m);
}

/* @serve_group: false inside the rebalance callback, which must not poll */
static int pg_reconnect(struct run *run, bool serve_group)
{
	unsigned int delay_ms = 100;
	bool failed = false;

	while (!stop_signal) {
		if (!pg_broken(run->pg))
			return 0;
		PQfinish(run->pg);
		run->pg = NULL;
		if (pg_connect(run->cfg->postgres.dsn, &run->pg) == 0 &&
		    pg_command(run->pg, "listen", "LISTEN " INVOICE_CHANNEL, 0, NULL) == 0) {
			if (failed)
				log_info("postgres: connected");
			run->notified = true; /* requests may have come meanwhile */
			return 0;
		}
		failed = true;
		run->pg = NULL;
		if (serve_group)
			idle(run, (int)delay_ms);
		else
			usleep(delay_ms * 1000);
		delay_ms = delay_ms < 5000 ? delay_ms * 2 : 5000;
	}
	return -EINTR;
}

/* Read (creating) the committed offset of each partition; fill @parts. */
static int load_fences(struct run *run, rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		char part[16];
		const char *params[] = { p->topic, part };
		PGresult *res;
		int64_t next;

		snprintf(part, sizeof(part), "%" PRId32, p->partition);
		if (pg_command(run->pg, "create offsets",
			       "INSERT INTO consumer_offsets (topic, partition) VALUES ($1, $2)"
			       " ON CONFLICT DO NOTHING",
			       2, params))
			return -EIO;
		res = pg_exec(run->pg, "read offsets",
			      "SELECT next_offset FROM consumer_offsets WHERE topic = $1"
			      " AND partition = $2",
			      2, params);
		if (!res)
			return -EIO;
		next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (usage_batch_fence(run->batch, p->topic, p->partition, next))
			return -ENOMEM;
		p->offset = next < 0 ? RD_KAFKA_OFFSET_BEGINNING : next;
	}
	return 0;
}

static void assign(struct run *run, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_resp_err_t e;

	usage_batch_release(run->batch);
	while (!stop_signal) {
		if (pg_reconnect(run, false))
			break;
		if (load_fences(run, parts) == 0)
			break;
		usage_batch_release(run->batch);
		if (!pg_broken(run->pg))
			sleep(1); /* a query failed on a live connection: do not spin */
	}
	e = rd_kafka_assign(run->rk, stop_signal ? NULL : parts);
	if (e)
		log_error("kafka: assign: %s", rd_kafka_err2str(e));
	else if (!stop_signal)
		log_info("assigned %d partition(s)", parts->cnt);
	clock_gettime(CLOCK_MONOTONIC, &run->batch_start);
}

static int commit(struct run *run);

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct run *run = opaque;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		assign(run, parts);
		return;
	}
	/* revoked (or an error): what we read so far is ours to write, if
	 * the fence still says so; then let go. A batch that cannot be written
	 * now is not read again here (no polling inside this callback): the
	 * partitions' next owner reads it from the fenced offsets. */
	if (usage_batch_messages(run->batch) && usage_batch_commit(run->batch, run->pg))
		log_warn("the batch of the revoked partitions was not written; their next "
			 "owner reads it again");
	run->at_commit = *usage_batch_stats(run->batch);
	usage_batch_release(run->batch);
	rd_kafka_assign(rk, NULL);
	log_info("released %d partition(s)", parts->cnt);
}

/* After a failed commit nothing of the batch landed: read it again from the
 * fenced offsets (re-read from Postgres when @reload). */
static void rewind_partitions(struct run *run, bool reload)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_error_t *error;

	if (reload || pg_broken(run->pg)) {
		usage_batch_release(run->batch);
		pg_reconnect(run, true);
	}
	/* the assignment may have changed while we waited */
	if (rd_kafka_assignment(run->rk, &parts) || !parts)
		return;
	if (parts->cnt == 0 || stop_signal) {
		rd_kafka_topic_partition_list_destroy(parts);
		return;
	}
	if (reload) {
		usage_batch_release(run->batch);
		while (!stop_signal && (pg_reconnect(run, true) || load_fences(run, parts))) {
			usage_batch_release(run->batch);
			idle(run, 1000);
		}
	}
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t next = -1;

		usage_batch_next_offset(run->batch, p->topic, p->partition, &next);
		p->offset = next < 0 ? RD_KAFKA_OFFSET_BEGINNING : next;
	}
	error = rd_kafka_seek_partitions(run->rk, parts, 10000);
	if (error) {
		log_error("kafka: seek back to the committed offsets: %s",
			  rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	rd_kafka_topic_partition_list_destroy(parts);
}

static int commit(struct run *run)
{
	const struct usage_stats *st = usage_batch_stats(run->batch);
	uint64_t events0 = run->at_commit.events, dup0 = run->at_commit.duplicates;
	uint64_t dead0 = run->at_commit.dead;
	uint64_t msgs = usage_batch_messages(run->batch);
	struct timespec t0;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	double age = since(&run->batch_start);

	r = usage_batch_commit(run->batch, run->pg);
	clock_gettime(CLOCK_MONOTONIC, &run->batch_start);
	run->at_commit = *st; /* what failed is read again and counted again */
	if (r == 0) {
		if (msgs)
			log_info("batch: %" PRIu64 " messages in %.1f s: %" PRIu64 " events, %" PRIu64
				 " duplicates, %" PRIu64 " dead letters; written in %.3f s",
				 msgs, age, st->events - events0, st->duplicates - dup0,
				 st->dead - dead0, since(&t0));
		run->committed_events += st->events - events0;
		return 0;
	}
	log_warn("batch of %" PRIu64 " messages not written; reading them again", msgs);
	rewind_partitions(run, r == -ESTALE || pg_broken(run->pg));
	return r;
}

static bool is_json(const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *v;
	size_t n;

	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, "content-type", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return n == strlen(CT_CLOUDEVENTS) && !memcmp(v, CT_CLOUDEVENTS, n);
	/* no header: the payload says which */
	return m->len > 0 && ((const char *)m->payload)[0] == '{';
}

int run_decode_usage(const rd_kafka_message_t *m, struct usage_event *ret, char *reason,
		     size_t reason_len)
{
	int r;

	if (is_json(m))
		return event_from_json(m->payload, m->len, ret, reason, reason_len);
	r = event_decode_v1(m->payload, m->len, ret);
	if (r)
		snprintf(reason, reason_len,
			 "not a binary v1 usage record (bad magic, version, length or code)");
	return r;
}

static int handle_usage(struct run *run, const rd_kafka_message_t *m, const char *topic)
{
	struct usage_event ev;
	char reason[256];
	int r;

	r = run_decode_usage(m, &ev, reason, sizeof(reason));
	if (r == -ENOMEM)
		return r;
	if (r)
		return usage_batch_add_dead(run->batch, topic, m->partition, m->offset, reason,
					    m->key, m->key_len, m->payload, m->len);
	r = usage_batch_add_event(run->batch, run->pg, topic, m->partition, m->offset, &ev);
	return r == -EBADMSG || r >= 0 ? 0 : r;
}

/* Offsets of a partition are contiguous (no transactions): a jump means
 * messages left Kafka (retention) before this group read them. */
static int check_gap(struct run *run, const rd_kafka_message_t *m, const char *topic)
{
	char reason[160];
	int64_t want;

	if (usage_batch_expected_offset(run->batch, topic, m->partition, &want) ||
	    m->offset <= want)
		return 0;
	/* never read before: the topic's retention may have begun without us */
	if (want < 0)
		want = 0;
	if (m->offset == want)
		return 0;
	snprintf(reason, sizeof(reason),
		 "offsets %" PRId64 "-%" PRId64 " were gone from Kafka before they were read",
		 want, m->offset - 1);
	log_error("partition %s/%" PRId32 ": %s; their usage is lost to billing", topic,
		  m->partition, reason);
	return usage_batch_add_dead(run->batch, topic, m->partition, want, reason, NULL, 0, "",
				    0);
}

static int handle(struct run *run, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int r;

	r = check_gap(run, m, topic);
	if (r)
		return r;

	if (!strcmp(topic, run->cfg->kafka.topic_usage)) {
		r = handle_usage(run, m, topic);
	} else {
		r = usage_batch_add_snapshot(run->batch, topic, m->partition, m->offset, m->payload,
					     m->len);
		if (r == -EBADMSG || r > 0)
			r = 0;
	}
	if (r == 0)
		usage_batch_consumed(run->batch, topic, m->partition, m->offset);
	return r;
}

static int kafka_open(struct run *run)
{
	const struct config *cfg = run->cfg;
	const char *settings[][2] = {
		{ "bootstrap.servers", cfg->kafka.brokers },
		{ "group.id", cfg->kafka.group },
		{ "client.id", "tollgate-billing" },
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "auto.offset.reset", "earliest" },
		/* a SIGKILLed member's partitions move on after 6 s */
		{ "session.timeout.ms", "6000" },
		{ "heartbeat.interval.ms", "1000" },
		{ "max.poll.interval.ms", "300000" },
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	char err[512];
	rd_kafka_resp_err_t e;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err))) {
			log_error("kafka: %s: %s", settings[i][0], err);
			rd_kafka_conf_destroy(conf);
			return -EINVAL;
		}
	rd_kafka_conf_set_opaque(conf, run);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	run->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!run->rk) {
		log_error("kafka: %s", err);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_poll_set_consumer(run->rk);
	topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, cfg->kafka.topic_usage, RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, cfg->kafka.topic_counters,
					  RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(run->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		log_error("kafka: subscribe: %s", rd_kafka_err2str(e));
		return -EIO;
	}
	return 0;
}

/* "YYYY-MM" of the month before @now, UTC */
static void previous_month(time_t now, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&now, &tm);
	tm.tm_mday = 1;
	tm.tm_mon--;
	now = timegm(&tm);
	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m", &tm);
}

/*
 * The periodic work of a member, between batches (never inside one, so a
 * slow job delays consumption but never splits a transaction): invoice run
 * requests (at once on NOTIFY, and every 10 s in case one was missed); every
 * hour the previous month's invoices, so they are finalized after the grace
 * period and late units become adjustments; SLA windows every minute and
 * deprecation notices every hour (both safe on several members: they lock
 * and are idempotent); webhooks due every 30 s; payments every 5 minutes;
 * every hour, rollup partitions past their retention are dropped.
 */
static void run_jobs(struct run *run)
{
	time_t now = time(NULL);
	PGnotify *n;

	if (pg_broken(run->pg))
		return;
	if (PQconsumeInput(run->pg))
		while ((n = PQnotifies(run->pg))) {
			run->notified = true;
			PQfreemem(n);
		}
	if (run->notified || now - run->last_requests_check >= 10) {
		run->notified = false;
		run->last_requests_check = now;
		invoice_run_requests(run->pg, run->cfg);
	}
	if (now - run->last_invoicing >= 3600) {
		char period[16];

		/* drafts, their reconciliation, then the ones that may be final */
		run->last_invoicing = now;
		previous_month(now, period, sizeof(period));
		invoice_month(run->pg, run->cfg, period, now);
	}
	if (now - run->last_sla >= 60) {
		run->last_sla = now;
		if (sla_evaluate(run->pg, run->cfg, now) > 0)
			run->last_webhooks = 0; /* send them now */
	}
	if (now - run->last_deprecation >= 3600) {
		run->last_deprecation = now;
		if (deprecation_notify(run->pg, run->cfg, now) > 0)
			run->last_webhooks = 0;
	}
	if (now - run->last_webhooks >= 30) {
		run->last_webhooks = now;
		webhook_deliver(run->pg, run->cfg, now);
	}
	if (now - run->last_retention >= 3600) {
		run->last_retention = now;
		usage_drop_expired(run->pg, run->cfg->billing.minute_retention, now);
	}
	if (now - run->last_payments >= 300) {
		run->last_payments = now;
		payments_run(run->pg, run->cfg, now);
	}
}

int run_main(const struct config *cfg)
{
	struct run run = { .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t watchdog_usec = 0;
	struct timespec last_ping = { 0 };
	rd_kafka_queue_t *queue = NULL;
	int r;

	if (!cfg->kafka.brokers[0]) {
		log_error("kafka.brokers: tollgate-billing run needs a Kafka cluster");
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return -ENOMEM;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Postgres may be starting or restarting: wait for it, as for Kafka */
	r = pg_reconnect(&run, false);
	if (r)
		goto out;
	r = migrate_check(run.pg);
	if (r)
		goto out;
	r = usage_batch_new(cfg->billing.minute_retention, &run.batch);
	if (r)
		goto out;
	r = kafka_open(&run);
	if (r)
		goto out;
	sd_watchdog_enabled(0, &watchdog_usec);
	sd_notify(0, "READY=1");
	log_info("consuming %s and %s as group %s", cfg->kafka.topic_usage,
		 cfg->kafka.topic_counters, cfg->kafka.group);
	clock_gettime(CLOCK_MONOTONIC, &run.batch_start);

	queue = rd_kafka_queue_get_consumer(run.rk);
	while (!stop_signal) {
		rd_kafka_message_t *msgs[1024];
		ssize_t n = rd_kafka_consume_batch_queue(queue, 100, msgs, 1024);

		r = 0;
		for (ssize_t i = 0; i < n; i++) {
			rd_kafka_message_t *m = msgs[i];

			if (r == 0 && !m->err) {
				r = handle(&run, m);
			} else if (r == 0 && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				log_warn("kafka: %s", rd_kafka_message_errstr(m));
			}
			/* after an error the rest of the batch is read again */
			rd_kafka_message_destroy(m);
		}
		if (r == -EIO) {
			/* Postgres went away while reading dedupe state */
			usage_batch_release(run.batch);
			rewind_partitions(&run, true);
		} else if (r) {
			log_error_errno(r, "cannot apply a message");
			break;
		}
		if (usage_batch_messages(run.batch) &&
		    (usage_batch_messages(run.batch) >= cfg->billing.batch_max_events ||
		     since(&run.batch_start) >= cfg->billing.batch_interval))
			commit(&run);
		else if (!usage_batch_messages(run.batch))
			clock_gettime(CLOCK_MONOTONIC, &run.batch_start);
		run_jobs(&run);
		if (watchdog_usec && since(&last_ping) * 1e6 > (double)watchdog_usec / 2) {
			sd_notify(0, "WATCHDOG=1");
			clock_gettime(CLOCK_MONOTONIC, &last_ping);
		}
	}
	sd_notify(0, "STOPPING=1");
	if (usage_batch_messages(run.batch))
		commit(&run);
	rd_kafka_queue_destroy(queue);
	rd_kafka_consumer_close(run.rk);
	r = 0;
	log_info("stopped; %" PRIu64 " events written", run.committed_events);
out:
	if (run.rk)
		rd_kafka_destroy(run.rk);
	usage_batch_free(run.batch);
	PQfinish(run.pg);
	curl_global_cleanup();
	return r;
}
