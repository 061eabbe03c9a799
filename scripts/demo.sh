#!/usr/bin/env bash
# The main job on the bundled default: sets up the machine (Debian packages, as root), builds
# pkd and runs configs/demo.toml: tokenize the bundled real SST-2 data into HDF5 token shards
# and print a summary. Output: out/demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
build=${BUILD_DIR:-$root/build}
"$build/bin/pkd" tokenize --config configs/demo.toml
echo
"$build/bin/pkd" inspect out/demo/tokens/SST-2/dev
echo
"$build/bin/pkd" inspect out/demo/tokens/SST-2/dev --example 0
