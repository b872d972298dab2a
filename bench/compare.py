#!/usr/bin/python3
"""seedc, ONNX Runtime and PyTorch side by side, on the same models, inputs and thread counts, in
one run, interleaved: every framework runs in its own process behind the same line protocol, and
the rounds alternate between them (a short pause between bursts lets spinning threads settle), so
machine noise hits all alike. Prints a table with medians and ratios; --results writes it into
bench/RESULTS.md with the machine, versions and the command.

    bench/setup.sh                      # once: onnxruntime-node into bench/node_modules
    bench/compare.py [--models resnet18,...] [--batches 1,32] [--small-batches 1,256] [--threads 1,2] [--rounds 10] [--per-round 3]
    bench/compare.py --models fmnist_student --small-batches 1 --rounds 1 --per-round 1000   # back to back: steady state
    bench/compare.py --seedc-args "--gemm builtin" --variants "int8:--quantize int8 --calib {calib};bf16:--precision bf16"

--variants adds more seedc workers (NAME:ARGS, ';'-separated) to the same interleaved rounds, with a
column of medians and one of ratios against plain seedc each; {calib} in ARGS becomes a folder of 16
random calibration inputs of the model's shape.

Under the table, a line names each cell where a seedc worker's thread pool fell back to one thread
for a while (its worker was late: another process on the cores), whose times are then partly
1-thread times.
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import models  # noqa: E402

SMALL = {"fmnist_teacher", "fmnist_student"}


class Worker:
    def __init__(self, name, cmd, env=None):
        self.name, self.times = name, []
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"{name} failed to start: {line.strip()} {self.p.stderr.read()[-2000:]}")
        self.load_ms = float(line.split()[1])

    def run(self, n):
        self.p.stdin.write(f"{n}\n")
        self.p.stdin.flush()
        self.times += [float(t) for t in self.p.stdout.readline().split()]

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().split()
        self.rss = float(line[1]) if line[:1] == ["rss"] else float("nan")
        # seedc: how often its thread pool fell back to one thread (another process on the cores)
        self.serial = int(line[3]) if len(line) > 3 and line[2] == "serial" else 0
        self.p.wait(timeout=60)


def calibration_folder(model, shape, onnx_dir):
    import numpy as np
    folder = os.path.join(onnx_dir, f"{model}-calib")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        rng = np.random.default_rng(0)
        for i in range(16):
            np.save(os.path.join(folder, f"{i:02d}.npy"), rng.standard_normal((1,) + tuple(shape)).astype(np.float32))
    return folder


def measure(seedc, model, batch, threads, rounds, per_round, warmup, frameworks, onnx_dir, seedc_args, variants):
    path = models.export(model, onnx_dir)
    _, shape = models.build(model)
    dims = "x".join(str(d) for d in (batch,) + tuple(shape))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    workers = []
    bench = [seedc, "bench", path, "--serve", "--batch", str(batch), "--threads", str(threads), "--warmup", str(warmup)]
    if "seedc" in frameworks:
        workers.append(Worker("seedc", bench + seedc_args, env))
    for name, args in variants:
        if "{calib}" in args:
            args = args.replace("{calib}", calibration_folder(model, shape, onnx_dir))
        workers.append(Worker(name, bench + seedc_args + args.split(), env))
    if "ort" in frameworks:
        workers.append(Worker("ort", ["node", os.path.join(HERE, "ort_worker.js"), path, str(threads), str(warmup),
                                      f"image:{dims}"], env))
    if "torch" in frameworks:
        workers.append(Worker("torch", ["/usr/bin/python3", os.path.join(HERE, "torch_worker.py"), f"{model}@{batch}",
                                        str(threads), str(warmup), "eager"], env))
    if "torch-jit" in frameworks:
        try:
            workers.append(Worker("torch-jit", ["/usr/bin/python3", os.path.join(HERE, "torch_worker.py"),
                                                f"{model}@{batch}", str(threads), str(warmup), "jit"], env))
        except RuntimeError as e:
            print(f"  (torch.jit freeze does not run for {model}: {str(e)[:120]})")
    for _ in range(rounds):
        for w in workers:
            w.run(per_round)
            time.sleep(0.05)
    for w in workers:
        w.close()
    return {w.name: (statistics.median(w.times), w.rss, w.load_ms, w.serial) for w in workers}


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions(seedc):
    import torch
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    ort = subprocess.run(["node", "-e", f"console.log(require('{HERE}/node_modules/onnxruntime-node/package.json').version)"],
                         capture_output=True, text=True).stdout.strip()
    return f"seedc {rev or '?'}, ONNX Runtime {ort or '?'} (onnxruntime-node, CPU), PyTorch {torch.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seedc", default=os.path.join(ROOT, "build", "seedc"))
    ap.add_argument("--models", default=",".join(models.BUILDERS))
    ap.add_argument("--batches", default="1,32", help="batches for the ImageNet models")
    ap.add_argument("--small-batches", default="1,256", help="batches for the 28x28 ones")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--frameworks", default="seedc,ort,torch,torch-jit")
    ap.add_argument("--onnx-dir", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--seedc-args", default="", help="more options for every seedc worker, e.g. '--gemm builtin'")
    ap.add_argument("--variants", default="", help="more seedc workers: 'NAME:ARGS;NAME:ARGS'")
    ap.add_argument("--results", action="store_true", help="write the table into bench/RESULTS.md")
    a = ap.parse_args()
    variants = [tuple(v.split(":", 1)) for v in a.variants.split(";") if v.strip()]
    seedc_args = a.seedc_args.split()
    os.makedirs(a.onnx_dir, exist_ok=True)
    frameworks = a.frameworks.split(",")
    rows, notes = [], []
    header = ("| model | batch | threads | seedc ms | ORT ms | PyTorch ms | PyTorch jit ms | seedc/ORT | seedc/PyTorch "
              "| seedc MB | ORT MB | PyTorch MB | seedc compile s |")
    for name, _ in variants:
        header += f" {name} ms | {name}/seedc |"
    columns = 13 + 2 * len(variants)
    print(header)
    print("|" + "---|" * columns)
    for model in a.models.split(","):
        batches = (a.small_batches if model in SMALL else a.batches).split(",")
        for batch in map(int, batches):
            for threads in map(int, a.threads.split(",")):
                r = measure(a.seedc, model, batch, threads, a.rounds, a.per_round, a.warmup, frameworks, a.onnx_dir,
                            seedc_args, variants)
                get = lambda k, i=0: r[k][i] if k in r else float("nan")  # noqa: E731
                row = (f"| {model} | {batch} | {threads} | {get('seedc'):.3f} | {get('ort'):.3f} | {get('torch'):.3f} | "
                       f"{get('torch-jit'):.3f} | {get('seedc') / get('ort'):.2f} | "
                       f"{get('seedc') / min(get('torch'), get('torch-jit') if 'torch-jit' in r else 1e30):.2f} | "
                       f"{get('seedc', 1):.0f} | {get('ort', 1):.0f} | {get('torch', 1):.0f} | "
                       f"{get('seedc', 2) / 1e3:.2f} |")
                for name, _ in variants:
                    row += f" {get(name):.3f} | {get(name) / get('seedc'):.2f} |"
                print(row, flush=True)
                rows.append(row)
                for name in ["seedc"] + [v for v, _ in variants]:
                    if threads > 1 and name in r and r[name][3] > 0:
                        notes.append(f"{model} at batch {batch} on {threads} threads: {name}'s thread pool fell back to "
                                     f"one thread {r[name][3]} time(s) for a quarter of a second (its worker was late: "
                                     f"another process on the cores), so its times there mix 1-thread runs in")
    for n in notes:
        print(n)
    if a.results:
        cmd = "bench/compare.py " + " ".join(sys.argv[1:])
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write(f"\n## {datetime.date.today()}: {a.models}\n\nMachine: {machine()}. {versions(a.seedc)}.\n"
                    f"Command: `{cmd}`. Medians of {a.rounds} x {a.per_round} interleaved runs after {a.warmup} "
                    f"warm-up runs; memory is each process's peak RSS (ONNX Runtime's includes Node). seedc/PyTorch "
                    f"is against the faster of eager and jit.\n\n{header}\n|" + "---|" * columns + "\n" + "\n".join(rows) + "\n")
            if notes:
                f.write("\n" + "".join(f"- {n}\n" for n in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
