#!/usr/bin/python3
"""Recomputes accuracy, flips and answer-level KL from run files with plain
loops (independently of src/metrics) and checks qsweep's metrics JSON; for
generative tasks, each stored continuation's correctness from its text and
the task file's answers (exact match after docs/tasks.md's normalization),
and the flips, identical continuations and token agreement.
usage: recompute_metrics.py BASE.h5 CAND.h5 METRICS.json [TASK=GEN.jsonl ...]"""
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
    check_generations(sys.argv[1], sys.argv[2], metrics, dict(a.split("=", 1) for a in sys.argv[4:]))


def normalize(s):
    s = s.replace(",", "").replace("$", "")
    s = " ".join(s.split())
    s = s.lower()
    return s[:-1] if s.endswith(".") else s


def gen_rows(path):
    with h5py.File(path, "r") as f:
        out = {}
        for name, g in f["generate"].items():
            n, tok, nb, text = g["n_tokens"][()], g["tokens"][()], g["text_bytes"][()], g["text"][()]
            out[name] = [(list(tok[i][: n[i]]), bytes(text[i][: nb[i]]).decode("utf-8"), int(g["correct"][i]))
                         for i in range(len(n))]
        return out


def check_generations(base_path, cand_path, metrics, task_files):
    base, cand = gen_rows(base_path), gen_rows(cand_path)
    for task, path in task_files.items():
        answers = [[normalize(a) for a in json.loads(line)["answers"]] for line in open(path) if line.strip()]
        for rows in (base[task], cand[task]):
            for (_, text, correct), want in zip(rows, answers):
                assert correct == (normalize(text) in want), (task, text, want, correct)
        ci = sum(b[2] and not c[2] for b, c in zip(base[task], cand[task]))
        ic = sum(c[2] and not b[2] for b, c in zip(base[task], cand[task]))
        same = sum(b[0] == c[0] for b, c in zip(base[task], cand[task])) / len(base[task])
        agree = []
        for (bt, _, _), (ct, _, _) in zip(base[task], cand[task]):
            n = max(len(bt), len(ct))
            agree.append(1.0 if n == 0 else sum(i < len(bt) and i < len(ct) and bt[i] == ct[i] for i in range(n)) / n)
        m = metrics["generate"][task]
        assert m["flips"]["correct_to_incorrect"] == ci and m["flips"]["incorrect_to_correct"] == ic, (task, m, ci, ic)
        assert abs(m["identical"] - same) < 1e-12, (task, m["identical"], same)
        assert abs(m["mean_token_agreement"] - sum(agree) / len(agree)) < 1e-12, (task, m, agree)
        print(f"{task} (generated): c->i {ci}, i->c {ic}, identical {same:.4f}, correctness from the text: match")


if __name__ == "__main__":
    main()
