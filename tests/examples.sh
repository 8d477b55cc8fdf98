#!/bin/sh
# examples.sh: the recipes in examples/ stay usable.  The shell scripts
# parse; the Kubernetes file is a Job with one Service per shard on
# consecutive node ports (checked when python3 has the yaml module); every
# crontab entry has five time fields and no bare % (cron would cut the
# command there).  Then parallel-shards.sh runs both parties' 3 shards on
# 127.0.0.1 and its joined common.txt equals one unsharded run on each
# side, with a --stats file per shard saying exit_status 0 (skipped
# without GNU parallel, or while the binary has no --stats).  A failed
# shard's message names OUTDIR/joblog with one slash when OUTDIR was given
# as "out/"; negative twin: "out" gives the same paths.
. "${SRCDIR:-.}/tests/lib.sh"
plan 10
EX=$SRCDIR/examples

check "parallel-shards.sh parses (sh -n)" sh -n "$EX/parallel-shards.sh"
if command -v bash >/dev/null 2>&1; then
	check "slurm-array.sh parses (bash -n)" bash -n "$EX/slurm-array.sh"
else
	skip "no bash"
fi

if python3 -c 'import yaml' 2>/dev/null; then
	check "k8s-indexed-job.yaml: an Indexed Job and a Service per shard" \
	    python3 - "$EX/k8s-indexed-job.yaml" <<'EOF'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
job, svcs = docs[0], docs[1:]
n = job["spec"]["completions"]
assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
assert len(svcs) == n and all(s["kind"] == "Service" for s in svcs)
sel = [s["spec"]["selector"]["batch.kubernetes.io/job-completion-index"] for s in svcs]
assert sel == [str(i) for i in range(n)], sel
ports = [s["spec"]["ports"][0]["nodePort"] for s in svcs]
assert ports == list(range(ports[0], ports[0] + n)), ports
env = job["spec"]["template"]["spec"]["containers"][0]["env"]
assert {"name": "SHARDS", "value": str(n)} in env
EOF
else
	skip "python3 with the yaml module is not installed"
fi

check "crontab: entries have 5 time fields and no bare %" awk '
	/^[ \t]*(#|$)/ || /^[A-Z_]+=/ { next }
	{ if (NF < 6) bad = 1; line = $0; gsub(/\\%/, "", line)
	  if (index(line, "%")) bad = 1 }
	END { exit bad }' "$EX/crontab"

# parallel-shards.sh end to end.
awk 'BEGIN { for (i = 0; i < 900; i++) printf "x%04d\n", i }' >"$T/a"
awk 'BEGIN { for (i = 600; i < 2000; i++) printf "x%04d\n", i }' >"$T/b"
pair one "--insecure -q $T/b" "--insecure -q $T/a"
why=""
command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null |
    grep -q 'GNU parallel' || why="GNU parallel is not installed"
[ -n "$why" ] || "$PSI" --help | grep -q -- '--stats' ||
    why="this psi-stream has no --stats yet"
if [ -n "$why" ]; then
	skip "$why"; skip "$why"; skip "$why"; skip "$why"; skip "$why"
	skip "$why"
else
	base=$(free_port)
	while [ $((base + 2)) -gt 65535 ]; do base=$(free_port); done
	PSI_STREAM=$PSI sh "$EX/parallel-shards.sh" listen 3 "127.0.0.1:$base" \
	    "$T/outb" --insecure --accept-timeout 60 "$T/b" 2>"$T/par.l.err" &
	lpid=$!
	PSI_STREAM=$PSI sh "$EX/parallel-shards.sh" connect 3 "127.0.0.1:$base" \
	    "$T/outa" --insecure --connect-timeout 30 "$T/a" 2>"$T/par.c.err"
	c_rc=$?
	wait "$lpid"
	l_rc=$?
	is "parallel-shards.sh, 3 shards: both sides exit 0" "$c_rc $l_rc" "0 0"
	sort "$T/outa/common.txt" >"$T/ua" 2>/dev/null
	sort "$T/one.c.out" >"$T/wa"
	same_file "... connector's common.txt = the unsharded run (sorted)" \
	    "$T/ua" "$T/wa"
	sort "$T/outb/common.txt" >"$T/ub" 2>/dev/null
	sort "$T/one.l.out" >"$T/wb"
	same_file "... listener's common.txt = the unsharded run (sorted)" \
	    "$T/ub" "$T/wb"
	check "... six --stats files, each with exit_status 0" sh -c "
		for f in '$T'/outa/part-[123]-of-3.stats.json \
		    '$T'/outb/part-[123]-of-3.stats.json; do
			grep -q '\"exit_status\": 0,' \"\$f\" || exit 1
		done"
	# A shard that fails (nobody listens): the message names the job log.
	for d in "$T/outf/" "$T/outf"; do
		PSI_STREAM=$PSI sh "$EX/parallel-shards.sh" connect 1 \
		    "127.0.0.1:$(free_port)" "$d" --insecure --connect-timeout 1 \
		    "$T/a" 2>"$T/par.f.err"
		rc=$?
		sed 's/^/# /' "$T/par.f.err"
		is "a failed shard (outdir '${d#"$T"/}'): exit 1, see $T/outf/joblog" \
		    "$rc $(grep -c "see $T/outf/joblog and $T/outf/part-\*-of-1.log" \
		    "$T/par.f.err")" "1 1"
	done
fi
done_testing
