"""Train the attribute classifier that train/evaluate.py uses to judge translations.

    python train/train_classifier.py --celeba-root ../shared/celeba --out weights/classifier

A small CNN (cyclegan.evaluation.AttributeClassifier) on 64x64 CelebA face crops,
trained on the official train partition with CelebA's own labels for Black_Hair,
Blond_Hair and Male; it prints its accuracy on the val partition per attribute and
saves with save_pretrained (config.json + model.safetensors, about 1 MB).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from cyclegan.data import (CELEBA_PARTITIONS, celeba_crop, celeba_image_dir, load_image, read_celeba_labels,
                           to_float, to_tensor)
from cyclegan.evaluation import ATTRIBUTES, AttributeClassifier


def load_split(root: Path, split: str, size: int, attributes: list, max_images: int = 0):
    """(uint8 images (N, 3, size, size), float labels (N, n_attributes) in {0, 1}) of one partition."""
    image_dir = celeba_image_dir(root)
    attrs, partition = read_celeba_labels(root)
    rows = [r for r in attrs if partition.get(r["image_id"]) == CELEBA_PARTITIONS[split]]
    missing = [a for a in attributes if rows and a not in rows[0]]
    if missing:
        raise ValueError(f"attributes {missing} are not in list_attr_celeba.csv")
    rows = [r for r in rows if (image_dir / r["image_id"]).is_file()][: max_images or None]
    if not rows:
        raise ValueError(f"no {split} images in {root}")
    images = torch.zeros(len(rows), 3, size, size, dtype=torch.uint8)
    labels = torch.tensor([[r[a] == "1" for a in attributes] for r in rows], dtype=torch.float32)
    for i, r in enumerate(tqdm(rows, desc=f"decoding {split}", unit="img")):
        images[i] = to_tensor(celeba_crop(load_image(image_dir / r["image_id"])).resize((size, size)))
    return images, labels


@torch.no_grad()
def accuracy(model, images, labels, batch_size=256) -> torch.Tensor:
    model.eval()
    correct = torch.zeros(labels.shape[1])
    for i in range(0, len(images), batch_size):
        logits = model(to_float(images[i:i + batch_size]))
        correct += ((logits > 0).float() == labels[i:i + batch_size]).float().sum(0)
    return correct / len(images)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--celeba-root", required=True, help="CelebA in the Kaggle layout")
    parser.add_argument("--out", default="weights/classifier", help="save_pretrained folder (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=8, help="passes over the train partition (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default %(default)s)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine decay (default %(default)s)")
    parser.add_argument("--max-images", type=int, default=0, help="use only N images per partition, 0 = all")
    parser.add_argument("--image-size", type=int, default=64, help="input side in pixels (default %(default)s)")
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage (default %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads, 0 = torch's default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = AttributeClassifier(ATTRIBUTES, image_size=args.image_size, width=args.width)
    try:
        root = Path(args.celeba_root)
        train_x, train_y = load_split(root, "train", model.image_size, model.attributes, args.max_images)
        val_x, val_y = load_split(root, "val", model.image_size, model.attributes, args.max_images)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    steps = args.epochs * (len(train_x) // args.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    rng = np.random.default_rng(args.seed)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(train_x)))
        bar = tqdm(range(len(train_x) // args.batch_size), desc=f"epoch {epoch + 1}/{args.epochs}")
        for k in bar:
            idx = order[k * args.batch_size:(k + 1) * args.batch_size]
            x = to_float(train_x[idx])
            x = torch.where(torch.rand(len(x), 1, 1, 1) < 0.5, x.flip(-1), x)  # random horizontal flip
            loss = F.binary_cross_entropy_with_logits(model(x), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        acc = accuracy(model, val_x, val_y)
        print(f"epoch {epoch + 1}: val accuracy " + ", ".join(f"{a} {v:.2%}" for a, v in zip(model.attributes, acc)))

    model.eval().save_pretrained(args.out)
    report = {"val_accuracy": {a: round(v.item(), 4) for a, v in zip(model.attributes, acc)},
              "n_train": len(train_x), "n_val": len(val_x), "epochs": args.epochs, "minutes": round((time.time() - start) / 60, 1)}
    (Path(args.out) / "accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {args.out}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
