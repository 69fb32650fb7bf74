/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * invoices.h - invoices (DESIGN §6, §7). An invoice is {id, consumer_id,
 * period "YYYY-MM", period_start, period_end, currency, status, lines:
 * [{plan_id, kind, description, quantity, unit_price, amount, amount_minor}],
 * total, total_minor, reconciliation}; amounts are decimal strings with
 * exactly the currency's minor digits plus *_minor integers. POST
 * /v1/invoices/run {period} hands a run to billing through Postgres
 * (invoice_runs + NOTIFY tollgate_invoice_run) and answers 202 with the run
 * {id, period, status, ...}; while a run of that period is pending or
 * running, asking again answers that run. Handlers as request.h describes.
 */
#ifndef TG_API_INVOICES_H
#define TG_API_INVOICES_H

#include "dashboard-api/request.h"

int invoices_list(struct request *req, struct reply *rep);
int invoices_get(struct request *req, struct reply *rep);
int invoices_run(struct request *req, struct reply *rep);

#endif /* TG_API_INVOICES_H */
