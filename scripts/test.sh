#!/usr/bin/env bash
# test.sh: README command two.  Installs what is missing, fetches and
# verifies MNIST (the end-to-end tests train on it), installs the Python that
# checks ONNX exports (onnx and onnxruntime in .venv-onnx, from PyPI), and
# runs the whole test suite, every gradient check and ONNX Runtime check
# included, then the browser tests of `cnn serve`'s pages (scripts/test-browser.sh,
# which installs headless Chromium and Selenium).  When Open MPI's mpirun is
# installed (install-deps.sh installs it), it first builds `cnn` with the
# package trait MPI and keeps it as .build-mpi/cnn, where the mpirun tests
# (MPITrainingTests) find it through SWIFTNET_MPI_CNN; the suite itself is
# the default build, which needs no MPI.
#
# The suite is built and run in release with testing enabled: the package
# sets no optimisation flags of its own (a package with unsafe flags cannot
# be a versioned dependency), and SwiftPM compiles C at -O0 in debug, far too
# slow for the tests that train on MNIST.  -enable-testing keeps the tests'
# `@testable import` working in release.  Release is -O, so the library's
# preconditions are still checked (it has no plain assert()).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/fetch-mnist.sh ${MNIST_SOURCE:+--from "$MNIST_SOURCE"}
export SWIFTNET_MNIST="$PWD/data/mnist.pkl.gz"
SWIFTNET_ONNX_PYTHON="$(scripts/install-onnx-python.sh)"
export SWIFTNET_ONNX_PYTHON SWIFTNET_REQUIRE_ONNX=1
if command -v mpirun >/dev/null && command -v mpicc >/dev/null; then
    # The same Swift flags as the suite's build below (-enable-testing), so
    # that it reuses every dependency built here and builds again only the
    # package's own targets, which the trait changes.  (Without the flag,
    # the suite's build compiled every dependency a second time.)
    swift build -c release --traits MPI --product cnn -Xswiftc -enable-testing
    mkdir -p .build-mpi
    cp .build/release/cnn .build-mpi/cnn
    export SWIFTNET_MPI_CNN="$PWD/.build-mpi/cnn"
fi
swift build -c release --build-tests -Xswiftc -enable-testing
# Every test is XCTest; without this, Swift Testing's empty run would close
# the output with "0 tests passed" after XCTest's real summary.
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
# A filtered run (scripts/test.sh --filter X) is for one test, not the browser's.
if [ $# -eq 0 ]; then scripts/test-browser.sh; fi
