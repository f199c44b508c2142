#!/usr/bin/env bash
# Installs qsweep's build and test dependencies from Debian's packages.
# Idempotent: a second run installs nothing and takes a second.
# CUDA, cuBLASLt and NCCL are not installed here: they come from /usr/local/cuda.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libabsl-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libsentencepiece-dev libpcre2-dev
  libhdf5-dev hdf5-tools
  openmpi-bin libopenmpi-dev
  python3 python3-numpy python3-h5py
  slurmctld slurmd slurm-client munge
  chromium
  clang libclang-rt-dev libomp-dev  # the sanitizer build and the fuzz targets (tools/sanitize.sh, tools/fuzz.sh)
)
# npm: Debian's package, unless a Node.js with its own npm is installed already
# (NodeSource's nodejs conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The report inlines Vega, Vega-Lite and vega-embed from npm (versions pinned
# in tools/report/package-lock.json).
report=$(cd "$(dirname "$0")/report" && pwd)
if [ ! -f "$report/node_modules/.package-lock.json" ] || [ "$report/package-lock.json" -nt "$report/node_modules/.package-lock.json" ]; then
  echo "setup: installing the report's npm packages"
  (cd "$report" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "setup: dependencies present"
