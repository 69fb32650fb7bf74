/* SPDX-License-Identifier: BSD-2-Clause */
#include <string.h>

#include "dashboard-api/admin.h"
#include "dashboard-api/db.h"

int admin_alerts(struct request *req, struct reply *rep)
{
	const char *state = request_query(req, "state");
	const char *params[] = { state };

	if (state && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0)
		return reply_error(rep, 400, "invalid_request", "state",
				   "state must be open or resolved");
	return db_reply_list(
		req, rep,
		"SELECT json_build_object('id', a.id::text, 'object', 'alert', 'kind', a.kind,"
		" 'api_id', a.api_id::text, 'consumer_id', a.consumer_id::text, 'state', a.state,"
		" 'opened_at', tg_rfc3339(a.opened_at), 'resolved_at', tg_rfc3339(a.resolved_at),"
		" 'breached_windows', a.breached_windows, 'last_breach_at',"
		" tg_rfc3339(a.last_breach_at), 'details', a.details, 'resolution', "
		"a.resolution)::text"
		" FROM alerts a WHERE ($1::text IS NULL OR a.state = $1)"
		" AND ($2::bigint IS NULL OR a.id > $2) ORDER BY a.id LIMIT $3",
		1, params, NULL);
}

int admin_audit(struct request *req, struct reply *rep)
{
	return db_reply_list(
		req, rep,
		"SELECT json_build_object('id', l.id::text, 'object', 'audit', 'actor', l.actor,"
		" 'action', l.action, 'target', l.object, 'details', l.details, 'remote_addr',"
		" l.remote_addr, 'at', tg_rfc3339(l.at))::text FROM audit_log l"
		" WHERE ($1::bigint IS NULL OR l.id > $1) ORDER BY l.id LIMIT $2",
		0, NULL, NULL);
}
