/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dashboard-api/openapi.h"
#include "dashboard-api/routes.h"
#include "lib/log.h"

/* the object shapes of DESIGN §7, as JSON Schema 2020-12 */
static const char components[] =
	"{"
	"\"Id\": {\"type\": \"string\", \"pattern\": \"^[1-9][0-9]*$\", \"description\": \"an id, "
	"as a decimal string\"},"
	"\"Time\": {\"type\": \"string\", \"format\": \"date-time\", \"description\": \"RFC 3339, "
	"UTC\"},"
	"\"Error\": {\"type\": \"object\", \"required\": [\"error\"], \"properties\": {\"error\": "
	"{\"type\": \"object\", \"required\": [\"type\", \"message\"], \"properties\": {"
	"\"type\": {\"enum\": [\"invalid_request\", \"authentication\", \"not_found\", "
	"\"conflict\", \"rate_limited\", \"internal\"]},"
	"\"message\": {\"type\": \"string\"}, \"param\": {\"type\": \"string\"},"
	"\"key_id\": {\"$ref\": \"#/components/schemas/Id\"}}}}},"
	"\"Document\": {\"type\": \"object\", \"description\": \"an OpenAPI document\"},"
	"\"Health\": {\"type\": \"object\", \"required\": [\"status\", \"checks\"], "
	"\"properties\": "
	"{\"status\": {\"enum\": [\"ok\", \"degraded\"]}, \"checks\": {\"type\": \"object\", "
	"\"additionalProperties\": {\"type\": \"object\", \"properties\": {\"status\": {\"enum\": "
	"[\"ok\", \"down\", \"disabled\"]}, \"error\": {\"type\": \"string\"}}}}}},"
	"\"Api\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"api\"},"
	"\"name\": {\"type\": \"string\"}, \"version\": {\"type\": \"string\"},"
	"\"base_path\": {\"type\": \"string\"}, \"description\": {\"type\": \"string\"},"
	"\"sandbox_url\": {\"type\": [\"string\", \"null\"]},"
	"\"deprecated_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"sunset_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"sla_uptime\": {\"type\": [\"number\", \"null\"]},"
	"\"sla_p99_ms\": {\"type\": [\"integer\", \"null\"]},"
	"\"has_openapi\": {\"type\": \"boolean\"},"
	"\"route_id\": {\"type\": [\"string\", \"null\"]},"
	"\"created_at\": {\"$ref\": \"#/components/schemas/Time\"}}},"
	"\"ApiInput\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
	"\"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200},"
	"\"version\": {\"type\": \"string\"}, \"base_path\": {\"type\": \"string\", \"pattern\": "
	"\"^/\"}, \"description\": {\"type\": \"string\"},"
	"\"sandbox_url\": {\"type\": [\"string\", \"null\"]},"
	"\"deprecated_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"sunset_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"sla_uptime\": {\"type\": [\"number\", \"null\"], \"minimum\": 0, \"maximum\": 100},"
	"\"sla_p99_ms\": {\"type\": [\"integer\", \"null\"], \"minimum\": 1},"
	"\"openapi\": {\"type\": [\"object\", \"null\"]}}},"
	"\"Tier\": {\"type\": \"object\", \"required\": [\"up_to\", \"unit_price\"], "
	"\"properties\": {\"up_to\": {\"type\": [\"integer\", \"null\"], \"minimum\": 1},"
	"\"unit_price\": {\"type\": \"string\"}, \"flat_price\": {\"type\": \"string\"}}},"
	"\"Plan\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"plan\"},"
	"\"name\": {\"type\": \"string\"}, \"api_id\": {\"type\": [\"string\", \"null\"]},"
	"\"rate_per_sec\": {\"type\": \"number\"}, \"burst\": {\"type\": \"integer\"},"
	"\"monthly_quota\": {\"type\": \"integer\"}, \"currency\": {\"type\": \"string\"},"
	"\"tiers_mode\": {\"enum\": [\"graduated\", \"volume\"]},"
	"\"tiers\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/Tier\"}},"
	"\"period_fee\": {\"type\": \"string\"}, \"bill_server_errors\": {\"type\": \"boolean\"},"
	"\"created_at\": {\"$ref\": \"#/components/schemas/Time\"}}},"
	"\"PlanInput\": {\"type\": \"object\", \"additionalProperties\": false, "
	"\"required\": [\"name\", \"currency\", \"tiers_mode\", \"tiers\", \"rate_per_sec\"], "
	"\"properties\": {\"name\": {\"type\": \"string\"}, \"api_id\": {\"type\": [\"string\", "
	"\"null\"]}, \"rate_per_sec\": {\"type\": [\"number\", \"string\"]},"
	"\"burst\": {\"type\": \"integer\", \"minimum\": 1},"
	"\"monthly_quota\": {\"type\": \"integer\", \"minimum\": 0},"
	"\"currency\": {\"type\": \"string\"}, \"tiers_mode\": {\"enum\": [\"graduated\", "
	"\"volume\"]}, \"tiers\": {\"type\": \"array\", \"items\": {\"$ref\": "
	"\"#/components/schemas/Tier\"}}, \"period_fee\": {\"type\": \"string\"},"
	"\"bill_server_errors\": {\"type\": \"boolean\"}}},"
	"\"Consumer\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"consumer\"},"
	"\"name\": {\"type\": \"string\"}, \"email\": {\"type\": \"string\"},"
	"\"created_at\": {\"$ref\": \"#/components/schemas/Time\"}, \"suspended\": {\"type\": "
	"\"boolean\"}}},"
	"\"ConsumerInput\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": "
	"[\"name\"], \"properties\": {\"name\": {\"type\": \"string\"}, \"email\": {\"type\": "
	"\"string\"}}},"
	"\"Key\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"key\"},"
	"\"consumer_id\": {\"$ref\": \"#/components/schemas/Id\"}, \"prefix\": {\"type\": "
	"\"string\"}, \"plan_id\": {\"$ref\": \"#/components/schemas/Id\"},"
	"\"created_at\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"revoked_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"expires_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"last_used_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"},"
	"\"replaced_by\": {\"type\": [\"string\", \"null\"]}}},"
	"\"KeyWithSecret\": {\"allOf\": [{\"$ref\": \"#/components/schemas/Key\"}, {\"type\": "
	"\"object\", \"required\": [\"key\"], \"properties\": {\"key\": {\"type\": \"string\", "
	"\"description\": \"the raw key, shown only in this reply\"}}}]},"
	"\"KeyInput\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": "
	"[\"plan_id\"], \"properties\": {\"plan_id\": {\"$ref\": \"#/components/schemas/Id\"}}},"
	"\"RotateInput\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": "
	"{\"grace_period\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 2592000, "
	"\"description\": \"seconds the old key stays valid (default 86400)\"}}},"
	"\"InvoiceLine\": {\"type\": \"object\", \"properties\": {"
	"\"plan_id\": {\"$ref\": \"#/components/schemas/Id\"}, \"kind\": {\"type\": \"string\"},"
	"\"description\": {\"type\": \"string\"}, \"quantity\": {\"type\": \"integer\"},"
	"\"unit_price\": {\"type\": \"string\"}, \"amount\": {\"type\": \"string\"},"
	"\"amount_minor\": {\"type\": \"integer\"}}},"
	"\"Invoice\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"invoice\"},"
	"\"consumer_id\": {\"$ref\": \"#/components/schemas/Id\"},"
	"\"period\": {\"type\": \"string\", \"pattern\": \"^[0-9]{4}-[0-9]{2}$\"},"
	"\"period_start\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"period_end\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"currency\": {\"type\": \"string\"}, \"status\": {\"enum\": [\"draft\", \"finalized\", "
	"\"paid\", \"payment_failed\"]}, \"lines\": {\"type\": \"array\", \"items\": {\"$ref\": "
	"\"#/components/schemas/InvoiceLine\"}}, \"total\": {\"type\": \"string\"},"
	"\"total_minor\": {\"type\": \"integer\"}, \"reconciliation\": {\"type\": [\"object\", "
	"\"null\"]}}},"
	"\"InvoiceRunInput\": {\"type\": \"object\", \"additionalProperties\": false, "
	"\"required\": [\"period\"], \"properties\": {\"period\": {\"type\": \"string\", "
	"\"pattern\": \"^[0-9]{4}-[0-9]{2}$\"}}},"
	"\"InvoiceRun\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": "
	"\"invoice_run\"}, \"period\": {\"type\": \"string\"}, \"status\": {\"enum\": "
	"[\"pending\", \"running\", \"done\", \"failed\"]}, \"invoices\": {\"type\": [\"integer\", "
	"\"null\"]}, \"error\": {\"type\": [\"string\", \"null\"]},"
	"\"requested_at\": {\"$ref\": \"#/components/schemas/Time\"}}},"
	"\"Alert\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"alert\"},"
	"\"kind\": {\"type\": \"string\"}, \"api_id\": {\"type\": [\"string\", \"null\"]},"
	"\"consumer_id\": {\"type\": [\"string\", \"null\"]}, \"state\": {\"enum\": [\"open\", "
	"\"resolved\"]}, \"opened_at\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"resolved_at\": {\"type\": [\"string\", \"null\"]}, \"details\": {\"type\": \"object\"},"
	"\"resolution\": {\"type\": [\"object\", \"null\"]}}},"
	"\"AuditEntry\": {\"type\": \"object\", \"properties\": {"
	"\"id\": {\"$ref\": \"#/components/schemas/Id\"}, \"object\": {\"const\": \"audit\"},"
	"\"actor\": {\"type\": \"string\"}, \"action\": {\"type\": \"string\"},"
	"\"target\": {\"type\": \"string\"}, \"details\": {\"type\": \"object\"},"
	"\"remote_addr\": {\"type\": [\"string\", \"null\"]},"
	"\"at\": {\"$ref\": \"#/components/schemas/Time\"}}}"
	",\"UsagePoint\": {\"type\": \"object\", \"description\": \"one step of a usage series: "
	"requests counts every request (refused ones and summaries included); refused: gateway "
	"verdict != admitted; errors_4xx/5xx: admitted and answered; unanswered: admitted, "
	"never answered; percentiles of answered requests in ms, null without a sample\", "
	"\"properties\": {"
	"\"ts\": {\"$ref\": \"#/components/schemas/Time\"}, \"requests\": {\"type\": "
	"\"integer\"}, \"refused\": {\"type\": \"integer\"},"
	"\"errors_4xx\": {\"type\": \"integer\"}, \"errors_5xx\": {\"type\": \"integer\"}, "
	"\"unanswered\": {\"type\": \"integer\"},"
	"\"p50_ms\": {\"type\": [\"number\", \"null\"]}, \"p99_ms\": {\"type\": [\"number\", "
	"\"null\"]},"
	"\"bytes_in\": {\"type\": \"integer\"}, \"bytes_out\": {\"type\": \"integer\"}}},"
	"\"UsageSeries\": {\"type\": \"object\", \"description\": \"a list of DESIGN 7 that is "
	"never paged (has_more is always false): one point per granularity step of [from, to) "
	"rounded out to the step, zeros where nothing happened; from and to as asked (default: "
	"the last 24 hours)\", \"required\": [\"object\", \"data\", \"has_more\"], "
	"\"properties\": {"
	"\"object\": {\"const\": \"list\"}, \"data\": {\"type\": \"array\", \"items\": "
	"{\"$ref\": \"#/components/schemas/UsagePoint\"}},"
	"\"has_more\": {\"const\": false}, \"from\": {\"$ref\": \"#/components/schemas/Time\"}, "
	"\"to\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"granularity\": {\"enum\": [\"minute\", \"hour\", \"day\"]}}},"
	"\"EndpointUsage\": {\"type\": \"object\", \"properties\": {"
	"\"method\": {\"type\": \"string\", \"description\": \"empty when the gateway knew "
	"none\"}, \"endpoint\": {\"type\": \"string\"},"
	"\"requests\": {\"type\": \"integer\"}, \"refused\": {\"type\": \"integer\"}, "
	"\"errors_4xx\": {\"type\": \"integer\"},"
	"\"errors_5xx\": {\"type\": \"integer\"}, \"unanswered\": {\"type\": \"integer\"},"
	"\"error_rate\": {\"type\": \"number\", \"description\": \"(4xx + 5xx + unanswered) / "
	"admitted requests, 4 decimals\"},"
	"\"p50_ms\": {\"type\": [\"number\", \"null\"]}, \"p99_ms\": {\"type\": [\"number\", "
	"\"null\"]}}},"
	"\"EndpointUsageList\": {\"type\": \"object\", \"description\": \"the busiest "
	"endpoints, busiest first, at most limit of them; never paged (has_more is always "
	"false); the range is rounded out to whole hours\", \"required\": [\"object\", "
	"\"data\", \"has_more\"], \"properties\": {"
	"\"object\": {\"const\": \"list\"}, \"data\": {\"type\": \"array\", \"items\": "
	"{\"$ref\": \"#/components/schemas/EndpointUsage\"}},"
	"\"has_more\": {\"const\": false}, \"from\": {\"$ref\": \"#/components/schemas/Time\"}, "
	"\"to\": {\"$ref\": \"#/components/schemas/Time\"}}},"
	"\"CountryUsage\": {\"type\": \"object\", \"properties\": {\"country\": {\"type\": "
	"\"string\", \"description\": \"ISO 3166 alpha-2; -- unknown\"}, \"requests\": "
	"{\"type\": \"integer\"}}},"
	"\"CountryUsageList\": {\"type\": \"object\", \"description\": \"requests by client "
	"country, busiest first; never paged (has_more is always false); the range is rounded "
	"out to whole hours\", \"required\": [\"object\", \"data\", \"has_more\"], "
	"\"properties\": {"
	"\"object\": {\"const\": \"list\"}, \"data\": {\"type\": \"array\", \"items\": "
	"{\"$ref\": \"#/components/schemas/CountryUsage\"}},"
	"\"has_more\": {\"const\": false}, \"from\": {\"$ref\": \"#/components/schemas/Time\"}, "
	"\"to\": {\"$ref\": \"#/components/schemas/Time\"}}},"
	"\"RealtimeUsage\": {\"type\": \"object\", \"description\": \"today's (UTC) admitted "
	"requests per API from the gateway's Redis counters, ahead of the rollups; 503 while "
	"Redis is unavailable\", \"properties\": {"
	"\"object\": {\"const\": \"realtime_usage\"}, \"consumer_id\": {\"$ref\": "
	"\"#/components/schemas/Id\"},"
	"\"day\": {\"type\": \"string\", \"format\": \"date\"}, \"as_of\": {\"$ref\": "
	"\"#/components/schemas/Time\"}, \"requests\": {\"type\": \"integer\"},"
	"\"apis\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": "
	"{\"api_id\": {\"type\": [\"string\", \"null\"]},"
	"\"name\": {\"type\": [\"string\", \"null\"]}, \"requests\": {\"type\": "
	"\"integer\"}}}}}},"
	"\"SlaWindow\": {\"type\": \"object\", \"properties\": {\"window_start\": {\"$ref\": "
	"\"#/components/schemas/Time\"},"
	"\"window_end\": {\"$ref\": \"#/components/schemas/Time\"}, \"requests\": {\"type\": "
	"\"integer\"}, \"failures\": {\"type\": \"integer\"},"
	"\"unanswered\": {\"type\": \"integer\"}, \"uptime\": {\"type\": [\"number\", "
	"\"null\"]}, \"latency_requests\": {\"type\": \"integer\"},"
	"\"p99_ms\": {\"type\": [\"number\", \"null\"]}, \"uptime_met\": {\"type\": "
	"[\"boolean\", \"null\"]}, \"latency_met\": {\"type\": [\"boolean\", \"null\"]}}},"
	"\"ApiSla\": {\"type\": \"object\", \"description\": \"SLA figures of admitted requests "
	"(uptime in percent, failures = 5xx + unanswered) per window, against the API's "
	"targets; the SLA alerts meeting the range\", \"properties\": {"
	"\"object\": {\"const\": \"api_sla\"}, \"api_id\": {\"$ref\": "
	"\"#/components/schemas/Id\"},"
	"\"from\": {\"$ref\": \"#/components/schemas/Time\"}, \"to\": {\"$ref\": "
	"\"#/components/schemas/Time\"},"
	"\"window_seconds\": {\"type\": \"integer\"}, \"target_uptime\": {\"type\": "
	"[\"number\", \"null\"]},"
	"\"target_p99_ms\": {\"type\": [\"number\", \"null\"]}, \"min_requests\": {\"type\": "
	"\"integer\"},"
	"\"requests\": {\"type\": \"integer\"}, \"failures\": {\"type\": \"integer\"}, "
	"\"uptime\": {\"type\": [\"number\", \"null\"]},"
	"\"p99_ms\": {\"type\": [\"number\", \"null\"]}, \"windows\": {\"type\": \"array\", "
	"\"items\": {\"$ref\": \"#/components/schemas/SlaWindow\"}},"
	"\"breaches\": {\"type\": \"array\", \"items\": {\"type\": \"object\"}}}},"
	"\"ApiDeprecation\": {\"type\": \"object\", \"description\": \"the consumers that made "
	"admitted requests to the API in the 7 days before now, busiest first\", "
	"\"properties\": {"
	"\"object\": {\"const\": \"api_deprecation\"}, \"api_id\": {\"$ref\": "
	"\"#/components/schemas/Id\"}, \"name\": {\"type\": \"string\"},"
	"\"version\": {\"type\": \"string\"}, \"deprecated_at\": {\"type\": [\"string\", "
	"\"null\"], \"format\": \"date-time\"},"
	"\"sunset_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}, "
	"\"since\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"until\": {\"$ref\": \"#/components/schemas/Time\"}, \"consumers\": {\"type\": "
	"\"array\", \"items\": {\"type\": \"object\", \"properties\": {"
	"\"consumer_id\": {\"$ref\": \"#/components/schemas/Id\"}, \"name\": {\"type\": "
	"\"string\"}, \"email\": {\"type\": \"string\"},"
	"\"requests\": {\"type\": \"integer\"}, \"last_seen_at\": {\"$ref\": "
	"\"#/components/schemas/Time\"},"
	"\"notified_at\": {\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}}}}}},"
	"\"UpcomingInvoice\": {\"type\": \"object\", \"description\": \"the invoice of the "
	"current calendar month (UTC) priced on the usage so far, as billing would write it "
	"now; 404 when there is nothing to invoice\", \"properties\": {"
	"\"object\": {\"const\": \"invoice\"}, \"id\": {\"type\": \"null\"}, \"consumer_id\": "
	"{\"$ref\": \"#/components/schemas/Id\"},"
	"\"period\": {\"type\": \"string\", \"pattern\": \"^[0-9]{4}-[0-9]{2}$\"}, "
	"\"period_start\": {\"$ref\": \"#/components/schemas/Time\"},"
	"\"period_end\": {\"$ref\": \"#/components/schemas/Time\"}, \"currency\": {\"type\": "
	"\"string\"}, \"status\": {\"const\": \"upcoming\"},"
	"\"reconciliation\": {\"type\": \"null\"}, \"as_of\": {\"$ref\": "
	"\"#/components/schemas/Time\"},"
	"\"lines\": {\"type\": \"array\", \"items\": {\"$ref\": "
	"\"#/components/schemas/InvoiceLine\"}},"
	"\"total\": {\"type\": \"string\"}, \"total_minor\": {\"type\": \"integer\"}}},"
	"\"SandboxRequest\": {\"type\": \"object\", \"additionalProperties\": false, "
	"\"required\": [\"api_id\", \"method\", \"path\"], \"description\": \"sent to the API's "
	"sandbox_url + path with the caller's key in X-API-Key; only consumers may call it (the "
	"admin token is never sent)\", \"properties\": {"
	"\"api_id\": {\"$ref\": \"#/components/schemas/Id\"}, \"method\": {\"enum\": [\"GET\", "
	"\"HEAD\", \"POST\", \"PUT\", \"PATCH\", \"DELETE\", \"OPTIONS\"]},"
	"\"path\": {\"type\": \"string\", \"pattern\": \"^/\", \"maxLength\": 2048, "
	"\"description\": \"path and query, URL characters only\"},"
	"\"headers\": {\"type\": \"object\", \"maxProperties\": 50, \"additionalProperties\": "
	"{\"type\": \"string\", \"maxLength\": 4096}, \"description\": \"not Host, X-API-Key, "
	"Authorization, Content-Length, Transfer-Encoding, Connection, Expect, Upgrade, TE, "
	"Trailer, Keep-Alive or Proxy-*\"},"
	"\"body\": {\"description\": \"a string is sent as is; other JSON as compact JSON "
	"(Content-Type: application/json unless given); at most 256 KiB\"}}},"
	"\"SandboxResponse\": {\"type\": \"object\", \"description\": \"the API's answer; "
	"verdict is admitted for an answer of the API, the gateway's verdict when the answer is "
	"the tollgate kernel's refusal, no_response when nothing usable came back (status null, "
	"error says why); at most 5 s, no redirects followed, the body cut at 64 KiB\", "
	"\"properties\": {"
	"\"object\": {\"const\": \"sandbox_response\"}, \"api_id\": {\"$ref\": "
	"\"#/components/schemas/Id\"}, \"method\": {\"type\": \"string\"},"
	"\"url\": {\"type\": \"string\"}, \"status\": {\"type\": [\"integer\", \"null\"]},"
	"\"headers\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"}, "
	"\"description\": \"names in lower case; repeated ones joined with comma\"},"
	"\"headers_truncated\": {\"type\": \"boolean\"}, \"body\": {\"type\": \"string\", "
	"\"description\": \"UTF-8 text; invalid bytes become U+FFFD\"},"
	"\"body_truncated\": {\"type\": \"boolean\"}, \"latency_ms\": {\"type\": \"number\"},"
	"\"verdict\": {\"enum\": [\"admitted\", \"missing_key\", \"unknown_key\", "
	"\"revoked_key\", \"suspended\", \"forbidden_api\", \"over_limit\", "
	"\"quota_exhausted\", \"no_response\"]},"
	"\"error\": {\"type\": \"string\"}}}"
	"}";

/* query parameters the routes may name */
static const struct {
	const char *name;
	const char *description;
	const char *schema;
} query_params[] = {
	{ "limit", "how many objects (1 to 100, default 10)",
	  "{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10}" },
	{ "starting_after", "the id of the last object of the previous page",
	  "{\"type\": \"string\", \"pattern\": \"^[1-9][0-9]*$\"}" },
	{ "state", "only alerts in this state", "{\"enum\": [\"open\", \"resolved\"]}" },
	{ "from", "start of the range, RFC 3339 (inclusive; default: 24 hours before to)",
	  "{\"type\": \"string\", \"format\": \"date-time\"}" },
	{ "to", "end of the range, RFC 3339 (exclusive; default: now)",
	  "{\"type\": \"string\", \"format\": \"date-time\"}" },
	{ "granularity", "bucket size (default hour)",
	  "{\"enum\": [\"minute\", \"hour\", \"day\"], \"default\": \"hour\"}" },
	{ "api_id", "only this API", "{\"type\": \"string\", \"pattern\": \"^[1-9][0-9]*$\"}" },
	{ "window", "SLA window in seconds, a multiple of 60 (default: the granularity's step)",
	  "{\"type\": \"integer\", \"minimum\": 60, \"multipleOf\": 60}" },
};

static json_t *ref(const char *schema)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "#/components/schemas/%s", schema);
	return json_pack("{s:s}", "$ref", buf);
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *error_response(const char *description)
{
	return json_pack("{s:s, s:o}", "description", description, "content",
			 json_content(ref("Error")));
}

/* a list schema "FooList" for "Foo" into @schemas, if not there yet */
static int list_schema(json_t *schemas, const char *name)
{
	char item[64];
	size_t len = strlen(name);

	if (json_object_get(schemas, name))
		return 0;
	if (len < 5 || len >= sizeof(item) + 4 || strcmp(name + len - 4, "List") != 0)
		return -EINVAL;
	memcpy(item, name, len - 4);
	item[len - 4] = '\0';
	if (!json_object_get(schemas, item))
		return -EINVAL;
	return json_object_set_new(
		schemas, name,
		json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s, s:o}, s:{s:s}}}", "type", "object",
			  "required", "object", "data", "has_more", "properties", "object",
			  "const", "list", "data", "type", "array", "items", ref(item),
			  "has_more", "type", "boolean"));
}

static int add_query_params(json_t *params, const char *query)
{
	char names[256], *save = NULL, *name;

	snprintf(names, sizeof(names), "%s", query);
	for (name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		size_t i;
		json_t *schema;

		for (i = 0; i < sizeof(query_params) / sizeof(query_params[0]); i++)
			if (!strcmp(query_params[i].name, name))
				break;
		if (i == sizeof(query_params) / sizeof(query_params[0]))
			return -EINVAL;
		schema = json_loads(query_params[i].schema, 0, NULL);
		if (!schema)
			return -ENOMEM;
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name,
							"in", "query", "required", 0,
							"description", query_params[i].description,
							"schema", schema));
	}
	return 0;
}

static json_t *security(enum route_access access)
{
	switch (access) {
	case ROUTE_ANYONE:
		return json_pack("[{}, {s:[]}, {s:[]}]", "adminToken", "apiKey");
	case ROUTE_ADMIN:
		return json_pack("[{s:[]}]", "adminToken");
	case ROUTE_SELF:
		return json_pack("[{s:[]}]", "apiKey");
	default:
		return json_pack("[{s:[]}, {s:[]}]", "adminToken", "apiKey");
	}
}

static int add_operation(json_t *paths, json_t *schemas, const struct route *rt)
{
	json_t *item = json_object_get(paths, rt->pattern), *op, *params, *responses;
	char opid[160], method[8], status[8], *o = opid;
	const char *p;
	int r = 0;

	if (!item) {
		item = json_object();
		json_object_set_new(paths, rt->pattern, item);
	}
	for (size_t i = 0; rt->method[i] && i < sizeof(method) - 1; i++)
		method[i] = (char)(rt->method[i] | 0x20), method[i + 1] = '\0';
	o += snprintf(opid, sizeof(opid), "%s", method);
	for (p = rt->pattern; *p && o < opid + sizeof(opid) - 2; p++)
		*o++ = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
	*o = '\0';

	params = json_array();
	/* path parameters, in order */
	for (p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		char name[32];

		if (!end || (size_t)(end - p) > sizeof(name))
			return -EINVAL;
		snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in",
							"path", "required", 1, "schema",
							ref("Id")));
	}
	if (rt->query && (r = add_query_params(params, rt->query)))
		return r;
	if (!strcmp(rt->method, "POST"))
		json_array_append_new(
			params,
			json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:i}}", "name", "Idempotency-Key",
				  "in", "header", "required", 0, "description",
				  "the same key and request within 24 hours replay the first "
				  "answer; another request with it is a 409",
				  "schema", "type", "string", "maxLength", 255));

	responses = json_object();
	snprintf(status, sizeof(status), "%u", rt->status);
	if (!strcmp(rt->response_schema, "text")) {
		json_object_set_new(responses, status,
				    json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "OK",
					      "content", "text/plain", "schema", "type", "string"));
	} else {
		if (!json_object_get(schemas, rt->response_schema) &&
		    (r = list_schema(schemas, rt->response_schema)))
			return r;
		json_object_set_new(responses, status,
				    json_pack("{s:s, s:o}", "description", "OK", "content",
					      json_content(ref(rt->response_schema))));
	}
	json_object_set_new(responses, "400", error_response("invalid_request: a bad parameter"));
	json_object_set_new(responses, "401", error_response("authentication: bad credentials"));
	json_object_set_new(responses, "404",
			    error_response("not_found: no such object, or not the caller's"));
	if (rt->request_schema) {
		json_object_set_new(responses, "409", error_response("conflict"));
		json_object_set_new(responses, "413",
				    error_response("invalid_request: the body is over 1 MiB"));
	}
	json_object_set_new(responses, "429",
			    error_response("rate_limited: too many failed authentications (or, for "
					   "the sandbox, calls)"));
	json_object_set_new(responses, "500", error_response("internal"));
	json_object_set_new(responses, "503",
			    error_response("internal: a dependency (Postgres; Redis for realtime) "
					   "is unavailable; see Retry-After"));

	op = json_pack("{s:s, s:s, s:[s], s:o, s:o, s:o}", "operationId", opid, "summary",
		       rt->summary, "tags", rt->tag, "parameters", params, "responses", responses,
		       "security", security(rt->access));
	if (!op)
		return -ENOMEM;
	json_object_set_new(op, "x-tollgate-access", json_string(routes_access_name(rt->access)));
	if (rt->request_schema) {
		if (!json_object_get(schemas, rt->request_schema)) {
			json_decref(op);
			return -EINVAL;
		}
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b, s:o}", "required",
					      strcmp(rt->request_schema, "RotateInput") != 0,
					      "content", json_content(ref(rt->request_schema))));
	}
	json_object_set_new(item, method, op);
	return 0;
}

int openapi_document(char **ret, size_t *ret_len)
{
	json_error_t jerr;
	json_t *schemas = json_loads(components, 0, &jerr), *paths = json_object(), *doc;
	char *s;
	int r = 0;

	if (!schemas) {
		log_error("openapi: components: %s (column %d)", jerr.text, jerr.column);
		json_decref(paths);
		return -EINVAL;
	}
	for (size_t i = 0; i < n_routes && !r; i++) {
		r = add_operation(paths, schemas, &routes[i]);
		if (r)
			log_error("openapi: route %s %s names an unknown parameter or schema",
				  routes[i].method, routes[i].pattern);
	}
	doc = json_pack(
		"{s:s, s:{s:s, s:s, s:s}, s:s, s:o, s:{s:o, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, "
		"s:s, "
		"s:s}}}}",
		"openapi", "3.1.0", "info", "title", "tollgate dashboard API", "version", "1",
		"description",
		"The developer portal's backend and the provider's admin API (DESIGN §7). Errors "
		"are {\"error\": {\"type\", \"message\", \"param\"}}; lists take limit and "
		"starting_after and answer {\"object\": \"list\", \"data\", \"has_more\"}; the "
		"analytics series (usage, endpoints, geo) use the same list shape, never paged "
		"(has_more false), with the range they cover; ids "
		"are decimal strings and times RFC 3339 UTC.",
		"jsonSchemaDialect", "https://spec.openapis.org/oas/3.1/dialect/base", "paths",
		paths, "components", "schemas", schemas, "securitySchemes", "adminToken", "type",
		"http", "scheme", "bearer", "description", "the admin token, or a consumer's key",
		"apiKey", "type", "apiKey", "in", "header", "name", "X-API-Key", "description",
		"a consumer's own key (tg_...)");
	if (r || !doc) {
		json_decref(doc);
		return r ? r : -ENOMEM;
	}
	s = json_dumps(doc, REPLY_JSON_FLAGS);
	json_decref(doc);
	if (!s)
		return -ENOMEM;
	*ret = s;
	*ret_len = strlen(s);
	return 0;
}
