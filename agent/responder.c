// SPDX-License-Identifier: BSD-2-Clause
/*
 * responder.c - the refusal responder of sockmap mode (responder.h).
 *
 * The request is parsed by the kernel's own parser (bpf/lib/http.h), the key
 * digested by the kernel's SipHash with the secrets the kernel holds
 * (tg_secrets), and the answer written by the kernel's reply builder
 * (bpf/lib/reply.h): the proxy's client cannot tell a refusal behind a proxy
 * from one XDP answered.
 */
#include <errno.h>
#include <linux/types.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/metrics.h"
#include "agent/responder.h"
#include "bpf/tollgate_abi.h"
#include "lib/keydigest.h"
#include "lib/log.h"

#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#include "bpf/lib/http.h"
#include "bpf/lib/reply.h"
#include "bpf/lib/siphash.h"

#define RESPONDER_CONNS 128
#define RESPONDER_HEAD_MAX 8192 /* request head bytes read before answering */
#define RESPONDER_TIMEOUT_S 5	/* a connection open longer is closed */

struct conn {
	int fd;
	bool answered; /* the answer is out; what still comes is read and dropped */
	time_t opened;
	size_t len;
	char buf[RESPONDER_HEAD_MAX];
};

struct responder {
	int listen_fd;
	int stop_fd; /* eventfd */
	int ep;
	int port;
	int refusals_fd;
	int secrets_fd;
	pthread_t thread;
	bool running;
	struct conn *conns[RESPONDER_CONNS];
	struct responder_stats stats; /* atomic adds */
};

static const char unavailable_reply[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Server: tollgate\r\nContent-Type: application/json\r\nConnection: close\r\n"
	"Retry-After: 1\r\nContent-Length: 25\r\n\r\n"
	"{\"error\":\"unavailable\"}\r\n";

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The tg_refusals key of the request in b[0, n): the key's digest when the
 * kernel could compute it (43 bytes, "tg_", a version with a secret), else
 * zeros; exactly the rule of tg_key_lookup(). */
static void refusal_key(struct responder *r, const struct tg_http_buf *b, __u32 n,
			struct tg_key_digest *ret)
{
	struct tg_http_req req = { 0 };
	struct tg_secret secret;
	__u8 msg[TG_KEY_MAX + 8] = { 0 };
	__u32 version;

	memset(ret, 0, sizeof(*ret));
	tg_http_parse_request(b, n, &req);
	if (req.method == TG_M_NONE || req.key_len != KEYDIGEST_KEY_LEN ||
	    req.key_off + KEYDIGEST_KEY_LEN > n)
		return;
	memcpy(msg, b->bytes + req.key_off, KEYDIGEST_KEY_LEN);
	if (memcmp(msg, "tg_", 3) != 0)
		return;
	version = (__u32)(msg[3] - '0');
	if (version < 1 || version > 9)
		return;
	if (bpf_map_lookup_elem(r->secrets_fd, &version, &secret) || !secret.valid)
		return;
	tg_siphash(secret.key, msg, KEYDIGEST_KEY_LEN, 1, ret->bytes);
	explicit_bzero(&secret, sizeof(secret));
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the proxy went away; nothing to tell it */
		c += w;
		n -= (size_t)w;
	}
}

static void answer(struct responder *r, struct conn *c)
{
	struct tg_http_buf b;
	struct tg_key_digest key;
	struct tg_refusal ref;
	__u32 n = c->len < TG_SCAN_MAX ? (__u32)c->len : TG_SCAN_MAX;

	memset(&b, 0, sizeof(b));
	memcpy(b.bytes, c->buf, n);
	refusal_key(r, &b, n, &key);
	if (bpf_map_lookup_elem(r->refusals_fd, &key, &ref) == 0 &&
	    monotonic_ns() - ref.refused_ns < RESPONDER_FRESH_S * 1000000000ULL &&
	    ref.verdict > TG_V_ADMITTED && ref.verdict < TG_V_COUNT) {
		struct tg_reply_info info = {
			.verdict = ref.verdict,
			.wait_s = ref.wait_s,
			.burst = ref.burst,
			.window_s = ref.window_s,
		};
		__u8 out[TG_REPLY_MASK + 1 + 64];
		__u32 len = tg_reply_build(out, &info);

		write_all(c->fd, out, len);
		__atomic_fetch_add(&r->stats.answered[ref.verdict], 1, __ATOMIC_RELAXED);
	} else {
		write_all(c->fd, unavailable_reply, sizeof(unavailable_reply) - 1);
		__atomic_fetch_add(&r->stats.unavailable, 1, __ATOMIC_RELAXED);
	}
	/* the proxy may still be sending the body: stop writing, read on
	 * until it closes, so our close does not reset the answer away */
	shutdown(c->fd, SHUT_WR);
	c->answered = true;
}

static void conn_close(struct responder *r, int slot)
{
	struct conn *c = r->conns[slot];

	if (!c)
		return;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	r->conns[slot] = NULL;
}

static bool head_complete(const struct conn *c)
{
	return memmem(c->buf, c->len, "\r\n\r\n", 4) || memmem(c->buf, c->len, "\n\n", 2);
}

static void conn_readable(struct responder *r, int slot)
{
	struct conn *c = r->conns[slot];

	for (;;) {
		char drop[4096];
		char *dst = c->answered ? drop : c->buf + c->len;
		size_t room = c->answered ? sizeof(drop) : sizeof(c->buf) - c->len;
		ssize_t n = recv(c->fd, dst, room, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (!c->answered && c->len) {
				__atomic_fetch_add(&r->stats.bad_requests, 1, __ATOMIC_RELAXED);
				answer(r, c);
			}
			conn_close(r, slot);
			return;
		}
		if (c->answered)
			continue;
		c->len += (size_t)n;
		if (head_complete(c) || c->len == sizeof(c->buf))
			answer(r, c);
	}
}

static void accept_all(struct responder *r)
{
	for (;;) {
		int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot;
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;
		for (slot = 0; slot < RESPONDER_CONNS && r->conns[slot]; slot++)
			;
		if (slot == RESPONDER_CONNS || !(r->conns[slot] = calloc(1, sizeof(struct conn)))) {
			/* full: answer at once rather than keep the proxy waiting */
			write_all(fd, unavailable_reply, sizeof(unavailable_reply) - 1);
			__atomic_fetch_add(&r->stats.unavailable, 1, __ATOMIC_RELAXED);
			close(fd);
			continue;
		}
		r->conns[slot]->fd = fd;
		r->conns[slot]->opened = time(NULL);
		ev.data.u32 = (uint32_t)slot;
		if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(r, slot);
	}
}

static void sweep(struct responder *r)
{
	time_t now = time(NULL);

	for (int i = 0; i < RESPONDER_CONNS; i++) {
		struct conn *c = r->conns[i];

		if (!c || now - c->opened < RESPONDER_TIMEOUT_S)
			continue;
		if (!c->answered) {
			__atomic_fetch_add(&r->stats.bad_requests, 1, __ATOMIC_RELAXED);
			if (c->len)
				answer(r, c);
		}
		conn_close(r, i);
	}
}

#define TOKEN_LISTEN (RESPONDER_CONNS + 1)
#define TOKEN_STOP (RESPONDER_CONNS + 2)

static void *responder_main(void *arg)
{
	struct responder *r = arg;
	struct epoll_event events[16];

	for (;;) {
		int n = epoll_wait(r->ep, events, 16, 1000);

		if (n < 0 && errno != EINTR) {
			log_error("refusal responder: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint32_t token = events[i].data.u32;

			if (token == TOKEN_STOP)
				return NULL;
			if (token == TOKEN_LISTEN)
				accept_all(r);
			else if (token < RESPONDER_CONNS && r->conns[token])
				conn_readable(r, (int)token);
		}
		sweep(r);
	}
}

int responder_start(const char *addr, int refusals_fd, int secrets_fd, struct responder **ret)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct responder *r = calloc(1, sizeof(*r));
	sigset_t all, saved;
	int e;

	if (!r)
		return -ENOMEM;
	r->refusals_fd = refusals_fd;
	r->secrets_fd = secrets_fd;
	r->stop_fd = r->ep = -1;
	r->listen_fd = metrics_tcp_listen(addr, 128, &r->port);
	if (r->listen_fd < 0) {
		e = r->listen_fd;
		goto fail;
	}
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->stop_fd < 0 || r->ep < 0) {
		e = -errno;
		goto fail;
	}
	ev.data.u32 = TOKEN_LISTEN;
	epoll_ctl(r->ep, EPOLL_CTL_ADD, r->listen_fd, &ev);
	ev.data.u32 = TOKEN_STOP;
	epoll_ctl(r->ep, EPOLL_CTL_ADD, r->stop_fd, &ev);
	/* the thread takes no signal: SIGTERM and SIGHUP are the agent's
	 * event loop's (signalfd), and a thread that does not block them
	 * would get them delivered and die of the default action */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	e = -pthread_create(&r->thread, NULL, responder_main, r);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (e)
		goto fail;
	r->running = true;
	*ret = r;
	return 0;
fail:
	responder_stop(r);
	return e;
}

int responder_port(const struct responder *r)
{
	return r->port;
}

void responder_stats(struct responder *r, struct responder_stats *ret)
{
	for (int i = 0; i < 8; i++)
		ret->answered[i] = __atomic_load_n(&r->stats.answered[i], __ATOMIC_RELAXED);
	ret->unavailable = __atomic_load_n(&r->stats.unavailable, __ATOMIC_RELAXED);
	ret->bad_requests = __atomic_load_n(&r->stats.bad_requests, __ATOMIC_RELAXED);
}

void responder_stop(struct responder *r)
{
	uint64_t one = 1;

	if (!r)
		return;
	if (r->running) {
		if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("refusal responder: cannot signal its thread to stop");
		pthread_join(r->thread, NULL);
	}
	for (int i = 0; i < RESPONDER_CONNS; i++)
		conn_close(r, i);
	if (r->ep >= 0)
		close(r->ep);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	free(r);
}
