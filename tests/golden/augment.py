#!/usr/bin/python3
"""tests/golden/augment.py — torchvision 0.14 references for runtime/data/augment.c.

Writes small .npy files into tests/golden/data/ (next to this script), read by
tests/runtime/data_augment.c:
  aug_gray.npy, aug_rgb.npy           the inputs: u8 images [1,28,28] and [3,20,24]
  aug_<case>.npy                      f32 outputs of deterministic operations on u8/255
  aug_crop_fallback.npy               RandomResizedCrop.get_params boxes when every attempt fails
  aug_crop_stats.npy                  means of get_params boxes over 20000 draws per setting
Run: /usr/bin/python3 tests/golden/augment.py   (needs python3-torch, python3-torchvision)
The cases here and the table in the C test must list the same parameters.
"""
import os

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode, RandomResizedCrop

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def images():
    rng = np.random.default_rng(20240601)
    # smooth shapes plus noise, so interpolation and blur errors show
    yy, xx = np.mgrid[0:28, 0:28]
    blob = 200 * np.exp(-((yy - 11) ** 2 + (xx - 16) ** 2) / 40.0)
    gray = np.clip(blob + rng.integers(0, 56, size=(28, 28)), 0, 255).astype(np.uint8)[None]
    rgb = rng.integers(0, 256, size=(3, 20, 24)).astype(np.uint8)
    return gray, rgb


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array))


def main():
    assert torchvision.__version__.startswith("0.14"), torchvision.__version__
    os.makedirs(OUT, exist_ok=True)
    gray_u8, rgb_u8 = images()
    save("aug_gray", gray_u8)
    save("aug_rgb", rgb_u8)
    gray = torch.from_numpy(gray_u8).float().div(255)
    rgb = torch.from_numpy(rgb_u8).float().div(255)
    src = {"gray": gray, "rgb": rgb}

    def out(name, t):
        save("aug_" + name, t.numpy().astype(np.float32))

    bilinear = InterpolationMode.BILINEAR
    # resized crops: (image, top, left, height, width, out_h, out_w)
    crops = [
        ("gray", 3, 5, 17, 20, 28, 28),   # upsample, non-square box
        ("gray", 0, 0, 28, 28, 12, 12),   # downsample whole image (local view size)
        ("gray", 10, 4, 6, 9, 28, 28),    # strong upsample
        ("gray", 2, 3, 20, 15, 16, 20),   # non-square output
        ("gray", 27, 27, 1, 1, 5, 5),     # one pixel
        ("rgb", 1, 2, 15, 19, 28, 28),
        ("rgb", 0, 0, 20, 24, 7, 9),
    ]
    for k, (img, i, j, h, w, oh, ow) in enumerate(crops):
        out(f"crop{k}", F.resized_crop(src[img], i, j, h, w, [oh, ow], bilinear, antialias=False))
    out("hflip_gray", F.hflip(gray))
    out("hflip_rgb", F.hflip(rgb))
    for name, f in [("0p6", 0.6), ("1p4", 1.4)]:
        out("brightness_gray_" + name, F.adjust_brightness(gray, f))
    for name, f in [("0p5", 0.5), ("1p6", 1.6)]:
        out("contrast_gray_" + name, F.adjust_contrast(gray, f))
        out("contrast_rgb_" + name, F.adjust_contrast(rgb, f))
    # blur: (image, kernel, sigma)
    for name, img, k, s in [("k3s0p7", "gray", 3, 0.7), ("k5s1p5", "gray", 5, 1.5),
                            ("k9s2", "gray", 9, 2.0), ("k23s3", "gray", 23, 3.0),
                            ("rgb_k5s1", "rgb", 5, 1.0)]:
        out("blur_" + name, F.gaussian_blur(src[img], [k, k], [s, s]))
    out("solarize_gray", F.solarize(gray, 0.5))
    out("solarize_rgb", F.solarize(rgb, 0.3))
    out("normalize_gray", F.normalize(gray, [0.2860], [0.3530]))
    out("normalize_rgb", F.normalize(rgb, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    # a chain, in the order of the view pipeline
    chain = F.resized_crop(gray, 4, 2, 18, 21, [28, 28], bilinear, antialias=False)
    chain = F.hflip(chain)
    chain = F.adjust_contrast(chain, 1.3)
    chain = F.adjust_brightness(chain, 0.8)
    chain = F.gaussian_blur(chain, [3, 3], [1.1, 1.1])
    chain = F.solarize(chain, 0.6)
    out("chain", F.normalize(chain, [0.2860], [0.3530]))

    # get_params when all 10 attempts fail: rows of h, w, scale lo/hi, ratio lo/hi -> i, j, h, w
    fallback = []
    for h, w, scale, ratio in [(28, 28, (0.9, 1.0), (2.0, 3.0)), (28, 28, (0.9, 1.0), (0.2, 0.4)),
                               (20, 24, (0.95, 1.0), (4.0, 5.0)), (20, 24, (0.99, 1.0), (3.0, 4.0)),
                               (20, 24, (0.95, 1.0), (0.1, 0.2))]:
        box = RandomResizedCrop.get_params(torch.zeros(1, h, w), list(scale), list(ratio))
        fallback.append([h, w, *scale, *ratio, *box])
    save("aug_crop_fallback", np.array(fallback, dtype=np.float32))

    # distribution of get_params: mean top, left, height, width over many draws
    torch.manual_seed(0)
    stats = []
    for h, w, scale, ratio in [(28, 28, (0.08, 1.0), (3 / 4, 4 / 3)), (28, 28, (0.2, 1.0), (3 / 4, 4 / 3)),
                               (28, 28, (0.05, 0.3), (3 / 4, 4 / 3)), (20, 24, (0.5, 1.0), (0.5, 2.0))]:
        boxes = np.array([RandomResizedCrop.get_params(torch.zeros(1, h, w), list(scale), list(ratio))
                          for _ in range(20000)], dtype=np.float64)
        stats.append([h, w, *scale, *ratio, *boxes.mean(axis=0)])
    save("aug_crop_stats", np.array(stats, dtype=np.float32))


if __name__ == "__main__":
    main()
