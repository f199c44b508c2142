#!/usr/bin/env python3
"""Checks that every #include between qsweep's rooms points down.

The rules are the rooms that CMake declares (cmake/QsweepTargets.cmake,
qsweep_room(); the build writes them to layering_rules.json). For every
source of src/ and kernels/:

- it belongs to exactly one room (the longest room folder that holds it);
- an include of another room's file names a room in its room's ROOMS
  (test files may also name the room's test ROOMS, and tests/ helpers);
- a library file includes no test helper (*_for_test.h, tests/);
- a third-party header (HDF5, MPI, yaml-cpp, ...) is one that the room links,
  PUBLIC or PRIVATE, or that a room it links exposes PUBLIC;
- a header that another room includes does not carry, through the headers of
  its own room, a third-party header its room links PRIVATE;
- every declared room and exception is used, and the rooms form no circle.

Any violation is printed as FILE:LINE: what is wrong, and the exit status is 1,
which fails the build (target qsweep_layering) and ctest (Layering.*).

  check_layering.py --rules build/layering_rules.json [--inject FILE:INCLUDE]

--inject pretends that FILE has one more line, #include INCLUDE (quoted, or
<...> for a system header): the self-test that a violation is caught.
"""
import argparse
import json
import os
import re
import sys

SOURCE = re.compile(r"\.(h|cc|cu|cuh)$")
TEST_FILE = re.compile(r"(_test\.cc|_for_test\.h)$")
HEADER = re.compile(r"\.(h|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# Third-party headers, and the link items (CMake target names, or a library
# path) that bring them. Any other <...> header is the system's or the
# standard library's.
THIRD_PARTY = [
    ("Abseil", r"^absl/", r"^absl::"),
    ("HDF5", r"^(hdf5|H5[A-Za-z]*)\.h$", r"^hdf5::"),
    ("MPI", r"^mpi\.h$", r"^MPI::"),
    ("yaml-cpp", r"^yaml-cpp/", r"^yaml-cpp$"),
    ("nlohmann_json", r"^nlohmann/", r"^nlohmann_json::"),
    ("PCRE2", r"^pcre2\.h$", r"PCRE2$"),
    ("sentencepiece", r"^sentencepiece", r"SENTENCEPIECE$"),
    ("OpenMP", r"^omp\.h$", r"^OpenMP::"),
    ("CLI11", r"^CLI/", r"^CLI11::"),
    ("the CUDA runtime", r"^(cuda|cuda_runtime|cuda_runtime_api|cuda_bf16|cuda_fp16|mma)\.h$|^cooperative_groups",
     r"^CUDA::cudart"),
    ("cuBLAS", r"^cublas", r"^CUDA::cublas"),
    ("NCCL", r"^nccl\.h$", r"nccl"),
    ("GoogleTest", r"^(gtest|gmock)/", r"^GTest::"),
]


def third_party(name):
    for label, header, _ in THIRD_PARTY:
        if re.search(header, name):
            return label
    return None


def provided(links):
    """The third-party packages that a list of link items brings."""
    out = set()
    for item in links:
        for label, _, link in THIRD_PARTY:
            if re.search(link, item):
                out.add(label)
    return out


class Rules:
    def __init__(self, path):
        with open(path) as f:
            data = json.load(f)
        self.root = data["source_dir"]
        self.rooms = data["rooms"]
        for name, r in self.rooms.items():
            r["dir"] = os.path.normpath(r["dir"])
            for key in ("rooms", "public", "private", "test_rooms", "test_links", "exceptions"):
                r.setdefault(key, [])
        self.by_dir = sorted(((r["dir"], n) for n, r in self.rooms.items()), key=lambda x: -len(x[0]))

    def room_of(self, rel):
        for d, name in self.by_dir:
            if rel == d or rel.startswith(d + "/"):
                return name
        return None

    def interface(self, name, seen=None):
        """Third-party packages that linking room `name` brings (PUBLIC, transitively)."""
        seen = set() if seen is None else seen
        if name in seen:
            return set()
        seen.add(name)
        r = self.rooms[name]
        out = provided(r["public"])
        for d in r["rooms"]:
            out |= self.interface(d, seen)
        return out

    def reaches(self, a, b):
        todo, seen = [a], set()
        while todo:
            x = todo.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                todo.extend(self.rooms[x]["rooms"])
        return False

    def circles(self):
        out = []
        for name in self.rooms:
            for d in self.rooms[name]["rooms"]:
                if d in self.rooms and self.reaches(d, name):
                    out.append(f"{name} -> {d}")
        return out


def read_sources(root):
    files = []
    for top in ("src", "kernels"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if SOURCE.search(n):
                    files.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(files)


def includes_of(root, rel, injected):
    out = []
    number = 0
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                out.append((number, m.group(1) == "<", m.group(2)))
    for file, name in injected:
        if file == rel:  # as if it were one more line at the end
            out.append((number + 1, name.startswith("<"), name.strip('<>"')))
    return out


def resolve(root, rel, name):
    """The tree file a quoted include names, as the compiler finds it (src/ and kernels/ are include folders)."""
    for base in (os.path.dirname(rel), "src", "kernels", "tests"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


class Checker:
    def __init__(self, rules, injected):
        self.rules = rules
        self.root = rules.root
        self.files = read_sources(self.root)
        self.incs = {f: includes_of(self.root, f, injected) for f in self.files}
        self.room = {f: rules.room_of(f) for f in self.files}
        self.errors = []
        self.used_rooms = {n: set() for n in rules.rooms}
        self.used_exceptions = set()
        self.n_includes = 0

    def cmake(self, name):
        return os.path.join(self.rules.rooms[name]["dir"], "CMakeLists.txt")

    def header_closure(self, h, seen):
        """Third-party packages that header h pulls in, through the headers of its own room."""
        if h in seen:
            return set()
        seen.add(h)
        out = set()
        for _, system, name in self.incs.get(h, []):
            target = None if system else resolve(self.root, h, name)
            if target is None:
                label = third_party(name)
                if label:
                    out.add(label)
            elif self.room.get(target) == self.room[h]:
                out |= self.header_closure(target, seen)
        return out

    def check_file(self, f):
        r = self.room[f]
        if r is None:
            self.errors.append(f"{f}: in no room (add its folder with qsweep_room())")
            return
        spec = self.rules.rooms[r]
        is_test = bool(TEST_FILE.search(f))
        rooms = spec["rooms"] + (spec["test_rooms"] if is_test else [])
        links = spec["public"] + spec["private"] + (spec["test_links"] if is_test else [])
        visible = provided(links) | ({"GoogleTest"} if is_test else set())
        for d in rooms:
            visible |= self.rules.interface(d)
        for line, system, name in self.incs[f]:
            self.n_includes += 1
            shown = f"<{name}>" if system else f'"{name}"'
            where = f"{f}:{line}: #include {shown}"
            target = None if system else resolve(self.root, f, name)
            if target is None:
                self.check_third_party(f, r, where, name, system, visible)
            elif target.startswith("tests/") or TEST_FILE.search(target):
                if not is_test:
                    self.errors.append(f"{where}: a test helper in library code")
            elif self.room.get(target) not in (None, r):
                self.check_room_include(f, r, where, name, self.room[target], target, set(rooms), is_test)

    def check_third_party(self, f, r, where, name, system, visible):
        label = third_party(name)
        if label is None:
            if not system:
                self.errors.append(f"{where}: no such file in src/, kernels/ or tests/")
        elif label == "the CUDA runtime" and re.search(r"\.(cu|cuh)$", f):
            pass  # nvcc gives every CUDA source its runtime's headers
        elif label not in visible:
            self.errors.append(f"{where}: {r} does not link {label} "
                               f"(only {', '.join(sorted(visible)) or 'nothing third-party'}; see {self.cmake(r)})")

    def check_room_include(self, f, r, where, name, t, target, allowed, is_test):
        spec = self.rules.rooms[r]
        exception = f"{os.path.relpath(f, spec['dir'])} -> {name}"
        if exception in spec["exceptions"]:
            self.used_exceptions.add((r, exception))
            return
        if t not in allowed:
            if self.rules.reaches(t, r):
                how = f"points up: {t} stands above {r} ({t} reaches {r} through its ROOMS)"
            else:
                how = f"points sideways: {t} is not among {r}'s rooms"
            self.errors.append(f"{where}: {how}; {r} may include {', '.join(sorted(allowed)) or 'no other room'}"
                               f" (ROOMS in {self.cmake(r)})")
            return
        if not is_test:
            self.used_rooms[r].add(t)
        leaked = self.header_closure(target, set()) & provided(self.rules.rooms[t]["private"])
        if leaked:
            self.errors.append(f"{where}: that header of {t} includes {', '.join(sorted(leaked))}, which {t} links "
                               f"PRIVATE (make it PUBLIC in {self.cmake(t)}, or keep the header inside {t})")

    def check_declarations(self):
        for c in self.rules.circles():
            self.errors.append(f"rooms form a circle through {c}")
        for name, spec in self.rules.rooms.items():
            for d in spec["rooms"]:
                if d not in self.rules.rooms:
                    self.errors.append(f"{self.cmake(name)}: ROOMS names {d}, which is no room")
                elif d not in self.used_rooms[name]:
                    self.errors.append(f"{self.cmake(name)}: {name} declares room {d} but includes nothing of it: "
                                       "remove it")
            for e in spec["exceptions"]:
                if (name, e) not in self.used_exceptions:
                    self.errors.append(f"{self.cmake(name)}: exception '{e}' is no longer needed: remove it "
                                       "(and its link)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", required=True)
    ap.add_argument("--inject", action="append", default=[], metavar="FILE:INCLUDE")
    args = ap.parse_args()
    checker = Checker(Rules(args.rules), [tuple(x.split(":", 1)) for x in args.inject])
    for f in checker.files:
        checker.check_file(f)
    checker.check_declarations()
    for e in checker.errors:
        print(f"layering: {e}", file=sys.stderr)
    if checker.errors:
        print(f"layering: {len(checker.errors)} violation(s) of the rooms' rules (docs/ARCHITECTURE.md, "
              "Source layout)", file=sys.stderr)
        return 1
    excepted = "".join(f"; excepted: {r}: {e}" for r, e in sorted(checker.used_exceptions))
    print(f"layering: {len(checker.rules.rooms)} rooms, {len(checker.files)} files, {checker.n_includes} includes: "
          f"every include points down{excepted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
