# tests/lib.sh: shared helpers for the shell tests (sourced, POSIX sh).
# TAP output: call plan N first, then ok/fail/is; every test file ends with
# done_testing.  PSI_STREAM is the binary, SRCDIR the source tree; both come
# from the Makefile (AM_TESTS_ENVIRONMENT).
LC_ALL=C; export LC_ALL
: "${PSI_STREAM:=$(pwd)/src/psi-stream}"
: "${SRCDIR:=$(pwd)}"
PSI=$PSI_STREAM
T=$(mktemp -d "${TMPDIR:-/tmp}/psi-test.XXXXXX")
trap 'rm -rf "$T"; kill $(jobs -p) 2>/dev/null' EXIT
XDG_CONFIG_HOME=$T/config; export XDG_CONFIG_HOME
_n=0; _failed=0

plan() { echo "1..$1"; }
ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
fail() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }
diag() { echo "# $*"; }
# check DESCRIPTION CMD...: pass if CMD succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# is DESCRIPTION GOT WANT
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
# todo_is DESCRIPTION GOT WANT REASON: like is, for a known bug: a TAP
# TODO test (XFAIL, or XPASS once fixed), never counted as a failure here.
todo_is() {
	_n=$((_n + 1))
	if [ "$2" = "$3" ]; then echo "ok $_n - $1 # TODO $4"
	else echo "not ok $_n - $1 (got '$2', want '$3') # TODO $4"; fi
}
# same_file DESCRIPTION GOT WANT: byte-for-byte
same_file() {
	if cmp -s "$2" "$3"; then ok "$1"
	else fail "$1"; diff "$2" "$3" | head -5 | sed 's/^/# /'; fi
}
done_testing() { [ "$_failed" -eq 0 ]; }

# A port that is free right now (the listener retries on a clash anyway).
# Ports are drawn below the kernel's ephemeral range (the local ports of
# outgoing connections, which a listener cannot bind either) and must be
# unused in every state, not only free of listeners.
free_port() {
	_lo=20000 _hi=32768
	if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
		read -r _e _ </proc/sys/net/ipv4/ip_local_port_range
		[ "$_e" -gt 11024 ] && _hi=$_e && _lo=$((_e > 30000 ? _e - 12768 : 10000))
	fi
	while :; do
		p=$(( _lo + $(od -An -N2 -tu2 /dev/urandom) % (_hi - _lo) ))
		if command -v ss >/dev/null 2>&1; then
			ss -Htan "sport = :$p" 2>/dev/null | grep -q . || break
		else
			break
		fi
	done
	echo "$p"
}

# pair NAME 'LISTENER ARGS' 'CONNECTOR ARGS': run both sides on 127.0.0.1;
# outputs in $T/NAME.l.out/.c.out, stderr in .err, exit statuses in
# $L_RC and $C_RC.  Arguments are word-split (no spaces inside them).
pair() {
	_name=$1; _largs=$2; _cargs=$3
	for _try in 1 2 3; do
		_port=$(free_port)
		# shellcheck disable=SC2086
		"$PSI" --listen "127.0.0.1:$_port" $_largs \
		    >"$T/$_name.l.out" 2>"$T/$_name.l.err" &
		_lpid=$!
		# shellcheck disable=SC2086
		"$PSI" --peer "127.0.0.1:$_port" --connect-timeout 20 $_cargs \
		    >"$T/$_name.c.out" 2>"$T/$_name.c.err"
		C_RC=$?
		wait $_lpid
		L_RC=$?
		grep -q 'Address already in use' "$T/$_name.l.err" || return 0
	done
}

# expected_matches MINE THEIRS: the records of MINE (CR before LF dropped)
# whose whole line is a non-empty line of THEIRS, in MINE's order.
expected_matches() {
	awk 'NR == FNR { sub(/\r$/, ""); if ($0 != "") h[$0] = 1; next }
	     { sub(/\r$/, "") } ($0 in h)' "$2" "$1"
}

# messy_inputs Q H LEN: a querier and a holder file with what real files
# have: CRLF and LF mixed, empty lines, a duplicate, non-ASCII, invalid
# UTF-8, a LEN-byte key on both sides, no newline after the last record.
messy_inputs() {
	_long=$(awk -v n="$3" 'BEGIN { for (i = 0; i < n; i++) printf "k" }')
	{
		printf 'alice\r\n'; printf 'bob\n'; printf '\n'; printf 'bob\n'
		printf 'caf\303\251\n'; printf '%s\n' "$_long"; printf 'dave\r\n'
		printf '\377\376binary\n'; printf 'only-q\n'; printf 'eve'
	} >"$1"
	{
		printf 'eve\n'; printf '\r\n'; printf 'bob\r\n'; printf 'caf\303\251\r\n'
		printf 'only-h\n'; printf '%s\r\n' "$_long"; printf 'alice\n'
		printf 'alice\n'; printf '\377\376binary'
	} >"$2"
}

# emails_csv FILE: a CSV with a header, quoted emails in field 2 (one with
# a comma, one spanning two lines), a repeated key and one key no other
# fixture has.
emails_csv() {
	cat >"$1" <<'CSV'
id,email,n
1,"alice@example.com",10
2,"bob, jr@example.com",20
3,"carol
line2",30
4,dave@example.com,40
5,"only-csv",50
6,"alice@example.com",60
CSV
}
