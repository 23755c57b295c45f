#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages SwiftNet links against
# (OpenBLAS, LAPACKE, zlib headers) and Open MPI, which only the MPI build
# (`swift build -c release --traits MPI`) and its tests use, when any is
# missing.  Safe to run again: it does nothing when all are present.
# Needs root, or sudo.
set -euo pipefail

packages=(libopenblas-dev liblapacke-dev zlib1g-dev libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
