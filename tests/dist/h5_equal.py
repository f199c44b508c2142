#!/usr/bin/python3
"""Exits non-zero unless two HDF5 files hold the same groups, datasets (same
dtype, shape and bits; NaN equal to NaN) and attributes, except attributes
that describe how the run was made (world layout, creation time).
With --close RTOL: floating-point data within RTOL (relative, and RTOL
absolute), and integer data (top-k ids, argmax flags) equal in at least 99%
of places, since near-ties may swap: the same model summed in another order."""
import sys

import h5py
import numpy as np

IGNORED_ATTRS = {"world", "created", "run_file"}


def attrs(obj):
    return {k: v for k, v in obj.attrs.items() if k not in IGNORED_ATTRS}


RTOL = None


def same_data(u, v):
    if u.dtype != v.dtype or u.shape != v.shape:
        return False
    if RTOL is None or u.dtype.kind not in "fiub" or u.size == 0:
        return u.tobytes() == v.tobytes()
    if u.dtype.kind == "f":
        x, y = u.astype(np.float64), v.astype(np.float64)
        return bool(np.allclose(x, y, rtol=RTOL, atol=RTOL, equal_nan=True))
    return bool(np.mean(u == v) >= 0.99)


def compare(a, b, path, errors):
    if set(a.keys()) != set(b.keys()):
        errors.append(f"{path}: members {sorted(a.keys())} vs {sorted(b.keys())}")
        return
    ka, kb = attrs(a), attrs(b)
    if ka.keys() != kb.keys() or any(str(ka[k]) != str(kb[k]) for k in ka):
        errors.append(f"{path}: attributes differ")
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, h5py.Group):
            compare(x, y, f"{path}{name}/", errors)
            continue
        u, v = x[()], y[()]
        if not same_data(np.asarray(u), np.asarray(v)):
            errors.append(f"{path}{name}: data differ")


def main():
    global RTOL
    args = sys.argv[1:]
    if args[:1] == ["--close"]:
        RTOL, args = float(args[1]), args[2:]
    with h5py.File(args[0], "r") as a, h5py.File(args[1], "r") as b:
        errors = []
        compare(a, b, "/", errors)
    if errors:
        print("\n".join(errors[:20]))
        sys.exit(1)


if __name__ == "__main__":
    main()
