#!/usr/bin/env bash
# A sweep whose entries are GGUF files made from the baseline's model (as
# llama.cpp lays them out; tests/fixtures/write_gguf.cc): scored against the
# baseline with every metric, their size the file's own; an F32 GGUF held in
# bf16 is the baseline again (0 flips, token KL exactly 0); a GGUF of another
# model is refused naming both files, and nothing is written for it.
# usage: gguf_entries_test.sh QSWEEP_BINARY WRITE_GGUF_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 write_gguf=$2 src=$3 scratch=$4
rm -rf "$scratch" && mkdir -p "$scratch"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
tiny=$src/tests/data/tiny/model
"$write_gguf" "$tiny" "$scratch/tiny-Q8_0.gguf" Q8_0
"$write_gguf" "$tiny" "$scratch/tiny-Q4_0.gguf" Q4_0
"$write_gguf" "$tiny" "$scratch/tiny-F32.gguf" F32
"$write_gguf" synthetic:tiny-llama3 "$scratch/other-Q8_0.gguf" Q8_0 none
"$write_gguf" "$tiny" "$scratch/tiny-othervocab.gguf" Q8_0 none
config() {  # the small distributed-test sweep with absolute paths and these entries
  sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $scratch/$1|" \
    -e "s|^schemes: .*|schemes: [$2]|" "$src/tests/data/configs/mpi_small.yaml" >"$scratch/$1.yaml"
}
config sweep "{name: q8-gguf, checkpoint: $scratch/tiny-Q8_0.gguf}, {name: q4-gguf, checkpoint: $scratch/tiny-Q4_0.gguf}, {name: f32-gguf, checkpoint: $scratch/tiny-F32.gguf}, w8a16"
mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/sweep.yaml" 2>"$scratch/run.log" || { cat "$scratch/run.log"; exit 1; }
grep -qE "q8-gguf: .*tiny-Q8_0.gguf, 8\.5[0-9]* bits per weight as stored; [0-9]+ of 28 projections run in their stored formats" "$scratch/run.log" || {
  echo "FAIL: the log does not say what the GGUF entry is"; cat "$scratch/run.log"; exit 1; }
"$qsweep" metrics "$scratch/sweep.yaml" >"$scratch/table.txt" 2>"$scratch/metrics.log" || { cat "$scratch/metrics.log"; exit 1; }
/usr/bin/python3 - "$scratch" <<'PY'
import json, sys
import h5py
scratch = sys.argv[1]
run = h5py.File(f"{scratch}/sweep/runs/q8-gguf.h5")
spec = json.loads(run.attrs["scheme_json"])
assert spec["checkpoint"]["file_format"] == "gguf" and spec["checkpoint"]["formats"] == {"Q8_0": 30, "F32": 9}, spec  # 28 projections, embedding, head; norms
assert spec["checkpoint"]["path"].endswith("tiny-Q8_0.gguf"), spec
# Q8_0 is int8 g32: the column-parallel projections run packed (the tiny
# model's row-parallel parts are narrower than a group: held as bf16).
assert spec["checkpoint"]["projections"] == 28 and spec["checkpoint"]["projections_as_stored"] == 20, spec
f32_spec = json.loads(h5py.File(f"{scratch}/sweep/runs/f32-gguf.h5").attrs["scheme_json"])
assert f32_spec["checkpoint"]["projections_as_stored"] == 0, f32_spec
bpw = run.attrs["bits_per_weight"]
assert 8.4 < bpw < 8.6, bpw  # Q8_0's 8.5 (the F32 norms add a little)
m = json.load(open(f"{scratch}/sweep/metrics.json"))
by = {c["scheme"]: c for c in m["candidates"]}
f32 = by["f32-gguf"]
flips = f32["all_tasks"]["acc"]["flips"]
assert flips["correct_to_incorrect"] == 0 and flips["incorrect_to_correct"] == 0, flips
e = f32["corpora"]["heldout"]["exact_token_stats"]
assert e["kl_max"] == 0 and e["same_top1"] == 1, e  # the baseline's weights again, in bf16
q8 = by["q8-gguf"]["corpora"]["heldout"]["exact_token_stats"]
q4 = by["q4-gguf"]["corpora"]["heldout"]["exact_token_stats"]
assert 0 < q8["kl_mean"] < q4["kl_mean"], (q8["kl_mean"], q4["kl_mean"])  # fewer bits, more KL
print(f"q8-gguf: {bpw:.3f} bpw, token KL {q8['kl_mean']:.2e}; q4-gguf {q4['kl_mean']:.2e}; f32-gguf KL 0, 0 flips")
PY
# The report says where each entry's weights came from.
"$qsweep" report "$scratch/sweep/metrics.h5" -o "$scratch/report" >/dev/null 2>"$scratch/report.log" || {
  cat "$scratch/report.log"; exit 1; }
grep -q "gguf: F32 ×9, Q8_0 ×30" "$scratch/report/index.html" || { echo "FAIL: the report names no source"; exit 1; }
# A GGUF of another model: refused, naming both files; no run file.
config other "{name: other-gguf, checkpoint: $scratch/other-Q8_0.gguf}"
mkdir -p "$scratch/other/runs" && cp "$scratch/sweep/runs/bf16.h5" "$scratch/other/runs/"
if mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/other.yaml" --scheme other-gguf 2>"$scratch/other.log"; then
  echo "FAIL: a GGUF of another model was scored"; exit 1
fi
grep -q "other-Q8_0.gguf is not of the baseline's model" "$scratch/other.log" || { cat "$scratch/other.log"; exit 1; }
[ ! -e "$scratch/other/runs/other-gguf.h5" ] || { echo "FAIL: a run file for the refused entry"; exit 1; }
# The same model with another vocabulary: refused, naming the first token that differs.
config vocab "{name: vocab-gguf, checkpoint: $scratch/tiny-othervocab.gguf}"
mkdir -p "$scratch/vocab/runs" && cp "$scratch/sweep/runs/bf16.h5" "$scratch/vocab/runs/"
if mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/vocab.yaml" --scheme vocab-gguf 2>"$scratch/vocab.log"; then
  echo "FAIL: a GGUF of another vocabulary was scored"; exit 1
fi
grep -q "tiny-othervocab.gguf: token 0 is 't0' in its tokenizer" "$scratch/vocab.log" || { cat "$scratch/vocab.log"; exit 1; }
# A checkpoint entry that names no file: a config error naming the key.
config bad "{name: bad, checkpoint: synthetic:tiny}"
if "$qsweep" plan "$scratch/bad.yaml" >/dev/null 2>"$scratch/bad.log"; then echo "FAIL: accepted a synthetic entry"; exit 1; fi
grep -q "schemes.bad.checkpoint" "$scratch/bad.log" || { cat "$scratch/bad.log"; exit 1; }
echo "PASS"
