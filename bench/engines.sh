#!/bin/sh
# engines.sh [N] [DH_N]: the two engines and the plain join, side by side,
# on the same files in one run (issue 14 item 7).
#
# Makes two inputs of N records each (default 1000000), 40-byte lines,
# 30% of the keys in common, and the plain insecure join of them,
#     LC_ALL=C sort a | comm -12 - <(LC_ALL=C sort b),
# timed.  Then, both parties on 127.0.0.1:
#   - `--engine ot` on all N x N records;
#   - `--engine dh` on the first DH_N records of each file (default 20000:
#     about 116 us of core time per key per party makes N x N hours);
# and for each: wall time, microseconds per key pair, bytes on the wire
# per key pair (both directions, framing included, from --stats) and in
# bits, the peak RSS of each side (from --stats), and whether both
# outputs, sorted, equal the plain join of the same records.  Last the
# ratios: dh / ot per key pair (the speed-up), and ot / plain join on the
# N files (the price of privacy).
#
# Until the build has `--engine ot`, the ot run is skipped with a line
# saying so, and so are the ratios that need it; dh and the plain join
# still run.  A build without --engine at all runs its one engine (dh).
#
# Environment: PSI_STREAM (default src/psi-stream), MEMORY (--memory of
# both parties, default 256M), THREADS (-j, default: the program's),
# KEEP=1 keeps the work directory.  Run from the build tree.  A benchmark,
# not a test: it asserts nothing, it prints figures and ratios.
set -eu
n=${1:-1000000}
dh_n=${2:-20000}
psi=${PSI_STREAM:-src/psi-stream}
mem=${MEMORY:-256M}
[ "$dh_n" -le "$n" ] || dh_n=$n
w=$(mktemp -d "${TMPDIR:-/tmp}/psi-bench.XXXXXX")
if [ "${KEEP:-}" = 1 ]; then trap 'echo "kept $w"' EXIT
else trap 'rm -rf "$w"' EXIT; fi
command -v bash >/dev/null 2>&1 || { echo "engines.sh: needs bash for the plain join's <(...)"; exit 1; }

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# since T0: seconds elapsed, 3 decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# json FILE KEY: a number from a --stats file.
json() { sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }

# Which engines this build has: an unknown --engine name makes it list
# the built-in ones ("built in: dh, ot") and exit 1 before any network.
probe=$("$psi" --engine '?' --insecure --peer 127.0.0.1:9 /dev/null 2>&1 || true)
case $probe in
*"built in:"*)
	has_engine=yes
	case " $(echo "${probe#*built in: }" | tr -d ',)') " in
	*" ot "*) has_ot=yes ;;
	*) has_ot=no ;;
	esac ;;
*)	has_engine=no has_ot=no ;;
esac

# Inputs: record i has key c<i> (common) for i % 10 < 3, else a<i> or b<i>;
# the digits are scrambled so the files are not in key order.
gen() {
	awk -v n="$1" -v p="$2" 'BEGIN { for (i = 0; i < n; i++)
	    printf "%s%038d\n", (i % 10 < 3 ? "c" : p), (i * 7919) % 1000000007 }'
}
t0=$(now)
gen "$n" a >"$w/a"
gen "$n" b >"$w/b"
head -n "$dh_n" "$w/a" >"$w/a.dh"
head -n "$dh_n" "$w/b" >"$w/b.dh"
echo "inputs: $n records a side, $(wc -c <"$w/a") bytes each, 30% common; dh on the first $dh_n ($(since "$t0") s to write)"

# plain A B OUT: the insecure join; prints its wall time.
plain() {
	t0=$(now)
	LC_ALL=C bash -c 'sort "$1" | comm -12 - <(sort "$2")' _ "$1" "$2" >"$3"
	since "$t0"
}
plain_t=$(plain "$w/a" "$w/b" "$w/want")
plain "$w/a.dh" "$w/b.dh" "$w/want.dh" >/dev/null
echo "plain join (sort | comm -12): $plain_t s for $n x $n, $(wc -l <"$w/want") common records"

# run ENGINE A B WANT: one PSI run, querier A, holder B.  Prints
# "wall us_per_pair bytes_per_pair bits_per_pair rss_q rss_h exact".
run() {
	eng=$1 a=$2 b=$3 want=$4
	set --
	[ "$has_engine" = yes ] && set -- --engine "$eng"
	[ -n "${THREADS:-}" ] && set -- "$@" -j "$THREADS"
	port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	rm -f "$w/q.json" "$w/h.json"
	t0=$(now)
	"$psi" --listen "127.0.0.1:$port" --insecure -q --memory "$mem" "$@" \
	    --stats "$w/h.json" "$b" >"$w/h.out" 2>"$w/h.err" &
	hpid=$!
	st=0
	"$psi" --peer "127.0.0.1:$port" --insecure -q --memory "$mem" "$@" \
	    --connect-timeout 30 --stats "$w/q.json" "$a" >"$w/q.out" 2>"$w/q.err" || st=$?
	wait "$hpid" || st=$?
	t=$(since "$t0")
	exact=yes
	[ "$st" = 0 ] || exact="NO (exit $st: $(cat "$w/q.err" "$w/h.err" | head -n 2 | tr '\n' ' '))"
	if [ "$exact" = yes ]; then
		for side in q h; do
			LC_ALL=C sort "$w/$side.out" | cmp -s - "$want" ||
			    exact="NO (the $side side's output differs from the plain join)"
		done
	fi
	pairs=$(wc -l <"$a")
	sent_q=$(json "$w/q.json" bytes_sent) sent_h=$(json "$w/h.json" bytes_sent)
	rss_q=$(json "$w/q.json" peak_rss_bytes) rss_h=$(json "$w/h.json" peak_rss_bytes)
	awk -v t="$t" -v n="$pairs" -v sq="${sent_q:-0}" -v sh="${sent_h:-0}" \
	    -v rq="${rss_q:-0}" -v rh="${rss_h:-0}" -v e="$exact" 'BEGIN {
	    printf "%s %.3f %.1f %.1f %.1f %.1f %s\n", t, t * 1e6 / n,
	        (sq + sh) / n, 8 * (sq + sh) / n, rq / 1048576, rh / 1048576, e }'
}

# report NAME N LINE: one engine's figures.
report() {
	echo "$3" | awk -v name="$1" -v n="$2" -v m="$mem" '{
	    e = $7; for (i = 8; i <= NF; i++) e = e " " $i
	    printf "%s: %d x %d in %s s wall = %s us per key pair; %s bytes (%s bits) on the wire per key pair; peak RSS querier %s MiB, holder %s MiB (--memory %s); outputs exact: %s\n",
	        name, n, n, $1, $2, $3, $4, $5, $6, m, e }'
}

dh=$(run dh "$w/a.dh" "$w/b.dh" "$w/want.dh")
report "dh" "$dh_n" "$dh"
if [ "$has_ot" = yes ]; then
	ot=$(run ot "$w/a" "$w/b" "$w/want")
	report "ot" "$n" "$ot"
	echo "$dh $ot $plain_t" | awk -v n="$n" '{
	    printf "speed-up per key pair, dh / ot: %.1fx (%s us vs %s us)\n", $2 / $9, $2, $9
	    printf "price of privacy, ot / plain join on %d x %d: %.2fx (%s s vs %s s)\n", n, n, $8 / $15, $8, $15
	    printf "wire per key pair, ot / dh: %.2fx\n", $10 / $3 }'
else
	if [ "$has_engine" = yes ]; then why="lists --engine but not ot"
	else why="has no --engine option"; fi
	echo "ot: SKIPPED: this build ($psi) $why; no ot figures, no speed-up, no price of privacy"
	echo "$dh $plain_t" | awk -v n="$n" -v d="$dh_n" '{
	    printf "for scale only: dh at %.3f us per key pair would take %.0f s for %d x %d, the plain join took %s s (%.0fx)\n",
	        $2, $2 * n / 1e6, n, n, $8, $2 * n / 1e6 / $8 }'
fi
