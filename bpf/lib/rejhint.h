/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rejhint.h - the slots of tg_rejhint and what they hold (see tg_rejhint in
 * tollgate.bpf.c): one definition for tg_xdp, the fixtures that check a
 * slot and the bench that fills them.
 *
 * A slot is 0 (never written, or its flow's entry is gone), or holds one
 * flow's tag (TG_REJHINT_ONE: the flow's tag and the time in units of 2^20
 * ns, rounded up), or the time alone in ns, for any flow of the slot.
 * Needs struct tg_flow_key (tollgate_abi.h).
 */
#ifndef TG_BPF_REJHINT_H
#define TG_BPF_REJHINT_H

#define TG_REJHINT_SLOTS 16384
#define TG_REJHINT_ONE (1ULL << 63)
#define TG_REJHINT_TAG_BITS 23
#define TG_REJHINT_TIME_BITS 40
#define TG_REJHINT_UNIT_SHIFT 20

#define TG_REJHINT_TAG_OF(v) (((v) >> TG_REJHINT_TIME_BITS) & ((1U << TG_REJHINT_TAG_BITS) - 1))
#define TG_REJHINT_NS_OF(v) (((v) & ((1ULL << TG_REJHINT_TIME_BITS) - 1)) << TG_REJHINT_UNIT_SHIFT)

/* Flow @fk's slot index, and its tag in *ret_tag: the top bits of one
 * product pick the slot, the next ones make the tag (with the rest of an
 * IPv6 address folded in). */
static __always_inline __u32 tg_rejhint_index(const struct tg_flow_key *fk, __u32 *ret_tag)
{
	const __u32 *a = (const __u32 *)fk->client_addr;
	__u64 h = (__u64)a[3] << 32 | (__u32)fk->client_port << 16 | fk->server_port;
	__u64 x = h * 0x9e3779b97f4a7c15ULL;

	_Static_assert(TG_REJHINT_SLOTS == 1 << 14, "slot = the top 14 bits");
	*ret_tag = ((__u32)(x >> (50 - TG_REJHINT_TAG_BITS)) ^ a[0] ^ a[1] ^ a[2]) &
		   ((1U << TG_REJHINT_TAG_BITS) - 1);
	return x >> 50;
}

/* The value of a slot that is the flow of tag @tag's alone, until @until
 * ns (coarse clock). */
static __always_inline __u64 tg_rejhint_one(__u32 tag, __u64 until)
{
	return TG_REJHINT_ONE | (__u64)tag << TG_REJHINT_TIME_BITS |
	       ((until >> TG_REJHINT_UNIT_SHIFT) + 1);
}

/* Until when slot value @v says a flow of tag @tag may have a live
 * tg_rejects entry (ns, coarse clock), or 0: not at all. */
static __always_inline __u64 tg_rejhint_until(__u64 v, __u32 tag)
{
	if (!(v & TG_REJHINT_ONE))
		return v;
	return TG_REJHINT_TAG_OF(v) == tag ? TG_REJHINT_NS_OF(v) : 0;
}

#endif
