/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bpf-lines.c - where a loaded BPF program spends its time, by source line.
 *
 *   bpf-lines PROG_ID                 every jited line: function, offset in
 *                                     the function's symbol, file:line, source
 *   perf script -F ip,sym,symoff | bpf-lines --hist PROG_ID
 *                                     perf samples in the program's functions
 *                                     (by their address, the first field),
 *                                     counted by the source line they fall in
 *   perf script -F ip,sym,symoff | bpf-lines --calls PROG_ID
 *                                     the same from `perf record -g`: each
 *                                     sample with the program on its stack,
 *                                     counted at the program's innermost
 *                                     frame, so that time in what it calls
 *                                     (map lookups, helpers) is its caller's
 *                                     line's
 *
 * perf annotates BPF programs only when it is linked with libopcodes, and
 * Debian's bpftool has no disassembler, so neither maps a sample to a line
 * here. The kernel keeps what is needed: the program's line info (BTF line
 * strings), the jited address of each line and the address of each function.
 * The program must still be loaded (the agent running) when this runs; the
 * samples must come from the same load.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

struct line {
	const char *func; /* name of the function the line is in */
	__u32 fn;	  /* and its index in the program's functions */
	unsigned long long off; /* from the start of that function's symbol */
	const char *where; /* file:line */
	const char *text;
	unsigned long count;
};

static int by_count(const void *a, const void *b)
{
	const struct line *x = *(const struct line *const *)a, *y = *(const struct line *const *)b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* The line at @off in function @fn (the last of its lines at or before
 * it), or -1. */
static long line_at(const struct line *lines, __u32 nl, __u32 fn, unsigned long long off)
{
	long best = -1;

	for (__u32 i = 0; i < nl; i++)
		if (lines[i].fn == fn && lines[i].off <= off &&
		    (best < 0 || lines[i].off >= lines[best].off))
			best = (long)i;
	return best;
}

/*
 * Count the samples of `perf script -F ip,sym,symoff` on stdin by the line
 * of the program's functions (@ks, @flen) they fall in. Without @chains a
 * line is a sample. With them (--calls, `perf record -g`) a sample is its
 * frames, one a line, innermost first, then a blank line; it counts at its
 * innermost frame in the program. An outer frame's address is a return
 * address, just past the call: one byte back is the call's line. Returns
 * the samples counted; *ret_inner those whose innermost frame was not the
 * program's, *ret_read all the samples read (the program's share of the
 * CPUs recorded).
 */
static unsigned long long count_samples(struct line *lines, __u32 nl, const __u64 *ks,
					const __u32 *flen, __u32 nk, bool chains,
					unsigned long long *ret_inner, unsigned long long *ret_read)
{
	unsigned long long total = 0, inner = 0, read = 0, ip;
	int depth = 0, done = 0;
	char buf[512];

	while (fgets(buf, sizeof(buf), stdin)) {
		if (!chains || buf[strspn(buf, " \t\r\n")] == '\0') {
			depth = 0; /* the next sample */
			done = 0;
		}
		if (done || sscanf(buf, " %llx", &ip) != 1)
			continue; /* counted, or no frame (a blank line, a header) */
		read += depth == 0;
		for (__u32 f = 0; f < nk; f++) {
			long at;

			if (ip < ks[f] || ip >= ks[f] + flen[f])
				continue;
			at = line_at(lines, nl, f, ip - ks[f] - (depth ? 1 : 0));
			if (at >= 0) {
				lines[at].count++;
				total++;
				inner += depth > 0;
				done = 1;
			}
			break;
		}
		depth++;
	}
	*ret_inner = inner;
	*ret_read = read;
	return total;
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), nl, njl, nf, nk;
	struct bpf_line_info *li;
	struct bpf_func_info *fi;
	__u64 *jl, *ks;
	struct btf *btf;
	struct line *lines, **order;
	unsigned long long total = 0;
	int calls = argc == 3 && !strcmp(argv[1], "--calls");
	int hist = calls || (argc == 3 && !strcmp(argv[1], "--hist")), fd;
	unsigned long long inner = 0, read = 0;
	__u32 *flen;

	if (argc != 2 + hist) {
		fprintf(stderr, "usage: bpf-lines [--hist | --calls] PROG_ID\n");
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(atoi(argv[1 + hist]));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "bpf-lines: program %s: %s\n", argv[1 + hist], strerror(errno));
		return 1;
	}
	nl = info.nr_line_info;
	njl = info.nr_jited_line_info;
	nf = info.nr_func_info;
	nk = info.nr_jited_ksyms;
	if (!nl || nl != njl || !nf || nf != nk) {
		fprintf(stderr, "bpf-lines: program %s has no line info (loaded without BTF?)\n",
			argv[1 + hist]);
		return 1;
	}
	li = calloc(nl, sizeof(*li));
	jl = calloc(njl, sizeof(*jl));
	fi = calloc(nf, sizeof(*fi));
	ks = calloc(nk, sizeof(*ks));
	flen = calloc(nk, sizeof(*flen));
	lines = calloc(nl, sizeof(*lines));
	order = calloc(nl, sizeof(*order));
	if (!li || !jl || !fi || !ks || !flen || !lines || !order)
		return 1;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nl;
	info.line_info_rec_size = sizeof(*li);
	info.line_info = (unsigned long)li;
	info.nr_jited_line_info = njl;
	info.jited_line_info_rec_size = sizeof(*jl);
	info.jited_line_info = (unsigned long)jl;
	info.nr_func_info = nf;
	info.func_info_rec_size = sizeof(*fi);
	info.func_info = (unsigned long)fi;
	info.nr_jited_ksyms = nk;
	info.jited_ksyms = (unsigned long)ks;
	info.nr_jited_func_lens = nk;
	info.jited_func_lens = (unsigned long)flen;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "bpf-lines: %s\n", strerror(errno));
		return 1;
	}
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf) {
		fprintf(stderr, "bpf-lines: the program's BTF: %s\n", strerror(errno));
		return 1;
	}
	/* each line belongs to the last function that starts at or before it */
	for (__u32 i = 0, f = 0; i < nl; i++) {
		const char *file = btf__name_by_offset(btf, li[i].file_name_off);
		const char *slash = file ? strrchr(file, '/') : NULL;
		char *where = malloc(256);

		while (f + 1 < nf && fi[f + 1].insn_off <= li[i].insn_off)
			f++;
		if (!where)
			return 1;
		snprintf(where, 256, "%s:%u", slash ? slash + 1 : file ? file : "?",
			 BPF_LINE_INFO_LINE_NUM(li[i].line_col));
		lines[i].func = btf__name_by_offset(btf, btf__type_by_id(btf, fi[f].type_id)->name_off);
		lines[i].fn = f;
		lines[i].off = jl[i] - ks[f];
		lines[i].where = where;
		lines[i].text = btf__name_by_offset(btf, li[i].line_off);
		order[i] = &lines[i];
	}
	if (!hist) {
		for (__u32 i = 0; i < nl; i++)
			printf("%s+0x%llx %s %s\n", lines[i].func, lines[i].off, lines[i].where,
			       lines[i].text ? lines[i].text : "");
		return 0;
	}
	total = count_samples(lines, nl, ks, flen, nk, calls, &inner, &read);
	qsort(order, nl, sizeof(*order), by_count);
	if (calls)
		printf("%llu samples with program %s on the stack (of %llu read), %llu of them in "
		       "what it called (counted at the line that called)\n",
		       total, argv[2], read, inner);
	else
		printf("%llu samples in program %s (of %llu read)\n", total, argv[2], read);
	for (__u32 i = 0; i < nl && order[i]->count; i++)
		printf("%6lu %5.1f%%  %-24s %-22s %s\n", order[i]->count,
		       100.0 * (double)order[i]->count / (double)total, order[i]->func, order[i]->where,
		       order[i]->text ? order[i]->text : "");
	return 0;
}
