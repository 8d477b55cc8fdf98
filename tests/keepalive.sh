#!/bin/sh
# keepalive.sh: a holder whose local phase is long (100,000 keys on one
# thread, about 6 s here and longer under sanitizers) does not make a
# querier with --timeout 2 give up, because busy peers send keepalives
# every 0.5 s; the negative twin: a listener that is stopped (SIGSTOP)
# does trip the querier's --timeout, exit 3.  (--timeout 1 left a loaded
# machine only half a second of slack for scheduling, and once failed.)
# The OT twin: a querier of 1,000 keys against a holder of 3,000,000 on
# one thread, its portable paths and the smallest --memory waits (about
# 3.5 s here, more under sanitizers) for the holder to evaluate its keys
# bucket by bucket and sort its values before the digest comes; with --timeout 2 it still
# finishes, exact, the same output as the DH engine's run above on the
# first 100,000 of those keys; the negative twin: that holder stopped in
# mid-run trips the querier's --timeout.
# An input pipe that pauses: a producer that says nothing for 5 s halfway
# (a database export between two tables) must not time out a peer with
# --timeout 2, on either role, with either engine, through io_uring and
# read(2): the waiting reader sends keepalives.  The stopped-holder twins
# above show that a peer that is really gone still trips the timeout.
. "${SRCDIR:-.}/tests/lib.sh"
plan 15

awk 'BEGIN { for (i = 0; i < 100000; i++) printf "k%06d\n", i }' >"$T/h"
printf 'k000007\nk000042\nnope\n' >"$T/q"
# the DH engine: its holder phase is long enough to need keepalives
pair slow "--insecure -q -j 1 --engine dh $T/h" \
    "--insecure -q --timeout 2 --engine dh $T/q"
is "long holder phase, querier --timeout 2: both exit 0" "$C_RC $L_RC" "0 0"
is "... querier output exact" "$(cat "$T/slow.c.out")" "k000007
k000042"

# stopped ENGINE HOLDER_INPUT QUERIER_INPUT [HOLDER OPTIONS]: a holder
# stopped (SIGSTOP) a second in; the querier with --timeout 2 gives up, 3.
stopped() {
	port=$(free_port)
	# shellcheck disable=SC2086
	"$PSI" --listen "127.0.0.1:$port" --insecure -q -j 1 --engine "$1" ${4:-} \
	    "$2" >/dev/null 2>&1 &
	lpid=$!
	( sleep 1; kill -STOP $lpid ) &
	"$PSI" --peer "127.0.0.1:$port" --insecure -q --timeout 2 --connect-timeout 20 \
	    --engine "$1" "$3" >"$T/$1.out" 2>"$T/$1.err"; rc=$?
	kill -CONT $lpid 2>/dev/null; kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
	is "$1: a stopped holder: querier exits 3" "$rc" 3
	check "... saying the peer sent nothing for 2 seconds" grep -q 'sent nothing for 2 seconds' "$T/$1.err"
	is "... and writes nothing" "$(wc -c <"$T/$1.out")" 0
}
stopped dh "$T/h" "$T/q"

# ---- the OT engine -------------------------------------------------------
seq -f 'k%06.0f' 0 2999999 >"$T/oh"
printf 'k000007\nk000042\nnope\n' >"$T/oq"
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "q%06d\n", i }' >>"$T/oq"
# both sides on their portable paths (the holder's work is what counts):
# about half the speed, so that the wait lasts well over --timeout on a
# fast machine too
PSI_STREAM_PORTABLE=1; export PSI_STREAM_PORTABLE
pair ot "--insecure -q -j 1 --memory 8M --engine ot $T/oh" \
    "--insecure -q --timeout 2 --engine ot --stats $T/ot.json $T/oq"
unset PSI_STREAM_PORTABLE
is "ot: the querier waits on a long holder phase, --timeout 2: both exit 0" \
    "$C_RC $L_RC" "0 0"
same_file "... querier output equals dh's" "$T/ot.c.out" "$T/slow.c.out"
is "... holder output exact" "$(cat "$T/ot.l.out")" "k000007
k000042"
diag "ot: the querier's match phase (waiting for the digest, then reading it): $(sed -n 's/.*"match": *\([0-9.]*\).*/\1/p' "$T/ot.json") s"

stopped ot "$T/oh" "$T/oq" "--memory 8M"

# ---- an input pipe that pauses --------------------------------------------
awk 'BEGIN { for (i = 0; i < 4000; i++) printf "p%05d\n", i }' >"$T/pq"
awk 'BEGIN { for (i = 2000; i < 6000; i++) printf "p%05d\n", i }' >"$T/ph"
expected_matches "$T/pq" "$T/ph" >"$T/pq.want"
expected_matches "$T/ph" "$T/pq" >"$T/ph.want"
# paused ENGINE IO ROLE: ROLE (holder or querier) reads a pipe that pauses
# 5 s after its first 1,000 records; both sides have --timeout 2.
paused() {
	_in=$T/pq _other=$T/ph _orole=holder
	[ "$3" = holder ] && { _in=$T/ph; _other=$T/pq; _orole=querier; }
	port=$(free_port)
	{ head -1000 "$_in"; sleep 5; tail -n +1001 "$_in"; } |
	PSI_STREAM_IO=$2 "$PSI" --listen "127.0.0.1:$port" --insecure -q \
	    --timeout 2 --engine "$1" --role "$3" -o "$T/p.l.out" - \
	    2>"$T/p.l.err" &
	lpid=$!
	PSI_STREAM_IO=$2 "$PSI" --peer "127.0.0.1:$port" --insecure -q \
	    --timeout 2 --connect-timeout 20 --engine "$1" --role $_orole \
	    -o "$T/p.c.out" \
	    "$_other" 2>"$T/p.c.err"; crc=$?
	wait $lpid; lrc=$?
	_lwant=$T/pq.want _cwant=$T/ph.want
	[ "$3" = holder ] && { _lwant=$T/ph.want; _cwant=$T/pq.want; }
	if [ "$lrc $crc" = "0 0" ] && cmp -s "$T/p.l.out" "$_lwant" &&
	    cmp -s "$T/p.c.out" "$_cwant"; then
		ok "$1, $2: the $3's input pauses 5 s, --timeout 2: both exit 0, exact"
	else
		fail "$1, $2: the $3's input pauses 5 s: exits $lrc $crc"
		sed 's/^/# /' "$T/p.l.err" "$T/p.c.err"
	fi
	rm -f "$T/p.l.out" "$T/p.c.out"
}
paused dh uring querier
paused ot read querier
paused dh read holder
paused ot uring holder
done_testing
