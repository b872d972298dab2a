#!/usr/bin/python3
"""Golden gradients for tests/passes/grad_golden.c, from PyTorch (1.13, float64).

The block: Conv2d(4 -> 6, 3x3, stride 2, padding 1, groups 2, bias) -> BatchNorm2d(6) in training
mode -> ReLU -> MaxPool2d(3, stride 2, padding 1) -> AvgPool2d(3, stride 2, padding 1,
ceil_mode=True, count_include_pad=False), and the loss sum(out * g) for a fixed random g.

Inputs are float32 values (what seedc reads); PyTorch computes in float64 from them and the
results are stored as float32. Written to tests/golden/data/conv_bn_*.npy:
  inputs   x, w, b, gamma, beta, g
  forward  out, and the batch statistics BatchNorm's running-statistics update uses: batch_mean,
           batch_var_unbiased (PyTorch's running_var takes the unbiased variance, normalization
           the biased one), running_mean and running_var after the step (momentum 0.1, from 0 and 1)
  grads    dx, dw, db, dgamma, dbeta

Run: /usr/bin/python3 tests/golden/conv_bn_grads.py  (from the repository root)
"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def main():
    rng = np.random.default_rng(20240607)
    f32 = lambda *shape, lo=-1.0, hi=1.0: rng.uniform(lo, hi, size=shape).astype(np.float32)
    arrays = {
        "x": f32(2, 4, 13, 13),
        "w": f32(6, 2, 3, 3, lo=-0.5, hi=0.5),
        "b": f32(6, lo=-0.2, hi=0.2),
        "gamma": f32(6, lo=0.5, hi=1.5),
        "beta": f32(6, lo=-0.5, hi=0.5),
    }
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=True).double()
    bn = torch.nn.BatchNorm2d(6, eps=1e-5, momentum=0.1).double().train()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(arrays["w"]).double())
        conv.bias.copy_(torch.from_numpy(arrays["b"]).double())
        bn.weight.copy_(torch.from_numpy(arrays["gamma"]).double())
        bn.bias.copy_(torch.from_numpy(arrays["beta"]).double())
    x = torch.from_numpy(arrays["x"]).double().requires_grad_(True)
    y1 = conv(x)
    y2 = bn(y1)
    y3 = torch.relu(y2)
    y4 = torch.nn.functional.max_pool2d(y3, 3, stride=2, padding=1)
    out = torch.nn.functional.avg_pool2d(y4, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    arrays["g"] = f32(*out.shape)
    loss = (out * torch.from_numpy(arrays["g"]).double()).sum()
    loss.backward()
    with torch.no_grad():
        arrays["out"] = out.numpy().astype(np.float32)
        arrays["batch_mean"] = y1.mean(dim=(0, 2, 3)).numpy().astype(np.float32)
        arrays["batch_var_unbiased"] = y1.var(dim=(0, 2, 3), unbiased=True).numpy().astype(np.float32)
        arrays["running_mean"] = bn.running_mean.numpy().astype(np.float32)
        arrays["running_var"] = bn.running_var.numpy().astype(np.float32)
    arrays["dx"] = x.grad.numpy().astype(np.float32)
    arrays["dw"] = conv.weight.grad.numpy().astype(np.float32)
    arrays["db"] = conv.bias.grad.numpy().astype(np.float32)
    arrays["dgamma"] = bn.weight.grad.numpy().astype(np.float32)
    arrays["dbeta"] = bn.bias.grad.numpy().astype(np.float32)
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, a in arrays.items():
        path = os.path.join(OUT, "conv_bn_%s.npy" % name)
        np.save(path, np.ascontiguousarray(a))
        total += os.path.getsize(path)
    print("wrote %d files, %d bytes, to %s (out %s)" % (len(arrays), total, OUT, tuple(out.shape)))


if __name__ == "__main__":
    main()
