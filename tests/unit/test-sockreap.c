/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-sockreap.c - the agent's reaper of refused connections' server
 * sockets whose client went silent, against a real tg_rejects-shaped hash
 * map and real loopback connections: only entries not reset 10 s after their
 * answer, and not expired, are due; the server's socket of a due connection
 * is destroyed (its reads fail with ECONNABORTED, the client is reset),
 * IPv4 and IPv6; a due entry whose connection has no socket is counted as
 * gone, and the listener its tuple finds stays; due entries are marked
 * reset and not tried again. Needs CAP_BPF and CAP_NET_ADMIN.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <bpf/bpf.h>

#include "agent/sockreap.h"
#include "bpf/tollgate_abi.h"

#define SEC_NS 1000000000ULL

struct fixture {
	int rejects;
	struct sockreap *r;
	uint64_t now;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct timespec ts;

	if (!f)
		return -1;
	*state = f;
	f->rejects = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(struct tg_flow_key),
				    sizeof(struct tg_reject), 64, NULL);
	if (f->rejects < 0 || sockreap_open(f->rejects, TG_REJECT_TTL_NS, &f->r))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->now = (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sockreap_free(f->r);
	if (f->rejects >= 0)
		close(f->rejects);
	free(f);
	return 0;
}

/* The flow key of a connection from @client to @server, addresses as the
 * kernel programs keep them (IPv4 v4-mapped). */
static void flow_key(const struct sockaddr_storage *client, const struct sockaddr_storage *server,
		     struct tg_flow_key *fk)
{
	const struct sockaddr_storage *ss[2] = { client, server };
	__u8 *addr[2] = { fk->client_addr, fk->server_addr };
	__be16 *port[2] = { &fk->client_port, &fk->server_port };

	memset(fk, 0, sizeof(*fk));
	for (int i = 0; i < 2; i++) {
		if (ss[i]->ss_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)ss[i];

			addr[i][10] = addr[i][11] = 0xff;
			memcpy(addr[i] + 12, &in->sin_addr, 4);
			*port[i] = in->sin_port;
		} else {
			const struct sockaddr_in6 *in6 = (const void *)ss[i];

			memcpy(addr[i], &in6->sin6_addr, 16);
			*port[i] = in6->sin6_port;
		}
	}
}

/* An entry for @fk answered @ago_ns before f->now (after it, if negative). */
static void put_entry(struct fixture *f, const struct tg_flow_key *fk, int64_t ago_ns, __u32 flags)
{
	struct tg_reject rj = {
		.server_rcv_nxt = 1,
		.flags = flags,
		.expires_ns = (uint64_t)((int64_t)f->now - ago_ns) + TG_REJECT_TTL_NS,
	};

	assert_int_equal(bpf_map_update_elem(f->rejects, fk, &rj, BPF_ANY), 0);
}

static __u32 entry_flags(struct fixture *f, const struct tg_flow_key *fk)
{
	struct tg_reject rj;

	assert_int_equal(bpf_map_lookup_elem(f->rejects, fk, &rj), 0);
	return rj.flags;
}

/* A listener on the loopback of @family, a client connected to it and the
 * accepted socket; with their flow key. */
struct conn {
	int listener, client, server;
	struct tg_flow_key fk;
};

static void conn_open(int family, struct conn *c)
{
	struct sockaddr_storage at = { .ss_family = (sa_family_t)family }, client;
	socklen_t len = sizeof(at);

	if (family == AF_INET)
		((struct sockaddr_in *)&at)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&at)->sin6_addr = in6addr_loopback;
	c->listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->listener >= 0);
	assert_int_equal(bind(c->listener, (struct sockaddr *)&at, len), 0);
	assert_int_equal(listen(c->listener, 8), 0);
	assert_int_equal(getsockname(c->listener, (struct sockaddr *)&at, &len), 0);
	c->client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->client >= 0);
	assert_int_equal(connect(c->client, (struct sockaddr *)&at, len), 0);
	c->server = accept(c->listener, NULL, NULL);
	assert_true(c->server >= 0);
	len = sizeof(client);
	assert_int_equal(getsockname(c->client, (struct sockaddr *)&client, &len), 0);
	flow_key(&client, &at, &c->fk);
}

static void conn_close(struct conn *c)
{
	close(c->server);
	close(c->client);
	close(c->listener);
}

/* The listener still takes a connection. */
static void assert_listening(const struct conn *c)
{
	struct sockaddr_storage at;
	socklen_t len = sizeof(at);
	int s, a;

	assert_int_equal(getsockname(c->listener, (struct sockaddr *)&at, &len), 0);
	s = socket(at.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(s, (struct sockaddr *)&at, len), 0);
	a = accept(c->listener, NULL, NULL);
	assert_true(a >= 0);
	close(a);
	close(s);
}

static void test_only_due_entries(void **state)
{
	struct fixture *f = *state;
	struct tg_flow_key young, expired, reset, ahead, due;
	struct conn c;

	/* five connections of one listener, each with an entry */
	conn_open(AF_INET, &c);
	young = c.fk;
	put_entry(f, &young, (int64_t)(SOCKREAP_AFTER_NS - 2 * SEC_NS), 0);
	expired = c.fk;
	expired.client_port = htons(1);
	put_entry(f, &expired, (int64_t)(TG_REJECT_TTL_NS + SEC_NS), 0);
	reset = c.fk;
	reset.client_port = htons(2);
	put_entry(f, &reset, (int64_t)(SOCKREAP_AFTER_NS + SEC_NS), TG_REJECT_RESET);
	/* answered "after" now (not XDP's writing): not due either */
	ahead = c.fk;
	ahead.client_port = htons(4);
	put_entry(f, &ahead, -5 * (int64_t)SEC_NS, 0);
	/* due, but no socket of its own: the tuple finds the listener */
	due = c.fk;
	due.client_port = htons(3);
	put_entry(f, &due, (int64_t)(SOCKREAP_AFTER_NS + SEC_NS), TG_REJECT_LOOKUP);

	assert_int_equal(sockreap_tick(f->r, f->now), 0);
	assert_int_equal(sockreap_stats(f->r)->destroyed, 0);
	assert_int_equal(sockreap_stats(f->r)->gone, 1);
	assert_int_equal(sockreap_stats(f->r)->failures, 0);
	assert_int_equal(entry_flags(f, &due), TG_REJECT_LOOKUP | TG_REJECT_RESET);
	assert_int_equal(entry_flags(f, &young), 0);
	assert_int_equal(entry_flags(f, &expired), 0);
	assert_int_equal(entry_flags(f, &ahead), 0);
	assert_listening(&c);
	/* the young connection's socket is untouched */
	assert_int_equal(send(c.client, "x", 1, 0), 1);
	{
		char b;

		assert_int_equal(recv(c.server, &b, 1, 0), 1);
	}
	/* marked: not tried again */
	assert_int_equal(sockreap_tick(f->r, f->now), 0);
	assert_int_equal(sockreap_stats(f->r)->gone, 1);
	conn_close(&c);
}

static void destroys(struct fixture *f, int family)
{
	struct conn c;
	char b;

	conn_open(family, &c);
	put_entry(f, &c.fk, (int64_t)(SOCKREAP_AFTER_NS + SEC_NS), 0);
	assert_int_equal(sockreap_tick(f->r, f->now), 1);
	assert_int_equal(sockreap_stats(f->r)->destroyed, 1);
	assert_int_equal(entry_flags(f, &c.fk), TG_REJECT_RESET);
	/* the server's socket is gone: its read fails, the client is reset */
	assert_int_equal(recv(c.server, &b, 1, 0), -1);
	assert_int_equal(errno, ECONNABORTED);
	assert_int_equal(recv(c.client, &b, 1, 0), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_listening(&c);
	conn_close(&c);
}

static void test_destroys_ipv4(void **state)
{
	destroys(*state, AF_INET);
}

static void test_destroys_ipv6(void **state)
{
	destroys(*state, AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_only_due_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroys_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroys_ipv6, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
