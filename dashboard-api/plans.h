/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * plans.h - /v1/plans (DESIGN §7): a plan is {id, name, api_id (null = any),
 * rate_per_sec, burst, monthly_quota, currency, tiers_mode, tiers: [{up_to,
 * unit_price, flat_price}], period_fee, bill_server_errors, created_at}. The
 * pricing fields are read and checked by lib/pricing (errors name the field:
 * "tiers[1].up_to"); a new plan reaches Redis (plan:{id}, tollgate:plans)
 * through the outbox. Handlers as request.h describes.
 */
#ifndef TG_API_PLANS_H
#define TG_API_PLANS_H

#include "dashboard-api/request.h"

int plans_list(struct request *req, struct reply *rep);
int plans_get(struct request *req, struct reply *rep);
int plans_create(struct request *req, struct reply *rep);

#endif /* TG_API_PLANS_H */
