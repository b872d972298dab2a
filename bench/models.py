#!/usr/bin/python3
"""The benchmark models, built identically for PyTorch and exported to ONNX for seedc and ONNX
Runtime: torchvision's ImageNet networks (random weights, eval mode) and the Fashion-MNIST
networks of the training issues (ResNet-style teacher, widths 32-64-128-256, and student, ResNet-10
widths 16-32-64-128, on 1x28x28)."""
import os

import torch
import torch.nn as nn
import torchvision


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class SmallResNet(nn.Module):
    """The Fashion-MNIST ResNets: 3x3 stride-1 stem, no max-pool, stage strides 1,2,2,2."""

    def __init__(self, blocks, widths, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            for j in range(n):
                layers.append(Block(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


BUILDERS = {
    "resnet18": (lambda: torchvision.models.resnet18(), (3, 224, 224)),
    "resnet50": (lambda: torchvision.models.resnet50(), (3, 224, 224)),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), (3, 224, 224)),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(), (3, 224, 224)),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), (3, 224, 224)),
    "fmnist_teacher": (lambda: SmallResNet([2, 2, 2, 2], [32, 64, 128, 256]), (1, 28, 28)),
    "fmnist_student": (lambda: SmallResNet([1, 1, 1, 1], [16, 32, 64, 128]), (1, 28, 28)),
}


def build(name):
    torch.manual_seed(0)
    make, shape = BUILDERS[name]
    net = make().eval()
    for m in net.modules():  # non-trivial BatchNorm statistics, so folding them is real work
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net, shape


def export(name, folder):
    path = os.path.join(folder, f"{name}.onnx")
    if not os.path.exists(path):
        net, shape = build(name)
        torch.onnx.export(net, torch.randn(1, *shape), path, opset_version=17, input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    return path
