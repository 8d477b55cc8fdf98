#!/bin/sh
# stats.sh: --stats FILE end to end: after a run both sides' JSON names
# the counts (records, keys, peer_records, matched_records equal to the
# lines written, digest_bytes, bytes each way, peak RSS, phase timings)
# and exit_status 0; after a failure (nobody listening) the file
# still appears with the failing exit status and the error; no temporary
# file is left beside it.
. "${SRCDIR:-.}/tests/lib.sh"
plan 16

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
done_testing
