#!/usr/bin/env bash
# Inputs that are FIFOs (or directories) are refused at once with one error
# naming the file; none may block the open until something writes to it.
# usage: fifo_inputs_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -uo pipefail
qsweep=$1 src=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fail=0
# expect NAME PATTERN COMMAND...: exits non-zero within 30 s, stderr matching PATTERN.
expect() {
  local name=$1 pattern=$2
  shift 2
  timeout 30 "$@" >/dev/null 2>"$scratch/$name.err"
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "FAIL: $name: exit $rc (0: accepted, 124/137: hung)"; fail=1
  elif ! grep -q -- "$pattern" "$scratch/$name.err"; then
    echo "FAIL: $name: no '$pattern' in: $(head -c 400 "$scratch/$name.err")"; fail=1
  else
    echo "ok: $name: $(grep -m1 -- "$pattern" "$scratch/$name.err")"
  fi
}
printf "1 2 3 4\n5 6 7\n" > "$scratch/real_tokens.txt"
mkfifo "$scratch/config.yaml" "$scratch/run.h5" "$scratch/model.safetensors" "$scratch/tokens.txt"
expect config "config.yaml: a FIFO" "$qsweep" run "$scratch/config.yaml" --backend cpu
expect inspect "run.h5: a FIFO" "$qsweep" inspect "$scratch/run.h5"
cp "$src/tests/data/tiny/model/config.json" "$scratch/config.json"
expect checkpoint "model.safetensors: a FIFO" "$qsweep" logprobs "$scratch/model.safetensors" \
  --tokens "$scratch/real_tokens.txt" -o "$scratch/out.h5"
expect tokens "tokens.txt: a FIFO" "$qsweep" logprobs synthetic:tiny --tokens "$scratch/tokens.txt" -o "$scratch/out2.h5"
# A config whose model is a FIFO, next to a real config.
sed -e "s|^model: .*|model: $scratch/model.safetensors|" "$src/configs/demo.yaml" > "$scratch/fifo_model.yaml"
expect config_model "model.safetensors: a FIFO" mpirun -n 1 --oversubscribe "$qsweep" run "$scratch/fifo_model.yaml" \
  -o "$scratch/out"
[ ! -e "$scratch/out.h5" ] && [ ! -e "$scratch/out2.h5" ] || { echo "FAIL: an output was written"; fail=1; }
[ $fail -eq 0 ] && echo "PASS: every FIFO input refused at once"
exit $fail
