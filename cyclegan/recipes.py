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

PAPER = Recipe("paper", "Zhu et al. 2017 exactly, at 128x128: the ResNet generator (ngf 64, 6 blocks), 100 + 100 "
                        "epochs of the whole data set (about 1.8 million steps on CelebA's black/blond faces)", {})
CPU = Recipe(
    "cpu",
    "the shipped pair's recipe in one run from random weights: the attention generator at ngf 32, 20 epochs of "
    "1,000 image pairs (20,000 steps; lr 2e-4 to step 10,000, then decaying linearly), the mask held for the "
    "first 3,000 steps, the priors of the shipped pair's fine-tuning stages from step 10,000; 6-7 hours on "
    "2 CPU cores without AMX (1.0-1.25 s a step), snapshots every 500 steps for train/evaluate.py --snapshots",
    dict(ATTENTION, **PRIORS, priors_start=10_000, ngf=32, n_blocks=6, epoch_size=1000, epochs=10,
         epochs_decay=10, sample_every=250, checkpoint_every=250, snapshot_every=500),
)
GPU = Recipe(
    "gpu",
    "the paper's width and schedule (ngf 64, 100 + 100 epochs of the whole data set) with the cpu recipe's "
    "attention generator and priors, the priors from the start of the lr decay (step 889,500 = 100 epochs of "
    "CelebA's 8,895 black-haired training faces); days on one GPU",
    dict(ATTENTION, **PRIORS, priors_start=889_500, snapshot_every=10_000),
)
RECIPES = {r.name: r for r in (CPU, GPU, PAPER)}


def describe(recipe: Recipe) -> str:
    """One line for --help and the run's log: what the recipe is and every setting it makes."""
    settings = ", ".join(f"{k}={v}" for k, v in recipe.settings.items()) or "TrainConfig's defaults"
    return f"{recipe.name} = {recipe.about} ({settings})"
