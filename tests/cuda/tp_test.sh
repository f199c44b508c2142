#!/usr/bin/env bash
# The GPU backend's tensor parallelism over NCCL, on a machine with >= 2 GPUs:
# mpirun -n 2 with tp 2 against mpirun -n 1, both --backend cuda, on the
# small distributed-test sweep. The all-reduce adds the decoder's canonical
# parts in the CPU backend's tree order, so the run files' data must be
# bit-identical. Then --reduction fast (one GEMM per rank into the residual):
# tp 2 and tp 1 are the same model within bf16 rounding (choice
# log-likelihoods and token nll within 1e-2 relative L2), no longer the same
# bits. Exits 77 (skipped) with fewer than 2 GPUs.
# usage: tp_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -lt 2 ]; then echo "SKIP: $gpus GPU(s) here; this test needs 2"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
config=$src/tests/data/configs/mpi_small.yaml
rm -rf "$scratch" && mkdir -p "$scratch"
mpirun --bind-to none -n 1 "$qsweep" run "$config" --backend cuda -o "$scratch/tp1" 2>"$scratch/tp1.log" || {
  cat "$scratch/tp1.log"; exit 1; }
mpirun --bind-to none -n 2 "$qsweep" run "$config" --backend cuda --tp 2 -o "$scratch/tp2" 2>"$scratch/tp2.log" || {
  cat "$scratch/tp2.log"; exit 1; }
grep -q "tp 2, cuda backend" <(python3 -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['world'])" \
  "$scratch/tp2/runs/bf16.h5")
for f in "$scratch"/tp1/runs/*.h5; do
  python3 "$src/tests/dist/h5_equal.py" "$f" "$scratch/tp2/runs/$(basename "$f")" || {
    echo "FAIL: $(basename "$f"): tp 2 differs from tp 1 on the GPU"; exit 1; }
done
for tp in 1 2; do
  mpirun --bind-to none -n $tp "$qsweep" run "$config" --backend cuda --tp $tp --reduction fast -o "$scratch/fast$tp" \
    2>"$scratch/fast$tp.log" || { cat "$scratch/fast$tp.log"; exit 1; }
done
grep -q "tp 2, cuda backend, fast reduction" <(python3 -c "import h5py,sys; print(h5py.File(sys.argv[1])['/'].attrs['world'])" \
  "$scratch/fast2/runs/bf16.h5")
python3 "$src/tests/dist/close_runs.py" "$scratch/fast2" "$scratch/fast1" --names "fast tp 2/fast tp 1"
python3 "$src/tests/dist/close_runs.py" "$scratch/fast1" "$scratch/tp1" --names "fast/tp-invariant"
if python3 "$src/tests/dist/h5_equal.py" "$scratch/fast1/runs/bf16.h5" "$scratch/tp1/runs/bf16.h5" >/dev/null; then
  echo "FAIL: --reduction fast wrote the tp-invariant bits: was it applied?"; exit 1
fi
echo "PASS: --backend cuda, tp 2 over NCCL equals tp 1 bit for bit; fast tp 2 and tp 1 within rounding"
