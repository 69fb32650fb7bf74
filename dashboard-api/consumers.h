/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * consumers.h - /v1/consumers (DESIGN §7): a consumer is {id, name, email,
 * created_at, suspended}. Handlers as request.h describes.
 */
#ifndef TG_API_CONSUMERS_H
#define TG_API_CONSUMERS_H

#include "dashboard-api/request.h"

int consumers_list(struct request *req, struct reply *rep);
int consumers_get(struct request *req, struct reply *rep);
/*
 * GET /v1/consumers/self - the consumer whose key is calling (ROUTE_SELF): how
 * the developer portal, signed in with a key, learns its consumer id.
 */
int consumers_self(struct request *req, struct reply *rep);
int consumers_create(struct request *req, struct reply *rep);

#endif /* TG_API_CONSUMERS_H */
