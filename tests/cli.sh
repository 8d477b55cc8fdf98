#!/bin/sh
# cli.sh: the command-line contract: --help and usage errors (exit 1),
# unreadable input (exit 2), an unreachable peer (exit 3), a listener
# with no authorization configured (exit 1), and `prf` reproducing the
# RFC 9497 vector outputs through the real binary (and refusing bad keys);
# keygen --oprf making keys prf takes, never over an existing file.
. "${SRCDIR:-.}/tests/lib.sh"
plan 89

"$PSI" --help >"$T/help" 2>"$T/err"; rc=$?
is "--help exits 0" "$rc" 0
check "--help prints usage on stdout" grep -q '^usage: psi-stream' "$T/help"
"$PSI" --no-such-option >/dev/null 2>"$T/err"; rc=$?
is "unknown option exits 1" "$rc" 1
is "... with two lines: what is wrong, and one Try line" \
    "$(wc -l <"$T/err" | tr -d ' '):$(sed -n 2p "$T/err")" \
    "2:Try 'psi-stream --help' for more information."
check "... the first naming the option" grep -q -- "--no-such-option" "$T/err"
"$PSI" "$T/nothing" >/dev/null 2>"$T/err"; rc=$?
is "neither --listen nor --peer exits 1" "$rc" 1
"$PSI" --listen 1 --peer a:1 >/dev/null 2>"$T/err"; rc=$?
is "both --listen and --peer exits 1" "$rc" 1
"$PSI" --listen 127.0.0.1:1 --timeout abc >/dev/null 2>"$T/err"; rc=$?
is "bad --timeout exits 1" "$rc" 1

"$PSI" --listen "127.0.0.1:$(free_port)" "$T/help" >/dev/null 2>"$T/err"; rc=$?
is "listener with nobody authorized exits 1" "$rc" 1
check "... and says how to authorize a peer" grep -q -- '--peer-key' "$T/err"

port=$(free_port)
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 1 "$T/help" \
    >/dev/null 2>"$T/err"; rc=$?
is "unreachable peer exits 3 after --connect-timeout" "$rc" 3
check "... naming the address" grep -q "127.0.0.1:$port" "$T/err"
check "... in the singular for 1 second" grep -q "in 1 second;" "$T/err"

"$PSI" check "$T/does-not-exist" >/dev/null 2>"$T/err"; rc=$?
is "unreadable input exits 2" "$rc" 2
check "... naming the file" grep -q 'does-not-exist' "$T/err"

# prf against RFC 9497 A.1.1 (vector key skSm; inputs 00 and 5a x 17)
vec="$SRCDIR/tests/vectors/rfc9497-ristretto255-sha512-oprf.txt"
sed -n 's/^skSm *= *//p' "$vec" >"$T/key"
chmod 600 "$T/key"	# a secret: refused if others may read it
printf '\000\nZZZZZZZZZZZZZZZZZ\n' >"$T/in"
sed -n 's/^Output *= *//p' "$vec" >"$T/want"
"$PSI" prf --oprf-key "$T/key" "$T/in" >"$T/got" 2>"$T/err"
same_file "prf reproduces the RFC 9497 outputs" "$T/got" "$T/want"
printf 'ZZZZZZZZZZZZZZZZz\n' | "$PSI" prf --oprf-key "$T/key" >"$T/got2"
check "prf: a different input gives a different output" \
    test "$(cat "$T/got2")" != "$(sed -n 2p "$T/want")"
printf '%064d\n' 0 >"$T/zero"
chmod 600 "$T/zero"
"$PSI" prf --oprf-key "$T/zero" "$T/in" >/dev/null 2>"$T/err"; rc=$?
is "prf refuses a zero key (exit 1)" "$rc" 1
printf 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n' >"$T/big"
chmod 600 "$T/big"
"$PSI" prf --oprf-key "$T/big" "$T/in" >/dev/null 2>"$T/err"; rc=$?
is "prf refuses a non-canonical key (exit 1)" "$rc" 1

# keygen --oprf writes a key prf takes (random bytes usually are not one)
(umask 022; exec "$PSI" keygen --oprf -f "$T/ok.key") 2>"$T/err"; rc=$?
is "keygen --oprf -f FILE: exit 0, one line saying what it wrote" \
    "$rc $(cat "$T/err")" "0 psi-stream: wrote $T/ok.key (an OPRF key for prf --oprf-key)"
is "... FILE is one line of 64 lowercase hex digits, mode 0600 under umask 022" \
    "$(grep -c '^[0-9a-f]\{64\}$' "$T/ok.key") $(wc -l <"$T/ok.key" | tr -d ' ') $(stat -c %a "$T/ok.key")" \
    "1 1 600"
"$PSI" prf --oprf-key "$T/ok.key" "$T/in" >"$T/got3" 2>"$T/err"; rc=$?
is "... prf takes it: one output per key" "$rc $(wc -l <"$T/got3" | tr -d ' ')" "0 2"
good=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	"$PSI" keygen -q --oprf -f "$T/k$i.key" &&
	    "$PSI" prf --oprf-key "$T/k$i.key" "$T/in" >/dev/null 2>&1 &&
	    good=$((good + 1))
done
# 32 random bytes pass as a canonical scalar 1 time in 16: all 20 would
# not, by chance, once in 2^80
is "... 20 fresh keys, all canonical (prf takes every one)" "$good" 20
is "... and all different" "$(cat "$T"/k*.key | sort -u | wc -l | tr -d ' ')" 20
before=$(cat "$T/ok.key")
"$PSI" keygen --oprf -f "$T/ok.key" 2>"$T/err"; rc=$?
is "negative twin: keygen --oprf over an existing FILE: exit 1, FILE kept" \
    "$rc $(cat "$T/ok.key")" "1 $before"
check "... saying it does not overwrite it" \
    grep -q "ok.key already exists; not overwriting it" "$T/err"
"$PSI" keygen --oprf 2>"$T/err"; rc=$?
is "keygen --oprf without -f: exit 1, pointing to keygen's help" \
    "$rc $(sed -n 2p "$T/err")" "1 Try 'psi-stream keygen --help' for more information."
"$PSI" keygen --oprf -f "$T/c.key" -C me 2>"$T/err"; rc=$?
is "keygen --oprf -C: exit 1, nothing written" \
    "$rc $(test -e "$T/c.key" && echo written)" "1 "
check "--help lists keygen --oprf" grep -q -- "--oprf  .*OPRF key" "$T/help"

# ---- each command takes its own options (issue 16 item 8) -------------
printf 'a\nb\n' >"$T/in2"
"$PSI" check --peer x:1 "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "check --peer is refused (exit 1), not ignored" "$rc" 1
check "... saying check does not take --peer" \
    grep -q "check does not take --peer" "$T/err"
check "... and pointing to check's own help" \
    grep -qx "Try 'psi-stream check --help' for more information." "$T/err"
"$PSI" check -o "$T/made" "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "check -o is refused (exit 1)" "$rc" 1
check "... and writes nothing" test ! -e "$T/made"
"$PSI" check --csv --key-field 1 --trim "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "negative twin: check with record options runs (exit 0)" "$rc" 0
"$PSI" prf --peer x:1 --oprf-key "$T/in2" "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "prf --peer is refused (exit 1)" "$rc" 1
"$PSI" --peer x:1 -f "$T/k" "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "a run refuses keygen's -f (exit 1)" "$rc" 1
check "... naming the command it belongs to" grep -q "psi-stream keygen" "$T/err"

"$PSI" keygen --help >"$T/kh" 2>"$T/err"; rc=$?
is "keygen --help exits 0" "$rc" 0
check "... and describes -f and -C" sh -c \
    "grep -q '^usage: psi-stream keygen' '$T/kh' && grep -q -- '-f FILE' '$T/kh' &&
    grep -q -- '-C COMMENT' '$T/kh'"
check "... without the run's options" sh -c "! grep -q -- '--peer' '$T/kh'"
"$PSI" fingerprint --help >"$T/fh" 2>"$T/err"; rc=$?
is "fingerprint --help exits 0 with its usage" \
    "$rc:$(head -1 "$T/fh")" "0:usage: psi-stream fingerprint [FILE]"
"$PSI" keygen --bogus >/dev/null 2>"$T/err"; rc=$?
is "negative twin: keygen --bogus exits 1 with keygen's Try line" \
    "$rc:$(tail -1 "$T/err")" \
    "1:Try 'psi-stream keygen --help' for more information."
"$PSI" fingerprint a b >/dev/null 2>"$T/err"; rc=$?
is "fingerprint with two arguments: exit 1, two lines" \
    "$rc:$(wc -l <"$T/err" | tr -d ' ')" "1:2"
"$PSI" --help >"$T/help"
check "--help describes keygen's -f and -C" sh -c \
    "grep -q '^  -f FILE  ' '$T/help' && grep -q '^  -C COMMENT  ' '$T/help'"

# fingerprint prints the comment, as ssh-keygen -l does
"$PSI" keygen -q -f "$T/kc" -C "alice@example.org"
"$PSI" keygen -q -f "$T/kn"
fp=$("$PSI" fingerprint "$T/kc.pub")
case $fp in
"SHA256:"?*" alice@example.org") ok "fingerprint FILE.pub prints the comment" ;;
*) fail "fingerprint FILE.pub prints the comment (got '$fp')" ;;
esac
is "fingerprint of the private key prints the same line" \
    "$("$PSI" fingerprint "$T/kc")" "$fp"
fp=$("$PSI" fingerprint "$T/kn.pub")
case $fp in
SHA256:*" "*) fail "negative twin: no comment, one word (got '$fp')" ;;
SHA256:?*) ok "negative twin: a key without a comment prints one word" ;;
*) fail "negative twin: no comment, one word (got '$fp')" ;;
esac

# --identity with the .pub file by mistake
cp "$T/kc.pub" "$T/pubcopy.pub"; chmod 644 "$T/pubcopy.pub"
"$PSI" --peer 127.0.0.1:1 --identity "$T/pubcopy.pub" "$T/in2" \
    >/dev/null 2>"$T/err"; rc=$?
is "--identity x.pub exits 1" "$rc" 1
check "... saying it is a public key and naming the private one" \
    grep -q "is a public key.*$T/pubcopy\$" "$T/err"
check "... not asking for chmod 600" sh -c "! grep -q chmod '$T/err'"
chmod 644 "$T/kn"
"$PSI" --peer 127.0.0.1:1 --identity "$T/kn" "$T/in2" >/dev/null 2>"$T/err"
check "negative twin: a private key others can read still asks for chmod 600" \
    grep -q "chmod 600" "$T/err"

# ---- the first error shown is the one to fix first --------------------
rm -rf "$XDG_CONFIG_HOME"
"$PSI" --listen 99999 "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "--listen 99999 exits 1" "$rc" 1
check "... reported as an invalid address, not as 'no peer is authorized'" \
    sh -c "grep -q \"invalid --listen address '99999'\" '$T/err' &&
    ! grep -q 'authorized' '$T/err'"
"$PSI" --peer b.example.com "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "--peer without a port exits 1" "$rc" 1
check "... and creates no identity" test ! -e "$XDG_CONFIG_HOME/psi-stream/id_x25519"
"$PSI" --peer "127.0.0.1:$(free_port)" --connect-timeout 1 "$T/in2" \
    >/dev/null 2>"$T/err"
check "negative twin: a good command line does create the identity" \
    test -e "$XDG_CONFIG_HOME/psi-stream/id_x25519"

# ---- pre-flight: local paths fail before any network work (item 1) ---
# --connect-timeout / --accept-timeout 30: a build that checked paths only
# after the network would exit 3 (or not yet) instead of 2.
port=$(free_port)
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 30 \
    "$T/in2" "$T/nosuch-input" >/dev/null 2>"$T/err"; rc=$?
is "connector, missing input, nobody listening: exit 2, not 3" "$rc" 2
check "... naming the file" grep -q "nosuch-input" "$T/err"
check "... before any connection attempt" sh -c "! grep -q connect '$T/err'"
"$PSI" --listen "127.0.0.1:$port" --insecure --accept-timeout 30 \
    "$T/nosuch-input" >/dev/null 2>"$T/err"; rc=$?
is "listener, missing input: exit 2 at once" "$rc" 2
check "... naming the file" grep -q "nosuch-input" "$T/err"
"$PSI" --listen "127.0.0.1:$port" --insecure --accept-timeout 1 \
    "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "negative twin: a listener with its input waits, then exits 3" "$rc" 3
check "... 'within 1 second', not '1 seconds'" grep -q "within 1 second (" "$T/err"
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 30 \
    -o /nonexistent/dir/x "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "querier -o /nonexistent/dir/x: exit 2 before connecting" "$rc" 2
check "... naming the path" grep -q "/nonexistent/dir/x" "$T/err"
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 1 \
    -o "$T/out.txt" "$T/in2" >/dev/null 2>"$T/err"; rc=$?
is "negative twin: a good -o gets as far as connecting (exit 3)" "$rc" 3
check "... and leaves no output file" test ! -e "$T/out.txt"
for bad in "-o $T/in2/x" "--stats /nonexistent/s.json" "--stats $T" \
    "--tmpdir /nonexistent" "--tmpdir $T/in2" "$T" ; do
	# shellcheck disable=SC2086
	"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 30 \
	    $bad "$T/in2" >/dev/null 2>"$T/err"; rc=$?
	is "pre-flight: '$bad' exits 2 at once" "$rc" 2
done
if command -v gzip >/dev/null 2>&1; then
	gzip -c <"$T/in2" >"$T/in.gz"
else	# bootstrap installs gzip (tests/packaging.sh): this is the fallback
	diag "no gzip here (run ./bootstrap): in.gz is its magic by hand"
	printf '\037\213\010\000junk' >"$T/in.gz"
fi
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 30 "$T/in.gz" \
    >/dev/null 2>"$T/err"; rc=$?
is "pre-flight reads the format: a gzip input exits 2 before connecting" \
    "$rc:$(grep -c zcat "$T/err")" "2:1"
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 30 \
    --stats "$T/st.json" "$T/nosuch-input" >/dev/null 2>"$T/err"
check "a pre-flight failure still writes --stats with the error" \
    grep -q '"error": "cannot open .*nosuch-input' "$T/st.json"

# -o and --stats on a device or FIFO (-o /dev/null) write to it in place:
# the atomic rename would replace the device with a file (as root, the
# machine's /dev/null).  A FIFO stands in for the device here.
printf 'k1\nk2\nk3\n' >"$T/fa"; printf 'k2\nk3\nk4\n' >"$T/fb"
mkfifo "$T/ofifo" "$T/sfifo"
cat "$T/ofifo" >"$T/ofifo.got" & cat "$T/sfifo" >"$T/sfifo.got" &
pair fifo "-q --insecure --accept-timeout 30 $T/fb" \
    "-q --insecure -o $T/ofifo --stats $T/sfifo $T/fa"
wait
is "-o FIFO --stats FIFO: both sides exit 0" "$C_RC $L_RC" "0 0"
check "... the FIFOs are still FIFOs" test -p "$T/ofifo" -a -p "$T/sfifo"
is "... the matches went through the FIFO" "$(cat "$T/ofifo.got" | tr '\n' ' ')" "k2 k3 "
check "... and so did the summary" grep -q '"exit_status": 0' "$T/sfifo.got"
pair reg "-q --insecure --accept-timeout 30 $T/fb" "-q --insecure -o $T/oreg $T/fa"
check "negative twin: -o FILE is a regular file, replaced whole" \
    test -f "$T/oreg" -a "$(cat "$T/oreg" | wc -l)" -eq 2

# A service that is not psi-stream (accepts, says nothing) fails in
# seconds: the connector's handshake deadline (8 s), not --timeout 300
# nor --connect-timeout 300.  The twin: a real listener answers at once.
: "${RELAY:=$(pwd)/tests/relay}"
"$RELAY" --silent "$T/silent.port" 60 &
spid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/silent.port" ] && break; sleep 0.2; done
"$PSI" --peer "127.0.0.1:$(cat "$T/silent.port")" --insecure -q --timeout 300 \
    --connect-timeout 300 "$T/fa" >/dev/null 2>"$T/silent.err"; rc=$?
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
is "a silent service: exit 3 after the handshake deadline" "$rc" 3
check "... saying it did not answer within 8 seconds" \
    grep -q "did not finish the handshake within 8 seconds (it accepted the connection and said nothing" "$T/silent.err"
pair hs "-q --insecure --accept-timeout 30 $T/fb" "-q --insecure --timeout 300 $T/fa"
is "negative twin: a psi-stream listener completes the handshake" "$C_RC $L_RC" "0 0"

# A changed listener key: the warning once, not repeated by the refusal.
"$PSI" keygen -q -f "$T/ck1"; "$PSI" keygen -q -f "$T/ck2"; "$PSI" keygen -q -f "$T/ck3"
pair ck1 "-q --identity $T/ck2 --peer-key $T/ck1.pub $T/fb" "-q --identity $T/ck1 $T/fa"
port=$(free_port)
sed -i "s/^127.0.0.1:[0-9]* /127.0.0.1:$port /" "$XDG_CONFIG_HOME/psi-stream/known_peers"
"$PSI" --listen "127.0.0.1:$port" -q --identity "$T/ck3" --peer-key "$T/ck1.pub" \
    --accept-timeout 5 "$T/fb" >/dev/null 2>&1 &
"$PSI" --peer "127.0.0.1:$port" --identity "$T/ck1" --connect-timeout 20 "$T/fa" \
    >/dev/null 2>"$T/ck.err"; rc=$?
wait
is "a changed listener key: exit 4" "$rc" 4
check "... with the warning" grep -q "WARNING: the key of 127.0.0.1:$port has changed" "$T/ck.err"
is "... and the line to remove named once, not twice" \
    "$(grep -c 'remove' "$T/ck.err")" 1

# The man page's .Os names this program and version (an empty .Os makes
# groff print "BSD" in the footer).
os_ok() {	# os_ok PAGE
	test "$(sed -n 's/^\.Os //p' "$1")" = "$("$PSI" --version)"
}
check "man page .Os is 'psi-stream VERSION', as --version prints" \
    os_ok "$SRCDIR/man/psi-stream.1"
sed 's/^\.Os .*/.Os/' "$SRCDIR/man/psi-stream.1" >"$T/empty-os.1"
if os_ok "$T/empty-os.1"; then fail "... negative twin: an empty .Os is caught"
else ok "... negative twin: an empty .Os is caught"; fi
done_testing
