#!/bin/sh
# e2e_input.sh: input formats in real runs (two processes on 127.0.0.1).
# A CSV side (--csv --header --key-field 2; quoted keys, one with a comma
# inside, one with a newline inside) against a plain-lines side gives
# exactly the expected rows on both sides, multi-line records whole; the
# lines "carol" and "line2" never match the two-line key "carol\nline2",
# which a -z side does match.  A zstd-compressed, NUL-separated, tab-field
# input gives the same outputs as its plain version.
. "${SRCDIR:-.}/tests/lib.sh"
plan 11

emails_csv "$T/c.csv"
printf 'nobody\ndave@example.com\ncarol\nline2\nbob, jr@example.com\nalice@example.com\n' >"$T/p.txt"

pair csv "--insecure -q --csv --header --key-field 2 $T/c.csv" \
    "--insecure -q $T/p.txt"
is "CSV vs lines: both exit 0" "$C_RC $L_RC" "0 0"
printf 'id,email,n\n1,"alice@example.com",10\n2,"bob, jr@example.com",20\n4,dave@example.com,40\n6,"alice@example.com",60\n' >"$T/csv.want"
same_file "CSV side: its header line, then its matching records, whole, in order" "$T/csv.l.out" "$T/csv.want"
printf 'dave@example.com\nbob, jr@example.com\nalice@example.com\n' >"$T/p.want"
same_file "lines side: its matching lines (no match for carol/line2)" \
    "$T/csv.c.out" "$T/p.want"

printf 'carol\nline2\0nobody\0' >"$T/z.bin"
pair ml "--insecure -q --csv --header --key-field 2 $T/c.csv" \
    "--insecure -q -z $T/z.bin"
is "multi-line key vs -z side: both exit 0" "$C_RC $L_RC" "0 0"
printf 'id,email,n\n3,"carol\nline2",30\n' >"$T/ml.want"
same_file "the multi-line CSV record comes out whole" "$T/ml.l.out" "$T/ml.want"
printf 'carol\nline2\0' >"$T/mlz.want"
same_file "the -z side gets its NUL-terminated record" "$T/ml.c.out" "$T/mlz.want"

# zstd, NUL-separated, tab field 2 vs the same bytes uncompressed.
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "row%d\tkey-%05d\tx\n", i, i * 3 }' |
    tr '\n' '\0' >"$T/h.bin"
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "key-%05d\n", i * 2 }' >"$T/q.txt"
if command -v zstd >/dev/null 2>&1; then
	zstd -q -o "$T/h.bin.zst" "$T/h.bin"
	pair plain "--insecure -q -z --key-field 2 $T/h.bin" "--insecure -q $T/q.txt"
	pair zst "--insecure -q -z --key-field 2 $T/h.bin.zst" "--insecure -q $T/q.txt"
	is "zstd run: both exit 0" "$C_RC $L_RC" "0 0"
	is "plain run: 1000 matches on the lines side" "$(wc -l <"$T/plain.c.out")" 1000
	is "plain run: 1000 NUL-terminated records on the -z side" \
	    "$(tr -cd '\000' <"$T/plain.l.out" | wc -c)" 1000
	same_file "zstd -z tab input: holder output as with plain input" \
	    "$T/zst.l.out" "$T/plain.l.out"
	same_file "zstd -z tab input: querier output as with plain input" \
	    "$T/zst.c.out" "$T/plain.c.out"
else
	skip "no zstd program"; skip "no zstd program"; skip "no zstd program"
	skip "no zstd program"; skip "no zstd program"
fi
done_testing
