#!/bin/sh
# threads.sh: -j changes speed, never results: prf output and both sides'
# outputs of a run are identical at 1, 2 and 7 threads (and equal to the
# awk ground truth); -j 0 and -j abc are usage errors.
. "${SRCDIR:-.}/tests/lib.sh"
plan 14

awk 'BEGIN { for (i = 0; i < 2500; i++) printf "id-%05d\n", i * 3 }' >"$T/q"
awk 'BEGIN { for (i = 0; i < 2500; i++) printf "id-%05d\n", i * 5 }' >"$T/h"
expected_matches "$T/q" "$T/h" >"$T/q.want"
expected_matches "$T/h" "$T/q" >"$T/h.want"
printf '%s\n' 5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e >"$T/key"
chmod 600 "$T/key"

"$PSI" prf --oprf-key "$T/key" -j 1 "$T/q" >"$T/prf1"
for j in 2 7; do
	"$PSI" prf --oprf-key "$T/key" -j $j "$T/q" >"$T/prf$j"
	same_file "prf -j $j equals -j 1" "$T/prf$j" "$T/prf1"
done
is "prf: one line per key" "$(wc -l <"$T/prf1")" 2500

for j in 1 2 7; do
	pair j$j "--insecure -q -j $j $T/h" "--insecure -q -j $j $T/q"
	is "-j $j: both exit 0" "$C_RC $L_RC" "0 0"
	same_file "-j $j: querier output exact" "$T/j$j.c.out" "$T/q.want"
	same_file "-j $j: holder output exact" "$T/j$j.l.out" "$T/h.want"
done

"$PSI" prf --oprf-key "$T/key" -j 0 "$T/q" >/dev/null 2>&1; rc=$?
is "-j 0 is a usage error" "$rc" 1
"$PSI" prf --oprf-key "$T/key" --threads abc "$T/q" >/dev/null 2>&1; rc=$?
is "--threads abc is a usage error" "$rc" 1
done_testing
