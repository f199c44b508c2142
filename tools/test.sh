#!/usr/bin/env bash
# From nothing to a tested build: dependencies, build, every test through ctest.
# Test data is found through QSWEEP_DATA (default: ../shared/data beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd "${QSWEEP_BUILD:-build}"
# Tests run two at a time on two cores, each with OpenMP threads: spinning
# waits would steal the cores the other test needs.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
