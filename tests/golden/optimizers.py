#!/usr/bin/python3
"""Golden data for seedc's optimizers (tests/codegen/update.c, tests/passes/optimizer.c).

Run with Debian's python3 (torch 1.13): /usr/bin/python3 tests/golden/optimizers.py
It rewrites the small .npy files under tests/golden/data/ (about 20 KB in all).

1. Kernels: one f32 tensor [5, 7] stepped 4 times with fixed gradients and a varying learning rate
   by torch.optim.SGD (plain; momentum with weight decay; Nesterov), torch.optim.AdamW, and the LARS
   and LAMB references below; opt_<case>.npy holds the parameter after every step [4, 5, 7].
2. The optimizer pass: a linear model pred = x @ W + b with loss 0.5 * sum((pred - y)^2) / N,
   trained 3 steps with W decayed and adapted and b excluded (rank 1), as the seedc pass does by
   default; model_<case>_{w,b,loss}.npy after every step.
3. Schedules: PyTorch's CosineAnnealingLR, MultiStepLR and a LambdaLR warmup + cosine, per epoch.
"""
import math
import os
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class LARS(torch.optim.Optimizer):
    """LARS as the Barlow Twins / VICReg code writes it: the gradient plus weight decay is scaled by
    eta * ||p|| / ||g + wd p|| (1 when a norm is 0), then momentum SGD. Parameters in groups with
    exclude=True get neither weight decay nor the scaling."""

    def __init__(self, params, lr, weight_decay=0.0, momentum=0.9, eta=0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta, exclude=False))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                dp = p.grad
                if not g["exclude"]:
                    dp = dp.add(p, alpha=g["weight_decay"])
                    pn, un = torch.norm(p), torch.norm(dp)
                    one = torch.ones_like(pn)
                    q = torch.where(pn > 0.0, torch.where(un > 0, g["eta"] * pn / un, one), one)
                    dp = dp.mul(q)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(g["momentum"]).add_(dp)
                p.add_(mu, alpha=-g["lr"])


class LAMB(torch.optim.Optimizer):
    """LAMB (You et al.) with Adam's bias correction: u = m^ / (sqrt(v^) + eps) + wd p, written as
    (m / bc1) / (sqrt(v) / sqrt(bc2) + eps) like torch's AdamW; p -= lr * ||p|| / ||u|| * u (ratio 1
    when a norm is 0). Groups with exclude=True take a plain Adam step without weight decay."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, exclude=False))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            b1, b2 = g["betas"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["step"] += 1
                t, m, v, grad = st["step"], st["m"], st["v"], p.grad
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
                denom = (v.sqrt() / math.sqrt(bc2)).add_(g["eps"])
                if g["exclude"]:
                    p.addcdiv_(m, denom, value=-g["lr"] / bc1)
                    continue
                u = (m * (1.0 / bc1)) / denom + g["weight_decay"] * p
                pn, un = torch.norm(p), torch.norm(u)
                trust = (pn / un).item() if pn > 0 and un > 0 else 1.0
                p.add_(u, alpha=-g["lr"] * trust)


def save(name, array, dtype=np.float32):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array, dtype=dtype))


def kernel_goldens():
    rng = np.random.RandomState(1234)
    steps, shape = 4, (5, 7)
    p0 = rng.uniform(-1, 1, shape).astype(np.float32)
    grads = rng.uniform(-1, 1, (steps,) + shape).astype(np.float32)
    lrs = np.array([0.1, 0.05, 0.08, 0.02], dtype=np.float32)
    save("opt_init", p0)
    save("opt_grads", grads)
    save("opt_lr", lrs)
    cases = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=1.0),
        "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=1.0, momentum=0.9, weight_decay=0.05),
        "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=1.0, momentum=0.8, nesterov=True, weight_decay=0.05),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=1.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
        "lars": lambda ps: LARS(ps, lr=1.0, weight_decay=0.01, momentum=0.9, eta=0.05),
        "lamb": lambda ps: LAMB(ps, lr=1.0, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.05),
    }
    for name, make in cases.items():
        p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        opt = make([p])
        out = []
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = float(lrs[s])
            p.grad = torch.from_numpy(grads[s].copy())
            opt.step()
            out.append(p.detach().numpy().copy())
        save("opt_" + name, np.stack(out))


def model_goldens():
    rng = np.random.RandomState(99)
    steps, n, k, m = 3, 8, 5, 3
    x = rng.uniform(-1, 1, (steps, n, k)).astype(np.float32)
    y = rng.uniform(-2, 2, (steps, n, m)).astype(np.float32)
    w0 = rng.uniform(-1, 1, (k, m)).astype(np.float32)
    b0 = rng.uniform(-0.5, 0.5, (m,)).astype(np.float32)
    lrs = np.array([0.2, 0.1, 0.15], dtype=np.float32)
    for name, a in (("model_x", x), ("model_y", y), ("model_w0", w0), ("model_b0", b0), ("model_lr", lrs)):
        save(name, a)

    def groups(w, b, wd, **extra):
        return [dict(params=[w], weight_decay=wd, **extra), dict(params=[b], weight_decay=0.0, **extra)]

    cases = {
        "sgd": (lambda w, b: torch.optim.SGD(groups(w, b, 0.05), lr=1.0, momentum=0.9, nesterov=True), 0.0),
        "adamw": (lambda w, b: torch.optim.AdamW(groups(w, b, 0.05), lr=1.0, betas=(0.9, 0.99), eps=1e-8), 0.0),
        "lars": (lambda w, b: LARS([dict(params=[w], weight_decay=0.01), dict(params=[b], exclude=True)], lr=1.0,
                                   momentum=0.9, eta=0.1), 0.0),
        "lamb": (lambda w, b: LAMB([dict(params=[w], weight_decay=0.05), dict(params=[b], exclude=True)], lr=1.0,
                                   betas=(0.9, 0.999), eps=1e-6), 0.0),
        "sgd_clip": (lambda w, b: torch.optim.SGD(groups(w, b, 0.05), lr=1.0, momentum=0.9), 0.5),
    }
    for name, (make, clip) in cases.items():
        w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
        b = torch.nn.Parameter(torch.from_numpy(b0.copy()))
        opt = make(w, b)
        ws, bs, losses = [], [], []
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = float(lrs[s])
            opt.zero_grad()
            pred = torch.from_numpy(x[s]) @ w + b
            loss = 0.5 * ((pred - torch.from_numpy(y[s])) ** 2).sum() / n
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_([w, b], clip)
            opt.step()
            ws.append(w.detach().numpy().copy())
            bs.append(b.detach().numpy().copy())
            losses.append(loss.item())
        save("model_%s_w" % name, np.stack(ws))
        save("model_%s_b" % name, np.stack(bs))
        save("model_%s_loss" % name, np.array(losses))


def lrs_of(make, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def schedule_goldens():
    lr_sched = torch.optim.lr_scheduler
    save("sched_cosine", lrs_of(lambda o: lr_sched.CosineAnnealingLR(o, T_max=20, eta_min=0.001), 21))
    save("sched_step", lrs_of(lambda o: lr_sched.MultiStepLR(o, milestones=[5, 9, 14], gamma=0.2), 20))

    def warmup_cosine(epoch, warmup=4, total=20):
        if epoch < warmup:
            return epoch / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (total - warmup)))

    save("sched_warmup_cosine", lrs_of(lambda o: lr_sched.LambdaLR(o, warmup_cosine), 21))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    kernel_goldens()
    model_goldens()
    schedule_goldens()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s (%d bytes)" % (OUT, total), file=sys.stderr)


if __name__ == "__main__":
    main()
