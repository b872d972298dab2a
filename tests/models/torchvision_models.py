#!/usr/bin/python3
"""Real-model test: export a torchvision model (random weights, eval mode) to ONNX with Debian's
python3-torch, run it through `seedc run`, and compare with PyTorch's own output.

    torchvision_models.py SEEDC MODEL [--batch N] [--opset N] [--tol 1e-4] [--workdir DIR] [--export] [--aot]

Passes when max|seedc - torch| / max|torch| <= tol on the logits. The exported files stay in the
work folder (under the build tree), never in the repository.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision


def vit_tiny():
    # DeiT-Tiny's shape (patch 16, width 192, 12 blocks, 3 heads) in torchvision's ViT class
    from torchvision.models.vision_transformer import VisionTransformer
    net = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                            mlp_dim=768, num_classes=1000)
    # torchvision zero-initializes the classifier: the logits would all be 0 and compare trivially
    torch.nn.init.normal_(net.heads.head.weight, std=0.5)
    torch.nn.init.normal_(net.heads.head.bias, std=0.5)
    return net


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), 224),
    "resnet50": (lambda: torchvision.models.resnet50(), 224),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), 224),
    "mobilenet_v3_large": (lambda: torchvision.models.mobilenet_v3_large(), 224),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(), 224),
    "squeezenet1_0": (lambda: torchvision.models.squeezenet1_0(), 224),
    "shufflenet_v2_x1_0": (lambda: torchvision.models.shufflenet_v2_x1_0(), 224),
    "densenet121": (lambda: torchvision.models.densenet121(), 224),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True), 224),
    "inception_v3": (lambda: torchvision.models.inception_v3(aux_logits=False, init_weights=True), 299),
    "vgg11": (lambda: torchvision.models.vgg11(), 224),
    "alexnet": (lambda: torchvision.models.alexnet(), 224),
    "vit_tiny": (vit_tiny, 224),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seedc")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--workdir", default="model-tests")
    ap.add_argument("--seedc-args", default="", help="extra arguments for seedc run")
    ap.add_argument("--export", action="store_true", help="also check `seedc export` on the model")
    ap.add_argument("--aot", action="store_true", help="also check that an AOT program gives the JIT's outputs exactly")
    a = ap.parse_args()

    os.makedirs(a.workdir, exist_ok=True)
    torch.manual_seed(0)
    make, size = MODELS[a.model]
    net = make().eval()
    x = torch.randn(a.batch, 3, size, size)
    with torch.no_grad():
        want = net(x).numpy()
    onnx_path = os.path.join(a.workdir, f"{a.model}_op{a.opset}.onnx")
    if not os.path.exists(onnx_path):
        t0 = time.time()
        torch.onnx.export(net, x, onnx_path, opset_version=a.opset, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        print(f"exported {onnx_path} in {time.time() - t0:.1f} s")
    x_path = os.path.join(a.workdir, f"{a.model}_x{a.batch}.npy")
    y_path = os.path.join(a.workdir, f"{a.model}_y{a.batch}.npy")
    np.save(x_path, x.numpy())
    cmd = [a.seedc, "run", onnx_path, "--batch", str(a.batch), "-i", x_path, "-o", y_path] + a.seedc_args.split()
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        print(f"FAIL {a.model}: seedc exited with {r.returncode}")
        return 1
    got = np.load(y_path)
    if got.shape != want.shape:
        print(f"FAIL {a.model}: output shape {got.shape}, PyTorch {want.shape}")
        return 1
    err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
    verdict = "PASS" if err <= a.tol else "FAIL"
    print(f"{verdict} {a.model} batch {a.batch} opset {a.opset}: max|seedc - torch| / max|torch| = {err:.2e} "
          f"(tolerance {a.tol:.0e})")
    if err > a.tol:
        return 1
    if a.aot and check_aot(a, onnx_path, x_path, y_path):
        return 1
    if a.export:
        return check_export(a, onnx_path, x_path, got)
    return 0


def check_aot(a, onnx_path, x_path, y_path):
    """`seedc compile --emit=exe` (weights in a file) computes exactly what the JIT computed."""
    prog = os.path.join(a.workdir, f"{a.model}_aot{a.batch}")
    y_aot = os.path.join(a.workdir, f"{a.model}_aot_y{a.batch}.npy")
    # the JIT ran with all cores: give the program as many, so every kernel splits its work alike
    for cmd in ([a.seedc, "compile", onnx_path, "--emit=exe", "--weights=file", "--batch", str(a.batch), "-o", prog,
                 "--threads", str(os.cpu_count())] + a.seedc_args.split(), [prog, "-i", x_path, "-o", y_aot]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {a.model}: {' '.join(cmd)}: {r.stderr.strip()}")
            return 1
    jit, aot = np.load(y_path), np.load(y_aot)
    if jit.tobytes() != aot.tobytes():
        print(f"FAIL {a.model}: the AOT program's outputs differ from the JIT's (max diff {np.abs(jit - aot).max():.2e})")
        return 1
    print(f"PASS {a.model}: the AOT program gives the JIT's outputs bit for bit")
    for f in (prog, prog + ".weights", y_aot):
        os.remove(f)
    return 0


def check_export(a, onnx_path, x_path, got):
    """`seedc export` writes the optimized model back as ONNX: the ONNX checker accepts it and seedc
    computes exactly the same outputs from it."""
    import onnx
    out = os.path.join(a.workdir, f"{a.model}_exported.onnx")
    y2 = os.path.join(a.workdir, f"{a.model}_exported_y.npy")
    for cmd in ([a.seedc, "export", onnx_path, "-o", out], [a.seedc, "run", out, "--batch", str(a.batch), "-i", x_path,
                                                            "-o", y2, "-q"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {a.model}: {' '.join(cmd)}: {r.stderr.strip()}")
            return 1
        if cmd[1] == "export":
            onnx.checker.check_model(onnx.load(out), full_check=True)
    again = np.load(y2)
    if not np.array_equal(again, got):
        print(f"FAIL {a.model}: the exported model computes different outputs (max diff {np.abs(again - got).max():.2e})")
        return 1
    print(f"PASS {a.model}: exported ONNX passes the checker and gives identical outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
