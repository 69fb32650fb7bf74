/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bpf-verifier-cost.c - how much of the verifier's budget each program of a
 * BPF object takes on this kernel.
 *
 *   bpf-verifier-cost [--json PATH] [--max-percent N] OBJECT
 *
 * Prints a markdown table, one row per program.
 * Each program is loaded on its own (the others not), with the verifier's
 * statistics (log level 4): instructions processed, of the kernel's limit of
 * 1,000,000 per program, and the states it kept. A program near the limit
 * loads here and may be refused by another kernel's verifier, which explores
 * differently; the budget is best watched as it moves from change to change.
 * With --max-percent, exits 1 when a program processed more than N percent
 * of the limit (or did not load), after printing the table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#define VERIFIER_LIMIT 1000000UL /* BPF_COMPLEXITY_LIMIT_INSNS */

struct cost {
	char name[64];
	int err;
	unsigned long insns, states, peak_states;
};

static char logbuf[1 << 16];

/* The numbers of the verifier's last "processed N insns (limit L) ...
 * total_states T peak_states P" line in @log; false without one. */
static bool parse_stats(const char *log, struct cost *c)
{
	const char *s = strstr(log, "processed ");
	const char *t;

	if (!s || sscanf(s, "processed %lu insns", &c->insns) != 1)
		return false;
	t = strstr(s, "total_states ");
	if (t)
		sscanf(t, "total_states %lu", &c->states);
	t = strstr(s, "peak_states ");
	if (t)
		sscanf(t, "peak_states %lu", &c->peak_states);
	return true;
}

/* Load only program @name of @path and note what the verifier said. */
static int measure(const char *path, const char *name, struct cost *c)
{
	struct bpf_program *p, *q = NULL;
	struct bpf_object *obj;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	obj = bpf_object__open(path);
	if (!obj)
		return -errno;
	bpf_object__for_each_program(p, obj) {
		bool me = strcmp(bpf_program__name(p), name) == 0;

		bpf_program__set_autoload(p, me);
		if (me)
			q = p;
	}
	logbuf[0] = '\0';
	if (q) {
		bpf_program__set_log_buf(q, logbuf, sizeof(logbuf));
		bpf_program__set_log_level(q, 4); /* BPF_LOG_STATS */
	}
	c->err = bpf_object__load(obj);
	if (!parse_stats(logbuf, c) && !c->err)
		c->err = -ENODATA;
	bpf_object__close(obj);
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bpf-verifier-cost [--json PATH] [--max-percent N] OBJECT\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "max-percent", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *json = NULL, *path;
	struct cost costs[32];
	struct bpf_object *obj;
	struct bpf_program *p;
	double max_pct = 0;
	size_t n = 0;
	int opt, rc = 0;
	char *end;
	FILE *f;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = optarg;
			break;
		case 'm':
			max_pct = strtod(optarg, &end);
			if (*end || end == optarg || max_pct <= 0 || max_pct > 100) {
				fprintf(stderr, "bpf-verifier-cost: --max-percent: '%s' is not a "
						"percentage in (0, 100]\n", optarg);
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
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];
	libbpf_set_print(libbpf_quiet);
	obj = bpf_object__open(path);
	if (!obj) {
		fprintf(stderr, "bpf-verifier-cost: %s: %s\n", path, strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		if (n == sizeof(costs) / sizeof(costs[0]))
			break;
		if (measure(path, bpf_program__name(p), &costs[n]) == 0)
			n++;
	}
	bpf_object__close(obj);

	printf("| program | instructions processed | of the limit | states | peak states |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < n; i++) {
		struct cost *c = &costs[i];
		double pct = 100.0 * c->insns / VERIFIER_LIMIT;

		if (c->err) {
			printf("| %s | %lu | not loaded: %s | | |\n", c->name, c->insns,
			       strerror(-c->err));
			rc = 1;
			continue;
		}
		printf("| %s | %lu | %.1f %% | %lu | %lu |\n", c->name, c->insns, pct, c->states,
		       c->peak_states);
		if (max_pct && pct > max_pct) {
			fprintf(stderr, "bpf-verifier-cost: %s takes %.1f%% of the verifier's limit "
					"(more than %.0f%%)\n", c->name, pct, max_pct);
			rc = 1;
		}
	}
	if (json) {
		f = fopen(json, "w");
		if (!f) {
			fprintf(stderr, "bpf-verifier-cost: %s: %s\n", json, strerror(errno));
			return 1;
		}
		fprintf(f, "{\"limit\":%lu,\"programs\":[", VERIFIER_LIMIT);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s{\"program\":\"%s\",\"loaded\":%s,\"insns\":%lu,"
				   "\"states\":%lu,\"peak_states\":%lu}",
				i ? "," : "", costs[i].name, costs[i].err ? "false" : "true",
				costs[i].insns, costs[i].states, costs[i].peak_states);
		fprintf(f, "]}\n");
		if (fclose(f)) {
			fprintf(stderr, "bpf-verifier-cost: %s: %s\n", json, strerror(errno));
			return 1;
		}
	}
	return rc;
}
