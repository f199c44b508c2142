#!/usr/bin/env bash
# The fuzz targets of fuzz/ (libFuzzer, ASan + UBSan), in the sanitizer build
# (tools/sanitize.sh makes it). Seeds come from tests/data and from small
# valid files written here; findings (crash-*, timeout-*, leak-*) land in
# BUILD/fuzz/findings/TARGET/.
#   tools/fuzz.sh [MINUTES] [TARGET...]   each target MINUTES (default 10), a table last
#   tools/fuzz.sh --replay BUILD          every seed once per target (ctest Fuzz.SeedsReplay)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
targets_all=(sweep_config hf_config tokenizer_json safetensors packed_int llama2c task_import hdf5_readers journal gguf)
replay=0
if [ "${1:-}" = --replay ]; then
  replay=1 build=$2
  shift 2
else
  build=${QSWEEP_SANITIZE_BUILD:-$src/build-san}
  minutes=${1:-10}
  shift || true
  [ -x "$build/fuzz/journal_fuzz" ] || SANITIZE_TESTS=0 "$src/tools/sanitize.sh" --build-only || exit 1
fi
targets=("${@:-${targets_all[@]}}")
[ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
seeds=$build/fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds"

# Seeds: the repository's own files of each kind, and what is written here.
for t in "${targets_all[@]}"; do mkdir -p "$seeds/$t"; done
cp "$src"/configs/*.yaml "$src"/tests/data/configs/*.yaml "$seeds/sweep_config/"
n=0; for f in $(find "$src/tests/data" -name config.json); do cp "$f" "$seeds/hf_config/$((n++)).json"; done
n=0; for f in $(find "$src/tests/data" -name tokenizer.json); do cp "$f" "$seeds/tokenizer_json/$((n++)).json"; done
cp "$src"/tests/data/runs/*.h5 "$seeds/hdf5_readers/"
: >"$seeds/journal/empty"
# What the targets found before, kept after the fixes (tests/data/fuzz).
for t in "${targets_all[@]}"; do
  [ -d "$src/tests/data/fuzz/$t" ] && cp "$src/tests/data/fuzz/$t"/* "$seeds/$t/"
done
/usr/bin/python3 - "$seeds" "$src" <<'PY'
import json, os, struct, sys
seeds, src = sys.argv[1], sys.argv[2]
# The safetensors target's config (fuzz/safetensors_fuzz.cc): one layer, hidden 8.
shapes = {"model.embed_tokens.weight": [16, 8], "model.norm.weight": [8], "lm_head.weight": [16, 8]}
for name, shape in {"input_layernorm": [8], "post_attention_layernorm": [8], "self_attn.q_proj": [8, 8],
                    "self_attn.k_proj": [4, 8], "self_attn.v_proj": [4, 8], "self_attn.o_proj": [8, 8],
                    "mlp.gate_proj": [16, 8], "mlp.up_proj": [16, 8], "mlp.down_proj": [8, 16]}.items():
    shapes[f"model.layers.0.{name}.weight"] = shape
header, data = {}, b""
for name, shape in shapes.items():
    n = 1
    for d in shape: n *= d
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [len(data), len(data) + 2 * n]}
    data += struct.pack("<%dH" % n, *[0x3c00 + (i * 37) % 256 for i in range(n)])
h = json.dumps(header).encode()
open(f"{seeds}/safetensors/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
# The packed-int target (fuzz/packed_int_fuzz.cc): the same model with its
# projections as compressed-tensors pack-quantized 4-bit groups of 8, after
# the byte that picks the config (0 asymmetric, 1 symmetric).
for sym in (0, 1):
    header, data = {}, b""
    def put(name, dtype, shape, raw):
        global data
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    for name, shape in shapes.items():
        n = 1
        for d in shape: n *= d
        if name.endswith("proj.weight"):
            out, inn = shape
            prefix = name[: -len(".weight")]
            words = [sum(((o * 7 + i * 3 + w) % 16) << (4 * i) for i in range(8)) for o in range(out) for w in range(inn // 8)]
            put(prefix + ".weight_packed", "I32", [out, inn // 8], struct.pack("<%dI" % len(words), *words))
            put(prefix + ".weight_scale", "BF16", [out, inn // 8], struct.pack("<%dH" % (out * (inn // 8)), *[0x3c00] * (out * (inn // 8))))
            if not sym:
                zp = [sum(((r * 8 + j) % 16) << (4 * j) for j in range(8)) for r in range((out + 7) // 8) for g in range(inn // 8)]
                put(prefix + ".weight_zero_point", "I32", [(out + 7) // 8, inn // 8], struct.pack("<%dI" % len(zp), *zp))
            put(prefix + ".weight_shape", "I32", [2], struct.pack("<2i", out, inn))
        else:
            put(name, "BF16", shape, struct.pack("<%dH" % n, *[0x3c00 + (i * 37) % 256 for i in range(n)]))
    h = json.dumps(header).encode()
    open(f"{seeds}/packed_int/ct_{sym}", "wb").write(bytes([sym]) + struct.pack("<Q", len(h)) + h + data)
# A llama2.c file: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 16 (shared), seq_len 8.
floats = 16 * 8 + 8 + 64 + 2 * 32 + 64 + 8 + 3 * 128 + 8 + 2 * 8 * 2
open(f"{seeds}/llama2c/model.bin", "wb").write(struct.pack("<7i", 8, 16, 1, 2, 1, 16, 8) +
                                              struct.pack("<%df" % floats, *[0.01 * (i % 7) for i in range(floats)]))
# A GGUF file (fuzz/gguf_fuzz.cc): llama, hidden 32, 2 heads of 16, 1 kv head,
# ffn 32, vocab 32, one layer; matrices Q8_0 and Q4_0, norms F32.
def gstr(x):
    x = x.encode()
    return struct.pack("<Q", len(x)) + x
kv = [("general.architecture", 8, gstr("llama")), ("llama.embedding_length", 4, struct.pack("<I", 32)),
      ("llama.block_count", 4, struct.pack("<I", 1)), ("llama.feed_forward_length", 4, struct.pack("<I", 32)),
      ("llama.attention.head_count", 4, struct.pack("<I", 2)),
      ("llama.attention.head_count_kv", 4, struct.pack("<I", 1)),
      ("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
      ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 32) + b"".join(gstr("t%d" % i) for i in range(32)))]
tensors = [("token_embd.weight", [32, 32], 8), ("output_norm.weight", [32], 0), ("output.weight", [32, 32], 2),
           ("blk.0.attn_norm.weight", [32], 0), ("blk.0.ffn_norm.weight", [32], 0),
           ("blk.0.attn_q.weight", [32, 32], 8), ("blk.0.attn_k.weight", [32, 16], 8),
           ("blk.0.attn_v.weight", [32, 16], 2), ("blk.0.attn_output.weight", [32, 32], 8),
           ("blk.0.ffn_gate.weight", [32, 32], 8), ("blk.0.ffn_up.weight", [32, 32], 2),
           ("blk.0.ffn_down.weight", [32, 32], 8)]
def blocks(t, n):
    if t == 0: return struct.pack("<%df" % n, *[0.01 * (i % 9) for i in range(n)])
    per = 34 if t == 8 else 18
    one = struct.pack("<H", 0x2e66) + bytes((i * 7) % 256 for i in range(per - 2))
    return one * (n // 32)
head, data = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kv)), b""
for k, t, v in kv: head += gstr(k) + struct.pack("<I", t) + v
for name, ne, t in tensors:
    n = 1
    for d in ne: n *= d
    head += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
    head += struct.pack("<IQ", t, len(data))
    data += blocks(t, n)
    data += b"\0" * (-len(data) % 32)
head += b"\0" * (-len(head) % 32)
open(f"{seeds}/gguf/model.gguf", "wb").write(head + data)
# Task files, each after the byte that picks its format (TaskFormats' order,
# fuzz/task_import_fuzz.cc): every format gets every fixture.
formats = ["jsonl", "arc", "hellaswag", "mmlu", "piqa", "boolq", "winogrande", "gen-jsonl", "gsm8k"]
files = [f"{src}/tests/data/tiny/tasks/add.jsonl", f"{src}/tests/data/tiny/tasks/add_gen.jsonl"] + [
    f"{src}/tests/data/tasks/import/{f}" for f in ("arc.jsonl", "hellaswag.jsonl", "piqa.jsonl", "boolq.jsonl",
                                                   "winogrande.jsonl", "mmlu/test/tiny_subject_test.csv",
                                                   "gsm8k.jsonl")]
for i in range(len(formats)):
    for k, f in enumerate(files):
        open(f"{seeds}/task_import/{i}_{k}", "wb").write(bytes([i]) + open(f, "rb").read()[:8192])
# A generative task with a catastrophically backtracking pattern and a
# generation it backtracks on (the match limits must end it).
hostile = b'{"id": "h", "answers": ["1"], "scorer": "regex", "pattern": "(a+)+$", "prompt": "' + b"a" * 120 + b'!"}\n'
open(f"{seeds}/task_import/hostile_regex", "wb").write(bytes([7]) + hostile)
PY

status=0
rows=()
for t in "${targets[@]}"; do
  exe=$build/fuzz/${t}_fuzz
  [ -x "$exe" ] || { echo "fuzz: $exe missing (build with tools/sanitize.sh)"; exit 1; }
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$src/fuzz/lsan.supp
  if [ $replay = 1 ]; then
    # Each seed once: the readers must refuse or accept every one cleanly.
    "$exe" -runs=0 -timeout=30 -rss_limit_mb=4096 "$seeds/$t" >"$build/fuzz/$t.replay.log" 2>&1
    rc=$?
    rows+=("$(printf '%-16s replay rc %d: %s' "$t" $rc "$(grep -Eo 'INITED.*|Done [0-9]+ runs.*' "$build/fuzz/$t.replay.log" | tail -1)")")
    [ $rc = 0 ] || { status=1; tail -30 "$build/fuzz/$t.replay.log"; }
    continue
  fi
  corpus=$build/fuzz/corpus/$t findings=$build/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  "$exe" -max_total_time=$((minutes * 60)) -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "$seeds/$t" >"$build/fuzz/$t.log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$build/fuzz/$t.log" | grep -Eo '[0-9]+$')
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$build/fuzz/$t.log" | tail -1)
  found=$(ls "$findings" | wc -l)
  rows+=("$(printf '%-16s %3d min  rc %d  execs %10s  %-22s findings %d' "$t" "$minutes" $rc "${execs:-?}" "${cov:-?}" "$found")")
  [ $rc = 0 ] && [ "$found" = 0 ] || status=1
done
printf '%s\n' "${rows[@]}"
exit $status
