#!/usr/bin/env python3
"""A HellaSwag-shaped multiple-choice task (jsonl) for speed runs: contexts of
30-90 words and 4 endings of 15-40 words, drawn from a text's words. Only its
shape matters (random-weight models score it); the answers are arbitrary.
usage: make_mc_task.py TEXT OUT [--samples N] [--seed S]"""
import argparse
import json
import random

ap = argparse.ArgumentParser()
ap.add_argument("text")
ap.add_argument("out")
ap.add_argument("--samples", type=int, default=2000)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
words = open(a.text, encoding="utf-8").read().split()
if len(words) < 100:
    raise SystemExit(f"{a.text}: too few words ({len(words)}) to draw from")
rng = random.Random(a.seed)
phrase = lambda lo, hi: " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))
with open(a.out, "w", encoding="utf-8") as f:
    for i in range(a.samples):
        f.write(json.dumps({"id": f"mc-{i:05d}", "context": phrase(30, 90),
                            "choices": [" " + phrase(15, 40) for _ in range(4)], "label": rng.randrange(4)}) + "\n")
