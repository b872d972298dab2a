#!/usr/bin/python3
"""Low-precision model test: a model with random weights (seed 0) exported to ONNX with Debian's
python3-torch, run by `seedc run` in f32 and in low precision on the same random inputs; passes
when the output's signal-to-quantization-noise ratio is high enough.

    quantize_models.py SEEDC MODEL [--mode int8|bf16] [--min-sqnr DB] [--batch N] [--workdir DIR]

int8: post-training quantization calibrated on 32 random samples (a folder of .npy files), per-channel
weights (issue 7's target: output SQNR >= 30 dB); bf16: convolutions and matrix products in bf16.
SQNR = 10 log10(sum y^2 / sum (y - y_low)^2) over the logits of `--batch` samples not used for
calibration. Exported files stay in the work folder (under the build tree).
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision


class FmnistCnn(nn.Module):
    """A Fashion-MNIST-sized student: conv-BN-ReLU stem, a residual block, max pooling, a strided
    conv, a depthwise-separable pair, global average pooling and a linear classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                   nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16))
        self.pool = nn.MaxPool2d(2)
        self.down = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU6())
        self.sep = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.ReLU(),
                                 nn.Conv2d(32, 64, 1), nn.BatchNorm2d(64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.block(x))
        x = self.down(self.pool(x))
        x = self.sep(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class SmoothCnn(nn.Module):
    """SiLU and HardSwish after convolutions of each int8 kernel (3x3 through the direct or im2col
    kernel, depthwise, 1x1, strided), as EfficientNet and MobileNetV3 have them, and a
    squeeze-and-excitation block: the quantize pass folds each activation into its convolution as a
    table on the u8 output (six of them, the block's first 1x1 among them) and the block's gate
    into one u8 channel scale."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.Hardswish(),
            nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.SiLU(),
            nn.Conv2d(32, 64, 1), nn.BatchNorm2d(64), nn.Hardswish(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1, groups=64), nn.BatchNorm2d(64), nn.SiLU())
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(64, 16, 1), nn.SiLU(), nn.Conv2d(16, 64, 1),
                                     nn.Sigmoid())
        self.project = nn.Sequential(nn.Conv2d(64, 48, 1), nn.BatchNorm2d(48))
        self.head = nn.Linear(48, 10)

    def forward(self, x):
        x = self.body(x)
        x = self.project(x * self.squeeze(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def randomize_bn(net):
    """Non-trivial BatchNorm statistics, so the folded convolutions are not just the raw weights."""
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return net


MODELS = {
    "fmnist_cnn": (lambda: randomize_bn(FmnistCnn()), (1, 28, 28)),
    "smooth_cnn": (lambda: randomize_bn(SmoothCnn()), (1, 28, 28)),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), (3, 224, 224)),
    "resnet18": (lambda: torchvision.models.resnet18(), (3, 224, 224)),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), (3, 224, 224)),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(), (3, 224, 224)),
}


def sqnr(ref, got):
    ref = ref.astype(np.float64)
    noise = ((ref - got.astype(np.float64)) ** 2).sum()
    return float("inf") if noise == 0 else 10 * np.log10((ref ** 2).sum() / noise)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited with {r.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seedc")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--mode", choices=["int8", "bf16"], default="int8")
    ap.add_argument("--min-sqnr", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--calib-samples", type=int, default=32)
    ap.add_argument("--workdir", default="quant-tests")
    ap.add_argument("--seedc-args", default="", help="extra arguments for seedc run")
    ap.add_argument("--tables", type=int, default=None,
                    help="int8: also require this many activations folded into convolutions as tables")
    ap.add_argument("--channel-scales", type=int, default=None,
                    help="int8: also require this many u8 channel scales (qscale_channels)")
    a = ap.parse_args()

    work = os.path.join(a.workdir, a.model)
    calib = os.path.join(work, "calib")
    os.makedirs(calib, exist_ok=True)
    torch.manual_seed(0)
    make, shape = MODELS[a.model]
    net = make().eval()
    onnx_path = os.path.join(work, f"{a.model}.onnx")
    if not os.path.exists(onnx_path):
        torch.onnx.export(net, torch.randn(1, *shape), onnx_path, opset_version=17, input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    rng = np.random.default_rng(0)
    for i in range(a.calib_samples):
        np.save(os.path.join(calib, f"sample{i:03d}.npy"), rng.standard_normal((1, *shape)).astype(np.float32))
    x = np.random.default_rng(1).standard_normal((a.batch, *shape)).astype(np.float32)
    x_path, y_path, q_path = (os.path.join(work, f) for f in ("x.npy", "y_f32.npy", f"y_{a.mode}.npy"))
    np.save(x_path, x)
    base = [a.seedc, "run", onnx_path, "--batch", str(a.batch), "-i", x_path, "-q"] + a.seedc_args.split()
    run(base + ["-o", y_path])
    if a.mode == "int8":
        run(base + ["-o", q_path, "--quantize", "int8", "--calib", calib, "--calib-samples", str(a.calib_samples),
                    "--per-channel"])
    else:
        run(base + ["-o", q_path, "--precision", "bf16"])
    tables = scales = None
    if a.mode == "int8" and (a.tables is not None or a.channel_scales is not None):
        r = subprocess.run([a.seedc, "ir", onnx_path, "--quantize", "int8", "--calib", calib, "--calib-samples",
                            str(a.calib_samples), "--per-channel"] + a.seedc_args.split(), capture_output=True, text=True)
        ir = r.stdout.splitlines()
        tables = sum(1 for line in ir if "= qconv(" in line and " act=" in line) if a.tables is not None else None
        scales = sum(1 for line in ir if "= qscale_channels(" in line) if a.channel_scales is not None else None
    y, q = np.load(y_path), np.load(q_path)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    f32_err = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-30))
    db = sqnr(y, q)
    agree = float((y.argmax(1) == q.argmax(1)).mean())
    ok = db >= a.min_sqnr and f32_err <= 1e-3 and tables == a.tables and scales == a.channel_scales
    print(f"{'PASS' if ok else 'FAIL'} {a.model} {a.mode}: output SQNR {db:.2f} dB (needs >= {a.min_sqnr:.0f}), "
          f"top-1 agreement {agree:.2f}, f32 vs torch {f32_err:.1e}"
          + (f", activations as tables {tables} (needs {a.tables})" if a.tables is not None else "")
          + (f", u8 channel scales {scales} (needs {a.channel_scales})" if a.channel_scales is not None else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
