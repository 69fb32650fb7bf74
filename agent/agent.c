/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tollgate-agent - loads the in-kernel gateway on one host and keeps it fed
 * (DESIGN §4). This build runs standalone: keys from agent.keys_file, plans
 * and routes from the config, events to agent.events_file.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "agent/bpfload.h"
#include "agent/drain.h"
#include "agent/geoip.h"
#include "agent/hostid.h"
#include "agent/kafkaout.h"
#include "agent/keyfile.h"
#include "agent/lease.h"
#include "agent/mapwalk.h"
#include "agent/metrics.h"
#include "agent/redissync.h"
#include "agent/responder.h"
#include "agent/sockreap.h"
#include "agent/spool.h"
#include "lib/config.h"
#include "lib/event.h"
#include "lib/keydigest.h"
#include "lib/log.h"
#include "lib/snapshot.h"

#define ERR_MAX 512
#define DRAIN_TICK_NS 100000000L /* events wait at most this long in the ring */

struct agent {
	const char *config_path;
	struct config *cfg;
	struct key_secrets secrets;
	struct bpfload *bl;
	struct drain *drain;
	struct spool *spool;	  /* with kafka.brokers: the write-ahead log */
	struct kafkaout *kafka;	  /* and its producer */
	struct redissync *redis;  /* with redis.url: keys, plans and routes */
	struct lease *lease;	  /* with ratelimit.scope = global */
	struct metrics_server *metrics;
	struct geoip *geoip;	  /* with agent.geoip_db: the events' countries */
	struct responder *responder; /* with agent.refusal_listen (sockmap mode) */
	struct sockreap *reaper;      /* server sockets of refused, silent clients */
	uint32_t host_id;
	uint32_t epoch;
	size_t n_keys;
	uint64_t reloads;
	uint64_t reload_failures;
	time_t started;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: tollgate-agent [--config PATH] [--log-level error|warn|info|debug]\n"
		     "\n"
		     "Loads tollgate's XDP, sock_ops and sk_msg programs, keeps their maps fed and\n"
		     "drains usage events. Runs in the foreground; SIGHUP reloads keys, plans,\n"
		     "routes and agent.geoip_db; SIGTERM exits and leaves enforcement running\n"
		     "(agent.detach_on_exit).\n"
		     "Default config: " CONFIG_DEFAULT_PATH "\n");
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

/* What this build cannot do yet is refused by name, never ignored. */
static int check_supported(const struct config *cfg)
{
	if (cfg->ratelimit.scope == CONFIG_SCOPE_GLOBAL && !cfg->redis.url[0])
		return log_error_errno(-EINVAL, "ratelimit.scope: global needs redis.url; use host");
	if (cfg->agent.mode != CONFIG_MODE_SOCKMAP && cfg->agent.n_interfaces == 0)
		return log_error_errno(-EINVAL, "agent.interfaces: no interface to attach XDP to "
						"(agent.mode = %s)",
				       cfg->agent.mode == CONFIG_MODE_BOTH ? "both" : "xdp");
	if (cfg->agent.refusal_listen[0] && cfg->agent.mode == CONFIG_MODE_XDP)
		return log_error_errno(-EINVAL, "agent.refusal_listen: only sockmap and both modes "
						"refuse behind a proxy; set agent.mode or leave it empty");
	return 0;
}

static int read_keys(const struct config *cfg, struct keyfile *ret)
{
	char err[ERR_MAX];
	int r = keyfile_load(cfg->agent.keys_file, ret, err, sizeof(err));

	if (r)
		return log_error_errno(r, "%s", err);
	return 0;
}

static int apply_keys(struct agent *a, const struct config *cfg, const struct keyfile *kf)
{
	int r = keyfile_apply(kf, bpfload_map_fd(a->bl, "tg_keys"));

	if (r < 0)
		return log_error_errno(r, "cannot load %s into tg_keys (agent.max_keys = %u)",
				       cfg->agent.keys_file, cfg->agent.max_keys);
	a->n_keys = r;
	r = bpfload_config_changed(a->bl);
	if (r)
		return log_error_errno(r, "cannot update tg_gen");
	return 0;
}

static void log_geoip(const char *path, const struct geoip *g)
{
	time_t built = (time_t)geoip_build_epoch(g);
	struct tm tm;
	char day[16] = "?";

	if (gmtime_r(&built, &tm))
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	log_info("geoip: %s (%s, built %s)", path, geoip_database_type(g), day);
}

/* SIGHUP: keys, secrets, plans, routes, ports and the GeoIP database (opened
 * again: geoipupdate replaces the file); what needs a reload of the
 * programs (actions, sizes, interfaces) is reported, not half-applied. */
static void reload(struct agent *a)
{
	struct config *cfg = malloc(sizeof(*cfg));
	struct geoip *geoip = NULL;
	struct key_secrets secrets;
	struct keyfile kf;
	char err[ERR_MAX];
	int r;

	a->reloads++;
	if (!cfg) {
		a->reload_failures++;
		return;
	}
	r = config_load(cfg, a->config_path, err, sizeof(err));
	if (r == 0)
		r = keydigest_load_secrets(cfg->security.key_secret_file, &secrets, err, sizeof(err));
	if (r == 0 && cfg->agent.geoip_db[0])
		r = geoip_open(cfg->agent.geoip_db, &geoip, err, sizeof(err));
	if (r) {
		log_error("reload: %s; keeping the running configuration", err);
		a->reload_failures++;
		free(cfg);
		return;
	}
	if (memcmp(cfg->agent.actions, a->cfg->agent.actions, sizeof(cfg->agent.actions)) ||
	    cfg->agent.n_interfaces != a->cfg->agent.n_interfaces)
		log_warn("reload: agent.action_* and agent.interfaces take effect at the next start");
	if (a->redis) {
		/* keys come from Redis: resync everything at the next tick */
		r = bpfload_sync_config(a->bl, cfg, &secrets, err, sizeof(err));
		if (r)
			log_error_errno(r, "reload: %s", err);
		redissync_resync(a->redis);
	} else {
		r = read_keys(cfg, &kf);
		if (r == 0) {
			r = bpfload_sync_config(a->bl, cfg, &secrets, err, sizeof(err));
			if (r == 0)
				r = apply_keys(a, cfg, &kf);
			else
				log_error_errno(r, "reload: %s", err);
			keyfile_free(&kf);
		}
	}
	if (r) {
		a->reload_failures++;
		geoip_free(geoip);
		free(cfg);
		return;
	}
	drain_set_geoip(a->drain, geoip);
	geoip_free(a->geoip);
	a->geoip = geoip;
	if (geoip)
		log_geoip(cfg->agent.geoip_db, geoip);
	a->secrets = secrets;
	free(a->cfg);
	a->cfg = cfg;
	log_info("reloaded: %zu keys, %d plans, %d routes", a->n_keys, cfg->n_plans, cfg->n_routes);
}

/* One Prometheus sample with its TYPE line. */
static void metric(FILE *out, const char *name, const char *type, unsigned long long value)
{
	fprintf(out, "# TYPE %s %s\n%s %llu\n", name, type, name, value);
}

/* Requests by verdict over every (consumer, API). */
struct verdict_totals {
	uint64_t admitted;
	uint64_t refused[TG_V_COUNT]; /* [TG_V_ADMITTED] unused */
};

static int add_verdicts(void *ctx, const void *key, const void *value)
{
	struct verdict_totals *vt = ctx;
	const struct tg_counters *c = value;

	(void)key;
	vt->admitted += c->requests;
	for (int v = 1; v < TG_V_COUNT; v++)
		vt->refused[v] += c->refused[v];
	return 0;
}

static void render_metrics(FILE *out, void *userdata)
{
	struct agent *a = userdata;
	const struct drain_stats *ds = drain_stats(a->drain);
	unsigned long long stats[TG_S_COUNT];
	int stats_fd = bpfload_map_fd(a->bl, "tg_stats");
	int counters_fd = bpfload_map_fd(a->bl, "tg_counters");
	struct verdict_totals vt = { 0 };
	static const struct {
		const char *name;
		size_t key_size;
	} maps[] = {
		{ "tg_keys", sizeof(struct tg_key_digest) },
		{ "tg_buckets", sizeof(struct tg_bucket_key) },
		{ "tg_flows", sizeof(struct tg_flow_key) },
		{ "tg_counters", sizeof(struct tg_counter_key) },
	};

	metric(out, "tollgate_agent_up", "gauge", 1);
	metric(out, "tollgate_agent_start_time_seconds", "gauge", a->started);
	metric(out, "tollgate_events_drained_total", "counter", ds->drained);
	metric(out, "tollgate_events_written_total", "counter", ds->written);
	metric(out, "tollgate_summary_events_total", "counter", ds->summaries);
	metric(out, "tollgate_summarized_requests_total", "counter", ds->summarized);
	metric(out, "tollgate_event_write_errors_total", "counter", ds->write_errors);
	metric(out, "tollgate_reloads_total", "counter", a->reloads);
	metric(out, "tollgate_reload_failures_total", "counter", a->reload_failures);
	metric(out, "tollgate_keys", "gauge", a->n_keys);
	metric(out, "tollgate_drain_held_back_total", "counter", ds->held_back);
	if (a->redis) {
		const struct redissync_stats *rst = redissync_stats(a->redis);

		metric(out, "tollgate_redis_up", "gauge", rst->up);
		metric(out, "tollgate_redis_full_syncs_total", "counter", rst->full_syncs);
		metric(out, "tollgate_redis_updates_total", "counter", rst->messages);
		metric(out, "tollgate_redis_failures_total", "counter", rst->failures);
		metric(out, "tollgate_quota_exhausted_buckets", "gauge", rst->quota_exhausted);
	}
	if (a->lease) {
		const struct lease_stats *ls = lease_stats(a->lease);

		metric(out, "tollgate_lease_round_trips_total", "counter", ls->round_trips);
		metric(out, "tollgate_lease_tokens_total", "counter", ls->granted);
		metric(out, "tollgate_lease_failures_total", "counter", ls->failures);
	}
	if (a->spool) {
		const struct spool_stats *ss = spool_stats(a->spool);
		const struct kafkaout_stats *ks = kafkaout_stats(a->kafka);

		metric(out, "tollgate_spool_bytes", "gauge", ss->bytes);
		metric(out, "tollgate_spool_pending", "gauge", spool_pending(a->spool));
		metric(out, "tollgate_events_replayed_total", "counter", ss->recovered);
		metric(out, "tollgate_events_produced_total", "counter", ks->produced);
		metric(out, "tollgate_events_delivered_total", "counter", ks->delivered);
		metric(out, "tollgate_kafka_up", "gauge", ks->broker_up);
		metric(out, "tollgate_counter_snapshots_total", "counter", ks->snapshots);
	}

	if (a->responder) {
		struct responder_stats rs;

		responder_stats(a->responder, &rs);
		fprintf(out, "# TYPE tollgate_refusal_answers_total counter\n");
		for (int v = TG_V_MISSING_KEY; v < TG_V_COUNT; v++)
			fprintf(out, "tollgate_refusal_answers_total{verdict=\"%s\"} %llu\n",
				event_verdict_name(v), (unsigned long long)rs.answered[v]);
		metric(out, "tollgate_refusal_unavailable_total", "counter", rs.unavailable);
		metric(out, "tollgate_refusal_bad_requests_total", "counter", rs.bad_requests);
	}
	if (a->reaper) {
		const struct sockreap_stats *ss = sockreap_stats(a->reaper);

		metric(out, "tollgate_silent_refused_sockets_destroyed_total", "counter", ss->destroyed);
		metric(out, "tollgate_silent_refused_sockets_gone_total", "counter", ss->gone);
		metric(out, "tollgate_silent_refused_sockets_destroy_failures_total", "counter", ss->failures);
	}
	if (stats_fd >= 0 && bpfload_read_stats(stats_fd, stats) == 0) {
		fprintf(out, "# TYPE tollgate_kernel_total counter\n");
		for (int i = 0; i < TG_S_COUNT; i++)
			fprintf(out, "tollgate_kernel_total{stat=\"%s\"} %llu\n", bpfload_stat_names[i],
				stats[i]);
	}
	if (counters_fd >= 0)
		mapwalk(counters_fd, sizeof(struct tg_counter_key), sizeof(struct tg_counters), 0,
			add_verdicts, &vt);
	fprintf(out, "# TYPE tollgate_verdicts_total counter\n");
	fprintf(out, "tollgate_verdicts_total{verdict=\"admitted\"} %llu\n",
		(unsigned long long)vt.admitted);
	for (int v = 1; v < TG_V_COUNT; v++)
		fprintf(out, "tollgate_verdicts_total{verdict=\"%s\"} %llu\n", config_verdict_name(v),
			(unsigned long long)vt.refused[v]);
	fprintf(out, "# TYPE tollgate_map_entries gauge\n");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		fprintf(out, "tollgate_map_entries{map=\"%s\"} %llu\n", maps[i].name,
			bpfload_map_count(bpfload_map_fd(a->bl, maps[i].name), maps[i].key_size));
}

struct snapshot_walk {
	struct agent *a;
	uint64_t now_ns;
};

static int send_snapshot(void *ctx, const void *key, const void *value)
{
	struct snapshot_walk *sw = ctx;
	struct agent *a = sw->a;
	char json[SNAPSHOT_JSON_MAX], mkey[SNAPSHOT_KEY_MAX];
	int jn, kn;

	jn = snapshot_to_json(a->host_id, a->bl->pin_generation, sw->now_ns, key, value, json,
			      sizeof(json));
	kn = snapshot_key(a->host_id, a->bl->pin_generation, key, mkey, sizeof(mkey));
	if (jn > 0 && kn > 0)
		kafkaout_send_snapshot(a->kafka, mkey, (size_t)kn, json, (size_t)jn);
	return 0;
}

/* The kernel counters to tollgate.counters, one message per (consumer, api). */
static void send_snapshots(struct agent *a)
{
	struct snapshot_walk sw = { .a = a };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	sw.now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	mapwalk(bpfload_map_fd(a->bl, "tg_counters"), sizeof(struct tg_counter_key),
		sizeof(struct tg_counters), 0, send_snapshot, &sw);
}

/*
 * Everything that can be checked before the kernel is touched is checked
 * first, so a bad config or keys file leaves the host as it was. If attaching
 * fails half-way on a host without pins of ours, what was attached is taken
 * down again; with pins of a previous agent, its enforcement stays.
 */
static int setup(struct agent *a)
{
	struct keyfile kf = { 0 };
	char err[ERR_MAX];
	int r;

	r = check_supported(a->cfg);
	if (r)
		return r;
	r = keydigest_load_secrets(a->cfg->security.key_secret_file, &a->secrets, err, sizeof(err));
	if (r)
		return log_error_errno(r, "%s", err);
	if (!a->cfg->redis.url[0]) {
		r = read_keys(a->cfg, &kf);
		if (r)
			return r;
	} else {
		/* only to check redis.url before the kernel is touched */
		r = redissync_new(a->cfg, NULL, &a->secrets, &a->redis, err, sizeof(err));
		if (r)
			return log_error_errno(r, "%s", err);
		redissync_free(a->redis);
		a->redis = NULL;
	}
	for (int i = 0; i < a->cfg->agent.n_interfaces; i++) {
		if (!if_nametoindex(a->cfg->agent.interfaces[i])) {
			r = log_error_errno(-ENODEV, "agent.interfaces: no interface '%s'",
					    a->cfg->agent.interfaces[i]);
			goto out_keys;
		}
	}
	if (a->cfg->agent.geoip_db[0]) {
		r = geoip_open(a->cfg->agent.geoip_db, &a->geoip, err, sizeof(err));
		if (r) {
			log_error("%s", err);
			goto out_keys;
		}
		log_geoip(a->cfg->agent.geoip_db, a->geoip);
	}
	r = hostid_get(a->cfg, &a->host_id);
	if (r) {
		log_error_errno(r, "agent.host_id: not set and /etc/machine-id unreadable");
		goto out_keys;
	}
	r = hostid_next_epoch(a->cfg->agent.state_dir, &a->epoch);
	if (r) {
		log_error_errno(r, "agent.state_dir: cannot store the epoch in '%s'",
				a->cfg->agent.state_dir);
		goto out_keys;
	}
	if (a->cfg->kafka.brokers[0]) {
		r = spool_open(a->cfg->kafka.spool_dir, (uint64_t)a->cfg->kafka.spool_max_mb << 20,
			       &a->spool);
		if (r) {
			log_error_errno(r, "kafka.spool_dir: cannot open '%s'", a->cfg->kafka.spool_dir);
			goto out_keys;
		}
		if (spool_stats(a->spool)->recovered)
			log_info("spool: %llu events of an earlier run go to Kafka first",
				 (unsigned long long)spool_stats(a->spool)->recovered);
		r = kafkaout_new(a->cfg, a->spool, &a->kafka, err, sizeof(err));
		if (r) {
			log_error_errno(r, "%s", err);
			goto out_keys;
		}
	}
	if (a->cfg->agent.metrics_listen[0]) {
		r = metrics_listen(a->cfg->agent.metrics_listen, &a->metrics);
		if (r) {
			log_error_errno(r, "agent.metrics_listen: cannot listen on '%s'",
					a->cfg->agent.metrics_listen);
			goto out_keys;
		}
	}

	r = bpfload_open_load(a->cfg, &a->bl, err, sizeof(err));
	if (r) {
		log_error_errno(r, "%s", err);
		goto out_keys;
	}
	if (a->bl->upgraded_from)
		log_info("pins of ABI %u under %s taken for ABI %u: counters, buckets and queued "
			 "events carry on, flows start anew",
			 a->bl->upgraded_from, a->cfg->agent.pin_dir, TG_ABI_VERSION);
	r = bpfload_attach(a->bl, a->cfg, err, sizeof(err));
	if (r)
		log_error_errno(r, "%s", err);
	if (r == 0) {
		r = bpfload_sync_config(a->bl, a->cfg, &a->secrets, err, sizeof(err));
		if (r)
			log_error_errno(r, "%s", err);
	}
	if (r == 0 && !a->cfg->redis.url[0])
		r = apply_keys(a, a->cfg, &kf);
	if (r == 0 && a->cfg->ratelimit.scope == CONFIG_SCOPE_GLOBAL) {
		r = lease_new(a->cfg, a->bl, &a->lease, err, sizeof(err));
		if (r)
			log_error_errno(r, "%s", err);
	}
	if (r == 0 && a->cfg->redis.url[0]) {
		r = redissync_new(a->cfg, a->bl, &a->secrets, &a->redis, err, sizeof(err));
		if (r)
			log_error_errno(r, "%s", err);
		else if (redissync_tick(a->redis, time(NULL)) < 0)
			log_warn("redis: %s unreachable; enforcing from the maps as they are, retrying",
				 a->cfg->redis.url);
		else
			a->n_keys = redissync_stats(a->redis)->keys;
	}
	if (r == 0) {
		r = drain_new(a->cfg, bpfload_map_fd(a->bl, "tg_events"),
			      bpfload_map_fd(a->bl, "tg_counters"), a->host_id, a->epoch,
			      a->bl->pin_generation, a->spool, &a->drain, err, sizeof(err));
		if (r)
			log_error_errno(r, "%s", err);
		else
			drain_set_geoip(a->drain, a->geoip);
		if (r == 0 && a->redis)
			drain_observe(a->drain, redissync_note, a->redis);
	}
	if (r == 0 && a->cfg->agent.refusal_listen[0]) {
		r = responder_start(a->cfg->agent.refusal_listen, bpfload_map_fd(a->bl, "tg_refusals"),
				    bpfload_map_fd(a->bl, "tg_secrets"), &a->responder);
		if (r)
			log_error_errno(r, "agent.refusal_listen: cannot listen on '%s'",
					a->cfg->agent.refusal_listen);
		else
			log_info("refusal responder on %s (port %d)", a->cfg->agent.refusal_listen,
				 responder_port(a->responder));
	}
	if (r == 0) {
		r = sockreap_open(bpfload_map_fd(a->bl, "tg_rejects"), TG_REJECT_TTL_NS, &a->reaper);
		if (r)
			log_error_errno(r, "cannot open a NETLINK_SOCK_DIAG socket");
	}
	if (r && !a->bl->adopted) {
		if (bpfload_detach(a->cfg, err, sizeof(err)))
			log_error("cleanup after a failed start: %s", err);
	}
out_keys:
	keyfile_free(&kf);
	return r;
}

static int run(struct agent *a)
{
	/* the kernel wakes the agent only when the ring buffer fills up past
	 * an eighth of it, 512 KiB at most (tg_rb_wakeup_bytes); the tick
	 * drains whatever is below that */
	struct itimerspec tick = { .it_interval = { 0, DRAIN_TICK_NS }, .it_value = { 0, DRAIN_TICK_NS } };
	struct epoll_event ev, events[8];
	uint64_t watchdog_usec = 0;
	time_t last_summary = time(NULL), last_watchdog = 0, last_reap = 0;
	sigset_t mask;
	int ep, sfd, tfd, n;
	bool stop = false;
	int redis_fd = -1; /* the subscriber socket registered with epoll */

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0)
		return log_error_errno(-errno, "cannot set up the event loop");
	if (a->lease && (long)a->cfg->ratelimit.lease_interval_ms * 1000000L < DRAIN_TICK_NS) {
		/* leases are due more often than the drain: tick at their pace */
		tick.it_interval.tv_nsec = (long)a->cfg->ratelimit.lease_interval_ms * 1000000L;
		tick.it_value = tick.it_interval;
	}
	timerfd_settime(tfd, 0, &tick, NULL);
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = drain_epoll_fd(a->drain);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	if (a->metrics) {
		ev.data.fd = metrics_fd(a->metrics);
		epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	}

	/* events the kernel queued while no agent ran */
	drain_consume(a->drain);
	sd_watchdog_enabled(0, &watchdog_usec);
	sd_notifyf(0, "READY=1\nSTATUS=enforcing on %d interface(s)", a->bl->n_attached);
	log_info("ready: host %u epoch %u, XDP %s on %d interface(s), %zu keys, %d plans, %d routes, "
		 "pins %s (%s), sk_msg %s the rest of a split send",
		 a->host_id, a->epoch, a->bl->xdp_mode, a->bl->n_attached, a->n_keys, a->cfg->n_plans,
		 a->cfg->n_routes, a->cfg->agent.pin_dir, a->bl->adopted ? "adopted" : "created",
		 a->bl->rest_hold ? "holds" : "does not hold");
	if (a->metrics)
		log_info("metrics on %s (port %d)", a->cfg->agent.metrics_listen, metrics_port(a->metrics));

	while (!stop) {
		n = epoll_wait(ep, events, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(-errno, "epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP)
					reload(a);
				else
					stop = true;
			} else if (fd == tfd) {
				uint64_t expirations;
				time_t now = time(NULL);

				if (read(tfd, &expirations, sizeof(expirations)) < 0)
					continue;
				drain_consume(a->drain);
				if (a->spool)
					spool_sync(a->spool); /* at most one tick lost to a power cut */
				if (a->redis && redissync_tick(a->redis, now) == 0)
					a->n_keys = bpfload_map_count(bpfload_map_fd(a->bl, "tg_keys"),
								      sizeof(struct tg_key_digest));
				if (now - last_summary >= (time_t)a->cfg->agent.snapshot_interval) {
					drain_summaries(a->drain);
					if (a->kafka)
						send_snapshots(a);
					last_summary = now;
				}
				if (now != last_reap) {
					struct timespec mono;
					int freed;

					clock_gettime(CLOCK_MONOTONIC, &mono);
					freed = sockreap_tick(a->reaper, (uint64_t)mono.tv_sec * 1000000000ULL +
										(uint64_t)mono.tv_nsec);
					if (freed < 0)
						log_warn_errno(freed, "cannot walk tg_rejects");
					else if (freed)
						log_debug("destroyed %d server sockets of refused connections "
							  "whose client went silent",
							  freed);
					last_reap = now;
				}
				if (watchdog_usec && (uint64_t)(now - last_watchdog) * 2000000 >= watchdog_usec) {
					sd_notify(0, "WATCHDOG=1");
					last_watchdog = now;
				}
			} else if (a->metrics && fd == metrics_fd(a->metrics)) {
				metrics_serve(a->metrics, render_metrics, a);
			} else if (a->redis && fd == redis_fd) {
				redissync_readable(a->redis);
			} else {
				drain_consume(a->drain);
			}
		}
		if (a->redis && redissync_fd(a->redis) != redis_fd) {
			/* the subscriber connection came or went */
			if (redis_fd >= 0)
				epoll_ctl(ep, EPOLL_CTL_DEL, redis_fd, NULL);
			redis_fd = redissync_fd(a->redis);
			if (redis_fd >= 0) {
				ev.events = EPOLLIN;
				ev.data.fd = redis_fd;
				epoll_ctl(ep, EPOLL_CTL_ADD, redis_fd, &ev);
			}
		}
		if (a->lease) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			lease_tick(a->lease, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
		}
		if (a->kafka && kafkaout_pump(a->kafka) < 0) {
			/* the producer cannot go on; a restart resends from the spool */
			log_error("kafka: fatal producer error; exiting so that the spool is resent");
			return -EIO;
		}
	}

	sd_notify(0, "STOPPING=1");
	drain_consume(a->drain);
	drain_summaries(a->drain);
	if (a->kafka) {
		/* what Kafka does not acknowledge now stays in the spool */
		kafkaout_pump(a->kafka);
		kafkaout_flush(a->kafka, 5000);
		spool_sync(a->spool);
	}
	close(ep);
	close(tfd);
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct agent a = { .config_path = CONFIG_DEFAULT_PATH, .started = time(NULL) };
	char err[ERR_MAX];
	int level = LOG_INFO, opt, r;

	while ((opt = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a.config_path = optarg;
			break;
		case 'l':
			level = log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "tollgate-agent: --log-level: '%s' is not error, warn, "
						"info or debug\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("tollgate-agent", level);
	libbpf_set_print(libbpf_log);

	a.cfg = malloc(sizeof(*a.cfg));
	if (!a.cfg)
		return 1;
	r = config_load(a.cfg, a.config_path, err, sizeof(err));
	if (r) {
		log_error("%s", err);
		free(a.cfg);
		return 2;
	}
	r = setup(&a);
	if (r == 0)
		r = run(&a);

	if (a.cfg->agent.detach_on_exit && a.bl) {
		if (bpfload_detach(a.cfg, err, sizeof(err))) {
			log_error("detach: %s", err);
			if (a.lease)
				log_error("leased tokens kept: the kernel may still be enforcing with them");
		} else {
			log_info("detached (agent.detach_on_exit)");
			/* enforcement has ended, so nothing consumes what goes back
			 * (the maps live on through the agent's fds) */
			if (a.lease) {
				long long n = lease_return(a.lease);

				if (n < 0)
					log_error_errno((int)n, "cannot give leased tokens back to Redis");
				else
					log_info("gave %lld leased tokens back to Redis", n);
			}
		}
	} else if (r == 0) {
		log_info("exiting; programs stay attached and maps pinned under %s",
			 a.cfg->agent.pin_dir);
	}
	responder_stop(a.responder);
	sockreap_free(a.reaper);
	drain_free(a.drain);
	geoip_free(a.geoip);
	kafkaout_free(a.kafka);
	redissync_free(a.redis);
	lease_free(a.lease);
	spool_free(a.spool);
	metrics_free(a.metrics);
	bpfload_free(a.bl);
	free(a.cfg);
	return r ? 1 : 0;
}
