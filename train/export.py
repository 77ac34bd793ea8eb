"""Export a generator to ONNX with a dynamic batch, height and width, and check the export by running it.

    python train/export.py --model weights/black2blond --onnx black2blond.onnx

The graph takes "image", (N, 3, H, W) float32 in [-1, 1] with H and W multiples of 4 (pad
other sizes, as cyclegan.inference.translate does), and returns "translation" of the same
shape. After writing, the export is run with onnxruntime (when installed: pip install
onnxruntime) on random images of two sizes and compared with PyTorch; the largest
difference must stay below --tolerance. Needs the onnx and onnxscript packages.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402

from cyclegan.networks import Generator  # noqa: E402

CHECK_SIZES = [(1, 3, 64, 96), (2, 3, 128, 128)]


def export(G: torch.nn.Module, path: Path) -> None:
    """torch.onnx (the torch.export-based exporter) with symbolic N and H = 4h, W = 4w."""
    G = G.eval().float().cpu()
    batch = torch.export.Dim("batch", min=1, max=1024)
    h, w = torch.export.Dim("height_div_4", min=2, max=2048), torch.export.Dim("width_div_4", min=2, max=2048)
    example = torch.rand(2, 3, 64, 64) * 2 - 1
    torch.onnx.export(G, (example,), str(path), input_names=["image"], output_names=["translation"],
                      dynamic_shapes={"x": {0: batch, 2: 4 * h, 3: 4 * w}}, dynamo=True, verbose=False,
                      external_data=False)  # one self-contained file (a generator is well under 2 GB)


def check(G: torch.nn.Module, path: Path) -> float:
    """Largest |onnxruntime - PyTorch| over random images of CHECK_SIZES."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    torch.manual_seed(0)
    worst = 0.0
    for shape in CHECK_SIZES:
        x = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            expected = G.eval().float().cpu()(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        if got.shape != expected.shape:
            raise ValueError(f"ONNX output shape {got.shape} for input {shape}, expected {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="generator folder (save_pretrained) or Hub repo id")
    parser.add_argument("--onnx", type=Path, required=True, help="output .onnx file")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed |ONNX - PyTorch| on outputs in [-1, 1] (default %(default)s)")
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    args = parser.parse_args(argv)
    try:
        G = Generator.from_pretrained(args.model)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        export(G, args.onnx)
    except ImportError as e:
        print(f"error: exporting needs the onnx and onnxscript packages ({e}): pip install onnx onnxscript",
              file=sys.stderr)
        return 2
    print(f"wrote {args.onnx} ({args.onnx.stat().st_size / 2**20:.1f} MiB)")
    if args.no_check:
        return 0
    try:
        worst = check(G, args.onnx)
    except ImportError:
        print("not checked: onnxruntime is not installed (pip install onnxruntime)")
        return 0
    ok = worst <= args.tolerance
    print(f"onnxruntime vs PyTorch on {CHECK_SIZES}: largest difference {worst:.2e} "
          f"({'within' if ok else 'OVER'} the tolerance {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
