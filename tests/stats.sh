#!/bin/sh
# stats.sh: --stats FILE end to end: after a run both sides' JSON names
# the counts (records, keys, peer_records, matched_records equal to the
# lines written, digest_bytes, bytes each way, peak RSS, phase timings)
# and exit_status 0; after a failure (nobody listening) the file
# still appears with the failing exit status and the error; no temporary
# file is left beside it.
# The OT engine's fields (the run above is ot, the default): buckets,
# padded load, bins per bucket the same on both sides and derived from
# the two counts only -- the sides run with different --memory (the
# smallest, 8M, and 64M) and get the sizes bucket.c gives for the counts,
# so nothing about a budget crosses the wire; its phase timings
# (fingerprint, base_ot, ot_extension) and bytes each way, the querier's
# sent equal to the holder's received; the same run with --engine dh
# writes the same outputs, with no buckets.  Negative twins: the test
# target of 1000 keys a bucket gives other sizes on both sides; a target
# whose bucket does not fit the holder's 8M is exit 1 on that side (the
# querier: 6, its peer failed), naming --memory, with no output.
# Trust on first use leaves a trace, also under -q (cron): a connector
# that meets a listener for the first time prints one line naming the
# host, the listener's fingerprint and the known_peers file it was added
# to, and --stats says "peer_key" (that fingerprint) and "peer_key_added":
# true.  Negative twins: the second run against the same listener prints
# no such line and says "peer_key_added": false; under -q first contact
# prints nothing, and --stats still says it was added; the listener's
# --stats names the connector's key, never added; --insecure
# authenticates nobody: "peer_key": null; nor is a listener named that
# turns out not to know our PSK (twin: one that does is).
. "${SRCDIR:-.}/tests/lib.sh"
plan 50

field() {	# field FILE NAME: the number after "NAME":
	sed -n "s/^ *\"$2\": *\([0-9][0-9]*\).*/\1/p" "$1" | head -1
}
valid_json() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
	else
		grep -q '^{' "$1" && tail -1 "$1" | grep -q '}'
	fi
}

awk 'BEGIN { for (i = 0; i < 400; i++) printf "k%04d\n", i; print ""; print "" }' >"$T/q"
awk 'BEGIN { for (i = 300; i < 800; i++) printf "k%04d\n", i }' >"$T/h"
mkdir "$T/s"
pair ok "--insecure -q --stats $T/s/h.json $T/h" "--insecure -q --stats $T/s/q.json $T/q"
is "run: both exit 0" "$C_RC $L_RC" "0 0"
check "querier stats are valid JSON" valid_json "$T/s/q.json"
check "holder stats are valid JSON" valid_json "$T/s/h.json"
is "querier: records (empty lines included)" "$(field "$T/s/q.json" records)" 402
is "querier: keys" "$(field "$T/s/q.json" keys)" 400
is "querier: empty_skipped" "$(field "$T/s/q.json" empty_skipped)" 2
is "querier: peer_records" "$(field "$T/s/q.json" peer_records)" 500
is "querier: matched_records = lines written" \
    "$(field "$T/s/q.json" matched_records)" "$(wc -l <"$T/ok.c.out")"
is "holder: matched_records = lines written" \
    "$(field "$T/s/h.json" matched_records)" "$(wc -l <"$T/ok.l.out")"
check "holder: digest_bytes > 0" test "$(field "$T/s/h.json" digest_bytes)" -gt 0
check "querier: bytes_sent > 0 and peak_rss_bytes > 0" test \
    "$(field "$T/s/q.json" bytes_sent)" -gt 0 -a "$(field "$T/s/q.json" peak_rss_bytes)" -gt 0
is "exit_status 0 recorded" "$(field "$T/s/q.json" exit_status)" 0

"$PSI" --peer "127.0.0.1:$(free_port)" --insecure -q --connect-timeout 1 \
    --stats "$T/s/fail.json" "$T/q" >/dev/null 2>&1; rc=$?
is "unreachable peer: exit 3" "$rc" 3
is "... the stats file records exit_status 3" "$(field "$T/s/fail.json" exit_status)" 3
check "... and the error" grep -q '"error": "cannot connect' "$T/s/fail.json"
is "no temporary file beside the stats files" \
    "$(ls -A "$T/s" | grep -cv '\.json$')" 0

# ---- the OT engine: sizes from the counts, not the budgets ---------------
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "k%05d\n", i }' >"$T/oq"
awk 'BEGIN { for (i = 3000; i < 13000; i++) printf "k%05d\n", i }' >"$T/oh"
pair ot "--insecure -q --engine ot --memory 8M --stats $T/s/oh.json $T/oh" \
    "--insecure -q --engine ot --memory 64M --stats $T/s/oq.json $T/oq"
is "ot, 8M against 64M: both exit 0" "$C_RC $L_RC" "0 0"
for f in buckets bucket_padded_load bins_per_bucket; do
	eval "o_$f=\$(field \"\$T/s/oq.json\" $f)"
	is "ot: $f the same on both sides" "$(field "$T/s/oh.json" $f)" \
	    "$(field "$T/s/oq.json" $f)"
done
# 10000 x 10000 at 4096 keys a bucket: 3 buckets, L_Q 3675, 4849 bins
is "ot: sizes from the counts alone (B, L_Q, m)" \
    "$o_buckets $o_bucket_padded_load $o_bins_per_bucket" "3 3675 4849"
check "ot: padding: B L_Q at least nQ" test \
    $((o_buckets * o_bucket_padded_load)) -ge 10000
check "ot: fingerprint, base_ot and ot_extension timings on both sides" \
    sh -c 'for f; do for p in fingerprint base_ot ot_extension; do
	grep -q "\"$p\": [0-9]" "$f" || exit 1; done; done' _ \
    "$T/s/oq.json" "$T/s/oh.json"
is "ot: querier's bytes_sent = holder's bytes_received" \
    "$(field "$T/s/oq.json" bytes_sent)" "$(field "$T/s/oh.json" bytes_received)"
is "ot: holder's bytes_sent = querier's bytes_received" \
    "$(field "$T/s/oh.json" bytes_sent)" "$(field "$T/s/oq.json" bytes_received)"
# the corrections alone: 3 buckets of 4849 rows of 64 bytes
check "ot: the querier sends at least its corrections" test \
    "$(field "$T/s/oq.json" bytes_sent)" -ge $((3 * 4849 * 64))
expected_matches "$T/oq" "$T/oh" >"$T/ot.want"
same_file "ot: the querier's output is the intersection" "$T/ot.c.out" "$T/ot.want"
pair dh "--insecure -q --engine dh --stats $T/s/dh.json $T/oh" \
    "--insecure -q --engine dh $T/oq"
is "dh twin: both exit 0" "$C_RC $L_RC" "0 0"
same_file "dh twin: the querier's output equals ot's" "$T/dh.c.out" "$T/ot.c.out"
same_file "dh twin: the holder's output equals ot's" "$T/dh.l.out" "$T/ot.l.out"
is "dh twin: no buckets" "$(field "$T/s/dh.json" buckets)" 0

PSI_STREAM_TEST_OT_BUCKET=1000; export PSI_STREAM_TEST_OT_BUCKET
pair ot1k "--insecure -q --engine ot --memory 8M --stats $T/s/kh.json $T/oh" \
    "--insecure -q --engine ot --stats $T/s/kq.json $T/oq"
is "ot, 1000 keys a bucket: other sizes, the same on both sides" \
    "$(field "$T/s/kq.json" buckets) $(field "$T/s/kh.json" buckets)" "10 10"
same_file "... and the same output" "$T/ot1k.c.out" "$T/ot.c.out"
PSI_STREAM_TEST_OT_BUCKET=100000
pair big "--insecure -q --engine ot --memory 8M -o $T/s/big.out $T/oh" \
    "--insecure -q --engine ot -o $T/s/bigq.out $T/oq"
unset PSI_STREAM_TEST_OT_BUCKET
is "a bucket too big for the holder's 8M: exit 1 there, 6 for the querier" \
    "$L_RC $C_RC" "1 6"
check "... naming --memory" grep -q 'OT engine: a bucket of up to [0-9]* bins needs .*--memory' "$T/big.l.err"
is "... and no output on either side" "$(ls "$T/s" | grep -c 'big')" 0

# ---- trust on first use: peer_key and peer_key_added ---------------------
"$PSI" keygen -q -f "$T/alice"
"$PSI" keygen -q -f "$T/bob"
fp_alice=$("$PSI" fingerprint "$T/alice.pub")
fp_bob=$("$PSI" fingerprint "$T/bob.pub")
kp=$XDG_CONFIG_HOME/psi-stream/known_peers
printf 'a\nb\nc\n' >"$T/a"
printf 'b\nc\nd\n' >"$T/b"

str() {		# str FILE NAME: the string (or null) after "NAME":
	sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -1
}
# run NAME [-q]: bob listens on $port (admitting alice), alice connects,
# trusting on first use; both write --stats to $T/NAME.[lc].json, alice's
# stderr goes to $T/NAME.c.err; exit statuses in $C_RC and $L_RC.
port=$(free_port)
run() {
	"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" \
	    --peer-key "$T/alice.pub" -q --accept-timeout 30 \
	    --stats "$T/$1.l.json" "$T/b" >/dev/null 2>"$T/$1.l.err" &
	_lpid=$!
	"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 \
	    --identity "$T/alice" --no-progress $2 --stats "$T/$1.c.json" \
	    "$T/a" >"$T/$1.c.out" 2>"$T/$1.c.err"
	C_RC=$?
	wait $_lpid
	L_RC=$?
}

run first
is "first contact: both exit 0" "$C_RC $L_RC" "0 0"
is "... one line on stderr, naming the host, the fingerprint and the file" \
    "$(cat "$T/first.c.err")" \
    "psi-stream: permanently added 127.0.0.1:$port ($fp_bob) to $kp"
is "... --stats: peer_key is the listener's fingerprint" \
    "$(str "$T/first.c.json" peer_key)" "$fp_bob"
is "... --stats: peer_key_added is true" \
    "$(str "$T/first.c.json" peer_key_added)" true
is "... the listener's --stats: the connector's key, not added" \
    "$(str "$T/first.l.json" peer_key) $(str "$T/first.l.json" peer_key_added)" \
    "$fp_alice false"

run again
is "negative twin: a known listener: exit 0, nothing on stderr" \
    "$C_RC $L_RC $(wc -c <"$T/again.c.err" | tr -d ' ')" "0 0 0"
is "... --stats: the same peer_key, peer_key_added false" \
    "$(str "$T/again.c.json" peer_key) $(str "$T/again.c.json" peer_key_added)" \
    "$fp_bob false"
is "... and known_peers did not grow" "$(wc -l <"$kp" | tr -d ' ')" 1

rm -f "$kp"
run quiet -q
is "first contact under -q: exit 0, nothing on stderr" \
    "$C_RC $(wc -c <"$T/quiet.c.err" | tr -d ' ')" "0 0"
is "... yet --stats says it was added, with the fingerprint" \
    "$(str "$T/quiet.c.json" peer_key_added) $(str "$T/quiet.c.json" peer_key)" \
    "true $fp_bob"
check "... and it was" grep -q "psi-stream-x25519" "$kp"

# With a PSK, the connector learns that the listener knows it only from
# its first frame: a listener with another PSK is never named.
printf '%064d\n' 1 >"$T/psk1"; printf '%064d\n' 2 >"$T/psk2"
chmod 600 "$T/psk1" "$T/psk2"
for k in 2 1; do
	"$PSI" --listen "127.0.0.1:$port" --identity "$T/bob" -q \
	    --psk-file "$T/psk$k" --accept-timeout 5 "$T/b" >/dev/null 2>&1 &
	_lpid=$!
	"$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 -q \
	    --identity "$T/alice" --peer-key "$T/bob.pub" --psk-file "$T/psk1" \
	    --stats "$T/psk$k.c.json" "$T/a" >/dev/null 2>&1
	eval "rc$k=\$?"
	[ "$k" = 2 ] && kill $_lpid 2>/dev/null
	wait $_lpid
done
is "a listener with another PSK: exit 4, peer_key null" \
    "$rc2 $(str "$T/psk2.c.json" peer_key)" "4 null"
is "negative twin: the same PSK: exit 0, peer_key the listener's" \
    "$rc1 $(str "$T/psk1.c.json" peer_key)" "0 $fp_bob"

pair insecure "--insecure -q --stats $T/ins.l.json $T/b" \
    "--insecure -q --stats $T/ins.c.json $T/a"
is "--insecure: nobody authenticated, peer_key null on both sides" \
    "$C_RC $L_RC $(str "$T/ins.c.json" peer_key) $(str "$T/ins.l.json" peer_key)" \
    "0 0 null null"
done_testing
