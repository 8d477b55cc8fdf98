#!/bin/sh
# net.sh: networking for cron jobs (DESIGN section 5), on 127.0.0.1 and ::1
# only.  A connector started 4 s before its listener still succeeds; a
# connector with nobody listening, a name that does not resolve, a
# resolver that never answers, a peer
# that accepts and says nothing, and a listener nobody connects to all end
# in exit 3 once their timeout has passed; a connector that connects and
# says nothing is dropped at the handshake deadline and the next one served (not before, and not much after: a behaviour check
# with seconds of slack, not a benchmark); a busy port gives exit 3 and
# "cannot listen on ADDR:PORT: Address already in use"; a port freed by
# the previous run can be listened on again at once (SO_REUSEADDR); IPv6
# literals work in --listen and --peer (skipped without ::1); a holder's
# long local work does not trip a querier's short --timeout (keepalives).
# Every process here is bounded in time: timeouts of a few seconds, and
# the silent peers (tests/relay --silent/--mute) stop by themselves.
. "${SRCDIR:-.}/tests/lib.sh"
plan 33
: "${RELAY:=$(pwd)/tests/relay}"

# Sets with a known intersection for the runs that should succeed.
awk 'BEGIN { for (i = 0; i < 300; i++) printf "k%04d\n", i }' >"$T/q"
awk 'BEGIN { for (i = 200; i < 500; i++) printf "k%04d\n", i }' >"$T/h"
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"

# elapsed START: whole seconds since START (date +%s).
elapsed() { echo $(( $(date +%s) - $1 )); }
# between DESC GOT LO HI: LO <= GOT <= HI
between() {
	if [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then ok "$1 ($2 s)"
	else fail "$1 (took $2 s, want $3..$4)"; fi
}

# 1. The connector starts first and keeps retrying until the listener is up.
port=$(free_port)
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 --insecure -q "$T/q" \
    >"$T/late.c.out" 2>"$T/late.c.err" &
cpid=$!
sleep 4
"$PSI" --listen "127.0.0.1:$port" --accept-timeout 20 --insecure -q "$T/h" \
    >"$T/late.l.out" 2>"$T/late.l.err"
l_rc=$?
wait $cpid
c_rc=$?
is "connector started 4 s before the listener: both exit 0" "$c_rc $l_rc" "0 0"
same_file "... querier output exact" "$T/late.c.out" "$T/q.want"
same_file "... holder output exact" "$T/late.l.out" "$T/h.want"

# 2. The same port again right away: the first run's connection may sit in
# TIME_WAIT, which SO_REUSEADDR lets the new listener ignore.
"$PSI" --listen "127.0.0.1:$port" --accept-timeout 20 --insecure -q "$T/h" \
    >"$T/again.l.out" 2>"$T/again.l.err" &
lpid=$!
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 --insecure -q "$T/q" \
    >"$T/again.c.out" 2>"$T/again.c.err"
c_rc=$?
wait $lpid
l_rc=$?
is "the same port again at once: both exit 0" "$c_rc $l_rc" "0 0"
check "... no 'Address already in use'" \
    sh -c "! grep -q 'already in use' '$T/again.l.err'"

# 3. Nobody listens: retries for --connect-timeout, then exit 3.
port=$(free_port)
t0=$(date +%s)
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 2 --insecure -q "$T/q" \
    >/dev/null 2>"$T/refused.err"
rc=$?
t=$(elapsed "$t0")
is "nobody listening: exit 3" "$rc" 3
between "... after --connect-timeout 2, not before" "$t" 2 10
check "... the message names the address and --connect-timeout" \
    grep -q "cannot connect to 127.0.0.1:$port: Connection refused.*--connect-timeout" \
    "$T/refused.err"

# 4. A name the resolver says does not exist (EAI_NONAME) is a typo: it
# fails at once, not after --connect-timeout (30 here: a build that
# retried would say "gave up after N attempts").  The empty label makes
# the resolver library fail before sending any query, so nothing leaves
# the machine.  The twin, a temporary failure (EAI_AGAIN, from
# tests/slowdns.so for *.again.test), is retried until the timeout.
"$PSI" --peer "unresolvable..invalid:7000" --connect-timeout 30 --insecure -q \
    "$T/q" >/dev/null 2>"$T/dns.err"
rc=$?
is "unresolvable host: exit 3" "$rc" 3
check "... at once, after one lookup, naming the host" sh -c \
    "grep -q 'cannot connect to unresolvable..invalid:7000: .*(host unresolvable..invalid)' '$T/dns.err' &&
    ! grep -q 'gave up after' '$T/dns.err'"
env LD_PRELOAD="$SLOWDNS" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    timeout 120 "$PSI" --peer "peer.again.test:7000" --connect-timeout 2 \
    --insecure -q "$T/q" >/dev/null 2>"$T/again.err"
rc=$?
is "a temporary lookup failure: exit 3" "$rc" 3
check "... after retrying until --connect-timeout" \
    grep -Eq "peer.again.test:7000: .*gave up after ([2-9]|[1-9][0-9]+) attempts in 2 seconds" \
    "$T/again.err"

# 4b. A resolver that never answers (tests/slowdns.so, preloaded, hangs
# getaddrinfo() for names ending in .slow.test) is bounded by
# --connect-timeout too: the lookup runs on its own thread.  `timeout`
# only guards the suite against a hang.  The twin: the same library
# passes other names through, and a run through it finds its peer.
# Under AddressSanitizer the preloaded library comes before the ASan
# runtime, which ASan would otherwise refuse.
slow_env() {
	env LD_PRELOAD="$SLOWDNS" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
t0=$(date +%s)
slow_env timeout 120 "$PSI" --peer "peer.slow.test:7000" --connect-timeout 1 \
    --insecure -q "$T/q" >/dev/null 2>"$T/slowdns.err"
rc=$?
t=$(elapsed "$t0")
is "a resolver that never answers: exit 3" "$rc" 3
between "... after --connect-timeout 1, though the lookup never returns" "$t" 1 8
check "... the message says the lookup did not finish" \
    grep -q "cannot connect to peer.slow.test:7000: looking up peer.slow.test did not finish.*--connect-timeout" \
    "$T/slowdns.err"
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure -q "$T/h" >"$T/sd.h.out" \
    2>"$T/sd.h.err" &
hpid=$!
slow_env timeout 120 "$PSI" --peer "localhost:$port" --connect-timeout 20 \
    --insecure -q "$T/q" >"$T/sd.q.out" 2>"$T/sd.q.err"
rc=$?
wait "$hpid"
hrc=$?
is "the same resolver library, a name it passes through: exit 0" "$rc:$hrc" 0:0
same_file "... output exact" "$T/sd.q.out" "$T/q.want"

# 5. A peer that accepts and never answers the handshake.
"$RELAY" --silent "$T/silent.port" 30 &
spid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/silent.port" ] && break; sleep 0.2; done
sport=$(cat "$T/silent.port")
t0=$(date +%s)
"$PSI" --peer "127.0.0.1:$sport" --timeout 3 --connect-timeout 5 --insecure -q \
    "$T/q" >/dev/null 2>"$T/silent.err"
rc=$?
t=$(elapsed "$t0")
is "a peer that accepts and says nothing: exit 3" "$rc" 3
between "... after --timeout 3, within a few seconds more" "$t" 3 9
check "... the message names the peer and --timeout" \
    grep -q "127.0.0.1:$sport.*--timeout" "$T/silent.err"

# 6. A busy port (the silent peer still holds it).
"$PSI" --listen "127.0.0.1:$sport" --insecure -q "$T/h" >/dev/null \
    2>"$T/busy.err"
rc=$?
is "a busy port: exit 3" "$rc" 3
check "... 'cannot listen on 127.0.0.1:$sport: Address already in use'" \
    grep -qx "psi-stream: cannot listen on 127.0.0.1:$sport: Address already in use" \
    "$T/busy.err"
# The wildcard address overlaps 127.0.0.1 (expected to be refused at once;
# --accept-timeout 1 bounds the run if it were not).
"$PSI" --listen "$sport" --accept-timeout 1 --insecure -q "$T/h" >/dev/null \
    2>"$T/busy0.err"
rc=$?
is "a busy port, --listen PORT: exit 3" "$rc" 3
check "... 'cannot listen on 0.0.0.0:$sport: Address already in use'" \
    grep -qx "psi-stream: cannot listen on 0.0.0.0:$sport: Address already in use" \
    "$T/busy0.err"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# 7. The mirror image: a connector that connects and never speaks.  The
# listener drops it at the handshake deadline (--timeout 3 here), says so,
# and serves the next connection.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --timeout 3 --accept-timeout 20 --insecure \
    "$T/h" >/dev/null 2>"$T/mute.err" &
lpid=$!
t0=$(date +%s)
"$RELAY" --mute "$port" 30 &
mpid=$!
i=0
while ! grep -q 'still listening' "$T/mute.err" && [ $i -lt 150 ]; do
	sleep 0.1; i=$((i + 1))
done
t=$(elapsed "$t0")
check "a connector that says nothing: the listener drops it and listens on" \
    grep -q "127.0.0.1:[0-9]* did not finish the handshake within 3 seconds; still listening" \
    "$T/mute.err"
between "... after --timeout 3, within a few seconds more" "$t" 3 9
"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 --insecure -q "$T/q" \
    >/dev/null 2>"$T/mute.c.err"
rc=$?
wait "$lpid"
is "... and the next connector gets its answers (both exit 0)" "$rc $?" "0 0"
kill "$mpid" 2>/dev/null
wait "$mpid" 2>/dev/null

# 8. Nobody connects within --accept-timeout.
port=$(free_port)
t0=$(date +%s)
"$PSI" --listen "127.0.0.1:$port" --accept-timeout 1 --insecure -q "$T/h" \
    >/dev/null 2>"$T/accept.err"
rc=$?
t=$(elapsed "$t0")
is "nobody connects: exit 3" "$rc" 3
between "... after --accept-timeout 1" "$t" 1 6
check "... the message names the address and --accept-timeout" \
    grep -q "127.0.0.1:$port.*--accept-timeout" "$T/accept.err"

# 9. IPv6 literals.
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
then
	port=$(free_port)
	"$PSI" --listen "[::1]:$port" --accept-timeout 20 --insecure -q "$T/h" \
	    >"$T/v6.l.out" 2>"$T/v6.l.err" &
	lpid=$!
	"$PSI" --peer "[::1]:$port" --connect-timeout 20 --insecure -q "$T/q" \
	    >"$T/v6.c.out" 2>"$T/v6.c.err"
	c_rc=$?
	wait "$lpid"
	l_rc=$?
	is "IPv6 --listen '[::1]:PORT' --peer '[::1]:PORT': both exit 0" \
	    "$c_rc $l_rc" "0 0"
	same_file "... querier output exact" "$T/v6.c.out" "$T/q.want"
	same_file "... holder output exact" "$T/v6.l.out" "$T/h.want"
else
	skip "no ::1 on this machine"
	skip "no ::1 on this machine"
	skip "no ::1 on this machine"
fi

# 10. Keepalives during a long local phase: see tests/keepalive.sh.
done_testing
