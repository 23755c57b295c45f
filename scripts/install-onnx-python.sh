#!/usr/bin/env bash
# install-onnx-python.sh: the Python that checks SwiftNet's ONNX files.
#
# Creates .venv-onnx (git-ignored) and installs onnx, onnxruntime, numpy
# and pillow from PyPI at the versions below, unless they are already
# there.  The ONNX tests (Tests/ONNX, ONNXExportTests) and the README's
# ONNX Runtime example use it; scripts/test.sh runs this first.  Prints
# the venv's python on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-onnx
PACKAGES=(onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 pillow==13.0.0)
PYTHON="$VENV/bin/python"

if [ -x "$PYTHON" ] && "$PYTHON" - "${PACKAGES[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (p.split("==") for p in sys.argv[1:])))
PY
then
    echo "$PWD/$PYTHON"
    exit 0
fi

echo "install-onnx-python: installing ${PACKAGES[*]} into $VENV" >&2
[ -x "$PYTHON" ] || python3 -m venv "$VENV" >&2
"$PYTHON" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
echo "$PWD/$PYTHON"
