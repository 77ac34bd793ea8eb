"""TrainConfig: every setting of a training run, with the paper's values as defaults.

Named sets of them are the recipes (cyclegan/recipes.py); train/run.py turns each field into a flag.
"""

from dataclasses import dataclass, fields
from pathlib import Path

# The hand-drawn hair of 689 CelebA train faces shipped with this checkout (train/draw_mask.py; issue [16])
DRAWN_TRAIN_MASKS = Path(__file__).resolve().parent.parent / "hair_masks" / "train.json"


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults are the paper's unless said otherwise."""

    # data
    celeba_root: str = ""  # CelebA in the Kaggle layout; or give data_a and data_b
    attr_a: str = "Black_Hair"  # CelebA attribute of domain A (attr_a = 1 and attr_b = -1)
    attr_b: str = "Blond_Hair"
    data_a: str = ""  # a folder of domain-A images (instead of celeba_root)
    data_b: str = ""
    name_a: str = ""  # domain names used for the saved models; default from attribute/folder
    name_b: str = ""
    image_size: int = 128  # CelebA faces are 178 px wide; 128 is the paper's small setting
    balance_male: str = "auto"  # auto | on | off: equal men and women per domain; auto = on for CelebA
    preprocess: str = "auto"  # celeba | resize_crop | resize; auto = celeba for CelebA, else resize_crop
    max_images: int = 0  # use only the first N images of each domain (0 = all), for quick trials
    cache: str = "auto"  # auto | on | off: decode every image once and keep it in memory as uint8
    num_workers: int = 0  # loader processes; with the cache an item is a slice, so none are needed
    # networks (sec. 7.2)
    ngf: int = 64  # generator filters in the first layer
    n_blocks: int = 6  # residual blocks: the paper uses 6 at 128x128, 9 at 256x256
    upsample: str = "deconv"  # deconv (the paper) | resize_conv (no checkerboard artefacts)
    attention: bool = False  # attention-guided generators: output = M * C + (1 - M) * x (see Generator)
    recolour: bool = False  # recolouring generators: C = T(x), a smooth field of colour transforms (implies attention)
    cell: int = 4  # recolour only: side in pixels of the transform field's cells
    bins: int = 1  # recolour only: knots of the field's luminance axis (HDRNet's bilateral grid; 1 = none)
    guided_radius: int = 0  # recolour only: the mask as a colour guided filter of windows 2r + 1 (0 = the raw mask)
    guided_eps: float = 0.01  # recolour only: the guided filter's regulariser (squared [-1, 1] units)
    init_from: str = ""  # start the generators from a folder holding <a>2<b>/ and <b>2<a>/ (e.g. weights)
    match_colour: str = "off"  # auto | on | off: the colour under the guided mask is real target hair's, measured on
    # the train split as the run starts (cyclegan.transform's matched colour); auto = on for CelebA and a guided mask
    chroma_kept: float = 0.3  # match_colour only: share of the hair's own a*, b* variation kept around the target's
    colour_targets: dict = None  # match_colour: {"AB": G_AB's target, "BA": ...} (Generator.set_colour_target), set
    # by train/run.py when the run starts and kept by --resume; not a flag
    ndf: int = 64  # discriminator filters in the first layer
    n_layers_d: int = 3  # 3 gives the 70x70 PatchGAN
    # objective (sec. 3, 4, 5.2)
    lambda_cycle: float = 10.0  # weight of the cycle loss (Eq. 3)
    lambda_cycle_b: float = 0.0  # weight of the B -> A -> B cycle alone (the reference's lambda_B); 0 = lambda_cycle
    lambda_identity: float = 0.5  # identity loss weight, as a fraction of lambda_cycle (reference: 0.5)
    cycle_noise: float = 0.0  # std of noise on the translations before they are translated back (0 = off, the paper)
    pool_size: int = 50  # history of generated images shown to D (Shrivastava et al. 2017)
    lambda_mask: float = 0.0  # attention only: weight of the mask's L1 sparsity from priors_start (0 = off; see losses)
    lambda_mask_tv: float = 0.0  # attention only: weight of the mask's total variation (0 = off)
    lambda_mask_face: float = 0.0  # attention only: weight of the mask's mean on the face box (aligned faces; 0 = off)
    lambda_mask_edge: float = 0.0  # attention only: weight of the change made where the mask is partly on (0 = off)
    lambda_drawn: float = 0.0  # attention only: weight of the masks' cross-entropy against hand-drawn hair (train_masks; 0 = off)
    train_masks: str = ""  # drawn-mask file of CelebA train faces for lambda_drawn and teach_mask_steps; auto = this
    # checkout's hair_masks/train.json when training on CelebA, else none (see drawn_masks)
    teach_mask_steps: int = 0  # after the last GAN step: each generator's mask taught this many steps on the drawn
    # train faces alone (training.MaskTeacher, as train/teach_mask.py); 0 = off
    mask_gain: float = 1.0  # the saved generators' mask_gain (networks.Generator: the mask steepened); trained at 1
    lambda_colour: float = 0.0  # attention only: weight of the recoloured hair's colour against real hair's from priors_start (0 = off)
    mask_start: int = 0  # attention only: steps at the start with the mask held at 1 and untrained (see Trainer.mask_floor)
    mask_warmup: int = 0  # attention only: steps over which the mask's floor falls from 1 to 0 (0 = none; see Trainer)
    detach_mask_in_cycle: bool = False  # attention only: the cycle loss trains the content, not the forward mask
    detach_mask_in_identity: bool = False  # attention only: the identity loss trains the content, not the mask
    d_negatives: bool = False  # D_B also learns real A images as fakes, D_A real B ones: an unchanged image is no translation
    d_warmup: int = 0  # steps at the start that train only the discriminators (for --init-from; 0 = none)
    priors_start: int = 0  # step from which lambda_mask_face, lambda_mask_edge, cycle_noise, lambda_cycle_b apply (see Trainer.priors_on)
    ema_decay: float = 0.999  # generator weight averaging (Yazici et al. 2019); 0 = off. Saved models are the average
    # optimisation (sec. 4)
    lr: float = 2e-4  # Adam learning rate
    beta1: float = 0.5  # Adam beta1; 0.5 steadies GAN training (Radford et al. 2016)
    beta2: float = 0.999
    batch_size: int = 1  # the paper trains with batch 1
    epochs: int = 100  # epochs at the initial learning rate
    epochs_decay: int = 100  # epochs of linear decay to zero after that
    epoch_size: int = 0  # images per epoch (0 = max(|A|, |B|)); smaller gives more lr updates and samples
    max_steps: int = 0  # stop after this many steps (0 = run all epochs), saving as at the end
    # machine
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto | bf16 | fp16 | fp32 (see cyclegan.device)
    channels_last: str = "auto"  # auto | on | off; auto = NHWC on CUDA and for bf16 (see cyclegan.device)
    compile: bool = True  # torch.compile the generators: 5-25% faster steps here after a 1-minute compile
    threads: str = "auto"  # CPU threads: auto = the cores other processes leave free (cyclegan.device.CpuThreads), or N
    dist_timeout: int = 600  # seconds; under torchrun a rank that stops answering fails the run after this
    seed: int = 0
    # output
    out: str = "runs/black2blond"
    sample_every: int = 500  # steps between sample grids (and one at each epoch end)
    checkpoint_every: int = 1000  # steps between checkpoints (and one at each epoch end)
    snapshot_every: int = 0  # steps between kept copies of the generators in snapshots/ (0 = none), for selection

    def validate(self) -> None:
        """ValueError naming the first setting that cannot work, alone or with the others."""
        c = self
        if c.lambda_colour and not c.attention:
            raise ValueError("lambda_colour compares the hair the mask recolours with real hair: it needs attention")
        if c.lambda_colour < 0:
            raise ValueError(f"lambda_colour must be >= 0, got {c.lambda_colour}")
        if (c.lambda_mask or c.lambda_mask_tv or c.lambda_mask_face or c.lambda_mask_edge) and not c.attention:
            raise ValueError("lambda_mask, lambda_mask_tv, lambda_mask_face and lambda_mask_edge regularise the "
                             "attention mask: they need attention")
        if c.recolour and not c.attention:
            raise ValueError("recolour needs attention: the recolouring is applied where the mask is on")
        if (c.bins != 1 or c.guided_radius) and not c.recolour:
            raise ValueError("bins and guided_radius shape the recolouring transform: they need recolour")
        if c.train_masks != "auto" and (c.lambda_drawn or c.teach_mask_steps) and not (
                c.attention and c.train_masks and c.celeba_root):
            raise ValueError("lambda_drawn and teach_mask_steps teach the attention mask on drawn CelebA train faces: "
                             "they need attention, train_masks and celeba_root")
        if c.teach_mask_steps and c.drawn_masks() and not (c.recolour and c.guided_radius):
            raise ValueError("teach_mask_steps teaches the guided mask of a recolouring generator: it needs recolour "
                             "and guided_radius > 0")
        if c.drawn_masks() and (c.lambda_drawn or c.teach_mask_steps) and not Path(c.drawn_masks()).is_file():
            raise ValueError(f"no drawn-mask file at {c.drawn_masks()} (train_masks)")
        if c.lambda_drawn < 0 or c.teach_mask_steps < 0:
            raise ValueError(f"lambda_drawn and teach_mask_steps must be >= 0, got {c.lambda_drawn} and "
                             f"{c.teach_mask_steps}")
        from .networks import check_mask_gain  # the saved generators' own check
        check_mask_gain(c.mask_gain, c.guided_radius if c.recolour else 0)
        if c.match_colour not in ("auto", "on", "off"):
            raise ValueError(f"match_colour must be auto, on or off, got {c.match_colour!r}")
        if c.match_colour == "on" and not (c.recolour and c.guided_radius):
            raise ValueError("match_colour paints real hair's colour under the guided mask: it needs recolour and "
                             "guided_radius > 0")
        if not 0 <= c.chroma_kept <= 1:
            raise ValueError(f"chroma_kept must be in [0, 1], got {c.chroma_kept}")
        if c.cycle_noise < 0:
            raise ValueError(f"cycle_noise must be >= 0, got {c.cycle_noise}")
        if c.d_warmup < 0 or c.priors_start < 0:
            raise ValueError(f"d_warmup and priors_start must be >= 0, got {c.d_warmup} and {c.priors_start}")
        if c.mask_start < 0 or c.mask_warmup < 0:
            raise ValueError(f"mask_start and mask_warmup must be >= 0, got {c.mask_start} and {c.mask_warmup}")
        if c.channels_last not in ("auto", "on", "off"):
            raise ValueError(f"channels_last must be auto, on or off, got {c.channels_last!r}")

    def drawn_masks(self) -> str:
        """The drawn-mask file the run teaches its masks on (train_masks, auto resolved), "" for none."""
        if self.train_masks != "auto":
            return self.train_masks
        return str(DRAWN_TRAIN_MASKS) if self.celeba_root and self.attention else ""

    def matches_colour(self) -> bool:
        """Whether the run's generators paint real target hair's colour (match_colour, auto resolved)."""
        return self.match_colour == "on" or (self.match_colour == "auto" and bool(self.celeba_root)
                                             and self.recolour and self.guided_radius > 0)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}")
        return cls(**d)
