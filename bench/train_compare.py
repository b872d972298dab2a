#!/usr/bin/python3
"""seedc and PyTorch TRAINING steps side by side (issue 4's target: a training step of the
Fashion-MNIST ResNet-18-style teacher, widths 32-64-128-256, and of the ResNet-10-style student,
widths 16-32-64-128, batch 256, in at most 0.7x PyTorch's CPU step time with the same threads, and
with a peak memory no larger than PyTorch's).

What one step is, on both sides: forward, softmax cross entropy, backward, and an SGD update with
momentum 0.9 and weight decay 5e-4 (not on biases nor BatchNorm parameters, seedc's default
`exclude`), BatchNorm in training mode, on a [256, 1, 28, 28] batch of Fashion-MNIST images with
its labels. The networks are examples/models/resnet10.sd and resnet18.sd (3x3 stride-1 stem, no
max-pool, BasicBlocks, GAP, Linear to 10 classes), rebuilt layer for layer in PyTorch below (the
parameter counts are checked against `seedc check`).

seedc: a temporary recipe (method supervised, no augmentation, no evaluation, no checkpoints but
the final one) is run by `seedc train RECIPE --epochs 1 --steps N --images 256*N --no-eval
--threads T`. Its log.csv has a row after every step when N < 10 (after every N/10 steps
otherwise) whose images_per_s is the rate since the training loop started (after compilation and
data loading), so step k ended at k * 256 / images_per_s seconds; the differences between rows are
the step times. The first --warmup steps are dropped; the rest are pooled over the rounds and their
median is reported. Compilation (and everything else before the first step) is the "start s"
column.

PyTorch: a child process (this file with --torch-worker) builds the same network, sets
torch.set_num_threads(T), takes one batch of the same training images, runs --warmup steps
(zero_grad, forward, loss, backward, optimizer.step), then times N - warmup steps the same way;
the median is reported. Both sides thus time the same number of steps per round, and the rounds
alternate (seedc, PyTorch, seedc, PyTorch, ...) so machine noise hits both alike.

Memory: the peak RSS of each process during its training steps. When the warm-up steps are done
the high-water mark is reset (writing 5 to /proc/PID/clear_refs: by this script for seedc when the
row of step `warmup` appears in log.csv, by the worker itself for PyTorch), and ru_maxrss of the
child, from os.wait4 at its exit, is the peak from there on: the steady state of training, not
seedc's compilation nor `import torch`. Both processes hold the 47 MB uint8 training set (seedc's
loader does; the worker loads it too, so that the columns compare the same things). The mark
before the reset (compilation or imports included) is the "process MB" column. This parent
imports neither torch nor numpy: ru_maxrss also counts the parent's RSS at the fork, kept small.

    bench/train_compare.py [--models resnet10,resnet18] [--threads 1,2] [--rounds 3] [--steps 10] [--warmup 2]
    bench/train_compare.py --results          # also append the table to bench/RESULTS.md
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCH = 256
DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530

# name: (DSL model file, depths, widths); the DSL models' defaults: 1 input channel, 28x28, stem "small"
MODELS = {
    "resnet10": ("resnet10.sd", [1, 1, 1, 1], [16, 32, 64, 128]),
    "resnet18": ("resnet18.sd", [2, 2, 2, 2], [32, 64, 128, 256]),
}


# ----------------------------------------------------------------------------------------------
# PyTorch worker (a child process: its own peak memory, its own threads)

def torch_net(depths, widths, classes=10, in_channels=1):
    import torch.nn as nn

    class Basic(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.downsample = None
            if stride != 1 or cin != width:
                self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.downsample is not None:
                x = self.downsample(x)
            return self.relu(x + y)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)  # stem "small"
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            cin, stages = widths[0], []
            for i, (d, w) in enumerate(zip(depths, widths)):
                blocks = []
                for j in range(d):
                    blocks.append(Basic(cin, w, 2 if i > 0 and j == 0 else 1))
                    cin = w
                stages.append(nn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet()


def load_images():
    """Fashion-MNIST's training images (uint8 [60000, 28, 28], every page touched) and labels, or
    None when the data set is not installed."""
    import gzip

    import numpy as np
    try:
        with gzip.open(os.path.join(DATA, "train-images-idx3-ubyte.gz")) as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).copy()
        with gzip.open(os.path.join(DATA, "train-labels-idx1-ubyte.gz")) as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8).copy()
    except OSError:
        return None
    return images, labels


def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def torch_worker(model, threads, steps, warmup):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    _, depths, widths = MODELS[model]
    net = torch_net(depths, widths)
    net.train()
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]  # conv and linear weights
    rest = [p for n, p in net.named_parameters() if p.ndim <= 1]  # biases, BatchNorm scales and shifts
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
                          lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = load_images()
    if data is not None:
        x = (torch.from_numpy(data[0][:BATCH].astype("float32")).div_(255).sub_(MEAN).div_(STD)).unsqueeze(1)
        y = torch.from_numpy(data[1][:BATCH].astype("int64"))
    else:
        x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    before = hwm_kb()
    try:
        with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark: peak of the steps from here
            f.write("5")
        reset = True
    except OSError:
        reset = False
    times = []
    for _ in range(steps - warmup):
        t = time.perf_counter()
        loss = step()
        times.append(1e3 * (time.perf_counter() - t))
    print(json.dumps({"times_ms": times, "hwm_before_kb": before, "hwm_kb": hwm_kb(), "reset": reset,
                      "loss": float(loss), "params": sum(p.numel() for p in net.parameters()),
                      "torch": torch.__version__, "data": data is not None}), flush=True)


# ----------------------------------------------------------------------------------------------
# the two sides, from the parent

def recipe_text(model, recipe_dir):
    file, depths, widths = MODELS[model]
    models_dir = os.path.relpath(os.path.join(ROOT, "examples", "models"), recipe_dir)
    return f"""# written by bench/train_compare.py: one training step of {model}, batch {BATCH}, as timed against PyTorch
import "{models_dir}/{file}"

experiment train_bench {{
    seed = 0
    epochs = 1
    batch_size = {BATCH}
    data {{ dataset = "fashion-mnist" }}
    network student {{
        model = {model}(classes = 10, widths = [{", ".join(map(str, widths))}], stem = "small", in_channels = 1, size = 28)
    }}
    method supervised {{ label_smoothing = 0.0 }}
    optimizer sgd {{ lr = 0.01; momentum = 0.9; weight_decay = 5e-4 }}
    eval {{ accuracy = false; knn = false }}
    checkpoint {{ every_epoch = false; keep = 1 }}
}}
"""


def read_status_kb(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def csv_rows(path):
    """(step, seconds since the training loop started) for every row of seedc's log.csv."""
    rows = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return rows
    if not lines:
        return rows
    head = lines[0].split(",")
    i_step, i_rate = head.index("step"), head.index("images_per_s")
    for line in lines[1:]:
        v = line.split(",")
        if len(v) != len(head) or not v[i_rate]:
            continue  # a row being written
        rate = float(v[i_rate])
        if rate > 0:
            rows.append((int(v[i_step]), int(v[i_step]) * BATCH / rate))
    return rows


def run_seedc(seedc, model, threads, steps, warmup, work, extra=()):
    """One `seedc train` run: per-step times in ms (after the warm-up), the start time (launch to the
    first step), the peak RSS of the steps and of the whole process, in MB. extra: more options."""
    out = tempfile.mkdtemp(prefix="run-", dir=work)
    recipe = os.path.join(work, f"{model}.sd")
    log = os.path.join(out, "log.csv")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    cmd = [seedc, "train", recipe, "--epochs", "1", "--steps", str(steps), "--images", str(BATCH * steps),
           "--no-eval", "--threads", str(threads), "--out", out, *extra]
    with open(os.path.join(out, "stdout.txt"), "w") as so, open(os.path.join(out, "stderr.txt"), "w") as se:
        t_launch = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=so, stderr=se, env=env)
    # poll log.csv until the warm-up steps are done, then reset the high-water mark and wait without
    # polling (the timed steps share the machine with nothing of this script)
    t_first, hwm_before, reset, size = None, None, False, -1
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        try:
            new_size = os.stat(log).st_size
        except OSError:
            new_size = -1
        if new_size != size:
            size, rows = new_size, csv_rows(log)
            if rows and t_first is None:
                t_first, first_row = time.perf_counter(), rows[0]
            if rows and rows[-1][0] >= warmup:
                hwm_before = read_status_kb(p.pid, "VmHWM:")
                try:
                    with open(f"/proc/{p.pid}/clear_refs", "w") as f:
                        f.write("5")
                    reset = True
                except OSError:
                    reset = False  # not allowed here: no step peak, the process's only
                _, status, ru = os.wait4(p.pid, 0)
                break
        time.sleep(0.002)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = open(os.path.join(out, "stderr.txt")).read()[-2000:] + open(os.path.join(out, "stdout.txt")).read()[-2000:]
        raise RuntimeError(f"seedc train failed ({p.returncode}): {' '.join(cmd)}\n{err}")
    rows = csv_rows(log)
    times = []
    for (k0, e0), (k1, e1) in zip(rows, rows[1:]):
        if k0 >= warmup and k1 > k0:
            times += [1e3 * (e1 - e0) / (k1 - k0)] * (k1 - k0)
    if not times:
        raise RuntimeError(f"seedc: no step after the {warmup} warm-up steps in {log} (rows {rows}): raise --steps")
    start_s = (t_first - t_launch) - first_row[1] if t_first is not None else float("nan")
    peak = ru.ru_maxrss / 1024
    whole = max(peak, (hwm_before or 0) / 1024)
    shutil.rmtree(out, ignore_errors=True)
    return {"times": times, "start_s": start_s, "peak_mb": peak if reset else float("nan"), "process_mb": whole}


def run_torch(model, threads, steps, warmup):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--torch-worker", model, str(threads), str(steps), str(warmup)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    so, se = p.stdout.read(), p.stderr.read()  # small outputs: no pipe fills while the other is read
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"PyTorch worker failed ({p.returncode}): {se.decode()[-2000:]}")
    r = json.loads(so.decode().strip().splitlines()[-1])
    peak = ru.ru_maxrss / 1024
    r.update(times=r["times_ms"], peak_mb=peak if r["reset"] else float("nan"),
             process_mb=max(peak, r["hwm_before_kb"] / 1024))
    return r


def seedc_params(seedc, model, work):
    """The student's parameter count from `seedc check`, or None."""
    r = subprocess.run([seedc, "check", os.path.join(work, f"{model}.sd")], capture_output=True, text=True)
    m = re.search(r"([\d,]+) parameters", r.stdout)
    return int(m.group(1).replace(",", "")) if m else None


def measure(seedc, model, threads, rounds, steps, warmup, work, bf16=False):
    s_times, t_times, s_peak, t_peak, s_whole, t_whole, starts, b_times = [], [], [], [], [], [], [], []
    info = {}
    for _ in range(rounds):
        s = run_seedc(seedc, model, threads, steps, warmup, work)
        s_times += s["times"]
        s_peak.append(s["peak_mb"]), s_whole.append(s["process_mb"]), starts.append(s["start_s"])
        time.sleep(0.2)
        if bf16:
            b_times += run_seedc(seedc, model, threads, steps, warmup, work, ("--precision", "bf16"))["times"]
            time.sleep(0.2)
        t = run_torch(model, threads, steps, warmup)
        t_times += t["times"]
        t_peak.append(t["peak_mb"]), t_whole.append(t["process_mb"])
        info = t
        time.sleep(0.2)
    return {"seedc_ms": statistics.median(s_times), "torch_ms": statistics.median(t_times),
            "bf16_ms": statistics.median(b_times) if b_times else None,
            "seedc_mb": max(s_peak), "torch_mb": max(t_peak), "seedc_proc_mb": max(s_whole),
            "torch_proc_mb": max(t_whole), "start_s": statistics.median(starts), "n_seedc": len(s_times),
            "n_torch": len(t_times), "torch_params": info.get("params"), "torch_version": info.get("torch"),
            "torch_data": info.get("data")}


def machine():
    cpu = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seedc", default=os.path.join(ROOT, "build", "seedc"))
    ap.add_argument("--models", default="resnet10,resnet18")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3, help="seedc and PyTorch runs, alternating (default 3 each)")
    ap.add_argument("--steps", type=int, default=10, help="steps per run, warm-up included (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="first steps of each run not timed (default 2)")
    ap.add_argument("--bf16", action="store_true",
                    help="also time seedc with --precision bf16 in every round (two more columns)")
    ap.add_argument("--results", action="store_true", help="append the table to bench/RESULTS.md")
    ap.add_argument("--results-file", default=os.path.join(HERE, "RESULTS.md"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.warmup < 1 or a.steps < a.warmup + 1:
        ap.error("--warmup must be at least 1 and --steps at least warmup + 1")
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            ap.error(f"unknown model '{m}' (known: {', '.join(MODELS)})")
    if not os.access(a.seedc, os.X_OK):
        ap.error(f"no seedc at {a.seedc} (build it, or --seedc PATH)")
    work = tempfile.mkdtemp(prefix="seedc-train-compare-")
    header = ("| model | threads | seedc ms/step | PyTorch ms/step | seedc/PyTorch | seedc MB | PyTorch MB "
              "| seedc process MB | PyTorch process MB | seedc start s |")
    if a.bf16:
        header += " seedc bf16 ms/step | bf16/fp32 | bf16/PyTorch |"
    n_cols = 13 if a.bf16 else 10
    rows, torch_version = [], "?"
    try:
        for m in models:
            with open(os.path.join(work, f"{m}.sd"), "w") as f:
                f.write(recipe_text(m, work))
        print(header)
        print("|" + "---|" * n_cols, flush=True)
        for m in models:
            sp = seedc_params(a.seedc, m, work)
            for threads in map(int, a.threads.split(",")):
                r = measure(a.seedc, m, threads, a.rounds, a.steps, a.warmup, work, a.bf16)
                torch_version = r["torch_version"] or torch_version
                if sp is not None and r["torch_params"] is not None and sp != r["torch_params"]:
                    print(f"  warning: {m}: seedc has {sp} parameters, the PyTorch network {r['torch_params']}")
                if not r["torch_data"]:
                    print(f"  note: no {DATA}: PyTorch ran on random images")
                row = (f"| {m} | {threads} | {r['seedc_ms']:.1f} | {r['torch_ms']:.1f} | "
                       f"{r['seedc_ms'] / r['torch_ms']:.2f} | {r['seedc_mb']:.0f} | {r['torch_mb']:.0f} | "
                       f"{r['seedc_proc_mb']:.0f} | {r['torch_proc_mb']:.0f} | {r['start_s']:.1f} |")
                if a.bf16:
                    row += (f" {r['bf16_ms']:.1f} | {r['bf16_ms'] / r['seedc_ms']:.2f} | "
                            f"{r['bf16_ms'] / r['torch_ms']:.2f} |")
                print(row, flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    parent_mb = (read_status_kb(os.getpid(), "VmHWM:") or 0) / 1024
    print(f"(steps timed per cell: {a.rounds} x {a.steps - a.warmup} each side; this script's own peak "
          f"{parent_mb:.0f} MB, a floor under the MB columns)")
    if a.results:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        cmd = "bench/train_compare.py " + " ".join(sys.argv[1:])
        with open(a.results_file, "a") as f:
            f.write(f"\n## {datetime.date.today()}: training steps, {a.models} (bench/train_compare.py)\n\n"
                    f"Machine: {machine()}. seedc {rev or '?'}, PyTorch {torch_version}.\n"
                    f"Command: `{cmd}`. One step: forward, cross entropy, backward, SGD (momentum 0.9, weight decay "
                    f"5e-4) on a batch of {BATCH} Fashion-MNIST images. Medians of {a.rounds} x "
                    f"{a.steps - a.warmup} steps per side after {a.warmup} warm-up steps per run, seedc "
                    f"(`seedc train`, from log.csv) and PyTorch (eager) runs alternating. MB: peak RSS during the "
                    f"steps; process MB: the whole process's (seedc's compilation, PyTorch's import included); "
                    f"start s: seedc's launch to its first step (compilation, data loading). "
                    + (f"bf16: `seedc train --precision bf16` (convolutions and matrix products on bf16-rounded "
                       f"operands, sums and weights f32), in every round after the fp32 run. " if a.bf16 else "")
                    + f"\n\n{header}\n|" + "---|" * n_cols + "\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
