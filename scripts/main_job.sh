#!/bin/sh
# seedc's main job until training lands: generate the repository's small Fashion-MNIST CNN as ONNX,
# compile it for this machine, run it on real test images and print outputs and timing.
set -eu
build=${1:-build}
out="$build/demo"
mkdir -p "$out"
/usr/bin/python3 examples/models/make_small_cnn.py "$out"
echo
"$build/seedc" info "$out/small_cnn.onnx" --compiled
echo
"$build/seedc" run "$out/small_cnn.onnx" --batch 8 -i "$out/images.npy" -o "$out/logits.npy"
/usr/bin/python3 - "$out" <<'PY'
import sys, numpy as np
out = sys.argv[1]
logits = np.load(out + "/logits.npy"); ref = np.load(out + "/reference_logits.npy"); labels = np.load(out + "/labels.npy")
classes = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
print("image  label      seedc argmax  max |seedc - numpy|")
for i in range(len(labels)):
    print(f"{i:5d}  {classes[labels[i]]:<10} {classes[int(logits[i].argmax())]:<13} {np.abs(logits[i] - ref[i]).max():.2e}")
print("(random weights: the classes are not meaningful yet; the match with the NumPy reference is)")
PY
