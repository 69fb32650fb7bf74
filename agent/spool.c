/* SPDX-License-Identifier: BSD-2-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/spool.h"

#define HDR_LEN 12 /* length, crc, key */

struct seg {
	uint64_t id;
	int fd;		/* O_RDWR; the active segment is also appended through it */
	uint64_t size;	/* bytes of whole, valid records */
	uint32_t records;
	uint32_t delivered;
	bool sealed;
};

struct spool {
	char dir[4096];
	uint64_t max_bytes;
	struct seg *segs; /* by id; the last one is the active segment */
	size_t n, cap;
	uint64_t cur_id, cur_off;   /* the read cursor */
	uint64_t last_id, last_off; /* before the last spool_next, for unread */
	struct spool_stats stats;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_path(const struct spool *sp, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/wal-%016" PRIx64 ".log", sp->dir, id);
}

static uint32_t record_crc(uint32_t key, const void *payload, size_t len)
{
	uint8_t k[4];
	uLong crc = crc32(0L, Z_NULL, 0);

	put32(k, key);
	crc = crc32(crc, k, 4);
	return (uint32_t)crc32(crc, payload, (uInt)len);
}

/* Read the record at off: 0 and its total size, or -EBADMSG / -ENODATA. */
static int read_record(int fd, uint64_t off, uint32_t *ret_key, void *buf, uint32_t *ret_len)
{
	uint8_t hdr[HDR_LEN];
	uint32_t len;

	if (pread(fd, hdr, HDR_LEN, (off_t)off) != HDR_LEN)
		return -ENODATA;
	len = get32(hdr);
	if (len > SPOOL_RECORD_MAX)
		return -EBADMSG;
	if (pread(fd, buf, len, (off_t)(off + HDR_LEN)) != (ssize_t)len)
		return -ENODATA;
	if (record_crc(get32(hdr + 8), buf, len) != get32(hdr + 4))
		return -EBADMSG;
	*ret_key = get32(hdr + 8);
	*ret_len = len;
	return 0;
}

static struct seg *seg_find(struct spool *sp, uint64_t id)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->segs[i].id == id)
			return &sp->segs[i];
	return NULL;
}

static int seg_add(struct spool *sp, const struct seg *s)
{
	if (sp->n == sp->cap) {
		size_t ncap = sp->cap ? sp->cap * 2 : 16;
		struct seg *ns = reallocarray(sp->segs, ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		sp->segs = ns;
		sp->cap = ncap;
	}
	sp->segs[sp->n++] = *s;
	sp->stats.segments = sp->n;
	return 0;
}

static void seg_remove(struct spool *sp, struct seg *s)
{
	char path[4200];
	size_t i = (size_t)(s - sp->segs);

	seg_path(sp, s->id, path, sizeof(path));
	unlink(path);
	close(s->fd);
	sp->stats.bytes -= s->size;
	memmove(&sp->segs[i], &sp->segs[i + 1], (sp->n - i - 1) * sizeof(*s));
	sp->n--;
	sp->stats.segments = sp->n;
}

static int seg_create(struct spool *sp, uint64_t id)
{
	struct seg s = { .id = id };
	char path[4200];
	int r;

	seg_path(sp, id, path, sizeof(path));
	s.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s.fd < 0)
		return -errno;
	r = seg_add(sp, &s);
	if (r)
		close(s.fd);
	return r;
}

/* Scan a segment of an earlier run: count its valid records and cut it at
 * the first bad one (a write the crash interrupted). */
static int seg_recover(struct spool *sp, uint64_t id)
{
	struct seg s = { .id = id, .sealed = true };
	char path[4200], buf[SPOOL_RECORD_MAX];
	struct stat st;
	uint32_t key, len;

	seg_path(sp, id, path, sizeof(path));
	s.fd = open(path, O_RDWR | O_CLOEXEC);
	if (s.fd < 0)
		return -errno;
	while (read_record(s.fd, s.size, &key, buf, &len) == 0) {
		s.size += HDR_LEN + len;
		s.records++;
	}
	if (fstat(s.fd, &st) == 0 && (uint64_t)st.st_size > s.size) {
		sp->stats.corrupt_tails++;
		if (ftruncate(s.fd, (off_t)s.size) < 0) {
			close(s.fd);
			return -errno;
		}
	}
	if (s.records == 0) {
		close(s.fd);
		unlink(path);
		return 0;
	}
	sp->stats.recovered += s.records;
	sp->stats.bytes += s.size;
	return seg_add(sp, &s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	uint64_t *ids = NULL, next_id = 1;
	size_t n_ids = 0, cap_ids = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!sp)
		return -ENOMEM;
	if (strlen(dir) >= sizeof(sp->dir)) {
		free(sp);
		return -ENAMETOOLONG;
	}
	strcpy(sp->dir, dir);
	sp->max_bytes = max_bytes;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		goto out_free;
	}
	d = opendir(dir);
	if (!d) {
		r = -errno;
		goto out_free;
	}
	while ((de = readdir(d))) {
		uint64_t id;
		char tail[8];

		if (sscanf(de->d_name, "wal-%16" SCNx64 ".lo%1s", &id, tail) != 2 ||
		    strlen(de->d_name) != 24)
			continue;
		if (n_ids == cap_ids) {
			size_t ncap = cap_ids ? cap_ids * 2 : 16;
			uint64_t *ni = reallocarray(ids, ncap, sizeof(*ni));

			if (!ni) {
				r = -ENOMEM;
				break;
			}
			ids = ni;
			cap_ids = ncap;
		}
		ids[n_ids++] = id;
	}
	closedir(d);
	if (r)
		goto out_free;
	qsort(ids, n_ids, sizeof(*ids), cmp_u64);
	for (size_t i = 0; i < n_ids && !r; i++) {
		r = seg_recover(sp, ids[i]);
		next_id = ids[i] + 1;
	}
	free(ids);
	ids = NULL;
	if (r)
		goto out_free;
	r = seg_create(sp, next_id);
	if (r)
		goto out_free;
	sp->cur_id = sp->segs[0].id;
	*ret = sp;
	return 0;

out_free:
	free(ids);
	spool_free(sp);
	return r;
}

int spool_full(const struct spool *sp)
{
	return sp->stats.bytes >= sp->max_bytes;
}

int spool_append(struct spool *sp, uint32_t key, const void *payload, size_t len)
{
	struct seg *a = &sp->segs[sp->n - 1];
	uint8_t hdr[HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = HDR_LEN },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	ssize_t w;
	int r;

	if (len > SPOOL_RECORD_MAX)
		return -EMSGSIZE;
	if (spool_full(sp))
		return -ENOSPC;
	if (a->size + HDR_LEN + len > SPOOL_SEGMENT_BYTES && a->records) {
		a->sealed = true;
		r = seg_create(sp, a->id + 1);
		if (r)
			return r;
		if (sp->segs[sp->n - 2].delivered == sp->segs[sp->n - 2].records)
			seg_remove(sp, &sp->segs[sp->n - 2]);
		a = &sp->segs[sp->n - 1];
	}
	put32(hdr, (uint32_t)len);
	put32(hdr + 4, record_crc(key, payload, len));
	put32(hdr + 8, key);
	w = pwritev(a->fd, iov, 2, (off_t)a->size);
	if (w != (ssize_t)(HDR_LEN + len)) {
		r = w < 0 ? -errno : -EIO;
		/* a short write leaves bytes past size: the next append
		 * overwrites them, a restart cuts them */
		return r;
	}
	a->size += HDR_LEN + len;
	a->records++;
	sp->stats.bytes += HDR_LEN + len;
	sp->stats.appended++;
	return 0;
}

int spool_next(struct spool *sp, uint32_t *ret_key, void *buf, uint64_t *ret_segment)
{
	for (;;) {
		struct seg *s = seg_find(sp, sp->cur_id);
		uint32_t len;
		int r;

		if (!s) {
			/* the cursor's segment is gone: go on with the next one */
			size_t i;

			for (i = 0; i < sp->n && sp->segs[i].id < sp->cur_id; i++)
				;
			if (i == sp->n)
				return -EAGAIN;
			sp->cur_id = sp->segs[i].id;
			sp->cur_off = 0;
			continue;
		}
		if (sp->cur_off >= s->size) {
			if (!s->sealed || s == &sp->segs[sp->n - 1])
				return -EAGAIN;
			sp->cur_id = s[1].id;
			sp->cur_off = 0;
			continue;
		}
		r = read_record(s->fd, sp->cur_off, ret_key, buf, &len);
		if (r)
			return r;
		sp->last_id = sp->cur_id;
		sp->last_off = sp->cur_off;
		sp->cur_off += HDR_LEN + len;
		*ret_segment = s->id;
		return (int)len;
	}
}

void spool_unread(struct spool *sp)
{
	sp->cur_id = sp->last_id;
	sp->cur_off = sp->last_off;
}

void spool_delivered(struct spool *sp, uint64_t segment)
{
	struct seg *s = seg_find(sp, segment);

	if (!s)
		return;
	s->delivered++;
	sp->stats.delivered++;
	if (s->sealed && s->delivered >= s->records && s != &sp->segs[sp->n - 1])
		seg_remove(sp, s);
}

int spool_sync(struct spool *sp)
{
	return fdatasync(sp->segs[sp->n - 1].fd) < 0 ? -errno : 0;
}

uint64_t spool_pending(const struct spool *sp)
{
	uint64_t n = 0;

	for (size_t i = 0; i < sp->n; i++)
		n += sp->segs[i].records - sp->segs[i].delivered;
	return n;
}

const struct spool_stats *spool_stats(const struct spool *sp)
{
	return &sp->stats;
}

void spool_free(struct spool *sp)
{
	if (!sp)
		return;
	/* what was delivered goes, what was not stays for the next run */
	while (sp->n) {
		struct seg *s = &sp->segs[sp->n - 1];

		if (s->delivered >= s->records) {
			seg_remove(sp, s);
		} else {
			close(s->fd);
			sp->n--;
		}
	}
	free(sp->segs);
	free(sp);
}
