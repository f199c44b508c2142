#!/usr/bin/python3
"""Two sweep folders' run files, the same model computed two ways (GPU and
CPU; two reductions or layouts): per run and task, the choice
log-likelihoods within LIMIT relative L2, and per corpus the token nll
likewise (the norm the HF comparison uses; single values near 0 make an
elementwise ratio meaningless). Prints a line per run and the worst value;
exits non-zero above the limit.
For generative tasks, the share of samples whose greedy continuations are
identical token for token (at least --min-identical, but for runs with a
limit of their own).
usage: close_runs.py DIR_A DIR_B [--limit 1e-2] [--limit-for RUN=LIMIT ...] [--names A/B] [--min-identical 0.9]"""
import argparse
import glob
import os
import sys

import h5py
import numpy as np


def rel_l2(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--limit", type=float, default=1e-2)
    p.add_argument("--limit-for", action="append", default=[], metavar="RUN=LIMIT",
                   help="another limit for one run (repeatable)")
    p.add_argument("--names", default="a/b")
    p.add_argument("--min-identical", type=float, default=0.9,
                   help="the least share of identical greedy continuations per generative task")
    args = p.parse_args()
    limits = {}
    for item in args.limit_for:
        run, _, value = item.partition("=")
        try:
            limits[run] = float(value)
        except ValueError:
            sys.exit(f"--limit-for {item}: not RUN=LIMIT")
    worst = 0.0

    def fail(what):
        sys.exit(f"FAIL: {what}")

    over = []

    def note(r, what, run):
        nonlocal worst
        if not np.isfinite(r):  # max() would drop a NaN
            fail(f"{what}: relative L2 is {r}")
        limit = limits.get(run, args.limit)
        if r > limit:
            over.append(f"{what} {r:.2e} > {limit:g}")
        if run not in limits:
            worst = max(worst, r)

    names = lambda d: sorted(os.path.basename(p)[:-3] for p in glob.glob(f"{d}/runs/*.h5"))
    if not names(args.a):
        fail(f"no run files in {args.a}/runs")
    if names(args.a) != names(args.b):
        fail(f"runs {names(args.a)} in {args.a}, {names(args.b)} in {args.b}")
    for name in names(args.a):
        with h5py.File(f"{args.a}/runs/{name}.h5") as g, h5py.File(f"{args.b}/runs/{name}.h5") as c:
            for group in ("tasks", "ppl"):
                if sorted(g[group]) != sorted(c[group]):
                    fail(f"{name}: {group} {sorted(g[group])} against {sorted(c[group])}")
            line = []
            for task in g["tasks"]:
                a, b = g[f"tasks/{task}/choice_logprob"][()], c[f"tasks/{task}/choice_logprob"][()]
                if a.shape != b.shape or not (np.isnan(a) == np.isnan(b)).all():
                    fail(f"{name} {task}: the choices' padding differs")
                ok = ~np.isnan(b)
                label = c[f"tasks/{task}/label"][()]
                acc = [np.mean(np.argmax(np.where(ok, x, -np.inf), axis=1) == label) for x in (a, b)]
                r = rel_l2(a[ok], b[ok])
                note(r, f"{name} {task}", name)
                line.append(f"{task} {r:.1e} (acc {acc[0]:.3f}/{acc[1]:.3f}, max |d| {np.abs(a[ok] - b[ok]).max():.1e})")
            for corpus in g["ppl"]:
                a, b = g[f"ppl/{corpus}/nll"][()], c[f"ppl/{corpus}/nll"][()]
                r = rel_l2(a, b)
                note(r, f"{name} {corpus}", name)
                line.append(f"{corpus} nll {r:.1e} (PPL {np.exp(a.mean()):.4f}/{np.exp(b.mean()):.4f})")
            # Generative tasks: the greedy continuations token for token. The
            # two ways round differently, so a near tie may part them; most
            # must agree (where a run has no limit of its own).
            for task in (g["generate"] if "generate" in g else []):
                ta, tb = g[f"generate/{task}/tokens"][()], c[f"generate/{task}/tokens"][()]
                same = float(np.mean([(x == y).all() for x, y in zip(ta, tb)]))
                ca, cb = g[f"generate/{task}/correct"][()].mean(), c[f"generate/{task}/correct"][()].mean()
                if name not in limits:
                    if same < args.min_identical:
                        over.append(f"{name} {task}: {same:.1%} identical continuations < {args.min_identical:.0%}")
                line.append(f"{task} identical {same:.1%} (correct {ca:.3f}/{cb:.3f})")
            print(f"{name:>11}: " + "; ".join(line))
    print(f"relative L2 ({args.names} in brackets), worst over runs, tasks and corpora"
          f"{' (but ' + ', '.join(limits) + ')' if limits else ''}: {worst:.2e}")
    if over:
        fail(f"{args.names} differ by more than their limits (relative L2): {'; '.join(over)}")
    others = "".join(f", {run} within {limit:g}" for run, limit in limits.items())
    print(f"PASS: {args.names} within {args.limit:g}{others} (relative L2 of choice log-likelihoods and token nll)")


if __name__ == "__main__":
    main()
