#!/bin/sh
# demo.sh DIR: intersect DIR/alice.txt (querier) and DIR/bob.txt (holder)
# between two local psi-stream processes on 127.0.0.1, authenticated with
# throw-away key pairs, print both results and compare with the expected
# outputs.  PSI_STREAM names the binary.  Exit 0 when both match.
set -u
dir=$1
psi=${PSI_STREAM:-psi-stream}
w=$(mktemp -d "${TMPDIR:-/tmp}/psi-demo.XXXXXX")
trap 'rm -rf "$w"' EXIT INT TERM

# Each party makes its own identity and gives the other its public key.
"$psi" keygen -q -f "$w/alice" -C alice || exit 1
"$psi" keygen -q -f "$w/bob" -C bob || exit 1

for try in 1 2 3 4 5; do
	port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
	"$psi" --listen "127.0.0.1:$port" --identity "$w/bob" \
	    --peer-key "$w/alice.pub" "$dir/bob.txt" >"$w/bob.out" 2>"$w/bob.err" &
	bob=$!
	"$psi" --peer "127.0.0.1:$port" --identity "$w/alice" \
	    --peer-key "$w/bob.pub" --connect-timeout 10 \
	    "$dir/alice.txt" >"$w/alice.out" 2>"$w/alice.err"
	arc=$?
	wait $bob
	brc=$?
	grep -q 'in use' "$w/bob.err" || break
done

echo "== alice (querier, $(wc -l <"$dir/alice.txt") records): her records that bob also has"
cat "$w/alice.out"
echo
echo "== bob (holder, $(wc -l <"$dir/bob.txt") records): his records that alice also has"
cat "$w/bob.out"
echo
cat "$w/alice.err" "$w/bob.err" >&2
if [ "$arc" -ne 0 ] || [ "$brc" -ne 0 ]; then
	echo "demo: FAILED (exit statuses: alice $arc, bob $brc)"
	exit 1
fi
if cmp -s "$w/alice.out" "$dir/alice.expected" &&
   cmp -s "$w/bob.out" "$dir/bob.expected"; then
	echo "demo: alice got $(wc -l <"$w/alice.out") records, bob got" \
	    "$(wc -l <"$w/bob.out") records; both match the expected output."
else
	echo "demo: FAILED: output differs from $dir/*.expected"
	exit 1
fi
