#!/bin/sh
# teardown.sh: a signal at the end of a run (issue 15, point 9).  The end
# of a run and the fatal path must not overlap: once the run is ending, a
# SIGTERM waits for its exit (fatal_claim_end), so the channel is never
# used after it is freed and --stats is written once.  Thirty runs of the
# OT engine (about 50 ms each here), each with SIGTERM sent to one side at
# a delay swept across the end of the run (0.5 to 1.2 times a clean run's
# length), alternately the listener and the connector.  Whichever moment the signal hits, the invariant holds:
# the signalled side exits 0 (the run was ending: complete output, --stats
# with exit 0) or 143 (no -o file, --stats with 143), never a crash or
# another status; its peer exits 0 with exact output, or 3 or 6 with none;
# and nothing is left in either --tmpdir.  Under ASan a use after free in
# the window would end the process with a report instead.  With the end
# unclaimed (fatal_claim_end a no-op), one run in three here failed: exit
# 143 with the output already in place.  The twin, where
# the outcome is sure: a querier whose input pipe is silent is mid-run,
# and SIGTERM gives 143 with nothing written.
. "${SRCDIR:-.}/tests/lib.sh"
plan 32

seq -f 'k%06.0f' 1 20000 >"$T/q"
seq -f 'k%06.0f' 10001 30000 >"$T/h"
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"
mkdir -p "$T/lt" "$T/ct" "$T/out"

# json_status FILE: the exit_status --stats recorded, or "invalid"
json_status() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["exit_status"])' \
	    "$1" 2>/dev/null || echo invalid
}

# side_ok RC OUT WANT STATS OKSET: RC in OKSET; output exact iff RC is 0,
# absent otherwise; --stats (if STATS is not -) records RC
side_ok() {
	case " $5 " in *" $1 "*) ;; *) echo "exit $1"; return 1 ;; esac
	if [ "$1" -eq 0 ]; then
		cmp -s "$2" "$3" || { echo "exit 0, output not exact"; return 1; }
	elif [ -e "$2" ]; then
		echo "exit $1, but $2 was written"; return 1
	fi
	if [ "$4" != - ] && [ "$(json_status "$4")" != "$1" ]; then
		echo "exit $1, --stats says $(json_status "$4")"; return 1
	fi
	return 0
}

# A clean run first: its length (this machine, this build: sanitizers
# slow it down) sets the sweep, from half of it to 1.2 times it.
port=$(free_port)
t0=$(date +%s%N)
"$PSI" --listen "127.0.0.1:$port" --insecure -q "$T/h" >/dev/null 2>&1 &
lpid=$!
"$PSI" --peer "127.0.0.1:$port" --insecure -q --connect-timeout 20 "$T/q" \
    >/dev/null 2>&1
wait $lpid
run=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "a clean run takes $run ms"

ends=0 stops=0
for i in $(seq 1 30); do
	d=$(awk -v i="$i" -v r="$run" 'BEGIN { printf "%.3f", r * (0.5 + 0.7 * i / 30) / 1000 }')
	rm -f "$T/out/"* "$T/l.json" "$T/c.json"
	port=$(free_port)
	"$PSI" --listen "127.0.0.1:$port" --insecure -q --accept-timeout 5 \
	    --tmpdir "$T/lt" --stats "$T/l.json" -o "$T/out/l" "$T/h" \
	    2>"$T/l.err" &
	lpid=$!
	"$PSI" --peer "127.0.0.1:$port" --insecure -q --tmpdir "$T/ct" \
	    --connect-timeout 5 --stats "$T/c.json" -o "$T/out/c" "$T/q" \
	    2>"$T/c.err" &
	cpid=$!
	if [ $((i % 2)) -eq 0 ]; then who=connector; victim=$cpid
	else who=listener; victim=$lpid; fi
	( sleep "$d"; kill -TERM "$victim" 2>/dev/null ) &
	kpid=$!
	wait $cpid; crc=$?
	wait $lpid; lrc=$?
	wait $kpid
	if [ $who = connector ]; then
		why=$(side_ok $crc "$T/out/c" "$T/q.want" "$T/c.json" "0 143") &&
		why=$(side_ok $lrc "$T/out/l" "$T/h.want" - "0 3 6")
		src=$crc
	else
		why=$(side_ok $lrc "$T/out/l" "$T/h.want" "$T/l.json" "0 143") &&
		why=$(side_ok $crc "$T/out/c" "$T/q.want" - "0 3 6")
		src=$lrc
	fi
	[ "$src" -eq 0 ] && ends=$((ends + 1)) || stops=$((stops + 1))
	left=$(ls -A "$T/lt" "$T/ct" | grep -v ':$' | grep -c .)
	if [ -z "$why" ] && [ "$left" -eq 0 ]; then
		ok "SIGTERM to the $who after ${d}s: exits $lrc $crc, as they must"
	else
		fail "SIGTERM to the $who after ${d}s: exits $lrc $crc: $why, $left temporary files"
		sed 's/^/# /' "$T/l.err" "$T/c.err"
	fi
done
diag "the signalled side finished $ends runs and was stopped in $stops"

# The twin: a querier that is surely mid-run (its input is a pipe that
# stays silent).
port=$(free_port)
rm -f "$T/out/"* "$T/c.json"
"$PSI" --listen "127.0.0.1:$port" --insecure -q "$T/h" >/dev/null 2>&1 &
lpid=$!
mkfifo "$T/fifo"
sleep 30 >"$T/fifo" &
spid=$!
"$PSI" --peer "127.0.0.1:$port" --insecure -q --connect-timeout 20 \
    --stats "$T/c.json" -o "$T/out/c" - <"$T/fifo" 2>"$T/c.err" &
cpid=$!
sleep 0.5
kill -TERM $cpid
wait $cpid; crc=$?
wait $lpid
kill $spid 2>/dev/null; wait $spid 2>/dev/null
is "twin: SIGTERM to a querier mid-run: 143" "$crc" 143
why=$(side_ok $crc "$T/out/c" "$T/q.want" "$T/c.json" "143")
is "... nothing written, --stats says 143" "$why" ""
done_testing
