#!/bin/sh
# chunks.sh: QUERY frames are cut by element count only (issue 15 item 5):
# two querier inputs with the same number of keys, one of 6-byte keys and
# one of 400-byte keys (3000 of them: 1.2 MB, which a cut at 256 KiB of key
# bytes would split every 655 keys), give the holder the same sequence of
# QUERY sizes, 1024 1024 952, as the holder reports it at -vvv when each
# frame arrives.  Negative twin: a different count (2000 keys) gives a
# different sequence (1024 976), so the sequence does follow the input.
. "${SRCDIR:-.}/tests/lib.sh"
plan 6
# QUERY frames are the DH engine's
E="--engine dh"

awk 'BEGIN { for (i = 0; i < 3000; i++) printf "k%05d\n", i }' >"$T/short"
awk 'BEGIN { pad = sprintf("%394s", ""); gsub(/ /, "x", pad);
	for (i = 0; i < 3000; i++) printf "k%05d%s\n", i, pad }' >"$T/long"
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "k%05d\n", i }' >"$T/fewer"
printf 'k00001\nk00002\n' >"$T/h"

# sizes NAME: the QUERY sizes the holder saw, space-separated
sizes() {
	sed -n 's/.*QUERY of \([0-9]*\) elements.*/\1/p' "$T/$1.l.err" |
	    tr '\n' ' ' | sed 's/ $//'
}

pair short "--insecure -vvv $E $T/h" "--insecure -q $E $T/short"
is "6-byte keys: both exit 0" "$C_RC $L_RC" "0 0"
pair long "--insecure -vvv $E $T/h" "--insecure -q $E $T/long"
is "400-byte keys: both exit 0" "$C_RC $L_RC" "0 0"
is "6-byte keys: QUERY sizes by count" "$(sizes short)" "1024 1024 952"
is "400-byte keys: the same QUERY sizes" "$(sizes long)" "$(sizes short)"

pair fewer "--insecure -vvv $E $T/h" "--insecure -q $E $T/fewer"
is "2000 keys: both exit 0" "$C_RC $L_RC" "0 0"
is "2000 keys: different sizes, 1024 976" "$(sizes fewer)" "1024 976"
done_testing
