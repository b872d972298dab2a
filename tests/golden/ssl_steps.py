#!/usr/bin/python3
"""Golden data for seedc's self-supervised steps: three training steps of MoCo-v2 and of SEED in
PyTorch (torch 1.13, CPU, float32) on the tiny network of tests/golden/ssl_golden.sd — conv(4, 3x3,
stride 2, no bias) + BatchNorm + ReLU, conv(8, 3x3, stride 2) + ReLU, global average pool, and the
projection head Linear(8, 16) + BatchNorm1d + ReLU + Linear(16, 8) — batch 8, queue 16, D 8.

Both methods follow their reference code (facebookresearch/moco builder.py, the SEED paper's code):
  MoCo-v2: q = normalize(head(enc_q(view 0))); the key encoder's parameters k = m k + (1 - m) q
           (m = 0.99) BEFORE the keys; k = normalize(head(enc_k(view 1))) in train mode, no grad;
           logits [q.k, q queue^T] / 0.2 against 0; then enqueue k.
  SEED:    s = normalize(head(student(x))), t = normalize(teacher(x)) (the frozen teacher below,
           exported to ONNX: data/ssl_seed_teacher.onnx, output 'embedding'); student logits
           [s.t, s Q^T] / 0.2, p = softmax([t.t, t Q^T] / 0.01), loss = -mean sum p log_softmax;
           then enqueue t.
SGD lr 0.1, momentum 0.9, weight decay 5e-4 on tensors of rank >= 2 only (seedc's default
exclusion of biases and normalization parameters). The key encoder starts as a copy of the query
encoder, the queue as normalized random vectors.

Writes to tests/golden/data/:
  ssl_images.npy              u8 [3, 2, 8, 1, 28, 28]: step, view, image (normalized by both
                              sides as (x / 255 - 0.2860) / 0.3530 in float32)
  ssl_{moco,seed}_names.txt   "seedc-name numel" per line: the layout of the two flat files
  ssl_{moco,seed}_init.npy    f32: every parameter, BN statistic and the queue before step 1
  ssl_{moco,seed}_final.npy   f32: the same after step 3
  ssl_{moco,seed}_loss.npy    f32 [3]: the loss of each step
  ssl_seed_teacher.onnx       the SEED teacher
Run: /usr/bin/python3 tests/golden/ssl_steps.py [--out DIR]
"""
import argparse
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

B, K, D = 8, 16, 8
STEPS = 3
LR, MOMENTUM, WD = 0.1, 0.9, 5e-4
MEAN, STD = 0.2860, 0.3530


class Tiny(nn.Module):
    """The backbone: names as seedc gives them (conv1, bn1, conv2)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Tiny()
        self.head = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, D))

    def forward(self, x):
        return self.head(self.backbone(x))


def seedc_names(net, prefix):
    """(seedc name, tensor) for every parameter and BN running statistic of net."""
    out = []
    for name, t in list(net.named_parameters()) + list(net.named_buffers()):
        if name.endswith("num_batches_tracked"):
            continue
        name = name.replace("backbone.", "")
        out.append((prefix + name, t))
    return out


def optimizer(net):
    decay = [p for p in net.parameters() if p.dim() > 1]
    rest = [p for p in net.parameters() if p.dim() <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}],
                           lr=LR, momentum=MOMENTUM)


def flat(pairs):
    return np.concatenate([t.detach().numpy().astype(np.float32).reshape(-1) for _, t in pairs])


def write_layout(path, pairs):
    with open(path, "w") as f:
        for name, t in pairs:
            f.write("%s %d\n" % (name, t.numel()))


def normalized(images):
    x = images.astype(np.float32) / np.float32(255)
    return torch.from_numpy((x - np.float32(MEAN)) / np.float32(STD))


def unit_queue(seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(K, D, generator=g), dim=1)


def moco(images, out):
    torch.manual_seed(1)
    q_net = Net()
    k_net = copy.deepcopy(q_net)
    for p in k_net.parameters():
        p.requires_grad = False
    queue, ptr = unit_queue(2), 0
    opt = optimizer(q_net)
    pairs = lambda: seedc_names(q_net, "student/") + seedc_names(k_net, "student_key/") + [("moco/queue", queue)]
    write_layout(os.path.join(out, "ssl_moco_names.txt"), pairs())
    init = flat(pairs())
    losses = []
    q_net.train(), k_net.train()
    for step in range(STEPS):
        xq, xk = normalized(images[step, 0]), normalized(images[step, 1])
        q = F.normalize(q_net(xq), dim=1)
        with torch.no_grad():
            for pq, pk in zip(q_net.parameters(), k_net.parameters()):
                pk.data = pk.data * 0.99 + pq.data * (1.0 - 0.99)
            k = F.normalize(k_net(xk), dim=1)
        l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        l_neg = torch.einsum("nc,kc->nk", [q, queue.clone().detach()])
        logits = torch.cat([l_pos, l_neg], dim=1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(B, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            queue[ptr:ptr + B] = k
            ptr = (ptr + B) % K
        losses.append(loss.item())
    np.save(os.path.join(out, "ssl_moco_init.npy"), init)
    np.save(os.path.join(out, "ssl_moco_final.npy"), flat(pairs()))
    np.save(os.path.join(out, "ssl_moco_loss.npy"), np.array(losses, dtype=np.float32))
    return losses


class Teacher(nn.Module):
    """The frozen SEED teacher: conv + BN + ReLU, pool, Linear, L2 normalization."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, D)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return F.normalize(self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)), dim=1)


def seed(images, out):
    torch.manual_seed(3)
    teacher = Teacher()
    with torch.no_grad():
        teacher.bn.running_mean.uniform_(-0.2, 0.2)
        teacher.bn.running_var.uniform_(0.5, 1.5)
        teacher.bn.weight.uniform_(0.5, 1.5)
        teacher.bn.bias.uniform_(-0.2, 0.2)
    teacher.eval()
    torch.onnx.export(teacher, torch.zeros(B, 1, 28, 28), os.path.join(out, "ssl_seed_teacher.onnx"),
                      input_names=["image"], output_names=["embedding"], opset_version=13,
                      dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}})
    torch.manual_seed(4)
    student = Net()
    queue, ptr = unit_queue(5), 0
    opt = optimizer(student)
    pairs = lambda: seedc_names(student, "student/") + [("seed/queue", queue)]
    write_layout(os.path.join(out, "ssl_seed_names.txt"), pairs())
    init = flat(pairs())
    losses = []
    student.train()
    for step in range(STEPS):
        x = normalized(images[step, 0])
        s = F.normalize(student(x), dim=1)
        with torch.no_grad():
            t = F.normalize(teacher(x), dim=1)
        q = queue.clone().detach()
        logit_s = torch.cat([torch.einsum("nc,nc->n", [s, t]).unsqueeze(-1), torch.einsum("nc,kc->nk", [s, q])], 1)
        logit_t = torch.cat([torch.einsum("nc,nc->n", [t, t]).unsqueeze(-1), torch.einsum("nc,kc->nk", [t, q])], 1)
        logit_s = logit_s / 0.2
        p_t = F.softmax(logit_t / 0.01, dim=1)
        loss = -torch.sum(F.log_softmax(logit_s, dim=1) * p_t, dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            queue[ptr:ptr + B] = t
            ptr = (ptr + B) % K
        losses.append(loss.item())
    np.save(os.path.join(out, "ssl_seed_init.npy"), init)
    np.save(os.path.join(out, "ssl_seed_final.npy"), flat(pairs()))
    np.save(os.path.join(out, "ssl_seed_loss.npy"), np.array(losses, dtype=np.float32))
    return losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(STEPS, 2, B, 1, 28, 28), dtype=np.uint8)
    np.save(os.path.join(args.out, "ssl_images.npy"), images)
    print("moco losses", moco(images, args.out))
    print("seed losses", seed(images, args.out))


if __name__ == "__main__":
    main()
