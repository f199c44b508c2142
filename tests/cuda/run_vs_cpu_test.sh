#!/usr/bin/env bash
# `qsweep run --backend cuda` against `--backend cpu` on the demo sweep (the
# tiny model, bf16 and six schemes): per run and task, the choice
# log-likelihoods within 1e-2 relative L2 of the CPU's, and per corpus the
# token nll likewise (the norm the HF comparison uses; single values near 0
# make an elementwise ratio meaningless). Exits 77 (skipped) without a GPU.
# usage: run_vs_cpu_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then echo "SKIP: no GPU here"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
rm -rf "$scratch" && mkdir -p "$scratch"
for b in cuda cpu; do
  mpirun --bind-to none -n 1 "$qsweep" run "$src/configs/demo.yaml" --backend $b -o "$scratch/$b" \
    2>"$scratch/$b.log" || { cat "$scratch/$b.log"; exit 1; }
done
python3 - "$scratch" <<'PY'
import glob, os, sys
import h5py, numpy as np
root = sys.argv[1]
def rel_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)
worst = 0.0
for path in sorted(glob.glob(f"{root}/cuda/runs/*.h5")):
    name = os.path.basename(path)[:-3]
    with h5py.File(path) as g, h5py.File(f"{root}/cpu/runs/{name}.h5") as c:
        line = []
        for task in g["tasks"]:
            a, b = g[f"tasks/{task}/choice_logprob"][()], c[f"tasks/{task}/choice_logprob"][()]
            assert (np.isnan(a) == np.isnan(b)).all(), f"{name} {task}: padding differs"
            ok = ~np.isnan(b)
            label = c[f"tasks/{task}/label"][()]
            acc = [np.mean(np.argmax(np.where(ok, x, -np.inf), axis=1) == label) for x in (a, b)]
            r = rel_l2(a[ok], b[ok])
            worst = max(worst, r)
            line.append(f"{task} {r:.1e} (acc {acc[0]:.3f}/{acc[1]:.3f}, max |d| {np.abs(a[ok] - b[ok]).max():.1e})")
        for corpus in g["ppl"]:
            a, b = g[f"ppl/{corpus}/nll"][()], c[f"ppl/{corpus}/nll"][()]
            r = rel_l2(a, b)
            worst = max(worst, r)
            line.append(f"{corpus} nll {r:.1e} (PPL {np.exp(a.mean()):.4f}/{np.exp(b.mean()):.4f})")
        print(f"{name:>11}: " + "; ".join(line))
print(f"relative L2, GPU vs CPU (cuda/cpu in brackets), worst over runs, tasks and corpora: {worst:.2e}")
if not worst <= 1e-2:
    sys.exit("FAIL: the GPU run differs from the CPU run by more than 1e-2 (relative L2)")
print("PASS: --backend cuda equals --backend cpu within 1e-2 (relative L2 of choice log-likelihoods and token nll)")
PY
