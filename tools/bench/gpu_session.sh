#!/usr/bin/env bash
# Everything this repository checks and measures on the GPU machine, in one
# call of the device tool (build here, carry build/qsweep and the cuda_tests
# binary, run there):
#   1. cuda_tests: every kernel against its CPU reference, whole forwards
#      (CUDA_TESTS_FILTER: a gtest filter, to run some)
#   2. tests/cuda/tp_test.sh: tp 2 over NCCL equals tp 1 (2 GPUs)
#   3. tests/cuda/run_vs_cpu_test.sh: the demo sweep on the GPU against the CPU
#   entries: tests/cuda/entries_vs_cpu_test.sh: a sweep with GGUF, GPTQ, AWQ
#      and compressed-tensors entries on the GPU against the CPU
#   auto: configs/gpu-llama3-8b.yaml (batch from free memory) at tp 1 and tp 2
#   4. qsweep logprobs --backend cuda against HF transformers bf16 (same weights)
#   5. qsweep bench forward (both reductions) against HF on the same random
#      Llama-3-8B checkpoint
#   invariant: the demo sweep on the GPU at scoring.batch_tokens 256 and 8192:
#      bit-identical run files (batch invariance)
#   versus: qsweep bench forward of this build against another build of
#      qsweep (QSWEEP_OTHER, e.g. the previous commit's), alternating, on
#      synthetic Llama-3-8B weights, so that a refactor's cost is measured
#      in one call
#   lowbit: qsweep bench gemm of the low-bit family against bf16 on
#      Llama-3-70B's linear layers (LOWBIT_SHAPES, LOWBIT_FORMATS to change)
#   actq: the same for the activation-quantized products (fp8, w8a8, w4a8, w4a4)
#   schemes8b: a sweep of one HellaSwag-shaped task (2000 samples) at
#      Llama-3-8B shapes (SCHEMES8B to change): per scheme the weights on the
#      GPU, the load (switch) time and the scoring samples/s
#      (SCHEMES8B_QUANTIZE=host: quantized on the CPU, to compare)
#   file8b: synthetic Llama-3-8B exported as a sharded safetensors folder
#      (qsweep export), then bf16 and w4a16-g128 loaded from it: export and
#      load times (the real reading path: every tensor by slices)
#   one70b: synthetic Llama-3-70B on one GPU at w4a16-g128 (ONE70B_RUN,
#      ONE70B_SAMPLES to change), quantized on the device tensor by tensor
#   gptq8b: GPTQ (or GPTQ8B_SCHEME, e.g. w4a16-g128-awq) of synthetic Llama-3-8B on
#      the GPU, timed per stage
#   kl8b: exact token statistics at Llama-3-8B shapes: bench forward with and
#      without them, a corpus run of the noise-floor candidate with and without
#      them, bytes on disk per token
#   demo: the demo sweep (with its generative tasks) on the GPU, timed, and
#      its metrics tables (DEMO_TIMEOUT seconds at most, default 240)
#   decode: qsweep bench decode (KV cache, greedy) at Llama-3-8B shapes, bf16
#      and w4a16-g128 at batch 1, 8, 32 and contexts 512, 2048 (DECODE_* to change)
#   hfgen: qsweep generate --backend cuda against HF generate(do_sample=False)
#      on the test checkpoints (tiny, llama3_features, qwen2_features)
#   attn: attention kernel instances and torch sdpa at the bench shape
#   ncu: hardware counters of the chosen attention kernel
#   ncu_lowbit: hardware counters of the low-bit gemm at one shape
#   sass: the opcode counts of one kernel of a cubin built here
# Logs go to $OUT; a summary is printed last.
# usage: tools/bench/gpu_session.sh [steps...]   (default: tests tp run hf bench)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/gpu_session}
mkdir -p "$out"
bin=${QSWEEP_BUILD:-build}
export QSWEEP_SOURCE_DIR=$PWD OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
export PYTHONUNBUFFERED=1
steps=${*:-tests tp run hf bench}
summary=()
note() { summary+=("$1"); echo "== $1"; }
# One line per run file of a sweep's output folder: its scoring speed and memory.
run_summaries() {
  for f in "$1"/runs/*.h5; do
    echo "  $(basename "$f" .h5): $("$bin/qsweep" inspect "$f" 2>&1 | grep -E '^(scoring|memory)' | tr -s ' ' | tr '\n' ' ')"
  done
}
# configs/.NAME.yaml: a sweep of one HellaSwag-shaped task of SAMPLES
# samples (tools/bench/make_mc_task.py) at tp 1 on the GPU, into /tmp/NAME.
# usage: mc_config NAME MODEL BASELINE SCHEMES SAMPLES SAMPLES_PER_UNIT
mc_config() {
  python3 tools/bench/make_mc_task.py tests/data/tiny/tasks/heldout.txt "/tmp/$1.jsonl" --samples "$5"
  cat >"configs/.$1.yaml" <<YAML
name: $1
model: $2
tokenizer: ../tests/data/tokenizers/bpe_llama3/tokenizer.json
parallel: {tp: 1, backend: cuda}
baseline: $3
schemes: [$4]
tasks:
  - {name: mc, path: /tmp/$1.jsonl}
output: /tmp/$1
scoring: {topk: 32, batch_tokens: auto, samples_per_unit: $6}
YAML
  rm -rf "/tmp/$1"
}
nvidia-smi -L

for step in $steps; do
  t0=$(date +%s)
  case $step in
  tests)
    # A kernel that hangs (a barrier never completes) ends here, with the
    # test it was in, rather than taking the whole call (TESTS_TIMEOUT s).
    timeout "${TESTS_TIMEOUT:-300}" "$bin/src/backend/cuda/cuda_tests" ${CUDA_TESTS_FILTER:+--gtest_filter=$CUDA_TESTS_FILTER} \
      >"$out/cuda_tests.log" 2>&1
    rc=$?
    note "cuda_tests: rc $rc ($(grep -E '^\[  (PASSED|FAILED) ' "$out/cuda_tests.log" | tr '\n' ' '))"
    [ $rc = 124 ] && echo "  timed out in: $(grep -E '^\[ RUN ' "$out/cuda_tests.log" | tail -1)"
    grep -E "FAILED|Failure" -A3 "$out/cuda_tests.log" | head -30
    ;;
  tp)
    bash tests/cuda/tp_test.sh "$bin/qsweep" "$PWD" /tmp/cuda_tp >"$out/tp_test.log" 2>&1
    note "tp_test: rc $? ($(tail -1 "$out/tp_test.log"))"
    ;;
  run)
    bash tests/cuda/run_vs_cpu_test.sh "$bin/qsweep" "$PWD" /tmp/cuda_run >"$out/run_vs_cpu.log" 2>&1
    note "run vs cpu: rc $? ($(tail -2 "$out/run_vs_cpu.log" | tr '\n' ' '))"
    ;;
  entries)
    bash tests/cuda/entries_vs_cpu_test.sh "$bin/qsweep" "$bin/src/cli/write_gguf" "$bin/src/cli/write_packed_int" \
      "$PWD" /tmp/cuda_entries >"$out/entries_vs_cpu.log" 2>&1
    note "checkpoint entries vs cpu: rc $? ($(tail -2 "$out/entries_vs_cpu.log" | tr '\n' ' '))"
    ;;
  auto)
    # Llama-3-8B shapes, batch size from free memory; tp 2 must agree on it and equal tp 1.
    for tp in 1 2; do
      mpirun --bind-to none -n $tp "$bin/qsweep" run configs/gpu-llama3-8b.yaml --scheme bf16 --tp $tp \
        -o /tmp/auto_tp$tp >"$out/auto_tp$tp.log" 2>&1
      note "8B bf16 tp $tp: rc $? ($(grep -o 'batch of .*' "$out/auto_tp$tp.log" | head -1); $(grep -o 'units: .* done in .*' "$out/auto_tp$tp.log" | tail -1))"
    done
    python3 tests/dist/h5_equal.py /tmp/auto_tp1/runs/bf16.h5 /tmp/auto_tp2/runs/bf16.h5
    note "8B bf16 tp 2 vs tp 1: rc $? (0: bit-identical)"
    ;;
  hf)
    for m in llama3_features qwen2_features; do
      dir=tests/data/models/$m
      python3 -c "
import json; g = json.load(open('$dir/golden.json'))
open('/tmp/$m.tokens', 'w').write('\n'.join(' '.join(map(str, s)) for s in g['sequences']) + '\n')"
      "$bin/qsweep" logprobs "$dir" --tokens "/tmp/$m.tokens" --scheme bf16 --backend cuda -o "/tmp/$m.h5" \
        >"$out/hf_$m.log" 2>&1 &&
        python3 tools/bench/hf_forward.py compare "$dir" "/tmp/$m.tokens" "/tmp/$m.h5" >>"$out/hf_$m.log" 2>&1
      note "vs HF bf16, $m: rc $? ($(tail -1 "$out/hf_$m.log"))"
    done
    ;;
  lowbit)
    formats=${LOWBIT_FORMATS:-w4a16-g128,w8a16,fp8a16,w3a16-g128,w2a16-g64,nf4-g64,w1a16-g128}
    "$bin/qsweep" bench gemm --formats "$formats" --shapes "${LOWBIT_SHAPES:-llama3-70b}" \
      ${LOWBIT_ROWS:+--rows $LOWBIT_ROWS} >"$out/bench_lowbit.log" 2>&1
    note "bench gemm low-bit: rc $?"
    grep -A40 "whole layer" "$out/bench_lowbit.log" || tail -20 "$out/bench_lowbit.log"
    ;;
  actq)
    formats=${ACTQ_FORMATS:-fp8,w8a8,w4a8,w4a4}
    "$bin/qsweep" bench gemm --formats "$formats" --shapes "${LOWBIT_SHAPES:-llama3-70b}" \
      --rows "${ACTQ_ROWS:-1,16,256,4096,16384}" >"$out/bench_actq.log" 2>&1
    note "bench gemm activation-quantized: rc $?"
    grep -A40 "whole layer" "$out/bench_actq.log" || tail -20 "$out/bench_actq.log"
    ;;
  one70b)
    # Llama-3-70B shapes on one GPU: one scheme (ONE70B_RUN, the config's
    # baseline, so that it runs alone), loaded tensor by tensor and
    # quantized on the device so that only its packed weights stay resident.
    mc_config mc70b synthetic:llama3-70b "${ONE70B_RUN:-w4a16-g128}" w3a16-g128 "${ONE70B_SAMPLES:-200}" 50
    mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.mc70b.yaml --scheme "${ONE70B_RUN:-w4a16-g128}" \
      >"$out/one70b.log" 2>&1
    note "70B on one GPU: rc $?"
    rm -f configs/.mc70b.yaml
    grep -E "loaded in|holding|error|loading" "$out/one70b.log" | tail -6 | sed "s/^qsweep: /  /"
    run_summaries /tmp/mc70b
    ;;
  file8b)
    rm -rf /tmp/l8b
    t1=$(date +%s.%N)
    "$bin/qsweep" export synthetic:llama3-8b -o /tmp/l8b --shard-gib 5 >"$out/file8b_export.log" 2>&1
    note "export synthetic:llama3-8b: rc $? in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}") s ($(ls /tmp/l8b | tr '\n' ' '))"
    mc_config file8b /tmp/l8b bf16 w4a16-g128 200 100
    # Twice: the first reads the files (page cache warm from the export),
    # the second opens them again with the content id's digest cached.
    for pass in 1 2; do
      rm -rf /tmp/file8b
      t1=$(date +%s.%N)
      mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.file8b.yaml >"$out/file8b_$pass.log" 2>&1
      note "8B from safetensors, pass $pass: rc $? in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}") s"
      grep -E "loaded in" "$out/file8b_$pass.log" | sed 's/^qsweep: /  /'
    done
    rm -f configs/.file8b.yaml
    rm -rf /tmp/l8b
    ;;
  schemes8b)
    mc_config mc8b synthetic:llama3-8b bf16 "${SCHEMES8B:-w4a16-g128, w8a16, fp8, w8a8, w4a8}" 2000 250
    mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.mc8b.yaml --quantize-on "${SCHEMES8B_QUANTIZE:-device}" \
      >"$out/schemes8b.log" 2>&1
    note "8B schemes sweep (quantized on the ${SCHEMES8B_QUANTIZE:-device}): rc $?"
    rm -f configs/.mc8b.yaml
    grep -E "loaded in" "$out/schemes8b.log" | sed 's/^qsweep: /  /'
    run_summaries /tmp/mc8b
    ;;
  gptq8b)
    # GPTQ of synthetic Llama-3-8B on the GPU (Hessians, factorizations and
    # the column loop on the device), 128 x 2048 calibration tokens by
    # default (GPTQ8B_SCHEME, GPTQ8B_SEQUENCES to change; an -awq scheme runs
    # AWQ's searches on the device): its time per stage and in all, then its
    # scoring.
    mc_config gptq8b synthetic:llama3-8b bf16 "${GPTQ8B_SCHEME:-w4a16-g128-gptq}" 200 100
    echo "calibration: {path: ../tests/data/tiny/calibration.txt, sequences: ${GPTQ8B_SEQUENCES:-128}, length: 2048, seed: 0}" \
      >>configs/.gptq8b.yaml
    t1=$(date +%s.%N)
    mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.gptq8b.yaml --scheme "${GPTQ8B_SCHEME:-w4a16-g128-gptq}" \
      >"$out/gptq8b.log" 2>&1
    note "GPTQ 8B (${GPTQ8B_SCHEME:-w4a16-g128-gptq}, ${GPTQ8B_SEQUENCES:-128} x 2048 tokens): rc $? in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}") s"
    rm -f configs/.gptq8b.yaml
    grep -E "calibrated layer (1|2|32)/|loaded in|error" "$out/gptq8b.log" | sed 's/^qsweep: /  /' | tail -6
    run_summaries /tmp/gptq8b
    ;;
  kl8b)
    # Exact token statistics at Llama-3-8B shapes: their cost in the forward
    # (bench, same process) and in a run (the noise-floor candidate scored
    # with and without them), and their bytes on disk per token.
    "$bin/qsweep" bench forward --model synthetic:llama3-8b --scheme bf16 --batch 4 --seq 2048 \
      --reduction tp_invariant --exact-token-stats --gemm 0 >"$out/bench_kl.log" 2>&1
    note "bench forward +exact token stats: rc $?"
    grep -E "^  (forward|fwd)" "$out/bench_kl.log"
    grep -A30 "per stage" "$out/bench_kl.log"
    for i in 1 2 3 4 5 6 7 8; do cat tests/data/tiny/tasks/heldout.txt; done >/tmp/corpus8b.txt
    for exact in true false; do
      cat >configs/.kl8b.yaml <<YAML
name: kl8b
model: synthetic:llama3-8b
tokenizer: ../tests/data/tokenizers/bpe_llama3/tokenizer.json
parallel: {tp: 1, backend: cuda}
baseline: bf16
schemes: [{name: bf16-fast, scheme: bf16, reduction: fast}]
corpora:
  - {name: c8b, path: /tmp/corpus8b.txt, window: 2048, stride: 1024}
output: /tmp/kl8b_$exact
scoring: {topk: 32, batch_tokens: 8192, exact_token_stats: $exact}
YAML
      rm -rf /tmp/kl8b_$exact
      schemes=(); [ $exact = false ] && schemes=(--scheme bf16-fast)
      mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.kl8b.yaml "${schemes[@]}" >"$out/kl8b_$exact.log" 2>&1
      note "8B corpus run, exact_token_stats $exact: rc $? ($("$bin/qsweep" inspect /tmp/kl8b_$exact/runs/bf16-fast.h5 2>&1 | grep -E '^scoring:' | tail -1))"
    done
    rm -f configs/.kl8b.yaml
    "$bin/qsweep" metrics --baseline /tmp/kl8b_true/runs/bf16.h5 /tmp/kl8b_true/runs/bf16-fast.h5 -o /tmp/kl8b_true/m.h5 \
      >"$out/kl8b_metrics.log" 2>&1
    note "8B noise floor metrics: rc $?"
    tail -4 "$out/kl8b_metrics.log"
    python3 - <<'PY'
import h5py
b = h5py.File('/tmp/kl8b_true/runs/bf16.h5'); c = h5py.File('/tmp/kl8b_true/runs/bf16-fast.h5')
g = b['ppl/c8b']; t = g['nll'].shape[0]; v = b.attrs['vocab_size']
hidden = g['final_hidden_bf16'].id.get_storage_size()
pair = sum(c['ppl/c8b'][k].id.get_storage_size() for k in ('kl_base_cand', 'kl_cand_base', 'base_nll', 'cand_nll', 'base_top1'))
print(f"  bytes per scored token: baseline hidden {hidden / t:.0f}, candidate statistics {pair / t:.0f}; llama.cpp 2*(vocab+4) = {2 * (v + 4)} ({t} tokens)")
PY
    ;;
  bench)
    model=/tmp/llama3-8b-random
    [ -f "$model/config.json" ] || python3 tools/bench/hf_forward.py make --shape llama3-8b --out "$model" \
      >"$out/bench_make.log" 2>&1
    python3 tools/bench/hf_forward.py bench "$model" --batch 4 --seq 2048 >"$out/bench_hf.log" 2>&1
    note "HF: rc $? $(grep '^  hf' "$out/bench_hf.log")"
    "$bin/qsweep" bench forward --model "$model" --scheme bf16 --batch 4 --seq 2048 >"$out/bench_qsweep.log" 2>&1
    note "qsweep bench: rc $?"
    cat "$out/bench_qsweep.log"
    hf=$(awk '/^  hf/ {print $(NF-1)}' "$out/bench_hf.log")
    # forward rows: bench, shape (batch x seq, scheme, reduction), time_ms, tokens/s, ...
    while read -r mode qs; do
      [ -n "$hf" ] && note "qsweep ($mode) / HF tokens/s: $(python3 -c "print(f'{$qs / $hf:.3f}')") ($qs vs $hf)"
    done < <(awk '/^  forward/ {print $4, $6}' "$out/bench_qsweep.log")
    ;;
  invariant)
    rc=0
    for bt in 256 8192; do
      rm -rf /tmp/inv_$bt
      sed "s/batch_tokens: [0-9]*/batch_tokens: $bt/" configs/demo.yaml >configs/.demo_bt$bt.yaml
      mpirun --bind-to none -n 1 "$bin/qsweep" run configs/.demo_bt$bt.yaml --backend cuda -o /tmp/inv_$bt \
        >"$out/invariant_$bt.log" 2>&1 || rc=1
    done
    rm -f configs/.demo_bt*.yaml
    for f in /tmp/inv_256/runs/*.h5; do
      python3 tests/dist/h5_equal.py "$f" "/tmp/inv_8192/runs/$(basename "$f")" --ignore config_yaml \
        >>"$out/invariant_diff.log" 2>&1 || { rc=1; echo "differs: $(basename "$f")" >>"$out/invariant_diff.log"; }
    done
    note "batch_tokens 256 vs 8192 on the GPU: rc $rc (0: every run file bit-identical; $(ls /tmp/inv_256/runs/*.h5 | wc -l) runs)"
    tail -20 "$out/invariant_diff.log" 2>/dev/null
    ;;
  versus)
    other=${QSWEEP_OTHER:?QSWEEP_OTHER names the other qsweep binary}
    args=(bench forward --model synthetic:llama3-8b --scheme bf16 --batch 4 --seq 2048)
    for round in $(seq 1 "${VERSUS_ROUNDS:-2}"); do
      for who in this other; do
        exe="$bin/qsweep"; [ $who = other ] && exe=$other
        extra=(); [ $round = 2 ] && extra=(--no-stages)
        "$exe" "${args[@]}" "${extra[@]}" >"$out/versus_${who}_$round.log" 2>&1
        note "bench $who round $round: rc $? $(awk '/^  forward/ {printf "%s %s ms %s tok/s; ", $4, $5, $6}' "$out/versus_${who}_$round.log")"
      done
    done
    cat "$out/versus_this_1.log" "$out/versus_other_1.log"
    ;;
  demo)
    rm -rf /tmp/demo_gpu
    timeout "${DEMO_TIMEOUT:-240}" mpirun --bind-to none -n 1 "$bin/qsweep" run configs/demo.yaml --backend cuda \
      -o /tmp/demo_gpu >"$out/demo_gpu.log" 2>&1
    note "demo sweep on the GPU: rc $? ($(grep -c 'wrote .*runs/' "$out/demo_gpu.log") runs written)"
    grep -E "loaded in|done in" "$out/demo_gpu.log" | tail -24
    "$bin/qsweep" metrics configs/demo.yaml --sweep-output /tmp/demo_gpu -o /tmp/demo_gpu/metrics.h5 \
      >"$out/demo_gpu_metrics.log" 2>&1
    note "demo metrics: rc $?"
    cat "$out/demo_gpu_metrics.log"
    ;;
  decode)
    "$bin/qsweep" bench decode --model "${DECODE_MODEL:-synthetic:llama3-8b}" \
      --schemes "${DECODE_SCHEMES:-bf16,w4a16-g128}" --batches "${DECODE_BATCHES:-1,8,32}" \
      --contexts "${DECODE_CONTEXTS:-512,2048}" --steps "${DECODE_STEPS:-32}" >"$out/bench_decode.log" 2>&1
    note "bench decode: rc $?"
    cat "$out/bench_decode.log"
    ;;
  hfgen)
    python3 - <<'PY'
import random
random.seed(5)
from transformers import PreTrainedTokenizerFast
tok = PreTrainedTokenizerFast(tokenizer_file='tests/data/tiny/model/tokenizer.json')
tiny = ["15+40=", "96+98=", "rev xbcs", "z=6 h=5 r=0 s=1 ; h?", "max 3 9 2 3", "12+57=", "rev qiea", "7"]
open('/tmp/hfgen_tiny.txt', 'w').write('\n'.join(' '.join(map(str, [0] + tok.encode(t))) for t in tiny) + '\n')
for m, v in (('llama3_features', 512), ('qwen2_features', 512)):
    open(f'/tmp/hfgen_{m}.txt', 'w').write('\n'.join(' '.join(str(random.randrange(v)) for _ in range(random.randrange(4, 40)))
                                                     for _ in range(8)) + '\n')
PY
    for m in tiny llama3_features qwen2_features; do
      dir=tests/data/models/$m; eos=(); [ $m = tiny ] && { dir=tests/data/tiny/model; eos=(--eos 1); }
      for scheme in bf16; do
        "$bin/qsweep" generate "$dir" --tokens /tmp/hfgen_$m.txt --max-tokens 24 --backend cuda --scheme $scheme \
          "${eos[@]}" -o /tmp/hfgen_$m.out >"$out/hfgen_$m.log" 2>&1 &&
          python3 tools/bench/hf_generate.py "$dir" /tmp/hfgen_$m.txt /tmp/hfgen_$m.out --max-tokens 24 "${eos[@]}" \
            >>"$out/hfgen_$m.log" 2>&1
        note "generate vs HF, $m: rc $? ($(tail -1 "$out/hfgen_$m.log"))"
        grep "parts at" "$out/hfgen_$m.log" | head -5
      done
    done
    ;;
  attn)
    # The attention kernel's instances, torch's sdpa backends at the same shape.
    "$bin/kernels/attention_variants" >"$out/attention_variants.log" 2>&1
    note "attention_variants: rc $?"
    cat "$out/attention_variants.log"
    python3 tools/bench/hf_forward.py attention --batch 4 --seq 2048 >"$out/attention_torch.log" 2>&1
    note "torch sdpa: rc $?"
    cat "$out/attention_torch.log"
    ;;
  ncu)
    # Hardware counters of the chosen wgmma attention instance (its first launch).
    ncu --clock-control none --launch-count 1 --kernel-name regex:WgmmaAttentionKernel \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
      "$bin/kernels/attention_variants" >"$out/ncu_attention.log" 2>&1
    note "ncu attention: rc $?"
    ;;
  ncu_lowbit)
    # Hardware counters of the low-bit gemm at one shape (NCU_LOWBIT_* to change).
    ncu --clock-control none --launch-skip 3 --launch-count 1 --kernel-name regex:GemmKernel \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
      --section WarpStateStats --section SchedulerStats \
      "$bin/qsweep" bench gemm --formats "${NCU_LOWBIT_FORMAT:-w4a16-g128}" --shapes "${NCU_LOWBIT_SHAPE:-28672x8192}" \
      --rows "${NCU_LOWBIT_ROWS:-1}" >"$out/ncu_lowbit.log" 2>&1
    note "ncu lowbit: rc $?"
    grep -E "Duration|Memory Throughput|DRAM Throughput|Compute \(SM\)|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|Warp Cycles Per Issued|Issued Warp|No Eligible|Stall|Dynamic Shared" "$out/ncu_lowbit.log" | head -40
    ;;
  sass)
    # The opcodes of one kernel (SASS_FUNCTION, a substring of its mangled
    # name) in a cubin built here (SASS_CUBIN: nvcc -cubin of its .cu).
    fn=$(cuobjdump -sass "$SASS_CUBIN" | grep -o "Function : [^ ]*${SASS_FUNCTION}[^ ]*" | head -1 | cut -d' ' -f3)
    cuobjdump -sass -fun "$fn" "$SASS_CUBIN" >"$out/sass.log" 2>&1
    note "sass $fn: rc $?, $(grep -cE '^ +/\*[0-9a-f]{4}\*/' "$out/sass.log") instructions"
    grep -oE '^ +/\*[0-9a-f]{4}\*/ +(@!?U?P[0-9T] +)?[A-Z0-9_]+' "$out/sass.log" | awk '{print $NF}' | sort | uniq -c | sort -rn | head -30
    ;;
  *) echo "unknown step $step"; exit 2 ;;
  esac
  echo "   ($step took $(( $(date +%s) - t0 )) s)"
done
echo
printf '%s\n' "${summary[@]}"
