/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * server.h - tollgate-api's HTTP server (libmicrohttpd): request bodies up to
 * SERVER_BODY_MAX (413 beyond), routing (routes.h: 404, 405 with Allow),
 * authentication and access rules (auth.h), JSON bodies (400 naming "body"
 * for text that is not a JSON object), the transaction around a change with
 * its Idempotency-Key record (idempotency.h) and audit row, metrics.
 */
#ifndef TG_API_SERVER_H
#define TG_API_SERVER_H

#include <stdint.h>

#include "dashboard-api/request.h"

#define SERVER_BODY_MAX (1024 * 1024)
#define SERVER_THREADS_DEFAULT 8

struct server;

/*
 * server_start() - listen on cfg->api.listen ("HOST:PORT", "[V6]:PORT"; port
 * 0 = any) with @threads worker threads, TLS when api.tls_cert_file and
 * api.tls_key_file are set. @ctx must outlive the server. 0, or -errno
 * (logged).
 */
int server_start(struct api_ctx *ctx, unsigned int threads, struct server **ret);

/* server_port() - the TCP port it listens on. */
uint16_t server_port(const struct server *s);

/* server_stop() - stop accepting, finish the requests in progress, free. NULL is fine. */
void server_stop(struct server *s);

#endif /* TG_API_SERVER_H */
