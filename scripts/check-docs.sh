#!/usr/bin/env bash
# check-docs.sh: builds SwiftNet's DocC documentation and fails on any
# warning (an undocumented parameter, a broken symbol link), so the catalog
# in Sources/SwiftNet/SwiftNet.docc and every public doc comment stay whole.
# Usage: scripts/check-docs.sh   (CI runs it from .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in SwiftNet SwiftNetImages; do
    swift package generate-documentation --target "$target" >"$log" 2>&1 || { cat "$log" >&2; echo "check-docs: $target's documentation does not build" >&2; exit 1; }
    # SwiftPM's notes on a dependency's stray files (swift-distributed-tracing's
    # CMakeLists.txt, under Hummingbird) are not about these docs.
    grep -v "which are unhandled; explicitly declare them" "$log" > "$log.own" || true
    mv "$log.own" "$log"
    if grep -qi "warning:" "$log"; then
        grep -i -A3 "warning:" "$log" >&2
        echo "check-docs: $target's documentation has warnings" >&2
        exit 1
    fi
    echo "check-docs: $target's documentation builds with no warnings" >&2
done
