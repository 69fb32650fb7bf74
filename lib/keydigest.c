// SPDX-License-Identifier: BSD-2-Clause
/*
 * keydigest.c - API keys, secrets and digests (see keydigest.h, DESIGN §8).
 *
 * The digest must be bit-for-bit what the XDP program computes, so it goes
 * through tg_siphash() of bpf/lib/siphash.h with the key copied into a zeroed
 * buffer of the size the BPF side uses (TG_KEY_MAX + 8): that header reads the
 * final block with a plain load and relies on the zero padding.
 *
 * Secrets are wiped from the stack and from read buffers once used.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keydigest.h"

#include "../bpf/lib/siphash.h"

#define MODE_OPEN_TO_OTHERS (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* The active secrets of a file, oldest first, and the version of its last line. */
struct secret_list {
	struct {
		unsigned int version;
		uint8_t key[KEYDIGEST_SECRET_LEN];
	} active[KEYDIGEST_ACTIVE_MAX];
	int n_active;
	unsigned int last_version; /* 0 = no secret line */
};

static bool is_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @n bytes from 2n hex characters; false if one is not hex. */
static bool hex_decode(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool keydigest_key_valid(const char *key, size_t len)
{
	if (!key || len != KEYDIGEST_KEY_LEN)
		return false;
	if (memcmp(key, KEYDIGEST_PREFIX, strlen(KEYDIGEST_PREFIX)))
		return false;
	if (key[3] < '1' || key[3] > '9')
		return false;
	for (size_t i = 4; i < len; i++)
		if (!is_base62(key[i]))
			return false;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One "VERSION HEX32" line, blanks trimmed by the caller. */
static bool parse_secret_line(const char *s, size_t len, unsigned int *version, uint8_t *key)
{
	size_t i = 1;

	if (len < 1 + 1 + KEYDIGEST_HEX_LEN || s[0] < '1' || s[0] > '9' || !is_blank(s[1]))
		return false;
	while (i < len && is_blank(s[i]))
		i++;
	if (len - i != KEYDIGEST_HEX_LEN || !hex_decode(s + i, key, KEYDIGEST_SECRET_LEN))
		return false;
	*version = (unsigned int)(s[0] - '0');
	return true;
}

static void add_secret(struct secret_list *list, unsigned int version, const uint8_t *key)
{
	int i;

	/* a later line for the same version replaces it */
	for (i = 0; i < list->n_active; i++)
		if (list->active[i].version == version)
			break;
	if (i == list->n_active && list->n_active < KEYDIGEST_ACTIVE_MAX)
		list->n_active++;
	else if (i == list->n_active)
		i = 0; /* drop the oldest */
	memmove(&list->active[i], &list->active[i + 1],
		(list->n_active - 1 - i) * sizeof(list->active[0]));
	list->active[list->n_active - 1].version = version;
	memcpy(list->active[list->n_active - 1].key, key, KEYDIGEST_SECRET_LEN);
	list->last_version = version;
}

/* Returns 0, or the (1-based) number of the first bad line. */
static int parse_secrets(const char *text, size_t len, struct secret_list *list)
{
	uint8_t key[KEYDIGEST_SECRET_LEN];
	unsigned int version;
	int line = 0;

	memset(list, 0, sizeof(*list));
	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl ? 1 : 0);
		line++;
		while (n > 0 && is_blank(s[0])) {
			s++;
			n--;
		}
		while (n > 0 && is_blank(s[n - 1]))
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		if (!parse_secret_line(s, n, &version, key)) {
			explicit_bzero(key, sizeof(key));
			return line;
		}
		add_secret(list, version, key);
	}
	explicit_bzero(key, sizeof(key));
	return 0;
}

static void set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Read a whole regular file of at most KEYDIGEST_FILE_MAX bytes from @fd. */
static int read_secret_file(int fd, char *buf, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = pread(fd, buf + len, KEYDIGEST_FILE_MAX + 1 - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > KEYDIGEST_FILE_MAX)
			return -EFBIG;
	}
	*ret_len = len;
	return 0;
}

/* Checks shared by load and append; @fd is open on @path. */
static int check_secret_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int r = -errno;

		set_error(err, errlen, "security.key_secret_file: cannot stat '%s': %s", path,
			  strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(err, errlen, "security.key_secret_file: '%s' is not a regular file",
			  path);
		return -EINVAL;
	}
	if (st.st_mode & MODE_OPEN_TO_OTHERS) {
		set_error(
			err, errlen,
			"security.key_secret_file: '%s' is readable by group or others (chmod 600)",
			path);
		return -EPERM;
	}
	return 0;
}

/*
 * Read, check and parse the file open as @fd; @ret_unterminated (may be NULL)
 * tells whether its last line lacks a newline.
 */
static int load_list(int fd, const char *path, struct secret_list *list, bool *ret_unterminated,
		     char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	int r, bad_line;

	r = check_secret_file(fd, path, err, errlen);
	if (r < 0)
		return r;

	buf = malloc(KEYDIGEST_FILE_MAX + 1);
	if (!buf) {
		set_error(err, errlen, "security.key_secret_file: out of memory");
		return -ENOMEM;
	}
	r = read_secret_file(fd, buf, &len);
	if (r == -EFBIG) {
		set_error(err, errlen, "security.key_secret_file: '%s' is larger than %d bytes",
			  path, KEYDIGEST_FILE_MAX);
		goto out_wipe_buf;
	}
	if (r < 0) {
		set_error(err, errlen, "security.key_secret_file: cannot read '%s': %s", path,
			  strerror(-r));
		goto out_wipe_buf;
	}

	bad_line = parse_secrets(buf, len, list);
	if (bad_line) {
		/* never quote the line: it may hold a secret */
		set_error(err, errlen,
			  "security.key_secret_file: '%s' line %d: expected 'VERSION HEX' "
			  "(version 1-9, 32 hex digits)",
			  path, bad_line);
		r = -EINVAL;
	}
	if (r == 0 && ret_unterminated)
		*ret_unterminated = len > 0 && buf[len - 1] != '\n';

out_wipe_buf:
	explicit_bzero(buf, KEYDIGEST_FILE_MAX + 1);
	free(buf);
	return r;
}

int keydigest_load_secrets(const char *path, struct key_secrets *ret, char *err, size_t errlen)
{
	struct secret_list list;
	struct key_secrets secrets;
	int fd, r;

	/* O_NONBLOCK: a FIFO in the secret's place must not hang the agent */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		set_error(err, errlen, "security.key_secret_file: cannot open '%s': %s", path,
			  strerror(-r));
		return r;
	}
	r = load_list(fd, path, &list, NULL, err, errlen);
	close(fd);
	if (r < 0)
		goto out_wipe;
	if (list.n_active == 0) {
		set_error(err, errlen,
			  "security.key_secret_file: '%s' holds no secret "
			  "(tollgatectl secret new adds one)",
			  path);
		r = -ENOKEY;
		goto out_wipe;
	}

	memset(&secrets, 0, sizeof(secrets));
	for (int i = 0; i < list.n_active; i++) {
		secrets.v[list.active[i].version].valid = true;
		memcpy(secrets.v[list.active[i].version].key, list.active[i].key,
		       KEYDIGEST_SECRET_LEN);
	}
	memcpy(ret, &secrets, sizeof(*ret));
	explicit_bzero(&secrets, sizeof(secrets));
	r = 0;
out_wipe:
	explicit_bzero(&list, sizeof(list));
	return r;
}

int keydigest_digest(const struct key_secrets *secrets, const char *key, size_t len,
		     uint8_t ret_digest[KEYDIGEST_DIGEST_LEN])
{
	__u8 msg[TG_KEY_MAX + 8] = { 0 };
	unsigned int version;

	if (!keydigest_key_valid(key, len))
		return -EINVAL;
	version = (unsigned int)(key[3] - '0');
	if (!secrets->v[version].valid)
		return -ENOKEY;

	memcpy(msg, key, len);
	tg_siphash(secrets->v[version].key, msg, (__u32)len, 1, ret_digest);
	return 0;
}

void keydigest_hex(const uint8_t digest[KEYDIGEST_DIGEST_LEN], char out[KEYDIGEST_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < KEYDIGEST_DIGEST_LEN; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[KEYDIGEST_HEX_LEN] = '\0';
}

int keydigest_parse_hex(const char *hex, uint8_t ret[KEYDIGEST_DIGEST_LEN])
{
	uint8_t digest[KEYDIGEST_DIGEST_LEN];

	if (!hex || strnlen(hex, KEYDIGEST_HEX_LEN + 1) != KEYDIGEST_HEX_LEN ||
	    !hex_decode(hex, digest, sizeof(digest)))
		return -EINVAL;
	memcpy(ret, digest, sizeof(digest));
	return 0;
}

static int random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int keydigest_generate(unsigned int version, char ret_key[KEYDIGEST_KEY_LEN + 1])
{
	/* 248 = 4 * 62: bytes below it map onto base62 evenly */
	const unsigned int limit = 256 - 256 % (sizeof(base62) - 1);
	char key[KEYDIGEST_KEY_LEN + 1];
	uint8_t pool[64];
	size_t n = strlen(KEYDIGEST_PREFIX) + 1, used = sizeof(pool);
	int r;

	if (version < 1 || version > KEYDIGEST_VERSION_MAX)
		return -EINVAL;
	memcpy(key, KEYDIGEST_PREFIX, strlen(KEYDIGEST_PREFIX));
	key[3] = (char)('0' + version);

	while (n < KEYDIGEST_KEY_LEN) {
		if (used == sizeof(pool)) {
			r = random_bytes(pool, sizeof(pool));
			if (r < 0)
				goto out_wipe;
			used = 0;
		}
		if (pool[used] < limit)
			key[n++] = base62[pool[used] % (sizeof(base62) - 1)];
		used++;
	}
	key[KEYDIGEST_KEY_LEN] = '\0';
	memcpy(ret_key, key, sizeof(key));
	r = 0;
out_wipe:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(pool, sizeof(pool));
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new file's directory entry survives a crash only once its directory is synced. */
static int sync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int keydigest_secret_new(const char *path, unsigned int *ret_version)
{
	struct secret_list list;
	uint8_t secret[KEYDIGEST_SECRET_LEN];
	char line[2 + 2 + KEYDIGEST_HEX_LEN + 2];
	unsigned int version;
	bool created = true, unterminated = false;
	int fd, r, n;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0)
		return -errno;
	/* the umask cannot widen 0600, but a default ACL may: make sure */
	if (created && fchmod(fd, 0600) < 0) {
		r = -errno;
		goto out_close;
	}
	if (flock(fd, LOCK_EX) < 0) {
		r = -errno;
		goto out_close;
	}

	r = load_list(fd, path, &list, &unterminated, NULL, 0);
	if (r < 0)
		goto out_wipe;

	version = list.last_version % KEYDIGEST_VERSION_MAX + 1;
	r = random_bytes(secret, sizeof(secret));
	if (r < 0)
		goto out_wipe;
	n = snprintf(line, sizeof(line), "%s%u ", unterminated ? "\n" : "", version);
	keydigest_hex(secret, line + n);
	n += KEYDIGEST_HEX_LEN;
	line[n++] = '\n';

	r = write_all(fd, line, (size_t)n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && created)
		r = sync_parent_dir(path);
	if (r == 0)
		*ret_version = version;
out_wipe:
	explicit_bzero(&list, sizeof(list));
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(line, sizeof(line));
out_close:
	close(fd);
	return r;
}
