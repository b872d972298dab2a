#!/bin/sh
# seedc's two set-up commands (see README.md):
#   scripts/bootstrap.sh run    install what is missing, build, and run seedc's main job
#   scripts/bootstrap.sh test   install what is missing, build, and run the whole test suite
# Works on a fresh Debian 12 as root (or with sudo). Builds into ./build (SEEDC_BUILD_DIR to change).
set -eu
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
    run|test) ;;
    *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

packages="build-essential cmake ninja-build pkg-config llvm-19-dev clang-19 libzstd-dev zlib1g-dev libprotobuf-c-dev
protobuf-c-compiler libonnx-dev libopenblas-dev libcriterion-dev dataset-fashion-mnist python3-numpy
python3-onnx python3-torch python3-torchvision gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

build=${SEEDC_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDC_WERROR=ON >/dev/null
cmake --build "$build"

if [ "$mode" = run ]; then
    exec sh scripts/main_job.sh "$build"
fi
cd "$build"
exec ctest --output-on-failure
