#!/bin/sh
# auth.sh: the encrypted, authenticated channel between two real processes:
# pinned keys give exact results and a third key is refused (the connector
# exits 4, the listener logs it and listens on, nothing is written), also
# when authorized_peers lists it or it knows the PSK (--peer-key is
# exclusive); PSK right and wrong; known_peers accept-new, a key recorded
# only once proven (a fake listener with the wrong PSK leaves no trace),
# then a changed key refused; --strict-peer; keygen file modes; a
# group-readable private key refused; mismatched session parameters end
# both sides with exit 5 naming both values; and a relay recording the
# wire sees none of the input keys.
. "${SRCDIR:-.}/tests/lib.sh"
plan 74

awk 'BEGIN { for (i = 0; i < 300; i++) printf "secret-key-%05d\n", i }' >"$T/a"
awk 'BEGIN { for (i = 200; i < 600; i++) printf "secret-key-%05d\n", i }' >"$T/b"
expected_matches "$T/a" "$T/b" >"$T/a.want"
expected_matches "$T/b" "$T/a" >"$T/b.want"
# refused NAME 'LISTENER ARGS' 'CONNECTOR ARGS': like pair, for a
# connector that does not get in.  The listener logs one line about it
# ("...; still listening") and keeps listening; once it has said so, it is
# stopped with SIGTERM (exit 143).  C_RC and L_RC as in pair.
refused() {
	_name=$1 _port=${4:-$(free_port)}
	# shellcheck disable=SC2086
	"$PSI" --listen "127.0.0.1:$_port" --accept-timeout 60 $2 \
	    >"$T/$_name.l.out" 2>"$T/$_name.l.err" &
	_lpid=$!
	# shellcheck disable=SC2086
	"$PSI" --peer "127.0.0.1:$_port" --connect-timeout 20 $3 \
	    >"$T/$_name.c.out" 2>"$T/$_name.c.err"
	C_RC=$?
	_i=0
	while ! grep -q 'still listening' "$T/$_name.l.err" && [ $_i -lt 100 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -TERM $_lpid
	wait $_lpid
	L_RC=$?
}

for k in alice bob mallory; do
	"$PSI" keygen -q -f "$T/$k" -C "$k" || fail "keygen $k"
done

mode=$(stat -c %a "$T/alice")
is "keygen: private key mode 0600" "$mode" 600
check "keygen: .pub is one psi-stream-x25519 line" \
    grep -qx 'psi-stream-x25519 [A-Za-z0-9+/=]* alice' "$T/alice.pub"
"$PSI" keygen -q -f "$T/alice" >/dev/null 2>"$T/err"; rc=$?
check "keygen refuses to overwrite an existing key" test "$rc" -ne 0
cp "$T/alice" "$T/loose"; chmod 640 "$T/loose"
"$PSI" fingerprint "$T/loose" >/dev/null 2>"$T/err"; rc=$?
is "a group-readable private key is refused (exit 1)" "$rc" 1
check "... with a message saying to chmod" grep -q 'chmod' "$T/err"
"$PSI" keygen -q 2>"$T/err"; rc=$?
is "keygen without -f writes the default identity (exit 0)" "$rc" 0
check "... mode 0600 under \$XDG_CONFIG_HOME/psi-stream" \
    test "$(stat -c %a "$XDG_CONFIG_HOME/psi-stream/id_x25519" 2>/dev/null)" = 600
"$PSI" keygen -q 2>"$T/err"; rc=$?
is "... and refuses to overwrite it the second time (exit 1)" "$rc" 1
fp=$("$PSI" fingerprint "$T/alice.pub")
case $fp in SHA256:?*) ok "fingerprint prints SHA256:..." ;; *) fail "fingerprint: '$fp'" ;; esac

# Pinned keys both ways.
pair pin "-q --identity $T/bob --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/alice --peer-key $T/bob.pub $T/a"
is "pinned keys: both exit 0" "$C_RC $L_RC" "0 0"
same_file "pinned keys: querier output exact" "$T/pin.c.out" "$T/a.want"
same_file "pinned keys: holder output exact" "$T/pin.l.out" "$T/b.want"

# Mallory, a third key, is refused by the listener.
refused mal "--identity $T/bob --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/mallory --peer-key $T/bob.pub $T/a"
is "third key at the listener: it exits 4, the listener listens on" \
    "$C_RC $L_RC" "4 143"
is "third key at the listener: nothing written" \
    "$(cat "$T/mal.c.out" "$T/mal.l.out" | wc -c)" 0
check "... the listener names the refused fingerprint" \
    grep -q "$("$PSI" fingerprint "$T/mallory.pub" | cut -d' ' -f1)" "$T/mal.l.err"
# The refused connector is told, from its own files (the listener tells an
# unauthenticated peer nothing), its fingerprint and the .pub line to send.
mfp=$("$PSI" fingerprint "$T/mallory.pub" | cut -d' ' -f1)
check "... the refused connector is told its own fingerprint" \
    grep -qF "our key is $mfp" "$T/mal.c.err"
check "... and the .pub file to send to the listener" \
    grep -qF "send the line in $T/mallory.pub to the peer" "$T/mal.c.err"
is "... in one line" "$(wc -l <"$T/mal.c.err")" 1
check "... twin: an admitted connector prints no such hint" \
    test ! -s "$T/pin.c.err"
cp "$T/mallory" "$T/nopub"
refused nopub "--identity $T/bob --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/nopub --peer-key $T/bob.pub $T/a"
check "... without a .pub file, the refused connector gets the line itself" \
    grep -qF "this line, for its authorized_peers or --peer-key: $(cut -d' ' -f1,2 "$T/mallory.pub")" \
    "$T/nopub.c.err"

# --peer-key is exclusive: Mallory, listed in authorized_peers, or knowing
# the PSK, is still refused by a listener that pins Alice.
cp "$T/mallory.pub" "$XDG_CONFIG_HOME/psi-stream/authorized_peers"
refused malauth "--identity $T/bob --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/mallory --peer-key $T/bob.pub $T/a"
is "authorized_peers lists mallory, bob pins alice: mallory refused (4 143)" \
    "$C_RC $L_RC" "4 143"
is "... nothing written" "$(cat "$T/malauth.c.out" "$T/malauth.l.out" | wc -c)" 0
pair malauth2 "-q --identity $T/bob $T/b" \
    "-q --identity $T/mallory --peer-key $T/bob.pub $T/a"
is "... twin: without --peer-key, authorized_peers admits mallory (0 0)" \
    "$C_RC $L_RC" "0 0"
rm -f "$XDG_CONFIG_HOME/psi-stream/authorized_peers"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$T/psk"
chmod 600 "$T/psk"
refused malpsk "--identity $T/bob --peer-key $T/alice.pub --psk-file $T/psk $T/b" \
    "-q --identity $T/mallory --peer-key $T/bob.pub --psk-file $T/psk $T/a"
is "bob pins alice with a PSK: mallory, who knows the PSK, is refused (4 143)" \
    "$C_RC $L_RC" "4 143"
refused alinopsk "--identity $T/bob --peer-key $T/alice.pub --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --peer-key $T/bob.pub $T/a"
is "... and alice without the PSK is refused too: both are needed (4 143)" \
    "$C_RC $L_RC" "4 143"
# A PSK on one side only: the connector is told so at the first attempt
# (the listener closes after message 1, or message 2 does not decrypt),
# and does not retry until --connect-timeout.
refused onlyl "--identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice $T/a"
is "PSK on the listener only: the connector exits 4" "$C_RC" 4
check "... saying the listener wants a --psk-file" \
    grep -q "closed the connection: it wants a pre-shared key (--psk-file)" "$T/onlyl.c.err"
is "... at the first attempt: the listener refused one connection" \
    "$(grep -c 'bad message 1 (no --psk-file there' "$T/onlyl.l.err")" 1
refused onlyc "--identity $T/bob --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a"
is "PSK on the connector only: it exits 4, naming the PSK" \
    "$C_RC $(grep -c 'it has no --psk-file' "$T/onlyc.c.err")" "4 1"
pair alipsk "-q --identity $T/bob --peer-key $T/alice.pub --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --peer-key $T/bob.pub --psk-file $T/psk $T/a"
is "... twin: alice with the PSK gets in (0 0)" "$C_RC $L_RC" "0 0"
same_file "... and her output is exact" "$T/alipsk.c.out" "$T/a.want"

# A listener that is not who the connector pinned.
refused imp "--identity $T/mallory --peer-key $T/alice.pub $T/b" \
    "-q --identity $T/alice --peer-key $T/bob.pub $T/a"
is "impostor listener: the connector exits 4, the listener listens on" \
    "$C_RC $L_RC" "4 143"
is "impostor listener: nothing written" \
    "$(cat "$T/imp.c.out" "$T/imp.l.out" | wc -c)" 0

# PSK, right and wrong.
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$T/psk"
printf '%s\n' 100102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$T/psk2"
chmod 600 "$T/psk" "$T/psk2"
pair psk "-q --identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a"
is "same PSK: both exit 0" "$C_RC $L_RC" "0 0"
same_file "same PSK: querier output exact" "$T/psk.c.out" "$T/a.want"
refused psk2 "--identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --psk-file $T/psk2 $T/a"
is "wrong PSK: the connector exits 4, the listener listens on" \
    "$C_RC $L_RC" "4 143"
is "wrong PSK: nothing written" "$(cat "$T/psk2.c.out" "$T/psk2.l.out" | wc -c)" 0

# known_peers: first contact recorded, then a changed key refused.
pair kp1 "-q --identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a"
check "known_peers: first contact recorded" \
    grep -q "psi-stream-x25519" "$XDG_CONFIG_HOME/psi-stream/known_peers"
sed -i 's/^[^ ]* /127.0.0.1:* /' "$XDG_CONFIG_HOME/psi-stream/known_peers"
: >"$XDG_CONFIG_HOME/psi-stream/known_peers"
refused kp2 "--identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --psk-file $T/psk --strict-peer $T/a"
is "--strict-peer with an unknown listener: connector exits 4" "$C_RC" 4
check "... and says to check the fingerprint" grep -q 'fingerprint' "$T/kp2.c.err"
_port=$(free_port)
printf '127.0.0.1:%s %s\n' "$_port" "$(cut -d' ' -f1,2 "$T/mallory.pub")" \
    >"$XDG_CONFIG_HOME/psi-stream/known_peers"
refused kp3 "--identity $T/bob --psk-file $T/psk $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a" "$_port"
is "known_peers holds another key: the connector exits 4, the listener listens on" \
    "$C_RC $L_RC" "4 143"
check "... the connector says the key changed" grep -qi 'differs\|changed' "$T/kp3.c.err"
rm -f "$XDG_CONFIG_HOME/psi-stream/known_peers"

# Trust on first use records a key only once it is proven.  A fake
# listener with the wrong PSK answers first contact: alice is refused and
# nothing is recorded; then the real bob is trusted.  The other order: bob
# first, then the fake is refused as a changed key.  Either way
# known_peers holds bob's key only.
# real_bob NAME PORT: bob and alice with the right PSK on PORT
real_bob() {
	"$PSI" --listen "127.0.0.1:$2" -q --identity "$T/bob" --psk-file \
	    "$T/psk" "$T/b" >"$T/$1.l.out" 2>"$T/$1.l.err" &
	_lpid=$!
	"$PSI" --peer "127.0.0.1:$2" -q --identity "$T/alice" --psk-file \
	    "$T/psk" --connect-timeout 20 "$T/a" >"$T/$1.c.out" 2>"$T/$1.c.err"
	C_RC=$?; wait $_lpid; L_RC=$?
}
kp=$XDG_CONFIG_HOME/psi-stream/known_peers
bobkey=$(cut -d' ' -f2 "$T/bob.pub")
rm -f "$kp"
fport=$(free_port)
refused fake1 "--identity $T/mallory --psk-file $T/psk2 $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a" "$fport"
is "first contact with a fake listener (wrong PSK): alice exits 4" "$C_RC" 4
check "... and known_peers records nothing" test ! -s "$kp"
real_bob real1 "$fport"
is "... then the real listener: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... alice's output exact" "$T/real1.c.out" "$T/a.want"
is "... known_peers holds bob's key only" \
    "$(grep -c . "$kp" 2>/dev/null) $(cut -d' ' -f3 "$kp" 2>/dev/null)" "1 $bobkey"
rm -f "$kp"
rport=$(free_port)
real_bob real2 "$rport"
is "the real listener first: both exit 0" "$C_RC $L_RC" "0 0"
refused fake2 "--identity $T/mallory --psk-file $T/psk2 $T/b" \
    "-q --identity $T/alice --psk-file $T/psk $T/a" "$rport"
is "... then the fake one: alice exits 4" "$C_RC" 4
check "... saying the key changed" grep -qi 'changed' "$T/fake2.c.err"
is "... known_peers holds bob's key only" \
    "$(grep -c . "$kp" 2>/dev/null) $(cut -d' ' -f3 "$kp" 2>/dev/null)" "1 $bobkey"
rm -f "$kp"

# Nothing local crosses to the peer: a holder whose input has a bad record
# tells the querier the class of its failure only; the path and the
# record number stay in its own message and --stats.
mkdir -p "$T/secret-project"
{ echo a; echo b; head -c 70000 /dev/zero | tr '\0' x; echo; echo c; } \
    >"$T/secret-project/customers.txt"
pair bad "--insecure -q --stats $T/bad.json $T/secret-project/customers.txt" \
    "--insecure -q $T/a"
is "a holder with a bad record: it exits 2, the querier 6" "$L_RC $C_RC" "2 6"
check "... the holder names its file and record" \
    grep -q "secret-project/customers.txt: record 3: key longer" "$T/bad.l.err"
check "... and so does its --stats" \
    grep -q '"error": ".*customers.txt: record 3' "$T/bad.json"
check "... the querier hears 'input error' and no path or record number" \
    sh -c "grep -q 'failed: input error\$' '$T/bad.c.err' &&
	! grep -Eq 'secret|customers|record' '$T/bad.c.err' ||
	{ sed 's/^/# /' '$T/bad.c.err'; false; }"

# Files keep their permissions: -o and --stats over existing 0600 files
# leave 0600 files; new ones follow the umask (077 here: 0600 too, 022:
# 0644).  A group-writable authorized_peers is refused, naming the chmod;
# a group-readable OPRF key too.
printf 'old\n' >"$T/o600"; printf '{}\n' >"$T/s600"; chmod 600 "$T/o600" "$T/s600"
pair modes "--insecure -q -o $T/o600 --stats $T/s600 $T/b" "--insecure -q $T/a"
is "-o and --stats over 0600 files: both exit 0" "$C_RC $L_RC" "0 0"
is "... -o leaves 0600, --stats leaves 0600" \
    "$(stat -c %a "$T/o600") $(stat -c %a "$T/s600")" "600 600"
same_file "... and -o holds the new output" "$T/o600" "$T/b.want"
rm -f "$T/new644" "$T/new600"
(umask 022; pair modes2 "--insecure -q -o $T/new644 $T/b" "--insecure -q $T/a")
(umask 077; pair modes3 "--insecure -q -o $T/new600 $T/b" "--insecure -q $T/a")
is "... twin: new files follow the umask (022: 644, 077: 600)" \
    "$(stat -c %a "$T/new644") $(stat -c %a "$T/new600")" "644 600"
cp "$T/alice.pub" "$XDG_CONFIG_HOME/psi-stream/authorized_peers"
chmod 664 "$XDG_CONFIG_HOME/psi-stream/authorized_peers"
"$PSI" --listen 127.0.0.1:1 --identity "$T/bob" "$T/b" >/dev/null 2>"$T/err"
is "a group-writable authorized_peers is refused (exit 1)" "$?" 1
check "... naming the file and the chmod" \
    grep -q "authorized_peers is writable by its group.*chmod go-w .*authorized_peers" "$T/err"
rm -f "$XDG_CONFIG_HOME/psi-stream/authorized_peers"
printf '%s\n' 5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e >"$T/oprf"
chmod 640 "$T/oprf"
"$PSI" prf --oprf-key "$T/oprf" "$T/a" >/dev/null 2>"$T/err"
is "prf: a group-readable --oprf-key is refused (exit 1)" "$?" 1
check "... saying by whom (its group) and chmod 600" grep -q 'readable by its group; chmod 600' "$T/err"
chmod 600 "$T/oprf"
"$PSI" prf --oprf-key "$T/oprf" "$T/a" >"$T/prf.out" 2>"$T/err"
is "... twin: mode 0600, it runs, one value per key" "$?:$(wc -l <"$T/prf.out")" "0:300"

# Few keys per shard: the counts leak where the peer's keys fall; say so.
pair shw "--insecure --shard 1/4 $T/b" "--insecure -q --shard 1/4 $T/a"
check "a shard of under 1000 keys: the listener warns about the counts" \
    grep -q "warning: shard 1/4 holds .* the per-shard counts show" "$T/shw.l.err"
pair shw2 "--insecure $T/b" "--insecure -q $T/a"
check "... twin: no warning without --shard" \
    sh -c "! grep -q 'per-shard counts' '$T/shw2.l.err'"

# Session parameters must agree.
pair norm "--insecure -q --ignore-case $T/b" "--insecure -q $T/a"
is "--ignore-case on one side only: both exit 5" "$C_RC $L_RC" "5 5"
check "... the connector names both settings" \
    grep -q 'peer uses --ignore-case, we do not' "$T/norm.c.err"
pair ctx "--insecure -q --context nightly $T/b" "--insecure -q --context weekly $T/a"
is "different --context: both exit 5" "$C_RC $L_RC" "5 5"
ctl=$(printf 'night\001ly')
pair ctxtab "--insecure -q --context $ctl $T/b" "--insecure -q --context $ctl $T/a"
is "the same --context with a control character: both exit 0" "$C_RC $L_RC" "0 0"
pair roles "--insecure -q --role querier $T/b" "--insecure -q $T/a"
is "two queriers: both exit 5" "$C_RC $L_RC" "5 5"

# What a relay sees on the wire.
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" -q --identity "$T/bob" \
    --peer-key "$T/alice.pub" "$T/b" >"$T/wire.l.out" 2>"$T/wire.l.err" &
lpid=$!
"$RELAY" "$T/relay.port" "$port" "$T/wire.rec" &
rpid=$!
i=0; while [ ! -s "$T/relay.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$PSI" --peer "127.0.0.1:$(cat "$T/relay.port")" -q --identity "$T/alice" \
    --peer-key "$T/bob.pub" "$T/a" >"$T/wire.c.out" 2>"$T/wire.c.err"
C_RC=$?; wait $lpid; L_RC=$?; wait $rpid
is "through the relay: both exit 0" "$C_RC $L_RC" "0 0"
check "the relay recorded traffic" test -s "$T/wire.rec"
check "no input key appears on the wire" \
    sh -c "! grep -a -q 'secret-key' '$T/wire.rec'"
done_testing
