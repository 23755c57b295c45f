#!/usr/bin/env bash
# check-benchmarks.sh: the microbenchmarks in Benchmarks/ (package-benchmark)
# as a check.  KernelBenchmarks first runs every C kernel against its scalar
# oracle and stops, naming the kernel, if one disagrees; then times them.
# AllocationBenchmarks' threshold check fails (exit non-zero) if a training
# step or an evaluation of the seed's or the book's networks allocates with
# SwiftNet's own GEMM (Benchmarks/Thresholds/ holds 0 mallocs for each).
# CI runs it; nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"

swift package --disable-sandbox benchmark --no-progress --target KernelBenchmarks --format markdown
swift package --disable-sandbox benchmark thresholds check --no-progress --target AllocationBenchmarks
