/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bucket.h - token buckets in fixed point (DESIGN §3).
 *
 * Tokens are TG_TOKEN_ONE per request. The clock is read by the caller before
 * the lock; a clock behind the bucket's last refill counts as no time passed,
 * and elapsed time is capped before it is multiplied by the rate. Refill works
 * in whole microseconds and advances last_ns only by the time it credited, so
 * frequent small refills lose nothing to truncation.
 */
#ifndef TG_BPF_BUCKET_H
#define TG_BPF_BUCKET_H

#define TG_NSEC_PER_USEC 1000ULL
#define TG_USEC_PER_SEC 1000000ULL

/* tg_refill() - credit tokens for the time since *last_ns; call under the lock. */
static __always_inline void tg_refill(__u64 *tokens_fp, __u64 *last_ns, __u64 now, __u64 rate_fp,
				      __u64 burst_fp)
{
	__u64 elapsed, us, add, t;

	if (now <= *last_ns)
		return;
	elapsed = now - *last_ns;
	if (elapsed >= TG_ELAPSED_CAP_NS) {
		*tokens_fp = burst_fp;
		*last_ns = now;
		return;
	}
	us = elapsed / TG_NSEC_PER_USEC;
	/* the same sum in both branches; under a second (a bucket in use)
	 * its first term is zero, and two of the four divisions go, under
	 * the lock of every admitted request */
	if (us < TG_USEC_PER_SEC)
		add = us * rate_fp / TG_USEC_PER_SEC;
	else
		add = (us / TG_USEC_PER_SEC) * rate_fp +
		      (us % TG_USEC_PER_SEC) * rate_fp / TG_USEC_PER_SEC;
	if (!add)
		return;
	t = *tokens_fp + add;
	*tokens_fp = t > burst_fp ? burst_fp : t;
	*last_ns += us * TG_NSEC_PER_USEC;
}

/*
 * tg_bucket_take() - take one request's token from b under plan's rules.
 * Returns TG_V_ADMITTED, TG_V_OVER_LIMIT or TG_V_QUOTA_EXHAUSTED; on
 * over_limit, *ret_wait_s is the whole seconds until a token is back.
 */
static __always_inline __u32 tg_bucket_take(struct tg_bucket *b, const struct tg_plan *plan,
					    __u64 now, __u32 *ret_wait_s)
{
	__u32 verdict = TG_V_OVER_LIMIT;
	__u64 missing = 0;

	bpf_spin_lock(&b->lock);
	if (b->flags & TG_BUCKET_QUOTA_EXHAUSTED) {
		verdict = TG_V_QUOTA_EXHAUSTED;
	} else if (plan->flags & TG_PLAN_GLOBAL) {
		if (b->granted_total > b->consumed_total)
			verdict = TG_V_ADMITTED;
	} else {
		tg_refill(&b->tokens_fp, &b->last_ns, now, plan->rate_fp, plan->burst_fp);
		if (b->tokens_fp >= TG_TOKEN_ONE) {
			b->tokens_fp -= TG_TOKEN_ONE;
			verdict = TG_V_ADMITTED;
		} else {
			missing = TG_TOKEN_ONE - b->tokens_fp;
		}
	}
	if (verdict == TG_V_ADMITTED)
		b->consumed_total++;
	bpf_spin_unlock(&b->lock);

	if (verdict == TG_V_OVER_LIMIT)
		*ret_wait_s = plan->rate_fp && missing ? (missing + plan->rate_fp - 1) / plan->rate_fp : 1;
	else if (verdict == TG_V_QUOTA_EXHAUSTED)
		*ret_wait_s = b->quota_retry_s ? b->quota_retry_s : 3600;
	return verdict;
}

/* tg_bucket_charge() - charge one request that was already served
 * (unattributed responses): the bucket may go empty, never negative. */
static __always_inline void tg_bucket_charge(struct tg_bucket *b, const struct tg_plan *plan, __u64 now)
{
	bpf_spin_lock(&b->lock);
	if (!(plan->flags & TG_PLAN_GLOBAL)) {
		tg_refill(&b->tokens_fp, &b->last_ns, now, plan->rate_fp, plan->burst_fp);
		b->tokens_fp = b->tokens_fp >= TG_TOKEN_ONE ? b->tokens_fp - TG_TOKEN_ONE : 0;
	}
	b->consumed_total++;
	bpf_spin_unlock(&b->lock);
}

/* tg_bucket_refund() - give back the token tg_bucket_take() took for a
 * request that is charged later instead (see tg_admit_charge). */
static __always_inline void tg_bucket_refund(struct tg_bucket *b, const struct tg_plan *plan)
{
	bpf_spin_lock(&b->lock);
	if (!(plan->flags & TG_PLAN_GLOBAL))
		b->tokens_fp = b->tokens_fp + TG_TOKEN_ONE < plan->burst_fp ?
				       b->tokens_fp + TG_TOKEN_ONE :
				       plan->burst_fp;
	if (b->consumed_total)
		b->consumed_total--;
	bpf_spin_unlock(&b->lock);
}

#endif /* TG_BPF_BUCKET_H */
