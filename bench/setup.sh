#!/bin/sh
# Installs the benchmark's peers, never needed by seedc itself: ONNX Runtime's CPU build from the
# npm package onnxruntime-node (into bench/node_modules), Node.js from Debian, and Debian's PyTorch.
set -eu
cd "$(dirname "$0")"
need=""
command -v node >/dev/null 2>&1 || need="$need nodejs npm"
/usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null || need="$need python3-torch python3-torchvision python3-onnx"
if [ -n "$need" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
fi
if [ ! -d node_modules/onnxruntime-node ]; then
    # the package's install script only fetches GPU extras: skip it
    ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --ignore-scripts onnxruntime-node@1.30 >/dev/null
fi
node -e "require('./node_modules/onnxruntime-node'); console.log('onnxruntime-node', require('./node_modules/onnxruntime-node/package.json').version)"
