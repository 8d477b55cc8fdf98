#!/bin/sh
# parallel-shards.sh: one psi-stream job as N shard pairs, run by GNU
# parallel on this host or, for the connecting side, over ssh.
#
# Both parties run this script with the same N and the same base port;
# shard I (1..N) uses port BASEPORT+I-1, so the pairs find each other:
#
#   # party B, on b.example.com: N listeners on ports 7000..7007
#   parallel-shards.sh listen 8 7000 out/ --identity bob --peer-key alice.pub \
#       customers.csv.zst --csv --key-field 3
#   # party A: N connectors to b.example.com:7000..7007
#   parallel-shards.sh connect 8 b.example.com:7000 out/ --identity alice \
#       --peer-key bob.pub ids.txt.zst
#
# usage: parallel-shards.sh listen  N [ADDR:]BASEPORT OUTDIR [psi-stream args...]
#        parallel-shards.sh connect N HOST:BASEPORT   OUTDIR [psi-stream args...]
#
# Everything after OUTDIR (options and input files) goes to every shard
# unchanged.  Shard I writes OUTDIR/part-I-of-N.txt (with -o, atomically),
# OUTDIR/part-I-of-N.stats.json (--stats) and OUTDIR/part-I-of-N.log (its
# stderr); GNU parallel's job log is OUTDIR/joblog.  When every shard has
# succeeded the parts are joined, in shard order, into OUTDIR/common.txt:
# together they hold exactly what one unsharded run would have written,
# ordered by shard and, within a shard, in input order.  Use a fresh
# OUTDIR for each run (out/2024-05-01/): parts from an older run would be
# joined too.
#
# Each shard reads the whole input and keeps the keys of its shard, so the
# input must be a file (not a pipe), and N shards read it N times; the
# curve arithmetic, which dominates, is what gets divided.
#
# Environment:
#   PSI_STREAM  the psi-stream binary (default: psi-stream from PATH)
#   PSI_JOBS    shards running at once on this side (default N).  Both
#               sides may use fewer than N: GNU parallel starts shards in
#               order, so the two sides start the same shards as pairs end.
#   PSI_SHARDS  run only these shards, e.g. "3" to rerun a failed one (both
#               parties rerun it), or "1 2 3 4" on one listening host and
#               "5 6 7 8" on another (the connecting party then runs the
#               script twice, once per host, with the same PSI_SHARDS).
#   PSI_HOSTS   connect only: spread the shards over ssh hosts, in GNU
#               parallel's --sshlogin syntax ("4/node1,4/node2").  The
#               binary, the input, the keys and OUTDIR must exist at the
#               same absolute paths on every host (a shared file system),
#               so give absolute paths.  Listeners stay on one host per
#               PSI_SHARDS set: the peer must know where each shard waits.
#
# Timeouts: a listener waits --accept-timeout (default 600 s) for its
# connector and a connector retries for --connect-timeout (default 60 s);
# give the side that starts first enough of either, e.g.
# --connect-timeout 1800 when party B starts its listeners late.
#
# Exit status: 0 if every shard succeeded, else the number of failed
# shards (GNU parallel's count, at most 101); see OUTDIR/joblog and the
# part-I-of-N.log files, and rerun the failed shards on both sides.
set -u

usage() {
	sed -n 's/^# usage: /usage: /p; s/^#        parallel/       parallel/p' "$0" >&2
	exit 1
}

[ $# -ge 4 ] || usage
mode=$1 n=$2 addr=$3 outdir=$4
shift 4
# "out/" and "out" name the same directory: drop trailing slashes (not
# from "/" itself), so the paths made from it read out/joblog.
while :; do
	case $outdir in ?*/) outdir=${outdir%/} ;; *) break ;; esac
done
case $mode in listen|connect) ;; *) usage ;; esac
case $n in ''|*[!0-9]*|0) echo "parallel-shards.sh: N must be a positive number" >&2; exit 1 ;; esac
command -v parallel >/dev/null 2>&1 ||
	{ echo "parallel-shards.sh: GNU parallel is not installed" >&2; exit 1; }
psi=${PSI_STREAM:-psi-stream}
jobs=${PSI_JOBS:-$n}
shards=${PSI_SHARDS:-$(seq 1 "$n")}

# Split [HOST:]PORT at the last colon ("[::1]:7000" keeps its brackets).
case $addr in
*:*) host=${addr%:*} base=${addr##*:} ;;
*) host="" base=$addr ;;
esac
case $base in ''|*[!0-9]*) echo "parallel-shards.sh: bad port in '$addr'" >&2; exit 1 ;; esac
if [ "$mode" = connect ] && [ -z "$host" ]; then
	echo "parallel-shards.sh: connect needs HOST:BASEPORT" >&2
	exit 1
fi
if [ $((base + n - 1)) -gt 65535 ]; then
	echo "parallel-shards.sh: ports $base..$((base + n - 1)) do not fit" >&2
	exit 1
fi

# Quote one argument for the shell that GNU parallel runs each job in.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
args=""
for a in "$@"; do
	args="$args $(quote "$a")"
done
o=$(quote "$outdir")
if [ "$mode" = listen ]; then
	where="--listen ${host:+$(quote "$host"):}{2}"
else
	where="--peer $(quote "$host"):{2}"
fi
# {1} is the shard number, {2} its port (parallel substitutes both).
cmd="$(quote "$psi") $where --shard {1}/$n -q \
-o $o/part-{1}-of-$n.txt --stats $o/part-{1}-of-$n.stats.json$args \
2>$o/part-{1}-of-$n.log"

ssh=""
if [ -n "${PSI_HOSTS:-}" ]; then
	[ "$mode" = connect ] || { echo "parallel-shards.sh: PSI_HOSTS is for the connecting side" >&2; exit 1; }
	ssh="--sshlogin $PSI_HOSTS"
fi
for i in $shards; do	# checked here: an exit inside the pipeline would not stop it
	case $i in ''|*[!0-9]*) echo "parallel-shards.sh: bad shard '$i'" >&2; exit 1 ;; esac
	if [ "$i" -lt 1 ] || [ "$i" -gt "$n" ]; then
		echo "parallel-shards.sh: shard $i is not in 1..$n" >&2
		exit 1
	fi
done
mkdir -p "$outdir" || exit 1
# shellcheck disable=SC2086
for i in $shards; do
	printf '%s\t%s\n' "$i" $((base + i - 1))
done |
parallel --colsep '\t' -j "$jobs" --joblog "$outdir/joblog" $ssh "$cmd"
failed=$?

if [ "$failed" -ne 0 ]; then
	echo "parallel-shards.sh: $failed shard(s) failed; see $outdir/joblog" \
	    "and $outdir/part-*-of-$n.log" >&2
	exit "$failed"
fi
# All N parts present (not only a PSI_SHARDS subset): join them.
for i in $(seq 1 "$n"); do
	[ -f "$outdir/part-$i-of-$n.txt" ] || exit 0
done
for i in $(seq 1 "$n"); do
	cat "$outdir/part-$i-of-$n.txt"
done >"$outdir/.common.txt.tmp" &&
	mv "$outdir/.common.txt.tmp" "$outdir/common.txt"
