#!/usr/bin/env bash
# `qsweep bench` on the CPU backend with small shapes: each benchmark runs its
# check and the table has one row per benchmark (the forward once per
# reduction, the fast one checked against the tp-invariant one); a bad model
# or reduction is refused.
set -euo pipefail
qsweep=$1
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$qsweep" bench forward --backend cpu --model synthetic:tiny --scheme w4a16-g32 --batch 2 --seq 64 \
      --gemm 96 --warmup 1 --iters 2)
echo "$out"
grep -Eq '^  gemm +bf16 96x96x96 .* ok: 64 outputs' <<<"$out"
grep -Eq '^  forward +2x64 w4a16-g32 tp_invariant .* ok: finite, repeatable' <<<"$out"
grep -Eq '^  forward +2x64 w4a16-g32 fast .* ok: finite, repeatable, .* mean \|diff\| .* to tp_invariant' <<<"$out"
[ "$(grep -c '^  ' <<<"$out")" -eq 3 ]
one=$("$qsweep" bench forward --backend cpu --model synthetic:tiny --batch 1 --seq 16 --gemm 0 --iters 1 \
      --reduction fast)
[ "$(grep -c '^  forward .* fast ' <<<"$one")" -eq 1 ] && [ "$(grep -c '^  ' <<<"$one")" -eq 1 ]
if "$qsweep" bench forward --backend cpu --model synthetic:tiny --gemm 0 --reduction quick 2>"$err"; then
  echo "an unknown reduction was accepted"; exit 1
fi
gemm=$("$qsweep" bench gemm --backend cpu --gemm 64 --iters 1)
grep -Eq '^  gemm +bf16 64x64x64 ' <<<"$gemm"
# The format table of one Llama layer: per-shape rows (each checked), the
# layer's sum, and the layer as the decoder runs it (its shared products
# checked against each alone).
low=$("$qsweep" bench gemm --backend cpu --formats w8a8,w4a16-g32 --shapes llama:64x16x96 --rows 1,5 --samples 1)
echo "$low"
[ "$(grep -Ec '^  (w8a8|w4a16-g32|bf16) +(q,o|k,v|gate,up|down) ' <<<"$low")" -eq 24 ]
[ "$(grep -Ec '^  (w8a8|w4a16-g32) +layer +[15] ' <<<"$low")" -eq 4 ]
[ "$(grep -Ec '^  (w8a8|w4a16-g32|bf16) +layer, decoder +[15] ' <<<"$low")" -eq 6 ]
for bad in llama:64x16 llama:0x16x96 llama:100000x16x96 llama:64x16x99999999999 llama:64x16x96x; do
  if "$qsweep" bench gemm --backend cpu --formats w8a8 --shapes "$bad" 2>"$err"; then
    echo "a bad layer shape was accepted: $bad"; exit 1
  fi
  grep -q "$bad" "$err"
done
if "$qsweep" bench forward --backend cpu --model synthetic:nope --gemm 0 2>"$err"; then
  echo "an unknown model was accepted"; exit 1
fi
grep -q "nope" "$err"
# bench decode: a row per scheme, batch and context, each checked against
# recomputing the sequences whole.
dec=$("$qsweep" bench decode --backend cpu --model synthetic:tiny --schemes bf16,w4a16-g32 --batches 1,3 \
      --contexts 8,20 --steps 3)
echo "$dec"
[ "$(grep -Ec '^  (bf16|w4a16-g32) +[13] +(8|20) .* first step = recompute [0-9]/[0-9]$' <<<"$dec")" -eq 8 ]
if "$qsweep" bench decode --backend cpu --model synthetic:tiny --schemes w9a16 2>"$err"; then
  echo "an unknown scheme was accepted"; exit 1
fi
grep -q "w9a16" "$err"
echo "bench test: ok"
