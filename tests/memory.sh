#!/bin/sh
# memory.sh: the bounded-memory engine end to end: a budget that forces
# sorted runs on disk still gives exact outputs, --tmpdir is empty after
# success, after a failure and after kill -9; an empty side, all keys
# equal, a budget below the minimum and a record larger than the budget
# allows are handled with the documented exit statuses.  --stats counts
# the bytes really written to temporary files: more with sorted runs on
# disk than without, and 0 for a --count-only run kept in memory.
. "${SRCDIR:-.}/tests/lib.sh"
plan 31

spill_bytes() {	# spill_bytes FILE: the "spill_bytes" number of a --stats file
	sed -n 's/^ *"spill_bytes": *\([0-9][0-9]*\).*/\1/p' "$1" | head -1
}

mkdir -p "$T/tmpq" "$T/tmph"
awk 'BEGIN { for (i = 0; i < 30000; i++)
	printf "%s-%06d\tpayload %d\n", (i % 3 ? "q" : "c"), i, i }' >"$T/q"
awk 'BEGIN { for (i = 29999; i >= 0; i--)
	printf "%s-%06d\tother %d\n", (i % 3 ? "h" : "c"), i, i }' >"$T/h"
awk -F'\t' 'NR == FNR { h[$1] = 1; next } ($1 in h)' "$T/h" "$T/q" >"$T/q.want"
awk -F'\t' 'NR == FNR { h[$1] = 1; next } ($1 in h)' "$T/q" "$T/h" >"$T/h.want"
# The OT holder sorts three values a key: 90000 do not fit its value
# sorter's share of 8M (about 65000 of 24 bytes), 3 x 30000 do at the
# default budget.
pair runs "--insecure -vv --memory 8M --tmpdir $T/tmph --key-field 1 --stats $T/runs.l.json $T/h" \
    "--insecure -vv --memory 8M --tmpdir $T/tmpq --key-field 1 --stats $T/runs.c.json $T/q"
is "--memory 8M, 30000 x 30000: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... querier output exact" "$T/runs.c.out" "$T/q.want"
same_file "... holder output exact" "$T/runs.l.out" "$T/h.want"
runs=$(sed -n 's/.*values sorted in \([0-9]*\) runs.*/\1/p' "$T/runs.l.err")
check "... the holder's values went through sorted runs on disk ($runs)" \
    test "${runs:-0}" -ge 2
is "... nothing left in either --tmpdir" "$(find "$T/tmpq" "$T/tmph" -mindepth 1 | wc -l)" 0
pair mem "--insecure -vv --key-field 1 --stats $T/mem.l.json $T/h" \
    "--insecure -vv --key-field 1 --stats $T/mem.c.json $T/q"
same_file "negative twin: default budget sorts in memory, same output" \
    "$T/mem.l.out" "$T/h.want"
is "... with no run on disk" \
    "$(sed -n 's/.*values sorted in \([0-9]*\) runs.*/\1/p' "$T/mem.l.err")" 0

# --stats spill_bytes: the record spill alone without runs, more with them.
sq=$(spill_bytes "$T/runs.c.json"); sh=$(spill_bytes "$T/runs.l.json")
mh=$(spill_bytes "$T/mem.l.json")
diag "spill_bytes: --memory 8M querier $sq, holder $sh; default budget holder $mh"
check "--memory 8M: --stats spill_bytes > 0 on both sides ($sq, $sh)" \
    test "${sq:-0}" -gt 0 -a "${sh:-0}" -gt 0
check "... and the holder's sorted runs count: $sh > $mh without them" \
    test "${sh:-0}" -gt "${mh:-0}" -a "${mh:-0}" -gt 0
pair cnt "--insecure -q --count-only --stats $T/cnt.l.json $T/h" \
    "--insecure -q --count-only --stats $T/cnt.c.json $T/q"
is "negative twin: --count-only in memory: both exit 0" "$C_RC $L_RC" "0 0"
is "... and spill_bytes is 0 on both sides (nothing written)" \
    "$(spill_bytes "$T/cnt.c.json") $(spill_bytes "$T/cnt.l.json")" "0 0"

# Empty side.
: >"$T/empty"
pair empty "--insecure -q --memory 8M $T/h" "--insecure -q --memory 8M $T/empty"
is "empty querier: both exit 0" "$C_RC $L_RC" "0 0"
is "empty querier: both outputs empty" \
    "$(cat "$T/empty.c.out" "$T/empty.l.out" | wc -c)" 0

# All keys equal on both sides: every record matches.
awk 'BEGIN { for (i = 0; i < 3000; i++) print "same" }' >"$T/same"
pair same "--insecure -q --memory 8M $T/same" "--insecure -q --memory 8M $T/same"
is "all keys equal: both exit 0" "$C_RC $L_RC" "0 0"
same_file "all keys equal: every querier record written" "$T/same.c.out" "$T/same"
same_file "all keys equal: every holder record written" "$T/same.l.out" "$T/same"

# Budgets that cannot work.
"$PSI" --peer 127.0.0.1:1 --insecure --memory 1K "$T/q" >/dev/null 2>"$T/err"; rc=$?
is "--memory 1K: exit 1" "$rc" 1
check "... saying what the minimum is" grep -q 'at least' "$T/err"
awk 'BEGIN { printf "big\t"; for (i = 0; i < 2200000; i++) printf "x"; print "" }' >"$T/huge"
pair huge "--insecure -q --memory 8M --tmpdir $T/tmph $T/h" \
    "--insecure -q --memory 8M --tmpdir $T/tmpq --key-field 1 $T/huge"
is "a record over the longest the budget accepts: querier exits 2 (invalid input)" "$C_RC" 2
check "... naming the file and record" grep -q "huge: record 1" "$T/huge.c.err"
is "... nothing left in either --tmpdir" "$(find "$T/tmpq" "$T/tmph" -mindepth 1 | wc -l)" 0

# kill -9 in the middle: temporary files are unlinked from the start.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure -q --tmpdir "$T/tmph" "$T/h" \
    >/dev/null 2>&1 &
lpid=$!
"$PSI" --peer "127.0.0.1:$port" --insecure -q --tmpdir "$T/tmpq" \
    --connect-timeout 20 "$T/q" >/dev/null 2>&1 &
cpid=$!
sleep 1
kill -9 $cpid $lpid 2>/dev/null
wait $cpid $lpid 2>/dev/null
is "after kill -9 of both sides: nothing left in --tmpdir" \
    "$(find "$T/tmpq" "$T/tmph" -mindepth 1 | wc -l)" 0

# The reader's part of the budget is taken from the sorters', not added
# on top: a zstd input whose window is at the cap for --memory 64M (8 MiB
# of the 60 MiB the OT engine's reserve leaves), a record near the longest
# it accepts (a 32nd: 1.875 MiB) that matches, and 400,000 keys that the
# sorters spill.  The querier's peak RSS stays under 64M + 24 MiB (not
# measured under AddressSanitizer) and its output is exact; the twin,
# --memory 32M, refuses that window, naming the --memory that reads it.
if command -v zstd >/dev/null 2>&1; then
	awk 'BEGIN { for (i = 0; i < 400000; i++) printf "k%07d\tv%d\n", i, i }' >"$T/z.txt"
	{ printf 'long\t'; head -c 1900000 /dev/zero | tr '\0' y; echo; } >>"$T/z.txt"
	zstd -q --long=23 -c <"$T/z.txt" >"$T/z.zst"	# a pipe: the whole window
	{ awk 'BEGIN { for (i = 200000; i < 600000; i++) printf "k%07d\n", i }'
	  echo long; } >"$T/zh"
	awk -F'\t' 'NR == FNR { h[$1] = 1; next } ($1 in h)' "$T/zh" "$T/z.txt" >"$T/z.want"
	RSS_OK=
	if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o "$T/rss" true 2>/dev/null &&
	    ! { ldd "$PSI" 2>/dev/null | grep -q libasan; } &&
	    ! { nm "$PSI" 2>/dev/null | grep -q __asan_init; }; then
		RSS_OK=yes
	fi
	port=$(free_port)
	"$PSI" --listen "127.0.0.1:$port" --insecure -q "$T/zh" >/dev/null 2>&1 &
	lpid=$!
	if [ -n "$RSS_OK" ]; then
		/usr/bin/time -f %M -o "$T/rss" "$PSI" --peer "127.0.0.1:$port" \
		    --connect-timeout 20 --insecure -q --memory 64M --key-field 1 \
		    --tmpdir "$T/tmpq" "$T/z.zst" >"$T/z.out" 2>"$T/z.err"; rc=$?
	else
		"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 --insecure -q \
		    --memory 64M --key-field 1 --tmpdir "$T/tmpq" "$T/z.zst" \
		    >"$T/z.out" 2>"$T/z.err"; rc=$?
	fi
	wait $lpid
	is "--memory 64M, an 8 MiB zstd window and a 1.9 MB record: exit 0" "$rc" 0
	same_file "... the output is exact, the long record included" "$T/z.out" "$T/z.want"
	if [ -n "$RSS_OK" ]; then
		rss=$(tail -1 "$T/rss")
		diag "--memory 64M, window at the cap, long record: querier peak RSS $rss KiB"
		check "... peak RSS $rss KiB below 64M + 24 MiB" test "$rss" -lt $(( (64 + 24) * 1024 ))
	else
		skip "no /usr/bin/time or AddressSanitizer: no absolute RSS bound"
	fi
	"$PSI" check --memory 32M "$T/z.zst" >/dev/null 2>"$T/err"; rc=$?
	is "twin: --memory 32M refuses that window, naming --memory 36M (exit 2)" \
	    "$rc $(grep -c 'needs a 8.0 MiB window.*--memory 36M would read it' "$T/err")" "2 1"
else
	skip "no zstd (run ./bootstrap)"
	skip "no zstd (run ./bootstrap)"
	skip "no zstd (run ./bootstrap)"
	skip "no zstd (run ./bootstrap)"
fi

# An unwritable --tmpdir.
"$PSI" --listen "127.0.0.1:$(free_port)" --insecure -q \
    --tmpdir "$T/no/such/dir" --accept-timeout 1 "$T/h" >/dev/null 2>"$T/err"; rc=$?
is "missing --tmpdir: exit 2" "$rc" 2
check "... naming the directory" grep -q "$T/no/such/dir" "$T/err"

# The OT querier keeps two buckets in flight from about --memory 26M and
# emits one bucket's values while the pool computes the next: a value
# sorter that fills then must sort on the calling thread (a pool_run
# inside the engine's job was exit 7).  500,000 values at 26M fill it.
awk 'BEGIN { for (i = 0; i < 500000; i++) printf "k%07d\n", (i * 7919) % 1000003 }' >"$T/bq"
awk 'BEGIN { for (i = 0; i < 500000; i += 2) printf "k%07d\n", (i * 7919) % 1000003 }' >"$T/bh"
pair fill "--insecure -q -j 2 --memory 26M $T/bh" "--insecure -vv -j 2 --memory 26M $T/bq"
is "two buckets in flight, the value sorter fills: both exit 0" "$C_RC $L_RC" "0 0"
LC_ALL=C sort "$T/fill.c.out" >"$T/fill.got"; LC_ALL=C sort "$T/bh" >"$T/fill.want"
same_file "... the querier's output is exact (the holder's 250,000 keys)" "$T/fill.got" "$T/fill.want"
runs=$(sed -n 's/.*values sorted in \([0-9]*\) runs.*/\1/p' "$T/fill.c.err")
check "negative twin: the sorter really filled (its values in $runs runs)" \
    test "${runs:-0}" -ge 2
done_testing
