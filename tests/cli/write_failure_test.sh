#!/usr/bin/env bash
# Writes that fail part-way (a full disk, simulated by a file-size limit with
# SIGXFSZ ignored, so writes past it fail with EFBIG): each command ends with
# one error naming the file and exit status 1 (not a crash in libhdf5's exit
# handler), and leaves neither its output nor a temporary behind.
# usage: write_failure_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -uo pipefail
qsweep=$1 src=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $scratch/sweep|" \
  "$src/tests/data/configs/writes_small.yaml" >"$scratch/sweep.yaml"
# The runs themselves, without a limit (MPI's own files need room).
mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/sweep.yaml" >/dev/null 2>"$scratch/run.log" ||
  { cat "$scratch/run.log"; exit 1; }
fail=0
# limited KB OUTPUT PATTERN COMMAND...: under a limit of KB kilobytes.
limited() {
  local kb=$1 out=$2 pattern=$3
  shift 3
  (trap '' XFSZ; ulimit -f "$kb"; exec "$@") >/dev/null 2>"$scratch/err.log"
  local rc=$?
  if [ $rc -ne 1 ]; then
    echo "FAIL: $(basename "$out"): exit $rc (want 1): $(head -c 300 "$scratch/err.log")"; fail=1
  elif ! grep -q -- "$pattern" "$scratch/err.log"; then
    echo "FAIL: $(basename "$out"): no '$pattern' in: $(head -c 300 "$scratch/err.log")"; fail=1
  elif ls "$out" "$out.tmp" >/dev/null 2>&1; then
    echo "FAIL: $(basename "$out"): an output or temporary was left"; fail=1
  else
    echo "ok: $(basename "$out"): $(head -1 "$scratch/err.log")"
  fi
}
limited 50 "$scratch/m.h5" "m.h5.tmp: writing failed" "$qsweep" metrics "$scratch/sweep.yaml" -o "$scratch/m.h5"
sed "s|output: $scratch/sweep|output: $scratch/prep|" "$scratch/sweep.yaml" >"$scratch/prep.yaml"
limited 20 "$scratch/prep/requests.h5" "requests.h5.tmp: writing failed" "$qsweep" prepare "$scratch/prep.yaml"
python3 -c "print('\n'.join(' '.join(['0'] + [str(5 + i % 50) for i in range(200)]) for _ in range(30)))" \
  >"$scratch/tokens.txt"
limited 100 "$scratch/lp.h5" "lp.h5: HDF5 failed to write" "$qsweep" logprobs "$src/tests/data/tiny/model" \
  --tokens "$scratch/tokens.txt" -o "$scratch/lp.h5"
# Without the limit the same commands complete.
"$qsweep" metrics "$scratch/sweep.yaml" -o "$scratch/m.h5" >/dev/null 2>&1 || { echo "FAIL: metrics without a limit"; fail=1; }
[ $fail -eq 0 ] && echo "write failure test: ok"
exit $fail
