/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dashboard-api/auth.h"
#include "dashboard-api/db.h"
#include "dashboard-api/limiter.h"
#include "lib/log.h"

int auth_load_admin_token(const char *path, char **ret, char *err, size_t err_len)
{
	char *buf;
	struct stat st;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "api.admin_token_file: cannot open '%s': %s", path,
			 strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "api.admin_token_file: '%s' is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_len,
			 "api.admin_token_file: '%s' is open to group or others (chmod 600)", path);
		close(fd);
		return -EPERM;
	}
	buf = malloc(AUTH_TOKEN_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, AUTH_TOKEN_MAX + 1);
	close(fd);
	if (n < 0 || n > AUTH_TOKEN_MAX) {
		r = n < 0 ? -errno : -EFBIG;
		snprintf(err, err_len, "api.admin_token_file: cannot read '%s': %s", path,
			 strerror(-r));
		goto out_free;
	}
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= ' ' || buf[i] == 0x7f)
			len = 0;
	if (len < AUTH_TOKEN_MIN) {
		snprintf(err, err_len,
			 "api.admin_token_file: '%s' must hold one token of at least %d printable "
			 "characters",
			 path, AUTH_TOKEN_MIN);
		r = -EINVAL;
		goto out_free;
	}
	*ret = buf;
	return 0;
out_free:
	explicit_bzero(buf, AUTH_TOKEN_MAX + 1);
	free(buf);
	return r;
}

/* --- failure limiter ------------------------------------------------------- */

/* the address as 16 bytes (IPv4 mapped) */
static void addr_bytes(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* --- credentials ------------------------------------------------------------ */

static bool equal_const_time(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;

	/* compare over the secret's length whatever the guess's length */
	for (size_t i = 0; i < blen; i++)
		diff |= (unsigned char)(i < alen ? a[i] : 0) ^ (unsigned char)b[i];
	return diff == 0;
}

static int fail(struct request *req, struct reply *rep, const unsigned char addr[16],
		const char *why)
{
	limiter_take(req->ctx->limiter, addr);
	reply_error(rep, 401, "authentication", NULL, "%s", why);
	return -EACCES;
}

/* look the key up: its id and consumer when usable */
static int key_lookup(struct request *req, const char *key, size_t len, bool *ret_found)
{
	static const char sql[] =
		"SELECT k.id, k.consumer_id FROM api_keys k JOIN consumers c ON c.id = "
		"k.consumer_id"
		" WHERE k.digest = $1 AND k.revoked_at IS NULL"
		" AND (k.expires_at IS NULL OR k.expires_at > now()) AND NOT c.suspended";
	uint8_t digest[KEYDIGEST_DIGEST_LEN];
	char hex[KEYDIGEST_HEX_LEN + 1];
	const char *params[] = { hex };
	PGresult *res;
	int r;

	*ret_found = false;
	if (!req->pg)
		return -EIO;
	if (keydigest_digest(&req->ctx->secrets, key, len, digest))
		return 0;
	keydigest_hex(digest, hex);
	r = db_query(req, "key lookup", sql, 1, params, &res);
	if (r)
		return r;
	if (PQntuples(res) == 1) {
		req->caller.key_id = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		req->caller.consumer_id = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
		*ret_found = true;
	}
	PQclear(res);
	return 0;
}

int auth_authenticate(struct request *req, struct reply *rep, const struct sockaddr *addr)
{
	const char *authz = request_header(req, "Authorization");
	const char *xkey = request_header(req, "X-API-Key");
	const char *cred = NULL;
	unsigned char ab[16];
	unsigned int wait;
	bool found;
	size_t len;
	int r;

	memset(&req->caller, 0, sizeof(req->caller));
	snprintf(req->caller_scope, sizeof(req->caller_scope), "anonymous");
	if (!authz && !xkey)
		return 0;
	addr_bytes(addr, ab);
	wait = limiter_wait(req->ctx->limiter, ab);
	if (wait) {
		reply_error(rep, 429, "rate_limited", NULL,
			    "too many failed authentications from this address; retry in %u s",
			    wait);
		rep->retry_after = wait;
		return -EACCES;
	}
	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0)
			return fail(req, rep, ab,
				    "Authorization must be \"Bearer <token or key>\"");
		cred = authz + 7;
		while (*cred == ' ')
			cred++;
	} else {
		cred = xkey;
	}
	len = strlen(cred);
	if (xkey && authz && strcmp(xkey, cred) != 0)
		return fail(req, rep, ab, "Authorization and X-API-Key name different credentials");
	if (keydigest_key_valid(cred, len)) {
		r = key_lookup(req, cred, len, &found);
		if (r) {
			reply_error(rep, 500, "internal", NULL, "cannot check the key");
			return r;
		}
		if (!found)
			return fail(req, rep, ab, "unknown, revoked or suspended API key");
		snprintf(req->caller_scope, sizeof(req->caller_scope), "consumer:%u",
			 req->caller.consumer_id);
		return 0;
	}
	if (req->ctx->admin_token &&
	    equal_const_time(cred, len, req->ctx->admin_token, req->ctx->admin_token_len)) {
		req->caller.admin = true;
		snprintf(req->caller_scope, sizeof(req->caller_scope), "admin");
		return 0;
	}
	return fail(req, rep, ab, "invalid credentials");
}

const char *auth_caller_key(const struct request *req)
{
	const char *authz = request_header(req, "Authorization");
	const char *cred = request_header(req, "X-API-Key");

	if (!req->caller.consumer_id)
		return NULL;
	if (!cred && authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		cred = authz + 7;
		while (*cred == ' ')
			cred++;
	}
	return cred && keydigest_key_valid(cred, strlen(cred)) ? cred : NULL;
}
