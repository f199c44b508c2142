#!/usr/bin/python3
"""Exits non-zero unless two HDF5 files hold the same groups, datasets (same
dtype, shape and bits; NaN equal to NaN) and attributes, except attributes
that describe how the run was made (its layout: `world` and the typed ranks,
replicas, tp, backend, reduction; the creation time) and the measurements
of how fast and in how much memory it ran (a run file's /performance and
generation times, a metrics file's summary columns and attributes of them), so that the data decide, and those named with --ignore (e.g. config_yaml, for runs of configs
that differ in a setting that must not change results).
usage: h5_equal.py A.h5 B.h5 [--ignore ATTR ...]"""
import sys

import h5py
import numpy as np

IGNORED_ATTRS = {"world", "ranks", "replicas", "tp", "backend", "reduction", "created", "run_file",
                 "baseline_run_id", "ttft_ms", "ttft_ms_base", "ms_per_token", "ms_per_token_base"}
IGNORED_MEMBERS = {"performance", "tokens_per_s", "samples_per_s", "weight_gib", "device_gib", "ttft_ms", "decode_ms"}


def members(obj):
    return {k for k in obj.keys() if k not in IGNORED_MEMBERS}


def attrs(obj):
    return {k: v for k, v in obj.attrs.items() if k not in IGNORED_ATTRS}


def compare(a, b, path, errors):
    if members(a) != members(b):
        errors.append(f"{path}: members {sorted(members(a))} vs {sorted(members(b))}")
        return
    ka, kb = attrs(a), attrs(b)
    if ka.keys() != kb.keys() or any(str(ka[k]) != str(kb[k]) for k in ka):
        errors.append(f"{path}: attributes differ")
    for name in sorted(members(a)):
        x, y = a[name], b[name]
        if isinstance(x, h5py.Group):
            compare(x, y, f"{path}{name}/", errors)
            continue
        u, v = x[()], y[()]
        if u.dtype != v.dtype or u.shape != v.shape or u.tobytes() != v.tobytes():
            errors.append(f"{path}{name}: data differ")


def main():
    args = sys.argv[1:]
    while "--ignore" in args:
        i = args.index("--ignore")
        IGNORED_ATTRS.add(args[i + 1])
        del args[i:i + 2]
    with h5py.File(args[0], "r") as a, h5py.File(args[1], "r") as b:
        errors = []
        compare(a, b, "/", errors)
    if errors:
        print("\n".join(errors[:20]))
        sys.exit(1)


if __name__ == "__main__":
    main()
