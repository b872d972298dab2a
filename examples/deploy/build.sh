#!/bin/sh
# examples/deploy/build.sh — compile a Fashion-MNIST student ahead of time, link it into
# classify.c and run it on the test set (accuracy and per-image latency).
#
#   examples/deploy/build.sh [MODEL] [--target aarch64-linux-gnu] [--out DIR] [--quick] [-- COMPILE-OPTIONS]
#
# MODEL is a classifier taking [N, 1, 28, 28] images: an ONNX file or a seedc checkpoint. Without
# it, the supervised student of examples/supervised_fmnist.sd is used (runs/supervised_fmnist/
# resnet10_fmnist.onnx), trained first for one epoch if it is not there (--quick: 40 steps, for
# tests). With --target aarch64-linux-gnu the program is cross-built and run under qemu-aarch64.
# Options after -- go to seedc compile, e.g. -- --quantize int8 --calib fashion-mnist.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
seedc=${SEEDC:-$root/build/seedc}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
model= target=native out=$root/build/deploy quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --) shift; break ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) model=$1; shift ;;
    esac
done
[ -x "$seedc" ] || { echo "build.sh: no seedc at $seedc (build it first, or set SEEDC)" >&2; exit 1; }
[ -r "$data/t10k-images-idx3-ubyte.gz" ] || { echo "build.sh: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
mkdir -p "$out"

if [ -z "$model" ]; then
    model=$root/runs/supervised_fmnist/resnet10_fmnist.onnx
    if [ "$quick" = 1 ]; then
        model=$out/train/resnet10_fmnist.onnx
        "$seedc" train "$root/examples/supervised_fmnist.sd" --out "$out/train" --epochs 1 --steps 40 --no-eval
    elif [ ! -r "$model" ]; then
        echo "== no trained student yet: training examples/supervised_fmnist.sd for one epoch"
        "$seedc" train "$root/examples/supervised_fmnist.sd" --epochs 1
    fi
fi

echo "== seedc compile $model ($target)"
"$seedc" compile "$model" -o "$out/student" --emit=bundle --gemm=builtin --name student --target "$target" --head "$@"

for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -dc "$data/$f.gz" > "$out/$f"
done

case $target in
aarch64-linux-gnu)
    aarch64-linux-gnu-gcc -O2 -std=c11 -I "$out" "$root/examples/deploy/classify.c" "$out/student.o" -lm -static \
        -o "$out/classify"
    run="qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
*)
    cc -O2 -std=c11 -I "$out" "$root/examples/deploy/classify.c" "$out/student.o" -lm -o "$out/classify"
    run= ;;
esac
echo "== $out/classify ($(wc -c < "$out/classify") bytes)"
$run "$out/classify" "$out/t10k-images-idx3-ubyte" "$out/t10k-labels-idx1-ubyte"
