#!/usr/bin/env bash
# GGUF entries (Q4_0, Q8_0 made from the tiny model: qsweep's int4 and int8
# with groups of 32, run packed) scored by `qsweep run --backend cuda`
# against `--backend cpu` on the small distributed-test sweep: per run and
# task the choice log-likelihoods, per corpus the token nll, within 1e-2
# relative L2 of the CPU's (as for qsweep's own schemes); and the GPU's runs
# say how many projections ran in their stored formats. Exits 77 (skipped)
# without a GPU.
# usage: gguf_vs_cpu_test.sh QSWEEP_BINARY WRITE_GGUF_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 write_gguf=$2 src=$3 scratch=$4
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then echo "SKIP: no GPU here"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
rm -rf "$scratch" && mkdir -p "$scratch"
"$write_gguf" "$src/tests/data/tiny/model" "$scratch/tiny-Q4_0.gguf" Q4_0
"$write_gguf" "$src/tests/data/tiny/model" "$scratch/tiny-Q8_0.gguf" Q8_0
sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $scratch/out|" \
  -e "s|^schemes: .*|schemes: [{name: q4-0, checkpoint: $scratch/tiny-Q4_0.gguf}, {name: q8-0, checkpoint: $scratch/tiny-Q8_0.gguf}]|" \
  "$src/tests/data/configs/mpi_small.yaml" >"$scratch/sweep.yaml"
for b in cuda cpu; do
  mpirun --bind-to none -n 1 "$qsweep" run "$scratch/sweep.yaml" --backend $b -o "$scratch/$b" \
    2>"$scratch/$b.log" || { cat "$scratch/$b.log"; exit 1; }
done
grep -E "q4-0: .* projections run in their stored formats" "$scratch/cuda.log"
grep -qE "q4-0: .*; [1-9][0-9]* of [0-9]+ projections run in their stored formats" "$scratch/cuda.log" || {
  echo "FAIL: no projection of the Q4_0 entry ran packed"; exit 1; }
python3 "$src/tests/dist/close_runs.py" "$scratch/cuda" "$scratch/cpu" --names cuda/cpu
