#!/bin/sh
# throughput.sh [N]: how close psi-stream gets to the floor of its curve
# work on this machine, with ENGINE=dh (the default here, so the figures
# compare with earlier ones; the program's own default is ot).  Measures
# libsodium's HashToGroup and scalar
# multiplication here (bench/oprf_speed) on each CPU, computes the floor
# for N x N with both parties on this machine,
#     floor = N * (2 * HashToGroup + 4 * scalar mult) / cores,
# runs N x N on 127.0.0.1 and prints efficiency = floor / wall; then the
# speed-up of one party's own evaluation (psi-stream prf on N keys) from
# --threads 1 to --threads <cores>.
#
# On a virtual machine one CPU can run 25-40% slower than another for
# minutes (a busy host), so every figure is the best of RUNS (default 3)
# measurements, each run's figure is printed, and both ratios come twice:
# against the machine at its best (every CPU as fast as the fastest
# measurement: the figure to quote) and against the CPUs as they measured
# during this run (what the host allowed).  On a quiet host they agree.
#
# ENGINE=ot runs the same N x N with `--engine ot` and prints its wall
# time and microseconds per key pair; the curve floor and the prf speed-up
# are the DH-OPRF's and are skipped.  The engine is printed first.
#
# Run from the build tree after `make bench`.  A benchmark, not a test:
# it asserts nothing.
set -eu
n=${1:-100000}
engine=${ENGINE:-dh}
case $engine in
dh|ot) ;;
*) echo "throughput.sh: ENGINE is dh or ot, not '$engine'" >&2; exit 1 ;;
esac
runs=${RUNS:-3}
psi=${PSI_STREAM:-src/psi-stream}
speed=${OPRF_SPEED:-bench/oprf_speed}
cores=$(nproc)
w=$(mktemp -d "${TMPDIR:-/tmp}/psi-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# min A B: the smaller number (A if B is empty).
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
# since T0: seconds elapsed, 2 decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "engine: $engine"
# A build without --engine has the DH engine only.
eopt="--engine $engine"
if ! "$psi" --help 2>&1 | grep -q -- '--engine'; then
	[ "$engine" = dh ] || { echo "this build has no --engine ot"; exit 1; }
	eopt=
fi

# The operation costs on each CPU in turn, where taskset(1) can pin them
# (else one measurement, taken to hold for every CPU).  rate: key pairs of
# curve work per second all CPUs can do at the speeds measured; rmax: the
# fastest CPU's share of it.
rate=0 rmax=0
if [ "$engine" = dh ]; then
	if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
		cpus=$(seq 0 $((cores - 1)))
	else
		cpus=any
	fi
	hbest= mbest=
	for c in $cpus; do
		h2g= mul=
		for i in $(seq "$runs"); do
			if [ "$c" = any ]; then "$speed" >"$w/speed"
			else taskset -c "$c" "$speed" >"$w/speed"; fi
			h2g=$(min "$(awk '/^oprf_hash_to_group/ { print $(NF-1) }' "$w/speed")" "$h2g")
			mul=$(min "$(awk '/^crypto_scalarmult_ristretto255/ { print $(NF-1) }' "$w/speed")" "$mul")
		done
		echo "cpu $c: HashToGroup $h2g us, scalar mult $mul us (best of $runs)"
		hbest=$(min "$h2g" "$hbest")
		mbest=$(min "$mul" "$mbest")
		r1=$(awk -v h="$h2g" -v m="$mul" 'BEGIN { print 1e6 / (2 * h + 4 * m) }')
		if [ "$c" = any ]; then
			rate=$(awk -v r="$r1" -v c="$cores" 'BEGIN { print c * r }')
		else
			rate=$(awk -v a="$rate" -v r="$r1" 'BEGIN { print a + r }')
		fi
		rmax=$(awk -v a="$rmax" -v r="$r1" 'BEGIN { print (r > a) ? r : a }')
	done
	floor=$(awk -v n="$n" -v h="$hbest" -v m="$mbest" -v c="$cores" \
	    'BEGIN { printf "%.2f", n * (2 * h + 4 * m) / c / 1e6 }')
	floor_now=$(awk -v n="$n" -v r="$rate" 'BEGIN { printf "%.2f", n / r }')
	echo "floor for $n x $n, both parties here: $floor s ($floor_now s at the speeds measured)"
fi

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "user-%010d\n", i * 3 }' >"$w/q"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "user-%010d\n", i * 2 }' >"$w/h"
# Common keys: multiples of 6 below 2n.  Both sides' outputs, sorted,
# must be exactly those records.
awk -v n="$n" 'BEGIN { for (v = 0; v < 2 * n; v += 6) printf "user-%010d\n", v }' |
    LC_ALL=C sort >"$w/want"
want=$(wc -l <"$w/want")
best= all= exact=yes
for i in $(seq "$runs"); do
	port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	t0=$(now)
	# shellcheck disable=SC2086
	"$psi" --listen "127.0.0.1:$port" --insecure -q $eopt "$w/h" >"$w/h.out" &
	# shellcheck disable=SC2086
	"$psi" --peer "127.0.0.1:$port" --insecure -q --connect-timeout 30 $eopt "$w/q" >"$w/q.out"
	wait
	t=$(since "$t0")
	best=$(min "$t" "$best")
	all="$all $t"
	for side in q h; do
		LC_ALL=C sort "$w/$side.out" | cmp -s - "$w/want" || exact=NO
	done
done
got=$(wc -l <"$w/q.out")
echo "run ($engine): best $best s wall (runs:$all), $got matches (expected $want); all outputs exact: $exact"
awk -v n="$n" -v w="$best" \
    'BEGIN { printf "%.2f us wall per key pair\n", w * 1e6 / n }'
if [ "$engine" = ot ]; then
	echo "(ENGINE=ot: no curve floor, no prf speed-up: those are the DH-OPRF's)"
	exit 0
fi
awk -v f="$floor" -v g="$floor_now" -v w="$best" \
    'BEGIN { printf "efficiency = floor / wall = %.2f (%.2f at the speeds measured)\n", f / w, g / w }'

printf '%s\n' 5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e >"$w/key"
chmod 600 "$w/key"
one= many= all1= alln=
for i in $(seq "$runs"); do
	t0=$(now); "$psi" prf --oprf-key "$w/key" -j 1 "$w/h" >"$w/p1"; t=$(since "$t0")
	one=$(min "$t" "$one"); all1="$all1 $t"
	t0=$(now); "$psi" prf --oprf-key "$w/key" -j "$cores" "$w/h" >"$w/pn"; t=$(since "$t0")
	many=$(min "$t" "$many"); alln="$alln $t"
	cmp -s "$w/p1" "$w/pn" || echo "WARNING: prf output differs between thread counts"
done
echo "prf of $n keys, runs: 1 thread:$all1; $cores threads:$alln"
# One thread runs at best at the fastest CPU's speed; all of them together
# at most at the sum of their speeds.
awk -v a="$one" -v b="$many" -v c="$cores" -v r="$runs" -v s="$rate" -v m="$rmax" \
    'BEGIN { printf "prf speed-up (best of %d): %.2f s with 1 thread, %.2f s with %d: %.2fx (the CPUs allowed %.2fx at the speeds measured)\n", r, a, b, c, a / b, s / m }'
