#!/bin/sh
# memory.sh [BUDGET] [MULTIPLES] [ENGINE]: peak RSS of both parties (from
# /usr/bin/time -v) for inputs of 1x, 10x and 100x the --memory budget
# (default 16M and "1 10 100"), with records of about 4 KiB so that 100x
# stays quick, and the digest's bits per holder key against the bound
# t - log2(nH) + 2.  ENGINE (dh or ot) is passed to both parties as
# --engine; without it they use the program's default engine.  Run from
# the build tree.  A benchmark: it asserts nothing, it prints figures and
# ratios.
set -eu
budget=${1:-16M}
mults=${2:-1 10 100}
engine=${3:-}
psi=${PSI_STREAM:-src/psi-stream}
w=$(mktemp -d "${TMPDIR:-/tmp}/psi-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT
bytes=$(echo "$budget" | awk '{ v = $0 + 0; u = substr($0, length($0));
	if (u == "K") v *= 1024; if (u == "M") v *= 1048576; if (u == "G") v *= 1073741824; print v }')
[ -x /usr/bin/time ] || { echo "memory.sh: needs /usr/bin/time (Debian package time)"; exit 1; }
eng=
if [ -n "$engine" ]; then
	"$psi" --help 2>&1 | grep -- '--engine' | grep -qw "$engine" ||
	    { echo "memory.sh: $psi has no --engine $engine"; exit 1; }
	eng="--engine $engine"
fi
echo "engine: ${engine:-the default}"

for m in $mults; do
	n=$(( bytes * m / 4096 ))
	for side in q h; do
		awk -v n="$n" -v s="$side" 'BEGIN { pad = sprintf("%4070s", "");
		    gsub(/ /, "p", pad);
		    for (i = 0; i < n; i++) printf "%s-%09d\t%s\n",
		        (i % 4 == 0 ? "c" : s), i, pad }' >"$w/$side"
	done
	mkdir -p "$w/tq" "$w/th"
	port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	# $eng unquoted: empty, or two words.
	/usr/bin/time -v -o "$w/h.time" "$psi" --listen "127.0.0.1:$port" --insecure $eng \
	    -vv --memory "$budget" --tmpdir "$w/th" --key-field 1 "$w/h" >"$w/h.out" 2>"$w/h.err" &
	/usr/bin/time -v -o "$w/q.time" "$psi" --peer "127.0.0.1:$port" --insecure $eng \
	    -q --memory "$budget" --tmpdir "$w/tq" --key-field 1 --connect-timeout 30 \
	    "$w/q" >"$w/q.out"
	wait
	hr=$(awk '/Maximum resident/ { print $NF }' "$w/h.time")
	qr=$(awk '/Maximum resident/ { print $NF }' "$w/q.time")
	left=$(find "$w/tq" "$w/th" -mindepth 1 | wc -l)
	in=$(wc -c <"$w/q")
	awk -v m="$m" -v sz="$in" -v b="$bytes" -v hr="$hr" -v qr="$qr" -v n="$n" \
	    -v got="$(wc -l <"$w/q.out")" -v left="$left" 'BEGIN {
	    printf "%4dx budget: %d records, %.0f MiB input each; peak RSS holder %.1f MiB, querier %.1f MiB (%.2f and %.2f of the budget); %d matches of %d; %d temporary files left\n",
	        m, n, sz / 1048576, hr / 1024, qr / 1024, hr * 1024 / b, qr * 1024 / b, got, int((n + 3) / 4), left }'
	sed -n 's/.*digest: \([0-9]*\) values in \([0-9]*\) bytes, \([0-9.]*\) bits per key (t = \([0-9]*\)).*/\1 \2 \3 \4/p' "$w/h.err" |
	    awk '{ bound = $4 - log($1) / log(2) + 2;
	        printf "       digest: %.2f bits per holder key, bound t - log2(nH) + 2 = %.2f (ratio %.3f)\n", $3, bound, $3 / bound }'
	rm -f "$w/q" "$w/h"
done
