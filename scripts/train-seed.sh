#!/usr/bin/env bash
# train-seed.sh: README command one.  Installs what is missing, fetches and
# verifies MNIST, builds in release and trains the seed's network.  Extra
# arguments go to `cnn train` (for example --net two-conv --epochs 5).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/fetch-mnist.sh ${MNIST_SOURCE:+--from "$MNIST_SOURCE"}
swift build -c release --product cnn
exec .build/release/cnn train --data data/mnist.pkl.gz "$@"
