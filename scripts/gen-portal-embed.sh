#!/bin/sh
# gen-portal-embed.sh FILE... - an assembler file that builds the developer
# portal's assets (dashboard-api/portal/) into tollgate-api
# (dashboard-api/portal.c: portal_files[]), so `make install` needs no
# directory of them and the files served always match the binary. Each entry
# is {name, data, length, etag}; the ETag is a quoted prefix of the file's
# SHA-256, so it changes with the content and only with it.
set -eu
i=0
echo '	.section .data.rel.ro,"aw"'
echo '	.balign 8'
echo '	.globl portal_files'
echo 'portal_files:'
for f in "$@"; do
	case "$(basename "$f")" in
	*[!A-Za-z0-9._-]* | .*)
		echo "gen-portal-embed.sh: $f: asset names are [A-Za-z0-9._-], not hidden" >&2
		exit 1
		;;
	esac
	echo "	.quad name$i, body$i, body${i}_end - body$i, etag$i"
	i=$((i + 1))
done
echo '	.quad 0, 0, 0, 0'
echo '	.section .rodata'
i=0
for f in "$@"; do
	sum=$(sha256sum "$f" | cut -c1-20)
	echo "name$i: .asciz \"$(basename "$f")\""
	echo "etag$i: .asciz \"\\\"$sum\\\"\""
	echo "body$i: .incbin \"$f\""
	echo "body${i}_end:"
	echo '	.byte 0'
	i=$((i + 1))
done
echo '	.section .note.GNU-stack,"",@progbits'
