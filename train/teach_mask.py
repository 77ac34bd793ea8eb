"""Teach one generator of a trained pair where hair is: its mask fine-tuned on the hand-drawn train masks alone.

    python train/teach_mask.py --weights weights --direction black2blond --celeba-root ../shared/celeba \\
        --out ~/b2b-runs/taught-black2blond

A recolouring generator with matched colour (networks.Generator with hair_lightness) learns one thing, the mask:
the colour under it is real target hair's. The GAN finds that mask from the discriminator alone, and misses whole
regions: the lengths of long hair, dark background taken for black hair. This fine-tunes it on the drawn train
faces of its source colour (hair_masks/train.json: a binary cross-entropy of the mask at the model's size against
the drawn hair, losses.drawn_mask_loss), in batches of random views of them (data.augment_drawn: zoom, shift,
mirror, saturation, contrast, brightness), no GAN, no other generator. Every --every steps it prints the mask's
IoU with the drawn val faces (hair_masks/val.json, at the model's size, cut at one half: evaluation.mask_iou;
for watching, not selection). Every --snapshot-every steps it saves <out>/snapshots/step<N>/ and at the end <out>/
itself, as train/run.py lays out a run: the taught generator (safetensors, config.json with --mask-gain,
training.json: the pair's own with this session added) beside the other one, copied unchanged, so that
train/evaluate.py --snapshots scores them and train/ship.py ships the one it chooses. Ctrl-C or SIGTERM saves
the step it reached the same way. About 1 s a step of 16 faces at 64 px on 2 cores without AMX.
"""

import argparse
import json
import shlex
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cyclegan.checkpoints import StopFlag, replace_folder, save_generator  # noqa: E402
from cyclegan.device import describe_machine  # noqa: E402
from cyclegan.evaluation import drawn_training_set, mask_iou  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402
from cyclegan.training import MaskTeacher  # noqa: E402

DIRECTIONS = {"black2blond": ("A", "blond2black"), "blond2black": ("B", "black2blond")}  # drawn faces, the other


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights", help="the pair: a folder with black2blond/ and blond2black/ "
                        "(default %(default)s)")
    parser.add_argument("--direction", required=True, choices=sorted(DIRECTIONS), help="the generator to teach")
    parser.add_argument("--celeba-root", required=True, help="CelebA in the Kaggle layout (the drawn faces' photos)")
    parser.add_argument("--train-masks", default="hair_masks/train.json", help="drawn masks of train faces to teach "
                        "on (default %(default)s)")
    parser.add_argument("--val-masks", default="hair_masks/val.json", help="drawn masks of val faces to watch "
                        "(default %(default)s)")
    parser.add_argument("--out", required=True, help="folder for the snapshots (outside the repository)")
    parser.add_argument("--steps", type=int, default=1500, help="steps (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="drawn faces a step (default %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam's learning rate, betas (0.5, 0.999) "
                        "(default %(default)s)")
    parser.add_argument("--mask-gain", type=float, default=2.0, help="the snapshots' mask_gain (networks.Generator: "
                        "the taught mask is a probability, steepened for the page); taught at 1 (default %(default)s)")
    parser.add_argument("--every", type=int, default=100, help="print the val IoU every N steps (default %(default)s)")
    parser.add_argument("--snapshot-every", type=int, default=500, help="save every N steps (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "every", "snapshot_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.mask_gain < 1:
        parser.error("--mask-gain must be at least 1")
    key, other = DIRECTIONS[args.direction]
    weights, out = Path(args.weights), Path(args.out)
    for name in (args.direction, other):
        if not (weights / name / "config.json").is_file():
            print(f"error: no generator at {weights / name} (config.json missing)", file=sys.stderr)
            return 2

    torch.manual_seed(args.seed)
    try:
        names = ("black", "blond")
        images, hair = drawn_training_set(args.train_masks, args.celeba_root, 64, names)[key]
        val_images, val_hair = drawn_training_set(args.val_masks, args.celeba_root, 64, names)[key]
        G = Generator.from_pretrained(weights / args.direction)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not (G.recolour and G.guided_radius and G.image_size == 64):
        print("error: teach_mask teaches the guided mask of a recolouring generator trained at 64 px", file=sys.stderr)
        return 2
    teacher = MaskTeacher(G, images, hair, args.batch_size, args.lr)  # taught as a probability (mask_gain 1)

    def val_iou() -> float:
        G.eval()
        with torch.no_grad():
            _, mask = G(val_images, return_mask=True)
        G.train()
        return mask_iou(mask, val_hair)

    print(f"{args.direction}: {len(images)} drawn train faces, {len(val_images)} val faces; val IoU at the start "
          f"{val_iou():.3f}")
    command = shlex.join(["python", "train/teach_mask.py", *(sys.argv[1:] if argv is None else argv)])
    session = {"command": command, "machine": describe_machine(), "started": datetime.now().isoformat(timespec="seconds"),
               "teach_mask": teacher.summary()}
    training = json.loads((weights / args.direction / "training.json").read_text()) \
        if (weights / args.direction / "training.json").is_file() else {}
    start = time.monotonic()

    def save(final: bool):
        session.update(seconds=round(time.monotonic() - start))
        session["teach_mask"] = teacher.summary()
        record = dict(training, sessions=training.get("sessions", []) + [json.loads(json.dumps(session))])
        for folder in [out / "snapshots" / f"step{teacher.step}"] + ([out] if final else []):
            save_pair(G, args.mask_gain, record, weights / other, folder / args.direction)
    stop = StopFlag()  # Ctrl-C or SIGTERM: finish the step, keep what was taught
    try:
        for step in tqdm(range(1, args.steps + 1), desc="teaching the mask", unit="step"):
            loss = teacher.train_step()
            if step % args.every == 0:
                tqdm.write(f"step {step}: loss {loss:.3f}, val IoU {val_iou():.3f}")
            if step % args.snapshot_every == 0 or step == args.steps:
                save(final=step == args.steps)
            if stop.requested and step < args.steps:
                raise KeyboardInterrupt
    except KeyboardInterrupt:  # what was taught so far is kept, as a snapshot and as the result
        if teacher.step:
            save(final=True)
        print(f"stopped after step {teacher.step}" + (f"; saved it in {out}" if teacher.step else ""),
              file=sys.stderr)
        return 130
    finally:
        stop.restore()
    print(f"saved {out} and its snapshots/ (choose with: python train/evaluate.py --weights {out} --snapshots "
          f"--from-step 0 --celeba-root {args.celeba_root} --max-images 300 --page --drop-islands)")
    return 0


def save_pair(G, mask_gain: float, training: dict, other: Path, target: Path):
    """target: the taught generator, steepened by mask_gain, with training.json; beside it the other generator,
    copied (checkpoints.save_generator, replace_folder: no half folder if killed)."""
    save_generator(G, target, training, mask_gain=mask_gain)  # G is taught on as a probability
    replace_folder(target.parent / other.name, lambda folder: shutil.copytree(other, folder))


if __name__ == "__main__":
    sys.exit(main())
