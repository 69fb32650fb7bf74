/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * responder.h - the refusal responder of sockmap mode (agent.refusal_listen,
 * docs/sockmap.md).
 *
 * In sockmap mode tg_skmsg refuses a request a local proxy forwards by
 * dropping the proxy's write (EACCES), which a proxy alone reports as 502.
 * The proxy's backup upstream is this responder: it reads the request the
 * proxy retries there, finds the kernel's refusal in tg_refusals (by the
 * key's digest, or the zero digest for a request without a usable key) and
 * answers what the kernel decided, in the very bytes XDP's in-kernel answer
 * has (bpf/lib/reply.h): 429 with Retry-After and RateLimit fields, or
 * 401/403. A request the kernel did not refuse in the last
 * RESPONDER_FRESH_S seconds (the API server is down, say) gets 503.
 *
 * It runs in a thread of its own with its own epoll; it reads the maps and
 * never writes them, so it shares nothing else with the agent.
 */
#ifndef TG_AGENT_RESPONDER_H
#define TG_AGENT_RESPONDER_H

#include <stdint.h>

#define RESPONDER_FRESH_S 10 /* a refusal older than this is not the reason */

struct responder;

struct responder_stats {
	uint64_t answered[8]; /* by verdict (enum tg_verdict) */
	uint64_t unavailable; /* 503: no recent refusal */
	uint64_t bad_requests; /* no request head within the limit or the time */
};

/*
 * responder_start() - listen on @addr ("host:port") and answer from the maps
 * @refusals_fd (tg_refusals) and @secrets_fd (tg_secrets). Returns 0 or a
 * negative errno.
 */
int responder_start(const char *addr, int refusals_fd, int secrets_fd, struct responder **ret);

/* responder_port() - the bound port (useful with port 0). */
int responder_port(const struct responder *r);

/* responder_stats() - a snapshot of the counters. */
void responder_stats(struct responder *r, struct responder_stats *ret);

/* responder_stop() - stop the thread, close everything, free. NULL is fine. */
void responder_stop(struct responder *r);

#endif /* TG_AGENT_RESPONDER_H */
