#!/usr/bin/env bash
# `qsweep metrics` on real run files, checked against an independent Python
# recomputation of flips, accuracy and answer KL from the same files; and the
# refusal of a run file from another model.
# usage: metrics_recompute_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
config=$src/tests/data/configs/mpi_small.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$scratch" && mkdir -p "$scratch"
mpirun -n 1 --oversubscribe "$qsweep" run "$config" -o "$scratch/sweep" 2>"$scratch/run.log"
"$qsweep" metrics "$config" --sweep-output "$scratch/sweep" -o "$scratch/metrics.h5" > "$scratch/table.txt"
/usr/bin/python3 "$src/tests/eval/recompute_metrics.py" "$scratch/sweep/runs/bf16.h5" \
  "$scratch/sweep/runs/w4a16-g128.h5" "$scratch/metrics.json" add-gen="$src/tests/data/tiny/tasks/add_gen.jsonl"
# The table's numbers are the metrics file's: rerunning gives the same bytes of CSV.
cp "$scratch/metrics.csv" "$scratch/first.csv"
"$qsweep" metrics "$config" --sweep-output "$scratch/sweep" -o "$scratch/metrics.h5" > /dev/null
cmp "$scratch/first.csv" "$scratch/metrics.csv"
# A run of another model is refused with a message naming both files.
sed 's|model: ../tiny/model|model: synthetic:tiny|' "$config" > "$scratch/other.yaml"
sed -i "s|\.\./tiny/|$src/tests/data/tiny/|g" "$scratch/other.yaml"
sed -i "s|^tasks:|tokenizer: $src/tests/data/tiny/model\ntasks:|; s|w4a16-g128|w8a16|" "$scratch/other.yaml"
# A candidate alone needs its baseline's run for the exact token statistics:
# refused, naming the missing file, and nothing written.
if mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/other.yaml" --scheme w8a16 -o "$scratch/other" \
     2>"$scratch/alone.log"; then
  echo "FAIL: a candidate ran without its baseline run"; exit 1
fi
grep -q "other/runs/bf16.h5: the baseline run is missing" "$scratch/alone.log" || { cat "$scratch/alone.log"; exit 1; }
[ ! -e "$scratch/other/runs/w8a16.h5" ] || { echo "FAIL: a run file without its baseline"; exit 1; }
sed -i 's|windows_per_unit: 4}|windows_per_unit: 4, exact_token_stats: false}|' "$scratch/other.yaml"
mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/other.yaml" --scheme w8a16 -o "$scratch/other" 2>"$scratch/other.log"
if "$qsweep" metrics --baseline "$scratch/sweep/runs/bf16.h5" "$scratch/other/runs/w8a16.h5" \
     -o "$scratch/bad.h5" 2>"$scratch/bad.log"; then
  echo "FAIL: metrics accepted a run of another model"; exit 1
fi
grep -q "is a run of another model" "$scratch/bad.log" || { cat "$scratch/bad.log"; exit 1; }
[ ! -f "$scratch/bad.h5" ] || { echo "FAIL: partial metrics file"; exit 1; }
echo "PASS"
