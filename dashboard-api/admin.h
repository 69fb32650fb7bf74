/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin.h - the operator's lists: GET /v1/alerts?state=open|resolved (SLA
 * and reconciliation alerts, billing/sql/004) and GET /v1/audit (every
 * change made through the API: {id, actor, action, target, details,
 * remote_addr, at}). Handlers as request.h describes.
 */
#ifndef TG_API_ADMIN_H
#define TG_API_ADMIN_H

#include "dashboard-api/request.h"

int admin_alerts(struct request *req, struct reply *rep);
int admin_audit(struct request *req, struct reply *rep);

#endif /* TG_API_ADMIN_H */
