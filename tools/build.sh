#!/usr/bin/env bash
# Configures and builds qsweep into ${QSWEEP_BUILD:-build}. CUDA is built when
# nvcc is found (override with QSWEEP_CUDA=ON/OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QSWEEP_BUILD:-build}
args=(-S . -B "$build" -DCMAKE_BUILD_TYPE=Release)
[ -n "${QSWEEP_CUDA:-}" ] && args+=(-DQSWEEP_CUDA="$QSWEEP_CUDA")
if [ -z "${QSWEEP_CUDA:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  args+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
cmake "${args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
