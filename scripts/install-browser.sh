#!/usr/bin/env bash
# install-browser.sh: what the browser tests of `cnn serve`'s page need.
#
# Installs Debian's chromium and chromium-driver when missing (root or
# sudo), and Selenium (and numpy, to read MNIST's pickle) from PyPI into
# .venv-browser (git-ignored), at the versions below unless they are there.  Prints the venv's python on
# stdout.  Exits non-zero, with one line saying what is missing, when it
# cannot install them; scripts/test-browser.sh decides what that means.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-browser
PACKAGES=(selenium==4.27.1 numpy==2.4.6)
PYTHON="$VENV/bin/python"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-browser: need root or sudo to install chromium and chromium-driver" >&2; exit 1; }
        as_root=(sudo)
    fi
    echo "install-browser: installing chromium chromium-driver" >&2
    { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || { echo "install-browser: apt-get could not install chromium and chromium-driver" >&2; exit 1; }
fi

if ! { [ -x "$PYTHON" ] && "$PYTHON" - "${PACKAGES[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (p.split("==") for p in sys.argv[1:])))
PY
}; then
    echo "install-browser: installing ${PACKAGES[*]} into $VENV" >&2
    [ -x "$PYTHON" ] || python3 -m venv "$VENV" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2 \
        || { echo "install-browser: pip could not install ${PACKAGES[*]}" >&2; exit 1; }
fi
echo "$PWD/$PYTHON"
