#!/usr/bin/python3
"""Checks a seedc DSL model against the same network in PyTorch, with the same weights.

tests/frontend/dsl_models.c instantiates a model from examples/models/*.sd, writes every parameter
and running statistic as DIR/<name>.npy (torchvision's state_dict names: the DSL models are
written in torchvision's layout), runs the model through seedc's JIT on DIR/input.npy and writes
DIR/output.npy. This script builds the torchvision network (or, for the small Fashion-MNIST
ResNet-10, the same network from torchvision's BasicBlock), loads those weights with
load_state_dict(strict=True) so that a missing or extra tensor fails, runs it in eval mode on the
same input and compares. Exit 0 when the outputs agree within --tol (max |difference| relative to
max |reference|), 1 otherwise. Nothing is checked in: weights and outputs are made by the test.

usage: dsl_models.py DIR MODEL [--classes N] [--size S] [--tol T]
MODEL: resnet10_fmnist resnet18 mobilenet_v2 mobilenet_v3 efficientnet_b0 vit_tiny
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock


class SmallResNet(nn.Module):
    """torchvision's ResNet with a 3x3 stride-1 stem, no max-pool and free widths (resnet10.sd)."""

    def __init__(self, depths, widths, classes, in_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        for i, (d, w) in enumerate(zip(depths, widths)):
            blocks = []
            for j in range(d):
                stride = 2 if i > 0 and j == 0 else 1
                down = None
                if stride != 1 or inplanes != w:
                    down = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride, bias=False), nn.BatchNorm2d(w))
                blocks.append(BasicBlock(inplanes, w, stride, down))
                inplanes = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build(name, classes, size):
    m = torchvision.models
    if name == "resnet10_fmnist":
        return SmallResNet([1, 1, 1, 1], [16, 32, 64, 128], classes, 1)
    if name == "resnet18":
        return m.resnet18(num_classes=classes)
    if name == "mobilenet_v2":
        return m.mobilenet_v2(num_classes=classes)
    if name == "mobilenet_v3":
        return m.mobilenet_v3_large(num_classes=classes)
    if name == "efficientnet_b0":
        return m.efficientnet_b0(num_classes=classes)
    if name == "vit_tiny":
        from torchvision.models.vision_transformer import VisionTransformer
        return VisionTransformer(image_size=size, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                                 mlp_dim=768, num_classes=classes)
    raise SystemExit(f"unknown model {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("model")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    net = build(a.model, a.classes, a.size)
    want = net.state_dict()
    files = {os.path.basename(p)[:-4]: p for p in glob.glob(os.path.join(a.dir, "*.npy"))}
    files.pop("input", None)
    files.pop("output", None)
    state = {}
    for key, ref in want.items():
        if key.endswith("num_batches_tracked"):
            state[key] = ref
            continue
        if key not in files:
            print(f"seedc wrote no tensor for {key} {tuple(ref.shape)}")
            return 1
        t = torch.from_numpy(np.load(files.pop(key)))
        if t.shape != ref.shape:
            print(f"{key}: seedc has {tuple(t.shape)}, torchvision {tuple(ref.shape)}")
            return 1
        state[key] = t
    if files:
        print(f"seedc wrote tensors torchvision does not have: {sorted(files)[:8]}")
        return 1
    net.load_state_dict(state, strict=True)
    net.eval()
    x = torch.from_numpy(np.load(os.path.join(a.dir, "input.npy")))
    with torch.no_grad():
        ref = net(x).numpy()
    got = np.load(os.path.join(a.dir, "output.npy"))
    if got.shape != ref.shape:
        print(f"output shape: seedc {got.shape}, torch {ref.shape}")
        return 1
    err = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-12))
    print(f"{a.model}: {len(want)} tensors loaded, output {ref.shape}, max relative error {err:.3g} (tolerance {a.tol:g})")
    return 0 if err <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
