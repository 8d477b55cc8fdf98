#!/bin/sh
# keepalive.sh: a holder whose local phase is long (100,000 keys on one
# thread, about 6 s here and longer under sanitizers) does not make a
# querier with --timeout 2 give up, because busy peers send keepalives
# every 0.5 s; the negative twin: a listener that is stopped (SIGSTOP)
# does trip the querier's --timeout, exit 3.  (--timeout 1 left a loaded
# machine only half a second of slack for scheduling, and once failed.)
# The OT twin: a querier of 1,000 keys against a holder of 2,000,000 on
# one thread in the smallest --memory waits (about 2.5 s here, more under
# sanitizers) for the holder to evaluate its keys bucket by bucket and
# sort its values before the digest comes; with --timeout 2 it still
# finishes, exact, the same output as the DH engine's run above on the
# first 100,000 of those keys; the negative twin: that holder stopped in
# mid-run trips the querier's --timeout.
. "${SRCDIR:-.}/tests/lib.sh"
plan 11

awk 'BEGIN { for (i = 0; i < 100000; i++) printf "k%06d\n", i }' >"$T/h"
printf 'k000007\nk000042\nnope\n' >"$T/q"
# the DH engine: its holder phase is long enough to need keepalives
pair slow "--insecure -q -j 1 --engine dh $T/h" \
    "--insecure -q --timeout 2 --engine dh $T/q"
is "long holder phase, querier --timeout 2: both exit 0" "$C_RC $L_RC" "0 0"
is "... querier output exact" "$(cat "$T/slow.c.out")" "k000007
k000042"

port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure -q -j 1 --engine dh "$T/h" \
    >/dev/null 2>&1 &
lpid=$!
( sleep 1; kill -STOP $lpid ) &
"$PSI" --peer "127.0.0.1:$port" --insecure -q --timeout 2 --connect-timeout 20 --engine dh \
    "$T/q" >"$T/stop.out" 2>"$T/stop.err"; rc=$?
kill -CONT $lpid 2>/dev/null; kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
is "a stopped holder: querier exits 3" "$rc" 3
check "... saying the peer sent nothing for 2 seconds" grep -q 'sent nothing for 2 seconds' "$T/stop.err"
is "... and writes nothing" "$(wc -c <"$T/stop.out")" 0

# ---- the OT engine -------------------------------------------------------
awk 'BEGIN { for (i = 0; i < 2000000; i++) printf "k%06d\n", i }' >"$T/oh"
printf 'k000007\nk000042\nnope\n' >"$T/oq"
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "q%06d\n", i }' >>"$T/oq"
pair ot "--insecure -q -j 1 --memory 8M --engine ot $T/oh" \
    "--insecure -q --timeout 2 --engine ot --stats $T/ot.json $T/oq"
is "ot: the querier waits on a long holder phase, --timeout 2: both exit 0" \
    "$C_RC $L_RC" "0 0"
same_file "... querier output equals dh's" "$T/ot.c.out" "$T/slow.c.out"
is "... holder output exact" "$(cat "$T/ot.l.out")" "k000007
k000042"
diag "ot: the querier's match phase (waiting for the digest, then reading it): $(sed -n 's/.*"match": *\([0-9.]*\).*/\1/p' "$T/ot.json") s"

port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure -q -j 1 --memory 8M --engine ot \
    "$T/oh" >/dev/null 2>&1 &
lpid=$!
( sleep 1; kill -STOP $lpid ) &
"$PSI" --peer "127.0.0.1:$port" --insecure -q --timeout 2 --connect-timeout 20 --engine ot \
    "$T/oq" >"$T/ostop.out" 2>"$T/ostop.err"; rc=$?
kill -CONT $lpid 2>/dev/null; kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
is "ot: a stopped holder: querier exits 3" "$rc" 3
check "... saying the peer sent nothing for 2 seconds" grep -q 'sent nothing for 2 seconds' "$T/ostop.err"
is "... and writes nothing" "$(wc -c <"$T/ostop.out")" 0
done_testing
