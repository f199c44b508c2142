#!/usr/bin/env bash
# `qsweep bench` on the CPU backend with small shapes: each benchmark runs its
# check and the table has one row per benchmark; a bad model is refused.
set -euo pipefail
qsweep=$1
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$qsweep" bench forward --backend cpu --model synthetic:tiny --scheme w4a16-g32 --batch 2 --seq 64 \
      --gemm 96 --warmup 1 --iters 2)
echo "$out"
grep -Eq '^  gemm +bf16 96x96x96 .* ok: 64 outputs' <<<"$out"
grep -Eq '^  forward +2x64 w4a16-g32 .* ok: finite, repeatable' <<<"$out"
[ "$(grep -c '^  ' <<<"$out")" -eq 2 ]
gemm=$("$qsweep" bench gemm --backend cpu --gemm 64 --iters 1)
grep -Eq '^  gemm +bf16 64x64x64 ' <<<"$gemm"
if "$qsweep" bench forward --backend cpu --model synthetic:nope --gemm 0 2>"$err"; then
  echo "an unknown model was accepted"; exit 1
fi
grep -q "nope" "$err"
echo "bench test: ok"
