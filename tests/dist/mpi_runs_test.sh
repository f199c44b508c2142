#!/usr/bin/env bash
# Distributed runs on the CPU backend, against the single-rank run:
#   identical   mpirun -n 2 (tp 2) and -n 4 (2 replicas x tp 2) write run files
#               whose data are bit-identical to mpirun -n 1; with
#               --reduction fast, tp 2 is the same model within rounding
#   kill        SIGKILL of one rank mid-run ends the job non-zero within seconds,
#               naming the rank; rerunning resumes and gives identical data
# usage: mpi_runs_test.sh identical|kill QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
mode=$1 qsweep=$2 src=$3 scratch=$4
config=$src/tests/data/configs/mpi_small.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --bind-to none)
rm -rf "$scratch" && mkdir -p "$scratch"

same() {  # run files of two sweep folders
  for f in "$1"/runs/*.h5; do
    /usr/bin/python3 "$src/tests/dist/h5_equal.py" "$f" "$2/runs/$(basename "$f")" || {
      echo "FAIL: $f differs from $2/runs/$(basename "$f")"; exit 1; }
  done
}

layout() {  # a run file's typed layout attributes: "ranks replicas tp backend reduction"
  got=$(/usr/bin/python3 -c "import h5py,sys; a=h5py.File(sys.argv[1])['/'].attrs; print(*(a[k].decode() if isinstance(a[k], bytes) else a[k] for k in ('ranks','replicas','tp','backend','reduction')))" "$1")
  [ "$got" = "$2" ] || { echo "FAIL: $1 says its layout is '$got', not '$2'"; exit 1; }
}

"${mpi[@]}" -n 1 "$qsweep" run "$config" -o "$scratch/n1" 2>"$scratch/n1.log"
test -f "$scratch/n1/runs/bf16.h5" && test -f "$scratch/n1/runs/w4a16-g128.h5"

case $mode in
identical)
  "${mpi[@]}" -n 2 "$qsweep" run "$config" --tp 2 -o "$scratch/n2" 2>"$scratch/n2.log"
  same "$scratch/n1" "$scratch/n2"
  "${mpi[@]}" -n 4 "$qsweep" run "$config" --tp 2 -o "$scratch/n4" 2>"$scratch/n4.log"
  grep -q "4 ranks: 2 replicas x tp 2" <(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['world'])" "$scratch/n4/runs/bf16.h5")
  layout "$scratch/n4/runs/bf16.h5" "4 2 2 cpu tp_invariant"
  same "$scratch/n1" "$scratch/n4"
  "${mpi[@]}" -n 2 "$qsweep" run "$config" --tp 2 --reduction fast -o "$scratch/fast" 2>"$scratch/fast.log"
  grep -q "tp 2, cpu backend, fast reduction" <(/usr/bin/python3 -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['world'])" "$scratch/fast/runs/bf16.h5")
  layout "$scratch/fast/runs/bf16.h5" "2 1 2 cpu fast"
  /usr/bin/python3 "$src/tests/dist/close_runs.py" "$scratch/fast" "$scratch/n1" --limit 1e-5 --names "fast tp 2/tp 1"
  if /usr/bin/python3 "$src/tests/dist/h5_equal.py" "$scratch/fast/runs/bf16.h5" "$scratch/n1/runs/bf16.h5" >/dev/null; then
    echo "FAIL: --reduction fast wrote the tp-invariant bits: was it applied?"; exit 1
  fi
  # An error every rank meets is printed once, and the job ends without MPI_Abort.
  sed 's/^schemes: \[/schemes: [nosuch-x, /' "$config" >"$scratch/bad.yaml"
  sed -i "s|\.\./tiny/|$src/tests/data/tiny/|g" "$scratch/bad.yaml"
  if "${mpi[@]}" -n 2 "$qsweep" run "$scratch/bad.yaml" -o "$scratch/bad" >"$scratch/bad.log" 2>&1; then
    echo "FAIL: a bad config ran"; exit 1
  fi
  [ "$(grep -c "unknown scheme 'nosuch-x'" "$scratch/bad.log")" = 1 ] || { echo "FAIL: not printed once:"; cat "$scratch/bad.log"; exit 1; }
  ! grep -q MPI_ABORT "$scratch/bad.log" || { echo "FAIL: ended by MPI_Abort:"; cat "$scratch/bad.log"; exit 1; }
  echo "PASS: -n 2 (tp 2) and -n 4 (2 x tp 2) equal -n 1 bit for bit; tp 2 fast within 1e-5 (relative L2)"
  ;;
kill)
  out=$scratch/killed
  # The candidate's exact token statistics read its baseline's run: the
  # uninterrupted sweep's.
  mkdir -p "$out/runs" && cp "$scratch/n1/runs/bf16.h5" "$out/runs/"
  "${mpi[@]}" -n 2 "$qsweep" run "$config" --scheme w4a16-g128 -o "$out" 2>"$scratch/kill.log" &
  job=$!
  journal=$out/runs/w4a16-g128.h5.journal
  # Wait until a few units are in the journal (up to 5 minutes: a sanitizer
  # build starts slowly), then kill rank 1.
  for _ in $(seq 1 6000); do
    [ -f "$journal" ] && [ "$(stat -c %s "$journal")" -gt 20000 ] && break
    sleep 0.05
  done
  victim=$(pgrep -f "qsweep run $config --scheme w4a16-g128 -o $out" | sort -n | tail -1)
  killed_at=$(date +%s)
  kill -9 "$victim"
  status=0
  wait "$job" || status=$?
  elapsed=$(( $(date +%s) - killed_at ))
  [ "$status" -ne 0 ] || { echo "FAIL: the job exited 0 after a rank was killed"; exit 1; }
  [ "$elapsed" -le 10 ] || { echo "FAIL: the job took ${elapsed}s to end"; exit 1; }
  grep -Eq "rank [0-9]+ .*(signal 9|Killed)|process rank [0-9]+ .*exited on signal 9" "$scratch/kill.log" || {
    echo "FAIL: no message naming the dead rank:"; cat "$scratch/kill.log"; exit 1; }
  [ ! -f "$out/runs/w4a16-g128.h5" ] || { echo "FAIL: a complete-looking run file after the kill"; exit 1; }
  test -f "$journal"
  "${mpi[@]}" -n 2 "$qsweep" run "$config" --scheme w4a16-g128 -o "$out" 2>"$scratch/resume.log"
  grep -q "resuming" "$scratch/resume.log" || { echo "FAIL: the rerun did not resume"; cat "$scratch/resume.log"; exit 1; }
  /usr/bin/python3 "$src/tests/dist/h5_equal.py" "$scratch/n1/runs/w4a16-g128.h5" "$out/runs/w4a16-g128.h5"
  echo "PASS: killed rank reported in ${elapsed}s; resumed run equals the uninterrupted one"
  ;;
esac
