/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.h - a small HTTP endpoint for Prometheus text metrics
 * (agent.metrics_listen). Every request, whatever its path, is answered with
 * what the render callback writes; it runs inside the agent's event loop, so
 * a scrape never races the state it reads.
 */
#ifndef TG_AGENT_METRICS_H
#define TG_AGENT_METRICS_H

#include <stdio.h>

struct metrics_server;

typedef void (*metrics_render_fn)(FILE *out, void *userdata);

/* metrics_tcp_listen() - a non-blocking TCP socket listening on "host:port"
 * (IPv4, IPv6 in brackets; port 0 picks one, returned in @ret_port). The fd,
 * or a negative errno. */
int metrics_tcp_listen(const char *addr, int backlog, int *ret_port);

/* metrics_listen() - listen on "host:port" (IPv4, IPv6 in brackets). */
int metrics_listen(const char *addr, struct metrics_server **ret);

/* metrics_fd() - readable when a scrape is waiting. */
int metrics_fd(const struct metrics_server *m);

/* metrics_port() - the bound port (useful with port 0). */
int metrics_port(const struct metrics_server *m);

/* metrics_serve() - answer the waiting connection with render's output. */
void metrics_serve(struct metrics_server *m, metrics_render_fn render, void *userdata);

void metrics_free(struct metrics_server *m);

#endif /* TG_AGENT_METRICS_H */
