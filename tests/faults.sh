#!/bin/sh
# faults.sh: what failures leave behind.  Two real processes through
# tests/relay, which can drop one direction of the traffic from a given
# byte on (so both sides wait in a known phase: query, digest or reveal)
# or cut the connection.  Covered: kill -9 of either side in each phase
# (the survivor exits 3), a cut mid-handshake, mid-query, mid-digest and
# mid-reveal (3, or 4 during the handshake), SIGINT and SIGTERM to either
# side (130 / 143, the other side 3 or 6), a frozen peer (--timeout: 3),
# nobody to talk to (3), output into a closed pipe (killed by SIGPIPE,
# nothing on stderr), -o and --tmpdir on a full file system (2, the peer
# 6).  Every case checks that no -o file appears, that no temporary file
# is left next to it nor in --tmpdir, and what --stats says (nothing from
# a side killed with -9).
# The same with the OT engine, in its own phase (the querier's correction
# rows, held or cut halfway): a clean run whose outputs equal the DH
# engine's, kill -9 of either side (the survivor 3, its --stats has the
# bucket sizes; the holder had not begun its digest), a cut (3 both), a byte garbled on the way up (in an
# OT_CORR frame: the holder 5, "fails authentication", the querier 6) and
# on the way down (in OT_BASE_B: the querier 5, the holder 6).
. "${SRCDIR:-.}/tests/lib.sh"
plan 111

N=4000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "key-%06d\n", i }' >"$T/keys"
FRAMES=$(( (N + 1023) / 1024 ))
# Bytes on the wire when the query phase is over (see channel.h: a 2-byte
# length, a type byte, the payload and a 16-byte tag per message).
# Up (connector to listener): handshake messages 1 (34) and 3 (80 with
# --insecure's empty context), the QUERY frames, QEND (27).
UPQ=$(( 34 + 80 + 19 * FRAMES + 32 * N + 27 ))
# Down: handshake message 2 (98), HELLO (33), the EVAL frames, HCOUNT (27).
DOWNQ=$(( 98 + 33 + 19 * FRAMES + 32 * N + 27 ))
# The digest and the reveal of N values are about 7N bytes each, so
# UPQ/2 is mid-query, DOWNQ + 2048 mid-digest and UPQ + 2048 mid-reveal.

BASE_OPTS="--insecure -q --timeout 10 --accept-timeout 30 --connect-timeout 20"
COMMON=$BASE_OPTS
# The phases cut below are the DH engine's (its long query phase); the OT
# engine has its own section, 9.
"$PSI" --help 2>&1 | grep -q -- '--engine' && COMMON="$COMMON --engine dh"
TMPDIR_OPT= STATS_OPT=
"$PSI" --help 2>&1 | grep -q -- '--tmpdir' && TMPDIR_OPT=yes
"$PSI" --help 2>&1 | grep -q -- '--stats' && STATS_OPT=yes

# wait_for FILE [-s]: up to 20 seconds for FILE to exist (-s: to be
# non-empty: the relay creates its port file before it writes the port)
wait_for() {
	_i=0 _t=${2:--e}
	while [ ! "$_t" "$1" ] && [ $_i -lt 400 ]; do sleep 0.05; _i=$((_i + 1)); done
	[ "$_t" "$1" ]
}

# start NAME CUT HOLD 'LISTENER ARGS' 'CONNECTOR ARGS': listener, relay
# (CUT: bytes or -1; HOLD: up:N, down:N or none) and connector, all in the
# background; pids in LPID, RPID, CPID; files in $T/NAME/: l.err, c.err,
# wire (the relay's record), out/ (for -o and --tmpdir).
start() {
	D=$T/$1; _cut=$2; _hold=$3; _la=$4; _ca=$5
	mkdir -p "$D/out" "$D/ltmp" "$D/ctmp"
	_lt= _ct=
	if [ -n "$TMPDIR_OPT" ]; then
		_lt="--tmpdir $D/ltmp"; _ct="--tmpdir $D/ctmp"
	fi
	if [ -n "$STATS_OPT" ]; then
		_lt="$_lt --stats $D/stats/l"; _ct="$_ct --stats $D/stats/c"
		mkdir -p "$D/stats"
	fi
	_port=$(free_port)
	# shellcheck disable=SC2086
	"$PSI" --listen "127.0.0.1:$_port" $COMMON $_lt $_la \
	    >"$D/l.stdout" 2>"$D/l.err" &
	LPID=$!
	if [ "$_hold" = none ]; then _hold=; fi
	# shellcheck disable=SC2086
	"$RELAY" "$D/port" "$_port" "$D/wire" "$_cut" $_hold 2>"$D/relay.err" &
	RPID=$!
	wait_for "$D/port" -s || diag "relay did not start"
	# shellcheck disable=SC2086
	"$PSI" --peer "127.0.0.1:$(cat "$D/port")" $COMMON $_ct $_ca \
	    >"$D/c.stdout" 2>"$D/c.err" &
	CPID=$!
}

# finish: wait for all three; statuses in L_RC and C_RC
finish() {
	wait $LPID; L_RC=$?
	wait $CPID; C_RC=$?
	wait $RPID
}

# nothing_left DESCRIPTION: no -o file, no temporary file anywhere
nothing_left() {
	_left=$(ls -A "$D/out" "$D/ltmp" "$D/ctmp" | grep -v '^$' | grep -v ':$')
	if [ -z "$_left" ]; then ok "$1: no output, no temporary file"
	else fail "$1: left behind: $(echo $_left)"; fi
}

# stats_say DESCRIPTION L_STATUS C_STATUS: what each side's --stats file
# records (- : there must be none, as after kill -9), and no temporary
# file next to them
stats_say() {
	if [ -z "$STATS_OPT" ]; then skip "$1: no --stats option"; return; fi
	_got=
	for _side in l c; do
		if [ -f "$D/stats/$_side" ]; then
			_st=$(sed -n 's/.*"exit_status": *\([0-9]*\).*/\1/p' \
			    "$D/stats/$_side")
			grep -q '"error":' "$D/stats/$_side" || _st="$_st(no error)"
		else
			_st=-
		fi
		_got="$_got $_st"
	done
	_extra=$(ls -A "$D/stats" | grep -v '^[lc]$')
	is "$1: --stats records" "${_got# }${_extra:+ + $_extra}" "$2 $3"
}

# is_one_of DESCRIPTION GOT WANT...
is_one_of() {
	_d=$1; _g=$2; shift 2
	for _w in "$@"; do
		if [ "$_g" = "$_w" ]; then ok "$_d"; return; fi
	done
	fail "$_d (got '$_g', want one of: $*)"
	sed 's/^/# l: /' "$D/l.err"; sed 's/^/# c: /' "$D/c.err"
}

# kill_in PHASE HOLD SIGNAL VICTIM: both sides wait in PHASE; send SIGNAL
# to VICTIM (l or c)
kill_in() {
	_phase=$1; _hold=$2; _sig=$3; _victim=$4
	start "$_phase-$_sig-$_victim" -1 "$_hold" \
	    "-vv -o $T/$_phase-$_sig-$_victim/out/l $T/keys" \
	    "-vv -o $T/$_phase-$_sig-$_victim/out/c $T/keys"
	wait_for "$D/wire.held" || diag "the relay never held ($_hold)"
	if [ "$_victim" = l ]; then kill -"$_sig" $LPID; else kill -"$_sig" $CPID; fi
	finish
}

# 0. A clean run through the relay: the baseline for the byte counts.
start base -1 none "-o $T/base/out/l $T/keys" "-o $T/base/out/c $T/keys"
finish
is "baseline through the relay: both exit 0" "$C_RC $L_RC" "0 0"
same_file "baseline: querier output" "$D/out/c" "$T/keys"
same_file "baseline: holder output" "$D/out/l" "$T/keys"
TOTAL=$(wc -c <"$D/wire")
check "baseline: traffic is more than the query phase plus both digests" \
    test "$TOTAL" -gt $((UPQ + DOWNQ + 8 * N))

# 1. kill -9 in each phase, either side.
for spec in query:up:$((UPQ / 2)) digest:down:$((DOWNQ + 2048)) \
    reveal:up:$((UPQ + 2048)); do
	phase=${spec%%:*}; hold=${spec#*:}
	kill_in "$phase" "$hold" KILL l
	is "$phase phase, holder killed: holder 137, querier 3" "$L_RC $C_RC" "137 3"
	nothing_left "$phase phase, holder killed"
	stats_say "$phase phase, holder killed" - 3
	kill_in "$phase" "$hold" KILL c
	is "$phase phase, querier killed: querier 137, holder 3" "$C_RC $L_RC" "137 3"
	nothing_left "$phase phase, querier killed"
	stats_say "$phase phase, querier killed" 3 -
done
# With -vv both sides say when they know both counts (the digest phase).
check "query phase: the querier had not got HCOUNT" \
    sh -c "! grep -q 'truncated to' '$T/query-KILL-l/c.err'"
check "digest phase: the querier had got HCOUNT" \
    grep -q 'truncated to' "$T/digest-KILL-l/c.err"
check "reveal phase: the holder had sent its digest" \
    grep -q 'truncated to' "$T/reveal-KILL-c/l.err"

# 2. SIGINT and SIGTERM to either side (query phase, then reveal phase).
for sig in INT TERM; do
	want=130; [ $sig = TERM ] && want=143
	kill_in query up:$((UPQ / 2)) $sig l
	is "SIG$sig to the holder: holder $want" "$L_RC" "$want"
	is_one_of "SIG$sig to the holder: querier 3 or 6" "$C_RC" 3 6
	nothing_left "SIG$sig to the holder"
	stats_say "SIG$sig to the holder" "$want" "$C_RC"
	diag "SIG$sig to the holder: the querier exited $C_RC"
	kill_in reveal up:$((UPQ + 2048)) $sig c
	is "SIG$sig to the querier (reveal): querier $want" "$C_RC" "$want"
	is_one_of "SIG$sig to the querier (reveal): holder 3 or 6" "$L_RC" 3 6
	nothing_left "SIG$sig to the querier"
	stats_say "SIG$sig to the querier" "$L_RC" "$want"
	diag "SIG$sig to the querier: the holder exited $L_RC"
done

# 3. The relay cuts the connection (a reset both ways).
for spec in handshake:60 query:$((UPQ / 2)) digest:$((UPQ + DOWNQ + 2048)) \
    reveal:$((TOTAL - 1500)); do
	phase=${spec%%:*}; at=${spec#*:}
	start "cut-$phase" "$at" none "-o $T/cut-$phase/out/l $T/keys" \
	    "-o $T/cut-$phase/out/c $T/keys"
	finish
	if [ "$phase" = handshake ]; then
		is_one_of "cut during the handshake: querier 3 or 4" "$C_RC" 3 4
		is_one_of "cut during the handshake: holder 3 or 4" "$L_RC" 3 4
	else
		is "cut mid-$phase (byte $at): both exit 3" "$C_RC $L_RC" "3 3"
	fi
	nothing_left "cut mid-$phase"
	stats_say "cut mid-$phase" "$L_RC" "$C_RC"
done

# 4. A frozen peer: the querier gives up after --timeout.
start frozen -1 up:$((UPQ / 2)) "-o $T/frozen/out/l $T/keys" \
    "--timeout 2 -o $T/frozen/out/c $T/keys"
wait_for "$D/wire.held"
kill -STOP $LPID
wait $CPID; C_RC=$?
kill -CONT $LPID
wait $LPID; L_RC=$?
wait $RPID
is "frozen holder: the querier exits 3 after --timeout" "$C_RC" 3
check "... saying the peer sent nothing for 2 seconds" \
    grep -q 'sent nothing for 2 seconds' "$D/c.err"
is "... and the holder, resumed, exits 3" "$L_RC" 3
nothing_left "frozen holder"
stats_say "frozen holder" 3 3

# 5. Nobody to talk to.
D=$T/alone; mkdir -p "$D/out" "$D/ltmp" "$D/ctmp"
"$PSI" --listen "127.0.0.1:$(free_port)" --insecure -q --accept-timeout 1 \
    -o "$D/out/l" "$T/keys" 2>"$D/l.err"
is "no peer connects within --accept-timeout: exit 3" "$?" 3
"$PSI" --peer "127.0.0.1:$(free_port)" --insecure -q --connect-timeout 1 \
    -o "$D/out/c" "$T/keys" 2>"$D/c.err"
is "no listener within --connect-timeout: exit 3" "$?" 3
check "... naming the address" grep -q 'cannot connect to 127.0.0.1:' "$D/c.err"
nothing_left "no peer"

# 6. Output into a closed pipe: the writer ends as if killed by SIGPIPE,
# quietly; the other side has its answer already or loses the connection.
# The output (240 KB) is larger than a pipe holds.
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
	printf "key-%06d-padded-so-that-the-output-is-larger-than-64k\n", i }' \
    >"$T/long"
for side in c l; do
	D=$T/pipe-$side; mkdir -p "$D"
	port=$(free_port)
	if [ $side = l ]; then
		{ "$PSI" --listen "127.0.0.1:$port" $COMMON "$T/long" 2>"$D/l.err"
		  echo $? >"$D/l.rc"; } | head -1 >"$D/head" &
		"$PSI" --peer "127.0.0.1:$port" $COMMON "$T/long" >/dev/null 2>"$D/c.err"
		echo $? >"$D/c.rc"
	else
		"$PSI" --listen "127.0.0.1:$port" $COMMON "$T/long" >/dev/null \
		    2>"$D/l.err" &
		lpid=$!
		{ "$PSI" --peer "127.0.0.1:$port" $COMMON "$T/long" 2>"$D/c.err"
		  echo $? >"$D/c.rc"; } | head -1 >"$D/head"
		wait $lpid; echo $? >"$D/l.rc"
	fi
	wait
	who=querier; [ $side = l ] && who=holder
	is "| head -1 on the $who: killed by SIGPIPE (141)" "$(cat "$D/$side.rc")" 141
	is "... head got the first record" "$(cat "$D/head")" "$(head -1 "$T/long")"
	is "... and nothing on its stderr (no 'Broken pipe')" "$(cat "$D/$side.err")" ""
	other=l; [ $side = l ] && other=c
	diag "| head -1 on the $who: the other side exited $(cat "$D/$other.rc")"
done

# 7. -o on a full file system (a 64 KiB tmpfs; needs root): exit 2 for
# the side that cannot write, 6 for its peer if it was still waiting.
FULL=$T/full
mkdir -p "$FULL"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs "$FULL" 2>/dev/null
then
	trap 'umount "$FULL" 2>/dev/null; rm -rf "$T"; kill $(jobs -p) 2>/dev/null' EXIT
	start full-l -1 none "-o $FULL/l $T/long" "-o $T/full-l/out/c $T/long"
	finish
	is "holder's -o on a full file system: holder 2, querier 6" \
	    "$L_RC $C_RC" "2 6"
	check "... the holder names the file" grep -q "$FULL/l" "$D/l.err"
	check "... the querier hears 'output error', not the path" \
	    sh -c "grep -q 'failed: output error\$' '$D/c.err' &&
		! grep -q '$FULL' '$D/c.err'"
	nothing_left "full file system, holder"
	stats_say "full file system, holder" 2 6
	is "... nothing left on the full file system" "$(ls -A "$FULL")" ""
	start full-c -1 none "-o $T/full-c/out/l $T/long" "-o $FULL/c $T/long"
	finish
	is "querier's -o on a full file system: querier 2" "$C_RC" 2
	is_one_of "... the holder 0 (done already) or 6" "$L_RC" 0 6
	diag "querier's -o on a full file system: the holder exited $L_RC"
	rm -f "$D/out/l"	# the holder may have finished: that is fine
	nothing_left "full file system, querier"
	is "... nothing left on the full file system" "$(ls -A "$FULL")" ""
	umount "$FULL"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11; do
		skip "a full file system needs root and tmpfs"
	done
fi

# 8. --tmpdir on a full file system (a 16 KiB tmpfs): the record spill of
# 400 KB of random keys does not fit.  The holder exits 2 and tells the
# querier (6), even though the querier is busy sending queries then.
if [ -n "$TMPDIR_OPT" ] && [ "$(id -u)" -eq 0 ] &&
    mount -t tmpfs -o size=16k tmpfs "$FULL" 2>/dev/null; then
	od -An -tx8 -w8 -N 400000 /dev/urandom | tr -d ' ' >"$T/random"
	D=$T/tmpfull; mkdir -p "$D/out" "$D/ltmp" "$D/ctmp" "$D/stats"
	port=$(free_port)
	"$PSI" --listen "127.0.0.1:$port" $COMMON --tmpdir "$FULL" \
	    --stats "$D/stats/l" -o "$D/out/l" "$T/random" 2>"$D/l.err" &
	LPID=$!
	"$PSI" --peer "127.0.0.1:$port" $COMMON --tmpdir "$D/ctmp" \
	    --stats "$D/stats/c" -o "$D/out/c" "$T/random" 2>"$D/c.err"
	C_RC=$?
	wait $LPID; L_RC=$?
	is "holder's --tmpdir on a full file system: holder 2, querier 6" \
	    "$L_RC $C_RC" "2 6"
	check "... the holder names the directory" \
	    grep -q "temporary file in $FULL" "$D/l.err"
	check "... the querier hears 'out of temporary space', not the path" \
	    sh -c "grep -q 'failed: out of temporary space\$' '$D/c.err' &&
		! grep -q '$FULL' '$D/c.err'"
	nothing_left "full --tmpdir"
	is "... nothing left in the full --tmpdir" "$(ls -A "$FULL")" ""
	stats_say "full --tmpdir" 2 6
	umount "$FULL"
else
	for i in 1 2 3 4 5 6; do
		skip "a full --tmpdir needs --tmpdir, root and tmpfs"
	done
fi

# 9. The OT engine.  Up: handshake (34 + 80), OT_COUNT (27), OT_PARAMS
# (43), OT_BASE_A (51), then the corrections: ceil(m / 1023) OT_CORR
# frames of 19 + 12 bytes and 64 a row, m rows (bins) in all (one bucket
# here: m from the clean run's --stats).  Down: handshake (98), HELLO
# (33), OT_COUNT (27), OT_BASE_B (19 + 16384), then the digest.
COMMON="$BASE_OPTS --engine ot"
start ot-base -1 none "-o $T/ot-base/out/l $T/keys" "-o $T/ot-base/out/c $T/keys"
finish
is "ot: a clean run through the relay: both exit 0" "$C_RC $L_RC" "0 0"
same_file "ot: querier output equals dh's" "$D/out/c" "$T/base/out/c"
same_file "ot: holder output equals dh's" "$D/out/l" "$T/base/out/l"
M=$(sed -n 's/.*"bins_per_bucket": *\([0-9]*\).*/\1/p' "$D/stats/c")
B=$(sed -n 's/.*"buckets": *\([0-9]*\).*/\1/p' "$D/stats/c")
is "ot: $N keys a side are one bucket" "$B" 1
UPC=$((34 + 80 + 27 + 43 + 51))		# up before the corrections
DOWNC=$((98 + 33 + 27 + 19 + 16384))	# down before the corrections
CORR=$(( M * 64 + ((M + 1022) / 1023) * 31 ))
check "ot: the traffic holds the corrections ($M rows) and more" \
    test "$(wc -c <"$D/wire")" -gt $((UPC + DOWNC + CORR))
MID=$((UPC + CORR / 2))			# halfway through the corrections
for v in l c; do
	kill_in ot-corr up:$MID KILL $v
	if [ $v = l ]; then
		is "ot phase, holder killed: holder 137, querier 3" "$L_RC $C_RC" "137 3"
		stats_say "ot phase, holder killed" - 3
	else
		is "ot phase, querier killed: querier 137, holder 3" "$C_RC $L_RC" "137 3"
		stats_say "ot phase, querier killed" 3 -
	fi
	nothing_left "ot phase, $v killed"
	check "... the holder had not begun its digest" \
	    sh -c "! grep -q 'truncated to' '$D/l.err'"
	s=c; [ $v = c ] && s=l
	check "... and the survivor had its bucket sizes (past OT_COUNT)" \
	    grep -q '"buckets": 1,' "$D/stats/$s"
done
start ot-cut $((UPC + DOWNC + CORR / 2)) none "-o $T/ot-cut/out/l $T/keys" \
    "-o $T/ot-cut/out/c $T/keys"
finish
is "ot: cut mid-corrections: both exit 3" "$C_RC $L_RC" "3 3"
nothing_left "ot: cut mid-corrections"
stats_say "ot: cut mid-corrections" 3 3
start ot-flipup -1 flipup:$MID "-o $T/ot-flipup/out/l $T/keys" \
    "-o $T/ot-flipup/out/c $T/keys"
finish
is "ot: a byte of an OT_CORR garbled: holder 5, querier 6" "$L_RC $C_RC" "5 6"
check "... the holder says the message fails authentication" \
    grep -q 'fails authentication (corrupted or forged)' "$D/l.err"
nothing_left "ot: OT_CORR garbled"
stats_say "ot: OT_CORR garbled" 5 6
start ot-flipdown -1 flipdown:$((DOWNC - 8000)) "-o $T/ot-flipdown/out/l $T/keys" \
    "-o $T/ot-flipdown/out/c $T/keys"
finish
is "ot: a byte of OT_BASE_B garbled: querier 5, holder 6" "$C_RC $L_RC" "5 6"
check "... the querier says the message fails authentication" \
    grep -q 'fails authentication (corrupted or forged)' "$D/c.err"
nothing_left "ot: OT_BASE_B garbled"
stats_say "ot: OT_BASE_B garbled" 6 5
done_testing
