/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * catalog.h - the API catalog (DESIGN §7): /v1/apis. An API is {id, name,
 * version, base_path, description, sandbox_url, deprecated_at, sunset_at,
 * sla_uptime, sla_p99_ms, has_openapi, created_at}; publishing one also
 * publishes a route from its base_path to it (routes table, route:{id} in
 * Redis through the outbox), deprecated while deprecated_at is set.
 * Handlers as request.h describes.
 */
#ifndef TG_API_CATALOG_H
#define TG_API_CATALOG_H

#include "dashboard-api/request.h"

int catalog_list(struct request *req, struct reply *rep);
int catalog_get(struct request *req, struct reply *rep);
int catalog_create(struct request *req, struct reply *rep);
int catalog_update(struct request *req, struct reply *rep);
int catalog_openapi(struct request *req, struct reply *rep);

#endif /* TG_API_CATALOG_H */
