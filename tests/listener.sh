#!/bin/sh
# listener.sh: a listener waits for its peer, and nobody else can end its
# run.  Bob listens with --peer-key alice.pub while Mallory is listed in
# his authorized_peers.  In turn: a bare connect-and-close, 1 MiB of
# garbage, an unauthorized key, Mallory's key, and a trickle of one byte a
# second, which Alice arrives behind (the busy listener keeps her queued,
# not refused).  Alice's and Bob's outputs are exact; every intruder exits
# non-zero and writes nothing; Bob's stderr has one line per intruder,
# naming its address.  The twin: with only intruders, --accept-timeout
# ends the wait with exit 3, saying every attempt was refused.  The
# handshake deadline is --timeout 2, which the trickle outlasts.  Three
# trickles at once (the others are told the listener is busy) do not keep
# Alice out; a listener busy past her --connect-timeout is exit 3.
. "${SRCDIR:-.}/tests/lib.sh"
: "${HOSTILE:=$(pwd)/tests/hostile}"
plan 20

awk 'BEGIN { for (i = 0; i < 300; i++) printf "key-%05d\n", i }' >"$T/a"
awk 'BEGIN { for (i = 150; i < 500; i++) printf "key-%05d\n", i }' >"$T/b"
expected_matches "$T/a" "$T/b" >"$T/a.want"
expected_matches "$T/b" "$T/a" >"$T/b.want"
for k in alice bob mallory stranger; do
	"$PSI" keygen -q -f "$T/$k" -C "$k" || fail "keygen $k"
done
mkdir -p "$XDG_CONFIG_HOME/psi-stream"
cp "$T/mallory.pub" "$XDG_CONFIG_HOME/psi-stream/authorized_peers"

port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" --peer-key "$T/alice.pub" \
    --timeout 2 --accept-timeout 60 -o "$T/bob.out" "$T/b" \
    >/dev/null 2>"$T/bob.err" &
bpid=$!

# intruder NAME CMD...: run it; its exit status goes to $T/NAME.rc
intruder() {
	_who=$1; shift
	"$@" </dev/null >"$T/$_who.stdout" 2>"$T/$_who.err"
	echo $? >"$T/$_who.rc"
}
# bob_lines N: wait (up to 20 s) until bob has logged N lines, so each
# intruder meets a listener that is done with the one before (one that
# arrives while a handshake lingers is told to come back, and counted in
# that handshake's line instead)
bob_lines() {
	for _i in $(seq 200); do
		[ "$(wc -l <"$T/bob.err")" -ge "$1" ] && return
		sleep 0.1
	done
}
intruder close "$HOSTILE" q-close connect "$port"
bob_lines 1
intruder garbage "$HOSTILE" q-garbage-1m connect "$port"
bob_lines 2
intruder stranger "$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 -q \
    --identity "$T/stranger" --peer-key "$T/bob.pub" -o "$T/stranger.out" "$T/a"
bob_lines 3
intruder mallory "$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 -q \
    --identity "$T/mallory" --peer-key "$T/bob.pub" -o "$T/mallory.out" "$T/a"
bob_lines 4
intruder trickle "$HOSTILE" q-trickle connect "$port" &
tpid=$!
sleep 0.5	# the trickle is being served: Alice waits in the queue
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 -q --identity "$T/alice" \
    --peer-key "$T/bob.pub" -o "$T/alice.out" "$T/a" 2>"$T/alice.err"
a_rc=$?
wait $bpid
b_rc=$?
wait $tpid

is "after five intruders, alice and bob both exit 0" "$a_rc $b_rc" "0 0"
same_file "... alice's output exact" "$T/alice.out" "$T/a.want"
same_file "... bob's output exact" "$T/bob.out" "$T/b.want"
for n in close garbage stranger mallory trickle; do
	rc=$(cat "$T/$n.rc")
	if [ "$rc" != 0 ] && [ ! -e "$T/$n.out" ] && [ ! -s "$T/$n.stdout" ]; then
		ok "intruder $n: exit $rc, nothing written"
	else
		fail "intruder $n: exit $rc, $(ls "$T/$n.out" 2>/dev/null)"
	fi
done
is "bob's stderr: one line per intruder" \
    "$(grep -c '^psi-stream: .*127\.0\.0\.1:[0-9]*.*; still listening' "$T/bob.err")" 5
sed 's/^/# bob: /' "$T/bob.err"
check "... the trickle: the handshake deadline" \
    grep -q 'did not finish the handshake within 2 seconds' "$T/bob.err"
check "... mallory: refused by name, although authorized_peers lists her" \
    grep -q "refusing .*$("$PSI" fingerprint "$T/mallory.pub" | cut -d" " -f1) is not the one given with --peer-key" \
    "$T/bob.err"
check "... nothing about a local file went to the intruders" \
    sh -c "! grep -q '$T/b' '$T/stranger.err' '$T/mallory.err'"

# Three trickles at once, with the default handshake deadline (5 s): the
# listener serves one and tells the others it is busy, so Alice, arriving
# behind them, retries until the first is dropped and gets in (before,
# she waited in the queue past her own 8 s deadline and exited 3).
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" --peer-key "$T/alice.pub" \
    --accept-timeout 60 -o "$T/bob3.out" "$T/b" >/dev/null 2>"$T/bob3.err" &
bpid=$!
for i in 1 2 3; do
	intruder "trickle3-$i" "$HOSTILE" q-trickle connect "$port" &
done
sleep 0.5
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 30 -q --identity "$T/alice" \
    --peer-key "$T/bob.pub" -o "$T/alice3.out" "$T/a" 2>"$T/alice3.err"
a_rc=$?
wait $bpid
b_rc=$?
wait
is "three trickles at once, then alice: both exit 0" "$a_rc $b_rc" "0 0"
check "... bob's line for the first trickle counts those it told to come back" \
    grep -Eq 'within 5 seconds \([0-9]+ connections? told to come back meanwhile\); still listening' "$T/bob3.err"
same_file "... alice's output exact" "$T/alice3.out" "$T/a.want"
same_file "... bob's output exact" "$T/bob3.out" "$T/b.want"
# The twin: a listener held by a trickle past the connector's
# --connect-timeout: the connector exits 3, saying the listener was busy.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" --peer-key "$T/alice.pub" \
    --accept-timeout 20 -o "$T/bob4.out" "$T/b" >/dev/null 2>"$T/bob4.err" &
bpid=$!
intruder trickle4 "$HOSTILE" q-trickle connect "$port" &
tpid=$!
sleep 0.3
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 1 -q --identity "$T/alice" \
    --peer-key "$T/bob.pub" -o "$T/alice4.out" "$T/a" 2>"$T/alice4.err"
is "a listener busy past --connect-timeout 1: the connector exits 3" "$?" 3
check "... saying it stayed busy, and wrote nothing" sh -c \
    "grep -q 'stayed busy with other connections for 1 second (--connect-timeout)' '$T/alice4.err' && test ! -e '$T/alice4.out'"
kill $bpid 2>/dev/null; wait $bpid 2>/dev/null; wait $tpid

# The twin: only an intruder, then --accept-timeout.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" --peer-key "$T/alice.pub" \
    --timeout 2 --accept-timeout 3 -o "$T/bob2.out" "$T/b" \
    >/dev/null 2>"$T/bob2.err" &
bpid=$!
intruder close2 "$HOSTILE" q-close connect "$port"
wait $bpid
is "only an intruder: bob exits 3 at --accept-timeout" "$?" 3
check "... saying every attempt was refused, and wrote nothing" sh -c \
    "grep -q 'no authenticated peer connected to 127.0.0.1:$port within 3 seconds (--accept-timeout); all attempts were refused' '$T/bob2.err' && test ! -e '$T/bob2.out'"
done_testing
