/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * invoice.h - invoices per (consumer, calendar month UTC) from the rollups,
 * priced with lib/pricing.h (DESIGN §6).
 */
#ifndef TG_BILLING_INVOICE_H
#define TG_BILLING_INVOICE_H

#include <time.h>

#include <libpq-fe.h>

#include "lib/config.h"
#include "lib/pricing.h"

#define INVOICE_MAX_LINES 64 /* per invoice: plans x tiers, fees and adjustments */

/* an invoice's lines as invoice_run() would write them */
struct invoice_preview {
	bool priced; /* some plan could be priced: currency and lines are set */
	struct currency currency;
	struct invoice_line lines[INVOICE_MAX_LINES];
	size_t n_lines;
	int64_t total_minor;
};

/* a calendar month UTC, [start, end) */
struct invoice_period {
	int year, month;
	unsigned int days;  /* in the month */
	char date[24];	    /* "YYYY-MM-01", the invoices.period value */
	char start[48];	    /* "YYYY-MM-01 00:00:00+00" */
	char end[48];	    /* the next month's start */
	time_t end_time;
};

/* invoice_period_parse() - "YYYY-MM" (2000..9999, 01..12). 0 or -EINVAL. */
int invoice_period_parse(const char *period, struct invoice_period *ret);

/*
 * invoice_run() - create or update the invoices of @period ("YYYY-MM").
 * Returns the number of invoices written, or -errno (logged).
 */
int invoice_run(PGconn *c, const struct config *cfg, const char *period);

/*
 * invoice_preview() - the lines @consumer_id's invoice for @period would have
 * if invoice_run() ran now (the billable rule, lib/pricing, the adjustments it
 * would charge), read without locking and without writing: the dashboard's
 * upcoming invoice. @ret->priced is false when billing would write none.
 * Returns 0, -EINVAL for a bad @period or consumer 0, or -errno.
 */
int invoice_preview(PGconn *c, uint32_t consumer_id, const char *period,
		    struct invoice_preview *ret);

/*
 * invoice_month() - invoice_run(); then, for a month that has ended by @now,
 * reconcile_period() and invoice_run() again, so the invoices whose grace
 * period is over and whose sources agree are finalized at once. Returns
 * invoice_run()'s count, or -errno.
 */
int invoice_month(PGconn *c, const struct config *cfg, const char *period, time_t now);

/*
 * invoice_run_requests() - run the pending rows of invoice_runs (inserted by
 * POST /v1/invoices/run, which NOTIFYs INVOICE_CHANNEL), oldest first, each
 * claimed with FOR UPDATE SKIP LOCKED so several members never run one twice,
 * and run through invoice_month(); a row left 'running' for 15 minutes by a
 * member that died is taken again.
 * Each ends 'done' with its invoice count or 'failed' with the error.
 * Returns how many requests ran, or -EIO.
 */
int invoice_run_requests(PGconn *c, const struct config *cfg);

#define INVOICE_CHANNEL "tollgate_invoice_run"

#endif /* TG_BILLING_INVOICE_H */
