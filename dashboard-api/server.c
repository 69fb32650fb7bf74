/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Threading: libmicrohttpd's internal polling thread pool (epoll), with one
 * Postgres connection per worker thread (db.h). Handlers block on Postgres
 * for a few milliseconds each; a fixed pool bounds both the threads and the
 * database connections (thread per connection would open one Postgres
 * connection per client and let a burst of clients exhaust max_connections),
 * and a connection per worker needs no pool locking. A slow query delays the
 * other connections of its worker only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dashboard-api/auth.h"
#include "dashboard-api/db.h"
#include "dashboard-api/idempotency.h"
#include "dashboard-api/metrics.h"
#include "dashboard-api/portal.h"
#include "dashboard-api/routes.h"
#include "dashboard-api/server.h"
#include "lib/log.h"

#define TLS_FILE_MAX (1024 * 1024)

struct server {
	struct MHD_Daemon *daemon;
	struct api_ctx *ctx;
	char *tls_cert;
	char *tls_key;
	uint16_t port;
};

/* what one HTTP request has received so far */
struct conn_state {
	struct timespec t0;
	char *body;
	size_t len;
	bool too_large;
};

static double elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct reply *rep, bool replayed)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char num[16];

	resp = MHD_create_response_from_buffer(rep->len, rep->body ? rep->body : (char *)"",
					       rep->body ? MHD_RESPMEM_MUST_FREE :
							   MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	rep->body = NULL; /* MHD frees it */
	MHD_add_response_header(resp, "Content-Type",
				rep->content_type ? rep->content_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (rep->allow[0])
		MHD_add_response_header(resp, "Allow", rep->allow);
	if (rep->retry_after) {
		snprintf(num, sizeof(num), "%u", rep->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (rep->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"tollgate\"");
	if (replayed)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	ret = MHD_queue_response(conn, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* the access rule of the route for the authenticated caller; false = @rep set */
static bool access_allowed(const struct request *req, struct reply *rep)
{
	const struct caller *c = &req->caller;
	bool anonymous = !c->admin && !c->consumer_id;

	switch (req->route->access) {
	case ROUTE_ANYONE:
		return true;
	case ROUTE_ADMIN:
		if (c->admin)
			return true;
		break;
	case ROUTE_ADMIN_SELF:
		if (c->admin || (c->consumer_id && req->n_ids > 0 && req->ids[0] == c->consumer_id))
			return true;
		break;
	case ROUTE_ADMIN_OWNER:
		if (!anonymous)
			return true;
		break;
	case ROUTE_SELF:
		if (c->consumer_id)
			return true;
		break;
	}
	if (anonymous)
		reply_error(rep, 401, "authentication", NULL,
			    "credentials required: Authorization: Bearer <admin token or API key>");
	else if (c->admin) /* a consumer-only route: it acts with the consumer's own key */
		reply_error(rep, 404, "not_found", NULL,
			    "no such resource for the admin: this route takes a consumer's key");
	else /* another consumer's resource, or an admin route: nothing to see here */
		reply_error(rep, 404, "not_found", NULL, "no such resource");
	return false;
}

static int parse_body(struct request *req, struct reply *rep, struct conn_state *st)
{
	json_error_t jerr;

	if (st->len == 0) {
		req->body = json_object();
		return req->body ? 0 : -ENOMEM;
	}
	req->body = json_loadb(st->body, st->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req->body)
		return reply_error(rep, 400, "invalid_request", "body",
				   "invalid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
				   jerr.column);
	if (!json_is_object(req->body))
		return reply_error(rep, 400, "invalid_request", "body",
				   "body: must be a JSON object");
	return 0;
}

static int audit(struct request *req, const struct reply *rep)
{
	static const char sql[] =
		"INSERT INTO audit_log (actor, action, object, details, remote_addr)"
		" VALUES ($1, $2, $3, $4::jsonb, $5)";
	char *details =
		rep->audit_details ? json_dumps(rep->audit_details, REPLY_JSON_FLAGS) : NULL;
	const char *params[] = { req->caller_scope, req->route->action,
				 rep->audit_object[0] ? rep->audit_object : req->path,
				 details ? details : "{}", req->remote_addr };
	PGresult *res;
	int r = db_query(req, "audit", sql, 5, params, &res);

	free(details);
	if (!r)
		PQclear(res);
	return r;
}

/* run the handler of a change inside its transaction; false = rolled back */
static int run_change(struct request *req, struct reply *rep, const char *idem_key,
		      const char *body, bool *ret_replayed)
{
	PGresult *res;
	bool replied = false;
	int r;

	*ret_replayed = false;
	r = db_query(req, "begin", "BEGIN", 0, NULL, &res);
	if (r)
		return r;
	PQclear(res);
	if (idem_key) {
		r = idempotency_claim(req, idem_key, body, rep, &replied);
		if (r || replied) {
			*ret_replayed = replied && rep->status < 400;
			goto out_rollback;
		}
	}
	r = req->route->handler(req, rep);
	if (r < 0 || rep->status >= 400)
		goto out_rollback;
	if (req->route->action)
		r = audit(req, rep);
	if (!r && idem_key)
		r = idempotency_store(req, idem_key, rep);
	if (r)
		goto out_rollback;
	r = db_query(req, "commit", "COMMIT", 0, NULL, &res);
	if (!r)
		PQclear(res);
	else
		reply_reset(rep); /* not committed: the handler's answer is not true */
	return r;
out_rollback:
	res = PQexec(req->pg, "ROLLBACK");
	PQclear(res);
	return r;
}

static void handle(struct server *s, struct MHD_Connection *conn, const char *url,
		   const char *method, struct conn_state *st, struct reply *rep,
		   size_t *ret_route, bool *ret_replayed)
{
	struct request req = { .method = method, .path = url, .conn = conn, .ctx = s->ctx };
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *addr = NULL;
	const char *idem_key = NULL;
	char remote[INET6_ADDRSTRLEN] = "";
	bool mutating;
	int r;

	switch (routes_match(method, url, &req, rep->allow, sizeof(rep->allow))) {
	case ROUTE_NO_PATH:
		reply_error(rep, 404, "not_found", NULL, "no route for %s", url);
		return;
	case ROUTE_NO_METHOD:
		reply_error(rep, 405, "invalid_request", NULL,
			    "%s is not allowed on %s (Allow: %s)", method, url, rep->allow);
		return;
	case ROUTE_FOUND:
		break;
	}
	*ret_route = (size_t)(req.route - routes);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		addr = ci->client_addr;
		if (addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, remote,
				  sizeof(remote));
		else if (addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, remote,
				  sizeof(remote));
	}
	req.remote_addr = remote;
	mutating = strcmp(method, "GET") != 0;
	if (st->too_large) {
		reply_error(rep, 413, "invalid_request", "body", "the body is larger than %d bytes",
			    SERVER_BODY_MAX);
		return;
	}
	/* the service routes answer without Postgres (healthz reports it) */
	req.pg = db_thread_conn(s->ctx->cfg->postgres.dsn);
	if (!req.pg && strncmp(url, "/v1/", 4) == 0) {
		reply_error(rep, 503, "internal", NULL, "the database is unavailable");
		rep->retry_after = 1;
		return;
	}
	if (auth_authenticate(&req, rep, addr))
		return;
	if (!access_allowed(&req, rep))
		return;
	if (!strcmp(method, "POST") || !strcmp(method, "PATCH")) {
		if (parse_body(&req, rep, st))
			goto out_free;
	}
	if (!strcmp(method, "POST")) {
		idem_key = request_header(&req, "Idempotency-Key");
		if (idem_key && !idempotency_key_valid(idem_key)) {
			reply_error(rep, 400, "invalid_request", "Idempotency-Key",
				    "Idempotency-Key must be 1 to %d printable ASCII characters",
				    IDEMPOTENCY_KEY_MAX);
			goto out_free;
		}
	}
	if (mutating)
		r = run_change(&req, rep, idem_key, st->body ? st->body : "", ret_replayed);
	else
		r = req.route->handler(&req, rep);
	if (r < 0 && !rep->status)
		reply_error(rep, 500, "internal", NULL, "internal error");
	else if (!rep->status)
		reply_error(rep, 500, "internal", NULL, "the handler gave no answer");
out_free:
	json_decref(req.body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct server *s = cls;
	struct conn_state *st = *con_cls;
	struct reply rep = { 0 };
	size_t route = n_routes;
	bool replayed = false;
	enum MHD_Result ret;

	if (!st) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &st->t0);
		*con_cls = st;
		/* refuse a declared oversized body before reading it */
		if (cl && strtoull(cl, NULL, 10) > SERVER_BODY_MAX) {
			st->too_large = true;
			reply_error(&rep, 413, "invalid_request", "body",
				    "the body is larger than %d bytes", SERVER_BODY_MAX);
			ret = send_reply(conn, &rep, false);
			metrics_request(s->ctx->metrics, n_routes, 413, elapsed(&st->t0));
			reply_reset(&rep);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!st->too_large && st->len + *upload_data_size > SERVER_BODY_MAX) {
			st->too_large = true;
			free(st->body);
			st->body = NULL;
			st->len = 0;
		}
		if (!st->too_large) {
			char *nb = realloc(st->body, st->len + *upload_data_size + 1);

			if (!nb)
				return MHD_NO;
			memcpy(nb + st->len, upload_data, *upload_data_size);
			st->len += *upload_data_size;
			nb[st->len] = '\0';
			st->body = nb;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* the developer portal's static files: not API routes, outside the routing table */
	if (portal_path(url)) {
		unsigned int status = 500;

		ret = portal_reply(conn, method, url, &status);
		metrics_request(s->ctx->metrics, n_routes, status, elapsed(&st->t0));
		return ret;
	}
	handle(s, conn, url, method, st, &rep, &route, &replayed);
	ret = send_reply(conn, &rep, replayed);
	metrics_request(s->ctx->metrics, route, rep.status, elapsed(&st->t0));
	reply_reset(&rep);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *st = *con_cls;

	if (st) {
		free(st->body);
		free(st);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_warn("http: %s", line);
}

static int read_file(const char *key, const char *path, char **ret)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot open '%s'", key, path);
	if (fstat(fd, &st) < 0 || st.st_size > TLS_FILE_MAX) {
		close(fd);
		return log_error_errno(-EFBIG, "%s: '%s' is not a file of at most %d bytes", key,
				       path, TLS_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return log_error_errno(-EIO, "%s: cannot read '%s'", key, path);
	}
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

/* api.listen into a socket address */
static int listen_addr(const char *listen, struct sockaddr_storage *ret, bool *ret_v6)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV },
			*ai = NULL;
	char host[256];
	const char *colon = strrchr(listen, ':');
	size_t hlen;
	int r;

	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[') {
		listen++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r || !ai) {
		log_error("api.listen: cannot resolve '%s': %s", host, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
}

int server_start(struct api_ctx *ctx, unsigned int threads, struct server **ret)
{
	const struct config *cfg = ctx->cfg;
	struct sockaddr_storage sa = { 0 };
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct server *s;
	bool v6 = false;
	int r;

	if (!cfg->api.listen[0])
		return log_error_errno(-EINVAL, "api.listen is empty: nothing to serve on");
	r = listen_addr(cfg->api.listen, &sa, &v6);
	if (r)
		return r;
	if (v6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	if (cfg->api.tls_cert_file[0]) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			r = log_error_errno(-ENOTSUP,
					    "api.tls_cert_file: this libmicrohttpd has no TLS");
			goto out_free;
		}
		r = read_file("api.tls_cert_file", cfg->api.tls_cert_file, &s->tls_cert);
		if (!r)
			r = read_file("api.tls_key_file", cfg->api.tls_key_file, &s->tls_key);
		if (r)
			goto out_free;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };

	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, threads ? threads : SERVER_THREADS_DEFAULT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_ARRAY,
		s->tls_cert ? tls_opts : no_opts, MHD_OPTION_END);
	if (!s->daemon) {
		r = log_error_errno(-EADDRINUSE, "cannot listen on %s", cfg->api.listen);
		goto out_free;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*ret = s;
	return 0;
out_free:
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
	return r;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
}
