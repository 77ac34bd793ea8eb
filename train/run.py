"""Train a CycleGAN between two image domains, from data to saved generators.

    python train/run.py --celeba-root ../shared/celeba --out runs/black2blond
    python train/run.py --data-a photos/black --data-b photos/blond --image-size 256 --n-blocks 9
    python train/run.py --out runs/black2blond --resume          # continue a stopped run

The defaults fit the machine (--recipe, cyclegan/recipes.py): on a CPU the recolouring pair
(a bilateral grid of colour transforms and a guided-filter mask, cyclegan/transform.py) at
64 px on whole aligned faces, 20,000 steps, about 5 hours on 2 cores without AMX; on a GPU
the same design at the paper's width and 100 + 100 epochs. The run prints the settings it chose
and, after its first steps, how long it will take.

Writes into --out: checkpoint.pt (everything needed to resume, replaced atomically),
losses.csv (every step), samples/*.png (photo | translated | mask | translated back, both ways,
the columns named on the image),
losses.png and samples.gif (the smoothed losses and the samples animated, refreshed with
each sample grid; train/report.py redraws them),
train_config.json, and the two generators as save_pretrained folders named from the
domains, e.g. black2blond/ and blond2black/ (raw/ holds the trained ones beside these averages).
On CelebA the recipes then teach each mask on the hand-drawn train faces of hair_masks/ alone
(--teach-mask-steps; teach.pt resumes it): black2blond/ and blond2black/ become the taught pair,
the GAN's last pair stays in snapshots/.
Ctrl-C or SIGTERM saves and stops cleanly; during start-up it stops with nothing written. A
checkpoint write cut short by a killed run is removed at the next start.
With --push-to-hub, a finished run publishes both generators with model cards, as
train/push.py does, to <your user>/<a>2<b> and <your user>/<b>2<a> (e.g. alice/black2blond
and alice/blond2black; --hub-repo-id chooses another name).
"""

import argparse
import copy
import csv
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, fields, replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from cyclegan import distributed
from cyclegan.cards import reverse_repo_id
from cyclegan.checkpoints import (StopFlag, read_checkpoint, remove_stale_temporaries, save_generator,
                                  write_atomically)
from cyclegan.config import TrainConfig
from cyclegan.data import EpochSampler, UnpairedDataset, celeba_domains, folder_domains, should_cache
from cyclegan.evaluation import colour_targets, drawn_training_set
from cyclegan.device import PRECISIONS, CpuThreads, describe_machine, resolve_device
from cyclegan.hub import HubPushError, writer
from cyclegan.inference import sample_grid
from cyclegan.recipes import DRAWN, RECIPES, describe
from cyclegan.reports import label_grid, write_reports
from cyclegan.training import DivergenceError, MaskTeacher, Trainer
from push import add_push_options, push  # train/push.py, next to this file

HELP = {
    "celeba_root": "CelebA root in the Kaggle layout (img_align_celeba/img_align_celeba/, list_attr_celeba.csv, "
                   "list_eval_partition.csv); trains on the official train partition",
    "attr_a": "CelebA attribute of domain A: an image is in A when attr-a is 1 and attr-b is -1 (default %(default)s)",
    "attr_b": "CelebA attribute of domain B (default %(default)s)",
    "data_a": "folder of domain-A images (jpg, png, webp, ...), instead of --celeba-root; "
              "a CycleGAN dataset's trainA folder works as it is",
    "data_b": "folder of domain-B images, e.g. a CycleGAN dataset's trainB",
    "name_a": "name of domain A in the saved models (default: from the attribute, Black_Hair -> black, "
              "or the folder name)",
    "name_b": "name of domain B (default: from the attribute or folder)",
    "image_size": "training image side in pixels, a multiple of 4 (default %(default)s)",
    "balance_male": "auto | on | off: draw men and women equally often in each domain by CelebA's Male "
                    "attribute, so the generators do not learn 'blond means female' (93 percent of CelebA's blond "
                    "images are women); auto = on for --celeba-root, off for folders (default %(default)s)",
    "preprocess": "auto | celeba (central 178x178 square, resize) | celeba_full (the whole aligned 178x218 "
                  "image, image-size wide: the hair around and below the face, as the page shows it to a "
                  "recolouring model) | resize_crop (resize to 1.117x and random crop, "
                  "the paper's 286->256 jitter) | resize (default %(default)s: for CelebA celeba_full with --recolour "
                  "and celeba without, else resize_crop)",
    "max_images": "use only the first N images of each domain, 0 = all (default %(default)s)",
    "cache": "auto | on | off: decode every image once before training and keep it resized in memory "
             "as uint8: 3 x size^2 bytes an image, e.g. 49 KB at 128 px, 0.7 GB for CelebA's 14,232 "
             "black/blond training images (2.8 GB at 256); auto = on when that is under half the free "
             "memory (default %(default)s)",
    "num_workers": "data loader processes, 0 = load in the training process; worth 1-2 without the cache "
                   "on a fast GPU (default %(default)s)",
    "ngf": "generator filters in the first layer (paper: 64)",
    "n_blocks": "generator residual blocks (paper: 6 at 128x128, 9 at 256x256; default %(default)s)",
    "upsample": "deconv (the paper's transposed convolutions) | resize_conv (nearest-neighbour upsampling and "
                "a 3x3 conv, no checkerboard artefacts) (default %(default)s)",
    "attention": "attention-guided generators: each predicts content C and a mask M and outputs M * C + (1 - M) "
                 "* x, so it changes only where it chooses to (the hair) and leaves the rest of the photo alone "
                 "(Mejjati et al. 2018; default %(default)s: the paper's generator)",
    "recolour": "recolouring generators (needs --attention): instead of painting the hair, each predicts where "
                "(the mask) and how to recolour it, a smooth field of per-pixel affine colour transforms T, and "
                "outputs M * T(x) + (1 - M) * x; T applies to a photo at its own resolution, so the photo keeps "
                "its strands (HDRNet's grid, Gharbi et al. 2017; default %(default)s)",
    "cell": "recolour only: side in pixels of the colour-transform field's cells at the model's size; larger is "
            "smoother, smaller follows the hair's edges more closely (default %(default)s)",
    "bins": "recolour only: knots of the colour transforms' luminance axis (HDRNet's bilateral grid): each pixel's "
            "transform is interpolated at its own luminance, so dark and light pixels of a cell change differently "
            "(near-black hair to blond, the skin beside it kept); 1 = one transform per cell (default %(default)s)",
    "guided_radius": "recolour only: the mask as a colour guided filter of the raw mask with windows of 2r + 1 pixels "
                     "(He et al. 2010), applied at any resolution with the field (Wu et al. 2018's fast guided "
                     "filter), so on a photo it follows the photo's own colour edges; 0 = the raw mask scaled up "
                     "(default %(default)s)",
    "guided_eps": "recolour only: the guided filter's regulariser in squared [-1, 1] units; smaller follows fainter "
                  "colour edges (default %(default)s)",
    "init_from": "start both generators from the weights in this folder (its <a>2<b>/ and <b>2<a>/, e.g. weights); "
                 "a paper generator can start an attention one (its mask layer starts fresh), an attention one a recolouring one (its transform starts as the identity); default: random N(0, "
                 "0.02) as the paper",
    "lambda_drawn": "attention only: weight of the masks' binary cross-entropy against hair drawn by hand on CelebA "
                    "train faces (--train-masks), one face a direction each step, flipped at random (issue [16]; "
                    "default %(default)s = off)",
    "train_masks": "the drawn-mask file of train faces for --lambda-drawn and --teach-mask-steps, e.g. "
                   "hair_masks/train.json (polygons; the photos are read from --celeba-root); auto = this checkout's "
                   "hair_masks/train.json when training on CelebA, else none (default %(default)r)",
    "teach_mask_steps": "after the last GAN step, each generator's mask taught this many steps on the drawn train "
                        "faces alone, 16 random views a step (train/teach_mask.py's fine-tune; with its own "
                        "teach.pt, so --resume continues it); the pair in --out is then the taught one, the GAN's "
                        "last stays in snapshots/ (default %(default)s = off)",
    "mask_gain": "the saved generators' mask steepened to clamp(k (M - 1/2) + 1/2) (Generator's mask_gain: a mask "
                 "taught on drawn hair is a probability, soft where unsure); training sees the plain mask "
                 "(default %(default)s)",
    "match_colour": "auto | on | off: the colour under the guided mask is real target hair's (L* mapped rank by "
                    "rank onto real hair's, a* b* taken to its median; cyclegan/transform.py), measured on the train "
                    "split as the run starts (a minute); the network learns where, not what colour. auto = on with "
                    "--celeba-root and --guided-radius > 0 (default %(default)s; the cpu and gpu recipes: auto)",
    "chroma_kept": "match_colour only: share of the photo's own a*, b* variation around its hair's median kept "
                   "(default %(default)s)",
    "ndf": "discriminator filters in the first layer (paper: 64)",
    "n_layers_d": "discriminator stride-2 layers; 3 = the 70x70 PatchGAN (default %(default)s)",
    "lambda_cycle": "weight of the cycle-consistency loss (paper: 10)",
    "lambda_cycle_b": "weight of the B -> A -> B cycle alone, when it should differ from --lambda-cycle (the "
                      "reference implementation's --lambda_B; the identity loss keeps --lambda-cycle); 0 = "
                      "--lambda-cycle (default %(default)s)",
    "lambda_identity": "identity loss weight as a fraction of lambda-cycle, 0 turns it off (default %(default)s)",
    "cycle_noise": "standard deviation of Gaussian noise added to each translation (in [-1, 1] units; where the "
                   "mask is on, for attention generators) before it is translated back for the cycle loss, so the "
                   "generators cannot hide the input in faint patterns to pass it (Chu et al. 2017; the remedy of "
                   "Bashkirova et al. 2019). Tried here against the woven texture in blond hair: 0.1 for 4,500 "
                   "generator steps did not change it (docs/experiments.md); 0 = off, as the paper (default "
                   "%(default)s)",
    "pool_size": "generated images kept to train the discriminators, 0 = no pool (paper: 50)",
    "lambda_mask": "attention only: weight of the mask's L1 sparsity, which charges every changed pixel, from "
                   "--priors-start (default %(default)s)",
    "lambda_mask_tv": "attention only: weight of the mask's total variation, which keeps it in smooth regions "
                      "(default %(default)s)",
    "lambda_mask_face": "attention only: weight of the mask's mean on the central face box (eyes, nose, mouth of "
                        "CelebA-aligned crops), which keeps the edit off the face without charging the hair; only "
                        "for aligned faces (default %(default)s)",
    "lambda_mask_edge": "attention only: weight of the change a translation makes where its mask is only partly on, "
                        "mean((1 - M) |G(x) - x|): against the pink line along the hairline, where the content's "
                        "recoloured skin shows through the mask's soft edge; 10 for the shipped pair (default "
                        "%(default)s)",
    "lambda_colour": "attention only: weight of the colour term, the sliced Wasserstein distance in CIELAB between "
                     "the hair the mask recolours and real hair of the target colour (the reverse generator's mask "
                     "on the target domain's photos), from --priors-start: against blond that reads light brown or "
                     "copper and black that reads grey (issue [16]); 0 = off (default %(default)s)",
    "priors_start": "the step from which --lambda-mask, --lambda-mask-face, --lambda-mask-edge, --cycle-noise and --lambda-cycle-b "
                    "apply; before it they are off and the B cycle weighs --lambda-cycle, so one run can hold the "
                    "stages that made the shipped pair (the cpu recipe sets it); 0 = from the start (default "
                    "%(default)s)",
    "mask_start": "attention only: steps at the start in which the mask is held at 1 and not trained, so the "
                  "generators first learn as the paper's; from random weights the content must look like a photo "
                  "before the mask may choose between them, else the masks close for good within 300 steps (the "
                  "identity); --mask-warmup follows it; give 0 with --init-from a trained pair; 0 = none (default "
                  "%(default)s)",
    "mask_warmup": "attention only: steps over which the mask's floor falls linearly from 1 (the output is the "
                   "content, as the paper's generator) to 0 (the mask decides), so the mask does not close before "
                   "the discriminators have learnt; 0 = none (default %(default)s)",
    "detach_mask_in_cycle": "attention only: the cycle loss trains the content and the reverse generator but not "
                            "the forward mask, which then learns from the discriminator (and --lambda-mask, "
                            "--lambda-mask-tv) alone; otherwise the cycle loss buys the identity by closing the mask "
                            "(default %(default)s)",
    "detach_mask_in_identity": "attention only: the identity loss trains the content but not the mask, which "
                               "it otherwise closes for every input, since the two domains' photos look alike "
                               "(default %(default)s)",
    "d_negatives": "the discriminators also learn the other domain's real photos as fakes (D_B: an unchanged "
                   "black-haired photo is no blond one), so a generator cannot win by changing nothing, which an "
                   "attention generator otherwise learns within 100 steps (default %(default)s)",
    "d_warmup": "steps at the start in which only the discriminators train, the generators frozen: for "
                "starting trained generators (--init-from) against fresh discriminators, whose first random "
                "verdicts would otherwise undo them; 0 = none (default %(default)s)",
    "ema_decay": "keep an exponential moving average of the generator weights with this decay and save it as the "
                 "models (Yazici et al. 2019; the trained weights also go to raw/); 0 = off (default %(default)s)",
    "lr": "Adam learning rate (paper: 2e-4)",
    "beta1": "Adam beta1 (paper: 0.5)",
    "beta2": "Adam beta2 (default %(default)s)",
    "batch_size": "images per domain per step (paper: 1)",
    "epochs": "epochs at the initial learning rate (paper: 100)",
    "epochs_decay": "epochs of linear learning-rate decay to zero after that (paper: 100)",
    "epoch_size": "images per epoch, 0 = max(|A|, |B|); smaller means more frequent lr updates and samples "
                  "(default %(default)s)",
    "max_steps": "stop after this many steps in total, saving as at the end; 0 = no limit (default %(default)s)",
    "device": "auto | cpu | cuda | cuda:N (default %(default)s: cuda when available)",
    "precision": f"{' | '.join(PRECISIONS)} (default %(default)s: bf16 on CPUs with AMX and on recent GPUs, "
                 "fp16 with loss scaling on older GPUs, else fp32)",
    "channels_last": "auto | on | off: NHWC memory layout (default %(default)s: on for CUDA and bf16, where it is "
                     "faster; off for fp32 on the CPU, where it is not)",
    "compile": "torch.compile the generators: fuses the work between convolutions; the first step takes "
               "about a minute to compile (default %(default)s)",
    "threads": "auto | N: CPU threads; auto = as many as the cores other processes leave free, looked at again "
               "every few seconds, so a busy neighbour (a browser, a second job) does not make each step several "
               "times slower (default %(default)s; OMP_NUM_THREADS, when set, is kept)",
    "dist_timeout": "under torchrun: seconds a process waits for the others in a collective before the run fails "
                    "with an error (a crashed or stuck rank) (default %(default)s)",
    "seed": "seed of initialisation, data order, augmentation and the pools (default %(default)s)",
    "out": "output folder (default %(default)s)",
    "sample_every": "steps between sample grids, 0 = only at epoch ends (default %(default)s)",
    "checkpoint_every": "steps between checkpoints, 0 = only at epoch ends (default %(default)s)",
    "snapshot_every": "steps between copies of the generators kept in snapshots/step<N>/ for choosing the best "
                      "with train/evaluate.py --snapshots, 0 = none (default %(default)s)",
}
# Settings that shape the networks or the data pipeline: a resumed run must keep them.
PUSH_OPTIONS = ["push_to_hub", "hub_repo_id", "reverse_repo_id", "private", "token", "commit_message", "revision",
                "sample_image", "no_sample"]
NOT_FLAGS = {"colour_targets"}  # TrainConfig fields the run sets itself (match_colour's measured targets)
FIXED_ON_RESUME = {"match_colour", "chroma_kept", "image_size", "ngf", "n_blocks", "upsample", "attention", "recolour", "cell", "bins", "guided_radius",
                   "guided_eps", "init_from", "balance_male", "ndf", "n_layers_d", "name_a", "name_b", "preprocess", "seed",
                   "celeba_root", "attr_a", "attr_b", "data_a", "data_b", "max_images", "batch_size", "epoch_size"}
LOSS_COLUMNS = ["G", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B", "mask_A", "mask_B", "colour_A", "colour_B", "drawn",
                "D_A", "D_B", "M_A", "M_B"]
N_SAMPLES = 4  # images per direction in a sample grid
TIMED_STEPS = 10  # steps timed for the duration estimate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # only the flags given reach the namespace (see --resume)
    )
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name in NOT_FLAGS:
            continue
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        text = HELP[f.name] % {"default": default}
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(flag, type=type(default), help=text)
    parser.add_argument("--recipe", choices=["auto", *RECIPES],
                        help="settings made for the machine, overridden by the flags you give: "
                             + "; ".join(describe(r) for r in RECIPES.values())
                             + "; auto = gpu when a CUDA GPU is found, else cpu (default auto). The estimated "
                               "duration is printed after the first steps")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint.pt, exactly where it stopped; "
                             "settings given again must match, except the run length, device, precision "
                             "and intervals")
    hub = parser.add_argument_group("publishing, when training has finished (as train/push.py)")
    hub.add_argument("--push-to-hub", action="store_true",
                     help="publish both generators to the Hugging Face Hub with model cards")
    hub.add_argument("--hub-repo-id", help="repo of the A->B generator (default: <your user>/<a>2<b>, e.g. "
                                           "alice/black2blond, the user from the token); B->A goes to the mirror "
                                           "name (alice/blond2black) unless --reverse-repo-id says otherwise")
    add_push_options(hub)
    return parser


def make_config(args: dict) -> tuple:
    """(the run's TrainConfig, with --resume the checkpoint's state else None, what the recipe set)."""
    resume = args.pop("resume", False)
    out = Path(args.get("out", TrainConfig.out))
    checkpoint = out / "checkpoint.pt"
    if not resume:
        if checkpoint.exists():
            raise ValueError(f"{out} already holds a run (checkpoint.pt); pass --resume to continue it, "
                             "or choose another --out")
        recipe = args.pop("recipe", "auto")
        if recipe == "auto":
            recipe = "gpu" if resolve_device(args.get("device", "auto")).type == "cuda" else "cpu"
        settings = {k: v for k, v in RECIPES[recipe].settings.items()  # the drawn masks are of CelebA faces
                    if args.get("celeba_root") or k not in DRAWN}
        chosen = ", ".join(f"{k}={v}" for k, v in settings.items() if k not in args)
        note = f"recipe {recipe}: {chosen or 'the paper settings'} (--recipe, --help)"
        return TrainConfig(**{**settings, **args}), None, note
    if not checkpoint.exists():
        raise FileNotFoundError(f"--resume: no checkpoint.pt in {out}")
    args.pop("recipe", None)  # a resumed run keeps the settings it started with
    state = read_checkpoint(checkpoint)
    saved = TrainConfig.from_dict(state["config"])
    changed = sorted(k for k in FIXED_ON_RESUME if k in args and args[k] != getattr(saved, k))
    if changed:
        raise ValueError(f"--resume cannot change {changed}: the checkpoint was trained with "
                         f"{ {k: getattr(saved, k) for k in changed} }")
    return replace(saved, **args), state, None


def load_domains(c: TrainConfig, split: str):
    if c.celeba_root and (c.data_a or c.data_b):
        raise ValueError("give either --celeba-root or --data-a/--data-b, not both")
    if c.celeba_root:
        a, b = celeba_domains(c.celeba_root, c.attr_a, c.attr_b, split, c.name_a or None, c.name_b or None)
    elif c.data_a and c.data_b:
        a, b = folder_domains(c.data_a, c.data_b, c.name_a or None, c.name_b or None)
    else:
        raise ValueError("no training data: give --celeba-root, or both --data-a and --data-b")
    if c.max_images:
        a.paths, a.male = a.paths[:c.max_images], a.male[:c.max_images]
        b.paths, b.male = b.paths[:c.max_images], b.male[:c.max_images]
    return a, b


def sample_images(c: TrainConfig, preprocess: str):
    """Fixed images for the sample grids: CelebA's val partition, else the first training images."""
    try:
        domains = load_domains(c, "val" if c.celeba_root else "train")
    except ValueError:  # no val images of a domain in this copy of CelebA
        domains = load_domains(c, "train")
    ds = UnpairedDataset(*domains, image_size=c.image_size, preprocess=preprocess, train=False)
    items = [ds[i] for i in range(min(N_SAMPLES, len(ds)))]
    return torch.stack([x["A"] for x in items]), torch.stack([x["B"] for x in items])


def save_generators(trainer: Trainer, out: Path, raw: bool = False) -> list:
    """save_pretrained both generators into <out>/<a>2<b> and <out>/<b>2<a>, replacing old copies whole.

    The averaged generators when the run keeps an average (--ema-decay), else the trained
    ones; raw=True saves the trained ones whatever. Each folder also gets training.json
    (steps done, the run's settings, which weights, and the commands, machines and wall time of the
    processes that trained it), which the model card of train/push.py shows.
    """
    saved = []
    averaged = bool(trainer.ema) and not raw
    training = {"steps": trainer.step, "epochs_done": trainer.epoch, "averaged": averaged,
                "wall_hours": round(sum(x["seconds"] for x in trainer.sessions) / 3600, 2),
                "sessions": trainer.sessions, "config": asdict(trainer.config)}
    for G in ((trainer.G_AB, trainer.G_BA) if raw else trainer.generators_to_save()):
        final = out / f"{G.source_domain}2{G.target_domain}"
        save_generator(G, final, training, mask_gain=trainer.config.mask_gain)  # its README.md: push_pair's card
        saved.append(final)
    return saved


def teach_masks(trainer: Trainer, out: Path, stop: StopFlag) -> bool:
    """The run's last stage (--teach-mask-steps): each generator of the pair as trained (the averages when kept)
    taught where hair is on the drawn train faces alone (training.MaskTeacher), then saved into --out with
    --mask-gain, its card's sessions ending with the teaching. Its state goes to <out>/teach.pt every 250 steps and
    on a stop request, so --resume continues it. Returns False when stopped on request."""
    c = trainer.config
    path = out / "teach.pt"
    state = read_checkpoint(path) if path.exists() else {}
    drawn = trainer.drawn or drawn_training_set(c.drawn_masks(), c.celeba_root, c.image_size, (c.name_a, c.name_b))
    if not (out / "snapshots" / f"step{trainer.step:07d}").exists():  # the GAN's last, untaught, stays there
        save_generators(trainer, out / "snapshots" / f"step{trainer.step:07d}")
    taught = []
    for key, G in zip("AB", trainer.generators_to_save()):
        name = f"{G.source_domain}2{G.target_domain}"
        teacher = MaskTeacher(copy.deepcopy(G), *drawn[key])
        seconds = 0
        if name in state:
            teacher.load_state_dict(state[name])
            seconds = state[name]["seconds"]
        start = time.monotonic()
        bar = tqdm(total=c.teach_mask_steps, initial=teacher.step, desc=f"teaching {name}'s mask",
                   dynamic_ncols=True)
        while teacher.step < c.teach_mask_steps and not stop.requested:
            bar.set_postfix(loss=f"{teacher.train_step():.3f}")
            bar.update()
            if teacher.step % 250 == 0 or teacher.step == c.teach_mask_steps or stop.requested:
                state[name] = dict(teacher.state_dict(), seconds=round(seconds + time.monotonic() - start))
                write_atomically(state, path)
        bar.close()
        if teacher.step < c.teach_mask_steps:
            tqdm.write(f"stopped teaching {name}'s mask after {teacher.step} of {c.teach_mask_steps} steps, kept in "
                       f"{path}; continue with --resume")
            return False
        taught.append((name, teacher, state[name]["seconds"]))
    for name, teacher, seconds in taught:
        record = json.loads((out / name / "training.json").read_text())
        record["sessions"].append({**{k: trainer.sessions[-1][k] for k in ("command", "machine")}, "seconds": seconds,
                                   "teach_mask": teacher.summary()})
        save_generator(teacher.G.eval(), out / name, record, mask_gain=c.mask_gain)
    tqdm.write(f"masks taught {c.teach_mask_steps} steps on the drawn train faces: saved the taught pair in {out} "
               f"(the GAN's last: snapshots/step{trainer.step:07d})")
    return True


# the sample grid's columns (cyclegan.inference.sample_grid), without and with attention
GRID_COLUMNS = {False: ["photo", "translated", "translated back"],
                True: ["photo", "translated", "mask (white = changed)", "translated back"]}


def grid_notes(c: TrainConfig, step: int, rows: int) -> list:
    """The sample grid's header lines: which rows go which way, and what the mask column shows while
    training still holds the mask at 1."""
    notes = [f"step {step:,}: rows 1-{rows} {c.name_a} -> {c.name_b} -> {c.name_a}, rows {rows + 1}-{2 * rows} "
             f"{c.name_b} -> {c.name_a} -> {c.name_b} (the saved generators)"]
    if c.attention and step < c.mask_start:
        notes.append(f"training holds the mask at 1 until step {c.mask_start:,}: the mask shown is the saved "
                     "generators' own, not yet trained")
    elif c.attention and step < c.mask_start + c.mask_warmup:
        notes.append(f"training raises the mask to a floor that falls to 0 at step {c.mask_start + c.mask_warmup:,}; "
                     "shown without it")
    return notes


def duration_estimate(seconds: float, steps_left: int) -> str:
    """One line: the measured time a step and when the run will end at that pace."""
    per_step = seconds / TIMED_STEPS
    left = per_step * steps_left
    end = datetime.now() + timedelta(seconds=left)
    span = f"{left / 3600:.1f} h" if left >= 5400 else f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"
    return (f"{per_step:.2f} s a step here: the remaining {steps_left:,} steps take about {span} "
            f"(until {end:%a %H:%M}, without sample grids and checkpoints)")


def open_loss_log(path: Path, resume_step: int):
    """losses.csv for appending; rows past the checkpoint (logged before a kill) are dropped."""
    header = ["step", "epoch", "lr"] + LOSS_COLUMNS
    rows = []
    if path.exists() and resume_step:
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
    f = open(path, "w", newline="")
    writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return f, writer


def main(argv=None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    publish = argparse.Namespace(**{k: args.pop(k, None) for k in PUSH_OPTIONS})
    if publish.push_to_hub:  # check the token now, not after hours of training
        try:
            publish.user = writer(publish.token)["name"]
        except HubPushError as e:
            print(f"error: --push-to-hub: {e}", file=sys.stderr)
            return 2
    out_folder = args.get("out", TrainConfig.out)
    try:
        config, state, recipe = make_config(args)
        config.validate()  # settings that cannot work are refused before minutes of reading data
        cpu_threads = CpuThreads(config.threads)
        cpu_threads.apply()  # before the first parallel region
        device = distributed.setup(config.dist_timeout)  # under torchrun: join the group; else None
        if device is not None and config.device == "auto":
            config = replace(config, device=str(device))  # each rank on its own GPU
        main_rank = distributed.is_main()
        a, b = load_domains(config, "train")
        config = replace(config, name_a=config.name_a or a.name, name_b=config.name_b or b.name)
        if config.matches_colour() and not config.colour_targets:  # measured once, kept in the checkpoint by resume
            if not config.celeba_root:
                raise ValueError("--match-colour on measures real hair on aligned CelebA faces: it needs --celeba-root")
            if main_rank:
                print("measuring the colour of real black and blond hair on the train split (--match-colour) ...")
            try:
                targets = colour_targets(a, b, config.image_size, kept=config.chroma_kept)
            except ValueError as e:
                raise ValueError(f"--match-colour: {e} (too few photos of each colour? --match-colour off trains the "
                                 "transform field's own colour)") from e
            config = replace(config, colour_targets=targets)
        preprocess = config.preprocess if config.preprocess != "auto" else (
            ("celeba_full" if config.recolour else "celeba") if config.celeba_root else "resize_crop")
        if config.balance_male not in ("auto", "on", "off"):
            raise ValueError(f"--balance-male must be auto, on or off, got {config.balance_male!r}")
        balance = config.balance_male == "on" or (config.balance_male == "auto" and bool(config.celeba_root))
        dataset = UnpairedDataset(a, b, config.image_size, preprocess, train=True, seed=config.seed,
                                  balance_male=balance)
        if should_cache(config.cache, dataset.cache_bytes()):
            if main_rank:
                print(f"caching {len(a.paths) + len(b.paths)} decoded images in memory "
                      f"({dataset.cache_bytes() / 2**20:.0f} MiB per process; --cache off to skip)")
            dataset.fill_cache(progress=main_rank)
        if publish.push_to_hub:  # as the Transformers Trainer: the token's user and the run's name
            publish.hub_repo_id = publish.hub_repo_id or f"{publish.user}/{config.name_a}2{config.name_b}"
        fixed_A, fixed_B = sample_images(config, preprocess)
        trainer = Trainer(config)
        if state:
            trainer.load_state_dict(state)
    except (ValueError, FileNotFoundError) as e:
        if distributed.is_main():
            print(f"error: {e}", file=sys.stderr)
        distributed.cleanup()
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the images are cached or the networks are built: nothing to save
        if distributed.is_main():
            print(f"\ninterrupted during start-up, before the first step: nothing was trained or written to "
                  f"{out_folder}; run the same command to start again", file=sys.stderr)
        distributed.cleanup()
        return 130
    c = trainer.config
    out = Path(c.out)
    world = trainer.world_size
    if main_rank:  # rank 0 alone writes files and talks
        for name, size in remove_stale_temporaries(out / "checkpoint.pt"):
            print(f"removed {out / name} ({size / 2**20:.0f} MiB): a checkpoint write cut short by a killed run")
        (out / "samples").mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(c), indent=2) + "\n")
        print(json.dumps(asdict(c), indent=2))
        print(f"domain A '{a.name}': {len(a.paths)} images, domain B '{b.name}': {len(b.paths)} images; "
              f"device {trainer.device}, precision {trainer.precision}"
              + (f"; {world} processes, {c.batch_size * world} images a step" if world > 1 else "")
              + (f"; resuming at step {trainer.step}, epoch {trainer.epoch}" if state else ""))
        print(f"CPU threads: {cpu_threads.describe()}")
        if recipe:
            print(recipe)
        if publish.push_to_hub:
            reverse = publish.reverse_repo_id or reverse_repo_id(publish.hub_repo_id, config.name_a, config.name_b)
            print(f"when training finishes, publishing to {publish.hub_repo_id} and {reverse} "
                  "(--hub-repo-id, --reverse-repo-id to choose)")

    sampler = EpochSampler(len(dataset), seed=c.seed, epoch_size=c.epoch_size or None, rank=trainer.rank,
                           world_size=world)
    # its own generator: each epoch's iterator draws a seed for its workers, which from the global generator would
    # shift the training's random numbers (the cycle noise) by one draw at every resume
    loader = DataLoader(dataset, batch_size=c.batch_size, sampler=sampler, num_workers=c.num_workers,
                        pin_memory=trainer.device.type == "cuda", persistent_workers=c.num_workers > 0,
                        generator=torch.Generator().manual_seed(c.seed))
    steps_per_epoch = math.ceil(sampler.epoch_size // world / c.batch_size)
    total_epochs = c.epochs + c.epochs_decay
    total_steps = total_epochs * steps_per_epoch
    if c.max_steps:
        total_steps = min(total_steps, c.max_steps)
    if main_rank:
        print(f"{total_epochs} epochs of {steps_per_epoch:,} steps: {total_steps:,} steps"
              + (f", {total_steps - trainer.step:,} to go" if trainer.step else "")
              + f"; the estimated duration follows after the first {TIMED_STEPS + 1} steps")
    timing_from = None  # (step, time) after the first step of this process, which compiles
    log_file, log = open_loss_log(out / "losses.csv", trainer.step) if main_rank else (None, None)
    stop = StopFlag()
    stopping = False  # a stop request seen by any rank: all ranks stop after the same step

    command = shlex.join(["python", "train/run.py", *(sys.argv[1:] if argv is None else argv)])
    trainer.sessions.append({"command": command, "machine": describe_machine(),
                             "started": datetime.now().isoformat(timespec="seconds"), "from_step": trainer.step,
                             "to_step": trainer.step, "seconds": 0, "threads": cpu_threads.describe()})
    session_start = time.monotonic()

    def clock():  # this process's share of the run, as of now, for the checkpoint and training.json
        trainer.sessions[-1].update(to_step=trainer.step, seconds=round(time.monotonic() - session_start),
                                    threads=cpu_threads.describe())

    def save(reason: str):
        clock()
        trainer.save_checkpoint(out / "checkpoint.pt")  # every rank: it gathers their pools
        if main_rank:
            dirs = save_generators(trainer, out)
            if trainer.ema:  # the trained weights too, for comparing with the average
                save_generators(trainer, out / "raw", raw=True)
            tqdm.write(f"step {trainer.step}: {reason}; saved checkpoint.pt, {', '.join(d.name for d in dirs)}")

    def snapshot():
        clock()
        if main_rank:
            save_generators(trainer, out / "snapshots" / f"step{trainer.step:07d}")

    def sample():
        if main_rank:
            grid = sample_grid(*trainer.generators_to_save(), fixed_A, fixed_B, trainer.precision)
            grid = label_grid(grid, GRID_COLUMNS[c.attention], grid_notes(c, trainer.step, len(fixed_A)))
            grid.save(out / "samples" / f"epoch{trainer.epoch:03d}_step{trainer.step:07d}.png")
            write_reports(out)  # losses.png and samples.gif, as of now

    def out_of_steps():
        return bool(c.max_steps) and trainer.step >= c.max_steps

    status = 0
    try:
        while trainer.epoch < total_epochs and not stopping and not out_of_steps():
            sampler.set_epoch(trainer.epoch, start=trainer.batch_in_epoch * c.batch_size * world)
            # counted by hand after each step: a bar wrapped round the loader counts a step only when the next
            # batch is asked for, so a run stopped by --max-steps or Ctrl-C showed one step fewer than it made
            bar = tqdm(total=steps_per_epoch, initial=trainer.batch_in_epoch, disable=not main_rank,
                       desc=f"epoch {trainer.epoch + 1}/{total_epochs}", dynamic_ncols=True)
            for batch in loader:
                cpu_threads.update()
                losses = trainer.train_step(batch["A"], batch["B"])  # averaged over the ranks
                bar.update()
                if main_rank:
                    log.writerow({"step": trainer.step, "epoch": trainer.epoch, "lr": f"{trainer.lr:.6g}",
                                  **{k: f"{v:.5f}" for k, v in losses.items()}})
                    log_file.flush()
                    bar.set_postfix(G=f"{losses['G']:.3f}", D_A=f"{losses['D_A']:.3f}",
                                    D_B=f"{losses['D_B']:.3f}", cyc=f"{losses['cycle_A'] + losses['cycle_B']:.3f}")
                if main_rank:
                    timing_from = timing_from or (trainer.step, time.monotonic())
                    if trainer.step - timing_from[0] == TIMED_STEPS:
                        tqdm.write(duration_estimate(time.monotonic() - timing_from[1], total_steps - trainer.step))
                if c.sample_every and trainer.step % c.sample_every == 0:
                    sample()
                if c.snapshot_every and trainer.step % c.snapshot_every == 0:
                    snapshot()
                stopping = distributed.any_rank(stop.requested)
                if out_of_steps() or stopping:
                    break
                if c.checkpoint_every and trainer.step % c.checkpoint_every == 0:
                    save("checkpoint")
            bar.close()
            if trainer.batch_in_epoch >= steps_per_epoch:
                trainer.end_epoch()
                sample()
                if not (out_of_steps() or stopping):
                    save(f"end of epoch {trainer.epoch}, lr now {trainer.lr:.3g}")
        if not any((out / "samples").glob(f"*_step{trainer.step:07d}.png")):
            sample()  # whatever ended the run, its last state has a sample grid
        if out_of_steps():
            save(f"reached --max-steps {c.max_steps}")
        elif stopping:
            save("stopped on request; continue with --resume")
            status = 130
        else:
            save("training finished")
            if c.teach_mask_steps and c.drawn_masks() and main_rank and not teach_masks(trainer, out, stop):
                status = 130
        if status == 0 and publish.push_to_hub and main_rank:
            folders = [out / f"{G.source_domain}2{G.target_domain}" for G in (trainer.G_AB, trainer.G_BA)]
            status = push(folders, publish.hub_repo_id, out / "eval.json", publish)
    except ValueError as e:  # e.g. an unreadable teach.pt
        print(f"error: {e}", file=sys.stderr)
        status = 2
    except DivergenceError as e:
        last = out / "checkpoint.pt"
        if main_rank:
            print(f"error: {e}.\nThe last good checkpoint is kept: {last if last.exists() else 'none yet'}. "
                  "Try a lower --lr, or --precision fp32.", file=sys.stderr)
        status = 1
    finally:
        if log_file:
            log_file.close()
        stop.restore()
        distributed.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
