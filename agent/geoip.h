/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * geoip.h - the country of a client address, from a MaxMind DB
 * (agent.geoip_db, e.g. GeoLite2-Country.mmdb; DESIGN §4, §5).
 *
 * geoip_open() maps the database file once (libmaxminddb); geoip_country()
 * reads country.iso_code of the network holding the address and allocates
 * nothing, so it runs for every drained event. A small cache of recent
 * addresses sits in front of libmaxminddb. Not thread-safe: one drain uses
 * one handle.
 *
 * A database updated in place (geoipupdate renames the new file over the old
 * one) is picked up by opening it again and freeing the old handle; the
 * agent does that on SIGHUP. The old mapping stays valid until then.
 */
#ifndef TG_AGENT_GEOIP_H
#define TG_AGENT_GEOIP_H

#include <stddef.h>
#include <stdint.h>

struct geoip;

/*
 * geoip_open() - open the MaxMind DB at path into *ret (owned by the caller:
 * geoip_free()). Returns 0, or -errno with "agent.geoip_db: ..." naming the
 * path in err: -ENOENT and the like when the file cannot be read, -EINVAL
 * when it is not a MaxMind DB (version 2) or not an IPv4/IPv6 database,
 * -ENOMEM. *ret is untouched on failure.
 */
int geoip_open(const char *path, struct geoip **ret, char *err, size_t err_len);

/*
 * geoip_country() - the ISO 3166-1 alpha-2 code of addr (16 bytes, network
 * order; IPv4 v4-mapped, ::ffff:a.b.c.d, as events carry it, and looked up
 * as IPv4) into ret_country (2 characters, no NUL). "--" when g is NULL, the
 * address is in no network of the database, or its entry has no two-letter
 * A-Z country.iso_code (an anonymous proxy, a continent-only entry).
 */
void geoip_country(struct geoip *g, const uint8_t addr[16], char ret_country[2]);

/* geoip_database_type() - the metadata's database_type ("GeoLite2-Country");
 * valid while g is open. */
const char *geoip_database_type(const struct geoip *g);

/* geoip_build_epoch() - when the database was built, Unix seconds. */
uint64_t geoip_build_epoch(const struct geoip *g);

/* geoip_free() - unmap the database; accepts NULL. */
void geoip_free(struct geoip *g);

#endif /* TG_AGENT_GEOIP_H */
