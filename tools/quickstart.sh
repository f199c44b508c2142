#!/usr/bin/env bash
# The main job on the embedded default: the tiny Llama in tests/data/tiny
# (trained by tools/fixtures/train_tiny_model.py) scored on its held-out
# multiple-choice tasks and text, baseline bf16 against six weight-only
# schemes; then the metrics table. Runs of a previous call are kept (a run
# resumes if it was interrupted); delete out/demo to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
build=${QSWEEP_BUILD:-build}
# Open MPI refuses root without these; they change nothing for other users.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$(date +%s)
mpirun -n 1 --oversubscribe "$build/qsweep" run configs/demo.yaml
"$build/qsweep" metrics configs/demo.yaml
page=$("$build/qsweep" report out/demo/metrics.h5 -o out/demo/report)
echo "quickstart: sweep, metrics and report in $(( $(date +%s) - start )) s; files in out/demo (runs/, metrics.h5/.csv/.json)"
echo "report: $page"
