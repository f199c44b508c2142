#!/usr/bin/env bash
# `qsweep generate` on the tiny model (CPU): a line of generated ids per
# prompt, at most --max-tokens each, the same ids whatever --sequences; and
# bad input refused with one message naming the problem, no output file.
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
model=$src/tests/data/tiny/model
rm -rf "$scratch" && mkdir -p "$scratch"
printf '0 18 22 12 21 17 30\n0 78 66 89 1\n0 12\n' >"$scratch/prompts.txt"
"$qsweep" generate "$model" --tokens "$scratch/prompts.txt" --max-tokens 6 -o "$scratch/a.txt" 2>"$scratch/a.log"
"$qsweep" generate "$model" --tokens "$scratch/prompts.txt" --max-tokens 6 --sequences 1 -o "$scratch/b.txt" \
  2>"$scratch/b.log"
[ "$(wc -l <"$scratch/a.txt")" -eq 3 ] || { echo "FAIL: not a line per prompt"; cat "$scratch/a.txt"; exit 1; }
awk '{ if (NF < 1 || NF > 6) exit 1; for (i = 1; i <= NF; i++) if ($i < 0 || $i >= 384) exit 1 }' "$scratch/a.txt" ||
  { echo "FAIL: lengths or ids out of range"; cat "$scratch/a.txt"; exit 1; }
cmp "$scratch/a.txt" "$scratch/b.txt" || { echo "FAIL: the grouping changed the tokens"; exit 1; }
grep -q "3 prompts" "$scratch/a.log"
refused() {  # refused WHAT PATTERN ARGS...: exits non-zero, says PATTERN, writes nothing
  local what=$1 pattern=$2
  shift 2
  rm -f "$scratch/out.txt"
  if "$qsweep" generate "$model" "$@" -o "$scratch/out.txt" 2>"$scratch/err.log"; then
    echo "FAIL: $what was accepted"; exit 1
  fi
  grep -q "$pattern" "$scratch/err.log" || { echo "FAIL: $what:"; cat "$scratch/err.log"; exit 1; }
  [ ! -e "$scratch/out.txt" ] || { echo "FAIL: $what left an output"; exit 1; }
}
printf '0 5 999\n' >"$scratch/bad_id.txt"
refused "an id outside the vocabulary" "bad_id.txt" --tokens "$scratch/bad_id.txt"
refused "an EOS outside the vocabulary" "eos 500 outside the vocabulary" --tokens "$scratch/prompts.txt" --eos 500
python3 -c "print(' '.join(['5'] * 250))" >"$scratch/long.txt"
refused "a prompt longer than the context" "exceed the model's context of 256" --tokens "$scratch/long.txt" \
  --max-tokens 10
refused "a token limit of 0" "max-tokens" --tokens "$scratch/prompts.txt" --max-tokens 0
: >"$scratch/empty.txt"
refused "a file of no prompts" "empty.txt" --tokens "$scratch/empty.txt"
echo "generate test: ok"
