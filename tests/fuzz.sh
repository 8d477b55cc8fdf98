#!/bin/sh
# fuzz.sh: replays each fuzz target's seed corpus (fuzz/corpus/NAME)
# through the target built without libFuzzer (fuzz/replay_NAME), one test
# per target: the targets keep compiling and no committed input crashes,
# trips a sanitizer or breaks a target's own checks.
. "${SRCDIR:-.}/tests/lib.sh"
targets="gcs frames session handshake records peers baseot otframes"
plan 8
for t in $targets; do
	bin=${BUILDDIR:-.}/fuzz/replay_$t
	if "$bin" "$SRCDIR/fuzz/corpus/$t" >"$T/$t.out" 2>"$T/$t.err"; then
		ok "fuzz/$t: $(cat "$T/$t.out") replayed"
	else
		fail "fuzz/$t: replay failed"
		tail -5 "$T/$t.err" | sed 's/^/# /'
	fi
done
done_testing
