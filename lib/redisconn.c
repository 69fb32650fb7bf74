/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/redisconn.h"

int redisconn_parse(const char *url, struct redis_addr *ret, char *err, size_t err_len)
{
	struct redis_addr a = { .port = 6379 };
	const char *p, *host_end, *colon, *slash;
	char *end;
	long v;

	if (strncmp(url, "redis://", 8) != 0)
		goto bad;
	p = url + 8;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (colon && slash && colon > slash)
		colon = NULL;
	host_end = colon ? colon : slash ? slash : p + strlen(p);
	if (host_end == p || (size_t)(host_end - p) >= sizeof(a.host))
		goto bad;
	memcpy(a.host, p, (size_t)(host_end - p));
	if (colon) {
		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (errno || v < 1 || v > 65535 || (*end && *end != '/'))
			goto bad;
		a.port = (int)v;
	}
	if (slash && slash[1]) {
		errno = 0;
		v = strtol(slash + 1, &end, 10);
		if (errno || v < 0 || v > 1000 || *end)
			goto bad;
		a.db = (int)v;
	}
	*ret = a;
	return 0;
bad:
	snprintf(err, err_len, "redis.url: '%s' is not redis://HOST[:PORT][/DB]", url);
	return -EINVAL;
}

redisContext *redisconn_open(const struct redis_addr *addr, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(addr->host, addr->port, tv);
	redisReply *r;

	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (addr->db) {
		r = redisCommand(c, "SELECT %d", addr->db);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}
