/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tollgatectl - inspect and operate a host's tollgate data plane through its
 * pinned maps (DESIGN §4): status, consumers, counters, keys, digest, secret
 * new, detach. Every command takes --json.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/bpfload.h"
#include "agent/evtail.h"
#include "agent/hostid.h"
#include "lib/config.h"
#include "lib/keydigest.h"
#include "lib/snapshot.h"

static bool json;
static bool follow;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tollgatectl [--config PATH] [--json] COMMAND\n"
		"\n"
		"commands:\n"
		"  status               programs, pins, map fill and kernel statistics\n"
		"  consumers [--top N]  requests and refusals per consumer, busiest first\n"
		"  counters             the kernel counters per (consumer, api)\n"
		"  keys                 the keys in tg_keys (digests, ids, state)\n"
		"  events [--follow]    usage events, decoded (Kafka, or agent.events_file)\n"
		"  digest KEY           the digest of an API key under security.key_secret_file\n"
		"  secret new           append a new key secret version to security.key_secret_file\n"
		"  detach               remove the programs and pins (enforcement stops)\n");
}

static int die(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int die(int r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tollgatectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
	return 1;
}

static int open_map(const struct config *cfg, const char *name)
{
	int fd = bpfload_pinned_fd(cfg, name);

	if (fd < 0)
		die(fd, "cannot open %s/%s (is the agent running with this config?)", cfg->agent.pin_dir,
		    name);
	return fd;
}

/* --- counters ------------------------------------------------------------------ */

struct counter_row {
	struct tg_counter_key key;
	struct tg_counters c;
};

static int read_counters(const struct config *cfg, struct counter_row **ret, size_t *ret_n)
{
	struct counter_row *rows = NULL;
	struct tg_counter_key key, next;
	size_t n = 0, cap = 0;
	int fd = open_map(cfg, "tg_counters");

	if (fd < 0)
		return fd;
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			key = next;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct counter_row *nr = reallocarray(rows, ncap, sizeof(*nr));

				if (!nr) {
					free(rows);
					close(fd);
					return -ENOMEM;
				}
				rows = nr;
				cap = ncap;
			}
			if (bpf_map_lookup_elem(fd, &key, &rows[n].c) == 0)
				rows[n++].key = key;
		} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	}
	close(fd);
	*ret = rows;
	*ret_n = n;
	return 0;
}

static unsigned long long refused_total(const struct tg_counters *c)
{
	unsigned long long t = 0;

	for (int v = 1; v < TG_V_COUNT; v++)
		t += c->refused[v];
	return t;
}

static int cmd_counters(const struct config *cfg)
{
	struct counter_row *rows;
	size_t n;
	int r = read_counters(cfg, &rows, &n);

	if (r)
		return 1;
	if (json) {
		struct tg_meta meta = {};
		uint32_t zero = 0, host_id = 0;
		int meta_fd = bpfload_pinned_fd(cfg, "tg_meta");
		struct timespec now;
		char line[SNAPSHOT_JSON_MAX];

		if (meta_fd >= 0) {
			bpf_map_lookup_elem(meta_fd, &zero, &meta);
			close(meta_fd);
		}
		hostid_get(cfg, &host_id);
		clock_gettime(CLOCK_REALTIME, &now);
		printf("[");
		for (size_t i = 0; i < n; i++) {
			if (snapshot_to_json(host_id, meta.pin_generation,
					     (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec,
					     &rows[i].key, &rows[i].c, line, sizeof(line)) < 0)
				continue;
			printf("%s%s", i ? "," : "", line);
		}
		printf("]\n");
	} else {
		printf("%-10s %-6s %10s %10s %8s %8s %8s %8s %10s %12s %12s\n", "CONSUMER", "API",
		       "REQUESTS", "REFUSED", "2XX", "4XX", "5XX", "UNANS", "UNATTRIB", "BYTES_IN",
		       "BYTES_OUT");
		for (size_t i = 0; i < n; i++) {
			const struct tg_counters *c = &rows[i].c;

			printf("%-10u %-6u %10llu %10llu %8llu %8llu"
			       " %8llu %8llu %10llu %12llu %12llu\n",
			       rows[i].key.consumer_id, rows[i].key.api_id, c->requests, refused_total(c),
			       c->status_class[2], c->status_class[4], c->status_class[5], c->unanswered,
			       c->unattributed, c->bytes_in, c->bytes_out);
		}
	}
	free(rows);
	return 0;
}

/* --- consumers ----------------------------------------------------------------- */

struct consumer_row {
	uint32_t consumer_id;
	unsigned long long requests, refused[TG_V_COUNT], errors_5xx, unanswered;
};

static int cmp_consumer(const void *a, const void *b)
{
	const struct consumer_row *x = a, *y = b;
	unsigned long long tx = x->requests + x->refused[0], ty = y->requests + y->refused[0];

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x->consumer_id < y->consumer_id ? -1 : x->consumer_id > y->consumer_id;
}

static int cmd_consumers(const struct config *cfg, long top)
{
	struct counter_row *rows;
	struct consumer_row *cons;
	size_t n, nc = 0;
	int r = read_counters(cfg, &rows, &n);

	if (r)
		return 1;
	cons = calloc(n ? n : 1, sizeof(*cons));
	if (!cons) {
		free(rows);
		return die(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct consumer_row *c = NULL;

		for (size_t j = 0; j < nc && !c; j++)
			if (cons[j].consumer_id == rows[i].key.consumer_id)
				c = &cons[j];
		if (!c) {
			c = &cons[nc++];
			c->consumer_id = rows[i].key.consumer_id;
		}
		c->requests += rows[i].c.requests;
		for (int v = 1; v < TG_V_COUNT; v++) {
			c->refused[v] += rows[i].c.refused[v];
			c->refused[0] += rows[i].c.refused[v]; /* [0]: total refused */
		}
		c->errors_5xx += rows[i].c.status_class[5];
		c->unanswered += rows[i].c.unanswered;
	}
	qsort(cons, nc, sizeof(*cons), cmp_consumer);
	if (top > 0 && (size_t)top < nc)
		nc = top;
	if (json) {
		printf("[");
		for (size_t i = 0; i < nc; i++) {
			printf("%s{\"consumer_id\":\"%u\",\"requests\":%llu,\"refused\":%llu"
			       ",\"refused_by_verdict\":{",
			       i ? "," : "", cons[i].consumer_id, cons[i].requests, cons[i].refused[0]);
			for (int v = 1; v < TG_V_COUNT; v++)
				printf("%s\"%s\":%llu", v > 1 ? "," : "", config_verdict_name(v),
				       cons[i].refused[v]);
			printf("},\"errors_5xx\":%llu,\"unanswered\":%llu}",
			       cons[i].errors_5xx, cons[i].unanswered);
		}
		printf("]\n");
	} else {
		printf("%-10s %12s %12s %12s %12s %10s\n", "CONSUMER", "ADMITTED", "REFUSED",
		       "OVER_LIMIT", "5XX", "UNANSWERED");
		for (size_t i = 0; i < nc; i++) {
			char id[16];

			snprintf(id, sizeof(id), "%u", cons[i].consumer_id);
			printf("%-10s %12llu %12llu %12llu %12llu %10llu\n",
			       cons[i].consumer_id ? id : "(no key)", cons[i].requests, cons[i].refused[0],
			       cons[i].refused[TG_V_OVER_LIMIT], cons[i].errors_5xx, cons[i].unanswered);
		}
	}
	free(cons);
	free(rows);
	return 0;
}

/* --- keys ---------------------------------------------------------------------- */

static const char *key_state(const struct tg_key *k)
{
	if (k->flags & TG_KEY_NEGATIVE)
		return "negative";
	if (!(k->flags & TG_KEY_ACTIVE))
		return "revoked";
	if (k->flags & TG_KEY_SUSPENDED)
		return "suspended";
	return "active";
}

static int cmd_keys(const struct config *cfg)
{
	struct tg_key_digest d, next;
	char hex[KEYDIGEST_HEX_LEN + 1];
	struct tg_key k;
	int fd = open_map(cfg, "tg_keys"), n = 0;

	if (fd < 0)
		return 1;
	if (json)
		printf("[");
	else
		printf("%-32s %10s %10s %8s %s\n", "DIGEST", "KEY", "CONSUMER", "PLAN", "STATE");
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			d = next;
			if (bpf_map_lookup_elem(fd, &d, &k) < 0)
				continue;
			keydigest_hex(d.bytes, hex);
			if (json)
				printf("%s{\"digest\":\"%s\",\"key_id\":\"%u\",\"consumer_id\":\"%u\","
				       "\"plan_id\":\"%u\",\"state\":\"%s\"}",
				       n ? "," : "", hex, k.key_id, k.consumer_id, k.plan_id, key_state(&k));
			else
				printf("%-32s %10u %10u %8u %s\n", hex, k.key_id, k.consumer_id, k.plan_id,
				       key_state(&k));
			n++;
		} while (bpf_map_get_next_key(fd, &d, &next) == 0);
	}
	if (json)
		printf("]\n");
	close(fd);
	return 0;
}

/* --- status -------------------------------------------------------------------- */

static int cmd_status(const struct config *cfg)
{
	static const struct {
		const char *name;
		size_t key_size;
	} maps[] = {
		{ "tg_keys", sizeof(struct tg_key_digest) },
		{ "tg_plans", sizeof(__u32) },
		{ "tg_buckets", sizeof(struct tg_bucket_key) },
		{ "tg_flows", sizeof(struct tg_flow_key) },
		{ "tg_counters", sizeof(struct tg_counter_key) },
		{ "tg_rejects", sizeof(struct tg_flow_key) },
	};
	struct tg_meta meta = {};
	uint32_t zero = 0, host_id = 0;
	int meta_fd = open_map(cfg, "tg_meta"), stats_fd;
	unsigned long long stats[TG_S_COUNT] = { 0 };

	if (meta_fd < 0)
		return 1;
	bpf_map_lookup_elem(meta_fd, &zero, &meta);
	close(meta_fd);
	hostid_get(cfg, &host_id);
	stats_fd = open_map(cfg, "tg_stats");
	if (stats_fd >= 0) {
		bpfload_read_stats(stats_fd, stats);
		close(stats_fd);
	}
	if (json) {
		printf("{\"abi_version\":%u,\"pin_generation\":\"%016llx\",\"pin_dir\":\"%s\","
		       "\"host_id\":%u,\"epoch\":%u,\"maps\":{",
		       meta.abi_version, meta.pin_generation, cfg->agent.pin_dir, host_id,
		       hostid_current_epoch(cfg->agent.state_dir));
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
			int fd = bpfload_pinned_fd(cfg, maps[i].name);
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);

			if (fd >= 0)
				bpf_obj_get_info_by_fd(fd, &info, &len);
			printf("%s\"%s\":{\"entries\":%llu,\"max_entries\":%u}", i ? "," : "",
			       maps[i].name, fd >= 0 ? bpfload_map_count(fd, maps[i].key_size) : 0,
			       info.max_entries);
			if (fd >= 0)
				close(fd);
		}
		printf("},\"kernel\":{");
		for (int i = 0; i < TG_S_COUNT; i++)
			printf("%s\"%s\":%llu", i ? "," : "", bpfload_stat_names[i], stats[i]);
		printf("}}\n");
		return 0;
	}
	printf("pins       %s (ABI %u, generation %016llx)\n", cfg->agent.pin_dir,
	       meta.abi_version, meta.pin_generation);
	printf("host       %u, epoch %u\n", host_id, hostid_current_epoch(cfg->agent.state_dir));
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = bpfload_pinned_fd(cfg, maps[i].name);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (fd < 0)
			continue;
		bpf_obj_get_info_by_fd(fd, &info, &len);
		printf("%-12s %10llu / %u\n", maps[i].name, bpfload_map_count(fd, maps[i].key_size),
		       info.max_entries);
		close(fd);
	}
	for (int i = 0; i < TG_S_COUNT; i++)
		printf("kernel %-16s %llu\n", bpfload_stat_names[i], stats[i]);
	return 0;
}

/* --- keys and secrets ------------------------------------------------------------- */

static int cmd_digest(const struct config *cfg, const char *key)
{
	struct key_secrets secrets;
	uint8_t digest[KEYDIGEST_DIGEST_LEN];
	char hex[KEYDIGEST_HEX_LEN + 1], err[512];
	int r;

	r = keydigest_load_secrets(cfg->security.key_secret_file, &secrets, err, sizeof(err));
	if (r)
		return die(0, "%s", err);
	r = keydigest_digest(&secrets, key, strlen(key), digest);
	if (r == -ENOKEY)
		return die(0, "no secret for the key's version '%c' in %s", key[3],
			   cfg->security.key_secret_file);
	if (r)
		return die(0, "not an API key: keys are tg_, a version digit 1-9 and 39 base62 "
			      "characters");
	keydigest_hex(digest, hex);
	if (json)
		printf("{\"digest\":\"%s\"}\n", hex);
	else
		printf("%s\n", hex);
	return 0;
}

static int cmd_secret_new(const struct config *cfg)
{
	unsigned int version;
	int r = keydigest_secret_new(cfg->security.key_secret_file, &version);

	if (r)
		return die(r, "cannot add a secret to %s", cfg->security.key_secret_file);
	if (json)
		printf("{\"version\":%u,\"file\":\"%s\"}\n", version, cfg->security.key_secret_file);
	else
		printf("added secret version %u to %s (reload the agent: SIGHUP)\n", version,
		       cfg->security.key_secret_file);
	return 0;
}

static int cmd_detach(const struct config *cfg)
{
	char err[512];

	if (bpfload_detach(cfg, err, sizeof(err)))
		return die(0, "%s", err);
	if (json)
		printf("{\"detached\":true}\n");
	else
		printf("detached: XDP, sock_ops and sk_msg removed, %s cleared\n", cfg->agent.pin_dir);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = CONFIG_DEFAULT_PATH, *cmd;
	struct config *cfg;
	char err[512], *end;
	long top = 0;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "+c:jt:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			errno = 0;
			top = strtol(optarg, &end, 10);
			if (errno || *end || top < 1)
				return die(0, "--top: '%s' is not a positive number", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	/* options may also follow the command: collect the positional words */
	{
		int n_pos = 0;

		for (int i = optind; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0) {
				json = true;
			} else if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
				follow = true;
			} else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
				errno = 0;
				top = strtol(argv[++i], &end, 10);
				if (errno || *end || top < 1)
					return die(0, "--top: '%s' is not a positive number", argv[i]);
			} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
				config_path = argv[++i];
			} else {
				argv[optind + n_pos++] = argv[i];
			}
		}
		argc = optind + n_pos;
	}
	libbpf_set_print(NULL);
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return 1;
	r = config_load(cfg, config_path, err, sizeof(err));
	if (r) {
		free(cfg);
		return die(0, "%s", err);
	}
	if (strcmp(cmd, "status") == 0 && optind == argc)
		r = cmd_status(cfg);
	else if (strcmp(cmd, "counters") == 0 && optind == argc)
		r = cmd_counters(cfg);
	else if (strcmp(cmd, "consumers") == 0 && optind == argc)
		r = cmd_consumers(cfg, top);
	else if (strcmp(cmd, "keys") == 0 && optind == argc)
		r = cmd_keys(cfg);
	else if (strcmp(cmd, "events") == 0 && optind == argc)
		r = evtail_run(cfg, follow, json, err, sizeof(err)) ? die(0, "%s", err) : 0;
	else if (strcmp(cmd, "digest") == 0 && optind + 1 == argc)
		r = cmd_digest(cfg, argv[optind]);
	else if (strcmp(cmd, "secret") == 0 && optind + 1 == argc && strcmp(argv[optind], "new") == 0)
		r = cmd_secret_new(cfg);
	else if (strcmp(cmd, "detach") == 0 && optind == argc)
		r = cmd_detach(cfg);
	else {
		usage(stderr);
		r = 2;
	}
	free(cfg);
	return r;
}
