#!/bin/sh
# packaging.sh: what a fresh machine and `make install` give.  bootstrap
# installs every tool that a test of make check would otherwise skip on;
# `make install DESTDIR=...` puts the program, the man page, README,
# doc/PROTOCOL.md and examples/ (scripts executable) under $(docdir);
# tests/slowdns.c compiles without a warning when configure's
# -D_GNU_SOURCE is on the command line; README describes examples/crontab
# as what it holds.  Negative twins: each checker fails on a doctored copy
# (a tool gone from bootstrap, a file gone from the install tree, the
# _GNU_SOURCE guard gone, a README claiming both sides).
. "${SRCDIR:-.}/tests/lib.sh"
plan 12

# Tools whose absence makes a test skip, and the compressors whose
# absence makes formats.sh fake their output by hand (its `mk FILE TOOL
# MAGIC` lines); each must be in bootstrap's list, as its Debian package.
# (bash, python3 and ss have fallbacks in the tests: nothing is skipped.)
skip_tools() {
	{ grep -oh 'command -v [a-z0-9][a-z0-9]*' "$SRCDIR"/tests/*.sh |
	    awk '{ print $3 }'
	  sed -n 's/^mk "[^"]*" \([a-z0-9][a-z0-9]*\) .*/\1/p' "$SRCDIR"/tests/*.sh
	} | grep -vx -e bash -e python3 -e ss | sort -u
}
deb_of() { case $1 in xz) echo xz-utils ;; *) echo "$1" ;; esac; }
# not_bootstrapped BOOTSTRAP: the tools above that BOOTSTRAP never installs.
not_bootstrapped() {
	for t in $(skip_tools); do
		sed -n 's/^debs="\(.*\)".*/\1/p' "$1" | tr ' \t' '\n\n' |
		    grep -qx "$(deb_of "$t")" || echo "$t"
	done
}
n=$(skip_tools | wc -l)
check "the tests guard on at least 4 tools (found $n)" test "$n" -ge 4
missing=$(not_bootstrapped "$SRCDIR/bootstrap" | tr '\n' ' ')
is "bootstrap installs every tool a test would skip without" "$missing" ""
sed 's/ parallel / /' "$SRCDIR/bootstrap" >"$T/bootstrap"
missing=$(not_bootstrapped "$T/bootstrap" | tr '\n' ' ')
is "... negative twin: a bootstrap without parallel is caught" \
    "$missing" "parallel "
sed 's/ xz-utils / /' "$SRCDIR/bootstrap" >"$T/bootstrap"
missing=$(not_bootstrapped "$T/bootstrap" | tr '\n' ' ')
is "... and one without xz-utils, which formats.sh's fixtures use" \
    "$missing" "xz "

# make install into a scratch root.
want="bin/psi-stream share/man/man1/psi-stream.1 share/doc/psi-stream/README.md
share/doc/psi-stream/PROTOCOL.md share/doc/psi-stream/examples/README.md
share/doc/psi-stream/examples/crontab
share/doc/psi-stream/examples/k8s-indexed-job.yaml
share/doc/psi-stream/examples/parallel-shards.sh
share/doc/psi-stream/examples/slurm-array.sh"
# not_installed ROOT: the wanted files missing under ROOT/usr/local.
not_installed() {
	for f in $want; do
		[ -f "$1/usr/local/$f" ] || echo "$f"
	done
}
if [ -n "$BUILDDIR" ] && [ -f "$BUILDDIR/Makefile" ]; then
	make -s -C "$BUILDDIR" install DESTDIR="$T/root" prefix=/usr/local \
	    docdir=/usr/local/share/doc/psi-stream \
	    >"$T/install.out" 2>&1; rc=$?
	is "make install DESTDIR=... succeeds" "$rc" 0
	missing=$(not_installed "$T/root" | tr '\n' ' ')
	is "it installs the program, man page, PROTOCOL.md and examples/" \
	    "$missing" ""
	check "... the example scripts stay executable" \
	    test -x "$T/root/usr/local/share/doc/psi-stream/examples/parallel-shards.sh"
	rm -f "$T/root/usr/local/share/doc/psi-stream/PROTOCOL.md"
	missing=$(not_installed "$T/root" | tr '\n' ' ')
	is "... negative twin: a tree without PROTOCOL.md is caught" \
	    "$missing" "share/doc/psi-stream/PROTOCOL.md "
else
	skip "no build directory: make install"
	skip "no build directory: installed files"
	skip "no build directory: executable scripts"
	skip "no build directory: negative twin"
fi

# tests/slowdns.c under configure's -D_GNU_SOURCE, with -Werror.
cc=${CC:-cc}
if command -v "$cc" >/dev/null 2>&1; then
	"$cc" -fsyntax-only -Wall -Werror -D_GNU_SOURCE=1 \
	    "$SRCDIR/tests/slowdns.c" >"$T/cc.out" 2>&1
	is "tests/slowdns.c compiles warning-free with -D_GNU_SOURCE" "$?" 0
	sed -e '/^#ifndef _GNU_SOURCE/d' -e '/^#endif/d' \
	    "$SRCDIR/tests/slowdns.c" >"$T/slowdns.c"
	"$cc" -fsyntax-only -Wall -Werror -D_GNU_SOURCE=1 "$T/slowdns.c" \
	    >"$T/cc2.out" 2>&1
	check "... negative twin: without the guard it warns" \
	    test "$?" -ne 0
else
	skip "no C compiler: slowdns.c"
	skip "no C compiler: slowdns.c negative twin"
fi

# README on examples/crontab: "both sides" only if the file has both.
claims_both() {
	grep -A1 'examples/crontab`](examples/crontab)' "$1" | grep -q 'both sides'
}
has_both() {
	grep -q -- '--listen' "$SRCDIR/examples/crontab" &&
	    grep -q -- '--peer ' "$SRCDIR/examples/crontab"
}
if claims_both "$SRCDIR/README.md" && ! has_both; then
	fail "README says what examples/crontab holds"
else
	ok "README says what examples/crontab holds"
fi
sed 's|is one side of a nightly job:|has both sides of a nightly job:|' \
    "$SRCDIR/README.md" >"$T/README.md"
if claims_both "$T/README.md" && ! has_both; then
	ok "... negative twin: a README claiming both sides is caught"
else
	fail "... negative twin: a README claiming both sides is caught"
fi
done_testing
