#!/usr/bin/python3
"""Two seedc binaries on one model, alternating: each round runs `seedc bench --profile=0` with A
and then with B, and the medians over the rounds are printed per kind of node (conv, matmul,
fused_eltwise, ...) and for the latency. Alternating keeps this machine's drift (minutes apart, a
model can run 1.5x slower) out of the difference, which is what commit messages quote as "abop
medians, alternating". Copy the binary before a change (cp build/seedc /tmp/seedc_before), rebuild,
then compare.

usage: bench/abop.py MODEL BATCH ROUNDS THREADS SEEDC_A SEEDC_B [seedc bench options...]
e.g.   bench/abop.py build/bench-models/efficientnet_b0.onnx 1 5 2 /tmp/seedc_before build/seedc
"""
import collections
import statistics
import subprocess
import sys


def run(seedc, model, batch, threads, extra):
    out = subprocess.run([seedc, "bench", model, "--batch", batch, "--threads", threads, "--runs", "40",
                          "--profile=0"] + extra, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{seedc} bench {model} failed: {out.stderr.strip()[:400]}")
    kinds, latency, in_kinds = {}, None, False
    for line in out.stdout.splitlines():
        f = line.split()
        if line.startswith("latency"):
            latency = float(f[2])
        if line.strip() == "by op:":
            in_kinds = True
            continue
        if line.strip().startswith("slowest"):
            in_kinds = False
        if in_kinds and len(f) >= 3 and f[2] == "ms":
            kinds[f[0]] = float(f[1])
    return latency, kinds


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    model, batch, rounds, threads, seedc_a, seedc_b = sys.argv[1:7]
    extra = sys.argv[7:]
    times = [collections.defaultdict(list), collections.defaultdict(list)]  # A, B (maybe the same path)
    latency = [[], []]
    for _ in range(int(rounds)):
        for i, seedc in enumerate((seedc_a, seedc_b)):
            lat, kinds = run(seedc, model, batch, threads, extra)
            latency[i].append(lat)
            for k, v in kinds.items():
                times[i][k].append(v)
    a, b = times
    for k in sorted(a, key=lambda k: -statistics.median(a[k])):
        ma, mb = statistics.median(a[k]), statistics.median(b[k]) if b[k] else 0.0
        print(f"{k:24s} {ma:9.3f} {mb:9.3f} {mb - ma:+.3f} ms")
    print("latency A", sorted(latency[0]))
    print("        B", sorted(latency[1]))


if __name__ == "__main__":
    main()
