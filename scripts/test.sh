#!/usr/bin/env bash
# test.sh: README command two.  Installs what is missing, fetches and
# verifies MNIST (the end-to-end tests train on it), and runs the whole test
# suite.  The C kernels are built -O3 even in this debug build, so the
# training tests stay fast; every gradient check runs here.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/fetch-mnist.sh ${MNIST_SOURCE:+--from "$MNIST_SOURCE"}
export SWIFTNET_MNIST="$PWD/data/mnist.pkl.gz"
swift build --build-tests
# Every test is XCTest; without this, Swift Testing's empty run would close
# the output with "0 tests passed" after XCTest's real summary.
swift test --skip-build --disable-swift-testing "$@"
