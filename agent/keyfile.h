/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keyfile.h - agent.keys_file, the key list of standalone mode (DESIGN §4).
 *
 * One key per line: `digest key_id consumer_id plan_id [state]`, the digest
 * as 32 lowercase hex characters (tollgatectl digest), ids as decimal u32
 * >= 1, state one of active (default), revoked, suspended. Blank lines and
 * lines starting with '#' are ignored.
 */
#ifndef TG_AGENT_KEYFILE_H
#define TG_AGENT_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/tollgate_abi.h"

struct keyfile_entry {
	struct tg_key_digest digest;
	struct tg_key key;
};

struct keyfile {
	struct keyfile_entry *entries;
	size_t n;
};

/*
 * keyfile_load() - parse path into *ret (owned by the caller: keyfile_free).
 * Returns 0; -ENOENT etc. if it cannot be read; -EINVAL with "PATH:LINE:
 * what" in err for a bad line or a digest listed twice.
 */
int keyfile_load(const char *path, struct keyfile *ret, char *err, size_t err_len);

void keyfile_free(struct keyfile *kf);

/* keyfile_sort() - order entries by digest, as keyfile_apply() needs;
 * -EINVAL if a digest is listed twice. */
int keyfile_sort(struct keyfile *kf);

/*
 * keyfile_apply() - make the tg_keys map behind map_fd hold exactly kf's
 * entries (sorted: keyfile_load() and keyfile_sort() do it). Returns the
 * number of keys or -errno (-E2BIG when the map is full: agent.max_keys).
 */
int keyfile_apply(const struct keyfile *kf, int map_fd);

#endif /* TG_AGENT_KEYFILE_H */
