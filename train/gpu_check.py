"""The whole GPU path in one command, for the few minutes a GPU is lent: one table at the end.

    python train/gpu_check.py                  # about 5-10 minutes on a GPU; its CPU-side parts here
    python train/gpu_check.py --markdown gpu.md

1. The CUDA tests (pytest -k cuda): fp16 with the gradient scaler, bf16, CUDA inference against the CPU's fp32,
   a GPU checkpoint resumed on the CPU, the half-precision page. Without a GPU they skip, each with its reason.
2. A short training benchmark in each precision the GPU has (fp32, fp16, bf16): steps a second after warm-up
   and the peak memory torch allocated, at 128 px with the cpu recipe's networks (ngf 32, 6 blocks).
3. The page's whole request (gradio_client, local) for a 0.6 MP and a 12 MP photo on the device the page picks
   (train/bench.py's phone-size photos), and the ratio of the two.
Parts that need a GPU print one line saying they were skipped and why; the exit status is 1 when a test failed.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "train"))
sys.path.insert(0, str(REPO))

import torch

import bench
from cyclegan.config import TrainConfig
from cyclegan.device import describe_machine

NO_GPU = "skipped: no CUDA GPU here (torch.cuda.is_available() is False)"


def cuda_tests() -> tuple:
    """(row text, passed): the suite's CUDA tests, run in a child pytest with skip reasons shown."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-k", "cuda", "-m", "", "tests"], cwd=REPO,
                          capture_output=True, text=True)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}
    seconds = time.perf_counter() - started
    text = ", ".join(f"{n} {k}" for k, n in counts.items()) or tail
    if counts.get("skipped") and not torch.cuda.is_available():
        text += f" (the skipped ones: {NO_GPU})"
    return f"{text}; {seconds:.0f} s", done.returncode in (0, 5)


def train_rate(precision: str, steps: int = 20, warmup: int = 5) -> str:
    """Steps a second and peak memory of the cpu recipe's networks at 128 px on the GPU, in `precision`."""
    from cyclegan.training import Trainer
    torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(TrainConfig(ngf=32, n_blocks=6, image_size=128, device="cuda", precision=precision,
                                  compile=False))
    real_A, real_B = (torch.rand(1, 3, 128, 128) * 2 - 1 for _ in range(2))
    for _ in range(warmup):
        trainer.train_step(real_A, real_B)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(real_A, real_B)
    torch.cuda.synchronize()
    rate = steps / (time.perf_counter() - started)
    return f"{rate:.1f} steps/s, peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB allocated"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--model", help="the pair the page runs (default: weights/)")
    args = parser.parse_args(argv)
    rows, ok = [], True

    text, ok = cuda_tests()
    rows.append(("CUDA tests (pytest -k cuda)", text))

    for precision in ("fp32", "fp16", "bf16"):
        name = f"training step, 128 px, ngf 32, 6 blocks, batch 1, {precision}"
        if not torch.cuda.is_available():
            rows.append((name, NO_GPU))
        elif precision == "bf16" and not torch.cuda.is_bf16_supported():
            rows.append((name, "skipped: this GPU has no bf16"))
        else:
            rows.append((name, train_rate(precision)))

    photos = bench.bench_photos(warmup=1, repeats=3, model=args.model)["value"]
    device = "cuda" if torch.cuda.is_available() else "cpu (no GPU here)"
    small, large = photos["0.6 MP"]["page"], photos["12 MP"]["page"]
    rows.append((f"web page request, 0.6 MP photo, on {device}", f"{small * 1000:.0f} ms"))
    rows.append((f"web page request, 12 MP photo, on {device}", f"{large * 1000:.0f} ms ({large / small:.2f}x the "
                                                                  "0.6 MP one)"))

    table = "\n".join([f"GPU check on {describe_machine()}", "", "| check | result |", "| --- | --- |",
                       *(f"| {name} | {result} |" for name, result in rows)])
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
