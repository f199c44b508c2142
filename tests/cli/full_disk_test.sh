#!/usr/bin/env bash
# A disk that fills at some moment of a run (a small tmpfs as the output
# folder, in a mount namespace of the test's own, at sizes from below the
# request file to above the whole output): each run ends with exit 0 or 1,
# never a signal; a failure says which file could not be written; every
# file under a final name reads back equal to the run's with room
# (h5_equal.py), no temporary is left, and a journal is kept for the scheme
# that was cut. Given room again, the same folder resumes ("resuming" where
# a journal was kept) and ends with every file equal to the run's with room.
# Skipped (exit 77) where mount namespaces are not allowed.
# usage: full_disk_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -uo pipefail
qsweep=$1 src=$2 scratch=$3
if [ -z "${QSWEEP_FULL_DISK_NS:-}" ]; then
  if ! unshare -rm true 2>/dev/null; then
    echo "SKIP: no mount namespace here (unshare -rm fails), so no tmpfs can be made"; exit 77
  fi
  QSWEEP_FULL_DISK_NS=1 exec unshare -rm bash "$0" "$@"
fi
rm -rf "$scratch" && mkdir -p "$scratch/disk"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
py=/usr/bin/python3
config() {  # config OUTPUT
  sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" -e "s|^output: .*|output: $1|" "$src/tests/data/configs/writes_small.yaml"
}
config "$scratch/ref" >"$scratch/ref.yaml"
config "$scratch/disk/out" >"$scratch/disk.yaml"
"$qsweep" run "$scratch/ref.yaml" >/dev/null 2>"$scratch/ref.log" || { cat "$scratch/ref.log"; exit 1; }
finals=(requests.h5 runs/bf16.h5 runs/w4a16-g128.h5)
total=$(du -sb "$scratch/ref" | cut -f1)
fail=0
bad() { echo "FAIL ($1): $2"; fail=1; }
# Every file under a final name equals the run's with room (but for the
# config text, which names another output folder).
same_as_ref() {
  local f
  for f in "${finals[@]}"; do
    [ -e "$scratch/disk/out/$f" ] || continue
    $py "$src/tests/dist/h5_equal.py" "$scratch/disk/out/$f" "$scratch/ref/$f" --ignore config_yaml >"$scratch/eq.log" 2>&1 ||
      bad "$1" "$f differs from the run with room: $(head -c 300 "$scratch/eq.log")"
  done
}
# One cut: the sweep run on the mounted disk as it is, checked; then given
# room, rerun and checked again.
cut_and_resume() {
  local what=$1 rc errors leftovers journals f
  "$qsweep" run "$scratch/disk.yaml" >/dev/null 2>"$scratch/cut.log"
  rc=$?
  errors=$(grep -c "^qsweep: .*\(write\|writ\|flush\|clos\|space\|full\)" "$scratch/cut.log")
  if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
    bad "$what" "exit $rc: $(tail -c 400 "$scratch/cut.log")"
  elif [ $rc -eq 1 ] && [ "$errors" -lt 1 ]; then
    bad "$what" "exit 1 without an error naming a write: $(tail -c 400 "$scratch/cut.log")"
  fi
  leftovers=$(find "$scratch/disk" -name "*.tmp*" | head -3)
  [ -z "$leftovers" ] || bad "$what" "temporaries left: $leftovers"
  same_as_ref "$what"
  journals=$(find "$scratch/disk/out" -name "*.journal" 2>/dev/null | wc -l)
  # A scheme that began and was cut keeps its journal.
  if [ $rc -ne 0 ] && grep -q "units:" "$scratch/cut.log" && [ "$journals" -eq 0 ]; then
    bad "$what" "a cut scheme left no journal to resume from"
  fi
  echo "$what: exit $rc, $(grep -m1 "^qsweep: .*\(write\|writ\|flush\|clos\|space\|full\)" "$scratch/cut.log" ||
    echo "no error"), final files: $(cd "$scratch/disk/out" 2>/dev/null && ls "${finals[@]}" 2>/dev/null | tr '\n' ' '), journals: $journals"
  mount -o remount,size=$((total * 4 + (1 << 20))) "$scratch/disk"
  "$qsweep" run "$scratch/disk.yaml" >/dev/null 2>"$scratch/resume.log" ||
    bad "$what" "the rerun with room failed: $(tail -c 400 "$scratch/resume.log")"
  [ "$journals" -eq 0 ] || grep -q "resuming" "$scratch/resume.log" ||
    bad "$what" "a journal was kept but the rerun did not resume from it"
  for f in "${finals[@]}"; do [ -e "$scratch/disk/out/$f" ] || bad "$what" "no $f after the rerun"; done
  same_as_ref "$what, rerun"
}
# The first scheme cut: a disk of thousandths of the finished output (the
# peak is larger: a scheme's journal and its run file coexist while the
# file is written).
for permille in 2 30 300 650 800 900 1000 1100 1250 1400 1600; do
  mount -t tmpfs -o size=$((total * permille / 1000 / 4096 * 4096 + 4096)) tmpfs "$scratch/disk" ||
    { echo "SKIP: tmpfs cannot be mounted here"; exit 77; }
  cut_and_resume "first scheme, disk of ${permille}‰ of the output"
  umount "$scratch/disk"
done
# The second scheme cut: the baseline's run file is there, and the disk
# has room for thousandths of what the second scheme writes beyond it.
second=$(du -sb "$scratch/ref/runs/w4a16-g128.h5" | cut -f1)
for permille in 10 300 700 1000 1300 1700 2200; do
  mount -t tmpfs -o size=$((total * 4)) tmpfs "$scratch/disk" || { echo "SKIP: tmpfs cannot be mounted here"; exit 77; }
  "$qsweep" run "$scratch/disk.yaml" --scheme bf16 >/dev/null 2>"$scratch/first.log" ||
    { bad "second scheme" "the baseline alone failed: $(tail -c 300 "$scratch/first.log")"; umount "$scratch/disk"; continue; }
  used=$(du -sb "$scratch/disk" | cut -f1)
  mount -o remount,size=$(((used + second * permille / 1000) / 4096 * 4096 + 4096)) "$scratch/disk"
  cut_and_resume "second scheme, room for ${permille}‰ of its file"
  # Metrics into the same disk once it is full again.
  if [ "$permille" -eq 2200 ]; then
    used=$(du -sb "$scratch/disk" | cut -f1)
    mount -o remount,size=$((used / 4096 * 4096 + 8192)) "$scratch/disk"
    "$qsweep" metrics "$scratch/disk.yaml" -o "$scratch/disk/metrics.h5" >/dev/null 2>"$scratch/metrics.log"
    rc=$?
    [ $rc -eq 1 ] || bad "metrics on a full disk" "exit $rc: $(tail -c 300 "$scratch/metrics.log")"
    [ ! -e "$scratch/disk/metrics.h5" ] && [ -z "$(find "$scratch/disk" -name "*.tmp*")" ] ||
      bad "metrics on a full disk" "an output or temporary was left"
    echo "metrics on a full disk: exit $rc, $(grep -m1 "^qsweep:" "$scratch/metrics.log")"
  fi
  umount "$scratch/disk"
done
[ $fail -eq 0 ] && echo "full disk test: ok"
exit $fail
