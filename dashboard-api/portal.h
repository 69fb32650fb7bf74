/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * portal.h - the developer portal's static files (DESIGN §7), served by
 * tollgate-api under /portal/: a single-page application of plain ES
 * modules, CSS and SVG (dashboard-api/portal/) that talks only to the REST
 * API of this same server. The files are built into the binary
 * (scripts/gen-portal-embed.sh), so nothing is read from disk and nothing
 * comes from another origin.
 *
 * These are not JSON API routes: they are answered before the routing table
 * (routes.h), need no credentials and no database, and are not in
 * /openapi.json or `tollgate-api routes`.
 *
 *   GET|HEAD /portal          308 to /portal/
 *   GET|HEAD /portal/         index.html
 *   GET|HEAD /portal/NAME     the asset NAME (flat: no sub-directories)
 *   anything else under it    404 (405 with Allow for other methods)
 *
 * Every answer carries the portal's security headers: a Content-Security-Policy
 * allowing only this origin's scripts, styles and connections (no inline
 * script or style; data: images only), X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer and X-Frame-Options: DENY. Assets carry their
 * Content-Type, an ETag (If-None-Match answers 304) and Cache-Control:
 * no-cache, so a browser revalidates and an upgraded binary is seen at once.
 */
#ifndef TG_API_PORTAL_H
#define TG_API_PORTAL_H

#include <stdbool.h>

#include <microhttpd.h>

#define PORTAL_PREFIX "/portal"

/* portal_path() - whether @url is the portal's: /portal or under /portal/. */
bool portal_path(const char *url);

/*
 * portal_reply() - answer @method @url (portal_path() is true) on @conn,
 * with its status in @ret_status. MHD_YES, or MHD_NO when the response could
 * not be queued (out of memory: the connection is closed).
 */
enum MHD_Result portal_reply(struct MHD_Connection *conn, const char *method, const char *url,
			     unsigned int *ret_status);

#endif /* TG_API_PORTAL_H */
