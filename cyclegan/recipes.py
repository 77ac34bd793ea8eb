"""Recipes: named, documented sets of training settings (`train/run.py --recipe`).

A recipe sets fields of `TrainConfig`; the fields it leaves alone keep TrainConfig's
defaults, which are the paper's. Flags given on the command line override both.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    about: str  # what it trains, how long it takes and on what
    settings: dict  # TrainConfig fields and their values


# The attention generator (Mejjati et al. 2018) as the shipped pair uses it: output = M * C + (1 - M) * x,
# the mask held at 1 for 3,000 steps and then handed over in 300, the masks trained only by the adversarial
# loss and their priors (not by the cycle or identity losses), D shown unchanged photos as fakes.
ATTENTION = dict(upsample="resize_conv", attention=True, mask_start=3000, mask_warmup=300, d_negatives=True,
                 detach_mask_in_cycle=True, detach_mask_in_identity=True, lambda_mask_tv=0.5)
# The terms the shipped pair's later stages added, switched on at priors_start (Trainer.priors_on): the mask kept off
# the face box, no change where the mask is only partly on, noise before the cycle, a heavier B -> A -> B cycle.
PRIORS = dict(lambda_mask_face=1.0, lambda_mask_edge=10.0, cycle_noise=0.1, lambda_cycle_b=15.0)

# The recolouring generator (cyclegan/transform.py): a bilateral grid of colour transforms with 3 luminance knots
# and a guided-filter mask, trained on whole aligned CelebA images (hair around and below the face) at 64 px
# wide: the detail comes from the photo, so the network runs small. From priors_start the masks also pay for
# every pixel they change (L1 sparsity), against the tint on faces and backgrounds (off with matched colour).
# (--preprocess auto then reads CelebA's whole aligned images: celeba_full)
RECOLOUR = dict(ATTENTION, recolour=True, bins=3, guided_radius=2, guided_eps=0.01, cell=4)
# Matched colour (issue [16]): the colour under the mask is real target hair's, measured as the run starts, and the
# network learns only where. Without the mask's sparsity and the edge term, which shrink masks that paint a full
# colour (a fine-tune of the field pair with them off: success 86 / 97% against 83 / 84%; docs/experiments.md).
# A finer mask: cells of 2 and eps 0.001, with which the drawn masks themselves score IoU 0.82 / 0.84 through the
# field against 0.77 / 0.78 with cells of 4 and eps 0.01 (the field's colour transforms are unused with matched colour).
MATCHED = dict(match_colour="auto", lambda_mask=0.0, lambda_mask_edge=0.0, cell=2, guided_eps=0.001)
# Where hair is, taught (issue [16]): the masks pay a cross-entropy against the 689 hand-drawn train faces shipped in
# hair_masks/train.json during the GAN, then are taught on them alone (MaskTeacher) after it, and are saved steepened
# (mask_gain 2: a taught mask is soft where unsure, and a soft mask tints). On CelebA only (train_masks auto).
DRAWN = dict(lambda_drawn=10.0, train_masks="auto", teach_mask_steps=750, mask_gain=2.0)

PAPER = Recipe("paper", "Zhu et al. 2017 exactly, at 128x128: the ResNet generator (ngf 64, 6 blocks), 100 + 100 "
                        "epochs of the whole data set (about 1.8 million steps on CelebA's black/blond faces)", {})
CPU = Recipe(
    "cpu",
    "the recolouring pair with matched colour from random weights: 64 px wide whole aligned faces (64x80), ngf 32, "
    "20 epochs of 1,000 image pairs (20,000 steps; lr 2e-4 to step 10,000, then decaying linearly), real hair's "
    "colour measured first (a minute), the masks also taught on hand-drawn hair, the mask held for the first 1,500 "
    "steps, the priors from step 4,000; about 4.5 hours on 2 CPU cores without AMX (0.64 s a step in fp32 while the "
    "mask is held, 0.84 s with the drawn faces' term; torch.compile off: slower here after a 9-minute compile), "
    "snapshots every 500 steps for train/evaluate.py --snapshots; then each mask taught 750 steps on the drawn train "
    "faces alone (about 30 minutes)",
    dict(RECOLOUR, **{**PRIORS, **MATCHED, **DRAWN}, mask_start=1500, mask_warmup=300, priors_start=4000, image_size=64, ngf=32,
         n_blocks=6, epoch_size=1000, epochs=10, epochs_decay=10, sample_every=250, checkpoint_every=250,
         snapshot_every=500, compile=False),
)
GPU = Recipe(
    "gpu",
    "the cpu recipe's matched-colour recolouring pair at the paper's width and schedule (ngf 64, 128 px wide whole faces, 100 + "
    "100 epochs of the whole data set), the priors from step 20,000; a day or more on one GPU",
    dict(RECOLOUR, **{**PRIORS, **MATCHED, **DRAWN}, mask_start=5000, mask_warmup=500, priors_start=20_000,
         image_size=128, snapshot_every=10_000),
)
ATTENTION_CPU = Recipe(
    "attention-cpu",
    "the staged attention pair's recipe (the shipped weights until issue [13]) in one run from random weights: the "
    "attention generator at ngf 32 on 128 px centre squares, 20 epochs of 1,000 image pairs (20,000 steps), the "
    "mask held for 3,000 steps, the priors from step 10,000; 6-7 hours on 2 CPU cores without AMX",
    dict(ATTENTION, **PRIORS, priors_start=10_000, ngf=32, n_blocks=6, epoch_size=1000, epochs=10,
         epochs_decay=10, sample_every=250, checkpoint_every=250, snapshot_every=500),
)
RECIPES = {r.name: r for r in (CPU, GPU, ATTENTION_CPU, PAPER)}


def describe(recipe: Recipe) -> str:
    """One line for --help and the run's log: what the recipe is and every setting it makes."""
    settings = ", ".join(f"{k}={v}" for k, v in recipe.settings.items()) or "TrainConfig's defaults"
    return f"{recipe.name} = {recipe.about} ({settings})"
