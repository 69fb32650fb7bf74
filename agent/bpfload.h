/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bpfload.h - load, pin, attach and feed the kernel programs (DESIGN §3).
 *
 * Maps are pinned by name under agent.pin_dir. An agent that finds pins of
 * the same ABI version adopts them (counters, buckets, flows and undrained
 * events survive a restart); so it does those of the version before, but
 * for the maps whose layout changed since, which it makes anew; pins of
 * any other ABI version are removed and recreated. Programs are replaced
 * atomically where the kernel allows it: XDP in single-program mode with
 * XDP_FLAGS_REPLACE, sock_ops through a pinned cgroup link, sk_msg by
 * attaching over the old program.
 *
 * Functions return 0 or -errno and log nothing; the error text goes into the
 * caller's buffer.
 */
#ifndef TG_AGENT_BPFLOAD_H
#define TG_AGENT_BPFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/keydigest.h"

struct tollgate;

struct bpfload {
	struct tollgate *skel;
	struct xdp_program *xdp_prog; /* set when libxdp attached it */
	char pin_dir[CONFIG_PATH_MAX];
	bool adopted;		 /* maps came from existing pins */
	uint32_t upgraded_from;	 /* their ABI version, where not ours (0: ours) */
	uint64_t pin_generation;
	char xdp_mode[32];	 /* how XDP ended up attached: "native", "skb", ... */
	int n_attached;
	bool rest_hold; /* sk_msg may hold the rest of a split send (tg_rest_hold) */
};

/* Names of enum tg_stat entries, for metrics and tollgatectl. */
extern const char *const bpfload_stat_names[TG_S_COUNT];

/* Names of the maps that are pinned (all but the per-CPU scratch). */
extern const char *const bpfload_pinned_maps[];

/*
 * bpfload_open_load() - open the skeleton, apply the config (tunables, map
 * sizes), adopt or create the pins and load the programs. For a fresh
 * attach the XDP program is loaded by libxdp in bpfload_attach() instead.
 * On success *ret owns everything; free with bpfload_free().
 */
int bpfload_open_load(const struct config *cfg, struct bpfload **ret, char *err, size_t err_len);

/* bpfload_attach() - attach XDP to every agent.interfaces, sock_ops to the
 * cgroup and sk_msg to the sockhash. */
int bpfload_attach(struct bpfload *bl, const struct config *cfg, char *err, size_t err_len);

/* bpfload_sync_config() - make tg_ports, tg_plans, tg_routes and tg_secrets
 * match the config and secrets (stale entries removed). */
int bpfload_sync_config(struct bpfload *bl, const struct config *cfg,
			const struct key_secrets *secrets, char *err, size_t err_len);

/* bpfload_config_changed() - count a change of tg_keys, tg_plans or
 * tg_secrets in tg_gen, after making it: tg_xdp's per-CPU key cache
 * (tg_keycache) holds entries only of the generation it reads. Every writer
 * of those maps calls it; bpfload_sync_config() does itself. 0 or -errno. */
int bpfload_config_changed(struct bpfload *bl);

/* bpfload_map_fd() - fd of the named map of the loaded object, or -ENOENT. */
int bpfload_map_fd(struct bpfload *bl, const char *name);

/* bpfload_bucket_op() - apply op to its bucket atomically in the kernel
 * (tg_bucket_op): leases and flags never overwrite the kernel's counts.
 * Returns 0, -ENOENT (no such bucket) or -errno. */
int bpfload_bucket_op(struct bpfload *bl, struct tg_bucket_op *op);

/* bpfload_free() - close fds; programs stay attached and maps pinned. */
void bpfload_free(struct bpfload *bl);

/*
 * bpfload_detach() - remove everything a previous agent left: XDP from the
 * configured interfaces, the sock_ops link, the sk_msg program and the pins
 * under agent.pin_dir. Works without a loaded object (tollgatectl detach).
 */
int bpfload_detach(const struct config *cfg, char *err, size_t err_len);

/* bpfload_map_count() - entries of the map behind fd (keys of key_size
 * bytes, at most 256): hash maps read 256 entries a syscall, others by a
 * walk of their keys. */
unsigned long long bpfload_map_count(int fd, size_t key_size);

/* bpfload_read_stats() - tg_stats summed over the CPUs into ret; -errno. */
int bpfload_read_stats(int stats_fd, unsigned long long ret[TG_S_COUNT]);

/* bpfload_pinned_fd() - open a pinned map of agent.pin_dir by name. */
int bpfload_pinned_fd(const struct config *cfg, const char *name);

#endif /* TG_AGENT_BPFLOAD_H */
