#!/usr/bin/env bash
# From nothing to a tested build: dependencies, build, every test through ctest.
# Test data is found through QSWEEP_DATA (default: ../shared/data beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd "${QSWEEP_BUILD:-build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
