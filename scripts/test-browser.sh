#!/usr/bin/env bash
# test-browser.sh: `cnn serve`'s page and `cnn train --serve`'s, in a real browser.
#
# Installs headless Chromium, chromium-driver and Selenium
# (scripts/install-browser.sh), trains a small digit model with the release
# `cnn` (2 epochs of one-conv, relu, about 5 seconds), and runs
# Tests/Browser/serve_page_test.py against it.  scripts/test.sh runs this
# after the Swift suite.  If the browser cannot be installed, the tests are
# skipped with one line saying so, except under CI (CI set), where that is
# a failure.  --screenshot PATH keeps the drawing page's screenshot
# (the README's is docs/serve-page.png).
set -euo pipefail
cd "$(dirname "$0")/.."

screenshot=""
if [ "${1:-}" = "--screenshot" ]; then screenshot="$(realpath -m "$2")"; fi
if ! python="$(scripts/install-browser.sh)"; then
    if [ -n "${CI:-}" ]; then
        echo "test-browser: FAILED: the browser tests could not install Chromium or Selenium (see above)" >&2
        exit 1
    fi
    echo "test-browser: SKIPPED the browser tests of cnn serve: Chromium or Selenium could not be installed (see above)" >&2
    exit 0
fi
mnist="${SWIFTNET_MNIST:-$PWD/data/mnist.pkl.gz}"
# The same flags as scripts/test.sh, so that its build is reused rather than redone.
swift build -c release -Xswiftc -enable-testing --product cnn 2>&1 | grep -v "unhandled\|CMakeLists" >&2 || true
cnn="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/cnn"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$cnn" train --data "$mnist" --activation relu --eta 0.03 --lmbda 0.1 --epochs 2 --plain --save "$work/digits.ckpt" \
    | tail -1 | sed 's/^/test-browser: model: /'
"$python" Tests/Browser/serve_page_test.py --cnn "$cnn" --model "$work/digits.ckpt" --data "$mnist" --work "$work" \
    ${screenshot:+--screenshot "$screenshot"}
