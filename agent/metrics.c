/* SPDX-License-Identifier: BSD-2-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent/metrics.h"

struct metrics_server {
	int fd;
	int port;
};

int metrics_tcp_listen(const char *addr, int backlog, int *ret_port)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, r;
	size_t hl;

	if (!colon || colon == addr)
		return -EINVAL;
	hl = colon - addr;
	if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		freeaddrinfo(ai);
		close(fd);
		return r;
	}
	freeaddrinfo(ai);
	*ret_port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int metrics_listen(const char *addr, struct metrics_server **ret)
{
	struct metrics_server *m;
	int port, fd = metrics_tcp_listen(addr, 16, &port);

	if (fd < 0)
		return fd;
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	m->fd = fd;
	m->port = port;
	*ret = m;
	return 0;
}

int metrics_fd(const struct metrics_server *m)
{
	return m->fd;
}

int metrics_port(const struct metrics_server *m)
{
	return m->port;
}

void metrics_serve(struct metrics_server *m, metrics_render_fn render, void *userdata)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	char req[4096], *body = NULL, head[160];
	size_t body_len = 0;
	FILE *out;
	int c;

	c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (recv(c, req, sizeof(req), 0) <= 0)
		goto out;
	out = open_memstream(&body, &body_len);
	if (!out)
		goto out;
	render(out, userdata);
	fclose(out);
	snprintf(head, sizeof(head),
		 "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 body_len);
	if (send(c, head, strlen(head), MSG_NOSIGNAL) > 0)
		send(c, body, body_len, MSG_NOSIGNAL);
out:
	free(body);
	close(c);
}

void metrics_free(struct metrics_server *m)
{
	if (!m)
		return;
	close(m->fd);
	free(m);
}
