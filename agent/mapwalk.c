// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <bpf/bpf.h>

#include "agent/mapwalk.h"

int mapwalk(int fd, size_t key_size, size_t value_size, __u64 elem_flags, mapwalk_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = elem_flags);
	char *keys = malloc(MAPWALK_BATCH * key_size), *values = malloc(MAPWALK_BATCH * value_size);
	__u32 batch, count;
	bool more = true, first = true;
	int r = 0;

	if (!keys || !values) {
		r = -ENOMEM;
		goto out;
	}
	while (more && !r) {
		count = MAPWALK_BATCH;
		if (bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, values, &count,
					 &opts) < 0) {
			if (errno != ENOENT) {
				r = -errno;
				break;
			}
			more = false; /* the last batch: count may still be > 0 */
		}
		first = false;
		for (__u32 i = 0; i < count && !r; i++)
			r = fn(ctx, keys + i * key_size, values + i * value_size);
	}
out:
	free(keys);
	free(values);
	return r;
}
