/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard-api/admin.h"
#include "dashboard-api/catalog.h"
#include "dashboard-api/consumers.h"
#include "dashboard-api/invoices.h"
#include "dashboard-api/keys.h"
#include "dashboard-api/plans.h"
#include "dashboard-api/routes.h"
#include "dashboard-api/sandbox.h"
#include "dashboard-api/system.h"
#include "dashboard-api/usage.h"

#define LIST "limit,starting_after"
#define RANGE "from,to"

/* The routing table (DESIGN §7): adding a route is one row here. */
const struct route routes[] = {
	/* service */
	{ "GET", "/healthz", ROUTE_ANYONE, system_healthz, 200, NULL,
	  "Health of the service and of each dependency (postgres, redis)", "service", NULL, NULL,
	  "Health" },
	{ "GET", "/metrics", ROUTE_ANYONE, system_metrics, 200, NULL,
	  "Prometheus metrics: requests by route and status, latency, outbox relay", "service",
	  NULL, NULL, "text" },
	{ "GET", "/openapi.json", ROUTE_ANYONE, system_openapi, 200, NULL,
	  "This document: OpenAPI 3.1 of the dashboard API", "service", NULL, NULL, "Document" },

	/* catalog */
	{ "GET", "/v1/apis", ROUTE_ANYONE, catalog_list, 200, NULL, "List the published APIs",
	  "catalog", LIST, NULL, "ApiList" },
	{ "POST", "/v1/apis", ROUTE_ADMIN, catalog_create, 201, "api.create",
	  "Publish an API (and its base_path route)", "catalog", NULL, "ApiInput", "Api" },
	{ "GET", "/v1/apis/{id}", ROUTE_ANYONE, catalog_get, 200, NULL, "An API of the catalog",
	  "catalog", NULL, NULL, "Api" },
	{ "PATCH", "/v1/apis/{id}", ROUTE_ADMIN, catalog_update, 200, "api.update",
	  "Change an API: deprecate, set its sunset, SLA targets, sandbox_url", "catalog", NULL,
	  "ApiInput", "Api" },
	{ "GET", "/v1/apis/{id}/openapi", ROUTE_ANYONE, catalog_openapi, 200, NULL,
	  "The OpenAPI document stored for an API", "catalog", NULL, NULL, "Document" },
	{ "GET", "/v1/apis/{id}/usage", ROUTE_ADMIN, usage_api_series, 200, NULL,
	  "An API's usage series over every consumer, one point per step (never paged)",
	  "analytics", RANGE ",granularity", NULL, "UsageSeries" },
	{ "GET", "/v1/apis/{id}/sla", ROUTE_ADMIN, usage_api_sla, 200, NULL,
	  "An API's SLA figures per window against its targets, and its SLA alerts in the range",
	  "analytics", RANGE ",granularity,window", NULL, "ApiSla" },
	{ "GET", "/v1/apis/{id}/deprecation", ROUTE_ADMIN, usage_api_deprecation, 200, NULL,
	  "The consumers that used an API in the last 7 days (those to tell of its deprecation)",
	  "analytics", NULL, NULL, "ApiDeprecation" },

	/* plans */
	{ "GET", "/v1/plans", ROUTE_ANYONE, plans_list, 200, NULL, "List the plans", "plans", LIST,
	  NULL, "PlanList" },
	{ "POST", "/v1/plans", ROUTE_ADMIN, plans_create, 201, "plan.create",
	  "Create a plan (tiers validated by the pricing engine)", "plans", NULL, "PlanInput",
	  "Plan" },
	{ "GET", "/v1/plans/{id}", ROUTE_ANYONE, plans_get, 200, NULL, "A plan", "plans", NULL,
	  NULL, "Plan" },

	/* consumers and their keys */
	{ "GET", "/v1/consumers", ROUTE_ADMIN, consumers_list, 200, NULL, "List the consumers",
	  "consumers", LIST, NULL, "ConsumerList" },
	{ "POST", "/v1/consumers", ROUTE_ADMIN, consumers_create, 201, "consumer.create",
	  "Create a consumer", "consumers", NULL, "ConsumerInput", "Consumer" },
	{ "GET", "/v1/consumers/{id}", ROUTE_ADMIN_SELF, consumers_get, 200, NULL, "A consumer",
	  "consumers", NULL, NULL, "Consumer" },
	{ "GET", "/v1/consumers/self", ROUTE_SELF, consumers_self, 200, NULL,
	  "The consumer of the calling key (how a key learns its consumer id)", "consumers", NULL,
	  NULL, "Consumer" },
	{ "GET", "/v1/consumers/{id}/keys", ROUTE_ADMIN_SELF, keys_list, 200, NULL,
	  "List a consumer's keys (never the raw key)", "keys", LIST, NULL, "KeyList" },
	{ "POST", "/v1/consumers/{id}/keys", ROUTE_ADMIN_SELF, keys_create, 201, "key.create",
	  "Create a key: the raw key is in this reply only", "keys", NULL, "KeyInput",
	  "KeyWithSecret" },
	{ "DELETE", "/v1/consumers/{id}/keys/{key_id}", ROUTE_ADMIN_SELF, keys_revoke, 200,
	  "key.revoke", "Revoke a key", "keys", NULL, NULL, "Key" },
	{ "POST", "/v1/consumers/{id}/keys/{key_id}/rotate", ROUTE_ADMIN_SELF, keys_rotate, 201,
	  "key.rotate", "Replace a key: a new key, the old one valid for a grace period", "keys",
	  NULL, "RotateInput", "KeyWithSecret" },

	/* a consumer's usage */
	{ "GET", "/v1/consumers/{id}/usage", ROUTE_ADMIN_SELF, usage_consumer_series, 200, NULL,
	  "A consumer's usage series, one point per step, from the rollups (never paged)",
	  "analytics", RANGE ",granularity,api_id", NULL, "UsageSeries" },
	{ "GET", "/v1/consumers/{id}/usage/endpoints", ROUTE_ADMIN_SELF, usage_consumer_endpoints,
	  200, NULL, "A consumer's busiest endpoints with error rates and latency percentiles",
	  "analytics", RANGE ",limit,api_id", NULL, "EndpointUsageList" },
	{ "GET", "/v1/consumers/{id}/usage/geo", ROUTE_ADMIN_SELF, usage_consumer_geo, 200, NULL,
	  "A consumer's requests by client country, busiest first", "analytics",
	  RANGE ",api_id", NULL, "CountryUsageList" },
	{ "GET", "/v1/consumers/{id}/usage/realtime", ROUTE_ADMIN_SELF, usage_consumer_realtime,
	  200, NULL, "A consumer's requests today per API, from the gateway's Redis counters",
	  "analytics", NULL, NULL, "RealtimeUsage" },

	/* invoices */
	{ "GET", "/v1/consumers/{id}/invoices", ROUTE_ADMIN_SELF, invoices_list, 200, NULL,
	  "List a consumer's invoices", "invoices", LIST, NULL, "InvoiceList" },
	{ "GET", "/v1/consumers/{id}/invoices/upcoming", ROUTE_ADMIN_SELF, usage_upcoming_invoice,
	  200, NULL, "The current month's invoice priced on the usage so far", "invoices", NULL,
	  NULL, "UpcomingInvoice" },
	{ "GET", "/v1/invoices/{id}", ROUTE_ADMIN_OWNER, invoices_get, 200, NULL,
	  "An invoice with its lines, totals, status and reconciliation", "invoices", NULL, NULL,
	  "Invoice" },
	{ "POST", "/v1/invoices/run", ROUTE_ADMIN, invoices_run, 202, "invoice.run",
	  "Invoice a period through billing (idempotent per period)", "invoices", NULL,
	  "InvoiceRunInput", "InvoiceRun" },

	/* the portal's "try it" */
	{ "POST", "/v1/sandbox/requests", ROUTE_SELF, sandbox_request, 200, NULL,
	  "Send a request to an API's sandbox_url with the caller's key; the answer and the "
	  "gateway's verdict",
	  "sandbox", NULL, "SandboxRequest", "SandboxResponse" },

	/* operations */
	{ "GET", "/v1/alerts", ROUTE_ADMIN, admin_alerts, 200, NULL,
	  "List SLA and reconciliation alerts", "operations", "state," LIST, NULL, "AlertList" },
	{ "GET", "/v1/audit", ROUTE_ADMIN, admin_audit, 200, NULL, "The audit log of changes",
	  "operations", LIST, NULL, "AuditEntryList" },
};

const size_t n_routes = sizeof(routes) / sizeof(routes[0]);

/* a decimal id without sign or leading zero that fits a uint64 */
static int parse_id(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* @path against @pattern; the ids into @ret_ids (REQUEST_MAX_IDS) and their count */
static bool pattern_match(const char *pattern, const char *path, uint64_t *ret_ids,
			  unsigned int *ret_n)
{
	unsigned int n = 0;

	while (*pattern && *path) {
		const char *pe = strchr(pattern + 1, '/'), *se = strchr(path + 1, '/');
		size_t plen = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t slen = se ? (size_t)(se - path) : strlen(path);

		if (pattern[0] != '/' || path[0] != '/')
			return false;
		if (pattern[1] == '{') {
			if (n == REQUEST_MAX_IDS || parse_id(path + 1, slen - 1, &ret_ids[n]))
				return false;
			n++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	if (*pattern || *path)
		return false;
	*ret_n = n;
	return true;
}

enum route_miss routes_match(const char *method, const char *path, struct request *req,
			     char *allow, size_t allow_len)
{
	uint64_t ids[REQUEST_MAX_IDS];
	bool path_known = false;
	size_t used = 0;
	unsigned int n;

	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < n_routes; i++) {
		if (!pattern_match(routes[i].pattern, path, ids, &n))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			req->route = &routes[i];
			req->n_ids = n;
			for (unsigned int j = 0; j < n; j++) {
				req->ids[j] = ids[j];
				snprintf(req->id_text[j], sizeof(req->id_text[j]), "%llu",
					 (unsigned long long)ids[j]);
			}
			return ROUTE_FOUND;
		}
		path_known = true;
		if (allow_len && used < allow_len) {
			int w = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
					 routes[i].method);

			if (w > 0)
				used += (size_t)w;
		}
	}
	return path_known ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

const char *routes_access_name(enum route_access access)
{
	switch (access) {
	case ROUTE_ANYONE:
		return "anyone";
	case ROUTE_ADMIN:
		return "admin";
	case ROUTE_ADMIN_SELF:
		return "admin,self";
	case ROUTE_ADMIN_OWNER:
		return "admin,owner";
	case ROUTE_SELF:
		return "self";
	}
	return "?";
}
