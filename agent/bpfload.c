/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "agent/bpfload.h"
#include "agent/mapwalk.h"
#include "tollgate.skel.h"

#define BPF_FS_MAGIC_ 0xcafe4a11
#define LINK_SOCKOPS "link_sockops"
#define PROG_SKMSG "prog_skmsg"
#define PROG_SKB_PASS "prog_skb_pass"

const char *const bpfload_stat_names[TG_S_COUNT] = {
	[TG_S_PACKETS] = "packets",
	[TG_S_API_SEGMENTS] = "api_segments",
	[TG_S_REQUESTS] = "requests",
	[TG_S_NON_REQUEST] = "non_request",
	[TG_S_PARSE_FAIL] = "parse_failures",
	[TG_S_FRAGMENTS] = "fragments",
	[TG_S_RETRANSMITS] = "retransmits",
	[TG_S_REJECT_TX] = "rejects_sent",
	[TG_S_RESETS] = "server_resets",
	[TG_S_SRC_LIMITED] = "source_limited",
	[TG_S_RINGBUF_FULL] = "ringbuf_full",
	[TG_S_MAP_FULL] = "map_full",
	[TG_S_PENDING_FULL] = "pending_full",
	[TG_S_RESPONSES] = "responses",
	[TG_S_UNATTRIBUTED] = "unattributed",
	[TG_S_SOCKETS] = "sockets",
	[TG_S_NO_FLOW] = "responses_without_flow",
	[TG_S_CUT] = "connections_cut",
	[TG_S_PROXY_REQUESTS] = "proxied_requests",
	[TG_S_PROXY_REFUSED] = "proxied_refused",
	[TG_S_PROXY_CORKED] = "proxied_heads_held",
	[TG_S_SCRATCH_BUSY] = "scratch_busy",
	[TG_S_FLOWS_LOST] = "flows_lost",
	[TG_S_RESP_HELD] = "response_heads_held",
	[TG_S_CHUNK_GAPS] = "chunk_gaps_dropped",
};

const char *const bpfload_pinned_maps[] = {
	"tg_meta",     "tg_secrets",  "tg_keys",     "tg_plans",      "tg_buckets", "tg_routes",
	"tg_ports",    "tg_flows",    "tg_counters", "tg_events",     "tg_stats",   "tg_rejects",
	"tg_srclimit", "tg_sockhash", "tg_refusals", "tg_proxysocks", "tg_gen",     "tg_rejhint",
	"tg_xdp_ports", "tg_seqhint", NULL,
};

static int fail(char *err, size_t err_len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (r < 0 && n < err_len)
		snprintf(err + n, err_len - n, ": %s", strerror(-r));
	return r;
}

/* libxdp returns NULL or an encoded error for "nothing there". */
static bool xdp_bad(const void *p)
{
	return !p || libxdp_get_error(p);
}

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Mount bpffs at /sys/fs/bpf when nothing is there yet, then make pin_dir. */
static int ensure_pin_dir(const char *pin_dir)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && (unsigned long)st.f_type != BPF_FS_MAGIC_ &&
	    strncmp(pin_dir, "/sys/fs/bpf/", 12) == 0) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
			return -errno;
	}
	if (mkdir(pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (statfs(pin_dir, &st) < 0)
		return -errno;
	if ((unsigned long)st.f_type != BPF_FS_MAGIC_)
		return -ENOTSUP;
	return 0;
}

int bpfload_pinned_fd(const struct config *cfg, const char *name)
{
	char path[CONFIG_PATH_MAX + 32];
	int fd;

	if (pin_path(path, sizeof(path), cfg->agent.pin_dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static void remove_pins(const char *pin_dir)
{
	char path[CONFIG_PATH_MAX + 32];

	for (int i = 0; bpfload_pinned_maps[i]; i++)
		if (!pin_path(path, sizeof(path), pin_dir, bpfload_pinned_maps[i]))
			unlink(path);
	if (!pin_path(path, sizeof(path), pin_dir, PROG_SKMSG))
		unlink(path);
	if (!pin_path(path, sizeof(path), pin_dir, PROG_SKB_PASS))
		unlink(path);
}

/*
 * The ABI version before ours, and the maps whose layout changed since: an
 * agent that finds pins of that version makes those anew and adopts the
 * rest, so counters, buckets, refusals and undrained events carry on
 * under the same pin generation (pins of any other version are all
 * removed). 4: tg_flow follows chunked request bodies across segments,
 * tg_seqhint's slots say which connections have one, and tg_stats counts
 * the segments dropped past one's framing (its counts start over); the requests
 * pending on open connections lose their events, as when the LRU evicts a
 * flow (flows_lost).
 */
#define ABI_PREVIOUS 3
static const char *const changed_since_previous[] = { "tg_flows", "tg_seqhint", "tg_stats", NULL };

/* Take pins of ABI_PREVIOUS for ours: drop those of changed_since_previous,
 * then mark tg_meta with our version. */
static int upgrade_pins(const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 32];
	struct tg_meta meta = {};
	uint32_t zero = 0;
	int fd, r = 0;

	for (int i = 0; changed_since_previous[i]; i++)
		if (!pin_path(path, sizeof(path), cfg->agent.pin_dir, changed_since_previous[i]) &&
		    unlink(path) < 0 && errno != ENOENT)
			return -errno;
	fd = bpfload_pinned_fd(cfg, "tg_meta");
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &meta) < 0)
		r = -errno;
	meta.abi_version = TG_ABI_VERSION;
	if (!r && bpf_map_update_elem(fd, &zero, &meta, BPF_EXIST) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The ABI version of existing pins: 0 if there are none. */
static uint32_t pinned_abi_version(const struct config *cfg, uint64_t *ret_generation)
{
	struct tg_meta meta = {};
	uint32_t zero = 0;
	int fd = bpfload_pinned_fd(cfg, "tg_meta");

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &meta) < 0)
		meta.abi_version = UINT32_MAX;
	close(fd);
	*ret_generation = meta.pin_generation;
	return meta.abi_version;
}

/* An existing pin keeps its size: a changed size in the config takes effect
 * after `tollgatectl detach`, never by dropping counters silently. */
static void adopt_pinned_size(const struct config *cfg, struct bpf_map *map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpfload_pinned_fd(cfg, bpf_map__name(map));

	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.max_entries)
		bpf_map__set_max_entries(map, info.max_entries);
	close(fd);
}

static bool legacy_tg_xdp_attached(const struct config *cfg)
{
	for (int i = 0; i < cfg->agent.n_interfaces; i++) {
		int ifindex = if_nametoindex(cfg->agent.interfaces[i]);
		struct xdp_multiprog *mp;
		bool ours = false;

		if (!ifindex)
			continue;
		mp = xdp_multiprog__get_from_ifindex(ifindex);
		if (xdp_bad(mp))
			continue;
		if (xdp_multiprog__is_legacy(mp) && xdp_multiprog__main_prog(mp) &&
		    strcmp(xdp_program__name(xdp_multiprog__main_prog(mp)), "tg_xdp") == 0)
			ours = true;
		xdp_multiprog__close(mp);
		if (ours)
			return true;
	}
	return false;
}

/* Whether the running kernel is Linux major.minor or later. */
static bool kernel_at_least(unsigned major, unsigned minor)
{
	struct utsname u;
	unsigned ma = 0, mi = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/*
 * Whether sk_msg may hold the rest of a split send (tg_rest_hold): on Linux
 * 6.13 or later, where bpf_msg_pull_data() resets a message's write
 * position. TOLLGATE_REST_HOLD=0 or 1 in the environment overrides the
 * kernel version, for kernels that have the fix backported or a version
 * that says otherwise.
 */
static int rest_hold(bool *ret_hold)
{
	const char *env = getenv("TOLLGATE_REST_HOLD");

	if (!env || !*env) {
		*ret_hold = kernel_at_least(6, 13);
		return 0;
	}
	if (strcmp(env, "0") != 0 && strcmp(env, "1") != 0)
		return -EINVAL;
	*ret_hold = env[0] == '1';
	return 0;
}

static int load_object(struct bpfload *bl, const struct config *cfg, char *err, size_t err_len)
{
	struct tollgate *skel = bl->skel;
	struct bpf_map *map;
	char path[CONFIG_PATH_MAX + 32];
	uint32_t bits = TG_KEYCACHE_BITS_MIN;
	uint64_t wake;
	int r, ncpus = libbpf_num_possible_cpus();

	/* tunables */
	for (int v = 0; v < TG_V_COUNT; v++)
		skel->rodata->tg_actions[v] = cfg->agent.actions[v];
	skel->rodata->tg_source_rate_fp = (uint64_t)llround(cfg->agent.source_rate * TG_TOKEN_ONE);
	skel->rodata->tg_source_burst_fp = (uint64_t)cfg->agent.source_burst << TG_TOKEN_SHIFT;
	skel->rodata->tg_miss_path = cfg->redis.url[0] != '\0';
	if (getrandom((void *)&skel->rodata->tg_seqhint_key, sizeof(skel->rodata->tg_seqhint_key), 0) !=
	    sizeof(skel->rodata->tg_seqhint_key))
		return fail(err, err_len, -errno, "drawing tg_seqhint's key");
	if (rest_hold(&bl->rest_hold) < 0)
		return fail(err, err_len, -EINVAL, "TOLLGATE_REST_HOLD must be 0 or 1, not '%s'",
			    getenv("TOLLGATE_REST_HOLD"));
	skel->rodata->tg_rest_hold = bl->rest_hold;
	/* the kernel wakes the agent at an eighth of the ring, 512 KiB at most */
	wake = (uint64_t)cfg->agent.ringbuf_kb * 1024 / 8;
	skel->rodata->tg_rb_wakeup_bytes = wake < TG_RB_WAKEUP_MAX ? wake : TG_RB_WAKEUP_MAX;
	/* each flow's timer looks four times per unanswered_after, at most
	 * once a second: a request expires between 1 and 1.25 times it */
	skel->rodata->tg_unanswered_ns = (uint64_t)cfg->agent.unanswered_after * 1000000000ULL;
	skel->rodata->tg_flow_timer_ns = skel->rodata->tg_unanswered_ns / 4 > 1000000000ULL ?
						 skel->rodata->tg_unanswered_ns / 4 :
						 1000000000ULL;

	/* sizes from the config; the key cache's slots, a power of two, follow
	 * max_keys (tollgate_abi.h) */
	if (ncpus <= 0)
		return fail(err, err_len, ncpus < 0 ? ncpus : -EINVAL, "counting the possible CPUs");
	while (bits < TG_KEYCACHE_BITS_MAX && (1U << bits) < cfg->agent.max_keys)
		bits++;
	skel->rodata->tg_keycache_bits = bits;
	bpf_map__set_max_entries(skel->maps.tg_keycache, TG_KEYCACHE_ENTRIES(ncpus, bits));
	bpf_map__set_max_entries(skel->maps.tg_keys, cfg->agent.max_keys);
	bpf_map__set_max_entries(skel->maps.tg_plans, cfg->agent.max_plans);
	bpf_map__set_max_entries(skel->maps.tg_buckets, cfg->agent.max_buckets);
	bpf_map__set_max_entries(skel->maps.tg_routes, cfg->agent.max_routes);
	bpf_map__set_max_entries(skel->maps.tg_flows, cfg->agent.max_flows);
	/* twice the flows: past max_flows open connections, tg_flows (LRU)
	 * evicts old connections' flows for the new ones, which still need
	 * a place here, or their responses would go unseen as well; an
	 * entry is allocated only while its socket is open */
	bpf_map__set_max_entries(skel->maps.tg_sockhash, 2 * cfg->agent.max_flows);
	bpf_map__set_max_entries(skel->maps.tg_proxysocks, cfg->agent.max_flows);
	bpf_map__set_max_entries(skel->maps.tg_counters, cfg->agent.max_counters);
	bpf_map__set_max_entries(skel->maps.tg_srclimit, cfg->agent.max_sources);
	bpf_map__set_max_entries(skel->maps.tg_events, cfg->agent.ringbuf_kb * 1024);

	for (int i = 0; bpfload_pinned_maps[i]; i++) {
		map = bpf_object__find_map_by_name(skel->obj, bpfload_pinned_maps[i]);
		if (!map)
			return fail(err, err_len, -ENOENT, "map %s missing from the object",
				    bpfload_pinned_maps[i]);
		if (pin_path(path, sizeof(path), cfg->agent.pin_dir, bpfload_pinned_maps[i]))
			return fail(err, err_len, -ENAMETOOLONG, "agent.pin_dir: too long");
		r = bpf_map__set_pin_path(map, path);
		if (r)
			return fail(err, err_len, r, "pin path %s", path);
		adopt_pinned_size(cfg, map);
	}
	/* answered connections from before a restart still get their RST */
	skel->bss->tg_rejects_used = bl->adopted;
	return 0;
}

static int write_meta(struct bpfload *bl)
{
	struct tg_meta meta = { .abi_version = TG_ABI_VERSION };
	struct timespec ts;
	uint32_t zero = 0;

	if (getrandom(&meta.pin_generation, sizeof(meta.pin_generation), 0) != sizeof(meta.pin_generation))
		return -errno;
	clock_gettime(CLOCK_REALTIME, &ts);
	meta.created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	bl->pin_generation = meta.pin_generation;
	if (bpf_map_update_elem(bpf_map__fd(bl->skel->maps.tg_meta), &zero, &meta, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int bpfload_open_load(const struct config *cfg, struct bpfload **ret, char *err, size_t err_len)
{
	struct bpfload *bl;
	uint32_t abi;
	int r;

	bl = calloc(1, sizeof(*bl));
	if (!bl)
		return fail(err, err_len, -ENOMEM, "out of memory");
	snprintf(bl->pin_dir, sizeof(bl->pin_dir), "%s", cfg->agent.pin_dir);

	r = ensure_pin_dir(cfg->agent.pin_dir);
	if (r) {
		fail(err, err_len, r, "agent.pin_dir: cannot use '%s' (bpffs mounted?)",
		     cfg->agent.pin_dir);
		goto out_free;
	}
	abi = pinned_abi_version(cfg, &bl->pin_generation);
	if (abi == ABI_PREVIOUS) {
		r = upgrade_pins(cfg);
		if (r) {
			fail(err, err_len, r, "cannot take the pins of ABI %u under %s for ABI %u",
			     ABI_PREVIOUS, cfg->agent.pin_dir, TG_ABI_VERSION);
			goto out_free;
		}
		bl->upgraded_from = abi;
		abi = TG_ABI_VERSION;
	}
	if (abi && abi != TG_ABI_VERSION) {
		/* another layout: the old counters cannot be read as ours */
		remove_pins(cfg->agent.pin_dir);
		bl->pin_generation = 0; /* the maps made now get a new one */
		abi = 0;
	}
	bl->adopted = abi == TG_ABI_VERSION;

	bl->skel = tollgate__open();
	if (!bl->skel) {
		r = fail(err, err_len, -errno, "cannot open the BPF object");
		goto out_free;
	}
	r = load_object(bl, cfg, err, err_len);
	if (r)
		goto out_destroy;

	/*
	 * Replacing our own single-program XDP needs the object loaded here so
	 * its fd can go to XDP_FLAGS_REPLACE; a fresh attach lets libxdp load
	 * it (as a dispatcher extension where the kernel allows one).
	 */
	if (legacy_tg_xdp_attached(cfg) || cfg->agent.n_interfaces == 0 ||
	    cfg->agent.mode == CONFIG_MODE_SOCKMAP) {
		r = tollgate__load(bl->skel);
		if (r) {
			r = fail(err, err_len, r, "cannot load the BPF programs");
			goto out_destroy;
		}
		if (!bl->adopted && (r = write_meta(bl)))
			goto out_destroy;
	}
	*ret = bl;
	return 0;

out_destroy:
	tollgate__destroy(bl->skel);
out_free:
	free(bl);
	return r;
}

static bool object_loaded(struct bpfload *bl)
{
	return bpf_program__fd(bl->skel->progs.tg_xdp) >= 0;
}

static const char *mode_name(enum xdp_attach_mode mode)
{
	switch (mode) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "skb";
	case XDP_MODE_HW:
		return "hw";
	default:
		return "unspec";
	}
}

/* Replace the tg_xdp a previous agent left on ifindex, atomically. */
static int xdp_replace(struct bpfload *bl, int ifindex, struct xdp_multiprog *mp)
{
	struct xdp_program *old = xdp_multiprog__main_prog(mp);
	enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = xdp_program__fd(old));
	__u32 flags = XDP_FLAGS_REPLACE;

	flags |= mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	if (bpf_xdp_attach(ifindex, bpf_program__fd(bl->skel->progs.tg_xdp), flags, &opts) < 0)
		return -errno;
	snprintf(bl->xdp_mode, sizeof(bl->xdp_mode), "%s (replaced)", mode_name(mode));
	return 0;
}

static int xdp_attach_one(struct bpfload *bl, const struct config *cfg, int ifindex)
{
	enum xdp_attach_mode modes[2];
	int n = 0, r = -EINVAL;

	switch (cfg->agent.xdp_mode) {
	case CONFIG_XDP_NATIVE:
		modes[n++] = XDP_MODE_NATIVE;
		break;
	case CONFIG_XDP_SKB:
		modes[n++] = XDP_MODE_SKB;
		break;
	default:
		modes[n++] = XDP_MODE_NATIVE;
		modes[n++] = XDP_MODE_SKB;
		break;
	}
	if (!bl->xdp_prog) {
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = bl->skel->obj, .prog_name = "tg_xdp");

		bl->xdp_prog = xdp_program__create(&xopts);
		if (xdp_bad(bl->xdp_prog)) {
			r = bl->xdp_prog ? (int)libxdp_get_error(bl->xdp_prog) : -ENOMEM;
			bl->xdp_prog = NULL;
			return r;
		}
	}
	for (int i = 0; i < n; i++) {
		r = xdp_program__attach(bl->xdp_prog, ifindex, modes[i], 0);
		if (r == 0) {
			struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

			snprintf(bl->xdp_mode, sizeof(bl->xdp_mode), "%s%s", mode_name(modes[i]),
				 !xdp_bad(mp) && xdp_multiprog__is_legacy(mp) ? "" : " (dispatcher)");
			if (!xdp_bad(mp))
				xdp_multiprog__close(mp);
			return 0;
		}
	}
	return r;
}

/* agent.cgroup, or the cgroup v2 root when it is empty. */
static const char *cgroup_path(const struct config *cfg)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct statfs st;

	if (cfg->agent.cgroup[0])
		return cfg->agent.cgroup;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (statfs(roots[i], &st) == 0 && (unsigned long)st.f_type == 0x63677270 /* CGROUP2 */)
			return roots[i];
	return "/sys/fs/cgroup";
}

static int attach_sockops(struct bpfload *bl, const struct config *cfg, char *err, size_t err_len)
{
	char path[CONFIG_PATH_MAX + 32];
	struct bpf_link *link;
	const char *cg = cgroup_path(cfg);
	int cg_fd, r;

	pin_path(path, sizeof(path), cfg->agent.pin_dir, LINK_SOCKOPS);
	link = bpf_link__open(path);
	if (link) {
		r = bpf_link__update_program(link, bl->skel->progs.tg_sockops);
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
		if (r == 0)
			return 0;
		unlink(path); /* the old link is stale: attach anew */
	}
	cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return fail(err, err_len, -errno, "agent.cgroup: cannot open '%s'", cg);
	link = bpf_program__attach_cgroup(bl->skel->progs.tg_sockops, cg_fd);
	close(cg_fd);
	if (!link)
		return fail(err, err_len, -errno, "cannot attach sock_ops to cgroup '%s'", cg);
	r = bpf_link__pin(link, path);
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	if (r)
		return fail(err, err_len, r, "cannot pin the sock_ops link at %s", path);
	return 0;
}

static int attach_skmsg(struct bpfload *bl, const struct config *cfg, char *err, size_t err_len)
{
	char path[CONFIG_PATH_MAX + 32];
	int prog_fd = bpf_program__fd(bl->skel->progs.tg_skmsg);
	int map_fd = bpf_map__fd(bl->skel->maps.tg_sockhash);

	int proxy_fd = bpf_map__fd(bl->skel->maps.tg_proxysocks);
	int pass_fd = bpf_program__fd(bl->skel->progs.tg_skb_pass);

	if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_MSG_VERDICT, 0) < 0)
		return fail(err, err_len, -errno, "cannot attach sk_msg to tg_sockhash");
	if (bpf_prog_attach(prog_fd, proxy_fd, BPF_SK_MSG_VERDICT, 0) < 0)
		return fail(err, err_len, -errno, "cannot attach sk_msg to tg_proxysocks");
	if (bpf_prog_attach(pass_fd, proxy_fd, BPF_SK_SKB_VERDICT, 0) < 0)
		return fail(err, err_len, -errno, "cannot attach sk_skb to tg_proxysocks");
	/* pinned so that `tollgatectl detach` can name them to the kernel */
	pin_path(path, sizeof(path), cfg->agent.pin_dir, PROG_SKMSG);
	unlink(path);
	if (bpf_obj_pin(prog_fd, path) < 0)
		return fail(err, err_len, -errno, "cannot pin %s", path);
	pin_path(path, sizeof(path), cfg->agent.pin_dir, PROG_SKB_PASS);
	unlink(path);
	if (bpf_obj_pin(pass_fd, path) < 0)
		return fail(err, err_len, -errno, "cannot pin %s", path);
	return 0;
}

int bpfload_attach(struct bpfload *bl, const struct config *cfg, char *err, size_t err_len)
{
	int r;

	bl->n_attached = 0;
	if (cfg->agent.mode != CONFIG_MODE_SOCKMAP) {
		for (int i = 0; i < cfg->agent.n_interfaces; i++) {
			const char *name = cfg->agent.interfaces[i];
			int ifindex = if_nametoindex(name);
			struct xdp_multiprog *mp;

			if (!ifindex)
				return fail(err, err_len, -ENODEV, "agent.interfaces: no interface '%s'", name);
			mp = xdp_multiprog__get_from_ifindex(ifindex);
			if (!xdp_bad(mp) && xdp_multiprog__is_legacy(mp) &&
			    xdp_multiprog__main_prog(mp) &&
			    strcmp(xdp_program__name(xdp_multiprog__main_prog(mp)), "tg_xdp") == 0 &&
			    object_loaded(bl))
				r = xdp_replace(bl, ifindex, mp);
			else
				r = xdp_attach_one(bl, cfg, ifindex);
			if (!xdp_bad(mp))
				xdp_multiprog__close(mp);
			if (r)
				return fail(err, err_len, r, "cannot attach XDP to %s", name);
			bl->n_attached++;
		}
	}
	if (!object_loaded(bl))
		return fail(err, err_len, -EINVAL, "BPF object not loaded");
	if (!bl->adopted && !bl->pin_generation && (r = write_meta(bl)))
		return fail(err, err_len, r, "cannot write tg_meta");
	r = attach_sockops(bl, cfg, err, err_len);
	if (r)
		return r;
	return attach_skmsg(bl, cfg, err, err_len);
}

int bpfload_map_fd(struct bpfload *bl, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(bl->skel->obj, name);
	int fd = map ? bpf_map__fd(map) : -1;

	return fd < 0 ? -ENOENT : fd;
}

/* --- feeding the maps ---------------------------------------------------------- */

/* tg_xdp_ports: the bitmap of the ports tg_xdp enforces, beside tg_ports;
 * only the words that change are written. */
static int sync_xdp_ports(struct bpfload *bl, const struct config *cfg, bool xdp)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_xdp_ports);
	__u64 want[TG_XDP_PORTS_WORDS] = { 0 }, have;

	for (int i = 0; xdp && i < cfg->agent.n_api_ports; i++) {
		__u16 port = cfg->agent.api_ports[i];

		want[TG_XDP_PORTS_WORD(port)] |= TG_XDP_PORTS_BIT(port);
	}
	for (__u32 w = 0; w < TG_XDP_PORTS_WORDS; w++) {
		if (bpf_map_lookup_elem(fd, &w, &have) < 0)
			return -errno;
		if (have != want[w] && bpf_map_update_elem(fd, &w, &want[w], BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

static int sync_ports(struct bpfload *bl, const struct config *cfg)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_ports);
	struct tg_port mode = { .mode = 0 };
	__u16 port, next;
	bool has_key;

	if (cfg->agent.mode != CONFIG_MODE_SOCKMAP)
		mode.mode |= TG_PORT_XDP;
	if (cfg->agent.mode != CONFIG_MODE_XDP)
		mode.mode |= TG_PORT_SOCKMAP;
	for (int i = 0; i < cfg->agent.n_api_ports; i++) {
		port = cfg->agent.api_ports[i];
		if (bpf_map_update_elem(fd, &port, &mode, BPF_ANY) < 0)
			return -errno;
	}
	/* drop ports no longer configured */
	has_key = bpf_map_get_next_key(fd, NULL, &next) == 0;
	while (has_key) {
		bool keep = false;

		port = next;
		has_key = bpf_map_get_next_key(fd, &port, &next) == 0;
		for (int i = 0; i < cfg->agent.n_api_ports; i++)
			keep |= cfg->agent.api_ports[i] == port;
		if (!keep)
			bpf_map_delete_elem(fd, &port);
	}
	return sync_xdp_ports(bl, cfg, mode.mode & TG_PORT_XDP);
}

static int sync_plans(struct bpfload *bl, const struct config *cfg)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_plans);
	__u32 id, next;
	bool has_key;

	for (int i = 0; i < cfg->n_plans; i++) {
		const struct config_plan *cp = &cfg->plans[i];
		struct tg_plan plan = {
			.api_id = cp->api_id,
			.flags = cfg->ratelimit.scope == CONFIG_SCOPE_GLOBAL ? TG_PLAN_GLOBAL : 0,
			.rate_fp = (uint64_t)llround(cp->rate_per_sec * TG_TOKEN_ONE),
			.burst_fp = (uint64_t)cp->burst << TG_TOKEN_SHIFT,
			.rate_per_sec = (uint32_t)ceil(cp->rate_per_sec),
			.burst = cp->burst,
			.monthly_quota = cp->monthly_quota,
		};

		id = cp->id;
		if (bpf_map_update_elem(fd, &id, &plan, BPF_ANY) < 0)
			return -errno;
	}
	has_key = bpf_map_get_next_key(fd, NULL, &next) == 0;
	while (has_key) {
		id = next;
		has_key = bpf_map_get_next_key(fd, &id, &next) == 0;
		if (!config_find_plan(cfg, id))
			bpf_map_delete_elem(fd, &id);
	}
	return 0;
}

/* Routes are stored with a trailing '/' so they match at '/' boundaries. */
static void route_key(const char *prefix, struct tg_route_key *rk)
{
	size_t n = strlen(prefix);

	memset(rk, 0, sizeof(*rk));
	memcpy(rk->path, prefix, n);
	if (n == 0 || prefix[n - 1] != '/')
		rk->path[n++] = '/';
	rk->prefixlen = n * 8;
}

static int sync_routes(struct bpfload *bl, const struct config *cfg)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_routes);
	struct tg_route_key rk, next;
	bool has_key;

	for (int i = 0; i < cfg->n_routes; i++) {
		const struct config_route *cr = &cfg->routes[i];
		struct tg_route route = {
			.api_id = cr->api_id,
			.route_id = cr->id,
			.flags = (cr->public_route ? TG_ROUTE_PUBLIC : 0) |
				 (cr->deprecated ? TG_ROUTE_DEPRECATED : 0),
		};

		route_key(cr->prefix, &rk);
		if (bpf_map_update_elem(fd, &rk, &route, BPF_ANY) < 0)
			return -errno;
	}
	has_key = bpf_map_get_next_key(fd, NULL, &next) == 0;
	while (has_key) {
		bool keep = false;

		rk = next;
		has_key = bpf_map_get_next_key(fd, &rk, &next) == 0;
		for (int i = 0; i < cfg->n_routes && !keep; i++) {
			struct tg_route_key want;

			route_key(cfg->routes[i].prefix, &want);
			keep = want.prefixlen == rk.prefixlen &&
			       memcmp(want.path, rk.path, rk.prefixlen / 8) == 0;
		}
		if (!keep) {
			bpf_map_delete_elem(fd, &rk);
			has_key = bpf_map_get_next_key(fd, NULL, &next) == 0;
		}
	}
	return 0;
}

static int sync_secrets(struct bpfload *bl, const struct key_secrets *secrets)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_secrets);

	for (__u32 v = 0; v < TG_SECRET_SLOTS; v++) {
		struct tg_secret s = {};

		if (v >= 1 && secrets->v[v].valid) {
			memcpy(s.key, secrets->v[v].key, sizeof(s.key));
			s.valid = 1;
		}
		if (bpf_map_update_elem(fd, &v, &s, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int bpfload_sync_config(struct bpfload *bl, const struct config *cfg,
			const struct key_secrets *secrets, char *err, size_t err_len)
{
	int r;

	if ((r = sync_secrets(bl, secrets)))
		return fail(err, err_len, r, "cannot update tg_secrets");
	if ((r = sync_plans(bl, cfg)))
		return fail(err, err_len, r, "cannot update tg_plans");
	if ((r = sync_routes(bl, cfg)))
		return fail(err, err_len, r, "cannot update tg_routes");
	if ((r = sync_ports(bl, cfg)))
		return fail(err, err_len, r, "cannot update tg_ports");
	if ((r = bpfload_config_changed(bl)))
		return fail(err, err_len, r, "cannot update tg_gen");
	return 0;
}

int bpfload_config_changed(struct bpfload *bl)
{
	int fd = bpf_map__fd(bl->skel->maps.tg_gen);
	uint32_t zero = 0;
	uint64_t gen;

	/* the agent is the only writer */
	if (bpf_map_lookup_elem(fd, &zero, &gen) < 0)
		return -errno;
	gen++;
	if (bpf_map_update_elem(fd, &zero, &gen, BPF_ANY) < 0)
		return -errno;
	return 0;
}

void bpfload_free(struct bpfload *bl)
{
	if (!bl)
		return;
	/* closing fds detaches nothing: XDP stays on the links (netlink),
	 * sock_ops stays through its pinned link, sk_msg through the map */
	if (bl->xdp_prog)
		xdp_program__close(bl->xdp_prog);
	tollgate__destroy(bl->skel);
	free(bl);
}

int bpfload_bucket_op(struct bpfload *bl, struct tg_bucket_op *op)
{
	/* a syscall program writes its result back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = op, .ctx_size_in = sizeof(*op));

	op->result = 0;
	if (bpf_prog_test_run_opts(bpf_program__fd(bl->skel->progs.tg_bucket_op), &opts) < 0)
		return -errno;
	return op->result;
}

static int count_entry(void *ctx, const void *key, const void *value)
{
	(void)key;
	(void)value;
	++*(unsigned long long *)ctx;
	return 0;
}

unsigned long long bpfload_map_count(int fd, size_t key_size)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char key[256], next[256];
	unsigned long long n = 0;

	if (fd < 0 || key_size > sizeof(key))
		return 0;
	/* hash maps: 256 entries a syscall (mapwalk); a /metrics scrape
	 * counts tg_keys, tg_flows, tg_buckets and tg_counters */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.key_size == key_size &&
	    (info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH) &&
	    !mapwalk(fd, key_size, info.value_size, 0, count_entry, &n))
		return n;
	n = 0;
	if (bpf_map_get_next_key(fd, NULL, next) < 0)
		return 0;
	do {
		memcpy(key, next, key_size);
		n++;
	} while (bpf_map_get_next_key(fd, key, next) == 0);
	return n;
}

int bpfload_read_stats(int stats_fd, unsigned long long ret[TG_S_COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	memset(ret, 0, sizeof(ret[0]) * TG_S_COUNT);
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < TG_S_COUNT; i++)
		if (bpf_map_lookup_elem(stats_fd, &i, vals) == 0)
			for (int c = 0; c < ncpu; c++)
				ret[i] += vals[c];
	free(vals);
	return 0;
}

/* --- detach -------------------------------------------------------------------- */

static int detach_xdp(const char *ifname)
{
	int ifindex = if_nametoindex(ifname), r = 0;
	struct xdp_multiprog *mp;
	struct xdp_program *prog = NULL;

	if (!ifindex)
		return 0;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (xdp_bad(mp))
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		prog = xdp_multiprog__main_prog(mp);
		if (prog && strcmp(xdp_program__name(prog), "tg_xdp") == 0)
			r = xdp_multiprog__detach(mp);
	} else {
		while ((prog = xdp_multiprog__next_prog(prog, mp))) {
			if (strcmp(xdp_program__name(prog), "tg_xdp") == 0) {
				r = xdp_program__detach(prog, ifindex, xdp_multiprog__attach_mode(mp), 0);
				break;
			}
		}
	}
	xdp_multiprog__close(mp);
	return r;
}

int bpfload_detach(const struct config *cfg, char *err, size_t err_len)
{
	char path[CONFIG_PATH_MAX + 32];
	struct bpf_link *link;
	int r, first = 0;

	for (int i = 0; i < cfg->agent.n_interfaces; i++) {
		r = detach_xdp(cfg->agent.interfaces[i]);
		if (r && !first)
			first = fail(err, err_len, r, "cannot detach XDP from %s", cfg->agent.interfaces[i]);
	}
	pin_path(path, sizeof(path), cfg->agent.pin_dir, LINK_SOCKOPS);
	link = bpf_link__open(path);
	if (link) {
		bpf_link__detach(link);
		bpf_link__destroy(link);
		unlink(path);
	}
	{
		int prog_fd = bpfload_pinned_fd(cfg, PROG_SKMSG);
		int pass_fd = bpfload_pinned_fd(cfg, PROG_SKB_PASS);
		int map_fd = bpfload_pinned_fd(cfg, "tg_sockhash");
		int proxy_fd = bpfload_pinned_fd(cfg, "tg_proxysocks");

		if (prog_fd >= 0 && map_fd >= 0)
			bpf_prog_detach2(prog_fd, map_fd, BPF_SK_MSG_VERDICT);
		if (prog_fd >= 0 && proxy_fd >= 0)
			bpf_prog_detach2(prog_fd, proxy_fd, BPF_SK_MSG_VERDICT);
		if (pass_fd >= 0 && proxy_fd >= 0)
			bpf_prog_detach2(pass_fd, proxy_fd, BPF_SK_SKB_VERDICT);
		if (prog_fd >= 0)
			close(prog_fd);
		if (pass_fd >= 0)
			close(pass_fd);
		if (map_fd >= 0)
			close(map_fd);
		if (proxy_fd >= 0)
			close(proxy_fd);
	}
	remove_pins(cfg->agent.pin_dir);
	if (rmdir(cfg->agent.pin_dir) < 0 && errno != ENOENT && !first)
		first = fail(err, err_len, -errno, "cannot remove %s", cfg->agent.pin_dir);
	return first;
}
