/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "agent/geoip.h"

/* Direct-mapped: a client sends many requests in a row, and a hit costs a
 * hash and a compare where libmaxminddb walks up to 128 tree nodes and
 * decodes two map levels. */
#define GEOIP_CACHE_SLOTS 1024

struct geoip_cache_slot {
	uint8_t addr[16];
	char country[2];
	bool used;
};

struct geoip {
	MMDB_s mmdb;
	struct geoip_cache_slot cache[GEOIP_CACHE_SLOTS];
};

/* MMDB_aget_value() walks a path array without copying it (MMDB_get_value()
 * would allocate one per call) */
static const char *const country_path[] = { "country", "iso_code", NULL };

int geoip_open(const char *path, struct geoip **ret, char *err, size_t err_len)
{
	struct geoip *g = calloc(1, sizeof(*g));
	int status, r;

	if (!g)
		return -ENOMEM;
	errno = 0;
	status = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);
	if (status != MMDB_SUCCESS) {
		if (status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) {
			r = errno ? -errno : -EIO;
			snprintf(err, err_len, "agent.geoip_db: cannot open '%s': %s", path,
				 strerror(-r));
		} else if (status == MMDB_OUT_OF_MEMORY_ERROR) {
			r = -ENOMEM;
			snprintf(err, err_len, "agent.geoip_db: '%s': out of memory", path);
		} else {
			r = -EINVAL;
			snprintf(err, err_len,
				 "agent.geoip_db: '%s' is not a MaxMind DB (.mmdb, e.g. "
				 "GeoLite2-Country.mmdb): %s",
				 path, MMDB_strerror(status));
		}
		free(g);
		return r;
	}
	if (g->mmdb.metadata.ip_version != 4 && g->mmdb.metadata.ip_version != 6) {
		snprintf(err, err_len, "agent.geoip_db: '%s': ip_version %u is neither 4 nor 6",
			 path, g->mmdb.metadata.ip_version);
		MMDB_close(&g->mmdb);
		free(g);
		return -EINVAL;
	}
	*ret = g;
	return 0;
}

static bool is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static void lookup(const MMDB_s *mmdb, const uint8_t addr[16], char ret_country[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *sa;
	MMDB_lookup_result_s res;
	MMDB_entry_data_s data;
	int mmdb_error;

	memcpy(ret_country, "--", 2);
	if (is_v4_mapped(addr)) {
		/* IPv4 networks of an IPv6 database sit at ::/96 (MaxMind's
		 * layout); libmaxminddb goes there for an AF_INET address */
		memcpy(&sin.sin_addr, addr + 12, 4);
		sa = (const struct sockaddr *)&sin;
	} else {
		memcpy(&sin6.sin6_addr, addr, 16);
		sa = (const struct sockaddr *)&sin6;
	}
	res = MMDB_lookup_sockaddr(mmdb, sa, &mmdb_error);
	if (mmdb_error != MMDB_SUCCESS || !res.found_entry)
		return;
	if (MMDB_aget_value(&res.entry, &data, country_path) != MMDB_SUCCESS || !data.has_data ||
	    data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
		return;
	if (data.utf8_string[0] < 'A' || data.utf8_string[0] > 'Z' || data.utf8_string[1] < 'A' ||
	    data.utf8_string[1] > 'Z')
		return;
	memcpy(ret_country, data.utf8_string, 2);
}

void geoip_country(struct geoip *g, const uint8_t addr[16], char ret_country[2])
{
	struct geoip_cache_slot *slot;
	uint32_t h = 2166136261u; /* FNV-1a */

	if (!g) {
		memcpy(ret_country, "--", 2);
		return;
	}
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	slot = &g->cache[(h ^ (h >> 16)) % GEOIP_CACHE_SLOTS];
	if (!slot->used || memcmp(slot->addr, addr, 16) != 0) {
		lookup(&g->mmdb, addr, slot->country);
		memcpy(slot->addr, addr, 16);
		slot->used = true;
	}
	memcpy(ret_country, slot->country, 2);
}

const char *geoip_database_type(const struct geoip *g)
{
	return g->mmdb.metadata.database_type ? g->mmdb.metadata.database_type : "";
}

uint64_t geoip_build_epoch(const struct geoip *g)
{
	return g->mmdb.metadata.build_epoch;
}

void geoip_free(struct geoip *g)
{
	if (!g)
		return;
	MMDB_close(&g->mmdb);
	free(g);
}
