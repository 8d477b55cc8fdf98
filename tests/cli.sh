#!/bin/sh
# cli.sh: the command-line contract: --help and usage errors (exit 1),
# unreadable input (exit 2), an unreachable peer (exit 3), a listener
# with no authorization configured (exit 1), and `prf` reproducing the
# RFC 9497 vector outputs through the real binary (and refusing bad keys).
. "${SRCDIR:-.}/tests/lib.sh"
plan 19

"$PSI" --help >"$T/help" 2>"$T/err"; rc=$?
is "--help exits 0" "$rc" 0
check "--help prints usage on stdout" grep -q '^usage: psi-stream' "$T/help"
"$PSI" --no-such-option >/dev/null 2>"$T/err"; rc=$?
is "unknown option exits 1" "$rc" 1
check "unknown option prints usage on stderr" grep -q 'usage:' "$T/err"
"$PSI" "$T/nothing" >/dev/null 2>"$T/err"; rc=$?
is "neither --listen nor --peer exits 1" "$rc" 1
"$PSI" --listen 1 --peer a:1 >/dev/null 2>"$T/err"; rc=$?
is "both --listen and --peer exits 1" "$rc" 1
"$PSI" --listen 127.0.0.1:1 --timeout abc >/dev/null 2>"$T/err"; rc=$?
is "bad --timeout exits 1" "$rc" 1

"$PSI" --listen "127.0.0.1:$(free_port)" "$T/x" >/dev/null 2>"$T/err"; rc=$?
is "listener with nobody authorized exits 1" "$rc" 1
check "... and says how to authorize a peer" grep -q -- '--peer-key' "$T/err"

port=$(free_port)
"$PSI" --peer "127.0.0.1:$port" --insecure --connect-timeout 1 "$T/help" \
    >/dev/null 2>"$T/err"; rc=$?
is "unreachable peer exits 3 after --connect-timeout" "$rc" 3
check "... naming the address" grep -q "127.0.0.1:$port" "$T/err"

"$PSI" check "$T/does-not-exist" >/dev/null 2>"$T/err"; rc=$?
is "unreadable input exits 2" "$rc" 2
check "... naming the file" grep -q 'does-not-exist' "$T/err"

# prf against RFC 9497 A.1.1 (vector key skSm; inputs 00 and 5a x 17)
vec="$SRCDIR/tests/vectors/rfc9497-ristretto255-sha512-oprf.txt"
sed -n 's/^skSm *= *//p' "$vec" >"$T/key"
printf '\000\nZZZZZZZZZZZZZZZZZ\n' >"$T/in"
sed -n 's/^Output *= *//p' "$vec" >"$T/want"
"$PSI" prf --oprf-key "$T/key" "$T/in" >"$T/got" 2>"$T/err"
same_file "prf reproduces the RFC 9497 outputs" "$T/got" "$T/want"
printf 'ZZZZZZZZZZZZZZZZz\n' | "$PSI" prf --oprf-key "$T/key" >"$T/got2"
check "prf: a different input gives a different output" \
    test "$(cat "$T/got2")" != "$(sed -n 2p "$T/want")"
printf '%064d\n' 0 >"$T/zero"
"$PSI" prf --oprf-key "$T/zero" "$T/in" >/dev/null 2>"$T/err"; rc=$?
is "prf refuses a zero key (exit 1)" "$rc" 1
printf 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n' >"$T/big"
"$PSI" prf --oprf-key "$T/big" "$T/in" >/dev/null 2>"$T/err"; rc=$?
is "prf refuses a non-canonical key (exit 1)" "$rc" 1

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
