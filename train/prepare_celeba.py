"""Materialise a CelebA attribute selection as a CycleGAN dataset folder.

    python train/prepare_celeba.py --celeba-root ../shared/celeba --out data/black2blond

writes trainA/ trainB/ (the official train partition) and testA/ testB/ (val, or
--test-split test), A = attr-a and not attr-b, B the other way round. Files are
copied unchanged (or hard-linked with --link), so train/run.py --data-a/--data-b
and other CycleGAN code can read them. CelebA is for non-commercial research only:
keep the output out of any repository.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from cyclegan.data import celeba_domains


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--celeba-root", required=True, help="CelebA root in the Kaggle layout")
    parser.add_argument("--out", required=True, help="folder to create trainA/trainB/testA/testB in")
    parser.add_argument("--attr-a", default="Black_Hair", help="attribute of domain A (default %(default)s)")
    parser.add_argument("--attr-b", default="Blond_Hair", help="attribute of domain B (default %(default)s)")
    parser.add_argument("--test-split", default="val", choices=["val", "test"],
                        help="partition that becomes testA/testB (default %(default)s)")
    parser.add_argument("--max-images", type=int, default=0, help="at most N images per folder, 0 = all")
    parser.add_argument("--link", action="store_true", help="hard-link instead of copying (same file system)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    try:
        jobs = []
        for split, suffix in (("train", "train"), (args.test_split, "test")):
            a, b = celeba_domains(args.celeba_root, args.attr_a, args.attr_b, split)
            for domain, letter in ((a, "A"), (b, "B")):
                paths = domain.paths[:args.max_images] if args.max_images else domain.paths
                jobs += [(p, out / f"{suffix}{letter}" / p.name) for p in paths]
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    existing = [d for d in ("trainA", "trainB", "testA", "testB") if (out / d).exists() and any((out / d).iterdir())]
    if existing:
        print(f"error: {out} already has {existing}; choose an empty --out", file=sys.stderr)
        return 2
    for src, dst in tqdm(jobs, desc="copying", unit="img"):
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(src, dst) if args.link else shutil.copyfile(src, dst)
    counts = {d: len(list((out / d).iterdir())) for d in ("trainA", "trainB", "testA", "testB") if (out / d).exists()}
    print(f"{out}: {counts} (A = {args.attr_a}, B = {args.attr_b})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
