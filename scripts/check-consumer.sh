#!/usr/bin/env bash
# check-consumer.sh: builds every package in Examples/ the way a user's
# package would build, depending on SwiftNet by version, and runs
# Examples/SeedTraining, which must print a validation accuracy above 80%.
#
# The checkout is copied into a temporary repository where it is tagged
# 0.2.0 (the real repository is never tagged); what is checked is HEAD plus
# any uncommitted changes to tracked files (untracked files are left out, as
# a clone would leave them out).  Each example is copied to a temporary
# folder and its `.package(url: ".../SwiftNet...", from: ...)` line is pointed
# at `file://<that repository>`, so SwiftPM resolves the version from tags
# exactly as it would from GitHub, unsafe-flag check included.
#
# MNIST comes from $SWIFTNET_MNIST, else $MNIST_SOURCE, else data/mnist.pkl.gz.
# Usage: scripts/check-consumer.sh
set -euo pipefail

readonly version=0.2.0
readonly minimum_accuracy=80

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${SWIFTNET_MNIST:-${MNIST_SOURCE:-$root/data/mnist.pkl.gz}}"

fail() {
    echo "check-consumer: $*" >&2
    exit 1
}

[ -f "$data" ] || fail "no MNIST pickle at $data (run scripts/fetch-mnist.sh, or set SWIFTNET_MNIST)"

work="$(mktemp -d "${TMPDIR:-/tmp}/swiftnet-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The repository's folder must be named SwiftNet: SwiftPM names a package by
# the last part of its URL, and the examples ask for package "SwiftNet".
upstream="$work/SwiftNet"
snapshot="$(git -C "$root" stash create)"  # a commit of the working tree; empty when it is clean
[ -n "$snapshot" ] || snapshot="$(git -C "$root" rev-parse HEAD)"
git init --quiet --bare --initial-branch=main "$upstream"
git -C "$root" push --quiet "$upstream" "$snapshot:refs/heads/main" "$snapshot:refs/tags/$version"
echo "check-consumer: $(git -C "$root" rev-parse --short HEAD) tagged $version in $upstream" >&2

shopt -s nullglob
examples=("$root"/Examples/*/Package.swift)
[ ${#examples[@]} -gt 0 ] || fail "no packages in $root/Examples"
for manifest in "${examples[@]}"; do
    source_dir="$(dirname "$manifest")"
    name="$(basename "$source_dir")"
    copy="$work/examples/$name"
    mkdir -p "$copy"
    tar -C "$source_dir" --exclude=.build --exclude=.swiftpm --exclude=Package.resolved -cf - . | tar -C "$copy" -xf -
    sed -E -i 's#\.package\(url: *"[^"]*/SwiftNet(\.git)?"#.package(url: "file://'"$upstream"'"#' "$copy/Package.swift"
    grep -q "file://$upstream" "$copy/Package.swift" ||
        fail "Examples/$name/Package.swift has no .package(url: \".../SwiftNet\", ...) line to point at the tagged copy"
    echo "check-consumer: building Examples/$name in release against SwiftNet $version" >&2
    swift build -c release --disable-dependency-cache --package-path "$copy" ||
        fail "Examples/$name does not build against SwiftNet $version"
    # Only cnn's server links Hummingbird: a dependent of the libraries must not compile it.
    # (SwiftPM plans every target of the graph, so their .build folders exist; objects must not.)
    if find "$copy/.build/release/" -path '*/Hummingbird*.build/*.o' -o -path '*/NIOCore.build/*.o' | grep -q .; then
        fail "Examples/$name built Hummingbird or swift-nio, which only cnn serve needs"
    fi
done

seed_training="$work/examples/SeedTraining"
[ -d "$seed_training" ] || fail "Examples/SeedTraining is missing"
echo "check-consumer: running SeedTraining on $data" >&2
output="$("$(swift build -c release --package-path "$seed_training" --show-bin-path)/SeedTraining" "$data")" ||
    fail "SeedTraining failed: $output"
echo "$output"
accuracy="$(sed -n 's/^validation accuracy: \([0-9.]*\)%$/\1/p' <<<"$output")"
[ -n "$accuracy" ] || fail "SeedTraining printed no 'validation accuracy: X%' line"
awk -v a="$accuracy" -v m="$minimum_accuracy" 'BEGIN { exit !(a > m) }' ||
    fail "SeedTraining's validation accuracy $accuracy% is not above $minimum_accuracy%"
grep -Eq '\.png: [0-9]+ \([0-9.]+%\)$' <<<"$output" ||
    fail "SeedTraining printed no prediction of a PNG ('<file>.png: <class> (<p>%)')"
echo "check-consumer: SeedTraining reached $accuracy% validation accuracy against SwiftNet $version (above $minimum_accuracy%)"
