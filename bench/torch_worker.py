#!/usr/bin/python3
"""PyTorch (eager, torch.no_grad(); or TorchScript frozen) behind bench/compare.py's line protocol:
prints "ready MS" after loading and warm-up; each line with a count N runs N times and prints the
latencies in ms; "quit" prints "rss MB" and exits.

    torch_worker.py MODEL_SPEC THREADS WARMUP MODE     (MODE: eager or jit)
MODEL_SPEC is the name of a model known to bench/models.py and its batch: resnet18@32."""
import sys
import time

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
import models  # noqa: E402


def main():
    spec, threads, warmup, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    name, batch = spec.split("@")
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    net, shape = models.build(name)
    x = torch.randn(int(batch), *shape)
    with torch.no_grad():
        if mode == "jit":
            net = torch.jit.freeze(torch.jit.trace(net, x))
        for _ in range(warmup):
            net(x)
        print(f"ready {1e3 * (time.perf_counter() - t0):.1f}", flush=True)
        for line in sys.stdin:
            if line.startswith("quit"):
                break
            times = []
            for _ in range(int(line)):
                a = time.perf_counter()
                net(x)
                times.append(f"{1e3 * (time.perf_counter() - a):.4f}")
            print(" ".join(times), flush=True)
    # VmHWM, not ru_maxrss: the latter inherits the forking parent's high-water mark
    hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
    print(f"rss {float(hwm[0]) / 1024:.1f}", flush=True)


if __name__ == "__main__":
    main()
