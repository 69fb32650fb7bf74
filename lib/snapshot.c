// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "snapshot.h"

int snapshot_to_json(uint32_t host_id, uint64_t pin_generation, uint64_t time_ns,
		     const struct tg_counter_key *key, const struct tg_counters *c, char *buf,
		     size_t size)
{
	time_t secs = (time_t)(time_ns / 1000000000);
	char when[32];
	struct tm tm;
	size_t n = 0;
	int w;

#define SNAP_PUT(...)                                                                              \
	do {                                                                                       \
		w = snprintf(buf + n, size - n, __VA_ARGS__);                                      \
		if (w < 0 || (size_t)w >= size - n)                                                \
			goto out_nospc;                                                            \
		n += (size_t)w;                                                                    \
	} while (0)

	if (size == 0)
		return -ENOSPC;
	if (!gmtime_r(&secs, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm))
		when[0] = '\0';
	SNAP_PUT("{\"host_id\":\"%" PRIu32 "\",\"pin_generation\":\"%016" PRIx64 "\","
		 "\"time\":\"%s.%09" PRIu64 "Z\",\"consumer_id\":\"%" PRIu32 "\",\"api_id\":\"%" PRIu32
		 "\",\"requests\":%llu,\"refused\":{",
		 host_id, pin_generation, when, time_ns % 1000000000, key->consumer_id, key->api_id,
		 (unsigned long long)c->requests);
	for (int v = 1; v < TG_V_COUNT; v++)
		SNAP_PUT("%s\"%s\":%llu", v > 1 ? "," : "", config_verdict_name(v),
			 (unsigned long long)c->refused[v]);
	SNAP_PUT("},\"status\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},",
		 (unsigned long long)c->status_class[1], (unsigned long long)c->status_class[2],
		 (unsigned long long)c->status_class[3], (unsigned long long)c->status_class[4],
		 (unsigned long long)c->status_class[5]);
	SNAP_PUT("\"unanswered\":%llu,\"unattributed\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
		 "\"latency_us_sum\":%llu,\"events_lost\":%llu}",
		 (unsigned long long)c->unanswered, (unsigned long long)c->unattributed,
		 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
		 (unsigned long long)c->latency_us_sum, (unsigned long long)c->events_lost);
#undef SNAP_PUT
	return (int)n;

out_nospc:
	buf[0] = '\0';
	return -ENOSPC;
}

int snapshot_key(uint32_t host_id, uint64_t pin_generation, const struct tg_counter_key *key,
		 char *buf, size_t size)
{
	int w = snprintf(buf, size, "%" PRIu32 ":%016" PRIx64 ":%" PRIu32 ":%" PRIu32, host_id,
			 pin_generation, key->consumer_id, key->api_id);

	return w < 0 || (size_t)w >= size ? -ENOSPC : w;
}
