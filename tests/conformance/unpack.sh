#!/bin/sh
# Unpacks the ONNX backend test archives into the build tree once (see ../shared/onnx-tests/README.md).
# Exits 77 (ctest: skipped) when the archives are not where the build expects them.
set -eu
archives=$1
dest=$2
[ -d "$dest/node" ] && [ -d "$dest/light" ] && exit 0
if [ ! -f "$archives/node.tgz" ] || [ ! -f "$archives/models.tgz" ]; then
    echo "ONNX backend tests not found in $archives (node.tgz, models.tgz); configure with -DSEEDC_ONNX_TESTS=DIR" >&2
    exit 77
fi
mkdir -p "$dest"
tar xzf "$archives/node.tgz" -C "$dest"
tar xzf "$archives/models.tgz" -C "$dest"
