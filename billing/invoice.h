/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * invoice.h - invoices per (consumer, calendar month UTC) from the rollups,
 * priced with lib/pricing.h (DESIGN §6).
 */
#ifndef TG_BILLING_INVOICE_H
#define TG_BILLING_INVOICE_H

#include <libpq-fe.h>

#include "lib/config.h"

/*
 * invoice_run() - create or update the invoices of @period ("YYYY-MM").
 * Returns the number of invoices written, or -errno (logged).
 */
int invoice_run(PGconn *c, const struct config *cfg, const char *period);

/*
 * invoice_run_requests() - run the pending rows of invoice_runs (inserted by
 * POST /v1/invoices/run, which NOTIFYs INVOICE_CHANNEL), oldest first, each
 * claimed with FOR UPDATE SKIP LOCKED so several members never run one twice;
 * a row left 'running' for 15 minutes by a member that died is taken again.
 * Each ends 'done' with its invoice count or 'failed' with the error.
 * Returns how many requests ran, or -EIO.
 */
int invoice_run_requests(PGconn *c, const struct config *cfg);

#define INVOICE_CHANNEL "tollgate_invoice_run"

#endif /* TG_BILLING_INVOICE_H */
