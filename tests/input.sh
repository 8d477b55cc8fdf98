#!/bin/sh
# input.sh: end-to-end tests of the input layer through `psi-stream check`:
# plain, CRLF, empty-line, NUL, zstd, CSV (quoted comma, doubled quote,
# newline inside quotes, header), --trim/--ignore-case, key fields, invalid
# records (exit 1, first record numbers, file names), exact and estimated
# duplicate counts, stdin, and the fatal cases (gzip, missing file,
# directory: exit 2).  A plain file cut into byte ranges parsed in parallel
# (PSI_STREAM_CHECK_RANGES) must print exactly what the single-threaded
# path prints, on inputs chosen to hit every boundary case.  Every case runs through both io paths (io_uring and
# PSI_STREAM_IO=read), which must print the same.  strace confirms that
# io_uring is used by default and not with PSI_STREAM_IO=read, and (by
# fault injection) that a refused io_uring_setup falls back silently.
# Needs PSI_STREAM (the binary); prints TAP.

PS=${PSI_STREAM:?PSI_STREAM must name the psi-stream binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/input.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT INT TERM
n=0
fail=0

ok() {	# ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

# check_both DESC WANT_RC WANT_FILE ARGS...: runs `psi-stream check ARGS`
# through both io paths; both must exit WANT_RC and print WANT_FILE.
check_both() {
	desc=$1 want_rc=$2 want=$3
	shift 3
	"$PS" check "$@" >"$T/out.uring" 2>"$T/err.uring"
	rc1=$?
	PSI_STREAM_IO=read "$PS" check "$@" >"$T/out.read" 2>"$T/err.read"
	rc2=$?
	good=0
	[ "$rc1" -eq "$want_rc" ] && [ "$rc2" -eq "$want_rc" ] &&
	    cmp -s "$T/out.uring" "$want" && cmp -s "$T/out.read" "$want" ||
	    good=1
	ok $good "$desc"
	if [ $good -ne 0 ]; then
		echo "# exit $rc1 (uring), $rc2 (read), want $want_rc; got:"
		sed 's/^/#   /' "$T/out.uring" "$T/err.uring"
		echo "# want:"
		sed 's/^/#   /' "$want"
	fi
}

# fatal_both DESC MESSAGE ARGS...: both io paths exit 2 with MESSAGE on
# stderr and nothing on stdout.
fatal_both() {
	desc=$1 msg=$2
	shift 2
	"$PS" check "$@" >"$T/out.uring" 2>"$T/err.uring"
	rc1=$?
	PSI_STREAM_IO=read "$PS" check "$@" >"$T/out.read" 2>"$T/err.read"
	rc2=$?
	good=0
	[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] &&
	    grep -qF -- "$msg" "$T/err.uring" &&
	    grep -qF -- "$msg" "$T/err.read" &&
	    ! [ -s "$T/out.uring" ] || good=1
	ok $good "$desc"
	[ $good -eq 0 ] || { echo "# exit $rc1/$rc2, stderr:"; sed 's/^/#   /' "$T/err.uring"; }
}

expect() {	# expect FILE RECORDS KEYS EMPTY INVALID DUPLICATES
	printf 'records     %s\nkeys        %s\nempty       %s\ninvalid     %s\nduplicates  %s\n' \
	    "$2" "$3" "$4" "$5" "$6" >"$1"
}

# The binary must have the check subcommand (main.c of the integration).
"$PS" check /dev/null >"$T/probe" 2>&1
if ! grep -q '^records' "$T/probe"; then
	probe=$(head -1 "$T/probe")
	echo "1..0 # SKIP $PS has no working check subcommand (${probe:-no output})"
	exit 0
fi

# ---- formats ---------------------------------------------------------------

{ seq 1 1000; seq 1 10; } >"$T/lines.txt"
expect "$T/want" 1010 1010 0 0 10
check_both "plain lines, exact duplicate count" 0 "$T/want" "$T/lines.txt"
expect "$T/want" 1000 1000 0 0 0
seq 1 1000 >"$T/uniq.txt"
check_both "no duplicates" 0 "$T/want" "$T/uniq.txt"

printf 'a\r\nb\r\n\r\nc\r\n\nb' >"$T/crlf.txt"
expect "$T/want" 6 4 2 0 1
check_both "CRLF, empty lines, last line without newline" 0 "$T/want" "$T/crlf.txt"
printf 'a\rb\nab\n' >"$T/cr.txt"
expect "$T/want" 2 2 0 0 0
check_both "a CR inside a line is data" 0 "$T/want" "$T/cr.txt"

printf 'h1\tk1\0h2\tk2\0h3\tk1\0h4\t\0' >"$T/nul.bin"
expect "$T/want" 4 3 1 0 1
check_both "-z --key-field 2 (tab)" 0 "$T/want" -z --key-field 2 "$T/nul.bin"
fatal_both "without -z, NULs are binary data: refused, pointing to -z" \
    "nul.bin: binary data (a NUL byte in its first 4096 bytes); for NUL-terminated records use -z" \
    "$T/nul.bin"

if command -v zstd >/dev/null 2>&1; then
	zstd -q -o "$T/nul.bin.zst" "$T/nul.bin"
	expect "$T/want" 4 3 1 0 1
	check_both "zstd, -z, tab field: same as plain" 0 "$T/want" \
	    -z --key-field 2 "$T/nul.bin.zst"
	seq 1 200000 | zstd -q >"$T/seq.zst"
	expect "$T/want" 200000 200000 0 0 0
	check_both "200000 lines of zstd" 0 "$T/want" "$T/seq.zst"
	head -c 1000 "$T/seq.zst" >"$T/trunc.zst"
	fatal_both "truncated zstd: exit 2" "corrupt zstd data" "$T/trunc.zst"
else
	skip "no zstd program"
	skip "no zstd program"
	skip "no zstd program"
fi

printf 'x,y\tz\n' >"$T/delim.txt"
expect "$T/want" 1 1 0 0 0
check_both "--delimiter ','" 0 "$T/want" --key-field 2 --delimiter , "$T/delim.txt"

cat >"$T/c.csv" <<'EOF'
id,key,n
1,"a,b",x
2,"multi
line",y
3,"say ""hi""",z
4,plain,w
5,"a,b",v
6,"",u
EOF
expect "$T/want" 6 5 1 0 1
check_both "--csv --header --key-field 2: quotes, comma, newline inside" 0 \
    "$T/want" --csv --header --key-field 2 "$T/c.csv"
expect "$T/want" 8 8 0 0 0
check_both "without --csv/--header the same file is 8 comma records" 0 \
    "$T/want" --delimiter , --key-field 1 "$T/c.csv"

printf '  Alice \nalice\n\tALICE\n \t \nbob\n' >"$T/norm.txt"
expect "$T/want" 5 4 1 0 2
check_both "--trim --ignore-case" 0 "$T/want" --trim --ignore-case "$T/norm.txt"
expect "$T/want" 5 5 0 0 0
check_both "without normalisation all keys differ" 0 "$T/want" "$T/norm.txt"

# ---- invalid records -------------------------------------------------------

printf 'a\t1\nb\nc\t3\nd\n' >"$T/bad1.txt"
printf 'e\nf\t6\n' >"$T/bad2.txt"
printf 'records     4\nkeys        2\nempty       0\ninvalid     2 (records 2, 4)\nduplicates  0\n' >"$T/want"
check_both "missing field: counted with record numbers, exit 1" 1 "$T/want" \
    --key-field 2 "$T/bad1.txt"
printf 'records     6\nkeys        3\nempty       0\ninvalid     3 (records %s:2, %s:4, %s:1)\nduplicates  0\n' \
    "$T/bad1.txt" "$T/bad1.txt" "$T/bad2.txt" >"$T/want"
check_both "several files: invalid records name their file" 1 "$T/want" \
    --key-field 2 "$T/bad1.txt" "$T/bad2.txt"
expect "$T/want" 4 4 0 0 0
check_both "the same file is clean as whole-line keys" 0 "$T/want" "$T/bad1.txt"
printf 'records     4\nkeys        2\nempty       0\ninvalid     2 (records 2, 4)\nduplicates  0\n' >"$T/want"
check_both "--skip-invalid does not change check's count" 1 "$T/want" \
    --key-field 2 --skip-invalid "$T/bad1.txt"

head -c 65536 /dev/zero | tr '\0' k >"$T/k65536"
{ head -c 65535 "$T/k65536"; echo; cat "$T/k65536"; echo; echo z; } >"$T/long.txt"
printf 'records     3\nkeys        2\nempty       0\ninvalid     1 (record 2)\nduplicates  0\n' >"$T/want"
check_both "65535-byte key valid, 65536-byte key invalid" 1 "$T/want" "$T/long.txt"

printf '1,"open\n2,x\n' >"$T/unterm.csv"
printf 'records     1\nkeys        0\nempty       0\ninvalid     1 (record 1)\nduplicates  0\n' >"$T/want"
check_both "unterminated CSV quote is invalid" 1 "$T/want" --csv "$T/unterm.csv"

# ---- fatal errors ----------------------------------------------------------

printf 'hello\n' | gzip -c >"$T/x.gz"
fatal_both "gzip refused with a zcat hint (exit 2)" "use: zcat" "$T/x.gz"
fatal_both "missing file: exit 2 naming it" "cannot open $T/nope" "$T/nope"
fatal_both "directory: exit 2" "$T: is a directory" "$T"
fatal_both "a missing file after a good one is still fatal" "cannot open" \
    "$T/lines.txt" "$T/nope"

# ---- stdin -----------------------------------------------------------------

expect "$T/want" 1010 1010 0 0 10
"$PS" check "$T/lines.txt" >"$T/a"
cat "$T/lines.txt" | "$PS" check >"$T/b"
cat "$T/lines.txt" | PSI_STREAM_IO=read "$PS" check - >"$T/c"
cmp -s "$T/a" "$T/want" && cmp -s "$T/b" "$T/want" && cmp -s "$T/c" "$T/want"
ok $? "stdin (no FILE, and -) as a pipe, both io paths"

# ---- duplicate estimate ----------------------------------------------------

seq 1 300000 >"$T/big.txt"
seq 1 100000 >>"$T/big.txt"
"$PS" check "$T/big.txt" >"$T/est" 2>&1
awk '/^duplicates  *~/ { d = substr($2, 2) + 0; m = $4; sub(/\+-/, "", m);
	sub(/\)/, "", m); e = d - 100000; if (e < 0) e = -e; good = e <= m + 0 }
	END { exit !good }' "$T/est"
rc=$?
ok $rc "beyond the exact set: estimate within its printed margin"
[ $rc -eq 0 ] || sed 's/^/#   /' "$T/est"

# ---- parallel check --------------------------------------------------------

# split_same DESC ARGS...: `check ARGS` cut into 2..512 byte ranges
# (PSI_STREAM_CHECK_RANGES), through both io paths, prints exactly what the
# single-threaded path (PSI_STREAM_CHECK_RANGES=1) prints, with the same
# exit status and stderr.
split_same() {
	desc=$1
	shift
	PSI_STREAM_CHECK_RANGES=1 "$PS" check "$@" >"$T/ref.out" 2>"$T/ref.err"
	rc0=$?
	good=0
	for io in uring read; do
		for t in 2 3 4 7 16 64 512; do
			if [ $io = read ]; then
				PSI_STREAM_IO=read PSI_STREAM_CHECK_RANGES=$t \
				    "$PS" check "$@" >"$T/par.out" 2>"$T/par.err"
			else
				PSI_STREAM_CHECK_RANGES=$t \
				    "$PS" check "$@" >"$T/par.out" 2>"$T/par.err"
			fi
			rc=$?
			if [ $rc -ne $rc0 ] || ! cmp -s "$T/ref.out" "$T/par.out" ||
			    ! cmp -s "$T/ref.err" "$T/par.err"; then
				good=1
				echo "# $io, $t ranges: exit $rc, want $rc0"
				diff "$T/ref.out" "$T/par.out" | sed 's/^/#   /'
				diff "$T/ref.err" "$T/par.err" | sed 's/^/#   /'
				break 2
			fi
		done
	done
	ok $good "$desc"
}

# Random lines of 0..120 bytes from a small alphabet (many duplicates),
# some empty, some CRLF.
awk 'BEGIN { srand(7); for (i = 0; i < 20000; i++) {
	n = int(rand() * rand() * 120); s = ""
	for (j = 0; j < n; j++) s = s substr("abcab\tc", int(rand() * 7) + 1, 1)
	printf "%s%s\n", s, rand() < 0.2 ? "\r" : "" } }' >"$T/rand.txt"
split_same "ranges: random line lengths, CRLF, empty lines" "$T/rand.txt"
split_same "ranges: --key-field 2 with missing fields (invalid numbers)" \
    --key-field 2 "$T/rand.txt"
split_same "ranges: --header --key-field 3 --skip-invalid" \
    --header --key-field 3 --skip-invalid "$T/rand.txt"
split_same "ranges: --trim --ignore-case --delimiter b" \
    --trim --ignore-case --key-field 2 --delimiter b "$T/rand.txt"
tr '\n' '\0' <"$T/rand.txt" >"$T/rand.bin"
split_same "ranges: -z" -z "$T/rand.bin"
split_same "ranges: -z --header --key-field 2" -z --header --key-field 2 \
    "$T/rand.bin"
split_same "ranges: without -z, a NUL file is one giant record" "$T/rand.bin"
head -c -1 "$T/rand.txt" >"$T/noeol.txt"
split_same "ranges: last record without terminator" --header "$T/noeol.txt"
for f in 'a' 'ab' '\n' '\n\n' 'a\nb' '\r\n' 'a\n\nb\n' '\t\t\n'; do
	printf "$f" >"$T/tiny"
	split_same "ranges: tiny file $(printf '%s' "$f" | tr '\\' /) (fewer bytes than ranges)" \
	    --header --key-field 2 "$T/tiny"
done
awk 'BEGIN { for (i = 0; i < 300000; i++) printf "%c", 97 + i % 26 }' \
    >"$T/giant.txt"
split_same "ranges: one giant line without terminator" "$T/giant.txt"
echo >>"$T/giant.txt"
seq 1 1000 >>"$T/giant.txt"
split_same "ranges: a giant line, then short ones" --header "$T/giant.txt"
{ seq 1 5000; head -c 70000 /dev/zero | tr '\0' k; echo; seq 1 5000; } \
    >"$T/longkey.txt"
split_same "ranges: a key over 65535 bytes is invalid, numbered" \
    "$T/longkey.txt"
awk 'BEGIN { for (i = 1; i <= 30000; i++)
	if (i % 2999 == 0) print i; else printf "%d\t%d\n", i, i % 7 }' \
    >"$T/sparse.txt"
split_same "ranges: invalid records spread over ranges keep their numbers" \
    --key-field 2 "$T/sparse.txt"
tr '\n' '\0' <"$T/sparse.txt" >"$T/sparse.bin"
split_same "ranges: the same with --header and -z" --header -z --key-field 2 \
    "$T/sparse.bin"
split_same "ranges: several files, invalid records name their file" \
    --key-field 2 "$T/rand.txt" "$T/bad1.txt" "$T/rand.bin" "$T/rand.txt"
seq 1 262144 >"$T/exact.txt"
split_same "ranges: exactly the exact-set limit of distinct keys" "$T/exact.txt"
seq 1 262145 >"$T/over.txt"
split_same "ranges: one key past the exact set: the same estimate" "$T/over.txt"
split_same "ranges: sets that overflow only once merged" "$T/exact.txt" \
    "$T/over.txt" "$T/big.txt"
if command -v zstd >/dev/null 2>&1; then
	zstd -q -c "$T/rand.txt" >"$T/rand.zst"
	split_same "ranges: zstd input is read whole" "$T/rand.zst" "$T/rand.txt"
else
	skip "no zstd"
fi
split_same "ranges: --csv is read whole" --csv --key-field 2 "$T/rand.txt"

# Which path was taken: -v names the files that were cut.
PSI_STREAM_CHECK_RANGES=3 "$PS" check -v "$T/rand.txt" "$T/bad1.txt" \
    >/dev/null 2>"$T/verr"
grep -q "rand.txt: parsing in 3 byte ranges" "$T/verr" &&
    grep -q "bad1.txt: parsing in 3 byte ranges" "$T/verr"
ok $? "PSI_STREAM_CHECK_RANGES=3 cuts every plain file in 3"
{ PSI_STREAM_CHECK_RANGES=3 "$PS" check -v --csv "$T/rand.txt"
  PSI_STREAM_CHECK_RANGES=1 "$PS" check -v "$T/rand.txt"
  PSI_STREAM_CHECK_RANGES=3 "$PS" check -v - <"$T/rand.txt"
  [ -f "$T/rand.zst" ] &&
      PSI_STREAM_CHECK_RANGES=3 "$PS" check -v "$T/rand.zst"
} >/dev/null 2>"$T/verr"
! grep -q "byte ranges" "$T/verr"
ok $? "no cutting with --csv, one thread, stdin or zstd"
"$PS" check -v "$T/rand.txt" >/dev/null 2>"$T/verr"
! grep -q "byte ranges" "$T/verr"
ok $? "by default a small file is not cut"
awk 'BEGIN { for (i = 0; i < 400000; i++) print i % 250000 }' >"$T/mid.txt"
"$PS" check -v "$T/mid.txt" >"$T/a" 2>"$T/verr"
PSI_STREAM_CHECK_RANGES=1 "$PS" check "$T/mid.txt" >"$T/b"
if [ "$(getconf _NPROCESSORS_ONLN)" -gt 1 ]; then
	grep -q "byte ranges" "$T/verr" && cmp -s "$T/a" "$T/b"
	ok $? "by default a file over 2 MiB is cut, with the same output"
else
	skip "one CPU: nothing is cut by default"
fi
PSI_STREAM_CHECK_RANGES=0 "$PS" check "$T/rand.txt" >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "PSI_STREAM_CHECK_RANGES=0 is a usage error"

# ---- io paths --------------------------------------------------------------

PSI_STREAM_IO=read "$PS" check -v "$T/lines.txt" >/dev/null 2>"$T/verr"
grep -q 'read(2)' "$T/verr"
ok $? "-v says when read(2) is used"

if command -v strace >/dev/null 2>&1 &&
    strace -f -o /dev/null true >/dev/null 2>&1; then
	strace -f -e trace=io_uring_setup,io_uring_enter -o "$T/st1" \
	    "$PS" check "$T/lines.txt" >/dev/null 2>&1
	PSI_STREAM_IO=read strace -f -e trace=io_uring_setup,io_uring_enter \
	    -o "$T/st2" "$PS" check "$T/lines.txt" >/dev/null 2>&1
	if grep -q 'io_uring_setup(.*= -1' "$T/st1"; then
		skip "io_uring unavailable here (setup fails)"
	else
		grep -q io_uring_enter "$T/st1"
		ok $? "strace: io_uring_enter used by default"
	fi
	! grep -q io_uring "$T/st2"
	ok $? "strace: no io_uring with PSI_STREAM_IO=read"
	# A kernel or seccomp policy refusing io_uring: silent fallback.
	for e in EPERM ENOSYS; do
		if strace -f -o /dev/null -e trace=io_uring_setup \
		    -e inject=io_uring_setup:error=$e \
		    "$PS" check "$T/lines.txt" >"$T/a" 2>"$T/e"; then
			strace -f -o /dev/null -e trace=io_uring_setup \
			    -e inject=io_uring_setup:error=$e \
			    "$PS" check -v "$T/lines.txt" >/dev/null 2>"$T/ev"
			expect "$T/want" 1010 1010 0 0 10
			cmp -s "$T/a" "$T/want" && ! [ -s "$T/e" ] &&
			    grep -q 'io_uring unavailable.*using read(2)' "$T/ev"
			ok $? "io_uring_setup failing with $e: silent read(2) fallback, one line with -v"
		else
			skip "strace cannot inject faults"
		fi
	done
else
	skip "no strace"
	skip "no strace"
	skip "no strace"
	skip "no strace"
fi

echo "1..$n"
exit $fail
