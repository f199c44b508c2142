#!/usr/bin/env bash
# `qsweep run --backend cuda` against `--backend cpu` on the demo sweep (the
# tiny model, bf16 and six weight-only schemes) extended by the schemes that
# quantize activations (fp8, w8a8, w4a8, w4a4): per run and task, the choice
# log-likelihoods within 1e-2 relative L2 of the CPU's, and per corpus the
# token nll likewise (the norm the HF comparison uses; single values near 0
# make an elementwise ratio meaningless). Exits 77 (skipped) without a GPU.
# usage: run_vs_cpu_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then echo "SKIP: no GPU here"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
rm -rf "$scratch" && mkdir -p "$scratch"
# Beside demo.yaml, whose relative paths it shares.
config=$src/configs/.demo_all_schemes.$$.yaml
trap 'rm -f "$config"' EXIT
sed 's/^schemes: \[\(.*\)\]/schemes: [\1, fp8, w8a8, w4a8, w4a4]/' "$src/configs/demo.yaml" >"$config"
grep -q 'w4a4\]' "$config" || { echo "could not extend the demo's schemes"; exit 1; }
for b in cuda cpu; do
  mpirun --bind-to none -n 1 "$qsweep" run "$config" --backend $b -o "$scratch/$b" \
    2>"$scratch/$b.log" || { cat "$scratch/$b.log"; exit 1; }
done
# The GPU quantizes activations from bf16, as deployments do, the CPU from
# fp32. Coarse codes turn that rounding into whole steps of some codes: the
# CPU against itself with only its quantizers' inputs rounded to bf16 differs
# by 8.8e-2 (w4a4: 15 levels) and 2.1e-2 (fp8: 3 mantissa bits) on this
# sweep, and the GPU by as much; their limits allow that, not more.
python3 "$src/tests/dist/close_runs.py" "$scratch/cuda" "$scratch/cpu" --names cuda/cpu \
  --limit-for fp8=3e-2 --limit-for w4a4=0.12
