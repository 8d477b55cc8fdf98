#!/bin/sh
# engines.sh: the OT engine against the DH engine and an awk ground truth,
# two real processes on 127.0.0.1 (issue 14, "Differential end-to-end
# tests").  Every case runs `--engine dh` and `--engine ot` on the same
# files; each engine's two outputs must equal the ground truth byte for
# byte, and ot's outputs must equal dh's.  Cases: sizes from 1 to 4,097
# that are not powers of two; sizes just below, at and above bucket
# thresholds (moved down to 256 keys by the PSI_STREAM_TEST_OT_BUCKET
# hook), many tiny buckets (target 16), and the real 2^12 threshold (4,096
# keys, one bucket; 4,097 make two); empty inputs on either side and both;
# disjoint, identical and nested sets; heavy duplicates on both sides;
# unbalanced 1:1000 both ways; CRLF, a last line without newline, empty
# lines, non-ASCII and long keys; --key-field with tabs, --delimiter,
# --csv --header with quoted keys, -z, zstd input, standard input,
# --trim, --ignore-case; --reveal querier (the holder learns nothing);
# --shard I/3 (the three shards together give the whole intersection);
# -o on both sides (atomic, nothing left behind).  The negative twins:
# keys one byte apart never match, and the ot-equals-dh check is seen to
# fail on outputs that differ.  Mixed code paths: one side with
# PSI_STREAM_PORTABLE=1 (libsodium hashing and PRG, portable transpose), the other
# with its CPU's SIMD paths, both ways round; outputs equal dh's and the
# all-SIMD ot run's, and -vv shows each side's paths (portable on the
# wrapped side, AVX2 or more on the other where the CPU has it).
. "${SRCDIR:-.}/tests/lib.sh"
plan 117


# truth MINE THEIRS [FIELD [FS [FOLD [TRIM [HEADER]]]]]: the records of
# MINE (CR before LF dropped) whose key is a non-empty key of THEIRS, in
# MINE's order.  The key is the whole line, or field FIELD split on FS;
# FOLD lower-cases it (ASCII), TRIM strips blanks around it, HEADER skips
# the first line of each file.
truth() {
	awk -v f="${3:-0}" -v fs="${4:-	}" -v fold="${5:-0}" -v trim="${6:-0}" \
	    -v hdr="${7:-0}" '
	function key(line,   n, a, k) {
		if (f > 0) { n = split(line, a, fs); k = f <= n ? a[f] : "" }
		else k = line
		if (trim) { sub(/^[ \t]+/, "", k); sub(/[ \t]+$/, "", k) }
		if (fold) k = tolower(k)
		return k
	}
	{ sub(/\r$/, "") }
	hdr && FNR == 1 { next }
	NR == FNR { k = key($0); if (k != "") h[k] = 1; next }
	{ k = key($0); if (k != "" && (k in h)) print }' "$2" "$1"
}

# each NAME 'ARGS' QFILE HFILE QWANT HWANT: run NAME with both engines
# (ARGS for both sides, then the input file); three checks: dh exact, ot
# exact, ot's outputs equal to dh's.  ONLY=ot runs ot alone (one check).
# QFILE - is standard input, from the file $STDIN.
_id=0
each() {
	_c=$1 _a=$2 _q=$3 _h=$4 _qw=$5 _hw=$6
	_id=$((_id + 1))
	for _e in dh ot; do
		[ "${ONLY:-}" = ot ] && [ "$_e" = dh ] && continue
		_ea="--engine $_e"
		if [ "$_q" = - ]; then
			pair "$_id.$_e" "--insecure -q $_ea $_a $_h" \
			    "--insecure -q $_ea $_a -" <"$STDIN"
		else
			pair "$_id.$_e" "--insecure -q $_ea $_a $_h" \
			    "--insecure -q $_ea $_a $_q"
		fi
		if [ "$C_RC $L_RC" = "0 0" ] && cmp -s "$T/$_id.$_e.c.out" "$_qw" &&
		    cmp -s "$T/$_id.$_e.l.out" "$_hw"; then
			ok "$_c, $_e: both exit 0, both outputs exact ($(wc -l <"$_qw") records)"
		else
			fail "$_c, $_e: exit $C_RC $L_RC, exact outputs:$(cmp -s "$T/$_id.$_e.c.out" "$_qw" && echo ' querier')$(cmp -s "$T/$_id.$_e.l.out" "$_hw" && echo ' holder')"
			cat "$T/$_id.$_e.c.err" "$T/$_id.$_e.l.err" | head -n 2 | sed 's/^/# /'
		fi
	done
	[ "${ONLY:-}" = ot ] && return 0
	check "$_c: ot's outputs are dh's, byte for byte" same_outputs "$_id.ot" "$_id.dh"
}
same_outputs() {
	cmp -s "$T/$1.c.out" "$T/$2.c.out" && cmp -s "$T/$1.l.out" "$T/$2.l.out"
}

# sets NAME NQ NH NC: querier and holder files of NQ and NH records with
# NC <= min(NQ, NH) keys in common, spread evenly through both files (in
# opposite orders), and their ground truths.
sets() {
	awk -v n="$2" -v c="$4" -v p=q -v rev=0 -f "$T/sets.awk" >"$T/$1.q"
	awk -v n="$3" -v c="$4" -v p=h -v rev=1 -f "$T/sets.awk" >"$T/$1.h"
	truth "$T/$1.q" "$T/$1.h" >"$T/$1.qw"
	truth "$T/$1.h" "$T/$1.q" >"$T/$1.hw"
}
cat >"$T/sets.awk" <<'EOF'
BEGIN {
	for (i = 0; i < n; i++) {
		k = int(i * c / n)
		if (int((i + 1) * c / n) > k)
			printf "key-%07d\n", ((rev ? c - 1 - k : k) * 7919) % 1000003
		else
			printf "%s-%07d\n", p, i
	}
}
EOF
# case_sets NAME NQ NH NC: sets, then each with no options.
case_sets() {
	sets "$1" "$2" "$3" "$4"
	each "$1: $2 x $3" "" "$T/$1.q" "$T/$1.h" "$T/$1.qw" "$T/$1.hw"
}

# ---- sizes (8 cases, 24 checks) ------------------------------------------
case_sets s1 1 1 1
case_sets s3 3 7 2
case_sets s100 100 99 37
case_sets s999 999 1001 333
id999=$_id
case_sets s1000 1000 1000 1000
case_sets s1001 1001 4097 500
id1001=$_id
case_sets s2047 2047 2049 1023
case_sets s4097 4097 333 300
is "ground truth of 1001 x 4097: 500 common keys" "$(wc -l <"$T/s1001.qw")" 500

# ---- bucket thresholds, moved to 256 keys; tiny buckets; 4096 (6 cases, 18)
PSI_STREAM_TEST_OT_BUCKET=256; export PSI_STREAM_TEST_OT_BUCKET
case_sets b255 255 255 100
case_sets b256 256 256 128
case_sets b257 257 100 50
case_sets b513 100 513 99
PSI_STREAM_TEST_OT_BUCKET=16
case_sets tiny 2000 1999 700
unset PSI_STREAM_TEST_OT_BUCKET
# The real threshold: 2^12 querier keys are one bucket (4097 x 333 above
# are two).
case_sets t4096 4096 70 60

# ---- empty, disjoint, identical, nested (7 cases, 21) ----------------------
: >"$T/empty"
sets e 500 500 0
each "empty querier" "" "$T/empty" "$T/e.h" "$T/empty" "$T/empty"
each "empty holder" "" "$T/e.q" "$T/empty" "$T/empty" "$T/empty"
each "both empty" "" "$T/empty" "$T/empty" "$T/empty" "$T/empty"
case_sets disjoint 800 900 0
sets id 1200 1200 1200
each "identical" "" "$T/id.q" "$T/id.q" "$T/id.q" "$T/id.q"
sets nest 1500 400 400
awk 'NR % 3 == 0' "$T/nest.q" >"$T/sub"
truth "$T/nest.q" "$T/sub" >"$T/nest.qw"
each "nested: holder inside querier" "" "$T/nest.q" "$T/sub" "$T/nest.qw" "$T/sub"
each "nested: querier inside holder" "" "$T/sub" "$T/nest.q" "$T/sub" "$T/nest.qw"

# ---- duplicates, unbalanced (3 cases, 9) --------------------------------
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "dup-%d\n", i % 7 }' >"$T/dq"
awk 'BEGIN { for (i = 0; i < 2500; i++) printf "dup-%d\n", 4 + i % 900 }' >"$T/dh"
truth "$T/dq" "$T/dh" >"$T/dq.w"
truth "$T/dh" "$T/dq" >"$T/dh.w"
each "heavy duplicates: 3000 records of 7 keys x 2500 of 900" "" \
    "$T/dq" "$T/dh" "$T/dq.w" "$T/dh.w"
case_sets u1 2 2000 1
case_sets u2 2000 2 2

# ---- formats and normalization (10 cases, 30) ---------------------------
messy_inputs "$T/mq" "$T/mh" 3000
truth "$T/mq" "$T/mh" >"$T/mq.w"
truth "$T/mh" "$T/mq" >"$T/mh.w"
each "CRLF, no last newline, empty lines, non-ASCII, 3000-byte key" "" \
    "$T/mq" "$T/mh" "$T/mq.w" "$T/mh.w"

awk 'BEGIN { for (i = 0; i < 900; i++) printf "r%d\tid-%05d\tx%d\n", i, i * 3, i }' >"$T/fq"
awk 'BEGIN { for (i = 0; i < 700; i++) printf "s%d\tid-%05d\n", i, i * 2 }' >"$T/fh"
truth "$T/fq" "$T/fh" 2 >"$T/fq.w"
truth "$T/fh" "$T/fq" 2 >"$T/fh.w"
each "--key-field 2 (tab)" "--key-field 2" "$T/fq" "$T/fh" "$T/fq.w" "$T/fh.w"

tr '\t' ';' <"$T/fq" >"$T/sq"
tr '\t' ';' <"$T/fh" >"$T/sh"
truth "$T/sq" "$T/sh" 2 ';' >"$T/sq.w"
truth "$T/sh" "$T/sq" 2 ';' >"$T/sh.w"
each "--delimiter ';' --key-field 2" "--delimiter ; --key-field 2" \
    "$T/sq" "$T/sh" "$T/sq.w" "$T/sh.w"

emails_csv "$T/c1.csv"
# c3: other keys, in field 2 as in c1.
cat >"$T/c3.csv" <<'EOF'
k,email,id
x,"dave@example.com",1
x,"carol
line2",2
x,nobody,3
x,"bob, jr@example.com",4
EOF
# --header: each output starts with its input's header line
printf 'id,email,n\n2,"bob, jr@example.com",20\n3,"carol\nline2",30\n4,dave@example.com,40\n' >"$T/c1.w"
printf 'k,email,id\nx,"dave@example.com",1\nx,"carol\nline2",2\nx,"bob, jr@example.com",4\n' >"$T/c3.w"
each "--csv --header --key-field 2, quoted keys with , and newline" \
    "--csv --header --key-field 2" "$T/c1.csv" "$T/c3.csv" "$T/c1.w" "$T/c3.w"

tr '\n' '\0' <"$T/fq" >"$T/zq"
tr '\n' '\0' <"$T/fh" >"$T/zh"
tr '\n' '\0' <"$T/fq.w" >"$T/zq.w"
tr '\n' '\0' <"$T/fh.w" >"$T/zh.w"
each "-z --key-field 2" "-z --key-field 2" "$T/zq" "$T/zh" "$T/zq.w" "$T/zh.w"

if command -v zstd >/dev/null 2>&1; then
	zstd -q -o "$T/fq.zst" "$T/fq"
	zstd -q -o "$T/fh.zst" "$T/fh"
	each "zstd-compressed inputs" "--key-field 2" "$T/fq.zst" "$T/fh.zst" \
	    "$T/fq.w" "$T/fh.w"
else
	skip "zstd inputs, dh: no zstd program"
	skip "zstd inputs, ot: no zstd program"
	skip "zstd inputs, ot = dh: no zstd program"
fi

sets in 700 800 300
STDIN=$T/in.q each "querier reads standard input" "" - "$T/in.h" "$T/in.qw" \
    "$T/in.hw"

awk 'BEGIN { for (i = 0; i < 600; i++) printf "%s%s-%04d%s\n",
    (i % 3 ? "" : "  "), (i % 2 ? "User" : "USER"), i, (i % 5 ? "" : " \t") }' >"$T/nq"
awk 'BEGIN { for (i = 0; i < 600; i += 2) printf "%s-%04d\n",
    (i % 4 ? "USER" : "user"), i }' >"$T/nh"
truth "$T/nq" "$T/nh" 0 "" 1 1 >"$T/nq.w"
truth "$T/nh" "$T/nq" 0 "" 1 1 >"$T/nh.w"
each "--trim --ignore-case" "--trim --ignore-case" "$T/nq" "$T/nh" \
    "$T/nq.w" "$T/nh.w"
truth "$T/nq" "$T/nh" 0 "" 0 1 >"$T/nq.t"
truth "$T/nh" "$T/nq" 0 "" 0 1 >"$T/nh.t"
each "--trim only: case still counts" "--trim" "$T/nq" "$T/nh" \
    "$T/nq.t" "$T/nh.t"

# ---- reveal, shard, -o (3 cases, 9 + 3) ----------------------------------
sets rv 1500 1300 600
each "--reveal querier: the holder writes nothing" "--reveal querier" \
    "$T/rv.q" "$T/rv.h" "$T/rv.qw" "$T/empty"

for _e in dh ot; do
	_ea="--engine $_e"
	: >"$T/sh.$_e.q"; : >"$T/sh.$_e.h"; _rcs=
	for i in 1 2 3; do
		pair "sh$i.$_e" "--insecure -q $_ea --shard $i/3 $T/rv.h" \
		    "--insecure -q $_ea --shard $i/3 $T/rv.q"
		_rcs="$_rcs$C_RC$L_RC"
		cat "$T/sh$i.$_e.c.out" >>"$T/sh.$_e.q"
		cat "$T/sh$i.$_e.l.out" >>"$T/sh.$_e.h"
	done
	sort "$T/sh.$_e.q" >"$T/sh.$_e.qs"; sort "$T/rv.qw" >"$T/rv.qs"
	sort "$T/sh.$_e.h" >"$T/sh.$_e.hs"; sort "$T/rv.hw" >"$T/rv.hs"
	check "--shard 1/3, 2/3, 3/3, $_e: all exit 0, together the whole intersection" \
	    test "$_rcs" = 000000 -a -s "$T/sh1.$_e.c.out" \
	    -a "$(cat "$T/sh.$_e.qs" | cksum)" = "$(cat "$T/rv.qs" | cksum)" \
	    -a "$(cat "$T/sh.$_e.hs" | cksum)" = "$(cat "$T/rv.hs" | cksum)"
done
check "--shard: each shard's ot outputs are dh's" \
    sh -c 'for i in 1 2 3; do cmp -s "$1/sh$i.ot.c.out" "$1/sh$i.dh.c.out" &&
        cmp -s "$1/sh$i.ot.l.out" "$1/sh$i.dh.l.out" || exit 1; done' _ "$T"

for _e in dh ot; do
	_ea="--engine $_e"
	mkdir -p "$T/o.$_e"
	pair "o.$_e" "--insecure -q $_ea -o $T/o.$_e/l.txt $T/rv.h" \
	    "--insecure -q $_ea -o $T/o.$_e/c.txt $T/rv.q"
	check "-o, $_e: exit 0, both files exact, nothing else left" \
	    test "$C_RC $L_RC" = "0 0" -a "$(ls -A "$T/o.$_e" | tr '\n' ' ')" = "c.txt l.txt " \
	    -a "$(cksum <"$T/o.$_e/c.txt")" = "$(cksum <"$T/rv.qw")" \
	    -a "$(cksum <"$T/o.$_e/l.txt")" = "$(cksum <"$T/rv.hw")"
done

# ---- negative twins (2 checks) --------------------------------------------
sed 's/$/x/' "$T/s999.h" >"$T/hx"
for _e in dh ot; do
	_ea="--engine $_e"
	pair "x.$_e" "--insecure -q $_ea $T/hx" "--insecure -q $_ea $T/s999.q"
	is "keys one byte apart, $_e: both exit 0, no output" \
	    "$C_RC $L_RC $(cat "$T/x.$_e.c.out" "$T/x.$_e.l.out" | wc -c)" "0 0 0"
done
# ---- mixed code paths (6 checks) ------------------------------------------
# A wrapper gives one side (the querier: --peer, or the holder: --listen)
# the portable paths; the values on the wire must not change: the outputs
# are dh's and those of the all-SIMD ot run.  With -vv each side names
# its paths: the wrapped side "portable", the other this CPU's (AVX2 or
# more where /proc/cpuinfo has avx2: the variable really switched).
simd=no
grep -qw avx2 /proc/cpuinfo 2>/dev/null && simd=yes
for _side in peer listen; do
	printf '#!/bin/sh\n[ "$1" = --%s ] && PSI_STREAM_PORTABLE=1 && export PSI_STREAM_PORTABLE\nexec "%s" "$@"\n' \
	    "$_side" "$PSI" >"$T/mixed.sh"
	chmod +x "$T/mixed.sh"
	_psi=$PSI PSI=$T/mixed.sh
	pair "m.$_side" "--insecure -vv --engine ot $T/s999.h" \
	    "--insecure -vv --engine ot $T/s999.q"
	PSI=$_psi
	check "portable paths on the --$_side side only: exit 0, ot's outputs are dh's and all-SIMD ot's" \
	    test "$C_RC $L_RC" = "0 0" -a "$(cksum <"$T/m.$_side.c.out")" = \
	    "$(cksum <"$T/$id999.dh.c.out")" -a "$(cksum <"$T/m.$_side.l.out")" = \
	    "$(cksum <"$T/$id999.dh.l.out")" -a "$(cksum <"$T/m.$_side.c.out")" = \
	    "$(cksum <"$T/$id999.ot.c.out")" -a "$(cksum <"$T/m.$_side.l.out")" = \
	    "$(cksum <"$T/$id999.ot.l.out")"
	_p=c _o=l
	[ $_side = listen ] && _p=l _o=c
	check "... -vv: the portable side says so" \
	    grep -q 'OT engine: portable paths' "$T/m.$_side.$_p.err"
	if [ $simd = yes ]; then
		check "... the other side names its SIMD paths (the variable switched)" \
		    grep -q 'OT engine: .*AVX2 paths' "$T/m.$_side.$_o.err"
	else
		skip "... the other side's SIMD paths: this CPU has no AVX2"
	fi
done
differ() { ! same_outputs "$@"; }
check "the ot = dh check fails on outputs that differ" differ "$id999.dh" "$id1001.dh"

done_testing
