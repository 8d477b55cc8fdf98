#!/bin/sh
# unmatched.sh: --unmatched writes the records whose key the peer does not
# have (comm -23, join -v), in input order with duplicates, on either side
# on its own, checked against awk; with --shard the shards' outputs add up
# to the unsharded one; with -z, -o and --header too.  --stats counts
# matched and unmatched records.  The holder refuses it under --reveal
# querier (it never learns the matches), and so does --count-only.
. "${SRCDIR:-.}/tests/lib.sh"
plan 16

awk 'BEGIN { for (i = 0; i < 3000; i++) printf "k%d\tq%d\n", i % 1700, i }' >"$T/q"
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "k%d\th%d\n", (i * 7) % 2600, i }' >"$T/h"
# ground truth: records of A whose field 1 is not a field 1 of B
notin() { awk -F'\t' 'NR == FNR { k[$1] = 1; next } !($1 in k)' "$2" "$1"; }
isin() { awk -F'\t' 'NR == FNR { k[$1] = 1; next } ($1 in k)' "$2" "$1"; }
notin "$T/q" "$T/h" >"$T/q.un"
notin "$T/h" "$T/q" >"$T/h.un"
isin "$T/q" "$T/h" >"$T/q.in"
check "the fixture has matches, misses and duplicates" \
    test -s "$T/q.un" -a -s "$T/q.in" -a "$(cut -f1 "$T/q.un" | sort | uniq -d | wc -l)" -gt 0

pair both "--insecure -q --key-field 1 --unmatched --stats $T/h.json $T/h" \
    "--insecure -q --key-field 1 --unmatched --stats $T/q.json $T/q"
is "--unmatched on both sides: exit 0" "$C_RC $L_RC" "0 0"
same_file "querier: exactly its records the holder lacks, in order, duplicates kept" \
    "$T/both.c.out" "$T/q.un"
same_file "holder: exactly its records the querier lacks" "$T/both.l.out" "$T/h.un"
is "--stats: matched and unmatched records" \
    "$(sed -n 's/.*"matched_records": \([0-9]*\).*/\1/p; s/.*"unmatched_records": \([0-9]*\).*/\1/p' "$T/q.json" | tr '\n' ' ')" \
    "$(wc -l <"$T/q.in" | tr -d ' ') $(wc -l <"$T/q.un" | tr -d ' ') "

pair one "--insecure -q --key-field 1 $T/h" "--insecure -q --key-field 1 --unmatched $T/q"
same_file "one side alone: the querier's complement" "$T/one.c.out" "$T/q.un"
same_file "negative: the other side, without it, gets its matches" "$T/one.l.out" \
    "$(isin "$T/h" "$T/q" >"$T/h.in"; echo "$T/h.in")"
cat "$T/one.c.out" "$T/q.in" | sort >"$T/all1"; sort "$T/q" >"$T/all2"
same_file "matches and unmatched make up the whole input" "$T/all1" "$T/all2"

# shards: the union of the shards' outputs is the unsharded output
: >"$T/sh.out"
for i in 1 2 3; do
	pair "sh$i" "--insecure -q --key-field 1 --shard $i/3 $T/h" \
	    "--insecure -q --key-field 1 --shard $i/3 --unmatched -o $T/sh$i.o $T/q"
	cat "$T/sh$i.o" >>"$T/sh.out"
done
sort "$T/sh.out" >"$T/sh.sorted"; sort "$T/q.un" >"$T/q.un.sorted"
same_file "--shard 1..3/3 with -o: the shards' unmatched add up to the whole" \
    "$T/sh.sorted" "$T/q.un.sorted"

# -z
tr '\n' '\0' <"$T/q" >"$T/qz"; tr '\n' '\0' <"$T/h" >"$T/hz"
pair z "--insecure -q -z --key-field 1 $T/hz" "--insecure -q -z --key-field 1 --unmatched $T/qz"
tr '\n' '\0' <"$T/q.un" >"$T/q.unz"
same_file "-z: the same complement, NUL-terminated" "$T/z.c.out" "$T/q.unz"

# --header: the header line first, as join --header does
printf 'id\tdata\n' | cat - "$T/q" >"$T/qh"
pair hd "--insecure -q --key-field 1 $T/h" \
    "--insecure -q --header --key-field id --unmatched $T/qh"
same_file "--header --key-field id: the header, then the complement" "$T/hd.c.out" \
    "$(printf 'id\tdata\n' | cat - "$T/q.un" >"$T/qh.want"; echo "$T/qh.want")"
pair hd2 "--insecure -q --key-field 1 $T/h" "--insecure -q --header --key-field id $T/qh"
is "... and before the matches without --unmatched" "$(head -1 "$T/hd2.c.out")" "$(printf 'id\tdata')"

# refusals
"$PSI" --listen "127.0.0.1:$(free_port)" --insecure --reveal querier \
    --unmatched "$T/h" >/dev/null 2>"$T/err"; rc=$?
is "holder with --reveal querier: --unmatched refused, exit 1" "$rc" 1
check "... saying why" grep -q 'never learns which of its records matched' "$T/err"
"$PSI" --peer "127.0.0.1:1" --insecure --reveal querier --unmatched \
    --connect-timeout 1 "$T/q" >/dev/null 2>"$T/err"; rc=$?
is "negative: the querier with --reveal querier may use it (gets to connecting: exit 3)" "$rc" 3
"$PSI" --peer "127.0.0.1:1" --insecure --count-only --unmatched "$T/q" >/dev/null 2>"$T/err"; rc=$?
is "--count-only --unmatched: exit 1" "$rc" 1
done_testing
