#!/usr/bin/python3
"""Recomputes accuracy, flips and answer-level KL from run files with plain
loops (independently of src/metrics) and checks qsweep's metrics JSON.
usage: recompute_metrics.py BASE.h5 CAND.h5 METRICS.json"""
import json
import math
import sys

import h5py


def task_rows(path):
    with h5py.File(path, "r") as f:
        assert f.attrs["complete"] == 1, path
        out = {}
        for name, g in f["tasks"].items():
            lp, n, label = g["choice_logprob"][()], g["n_choices"][()], g["label"][()]
            out[name] = [(list(lp[i][: n[i]]), int(label[i])) for i in range(len(label))]
        return out


def argmax(xs):
    best = 0
    for i, x in enumerate(xs):
        if x > xs[best]:
            best = i
    return best


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [x / s for x in e]


def main():
    base, cand = task_rows(sys.argv[1]), task_rows(sys.argv[2])
    metrics = json.load(open(sys.argv[3]))["candidates"][0]
    for task in base:
        b, c = base[task], cand[task]
        ci = ic = 0
        kl = []
        for (lb, label), (lc, _) in zip(b, c):
            rb, rc = argmax(lb) == label, argmax(lc) == label
            ci += rb and not rc
            ic += rc and not rb
            p, q = softmax(lb), softmax(lc)
            kl.append(sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0))
        m = metrics["tasks"][task]
        assert m["acc"]["flips"]["correct_to_incorrect"] == ci, (task, m["acc"]["flips"], ci)
        assert m["acc"]["flips"]["incorrect_to_correct"] == ic, (task, m["acc"]["flips"], ic)
        acc = sum(argmax(lc) == label for lc, label in c) / len(c)
        assert abs(m["acc"]["accuracy"] - acc) < 1e-12, (task, m["acc"]["accuracy"], acc)
        mean_kl = sum(kl) / len(kl)
        assert abs(m["answer_kl"]["mean"] - mean_kl) <= 1e-9 * max(1.0, mean_kl), (task, m["answer_kl"]["mean"], mean_kl)
        print(f"{task}: c->i {ci}, i->c {ic}, acc {acc:.4f}, mean KL {mean_kl:.6g}: match")


if __name__ == "__main__":
    main()
