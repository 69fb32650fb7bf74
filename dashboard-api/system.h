/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * system.h - the service routes: GET /healthz (200 when every dependency
 * answers, 503 otherwise, with one check per dependency: postgres, redis),
 * GET /metrics (metrics.h) and GET /openapi.json (openapi.h). Handlers as
 * request.h describes.
 */
#ifndef TG_API_SYSTEM_H
#define TG_API_SYSTEM_H

#include "dashboard-api/request.h"

int system_healthz(struct request *req, struct reply *rep);
int system_metrics(struct request *req, struct reply *rep);
int system_openapi(struct request *req, struct reply *rep);

#endif /* TG_API_SYSTEM_H */
