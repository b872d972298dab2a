#!/bin/sh
# seedc's main job: distill the bundled MoCo-v2 teacher (teachers/fmnist-moco) into a ResNet-10
# student with SEED on Fashion-MNIST, evaluate both, and write the student as ONNX and as an AOT
# executable (runs/distill). About 4 minutes on a 2-core machine; `seedc distill --help` for options.
set -eu
build=${1:-build}
exec "$build/seedc" distill
