/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mapwalk.h - every entry of a BPF hash map, read many at a time.
 *
 * The agent walks tg_buckets every lease tick and tg_counters for each
 * snapshot, summary and metrics scrape, on the CPU the API server uses. A
 * walk of get_next_key and lookup is two syscalls an entry; this is one
 * syscall per MAPWALK_BATCH entries (BPF_MAP_LOOKUP_BATCH).
 */
#ifndef TG_AGENT_MAPWALK_H
#define TG_AGENT_MAPWALK_H

#include <stddef.h>
#include <linux/types.h>

#define MAPWALK_BATCH 256

/* Called for each entry; non-zero stops the walk (mapwalk() returns it). */
typedef int (*mapwalk_fn)(void *ctx, const void *key, const void *value);

/*
 * mapwalk() - call @fn for every entry of the hash map @fd (keys of
 * @key_size bytes, values of @value_size), read with @elem_flags
 * (BPF_F_LOCK to read each under its lock). An entry added or removed
 * meanwhile may or may not be seen, as with any walk. Returns 0, what @fn
 * returned to stop, or -errno.
 */
int mapwalk(int fd, size_t key_size, size_t value_size, __u64 elem_flags, mapwalk_fn fn, void *ctx);

#endif
