#!/usr/bin/python3
"""AOT against JIT on a sample of the ONNX backend tests: every Nth test the conformance list
expects to pass is compiled by `seedc compile --emit=exe`, and the program's outputs must equal,
bit for bit, what `seedc run` (the JIT) computes from the same inputs.

    aot_sample.py SEEDC ROOT LIST [--every 12] [--workdir DIR]

Tests whose shapes depend on input values (a Reshape's target given as an input, Slice bounds...)
cannot be compiled ahead of time without those values; they are counted and skipped.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seedc")
    ap.add_argument("root")
    ap.add_argument("list")
    ap.add_argument("--every", type=int, default=12)
    ap.add_argument("--workdir", default="aot-sample")
    a = ap.parse_args()
    names = [line.split()[1] for line in open(a.list) if line.startswith("pass ")]
    sample = names[:: a.every]
    os.makedirs(a.workdir, exist_ok=True)
    same = bound = 0
    failures = []
    for name in sample:
        test = os.path.join(a.root, name)
        model = os.path.join(test, "model.onnx")
        data = os.path.join(test, "test_data_set_0")
        if not os.path.exists(model):  # the light models: whole networks, checked by the model tests
            continue
        inputs = sorted(glob.glob(data + "/input_*.pb"), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        n_out = len(glob.glob(data + "/output_*.pb"))
        work = os.path.join(a.workdir, name.replace("/", "_"))
        os.makedirs(work, exist_ok=True)
        ins = sum((["-i", p] for p in inputs), [])
        jit = [os.path.join(work, f"jit{k}.pb") for k in range(n_out)]  # .pb: bf16 too
        aot = [os.path.join(work, f"aot{k}.pb") for k in range(n_out)]
        r = run([a.seedc, "run", model, "-q"] + ins + sum((["-o", p] for p in jit), []))
        if r.returncode != 0:
            failures.append(f"{name}: seedc run: {r.stderr.strip()}")
            continue
        prog = os.path.join(work, "prog")
        r = run([a.seedc, "compile", model, "--emit=exe", "-o", prog])
        if r.returncode != 0:
            if "compile time" in r.stderr or "compile-time" in r.stderr or "must be a constant" in r.stderr:
                bound += 1  # needs its inputs' values at compile time
                continue
            failures.append(f"{name}: seedc compile: {r.stderr.strip()}")
            continue
        r = run([prog] + ins + sum((["-o", p] for p in aot), []))
        if r.returncode != 0:
            failures.append(f"{name}: the compiled program: {r.stderr.strip()}")
            continue
        for k in range(n_out):
            if open(jit[k], "rb").read() != open(aot[k], "rb").read():
                failures.append(f"{name}: output {k} differs between JIT and AOT")
                break
        else:
            same += 1
            shutil.rmtree(work)
    print(f"AOT vs JIT: {same} of {len(sample)} sampled tests identical, {bound} need input values at compile "
          f"time, {len(failures)} failed")
    for f in failures:
        print("FAIL", f)
    return 1 if failures or same == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
