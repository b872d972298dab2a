#!/usr/bin/python3
"""Golden data for whole-model training (tests/api/train_golden.c): three steps of SGD with
Nesterov momentum and weight decay on a ResNet-18-style network and a ViT-Tiny-style block stack,
1x28x28 inputs, in PyTorch.

Run with Debian's python3 (torch 1.13, torchvision 0.14), from anywhere:

    /usr/bin/python3 tests/golden/train_steps.py                 # rewrites tests/golden/data/train_*
    /usr/bin/python3 tests/golden/train_steps.py --out /tmp/g --widths 32,64,128,256
    SEEDC_GOLDEN_TRAIN_DIR=/tmp/g ./build/tests/test_api          # the C test on that data

Models (the DSL models of examples/models/, built here in torch with torchvision's classes, so the
state_dict names are the DSL's parameter names):
  resnet18  resnet18.sd with stem "small", in_channels 1, 10 classes: torchvision's BasicBlock,
            depths 2-2-2-2. The recipes train widths 32-64-128-256 (2.8M parameters); the checked-in
            data uses widths 4-8-16-32 (44,550 parameters) to stay small; --widths picks others.
  vit       vit_tiny.sd(size 28, patch 7, width 32, depth 2, heads 2, mlp_dim 64, classes 10,
            in_channels 1): torchvision's VisionTransformer with a 1-channel conv_proj (19,658).

Nothing random is stored: the initial weights, the batch (8 images, values uniform in [-1.5, 1.5))
and the labels come from a counter-based generator that the C test implements too. Tensor NAME of
n elements gets, for i = 0..n-1 (all arithmetic mod 2^64, then in double, rounded to f32 at the end):

    s = FNV-1a-64(NAME) + (i + 1) * 0x9E3779B97F4A7C15
    z = (s ^ s >> 30) * 0xBF58476D1CE4E5B9;  z = (z ^ z >> 27) * 0x94D049BB133111EB;  z ^= z >> 31
    u = (z >> 11) * 2^-53;                   value = (float)(center + spread * (2u - 1))

with (center, spread) per tensor written in the index (convolution and linear weights uniform with
the std of He or LeCun initialization, norm scales 1 +- 0.2, shifts and biases +- 0.2 or +- 0.1,
BatchNorm running statistics 0 and 1 exactly). Labels: floor(10 u) of the labels stream.

The batch is the first of the streams "images"/"labels", "images.1"/"labels.1", ... whose ReLU
inputs all stay at least 5e-6 (relative to their tensor's RMS, over the 3 steps, in f64) away from
0: an element closer than f32 noise (about 1e-6) may land on either side of the kink in an f32
implementation, and a flipped ReLU moves a whole element of the gradient (about 1e-3 of the tensor
at these sizes), a true difference of the two computations that says nothing about either. Wide
networks have too many ReLU inputs to keep such a margin: the script says so, and the C test can
fail on such data for that reason alone (it prints the margin).

The reference runs in float64 (the initial values are the f32 ones): the golden values are the
exact answer up to f64 rounding, so the C test's tolerance measures seedc's f32 error alone. The
script also runs torch in float32 and prints how far that lands from the f64 answer, for scale.

Optimizer: the recipe's `optimizer sgd { lr = 0.1; momentum = 0.9; nesterov = true;
weight_decay = 5e-4 }` with the default exclusions (parameters of rank <= 1 get no weight decay),
i.e. torch.optim.SGD with two parameter groups. train() mode: BatchNorm normalizes with the batch
statistics and moves its running statistics (momentum 0.1, unbiased variance).

Files per model M (tests/golden/data/):
  train_M.sd         the recipe the C test compiles (read as examples/train_M.sd: imports models/*.sd)
  train_M.txt        settings and the tensor index: name, kind, center, spread, offsets, shape
  train_M_loss.npy   f32 [3]: the loss of each step (before its update)
  train_M_grad.npy   f32, flat: d loss / d parameter at step 1, for the tensors with a grad offset
  train_M_final.npy  f32, flat: every parameter and running statistic after the 3 steps
The checked-in ResNet data leaves out the step-1 gradients of layer4.1.conv1 and layer4.1.conv2
(18,432 values; layer4.0.conv2 has the same shape and is stored) to keep all files under 500 KB;
their parameters after 3 steps are stored and compared like every other. --all-grads keeps them.
"""
import argparse
import copy
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock
from torchvision.models.vision_transformer import VisionTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 3
BATCH = 8
LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
CLASSES = 10
GRAD_SKIP = ("layer4.1.conv1.weight", "layer4.1.conv2.weight")
MIN_RELU_MARGIN = 5e-6  # seedc's and torch's f32 activations are within about 1e-6 (relative) of f64


# ---- the generator (mirrored in tests/api/train_golden.c) ----
def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def uniform01(name, n):
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        s = np.uint64(fnv1a64(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (s ^ (s >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def generate(name, shape, center, spread):
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform01(name, n)
    return (center + spread * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


# ---- the models ----
class SmallResNet18(nn.Module):
    """resnet18.sd with stem "small": torchvision's ResNet with a 3x3 stride-1 stem and no max-pool."""

    def __init__(self, widths, classes=CLASSES, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for j in range(2):
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


VIT = dict(size=28, patch=7, width=32, depth=2, heads=2, mlp_dim=64)


def small_vit():
    v = VisionTransformer(image_size=VIT["size"], patch_size=VIT["patch"], num_layers=VIT["depth"],
                          num_heads=VIT["heads"], hidden_dim=VIT["width"], mlp_dim=VIT["mlp_dim"],
                          num_classes=CLASSES)
    v.conv_proj = nn.Conv2d(1, VIT["width"], VIT["patch"], VIT["patch"])
    return v


def recipe(model, widths):
    if model == "resnet18":
        ws = ", ".join(str(w) for w in widths)
        net = ('import "models/resnet18.sd"', f'resnet18(classes = {CLASSES}, widths = [{ws}], '
               f'stem = "small", in_channels = 1, size = 28)')
    else:
        net = ('import "models/vit_tiny.sd"',
               f'vit_tiny(size = {VIT["size"]}, patch = {VIT["patch"]}, width = {VIT["width"]}, '
               f'depth = {VIT["depth"]}, heads = {VIT["heads"]}, mlp_dim = {VIT["mlp_dim"]}, classes = {CLASSES}, '
               f'in_channels = 1)')
    return f"""# Written by tests/golden/train_steps.py: the step tests/api/train_golden.c compiles and compares
# with PyTorch; the test reads it as examples/train_{model}.sd, so imports resolve from examples/.
{net[0]}

experiment train_{model} {{
    seed = 0
    epochs = 1
    batch_size = {BATCH}
    data {{ dataset = "fashion-mnist" }}
    network student {{ model = {net[1]} }}
    method supervised {{}}
    optimizer sgd {{ lr = {LR}; momentum = {MOMENTUM}; nesterov = true; weight_decay = {WEIGHT_DECAY} }}
}}
"""


def init_rule(name, shape, vit):
    """(center, spread) of the uniform initial values of a tensor; spread = sqrt(3) std."""
    last = name.rsplit(".", 1)[-1]
    if last == "running_mean":
        return 0.0, 0.0
    if last == "running_var":
        return 1.0, 0.0
    is_norm = ".bn" in "." + name or "downsample.1" in name or ".ln" in "." + name or name.startswith("ln")
    if len(shape) <= 1:
        if is_norm and last == "weight":
            return 1.0, 0.2
        return 0.0, 0.2 if is_norm else 0.1
    if last in ("class_token", "pos_embedding"):
        return 0.0, 0.1
    fan_in = int(np.prod(shape[1:]))
    gain = 2.0 if (len(shape) == 4 and not vit) else 1.0  # He for the ReLU convolutions, LeCun otherwise
    return 0.0, math.sqrt(3.0 * gain / fan_in)


# ---- bf16 products (seedc train --precision bf16) ----
def round_bf16(t):
    """Nearest bf16 (ties to even) of every element, kept in t's dtype."""
    return t.to(torch.float32).to(torch.bfloat16).to(t.dtype)


class _Bf16Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        xr, wr = round_bf16(x), round_bf16(w)
        ctx.save_for_backward(xr, wr)
        ctx.args = (stride, padding, dilation, groups)
        return _F_CONV2D(xr, wr, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        xr, wr = ctx.saved_tensors
        gr = round_bf16(g)
        s, p, d, gs = ctx.args
        dx = torch.nn.grad.conv2d_input(xr.shape, wr, gr, s, p, d, gs)
        dw = torch.nn.grad.conv2d_weight(xr, wr.shape, gr, s, p, d, gs)
        return dx, dw, g.sum((0, 2, 3)), None, None, None, None


class _Bf16Matmul(torch.autograd.Function):
    """a @ b over the last two axes (batched alike)"""
    @staticmethod
    def forward(ctx, a, b):
        ar, br = round_bf16(a), round_bf16(b)
        ctx.save_for_backward(ar, br)
        return torch.matmul(ar, br)

    @staticmethod
    def backward(ctx, g):
        ar, br = ctx.saved_tensors
        gr = round_bf16(g)
        da, db = torch.matmul(gr, br.transpose(-1, -2)), torch.matmul(ar.transpose(-1, -2), gr)
        if db.dim() > br.dim():  # a weight shared by a batch of rows
            db = db.reshape(-1, *br.shape).sum(0)
        return da, db


_F_CONV2D, _F_LINEAR, _BMM, _BADDBMM = F.conv2d, F.linear, torch.bmm, torch.baddbmm


def _conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    if b is None:
        b = torch.zeros(w.shape[0], dtype=w.dtype)
    return _Bf16Conv.apply(x, w, b, stride, padding, dilation, groups)


def _linear(x, w, b=None):
    y = _Bf16Matmul.apply(x, w.t())
    return y if b is None else y + b


def _baddbmm(c, a, b, beta=1, alpha=1):
    return beta * c + alpha * _Bf16Matmul.apply(a, b)


class bf16_products:
    """Within it, every convolution and matrix product that the networks here use multiplies
    operands rounded to bf16 (forward: input and weight; backward: the incoming gradient and the
    saved rounded operands), sums in the tensors' own precision: what seedc's --precision bf16 does,
    everything else (normalization, softmax, the optimizer) unchanged."""
    def __enter__(self):
        F.conv2d, F.linear, torch.bmm, torch.baddbmm = _conv2d, _linear, _Bf16Matmul.apply, _baddbmm

    def __exit__(self, *exc):
        F.conv2d, F.linear, torch.bmm, torch.baddbmm = _F_CONV2D, _F_LINEAR, _BMM, _BADDBMM


def run_torch(net, dtype, init, x, y, margins=None):
    """3 steps; returns losses, step-1 gradients, final state_dict (numpy f64). With `margins` (a
    list), appends min |input| / rms(input) of every ReLU call."""
    net = net.to(dtype)
    if margins is not None:
        def hook(module, inputs):
            a = inputs[0].detach().abs()
            margins.append((a.min() / a.pow(2).mean().sqrt()).item())
        for m in net.modules():
            if isinstance(m, nn.ReLU):
                m.register_forward_pre_hook(hook)
    state = net.state_dict()
    for k, v in init.items():
        state[k] = torch.from_numpy(v).to(dtype)
    net.load_state_dict(state, strict=True)
    net.train()
    decay = [p for p in net.parameters() if p.ndim > 1]
    rest = [p for p in net.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}],
                          lr=LR, momentum=MOMENTUM, nesterov=True)
    xt = torch.from_numpy(x).to(dtype)
    yt = torch.from_numpy(y)
    losses, grads = [], {}
    for step in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(net(xt), yt)
        loss.backward()
        if step == 0:
            grads = {k: p.grad.detach().double().numpy().copy() for k, p in net.named_parameters()}
        opt.step()
        losses.append(loss.item())
    final = {k: v.detach().double().numpy().copy() for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    return np.array(losses), grads, final


def rel(a, b):
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / (nb if nb > 0 else 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--widths", default="4,8,16,32", help="ResNet-18 stage widths")
    ap.add_argument("--models", default="resnet18,vit")
    ap.add_argument("--all-grads", action="store_true", help="store every step-1 gradient")
    ap.add_argument("--tries", type=int, default=64, help="batches to try for the ReLU margin")
    a = ap.parse_args()
    widths = [int(w) for w in a.widths.split(",")]
    os.makedirs(a.out, exist_ok=True)
    total = 0
    for model in a.models.split(","):
        vit = model == "vit"
        torch.manual_seed(0)  # only the module constructors draw; every value is then replaced
        net = small_vit() if vit else SmallResNet18(widths)
        names = [(k, tuple(v.shape)) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]
        params = dict(net.named_parameters())
        rules = {k: init_rule(k, s, vit) for k, s in names}
        init = {k: generate(k, s, *rules[k]) for k, s in names}
        # A ReLU input within f32 rounding of 0 (relative to its tensor) can take either side in
        # an f32 implementation and move that element's gradient wholesale: the first batch whose
        # ReLU inputs all keep a margin above f32 noise, over the 3 steps, is the golden batch.
        for attempt in range(a.tries):
            suffix = f".{attempt}" if attempt else ""
            x = generate("images" + suffix, (BATCH, 1, 28, 28), 0.0, 1.5)
            y = np.floor(uniform01("labels" + suffix, BATCH) * CLASSES).astype(np.int64)
            margins = []
            losses, grads, final = run_torch(copy.deepcopy(net), torch.float64, init, x, y, margins)
            margin = min(margins, default=math.inf)
            if margin >= MIN_RELU_MARGIN:
                break
        else:
            print(f"{model}: no batch of {a.tries} keeps ReLU inputs {MIN_RELU_MARGIN:g} (relative) away from 0; "
                  f"using the last ({margin:.2g}): an f32 implementation may flip a ReLU and miss the tolerance")
        l32, g32, f32 = run_torch(copy.deepcopy(net), torch.float32, init, x, y)

        skip = () if (a.all_grads or model != "resnet18" or widths != [4, 8, 16, 32]) else GRAD_SKIP
        lines = [f"# tests/golden/train_steps.py: {model}" + (f" widths {a.widths}" if not vit else ""),
                 f"batch {BATCH}", f"steps {STEPS}", f"lr {LR!r}", f"classes {CLASSES}",
                 f"images images{suffix}", f"labels labels{suffix}",
                 f"# smallest |ReLU input| / rms over the 3 steps (f64); inf: no ReLU", f"relu_margin {margin!r}",
                 "# tensor NAME param|state CENTER SPREAD GRAD_OFFSET(-1: not stored) FINAL_OFFSET RANK DIMS..."]
        gflat, fflat = [], []
        goff = foff = 0
        for k, s in names:
            n = int(np.prod(s)) if s else 1
            kind = "param" if k in params else "state"
            g = -1
            if kind == "param" and k not in skip:
                g = goff
                gflat.append(grads[k].reshape(-1))
                goff += n
            fflat.append(final[k].reshape(-1))
            c, sp = rules[k]
            lines.append(f"tensor {k} {kind} {c!r} {sp!r} {g} {foff} {len(s)} " + " ".join(str(d) for d in s))
            foff += n
        files = {
            f"train_{model}.sd": recipe(model, widths),
            f"train_{model}.txt": "\n".join(lines) + "\n",
        }
        for fn, text in files.items():
            with open(os.path.join(a.out, fn), "w") as f:
                f.write(text)
        np.save(os.path.join(a.out, f"train_{model}_loss.npy"), losses.astype(np.float32))
        np.save(os.path.join(a.out, f"train_{model}_grad.npy"), np.concatenate(gflat).astype(np.float32))
        np.save(os.path.join(a.out, f"train_{model}_final.npy"), np.concatenate(fflat).astype(np.float32))
        # the same steps with bf16 products (seedc --precision bf16), for the scale of their effect
        with bf16_products():
            lb, gb, fb = run_torch(copy.deepcopy(net), torch.float64, init, x, y)
        size = sum(os.path.getsize(os.path.join(a.out, f"train_{model}{suf}"))
                   for suf in (".sd", ".txt", "_loss.npy", "_grad.npy", "_final.npy"))
        total += size
        n_params = sum(p.numel() for p in params.values())
        # torch f32 against the f64 answer: the scale of an f32 implementation's error
        ge = max(rel(g32[k], grads[k]) for k in grads)
        pe = max(rel(f32[k], final[k]) for k, _ in names if k in params)
        ue = max(rel(f32[k] - init[k], final[k] - init[k]) for k, _ in names if k in params)
        se = max((rel(f32[k], final[k]) for k, _ in names if k not in params), default=0.0)
        le = float(np.max(np.abs(l32 - losses) / np.abs(losses)))
        print(f"{model}: batch 'images{suffix}', ReLU margin {margin:.2g}")
        print(f"{model}: {n_params} parameters, losses {', '.join(f'{v:.6f}' for v in losses)}; {size} bytes; "
              f"torch f32 vs f64: loss {le:.2g}, grads {ge:.2g}, params {pe:.2g}, updates {ue:.2g}, stats {se:.2g}")
        print(f"{model}: bf16 products vs none (both f64): loss {np.max(np.abs(lb - losses) / np.abs(losses)):.2g}, "
              f"grads {max(rel(gb[k], grads[k]) for k in grads):.2g}, "
              f"params {max(rel(fb[k], final[k]) for k, _ in names if k in params):.2g}")
    print(f"{total} bytes in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
