#!/usr/bin/env bash
# A sweep of the tiny model with its own scheme and quantized checkpoints
# made elsewhere, each a fixture made from the tiny model: GGUF Q4_0 and
# Q8_0 (qsweep's int4 and int8 with groups of 32, run packed), GGUF Q5_1
# (dequantized to bf16 at load), and GPTQ (with and without act order),
# AWQ and compressed-tensors safetensors (asymmetric int4 g32, run packed;
# act order dequantized). `qsweep run --backend cuda` against `--backend
# cpu` on the small distributed-test sweep: per run and task the choice
# log-likelihoods, per corpus the token nll, within 1e-2 relative L2 of the
# CPU's (as for qsweep's own schemes); the GPU's runs say how many
# projections ran in their stored formats. Exits 77 (skipped) without a GPU.
# usage: entries_vs_cpu_test.sh QSWEEP WRITE_GGUF WRITE_PACKED_INT SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 write_gguf=$2 write_packed_int=$3 src=$4 scratch=$5
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then echo "SKIP: no GPU here"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
rm -rf "$scratch" && mkdir -p "$scratch"
tiny=$src/tests/data/tiny/model
entries="w4a16-g128"
for t in Q4_0 Q8_0 Q5_1; do
  "$write_gguf" "$tiny" "$scratch/tiny-$t.gguf" "$t"
  entries+=", {name: gguf-$t, checkpoint: $scratch/tiny-$t.gguf}"
done
for m in gptq gptq-act awq ct; do
  "$write_packed_int" "$tiny" "$scratch/tiny-$m" "${m%-act}" $([ "$m" = gptq-act ] && echo act)
  cp "$tiny/tokenizer.json" "$scratch/tiny-$m/"
  entries+=", {name: $m, checkpoint: $scratch/tiny-$m}"
done
sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $scratch/out|" \
  -e "s|^schemes: .*|schemes: [$entries]|" "$src/tests/data/configs/mpi_small.yaml" >"$scratch/sweep.yaml"
for b in cuda cpu; do
  mpirun --bind-to none -n 1 "$qsweep" run "$scratch/sweep.yaml" --backend $b -o "$scratch/$b" \
    2>"$scratch/$b.log" || { cat "$scratch/$b.log"; exit 1; }
done
grep -E "projections run in their stored formats" "$scratch/cuda.log"
for e in gguf-Q4_0 gptq awq ct; do
  grep -qE "$e: .*; [1-9][0-9]* of [0-9]+ projections run in their stored formats" "$scratch/cuda.log" || {
    echo "FAIL: no projection of the $e entry ran packed"; exit 1; }
done
python3 "$src/tests/dist/close_runs.py" "$scratch/cuda" "$scratch/cpu" --names cuda/cpu
