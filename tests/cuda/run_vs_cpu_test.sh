#!/usr/bin/env bash
# `qsweep run --backend cuda` against `--backend cpu` on the demo sweep (the
# tiny model, bf16 and six schemes): per run and task, the choice
# log-likelihoods within 1e-2 relative L2 of the CPU's, and per corpus the
# token nll likewise (the norm the HF comparison uses; single values near 0
# make an elementwise ratio meaningless). Exits 77 (skipped) without a GPU.
# usage: run_vs_cpu_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then echo "SKIP: no GPU here"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
rm -rf "$scratch" && mkdir -p "$scratch"
for b in cuda cpu; do
  mpirun --bind-to none -n 1 "$qsweep" run "$src/configs/demo.yaml" --backend $b -o "$scratch/$b" \
    2>"$scratch/$b.log" || { cat "$scratch/$b.log"; exit 1; }
done
python3 "$src/tests/dist/close_runs.py" "$scratch/cuda" "$scratch/cpu" --names cuda/cpu
