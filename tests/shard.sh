#!/bin/sh
# shard.sh: --shard I/N (DESIGN section 5).  On generated sets with
# duplicates and messy lines (CRLF, empty lines, non-ASCII and invalid
# UTF-8 bytes, a last line without newline), three shard pairs
# (--shard 1/3, 2/3, 3/3) must together give exactly the single run: on
# both sides the union of the shard outputs equals the single run's
# output (sorted, duplicates kept), each shard's output comes in input
# order (a subsequence of the single run's output), no key is in two
# shards and every shard gets some.  Shards follow the normalised key
# (--trim --ignore-case), and --shard 1/1 is the plain run.  Negative
# twins: mismatched shards (1/3 against 2/3) and a shard on one side only
# end both sides with exit 5, each naming both values.
. "${SRCDIR:-.}/tests/lib.sh"
plan 24

# 2400 querier lines and 3600 holder lines; 900 keys in common, some of
# them twice, in a different order on each side; CRLF every 7th line,
# an empty line every 50th, non-ASCII keys every 11th.
awk 'BEGIN {
	for (i = 0; i < 2400; i++) {
		if (i % 50 == 0) printf "\n"
		if (i < 900) k = sprintf("common-%05d", i)
		else k = sprintf("q-only-%05d", i)
		if (i % 11 == 0) k = k "-caf\303\251"
		if (i % 13 == 0) k = k "-\377\376"
		printf "%s%s\n", k, (i % 7 == 0 ? "\r" : "")
		if (i % 97 == 0) printf "%s\n", k	# a duplicate
	}
	printf "common-00001"			# no final newline
}' >"$T/q"
awk 'BEGIN {
	for (i = 3599; i >= 0; i--) {
		if (i % 40 == 0) printf "\r\n"
		if (i < 900) k = sprintf("common-%05d", i)
		else k = sprintf("h-only-%05d", i)
		if (i % 11 == 0) k = k "-caf\303\251"
		if (i % 13 == 0) k = k "-\377\376"
		printf "%s%s\n", k, (i % 5 == 0 ? "\r" : "")
		if (i % 89 == 0) printf "%s\r\n", k
	}
}' >"$T/h"
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"

# subsequence PART WHOLE: every line of PART appears in WHOLE in the same
# order (greedy matching; duplicates count).
subsequence() {
	[ -s "$1" ] || return 0		# awk's NR == FNR needs a non-empty PART
	awk 'BEGIN { n = j = 0 }
	     NR == FNR { p[n++] = $0; next }
	     j < n && $0 == p[j] { j++ }
	     END { exit !(j == n) }' "$1" "$2"
}
# in_order SIDE: each shard output of SIDE (c or l) in the single run's order.
in_order() {
	for i in 1 2 3; do
		subsequence "$T/s$i.$1.out" "$T/full.$1.out" || return 1
	done
}
# all_shards_used: each querier shard output is non-empty and not everything.
all_shards_used() {
	total=$(wc -l <"$T/full.c.out")
	for i in 1 2 3; do
		n=$(wc -l <"$T/s$i.c.out")
		[ "$n" -gt 0 ] && [ "$n" -lt "$total" ] || return 1
	done
}
# disjoint A B C: no line is in two of the files.
disjoint() {
	for f in "$@"; do sort -u "$f"; done | sort | uniq -d >"$T/dups"
	[ ! -s "$T/dups" ]
}

# The single run, checked against the awk ground truth.
pair full "--insecure -q $T/h" "--insecure -q $T/q"
is "single run: both exit 0" "$C_RC $L_RC" "0 0"
same_file "single run: querier output exact" "$T/full.c.out" "$T/q.want"
same_file "single run: holder output exact" "$T/full.l.out" "$T/h.want"
check "single run: some matches are non-ASCII, some duplicated" \
    sh -c "grep -q 'caf' '$T/full.c.out' &&
	[ \$(sort '$T/full.l.out' | uniq -d | wc -l) -gt 0 ]"

# Three shard pairs, one after the other (each on its own port).
rcs=""
for i in 1 2 3; do
	pair "s$i" "--insecure -q --shard $i/3 $T/h" \
	    "--insecure -q --shard $i/3 $T/q"
	rcs="$rcs $C_RC $L_RC"
done
is "3 shard pairs: all six processes exit 0" "$rcs" " 0 0 0 0 0 0"
for side in c l; do
	name=$([ $side = c ] && echo querier || echo holder)
	cat "$T/s1.$side.out" "$T/s2.$side.out" "$T/s3.$side.out" |
	    sort >"$T/union.$side"
	sort "$T/full.$side.out" >"$T/full.$side.sorted"
	same_file "$name: union of the 3 shards = the single run (sorted)" \
	    "$T/union.$side" "$T/full.$side.sorted"
	check "$name: each shard's output is in input order" in_order "$side"
	check "$name: no key in two shards" \
	    disjoint "$T/s1.$side.out" "$T/s2.$side.out" "$T/s3.$side.out"
done
check "every shard has matches, none has them all" all_shards_used
sort -r "$T/full.c.out" | head -50 >"$T/reversed"
subsequence "$T/reversed" "$T/full.c.out"
is "negative twin of the order check: a reordered part fails it" "$?" 1

# --shard 1/1 is the plain run.
pair one "--insecure -q --shard 1/1 $T/h" "--insecure -q --shard 1/1 $T/q"
is "--shard 1/1: both exit 0" "$C_RC $L_RC" "0 0"
same_file "--shard 1/1: querier output = the single run" \
    "$T/one.c.out" "$T/full.c.out"

# Shards follow the normalised key: the same key in other case and with
# white space around it must land in the same shard on both sides.
awk 'BEGIN { for (i = 0; i < 600; i++)
	printf "  User-%04d@Example.COM\t\r\n", i }' >"$T/nq"
awk 'BEGIN { for (i = 300; i < 900; i++) printf "user-%04d@example.com\n", i }' \
    >"$T/nh"
pair nfull "--insecure -q --trim --ignore-case $T/nh" \
    "--insecure -q --trim --ignore-case $T/nq"
rcs="$C_RC $L_RC"
for i in 1 2 3; do
	pair "n$i" "--insecure -q --trim --ignore-case --shard $i/3 $T/nh" \
	    "--insecure -q --trim --ignore-case --shard $i/3 $T/nq"
	rcs="$rcs $C_RC $L_RC"
done
is "--trim --ignore-case, single and 3 shards: all exit 0" "$rcs" \
    "0 0 0 0 0 0 0 0"
cat "$T/n1.c.out" "$T/n2.c.out" "$T/n3.c.out" | sort >"$T/nunion"
sort "$T/nfull.c.out" >"$T/nfull.sorted"
is "--trim --ignore-case: the single run finds the 300 common keys" \
    "$(wc -l <"$T/nfull.c.out")" 300
same_file "--trim --ignore-case: union of shards = the single run" \
    "$T/nunion" "$T/nfull.sorted"

# Negative twins.
pair mism "--insecure -q --shard 1/3 $T/h" "--insecure -q --shard 2/3 $T/q"
is "mismatched shards (1/3 vs 2/3): both exit 5" "$C_RC $L_RC" "5 5"
check "... the listener names both values" \
    sh -c "grep -q -- '--shard 2/3' '$T/mism.l.err' &&
	grep -q -- '--shard 1/3' '$T/mism.l.err'"
check "... the connector names both values" \
    sh -c "grep -q -- '--shard 2/3' '$T/mism.c.err' &&
	grep -q -- '--shard 1/3' '$T/mism.c.err'"
pair half "--insecure -q $T/h" "--insecure -q --shard 2/3 $T/q"
is "--shard on one side only: both exit 5" "$C_RC $L_RC" "5 5"
check "... both name 'none' and 2/3" \
    sh -c "grep -q 'none' '$T/half.l.err' && grep -q '2/3' '$T/half.l.err' &&
	grep -q 'none' '$T/half.c.err' && grep -q '2/3' '$T/half.c.err'"
check "... and neither wrote anything" \
    test ! -s "$T/mism.c.out" -a ! -s "$T/mism.l.out" -a ! -s "$T/half.c.out" \
    -a ! -s "$T/half.l.out"
done_testing
