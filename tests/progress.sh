#!/bin/sh
# progress.sh: the --progress line in a real terminal (tmux), as a user
# sees it.  A listener waiting for its peer says so and counts down the
# --accept-timeout; a connector with nobody listening counts its attempts;
# a 50,000-record querier run from a regular file shows a percentage that
# rises and a time left that falls.  Negative twins: the same runs with
# standard error not a terminal print no progress line at all; from a
# pipe (size unknown) there is no percentage.  Ctrl-C on the waiting
# listener: "interrupted by SIGINT" is a line of its own, not followed by
# the terminal's echoed ^C; negative twin: stderr a file gets that one line
# and no empty line before it.
# The OT engine (a holder of 4,000,000 records on one thread in the
# smallest --memory, whose fingerprint sorter then spills, so that the
# phase lasts a few draws; every byte its terminal gets is recorded, so no
# redraw is missed; the run is stopped once its buckets phase has drawn
# five times): the fingerprints phase, which
# reads the input, shows the share of it read; the buckets phase counts
# buckets with a percentage that rises.  Negative twin: from a pipe the
# fingerprints phase has no percentage, the buckets phase still has one
# (it knows its total).  Skipped without tmux.
. "${SRCDIR:-.}/tests/lib.sh"
plan 20

SOCK=psi-progress-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
# One idle session for the whole test: the server then outlives the
# sessions below (a server whose last session ends exits, and a session
# started at that moment can be lost with it).
if ! command -v tmux >/dev/null 2>&1 ||
    ! tm new-session -d -s keep -x 80 -y 5 "sleep 600" 2>"$T/tmux.err"; then
	sed 's/^/# /' "$T/tmux.err" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		skip "no tmux, or it cannot start"
	done
	exit 0
fi
trap 'tm kill-server 2>/dev/null; rm -rf "$T"; kill $(jobs -p) 2>/dev/null' EXIT
# run NAME 'COMMAND': COMMAND in a fresh 150x10 terminal, kept after exit
run() {
	tm new-session -d -s "$1" -x 150 -y 10 \
	    "env XDG_CONFIG_HOME='$XDG_CONFIG_HOME' sh -c '$2'; sleep 60"
}
# screen NAME: the psi-stream lines of the terminal now (no warnings)
screen() { tm capture-pane -p -t "$1" | grep '^psi-stream: ' | grep -v 'warning:'; }
# left LINE: the seconds of "M:SS left" in LINE
left() { echo "$1" | sed -n 's/.* \([0-9]*\):\([0-9][0-9]\) left.*/\1 \2/p' |
    awk '{ print $1 * 60 + $2 }'; }
# sample NAME N: the last psi-stream line of the screen every 0.1 s, at
# most N times, until the command has printed "rc=": distinct lines
sample() {
	_i=0
	while [ "$_i" -lt "$2" ]; do
		screen "$1" | tail -1
		tm capture-pane -p -t "$1" | grep -q '^rc=' && break
		sleep 0.1
		_i=$((_i + 1))
	done | awk '$0 != prev { print; prev = $0 }'
}

# ---- a waiting listener ------------------------------------------------
port=$(free_port)
run wait "'$PSI' --listen 127.0.0.1:$port --insecure --accept-timeout 30 /dev/null"
sleep 1.5
l1=$(screen wait | tail -1)
sleep 2.2
l2=$(screen wait | tail -1)
diag "listener: '$l1' then '$l2'"
case $l1 in
"psi-stream: waiting for a peer on 127.0.0.1:$port, 0:"[0-9][0-9]" left")
	ok "a waiting listener says what it waits for and how long" ;;
*) fail "a waiting listener says what it waits for and how long (got '$l1')" ;;
esac
a=$(left "$l1"); b=$(left "$l2")
check "... and counts down (${a:-?} s, then ${b:-?} s)" \
    test -n "$a" -a -n "$b" -a "${b:-0}" -lt "${a:-0}" -a "${a:-0}" -le 30
tm kill-session -t wait

"$PSI" --listen "127.0.0.1:$(free_port)" --insecure --accept-timeout 1 \
    /dev/null >/dev/null 2>"$T/wait.err"
check "negative twin: stderr not a terminal, no waiting line" \
    sh -c "! grep -q 'waiting for' '$T/wait.err'"

# ---- Ctrl-C on a terminal ------------------------------------------------
# The terminal echoes "^C" after the waiting line; our message must not
# end in it.  (The pane stays once everything in it has died of SIGINT.)
port=$(free_port)
tm new-session -d -s intr -x 150 -y 10 \
    "env XDG_CONFIG_HOME='$XDG_CONFIG_HOME' sh -c 'stty echo echoctl; \"$PSI\" --listen 127.0.0.1:$port --insecure --accept-timeout 30 /dev/null'"
tm set-option -t intr remain-on-exit on >/dev/null
sleep 1.5
tm send-keys -t intr C-c
sleep 0.5
tm capture-pane -p -t intr | grep -v '^$' >"$T/intr.screen"
sed 's/^/# /' "$T/intr.screen"
is "Ctrl-C on a terminal: the message is a line of its own" \
    "$(grep 'interrupted' "$T/intr.screen")" "psi-stream: interrupted by SIGINT"
check "... after the waiting line, which keeps the echoed ^C" \
    grep -q "^psi-stream: waiting for a peer on .*\^C\$" "$T/intr.screen"
tm kill-session -t intr
"$PSI" --listen "127.0.0.1:$(free_port)" --insecure --accept-timeout 30 \
    /dev/null >/dev/null 2>"$T/intr.err" &
ipid=$!
sleep 0.5
kill -INT $ipid
wait $ipid
is "negative twin: SIGINT, stderr a file: exit 130, the one line alone" \
    "$? $(sed "/warning: --insecure/d" "$T/intr.err")" \
    "130 psi-stream: interrupted by SIGINT"

# ---- a connector retrying ----------------------------------------------
run conn "'$PSI' --peer 127.0.0.1:$(free_port) --insecure --connect-timeout 30 /dev/null"
sleep 2
c1=$(screen conn | tail -1)
diag "connector: '$c1'"
case $c1 in
"psi-stream: connecting to 127.0.0.1:"*", attempt "[2-9]", 0:"[0-9][0-9]" left"|\
"psi-stream: connecting to 127.0.0.1:"*", attempt "[1-9][0-9]", 0:"[0-9][0-9]" left")
	ok "a retrying connector counts its attempts and the time left" ;;
*) fail "a retrying connector counts its attempts and the time left (got '$c1')" ;;
esac
tm kill-session -t conn

# ---- 50,000 records from a regular file --------------------------------
awk 'BEGIN { for (i = 1; i <= 50000; i++) print "user" i "@example.org" }' >"$T/q"
awk 'BEGIN { for (i = 1; i <= 50000; i += 2) print "user" i "@example.org" }' >"$T/h"
port=$(free_port)
# the DH engine: its query phase is long enough to sample
"$PSI" --listen "127.0.0.1:$port" --insecure --accept-timeout 60 -q \
    --engine dh "$T/h" >"$T/h.out" 2>"$T/h.err" &
run big "'$PSI' --peer 127.0.0.1:$port --insecure -j1 --engine dh -o '$T/q.out' '$T/q'; echo rc=\$?"
sample big 120 >"$T/big.lines"
wait
sed 's/^/# /' "$T/big.lines"
grep ' query .*% .* left$' "$T/big.lines" | grep -v ' 0%  ' >"$T/pct"
n=$(wc -l <"$T/pct")
check "the query phase shows a percentage and a time left ($n samples)" test "$n" -ge 2
first=$(head -1 "$T/pct"); last=$(tail -1 "$T/pct")
p1=$(echo "$first" | sed 's/.*  \([0-9]*\)%  .*/\1/')
p2=$(echo "$last" | sed 's/.*  \([0-9]*\)%  .*/\1/')
check "... the percentage rises (${p1:-?}% to ${p2:-?}%)" \
    test -n "$p1" -a -n "$p2" -a "${p2:-0}" -gt "${p1:-0}"
a=$(left "$first"); b=$(left "$last")
check "... the time left falls (${a:-?} s to ${b:-?} s)" \
    test -n "$a" -a -n "$b" -a "${b:-1}" -le "${a:-0}"
is "... and the run is right" "$(wc -l <"$T/q.out" | tr -d ' ')" 25000

# From a pipe the size is unknown: no percentage.  (The runs use the DH
# engine, the slower one, so that each phase lasts long enough to draw.)
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure --accept-timeout 60 -q \
    --engine dh "$T/h" >"$T/h2.out" 2>&1 &
head -5000 "$T/q" >"$T/q5k"
run pipe "cat '$T/q' | '$PSI' --peer 127.0.0.1:$port --insecure -j1 --engine dh -o '$T/q2.out'; echo rc=\$?"
sample pipe 60 >"$T/pipe.lines"
wait
# Only the query phase reads the input; later phases (match, output)
# know their totals and may rightly show one.
n=$(grep -c ' query ' "$T/pipe.lines")
m=$(grep ' query ' "$T/pipe.lines" | grep -c '%')
check "negative twin: from a pipe, a query line ($n) but no percentage ($m)" \
    test "$n" -ge 1 -a "$m" -eq 0

# Not a terminal: nothing but what -q would not hide.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure --engine dh --accept-timeout 60 -q "$T/h" \
    >/dev/null 2>&1 &
"$PSI" --peer "127.0.0.1:$port" --insecure --engine dh -j1 -o "$T/q3.out" "$T/q5k" 2>"$T/q3.err"
wait
check "negative twin: stderr a file, no progress line (no \\r at all)" \
    sh -c "! grep -q \"\$(printf '\\r')\" '$T/q3.err'"

# ---- the OT engine: every draw of a holder's terminal -------------------
# record NAME 'COMMAND': COMMAND in a terminal whose output all goes to
# $T/NAME.tty (pipe-pane, set up before COMMAND starts), its pid in
# $T/NAME.pid; waits until it ends or its buckets phase has drawn 5 times,
# then stops it (the rest of the run is not what this test looks at).
record() {
	: >"$T/$1.tty"
	tm new-session -d -s "$1" -x 150 -y 10 "env XDG_CONFIG_HOME='$XDG_CONFIG_HOME' sh -c 'while [ ! -e $T/$1.go ]; do sleep 0.05; done; $2 & echo \$! >$T/$1.pid; wait \$!; echo rc=\$?'; sleep 60"
	tm pipe-pane -o -t "$1" "cat >>'$T/$1.tty'"
	touch "$T/$1.go"
	_i=0
	while ! tr '\r' '\n' <"$T/$1.tty" | grep -q '^rc=' &&
	    [ "$(draws "$1" buckets | wc -l)" -lt 5 ] && [ $_i -lt 3000 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill "$(cat "$T/$1.pid")" 2>/dev/null
	sleep 0.2
	tm kill-session -t "$1"
}
# draws NAME PHASE: the lines drawn in phase PHASE, one a line
draws() { tr '\r' '\n' <"$T/$1.tty" | grep "^psi-stream: $2 "; }
# pcts: the percentages of the lines on stdin, one a line
pcts() { sed -n 's/.*  \([0-9]*\)%  .*/\1/p'; }
# rising: the numbers on stdin never fall and end above where they begin
rising() { awk 'NR == 1 { a = $1 } $1 < p { bad = 1 } { p = $1 }
    END { exit !(NR >= 2 && !bad && p > a) }'; }

seq -f 'user%.0f@example.org' 1 4000000 >"$T/oh"
seq -f 'user%.0f@example.org' 1 2 1999 >"$T/oq"
for how in file pipe; do
	port=$(free_port)
	"$PSI" --peer "127.0.0.1:$port" --insecure -q --connect-timeout 60 \
	    -o "$T/oq.$how.out" "$T/oq" 2>"$T/oq.$how.err" &
	qpid=$!
	if [ $how = file ]; then
		record "ot$how" "\"$PSI\" --listen 127.0.0.1:$port --insecure -j1 --memory 8M --engine ot -o \"$T/oh.$how.out\" \"$T/oh\""
	else
		record "ot$how" "cat \"$T/oh\" | \"$PSI\" --listen 127.0.0.1:$port --insecure -j1 --memory 8M --engine ot -o \"$T/oh.$how.out\""
	fi
	kill $qpid 2>/dev/null
	wait
	f=$(draws "ot$how" fingerprints | wc -l)
	fp=$(draws "ot$how" fingerprints | grep -c '%')
	draws "ot$how" buckets | pcts >"$T/ot$how.bp"
	b=$(wc -l <"$T/ot$how.bp")
	draws "ot$how" '[a-zA-Z ]*' | grep -v 'warning:' | sed "s/^/# $how: /"
	if [ $how = file ]; then
		check "ot, from a file: the fingerprints phase draws ($f), each with the share read ($fp)" \
		    test "$f" -ge 1 -a "$fp" -eq "$f"
		check "... the share never falls, never over 100%" sh -c \
		    "tr '\\r' '\\n' <'$T/ot$how.tty' | grep '^psi-stream: fingerprints ' | sed -n 's/.*  \\([0-9]*\\)%  .*/\\1/p' | awk '\$1 > 100 || (NR > 1 && \$1 < p) { exit 1 } { p = \$1 }'"
	else
		check "negative twin: from a pipe, fingerprints draws ($f) but no percentage ($fp)" \
		    test "$f" -ge 1 -a "$fp" -eq 0
	fi
	check "ot, $how: the buckets phase draws a percentage that rises ($b draws)" \
	    rising <"$T/ot$how.bp"
	check "... every buckets draw has one" test "$b" -eq "$(draws "ot$how" buckets | wc -l)"
done
done_testing
