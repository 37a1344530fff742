#!/bin/sh
# Set up, build and run the softsgx demo.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec ./build/softsgx demo "$@"
