#!/bin/sh
# e2e_basic.sh: two real processes on 127.0.0.1 over generated sets with a
# known intersection (CRLF lines, a last line without newline, empty lines,
# duplicates, non-ASCII bytes, a 5000-byte key); both outputs must equal a
# ground truth made with awk, byte for byte.  Also: -o FILE is atomic,
# empty intersections and empty inputs succeed, and nothing matches when
# the two sides disagree on a key by one byte.  A failed run leaves an
# existing -o FILE as it was (as sort -o does; the man page says so);
# negative twin: a run that succeeds replaces it.
. "${SRCDIR:-.}/tests/lib.sh"
plan 18

# 3000 querier records x 5000 holder records, 1000 keys in common.
awk 'BEGIN { for (i = 0; i < 3000; i++) {
	if (i < 1000) printf "common-%06d@example.com\n", i;
	else printf "q-only-%06d\n", i } }' >"$T/q"
awk 'BEGIN { for (i = 0; i < 5000; i++) {
	if (i < 1000) printf "common-%06d@example.com\n", 999 - i;
	else printf "h-only-%06d\n", i } }' >"$T/h"
pair big "--insecure -q $T/h" "--insecure -q $T/q"
is "3000 x 5000: querier exit 0" "$C_RC" 0
is "3000 x 5000: holder exit 0" "$L_RC" 0
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"
is "3000 x 5000: 1000 common keys" "$(wc -l <"$T/q.want")" 1000
same_file "3000 x 5000: querier output exact" "$T/big.c.out" "$T/q.want"
same_file "3000 x 5000: holder output exact" "$T/big.l.out" "$T/h.want"

# The messy cases.
messy_inputs "$T/mq" "$T/mh" 5000
pair messy "--insecure -q $T/mh" "--insecure -q $T/mq"
is "messy: both exit 0" "$C_RC $L_RC" "0 0"
expected_matches "$T/mq" "$T/mh" >"$T/mq.want"
expected_matches "$T/mh" "$T/mq" >"$T/mh.want"
same_file "messy: querier output exact (duplicates kept, CR dropped)" \
    "$T/messy.c.out" "$T/mq.want"
same_file "messy: holder output exact" "$T/messy.l.out" "$T/mh.want"
is "messy: the 5000-byte key matched" \
    "$(awk 'length($0) == 5000' "$T/messy.c.out" | wc -l)" 1

# Negative twin: keys differing by one byte never match.
sed 's/$/x/' "$T/h" >"$T/hx"
pair none "--insecure -q $T/hx" "--insecure -q $T/q"
is "no common keys: both exit 0" "$C_RC $L_RC" "0 0"
is "no common keys: both outputs empty" \
    "$(cat "$T/none.c.out" "$T/none.l.out" | wc -c)" 0

# -o FILE on both sides; an empty querier input.
: >"$T/empty"
pair outf "--insecure -q -o $T/l.txt $T/h" "--insecure -q -o $T/c.txt $T/empty"
is "empty querier input: both exit 0" "$C_RC $L_RC" "0 0"
check "-o: output files exist and are empty" \
    test -f "$T/l.txt" -a ! -s "$T/l.txt" -a -f "$T/c.txt" -a ! -s "$T/c.txt"
is "-o: no temporary files left" "$(ls -A "$T" | grep -c '^\.')" 0
echo "yesterday" >"$T/c.txt"
"$PSI" --peer "127.0.0.1:$(free_port)" --insecure -q --connect-timeout 1 \
    -o "$T/c.txt" "$T/q" 2>/dev/null
is "a failed run (exit 3) leaves the old -o file as it was" \
    "$? $(cat "$T/c.txt")" "3 yesterday"
is "... and no temporary file" "$(ls -A "$T" | grep -c '^\.')" 0
pair outf2 "--insecure -q $T/h" "--insecure -q -o $T/c.txt $T/q"
same_file "negative twin: a run that succeeds replaces it" "$T/c.txt" "$T/q.want"

# stdin as input
pair stdin "--insecure -q $T/h" "--insecure -q -" <"$T/q"
same_file "querier reading stdin: output exact" "$T/stdin.c.out" "$T/q.want"
done_testing
