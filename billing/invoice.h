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

#endif /* TG_BILLING_INVOICE_H */
