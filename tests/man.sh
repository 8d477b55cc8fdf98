#!/bin/sh
# man.sh: the man page keeps up with the code.  Every long option that
# `psi-stream --help` prints appears in man/psi-stream.1 as "Fl -NAME";
# every exit status the sources can produce (EXIT_* names mapped to numbers
# through the enum in src/util.h, literal exit/_exit/usage/fatal statuses
# and literal ternary returns, 128+N for signals) has an ".It N" entry under
# EXIT STATUS, and every entry there is one the code can produce; the
# SYNOPSIS names every subcommand of usage(); mandoc -Tlint -Wwarning is
# silent (skipped without mandoc).  Negative twins: each checker must fail
# on a doctored copy of the page (one option gone, one status gone, one
# lint warning added).
. "${SRCDIR:-.}/tests/lib.sh"
plan 14

MAN=$SRCDIR/man/psi-stream.1
SRC=$SRCDIR/src

# Long options printed by --help, one a line, with their two dashes.
"$PSI" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$T/opts"

# missing_options PAGE: the --help options PAGE never writes as "Fl -NAME".
missing_options() {
	while read -r opt; do
		grep -Eq -e "Fl -${opt#--}([^a-zA-Z0-9-]|\$)" "$1" || echo "$opt"
	done <"$T/opts"
}

# documented_statuses PAGE: the .It tags under EXIT STATUS ("128+" for
# "128+ Ns Ar n"), one a line.
documented_statuses() {
	awk '/^\.Sh / { in_es = ($0 == ".Sh EXIT STATUS"); next }
	     in_es && /^\.It / { print $2 }' "$1" | sort -u
}

# The exit statuses the code can produce, one a line.
sed -n 's/^[[:space:]]*\(EXIT_[A-Z_]*\)[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1 \2/p' \
    "$SRC/util.h" >"$T/enum"
grep -oh 'EXIT_[A-Z_]*' "$SRC"/*.c | sort -u >"$T/names"
{
	while read -r name; do
		awk -v n="$name" '$1 == n { print $2; found = 1 }
		    END { if (!found) print "unmapped:" n }' "$T/enum"
	done <"$T/names"
	grep -ohE '(^|[^a-zA-Z0-9_])(_?exit|usage|fatal|fatal_errno)\([0-9]+[,)]' \
	    "$SRC"/*.c | sed 's/.*(\([0-9]*\).*/\1/'
	grep -ohE 'return [^;]*\? *[0-9]+ *: *[0-9]+ *;' "$SRC"/*.c |
	    awk -F'[?:;]' '{ print $2 + 0; print $3 + 0 }'
	grep -ohE '(^|[^a-zA-Z0-9_])return [0-9]+;' "$SRC/main.c" |
	    sed 's/[^0-9]//g'
	grep -qE '128 *\+' "$SRC"/*.c && echo '128+'
} | sort -u >"$T/codes"

# The statuses in util.c's exit table, the one --help and --stats use.
sed -n 's/^[[:space:]]*{ *\(EXIT_[A-Z_]*\),.*/\1/p' "$SRC/util.c" |
while read -r name; do
	awk -v n="$name" '$1 == n { print $2 }' "$T/enum"
done | sort -u >"$T/table"

# missing_statuses PAGE: statuses the code produces that PAGE lacks.
missing_statuses() {
	documented_statuses "$1" >"$T/doc"
	comm -23 "$T/codes" "$T/doc"
}

n=$(wc -l <"$T/opts")
check "--help lists at least 20 long options (found $n)" test "$n" -ge 20
missing=$(missing_options "$MAN" | tr '\n' ' ')
is "every --help long option is in the man page" "$missing" ""

victim=$(head -1 "$T/opts")
sed -e "s/Fl -${victim#--}\$/Fl -gone/" \
    -e "s/Fl -${victim#--}\([^a-zA-Z0-9-]\)/Fl -gone\1/g" "$MAN" >"$T/no-opt.1"
missing=$(missing_options "$T/no-opt.1" | tr '\n' ' ')
is "... negative twin: a page without $victim is caught" "$missing" "$victim "

check "util.h defines EXIT_OK to EXIT_PEER" \
    test "$(wc -l <"$T/enum")" -ge 7
unmapped=$(grep '^unmapped:' "$T/codes" | tr '\n' ' ')
is "every EXIT_ name used in src/ is in util.h's enum" "$unmapped" ""
diag "statuses the code can produce: $(tr '\n' ' ' <"$T/codes")"
check "the code's statuses include 0, 1 and 128+" \
    sh -c "grep -qx 0 '$T/codes' && grep -qx 1 '$T/codes' &&
	grep -qx '128+' '$T/codes'"
missing=$(missing_statuses "$MAN" | tr '\n' ' ')
is "every exit status the code produces is under EXIT STATUS" "$missing" ""
documented_statuses "$MAN" >"$T/doc"
stale=$(comm -13 "$T/codes" "$T/doc" | tr '\n' ' ')
is "every status under EXIT STATUS is one the code produces" "$stale" ""

is "util.c's exit table has every numbered status under EXIT STATUS" \
    "$(tr '\n' ' ' <"$T/table")" "$(grep -E '^[0-9]+$' "$T/doc" | sort -u | tr '\n' ' ')"

gone=$(grep -E '^[0-9]+$' "$T/codes" | sort -n | tail -1)
awk -v s="$gone" '/^\.Sh / { in_es = ($0 == ".Sh EXIT STATUS") }
    !(in_es && $0 == ".It " s)' "$MAN" >"$T/no-status.1"
missing=$(missing_statuses "$T/no-status.1" | tr '\n' ' ')
is "... negative twin: a page without status $gone is caught" "$missing" "$gone "

# Subcommands: usage() lines "psi-stream WORD ..." with a lowercase WORD.
"$PSI" --help | sed -n 's/^ *\(usage:\)\{0,1\} *psi-stream \([a-z][a-z]*\) .*/\2/p;
    s/^ *\(usage:\)\{0,1\} *psi-stream \([a-z][a-z]*\)$/\2/p' | sort -u >"$T/subs"
syn=$(awk '/^\.Sh / { in_s = ($0 == ".Sh SYNOPSIS"); next }
    in_s && /^\.Cm / { print $2 }' "$MAN" | sort -u | tr '\n' ' ')
is "the SYNOPSIS names every subcommand of usage()" \
    "$syn" "$(tr '\n' ' ' <"$T/subs")"

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -Wwarning "$MAN" >"$T/lint" 2>&1
	if [ -s "$T/lint" ]; then
		fail "mandoc -Tlint -Wwarning prints nothing"
		sed 's/^/# /' "$T/lint"
	else
		ok "mandoc -Tlint -Wwarning prints nothing"
	fi
	{ cat "$MAN"; echo '.Xr ls'; } >"$T/lint.1"
	mandoc -Tlint -Wwarning "$T/lint.1" >"$T/lint2" 2>&1
	check "... negative twin: a warning in a doctored page is reported" \
	    test -s "$T/lint2"
	mandoc -Tmarkdown "$MAN" >"$T/render" 2>&1
	check "mandoc renders the page with its sections" \
	    grep -q 'EXIT STATUS' "$T/render"
else
	skip "mandoc not installed: lint"
	skip "mandoc not installed: lint negative twin"
	skip "mandoc not installed: rendering"
fi
done_testing
