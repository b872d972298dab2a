#!/usr/bin/python3
"""Fits the rational approximation of the logistic function in runtime/kernels/vmath.h
(rt_vsigmoidf): sigmoid(x) = 1/2 + x P(x^2) / Q(x^2) on [-18, 18], P and Q of degree 4 in x^2,
Q(0) = 1. Linearized least squares (P - f Q = f (Q - 1) with f the exact (sigmoid(x) - 1/2) / x)
on Chebyshev nodes, reweighted towards the minimax error of the sigmoid itself. Prints the
coefficients to paste (float32, highest power first, as vmath.h evaluates them) and the largest
error of the fit in exact arithmetic. Usage: scripts/fit_sigmoid.py"""
import numpy as np

BOUND = 18.0  # past it sigmoid is within 1.6e-8 of 0 or 1
NUM, DEN = 5, 4  # coefficients of P; of Q besides its constant 1


def fit(iterations=60):
    k = np.arange(20000)
    x = np.concatenate([BOUND / 2 * (1 - np.cos(np.pi * (k + 0.5) / k.size)), [BOUND]])
    t = (x / BOUND) ** 2  # scaled so that the least-squares matrix stays well conditioned
    f = np.where(x > 0, (1 / (1 + np.exp(-x)) - 0.5) / np.where(x > 0, x, 1), 0.25)
    w = np.ones_like(x)
    best = None
    for it in range(iterations):
        a = np.concatenate([np.stack([t ** i for i in range(NUM)], 1),
                            np.stack([-f * t ** i for i in range(1, DEN + 1)], 1)], 1)
        c, *_ = np.linalg.lstsq(a * w[:, None], f * w, rcond=None)
        p = sum(c[i] * t ** i for i in range(NUM))
        q = 1 + sum(c[NUM + i - 1] * t ** i for i in range(1, DEN + 1))
        err = x * (p / q - f)  # the sigmoid's error
        worst = np.abs(err).max()
        if best is None or worst < best[0]:
            best = (worst, c.copy())
        w = np.abs(x / q) if it == 0 else w * np.sqrt(np.abs(err) / worst + 1e-6)
        w /= w.max()
    return best


def main():
    worst, c = fit()
    p = [c[i] / BOUND ** (2 * i) for i in range(NUM)]  # back to powers of x^2
    q = [1.0] + [c[NUM + i - 1] / BOUND ** (2 * i) for i in range(1, DEN + 1)]
    print("P (x^2 to the 4th first):", ", ".join(repr(np.float32(v)) + "f" for v in reversed(p)))
    print("Q (x^2 to the 4th first):", ", ".join(repr(np.float32(v)) + "f" for v in reversed(q)))
    print(f"largest error of the fit in exact arithmetic: {worst:.3g}")


if __name__ == "__main__":
    main()
