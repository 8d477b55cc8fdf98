#!/bin/sh
# throughput.sh [N]: how close psi-stream gets to the floor of its curve
# work on this machine.  Measures libsodium's HashToGroup and scalar
# multiplication here (bench/oprf_speed), computes the floor for N x N with
# both parties on this machine,
#     floor = N * (2 * HashToGroup + 4 * scalar mult) / cores,
# runs N x N on 127.0.0.1 and prints efficiency = floor / wall; then the
# speed-up of one party's own evaluation (psi-stream prf on N keys) from
# --threads 1 to --threads <cores>.  Run from the build tree after
# `make bench`.  A benchmark, not a test: it asserts nothing.
set -eu
n=${1:-100000}
psi=${PSI_STREAM:-src/psi-stream}
speed=${OPRF_SPEED:-bench/oprf_speed}
cores=$(nproc)
w=$(mktemp -d "${TMPDIR:-/tmp}/psi-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT

"$speed" >"$w/speed"
h2g=$(awk '/^oprf_hash_to_group/ { print $(NF-1) }' "$w/speed")
mul=$(awk '/^crypto_scalarmult_ristretto255/ { print $(NF-1) }' "$w/speed")
floor=$(awk -v n="$n" -v h="$h2g" -v m="$mul" -v c="$cores" \
    'BEGIN { printf "%.2f", n * (2 * h + 4 * m) / c / 1e6 }')
echo "machine: $cores cores; HashToGroup $h2g us, scalar mult $mul us"
echo "floor for $n x $n, both parties here: $floor s"

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "user-%010d\n", i * 3 }' >"$w/q"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "user-%010d\n", i * 2 }' >"$w/h"
port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
t0=$(date +%s.%N)
"$psi" --listen "127.0.0.1:$port" --insecure -q "$w/h" >"$w/h.out" &
"$psi" --peer "127.0.0.1:$port" --insecure -q --connect-timeout 30 "$w/q" >"$w/q.out"
wait
t1=$(date +%s.%N)
# Common keys: multiples of 6 below 2n.  Both sides' outputs, sorted,
# must be exactly those records (the holder's is empty under --reveal
# querier, never the case here).
awk -v n="$n" 'BEGIN { for (v = 0; v < 2 * n; v += 6) printf "user-%010d\n", v }' |
    LC_ALL=C sort >"$w/want"
want=$(wc -l <"$w/want")
got=$(wc -l <"$w/q.out")
exact=yes
for side in q h; do
	LC_ALL=C sort "$w/$side.out" | cmp -s - "$w/want" || exact=NO
done
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "run: $wall s wall, $got matches (expected $want); both outputs exact: $exact"
awk -v f="$floor" -v w="$wall" 'BEGIN { printf "efficiency = floor / wall = %.2f\n", f / w }'

printf '%s\n' 5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e >"$w/key"
t0=$(date +%s.%N); "$psi" prf --oprf-key "$w/key" -j 1 "$w/h" >"$w/p1"; t1=$(date +%s.%N)
one=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
t0=$(date +%s.%N); "$psi" prf --oprf-key "$w/key" -j "$cores" "$w/h" >"$w/pn"; t1=$(date +%s.%N)
many=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
cmp -s "$w/p1" "$w/pn" || echo "WARNING: prf output differs between thread counts"
awk -v a="$one" -v b="$many" -v c="$cores" -v n="$n" \
    'BEGIN { printf "prf of %d keys: %.2f s with 1 thread, %.2f s with %d: speed-up %.2fx\n", n, a, b, c, a / b }'
