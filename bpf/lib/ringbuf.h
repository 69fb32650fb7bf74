/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ringbuf.h - when an event wakes the agent.
 *
 * The agent sleeps on tg_events and also drains on a 100 ms tick. One wakeup
 * per event would cost it more than the events themselves, so events are
 * submitted without a wakeup, except the one whose reservation takes the
 * fill past a multiple of the wakeup mark (tg_rb_wakeup_bytes). Waking for
 * every event above the mark instead costs an IPI each (irq_work) for as
 * long as the agent waits for the CPU, which at saturation is the server's.
 */
#ifndef TG_BPF_RINGBUF_H
#define TG_BPF_RINGBUF_H

/*
 * tg_rb_crossed() - whether a record of @rec bytes (with its ring-buffer
 * header), reserved last, took the fill to @avail bytes across a multiple of
 * @mark. Two CPUs whose reservations interleave may both see the fill past
 * the multiple; the next multiple wakes the agent then.
 */
static __always_inline bool tg_rb_crossed(__u64 avail, __u64 rec, __u64 mark)
{
	return mark && avail >= mark && avail >= rec && (avail - rec) / mark != avail / mark;
}

#endif
