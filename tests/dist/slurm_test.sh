#!/usr/bin/env bash
# A real one-node Slurm cluster on localhost (Debian's slurmctld, slurmd and
# munge, started here with a generated slurm.conf and stopped by pid at the
# end): `qsweep submit` runs the sweep as an array plus the aggregation job;
# its metrics file must equal what a direct `qsweep run` + `qsweep metrics`
# produce.
# usage: slurm_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"/{state,spool,log}
[ "$(id -u)" -eq 0 ] || { echo "FAIL: the Slurm test runs as root (slurmd)"; exit 1; }
for b in slurmctld slurmd sbatch squeue munged; do
  command -v "$b" >/dev/null || { echo "FAIL: $b missing: run tools/setup.sh"; exit 1; }
done
pids=()
cleanup() {
  for f in "$scratch/slurmctld.pid" "$scratch/slurmd.pid"; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# munge: reuse a running daemon, else start one of our own.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
                                   chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  mkdir -p /run/munge && chown munge:munge /run/munge
  # (the munge user cannot write into our scratch folder)
  pidfile=/run/munge/qsweep-test-munged.pid
  rm -f "$pidfile"
  runuser -u munge -- /usr/sbin/munged --pid-file="$pidfile" 2>"$scratch/log/munged.log"
  for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
  pids+=("$(cat "$pidfile")")
fi

host=$(hostname -s)
cat > "$scratch/slurm.conf" <<CONF
ClusterName=qsweeptest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
ReturnToService=2
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$scratch/slurm.conf
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %T | grep -q idle || { echo "FAIL: the node did not come up"; cat "$scratch/log/"*; exit 1; }

# The sweep config with absolute paths and an output folder of its own.
sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $scratch/sweep|" \
  "$src/tests/data/configs/mpi_small.yaml" > "$scratch/sweep.yaml"
"$qsweep" submit "$scratch/sweep.yaml" | tee "$scratch/submit.txt"
grep -q "submitted array job" "$scratch/submit.txt"
# Half the test's limit for the queue (it stretches under the sanitizers),
# the rest for the direct run below.
deadline=$((SECONDS + ${QSWEEP_TEST_TIME_LIMIT:-600} / 2))
while [ "$SECONDS" -lt "$deadline" ]; do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h)" ] || { echo "FAIL: jobs still queued"; squeue; exit 1; }
[ -f "$scratch/sweep/metrics.h5" ] || { echo "FAIL: no metrics file"; tail -n 30 "$scratch"/sweep/logs/*; exit 1; }

# The same sweep run directly.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/sweep.yaml" -o "$scratch/direct" 2>"$scratch/direct.log"
"$qsweep" metrics "$scratch/sweep.yaml" --sweep-output "$scratch/direct" -o "$scratch/direct/metrics.h5" >/dev/null
/usr/bin/python3 "$src/tests/dist/h5_equal.py" "$scratch/sweep/metrics.h5" "$scratch/direct/metrics.h5"
echo "PASS: Slurm array + afterok aggregation gave the direct run's metrics"
