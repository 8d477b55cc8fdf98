#!/bin/sh
# keys.sh: keys the way data files have them, in real runs checked against
# awk: --key-field NAME with --header picks a column by its header name
# (per file, whatever its position); --key-field 2,5 builds a composite
# key whose fields cannot run into each other ("a","bc" is not "ab","c",
# where joining the fields would collide), in the order given, with
# --trim and --ignore-case per field.  Bad lists and names exit 1 or 2.
. "${SRCDIR:-.}/tests/lib.sh"
plan 24

# ---- a column by name ---------------------------------------------------------
cat >"$T/people.csv" <<'EOF'
id,name,email
1,Al,al@example.com
2,Bo,"bo@example.com"
3,Cy,cy@example.com
4,"Di, Jr",di@example.com
5,Ed,al@example.com
EOF
printf 'cy@example.com\nal@example.com\nzz@example.com\nBo\n' >"$T/emails.txt"
awk -F, 'NR == FNR { w[$0] = 1; next } FNR > 1 { e = $NF; gsub(/"/, "", e); if (e in w) print }' \
    "$T/emails.txt" "$T/people.csv" >"$T/people.want"
pair name "--insecure -q --csv --header --key-field email $T/people.csv" \
    "--insecure -q $T/emails.txt"
is "--key-field email --header --csv: both exit 0" "$C_RC $L_RC" "0 0"
# The header line comes first in the output, as with join --header.
is "... the CSV side's output starts with its header line" "$(head -1 "$T/name.l.out")" "id,name,email"
tail -n +2 "$T/name.l.out" >"$T/name.l.body"
same_file "... then the rows whose email matches (awk)" "$T/name.l.body" "$T/people.want"
is "... matching 3 rows" "$(wc -l <"$T/people.want")" 3
pair byname "--insecure -q --csv --header --key-field name $T/people.csv" \
    "--insecure -q $T/emails.txt"
is "negative: --key-field name picks the name column (Bo only)" \
    "$(tail -n +2 "$T/byname.l.out")" '2,Bo,"bo@example.com"'

# The same column at another place in a second file.
printf 'email,id\nbo@example.com,9\nqq@example.com,8\n' >"$T/more.csv"
"$PSI" check --csv --header --key-field email "$T/people.csv" "$T/more.csv" >"$T/out"
is "a name is looked up in each file's own header (7 keys, 2 duplicates)" \
    "$(sed -n 's/^keys  *//p; s/^duplicates  *//p' "$T/out" | tr '\n' ' ')" "7 2 "
"$PSI" check --csv --key-field email "$T/people.csv" >/dev/null 2>"$T/err"; rc=$?
is "a column name without --header: exit 1" "$rc $(grep -c 'needs --header' "$T/err")" "1 1"
"$PSI" check --csv --header --key-field mail "$T/people.csv" >/dev/null 2>"$T/err"; rc=$?
is "an unknown column: exit 2 naming the file and the name" \
    "$rc $(grep -c "people.csv: the header has no column named 'mail'" "$T/err")" "2 1"

# ---- composite keys ---------------------------------------------------------
# Pairs chosen so that the concatenated fields collide: a|bc and ab|c.
printf 'a\tbc\trow1\nab\tc\trow2\nx\ty\trow3\nab\tc\trow4\n\tabc\trow5\n' >"$T/q.tsv"
printf 'a\tbc\nx\ty\nabc\t\nzz\tzz\n' >"$T/h.tsv"
awk -F'\t' 'NR == FNR { w[$1 "\t" $2] = 1; next } (($1 "\t" $2) in w)' \
    "$T/h.tsv" "$T/q.tsv" >"$T/q.want"
awk -F'\t' 'NR == FNR { w[$1 $2] = 1; next } (($1 $2) in w)' \
    "$T/h.tsv" "$T/q.tsv" >"$T/q.concat"
pair comp "--insecure -q --key-field 1,2 $T/h.tsv" "--insecure -q --key-field 1,2 $T/q.tsv"
is "--key-field 1,2 on both sides: exit 0" "$C_RC $L_RC" "0 0"
same_file "... exactly the (field 1, field 2) matches of awk" "$T/comp.c.out" "$T/q.want"
check "... where joining the fields would have matched more" \
    test "$(wc -l <"$T/q.concat")" -gt "$(wc -l <"$T/q.want")"
same_file "... and the holder gets its own two matching rows" "$T/comp.l.out" \
    "$(printf 'a\tbc\nx\ty\n' >"$T/h.want"; echo "$T/h.want")"

# Order: the fields in the order listed, whatever the column order.
awk -F'\t' '{ print $2 "\t" $1 }' "$T/h.tsv" >"$T/h.swapped"
pair order "--insecure -q --key-field 2,1 $T/h.swapped" "--insecure -q --key-field 1,2 $T/q.tsv"
same_file "--key-field 2,1 against 1,2 on swapped columns: the same matches" \
    "$T/order.c.out" "$T/q.want"
pair order2 "--insecure -q --key-field 1,2 $T/h.swapped" "--insecure -q --key-field 1,2 $T/q.tsv"
awk -F'\t' 'NR == FNR { w[$1 "\t" $2] = 1; next } (($1 "\t" $2) in w)' \
    "$T/h.swapped" "$T/q.tsv" >"$T/q.want2"
same_file "negative: 1,2 on the swapped file: other matches (awk), one" \
    "$T/order2.c.out" "$T/q.want2"

# Per-field --trim and --ignore-case.
printf ' A \tBC\n' >"$T/n1.tsv"
printf 'a\tbc\n' >"$T/n2.tsv"
pair norm "--insecure -q --trim --ignore-case --key-field 1,2 $T/n1.tsv" \
    "--insecure -q --trim --ignore-case --key-field 1,2 $T/n2.tsv"
is "--trim --ignore-case apply to each field of a composite key" "$(cat "$T/norm.c.out")" "$(printf 'a\tbc')"

# Both sides must give the same number of key fields: exit 5 naming both.
pair count "--insecure -q --key-field 1,2 $T/h.tsv" "--insecure -q --key-field 1 $T/q.tsv"
is "--key-field 1,2 against --key-field 1: both exit 5" "$C_RC $L_RC" "5 5"
check "... naming both counts" grep -q "peer's keys have 2 fields (--key-field), ours have 1" "$T/count.c.err"

# A likely mismatch is named: 0 matches while both sides have many keys.
awk 'BEGIN { for (i = 0; i < 500; i++) printf "%d,x%d\n", i, i }' >"$T/w1.csv"
awk 'BEGIN { for (i = 0; i < 500; i++) printf "x%d\n", i }' >"$T/w2.txt"
pair warn "--insecure --csv --stats $T/w1.json $T/w1.csv" "--insecure --stats $T/w2.json $T/w2.txt"
is "--csv on one side only: 0 matches, both exit 0" "$C_RC $L_RC $(cat "$T/warn.l.out" "$T/warn.c.out" | wc -l)" "0 0 0"
check "... both sides warn that key extraction may differ, naming their settings" sh -c \
    "grep -q 'no record matched although both sides have many keys.*ours: --key-field 1, --csv' '$T/warn.l.err' &&
     grep -q 'no record matched.*ours: whole records, no --csv, no --trim, no --ignore-case' '$T/warn.c.err'"
check "... and --stats shows the settings" sh -c \
    "grep -q '\"key_settings\": \"--key-field 1, --csv' '$T/w1.json' && grep -q '\"key_settings\": \"whole records' '$T/w2.json'"
pair nowarn "--insecure --csv --key-field 2 --stats $T/w3.json $T/w1.csv" "--insecure $T/w2.txt"
is "negative: the same files read alike match all 500, no warning" \
    "$(wc -l <"$T/nowarn.c.out") $(grep -c 'no record matched' "$T/nowarn.c.err" "$T/nowarn.l.err" | grep -c ':[1-9]')" "500 0"
check "... and key_settings is null" grep -q '"key_settings": null' "$T/w3.json"
head -20 "$T/w1.csv" >"$T/w4.csv"; head -20 "$T/w2.txt" >"$T/w5.txt"
pair few "--insecure --csv $T/w4.csv" "--insecure $T/w5.txt"
is "negative: 0 matches among 20 keys a side is not flagged" \
    "$(cat "$T/few.l.err" "$T/few.c.err" | grep -c 'no record matched')" 0

# Bad lists.
bad=0
for l in "" "1,,2" "0" "1,0" ","; do
	"$PSI" check --key-field "$l" "$T/q.tsv" >/dev/null 2>&1
	[ $? -eq 1 ] || { bad=1; diag "--key-field '$l' not refused"; }
done
is "malformed --key-field lists exit 1" "$bad" 0
done_testing
