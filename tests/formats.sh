#!/bin/sh
# formats.sh: what input is refused, and how, in `check` and in a run:
# gzip, xz, bzip2 and lz4 are recognised by their magic and refused (exit
# 2, one line naming the file and the tool to pipe through), also on
# stdin; binary data (a NUL in a line-mode file, plain or inside zstd) is
# refused with a pointer to -z; their look-alikes are data.  `check`
# honours --shard (the shards add up, and agree with a run's --stats),
# writes --stats on success and failure, and refuses run options.  The
# memory budget bounds the input: a zstd frame whose window is over a
# quarter of what the engine's reserve leaves of --memory is refused
# naming the window and the --memory that reads it, and a 60 MiB record under --memory 8M is refused before the
# peak RSS passes 8M + 24 MiB (not measured under AddressSanitizer).
. "${SRCDIR:-.}/tests/lib.sh"
plan 50

seq 1 1000 | sed 's/^/id-/' >"$T/a.txt"
n_a=$(wc -l <"$T/a.txt")

# Fixtures: the real tools (bootstrap installs them, tests/packaging.sh
# checks that it does); without one, its magic by hand (what the detection
# looks at) followed by junk, said in a diagnostic: never a skip.
mk() {	# mk FILE TOOL PRINTF-MAGIC
	if command -v "$2" >/dev/null 2>&1; then
		"$2" -c <"$T/a.txt" >"$1"
	else
		diag "no $2 here (run ./bootstrap): $1 is its magic by hand"
		{ printf "$3"; head -c 100 /dev/urandom; } >"$1"
	fi
}
mk "$T/a.xz" xz '\3757zXZ\000\000\004'
mk "$T/a.bz2" bzip2 'BZh91AY&SY'
mk "$T/a.lz4" lz4 '\004"M\030'
mk "$T/a.gz" gzip '\037\213\010\000'
head -c 20000 /dev/urandom >"$T/rand.bin"
# Make sure the random file has a NUL early (it nearly always does).
printf 'x\000y\n' >>"$T/rand.bin"; cat "$T/rand.bin" >"$T/r2"
{ printf 'x\000y\n'; cat "$T/r2"; } >"$T/rand.bin"

# refused DESC WANT-TEXT ARGS...: `check ARGS` exits 2 with exactly one
# line on stderr that holds WANT-TEXT, and nothing on stdout.
refused() {
	_d=$1 _w=$2
	shift 2
	"$PSI" check "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	    grep -qF -- "$_w" "$T/err" && ! [ -s "$T/out" ]; then
		ok "$_d"
	else
		fail "$_d (exit $_rc)"; sed 's/^/# /' "$T/err" | head -3
	fi
}

refused "check x.xz: exit 2, one line, xzcat" "a.xz: xz input is not supported; use: xzcat $T/a.xz" "$T/a.xz"
refused "check x.bz2: exit 2, one line, bzcat" "a.bz2: bzip2 input is not supported; use: bzcat" "$T/a.bz2"
refused "check x.lz4: exit 2, one line, lz4cat" "a.lz4: lz4 input is not supported; use: lz4cat" "$T/a.lz4"
refused "check x.gz: still zcat" "use: zcat" "$T/a.gz"
refused "check random binary: exit 2 pointing to -z" "rand.bin: binary data" "$T/rand.bin"
grep -q -- "use -z" "$T/err" && ok "... the message names -z" || fail "... the message names -z"
cat "$T/a.xz" | "$PSI" check >/dev/null 2>"$T/err"; rc=$?
is "xz on stdin: exit 2" "$rc" 2
check "... saying stdin and xzcat FILE" grep -q "stdin: xz input.*xzcat FILE" "$T/err"
refused "a bad file after a good one is still refused" "bzcat" "$T/a.txt" "$T/a.bz2"
zstd -q -c <"$T/rand.bin" >"$T/rand.zst"
refused "binary inside zstd: refused too" "rand.zst: binary data" "$T/rand.zst"

# Negative twins: what only looks like them is data.
sed -n 5p "$T/a.txt" | cat - "$T/a.txt" | "$PSI" check >"$T/out" 2>&1; rc=$?
is "negative: plain text on stdin is read (exit 0)" "$rc $(sed -n 's/^records  *//p' "$T/out")" "0 $((n_a + 1))"
printf 'BZh91 is a line\n\3757zX\n"M\030\n' >"$T/alike.txt"
"$PSI" check "$T/alike.txt" >"$T/out" 2>&1; rc=$?
is "negative: text starting like bzip2/xz/lz4 magic is 3 records" "$rc $(sed -n 's/^records  *//p' "$T/out")" "0 3"
printf 'a\000b\000c\000' >"$T/nul.bin"
"$PSI" check -z "$T/nul.bin" >"$T/out" 2>&1; rc=$?
is "negative: NUL bytes with -z are record ends (3 records)" "$rc $(sed -n 's/^records  *//p' "$T/out")" "0 3"
zstd -q -c <"$T/a.txt" >"$T/a.zst"
"$PSI" check "$T/a.zst" >"$T/out" 2>&1; rc=$?
is "negative: zstd text is read" "$rc $(sed -n 's/^records  *//p' "$T/out")" "0 $n_a"

# In a run: the side with the bad input exits 2 with the same one line,
# before it listens or connects (the pre-flight opens every input).
# alone NAME ARGS...: a listener that should never get to listening.
alone() {
	_an=$1; shift
	"$PSI" --listen "127.0.0.1:$(free_port)" --accept-timeout 5 --insecure -q \
	    "$@" >"$T/$_an.c.out" 2>"$T/$_an.c.err"
	C_RC=$?
}
for f in a.xz a.bz2 rand.bin; do
	alone "run-$f" "$T/$f"
	is "run on $f: exit 2" "$C_RC" 2
	want=$(case $f in a.xz) echo xzcat;; a.bz2) echo bzcat;; *) echo "use -z";; esac)
	check "... with a one-line pointer to $want" \
	    test "$(grep -c . "$T/run-$f.c.err")" -eq 1 -a -n "$(grep -F "$want" "$T/run-$f.c.err")"
done
pair run-ok "--insecure -q $T/a.txt" "--insecure -q $T/a.zst"
is "negative: a run on zstd text matches every record" "$C_RC $L_RC $(wc -l <"$T/run-ok.c.out")" "0 0 $n_a"

# ---- check --shard, --stats, refused options --------------------------------
seq 1 20000 >"$T/big.txt"
tot=0
for i in 1 2 3 4; do
	k=$("$PSI" check --shard "$i/4" "$T/big.txt" | sed -n 's/^keys  *//p')
	tot=$((tot + k))
	[ "$i" -eq 2 ] && k2=$k
done
is "check --shard i/4: the four shards' keys add up to the whole" "$tot" 20000
check "... and shard 2 holds about a quarter" test "$k2" -gt 4000 -a "$k2" -lt 6000
"$PSI" check "$T/big.txt" >"$T/out"
is "negative: check without --shard counts every key, no shard line" \
    "$(sed -n 's/^keys  *//p' "$T/out") $(grep -c '^shard' "$T/out")" "20000 0"
pair shard "--insecure -q --shard 2/4 --stats $T/shard.json $T/big.txt" \
    "--insecure -q --shard 2/4 $T/big.txt"
is "check --shard 2/4 counts what a run's --stats calls its keys" \
    "$(sed -n 's/.*"keys": \([0-9]*\),.*/\1/p' "$T/shard.json")" "$k2"
PSI_STREAM_CHECK_RANGES=7 "$PSI" check -j 2 --shard 2/4 "$T/big.txt" >"$T/out"
is "... the same when parsed in byte ranges on 2 threads" "$(sed -n 's/^keys  *//p' "$T/out")" "$k2"

"$PSI" check --shard 3/4 --stats "$T/c.json" "$T/big.txt" >/dev/null; rc=$?
is "check --stats: exit 0" "$rc" 0
check "... JSON with records, keys, shard" grep -q '"records": 20000' "$T/c.json"
check "... and shard_skipped, exit_status 0" sh -c \
    "grep -q '\"shard\": \"3/4\"' '$T/c.json' && grep -q '\"exit_status\": 0' '$T/c.json' && grep -q '\"shard_skipped\": [1-9]' '$T/c.json'"
"$PSI" check --stats "$T/x.json" "$T/a.xz" >/dev/null 2>&1; rc=$?
is "check --stats on a refused input: exit 2" "$rc" 2
check "... the JSON says exit_status 2 and why" sh -c \
    "grep -q '\"exit_status\": 2' '$T/x.json' && grep -q 'xzcat' '$T/x.json'"
mkdir "$T/nostats"; (cd "$T/nostats" && "$PSI" check "$T/big.txt" >/dev/null)
is "negative: without --stats nothing is written" "$(ls "$T/nostats" | wc -l)" 0

for opt in "-o $T/out.x" "--peer 127.0.0.1:1" "--listen 7000" "--reveal querier" \
    "--count-only" "--tmpdir $T"; do
	# shellcheck disable=SC2086
	"$PSI" check $opt "$T/a.txt" >"$T/out" 2>"$T/err"; rc=$?
	name=$(echo "$opt" | sed 's/ .*//')
	is "check $opt: refused, exit 1" "$rc $(grep -c -- "check does not take $name" "$T/err")" "1 1"
done
check "... and -o created nothing" test ! -e "$T/out.x"
"$PSI" check --csv --header --trim --ignore-case --key-field 1 -z --delimiter , \
    --skip-invalid --memory 64M -j 1 -q "$T/a.txt" >/dev/null 2>"$T/err"; rc=$?
is "negative: check takes every record option (exit 0)" "$rc" 0

# ---- memory bounds ------------------------------------------------------------
TIME=
[ -x /usr/bin/time ] && /usr/bin/time -f %M -o "$T/rss" true 2>/dev/null && TIME=yes
ASAN=
if { ldd "$PSI" 2>/dev/null | grep -q libasan; } ||
    { nm "$PSI" 2>/dev/null | grep -q __asan_init; }; then
	ASAN=yes
fi
LIMIT=$(( (8 + 24) * 1024 ))	# KiB

# zstd from a pipe declares its whole --long window in the frame header.
seq 1 200000 | zstd -q --long=27 -c >"$T/l27.zst"
"$PSI" check --memory 8M "$T/l27.zst" >"$T/out" 2>"$T/err"; rc=$?
is "--memory 8M, zstd --long=27: refused, exit 2" "$rc" 2
check "... naming the file, the 128 MiB window and --memory 516M" \
    grep -q "l27.zst: zstd frame needs a 128.0 MiB window, too much memory for --memory 8M (a 1M window at most); --memory 516M would read it" "$T/err"
alone long --memory 8M "$T/l27.zst"
is "... the same in a run (exit 2)" "$C_RC $(grep -c '128.0 MiB window' "$T/long.c.err")" "2 1"
"$PSI" check --memory 516M "$T/l27.zst" >"$T/out" 2>"$T/err"; rc=$?
is "negative: --memory 516M, as told, reads it" "$rc $(sed -n 's/^records  *//p' "$T/out")" "0 200000"

{ printf 'big\t'; head -c 62914560 /dev/zero | tr '\0' x; echo; } >"$T/huge"
printf 'small\tone\n' >>"$T/huge"
# rss_of KIB-FILE CMD...: runs CMD, sets RC and RSS (KiB, or empty).
rss_of() {
	_f=$1; shift
	RSS=
	if [ -n "$TIME" ]; then
		/usr/bin/time -f %M -o "$_f" "$@"; RC=$?
		RSS=$(tail -1 "$_f")
	else
		"$@"; RC=$?
	fi
}
rss_of "$T/rss1" "$PSI" check --memory 8M --key-field 1 "$T/huge" >"$T/out" 2>"$T/err"
is "60 MiB record, --memory 8M: check counts it invalid (exit 1)" \
    "$RC $(grep -c '^invalid  *1 (record 1)' "$T/out")" "1 1"
if [ -z "$TIME" ] || [ -n "$ASAN" ]; then
	skip "no /usr/bin/time or AddressSanitizer: no absolute RSS bound"
else
	check "... peak RSS $RSS KiB below 8M + 24 MiB" test "$RSS" -lt "$LIMIT"
fi
port=$(free_port)
"$PSI" --listen "127.0.0.1:$port" --insecure -q --key-field 1 "$T/big.txt" \
    >/dev/null 2>&1 &
lpid=$!
rss_of "$T/rss2" "$PSI" --peer "127.0.0.1:$port" --connect-timeout 20 \
    --insecure -q --memory 8M --key-field 1 "$T/huge" >/dev/null 2>"$T/err"
wait $lpid
is "... a run refuses it: exit 2" "$RC" 2
check "... naming the record and the budget" \
    grep -q "huge: record 1: longer than 128 KiB, the longest --memory 8M accepts" "$T/err"
if [ -z "$TIME" ] || [ -n "$ASAN" ]; then
	skip "no /usr/bin/time or AddressSanitizer: no absolute RSS bound"
else
	check "... peak RSS $RSS KiB below 8M + 24 MiB" test "$RSS" -lt "$LIMIT"
fi
"$PSI" check --memory 2G --key-field 1 "$T/huge" >"$T/out" 2>&1; rc=$?
is "negative: --memory 2G (63.88 MiB records) reads the 60 MiB record" \
    "$rc $(sed -n 's/^keys  *//p' "$T/out")" "0 2"
done_testing
