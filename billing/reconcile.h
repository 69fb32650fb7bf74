/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reconcile.h - the three independent counts of a period's admitted requests
 * per consumer and API (DESIGN §6 "Reconciliation"):
 *
 *   postgres  the day rollups (verdict admitted, summary counts included);
 *   redis     the agents' day counters usage:{consumer}:{api}:{YYYYMMDD}
 *             (redis.url; kept 40 days, so older periods have none);
 *   kernel    the tg_counters snapshots of tollgate.counters: per host and
 *             pin generation, the cumulative `requests` at the period's end
 *             minus at its start (the first snapshot at or after each time;
 *             a generation first seen inside the period started at 0).
 *
 * A source that has nothing for the period is reported as null and not
 * compared. A difference above billing.reconcile_tolerance percent of the
 * larger count (and above 1 request) is a mismatch: the consumer's invoice
 * of the period records it, stays a draft (billing/invoice.c), and one
 * 'reconciliation' alert per consumer opens; a later clean run resolves it.
 *
 * The result on the invoice (invoices.reconciliation):
 *   {"status": "ok"|"mismatch", "checked_at": "...Z", "tolerance_pct": 0.5,
 *    "apis": [{"api_id": "1", "postgres": N, "redis": N|null,
 *              "kernel": N|null, "ok": true}]}
 */
#ifndef TG_BILLING_RECONCILE_H
#define TG_BILLING_RECONCILE_H

#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"

/*
 * reconcile_period() - compare the sources for @period ("YYYY-MM", a month
 * that has ended by @now: -EINVAL otherwise) and store the result on each of
 * its invoices. Returns the number of consumers with a mismatch, or -errno
 * (logged). Redis out of reach is not an error: its
 * counts are null and the log says so.
 */
int reconcile_period(PGconn *c, const struct config *cfg, const char *period, time_t now);

#endif /* TG_BILLING_RECONCILE_H */
