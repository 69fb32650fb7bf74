/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "agent/keyfile.h"
#include "lib/keydigest.h"

static bool parse_id(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tg_key_digest));
}

int keyfile_load(const char *path, struct keyfile *ret, char *err, size_t err_len)
{
	struct keyfile kf = { 0 };
	size_t cap = 0, lineno = 0;
	char *line = NULL;
	size_t line_cap = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "agent.keys_file: cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	while (getline(&line, &line_cap, f) > 0) {
		char *tok[6] = { 0 }, *save = NULL, *p;
		struct keyfile_entry e = { 0 };
		int n = 0;

		lineno++;
		for (p = strtok_r(line, " \t\r\n", &save); p && n < 6; p = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = p;
		if (n == 0 || tok[0][0] == '#')
			continue;
		if (n < 4 || n > 5) {
			snprintf(err, err_len, "%s:%zu: expected 'digest key_id consumer_id plan_id [state]'",
				 path, lineno);
			r = -EINVAL;
			goto out;
		}
		if (keydigest_parse_hex(tok[0], e.digest.bytes) < 0) {
			snprintf(err, err_len, "%s:%zu: '%s' is not a 32-character hex digest", path,
				 lineno, tok[0]);
			r = -EINVAL;
			goto out;
		}
		if (!parse_id(tok[1], &e.key.key_id) || !parse_id(tok[2], &e.key.consumer_id) ||
		    !parse_id(tok[3], &e.key.plan_id)) {
			snprintf(err, err_len, "%s:%zu: ids must be decimal numbers from 1 to 4294967295",
				 path, lineno);
			r = -EINVAL;
			goto out;
		}
		if (n == 4 || strcmp(tok[4], "active") == 0) {
			e.key.flags = TG_KEY_ACTIVE;
		} else if (strcmp(tok[4], "revoked") == 0) {
			e.key.flags = 0;
		} else if (strcmp(tok[4], "suspended") == 0) {
			e.key.flags = TG_KEY_ACTIVE | TG_KEY_SUSPENDED;
		} else {
			snprintf(err, err_len, "%s:%zu: state '%s' is not active, revoked or suspended",
				 path, lineno, tok[4]);
			r = -EINVAL;
			goto out;
		}
		if (kf.n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct keyfile_entry *ne = reallocarray(kf.entries, ncap, sizeof(*ne));

			if (!ne) {
				r = -ENOMEM;
				snprintf(err, err_len, "out of memory");
				goto out;
			}
			kf.entries = ne;
			cap = ncap;
		}
		kf.entries[kf.n++] = e;
	}
	if (ferror(f)) {
		r = -EIO;
		snprintf(err, err_len, "agent.keys_file: error reading '%s'", path);
		goto out;
	}
	qsort(kf.entries, kf.n, sizeof(*kf.entries), cmp_digest);
	for (size_t i = 1; i < kf.n; i++) {
		if (cmp_digest(&kf.entries[i - 1], &kf.entries[i]) == 0) {
			char hex[KEYDIGEST_HEX_LEN + 1];

			keydigest_hex(kf.entries[i].digest.bytes, hex);
			snprintf(err, err_len, "%s: digest %s is listed twice", path, hex);
			r = -EINVAL;
			goto out;
		}
	}
out:
	free(line);
	fclose(f);
	if (r) {
		free(kf.entries);
		return r;
	}
	*ret = kf;
	return 0;
}

int keyfile_sort(struct keyfile *kf)
{
	qsort(kf->entries, kf->n, sizeof(*kf->entries), cmp_digest);
	for (size_t i = 1; i < kf->n; i++)
		if (cmp_digest(&kf->entries[i - 1], &kf->entries[i]) == 0)
			return -EINVAL;
	return 0;
}

void keyfile_free(struct keyfile *kf)
{
	if (!kf)
		return;
	free(kf->entries);
	kf->entries = NULL;
	kf->n = 0;
}

int keyfile_apply(const struct keyfile *kf, int map_fd)
{
	struct tg_key_digest cur, next;
	bool has_key;

	for (size_t i = 0; i < kf->n; i++)
		if (bpf_map_update_elem(map_fd, &kf->entries[i].digest, &kf->entries[i].key, BPF_ANY) < 0)
			return -errno;
	/* remove keys no longer listed (entries are sorted by digest) */
	has_key = bpf_map_get_next_key(map_fd, NULL, &next) == 0;
	while (has_key) {
		cur = next;
		has_key = bpf_map_get_next_key(map_fd, &cur, &next) == 0;
		if (!bsearch(&cur, kf->entries, kf->n, sizeof(*kf->entries), cmp_digest)) {
			bpf_map_delete_elem(map_fd, &cur);
			has_key = bpf_map_get_next_key(map_fd, NULL, &next) == 0;
		}
	}
	return (int)kf->n;
}
