#!/bin/sh
# modes.sh: --reveal querier (the holder writes nothing), --count-only
# (each side allowed to learn it prints |X n Y| of distinct keys, as
# computed by sort -u | comm), --count-only --reveal querier, roles swapped
# with --role, on sets with duplicates, CRLF and empty lines; negative
# twins: one side --count-only alone, or both sides the same role, exit 5.
# --engine ot given on one side matches the default on the other, --engine
# dh on both sides works, dh against the default ot is exit 5 on both
# sides, each naming both engines;
# --engine ot --count-only is a usage error (exit 1) saying why; an
# engine that is not built in is a usage error (exit 1) naming the ones
# that are.
. "${SRCDIR:-.}/tests/lib.sh"
plan 31

awk 'BEGIN { for (i = 0; i < 3000; i++) {
	printf "key-%05d%s\n", i % 2400, (i % 7 == 0 ? "\r" : "");
	if (i % 500 == 0) print "" } }' >"$T/q"
awk 'BEGIN { for (i = 1800; i < 5000; i++) printf "key-%05d\n", i;
	for (i = 1800; i < 1900; i++) printf "key-%05d\n", i }' >"$T/h"
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"
distinct() { tr -d '\r' <"$1" | grep -v '^$' | sort -u; }
count=$(distinct "$T/q" >"$T/qs"; distinct "$T/h" >"$T/hs"; comm -12 "$T/qs" "$T/hs" | wc -l)

pair rq "--insecure -q --reveal querier $T/h" "--insecure -q --reveal querier $T/q"
is "--reveal querier: both exit 0" "$C_RC $L_RC" "0 0"
same_file "--reveal querier: querier output exact" "$T/rq.c.out" "$T/q.want"
is "--reveal querier: holder writes nothing" "$(wc -c <"$T/rq.l.out")" 0

pair co "--insecure -q --count-only $T/h" "--insecure -q --count-only $T/q"
is "--count-only: both exit 0" "$C_RC $L_RC" "0 0"
is "--count-only: querier prints |X n Y|" "$(cat "$T/co.c.out")" "$count"
is "--count-only: holder prints the same" "$(cat "$T/co.l.out")" "$count"
pair cm "--insecure -q --count-only --memory 8M $T/h" \
    "--insecure -q --count-only --memory 8M $T/q"
is "--count-only --memory 8M: same count" "$(cat "$T/cm.c.out")" "$count"

pair cq "--insecure -q --count-only --reveal querier $T/h" \
    "--insecure -q --count-only --reveal querier $T/q"
is "--count-only --reveal querier: both exit 0" "$C_RC $L_RC" "0 0"
is "... querier prints the count" "$(cat "$T/cq.c.out")" "$count"
is "... holder prints nothing" "$(wc -c <"$T/cq.l.out")" 0

: >"$T/empty"
pair ce "--insecure -q --count-only $T/h" "--insecure -q --count-only $T/empty"
is "--count-only, empty querier: both print 0" \
    "$(cat "$T/ce.c.out") $(cat "$T/ce.l.out")" "0 0"

pair sw "--insecure -q --role querier $T/q" "--insecure -q --role holder $T/h"
is "--role swapped: both exit 0" "$C_RC $L_RC" "0 0"
same_file "--role swapped: the querier (listener) output exact" \
    "$T/sw.l.out" "$T/q.want"
same_file "--role swapped: the holder (connector) output exact" \
    "$T/sw.c.out" "$T/h.want"

pair mix "--insecure -q --count-only $T/h" "--insecure -q --engine dh $T/q"
is "--count-only on one side only: both exit 5" "$C_RC $L_RC" "5 5"
check "... naming both settings" grep -q 'count-only' "$T/mix.c.err"
is "... and nothing printed" "$(cat "$T/mix.c.out" "$T/mix.l.out" | wc -c)" 0
pair rv "--insecure -q --reveal querier $T/h" "--insecure -q $T/q"
is "--reveal on one side only: both exit 5" "$C_RC $L_RC" "5 5"
check "... naming both values" grep -q 'peer uses --reveal querier, we use --reveal both' "$T/rv.c.err"
pair hh "--insecure -q $T/h" "--insecure -q --role holder $T/q"
is "two holders: both exit 5" "$C_RC $L_RC" "5 5"

pair en "--insecure -q --engine ot $T/h" "--insecure -q $T/q"
is "--engine ot against the default: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... querier output exact" "$T/en.c.out" "$T/q.want"
pair ed "--insecure -q --engine dh $T/h" "--insecure -q --engine dh $T/q"
is "--engine dh on both sides: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... querier output exact" "$T/ed.c.out" "$T/q.want"
pair ex "--insecure -q --engine dh $T/h" "--insecure -q $T/q"
is "--engine dh against the default ot: both exit 5" "$C_RC $L_RC" "5 5"
check "... the connector naming both engines" \
    grep -q 'peer uses --engine dh, we use --engine ot' "$T/ex.c.err"
check "... the listener naming both engines" \
    grep -q 'peer uses --engine ot, we use --engine dh' "$T/ex.l.err"
"$PSI" --insecure -q --engine ot --count-only --listen 0 "$T/h" 2>"$T/eo.err"
is "--engine ot --count-only: exit 1" "$?" 1
check "... saying why" grep -q "querier .* would see which of its keys matched" "$T/eo.err"
"$PSI" --insecure -q --engine nope --listen 0 "$T/h" 2>"$T/en.err"
is "--engine nope: exit 1" "$?" 1
check "... naming the engines built in" grep -q "no engine 'nope' (built in: dh, ot)" "$T/en.err"
done_testing
