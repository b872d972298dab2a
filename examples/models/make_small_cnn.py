#!/usr/bin/python3
"""Writes seedc's demo model and data into a folder:

  small_cnn.onnx          a small Fashion-MNIST-shaped CNN (random weights, seed 0), batch symbolic:
                          Conv 1->8 3x3 + BatchNorm + ReLU, MaxPool 2, Conv 8->16 3x3 + ReLU,
                          GlobalAveragePool, Flatten, Gemm 16->10, Softmax
  images.npy, labels.npy  the first 8 Fashion-MNIST test images, normalized, [8,1,28,28]
  reference_logits.npy    the same network evaluated in NumPy, to compare with seedc's output

Uses only python3-onnx and python3-numpy (Debian), and the dataset-fashion-mnist package when present.
"""
import gzip
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DATA = "/usr/share/datasets/fashion-mnist"


def images(n):
    path = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        rng = np.random.default_rng(1)
        print("make_small_cnn: Fashion-MNIST not installed; using random images")
        return rng.random((n, 1, 28, 28), dtype=np.float32), np.zeros(n, dtype=np.int64)
    with gzip.open(path) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[: n * 784]
    with gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:n].astype(np.int64)
    x = raw.reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    return (x - 0.2860) / 0.3530, labels


def conv(x, w, b, pad):
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, w.shape[0], h + 2 * pad - k + 1, wd + 2 * pad - k + 1), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i : i + out.shape[2], j : j + out.shape[3]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((8, 1, 3, 3)) * 0.5).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    gamma = (1 + 0.1 * rng.standard_normal(8)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(8)).astype(np.float32)
    mean = (0.1 * rng.standard_normal(8)).astype(np.float32)
    var = (1 + 0.1 * rng.random(8)).astype(np.float32)
    w2 = (rng.standard_normal((16, 8, 3, 3)) * 0.2).astype(np.float32)
    b2 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w3 = (rng.standard_normal((10, 16)) * 0.3).astype(np.float32)
    b3 = (rng.standard_normal(10) * 0.1).astype(np.float32)

    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (gamma, "gamma"), (beta, "beta"), (mean, "mean"), (var, "var"),
              (w2, "w2"), (b2, "b2"), (w3, "w3"), (b3, "b3")]]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn1"], epsilon=1e-5),
        helper.make_node("Relu", ["bn1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="seedc examples")
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "small_cnn.onnx"))

    x, labels = images(8)
    h = conv(x.astype(np.float64), w1, b1, 1)
    h = (h - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) * gamma[None, :, None, None] \
        + beta[None, :, None, None]
    h = np.maximum(h, 0)
    h = h.reshape(8, 8, 14, 2, 14, 2).max(axis=(3, 5))
    h = np.maximum(conv(h, w2, b2, 1), 0)
    g = h.mean(axis=(2, 3))
    logits = g @ w3.T.astype(np.float64) + b3
    np.save(os.path.join(out, "images.npy"), x)
    np.save(os.path.join(out, "labels.npy"), labels)
    np.save(os.path.join(out, "reference_logits.npy"), logits.astype(np.float32))
    print(f"make_small_cnn: wrote {out}/small_cnn.onnx and 8 test images")


if __name__ == "__main__":
    main()
