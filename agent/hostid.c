/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/hostid.h"

int hostid_get(const struct config *cfg, uint32_t *ret)
{
	char buf[64] = "";
	unsigned long v;
	FILE *f;

	if (cfg->agent.host_id) {
		*ret = cfg->agent.host_id;
		return 0;
	}
	f = fopen("/etc/machine-id", "re");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	buf[8] = '\0';
	v = strtoul(buf, NULL, 16);
	*ret = v ? (uint32_t)v : 1;
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[CONFIG_PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

uint32_t hostid_current_epoch(const char *state_dir)
{
	char path[CONFIG_PATH_MAX + 16], buf[32] = "";
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/epoch", state_dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		v = strtoul(buf, NULL, 10);
	fclose(f);
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

int hostid_next_epoch(const char *state_dir, uint32_t *ret)
{
	char path[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 24], buf[32];
	uint32_t epoch;
	int fd, n, r;

	r = mkdir_p(state_dir);
	if (r)
		return r;
	epoch = hostid_current_epoch(state_dir) + 1;
	snprintf(path, sizeof(path), "%s/epoch", state_dir);
	snprintf(tmp, sizeof(tmp), "%s/epoch.tmp", state_dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%u\n", epoch);
	if (write(fd, buf, n) != n || fsync(fd) < 0) {
		r = -errno;
		close(fd);
		return r ? r : -EIO;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return -errno;
	*ret = epoch;
	return 0;
}
