/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * usage.h - the analytics routes of DESIGN §7: a consumer's usage series,
 * top endpoints, countries and realtime counters; an API's usage, SLA
 * figures and consumers still on it; a consumer's upcoming invoice. Each
 * handler reads the query string, calls one function of analytics.h and
 * sends its JSON (handlers as request.h describes).
 *
 * Query parameters, each checked (a bad one is 400 invalid_request naming
 * it):
 *   from, to     RFC 3339 ("2026-11-28T10:05:00Z", fraction and offset
 *                allowed; a '+' of the offset may arrive as a space); the
 *                range is [from, to); default: the 24 hours before now (to
 *                alone: the 24 hours before it; from alone: until now);
 *   granularity  minute, hour (default) or day;
 *   api_id       an API id; an unknown one is 404 naming it;
 *   limit        1..100 (default 10), top endpoints;
 *   window       seconds, a multiple of 60 (SLA windows; default: the
 *                granularity's step).
 *
 * Replies. Series are lists of DESIGN §7 that are never paged:
 *   {"object": "list", "data": [...], "has_more": false,
 *    "from": "...Z", "to": "...Z", "granularity": "hour"}
 * (from and to as asked; the points cover them rounded out to the step;
 * endpoints and geo leave granularity out). The single-object reads are
 * analytics.h's objects with an "object" field added: "realtime_usage",
 * "api_sla", "api_deprecation", and "invoice" (status "upcoming", id null)
 * for the upcoming invoice. Errors of analytics.h: see there; realtime
 * without Redis is 503 internal with Retry-After.
 */
#ifndef TG_API_USAGE_H
#define TG_API_USAGE_H

#include "dashboard-api/request.h"

#define USAGE_DEFAULT_RANGE (24 * 3600) /* seconds before to, without from */
#define USAGE_REDIS_TIMEOUT_MS 500

/* GET /v1/consumers/{id}/usage?from&to&granularity&api_id */
int usage_consumer_series(struct request *req, struct reply *rep);
/* GET /v1/consumers/{id}/usage/endpoints?from&to&limit&api_id */
int usage_consumer_endpoints(struct request *req, struct reply *rep);
/* GET /v1/consumers/{id}/usage/geo?from&to&api_id */
int usage_consumer_geo(struct request *req, struct reply *rep);
/* GET /v1/consumers/{id}/usage/realtime */
int usage_consumer_realtime(struct request *req, struct reply *rep);
/* GET /v1/apis/{id}/usage?from&to&granularity */
int usage_api_series(struct request *req, struct reply *rep);
/* GET /v1/apis/{id}/sla?from&to&granularity&window */
int usage_api_sla(struct request *req, struct reply *rep);
/* GET /v1/apis/{id}/deprecation */
int usage_api_deprecation(struct request *req, struct reply *rep);
/* GET /v1/consumers/{id}/invoices/upcoming */
int usage_upcoming_invoice(struct request *req, struct reply *rep);

#endif /* TG_API_USAGE_H */
