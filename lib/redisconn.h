/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * redisconn.h - redis.url and connections to it, shared by the agent's key
 * sync and lease loop and by billing's reconciliation, so that all talk to the
 * same server and database.
 */
#ifndef TG_LIB_REDISCONN_H
#define TG_LIB_REDISCONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct redis_addr {
	char host[256];
	int port; /* default 6379 */
	int db;	  /* default 0 */
};

/* redisconn_parse() - "redis://HOST[:PORT][/DB]"; -EINVAL with the reason,
 * naming redis.url, in err. */
int redisconn_parse(const char *url, struct redis_addr *ret, char *err, size_t err_len);

/* redisconn_open() - connected, with timeout_ms on connect and on every
 * command, and the database selected; NULL when Redis is out of reach. */
redisContext *redisconn_open(const struct redis_addr *addr, int timeout_ms);

#endif /* TG_LIB_REDISCONN_H */
