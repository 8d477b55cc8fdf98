#!/bin/sh
# maxkeys.sh: --max-peer-keys N (issue 15 item 10).  A side with
# --max-peer-keys 1000 against a 5,000-key peer exits 5 naming the limit,
# the peer exits 6, and neither writes its -o file: the querier refusing
# the holder's announced count (before matching), the holder refusing the
# querier's queries (before answering the one that goes over), and the
# holder in --count-only.  Negative twins: a limit at or above the peer's
# count changes nothing (exit 0 on both sides, outputs exact).
. "${SRCDIR:-.}/tests/lib.sh"
plan 15

awk 'BEGIN { for (i = 0; i < 5000; i++) printf "key-%05d\n", i }' >"$T/big"
awk 'BEGIN { for (i = 4000; i < 4800; i++) printf "key-%05d\n", i }' >"$T/small"
expected_matches "$T/small" "$T/big" >"$T/small.want"
expected_matches "$T/big" "$T/small" >"$T/big.want"

# refused NAME WHO: WHO (l or c) exited 5 with the limit named, the other
# side 6, and no -o file exists on either side
refused() {
	if [ "$2" = l ]; then _got="$L_RC $C_RC"; else _got="$C_RC $L_RC"; fi
	is "$1: the refusing side 5, the peer 6" "$_got" "5 6"
	check "$1: the message names the limit" \
	    grep -q 'more than --max-peer-keys 1000' "$T/$1.$2.err"
	check "$1: no output on either side" \
	    test ! -e "$T/$1.lo" -a ! -e "$T/$1.co"
}

pair q1 "--insecure -q -o $T/q1.lo $T/big" \
    "--insecure -q --max-peer-keys 1000 -o $T/q1.co $T/small"
refused q1 c
pair h1 "--insecure -q --max-peer-keys 1000 -o $T/h1.lo $T/small" \
    "--insecure -q -o $T/h1.co $T/big"
refused h1 l
pair hc "--insecure -q --count-only --max-peer-keys 1000 -o $T/hc.lo $T/small" \
    "--insecure -q --count-only -o $T/hc.co $T/big"
refused hc l

pair ok "--insecure -q --max-peer-keys 5000 -o $T/ok.lo $T/big" \
    "--insecure -q --max-peer-keys 5000 -o $T/ok.co $T/big"
is "limit equal to the count, both sides: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... querier output exact" "$T/ok.co" "$T/big"
pair hi "--insecure -q --max-peer-keys 100000 -o $T/hi.lo $T/small" \
    "--insecure -q --max-peer-keys 100000 -o $T/hi.co $T/big"
is "limit above the count: both exit 0" "$C_RC $L_RC" "0 0"
same_file "... querier output exact" "$T/hi.co" "$T/big.want"
same_file "... holder output exact" "$T/hi.lo" "$T/small.want"
"$PSI" --insecure --max-peer-keys 0 --listen 0 "$T/big" 2>"$T/zero.err"
is "--max-peer-keys 0: usage error, exit 1" "$?" 1
done_testing
