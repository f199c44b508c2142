#!/usr/bin/env bash
# The sanitizer build: every CPU library, the unit tests and the fuzz targets
# with AddressSanitizer + UndefinedBehaviorSanitizer (clang), in
# ${QSWEEP_SANITIZE_BUILD:-build-san}; then the unit tests under them.
#   tools/sanitize.sh [ctest args...]     build, then ctest
#   tools/sanitize.sh --build-only
#   tools/sanitize.sh --fuzz-replay       only the fuzz targets, then every seed once (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QSWEEP_SANITIZE_BUILD:-build-san}
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DQSWEEP_CUDA=OFF \
  -DQSWEEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
if [ "${1:-}" = --fuzz-replay ]; then
  cmake --build "$build" -j "$(nproc)" --target sweep_config_fuzz hf_config_fuzz tokenizer_json_fuzz safetensors_fuzz \
    llama2c_fuzz task_import_fuzz hdf5_readers_fuzz journal_fuzz gguf_fuzz packed_int_fuzz
  exec tools/fuzz.sh --replay "$build"
fi
cmake --build "$build" -j "$(nproc)"
[ "${1:-}" = --build-only ] && exit 0
cd "$build"
# MPI's and OpenMP's runtimes are not instrumented and keep what they
# allocate until exit: leaks are checked by the fuzz targets, which use neither.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Limits: the discovered unit tests' (several calibrate a model, 30+ minutes
# each here); the scripted tests scale their own (qsweep_test_timeout).
ctest --output-on-failure -j "$(nproc)" --timeout 10800 "$@"
