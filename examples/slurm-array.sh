#!/bin/bash
# slurm-array.sh: party A's side of a psi-stream job as a Slurm job array,
# one array task per shard.  Task I runs shard I of SHARDS and connects to
# party B's listener for that shard at PEER:BASEPORT+I-1 (party B runs, for
# example, `parallel-shards.sh listen 8 7000 out/ ...`: the same ports).
#
#   mkdir -p logs
#   jid=$(sbatch --parsable slurm-array.sh)
#   # afterwards, join the parts (ordered by shard, input order within):
#   sbatch --dependency=afterok:"$jid" --wrap \
#       "cd out/$jid && for i in \$(seq 1 8); do cat part-\$i-of-8.txt; done >common.txt"
#
# Rerun one failed shard (party B reruns its listener for it too):
#
#   OUT=out/<first job id> sbatch --array=3 slurm-array.sh
#
# Settings come from the environment at submission (sbatch exports it):
# SHARDS (8; keep --array=1-SHARDS in step), PEER, BASEPORT, INPUT,
# IDENTITY, PEER_KEY, OUT, PSI_STREAM.  The array side connects rather than
# listens because nobody knows in advance which node a task lands on.
# Queue delays are why --connect-timeout is long: a task that starts late
# keeps retrying, and party B's listeners should wait (--accept-timeout)
# at least as long as this cluster may keep tasks queued.
#
#SBATCH --job-name=psi-stream
#SBATCH --array=1-8
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=06:00:00
#SBATCH --output=logs/psi-%A_%a.log
set -eu

: "${SLURM_ARRAY_TASK_ID:?run this with sbatch, as a job array}"
shards=${SHARDS:-8}
i=$SLURM_ARRAY_TASK_ID
if [ "$i" -lt 1 ] || [ "$i" -gt "$shards" ]; then
	echo "slurm-array.sh: task $i is outside shards 1..$shards (--array=1-$shards)" >&2
	exit 1
fi
peer=${PEER:-b.example.com}
port=$(( ${BASEPORT:-7000} + i - 1 ))
out=${OUT:-${SLURM_SUBMIT_DIR:-.}/out/${SLURM_ARRAY_JOB_ID:-manual}}
mkdir -p "$out"

# Budget: three quarters of the memory Slurm gives the task (--mem, in MB),
# leaving room for the program itself; temporary files in the node-local
# $TMPDIR that many sites set per job.
mem_mb=${SLURM_MEM_PER_NODE:-4096}
exec "${PSI_STREAM:-psi-stream}" \
	--peer "$peer:$port" --shard "$i/$shards" \
	--identity "${IDENTITY:-$HOME/.config/psi-stream/id_x25519}" \
	--peer-key "${PEER_KEY:-$HOME/psi/partner.pub}" \
	--connect-timeout 3600 --timeout 600 \
	--memory "$(( mem_mb * 3 / 4 ))M" --tmpdir "${TMPDIR:-/tmp}" \
	-j "${SLURM_CPUS_PER_TASK:-1}" -q \
	--stats "$out/part-$i-of-$shards.stats.json" \
	-o "$out/part-$i-of-$shards.txt" \
	"${INPUT:-$HOME/psi/ids.txt.zst}"
