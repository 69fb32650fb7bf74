/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kafka-dev-broker - a Kafka-protocol broker for development and tests
 * (DESIGN §10): librdkafka's mock cluster in a process of its own, so the
 * agent, billing and any Kafka client (kcat) talk to it over TCP like to a
 * real cluster. No Kafka broker is packaged in Debian; production points at
 * a real one.
 *
 *   kafka-dev-broker [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *
 * The brokers listen and advertise on 127.0.0.1 (ports chosen by the mock
 * cluster). When ready, one line "bootstrap.servers=HOST:PORT,..." goes to
 * stdout and, with --bootstrap-file, into that file (written whole, then
 * renamed into place, so a reader never sees half of it).
 *
 * Commands, one per line on stdin (tests write them into a FIFO):
 *   down ID        broker ID (1..N) stops answering: connections drop
 *   up ID          broker ID serves again
 *   rtt ID MS      broker ID answers MS milliseconds late
 *   topic NAME P   create topic NAME with P partitions
 *   quit           exit (as on SIGTERM and SIGINT)
 * Each command is answered with "ok ..." or "error ..." on stdout. At the end
 * of input the broker goes on serving until a signal, so it can also run
 * with stdin from /dev/null.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define TOPICS_MAX 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_int(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int write_bootstrap(const char *path, const char *servers)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", servers);
	if (fclose(f) != 0)
		return -errno;
	return rename(tmp, path) < 0 ? -errno : 0;
}

static void command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
	char *argv[4] = { 0 }, *save = NULL;
	int argc = 0;
	long id, v;
	rd_kafka_resp_err_t err;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && argc < 4; t = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = t;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "quit") == 0) {
		stop = 1;
		printf("ok quit\n");
	} else if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) && argc == 2 &&
		   parse_int(argv[1], 1, brokers, &id) == 0) {
		err = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
					: rd_kafka_mock_broker_set_up(mc, (int32_t)id);
		printf("%s %s %ld%s%s\n", err ? "error" : "ok", argv[0], id, err ? ": " : "",
		       err ? rd_kafka_err2str(err) : "");
	} else if (strcmp(argv[0], "rtt") == 0 && argc == 3 && parse_int(argv[1], 1, brokers, &id) == 0 &&
		   parse_int(argv[2], 0, 600000, &v) == 0) {
		err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)v);
		printf("%s rtt %ld %ld\n", err ? "error" : "ok", id, v);
	} else if (strcmp(argv[0], "topic") == 0 && argc == 3 && parse_int(argv[2], 1, 1000, &v) == 0) {
		err = rd_kafka_mock_topic_create(mc, argv[1], (int)v, brokers < 3 ? brokers : 3);
		printf("%s topic %s %ld%s%s\n", err ? "error" : "ok", argv[1], v, err ? ": " : "",
		       err ? rd_kafka_err2str(err) : "");
	} else {
		printf("error unknown command (down ID | up ID | rtt ID MS | topic NAME P | quit)\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "topic", required_argument, NULL, 't' },
		{ "bootstrap-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *topics[TOPICS_MAX], *bootstrap_file = NULL;
	int n_topics = 0, opt, r, eof = 0;
	size_t used = 0;
	long brokers = 3;
	char errstr[512], line[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;

	while ((opt = getopt_long(argc, argv, "b:t:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (parse_int(optarg, 1, 9, &brokers)) {
				fprintf(stderr, "kafka-dev-broker: --brokers: '%s' is not 1..9\n", optarg);
				return 2;
			}
			break;
		case 't':
			if (n_topics == TOPICS_MAX || !strchr(optarg, ':')) {
				fprintf(stderr, "kafka-dev-broker: --topic: expected NAME:PARTITIONS (at most %d)\n",
					TOPICS_MAX);
				return 2;
			}
			topics[n_topics++] = optarg;
			break;
		case 'f':
			bootstrap_file = optarg;
			break;
		case 'h':
			printf("usage: kafka-dev-broker [--brokers N] [--topic NAME:PARTITIONS]... "
			       "[--bootstrap-file PATH]\n");
			return 0;
		default:
			return 2;
		}
	}

	/* the mock cluster hangs off a client handle of its own */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
		return 1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
	if (!mc) {
		fprintf(stderr, "kafka-dev-broker: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 0; i < n_topics; i++) {
		char name[256];
		const char *colon = strrchr(topics[i], ':');
		long parts;

		if ((size_t)(colon - topics[i]) >= sizeof(name) || parse_int(colon + 1, 1, 1000, &parts)) {
			fprintf(stderr, "kafka-dev-broker: --topic '%s': bad name or partition count\n",
				topics[i]);
			r = 2;
			goto out;
		}
		memcpy(name, topics[i], colon - topics[i]);
		name[colon - topics[i]] = '\0';
		if (rd_kafka_mock_topic_create(mc, name, (int)parts, brokers < 3 ? (int)brokers : 3)) {
			fprintf(stderr, "kafka-dev-broker: cannot create topic %s\n", name);
			r = 1;
			goto out;
		}
	}
	if (bootstrap_file && (r = write_bootstrap(bootstrap_file, rd_kafka_mock_cluster_bootstraps(mc)))) {
		fprintf(stderr, "kafka-dev-broker: --bootstrap-file %s: %s\n", bootstrap_file,
			strerror(-r));
		r = 1;
		goto out;
	}
	printf("bootstrap.servers=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* commands are read with read(2), not stdio: a stdio buffer would hold
	 * lines that select() then no longer sees */
	while (!stop) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
		fd_set rfds;
		ssize_t n;
		char *nl;

		FD_ZERO(&rfds);
		FD_SET(0, &rfds);
		if (!eof && select(1, &rfds, NULL, NULL, &tv) <= 0)
			continue;
		if (eof) {
			/* end of input: serve on until a signal, so the broker can
			 * also run with stdin from /dev/null */
			pause();
			continue;
		}
		n = read(0, line + used, sizeof(line) - 1 - used);
		if (n <= 0) {
			eof = n == 0 || errno != EINTR;
			continue;
		}
		used += n;
		line[used] = '\0';
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			command(mc, (int)brokers, line);
			used -= nl + 1 - line;
			memmove(line, nl + 1, used + 1);
		}
		if (used == sizeof(line) - 1) /* a line too long: drop it */
			used = 0;
	}
	r = 0;
out:
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return r;
}
