#!/bin/sh
# gen-sql-embed.sh FILE... - an assembler file that builds the SQL migrations
# into tollgate-billing (billing/migrate.c: billing_sql_files[]), so the
# binary never looks for them on disk. Names must start with their number.
set -eu
i=0
echo '	.section .data.rel.ro,"aw"'
echo '	.balign 8'
echo '	.globl billing_sql_files'
echo 'billing_sql_files:'
for f in "$@"; do
	case "$(basename "$f")" in
	[0-9][0-9][0-9]_*.sql) ;;
	*) echo "gen-sql-embed.sh: $f: migrations are named NNN_name.sql" >&2; exit 1 ;;
	esac
	echo "	.quad name$i, body$i"
	i=$((i + 1))
done
echo '	.quad 0, 0'
echo '	.section .rodata'
i=0
for f in "$@"; do
	echo "name$i: .asciz \"$(basename "$f")\""
	echo "body$i: .incbin \"$f\""
	echo '	.byte 0'
	i=$((i + 1))
done
echo '	.section .note.GNU-stack,"",@progbits'
