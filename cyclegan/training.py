"""CycleGAN training: the configuration, the image history pool, weight averaging, one training step.

A = the first domain (black hair), B = the second (blond). G_AB = the paper's G,
G_BA = F, D_A = D_X, D_B = D_Y. The outer loop (epochs, logging, samples) lives in
train/run.py.
"""

import copy
import functools
import math
import random
from dataclasses import asdict
from itertools import chain
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from . import distributed
from .losses import (colour_distribution_loss, cycle_loss, discriminator_loss, drawn_mask_loss, gan_loss,
                     identity_loss, mask_edge_loss, mask_face_loss, mask_smoothness_loss, mask_sparsity_loss)
from .checkpoints import CHECKPOINT_VERSION, write_atomically
from .config import TrainConfig
from .networks import Discriminator, Generator, blend
from .data import augment_drawn
from .evaluation import drawn_training_set
from .device import autocast, maybe_compile, resolve_device, resolve_precision, use_channels_last

def lr_factor(epoch: int, epochs: int, epochs_decay: int) -> float:
    """Multiplier of the initial lr in 0-based `epoch`: 1 for `epochs` epochs, then linear decay.

    As the reference's "linear" policy: 1 - max(0, epoch + 1 - epochs) / (epochs_decay + 1),
    so in a 100 + 100 run epoch 99 still has the full lr, epoch 100 has 100/101 of it and
    epoch 199, the last, 1/101; the lr would reach zero one epoch after the end.
    """
    return 1.0 - max(0, epoch + 1 - epochs) / float(epochs_decay + 1)


class ImagePool:
    """A history of generated images for the discriminator updates (sec. 4; Shrivastava et al. 2017).

    Until it holds `pool_size` images, every query image is stored and returned. Then
    each query image is, with probability 1/2, returned as it is; otherwise a random
    stored image is returned in its place and the query image takes its slot.
    pool_size = 0 turns the pool off.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0):
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images = []  # each (1, C, H, W), detached
        self.rng = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) newly generated -> (N, C, H, W) to show D."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach().split(1):
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(1, generator=self.rng).item() < 0.5:
                k = int(torch.randint(len(self.images), (1,), generator=self.rng))
                out.append(self.images[k])
                self.images[k] = image
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": [im.cpu() for im in self.images], "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict, device) -> None:
        self.images = [im.to(device) for im in state["images"]]
        self.rng.set_state(state["rng"])


class EMA:
    """An exponential moving average of a network's weights (Yazici et al. 2019, "The Unusual
    Effectiveness of Averaging in GAN Training").

    After each generator step: average <- d * average + (1 - d) * weights, with
    d = min(decay, (1 + step) / (10 + step)), so the first steps, when the average would
    mostly remember a random initialisation, are not over-weighted; with warmup=False
    d = decay from the first step, for weights that start trained (--init-from), whose
    average should remember them. GAN weights orbit their equilibrium rather than settle;
    the average sits nearer the middle, which shows as fewer artefacts that come and go
    from one step to the next.

    Args:
        net (`nn.Module`): the network to average; the average starts as a copy of it.
        decay (`float`): d, e.g. 0.999 (a horizon of about 1,000 steps).
        warmup (`bool`, defaults to True): the lower d of the first steps, for a random start.
    """

    def __init__(self, net: nn.Module, decay: float, warmup: bool = True):
        if not 0 < decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.average = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step)) if self.warmup else self.decay
        averages, weights = list(self.average.parameters()), [p.detach() for p in net.parameters()]
        torch._foreach_lerp_(averages, weights, 1 - d)


def init_generator(G: Generator, folder) -> None:
    """Start G from the weights of a save_pretrained folder (`--init-from`), strictly.

    A paper generator's weights can start an attention generator: its last layer's
    content filters are copied and the mask filter keeps its initialisation. An attention
    generator's can start a recolouring one: its mask filter is copied and the transform
    starts as the identity. A generator with matched colour (hair_lightness) hands it on. Anything
    else that differs (ngf, n_blocks, upsample) is an error naming the tensors.
    """
    folder = Path(folder)
    source = Generator.from_pretrained(folder)
    if source.source_domain != G.source_domain or source.target_domain != G.target_domain:
        raise ValueError(f"--init-from: {folder} maps {source.source_domain} -> {source.target_domain}, "
                         f"not {G.source_domain} -> {G.target_domain}")
    if source.attention and not G.attention:
        raise ValueError(f"--init-from: {folder} is an attention generator; pass --attention to start from it")
    if source.recolour and not G.recolour:
        raise ValueError(f"--init-from: {folder} is a recolouring generator; pass --recolour to start from it")
    state, own = source.state_dict(), G.state_dict()
    if G.recolour and not source.recolour:
        # an attention generator starts a recolouring one: its mask filter is kept, the transform's
        # 12 x bins filters start at the identity (their initialisation)
        for k in list(own)[-2:]:
            if state[k].shape[1:] == own[k].shape[1:] and source.attention:
                state[k] = torch.cat([own[k][:-1], state[k][-1:]])
    elif G.attention and not source.attention:
        for k in list(own)[-2:]:  # the final conv's weight and bias: 4 output channels here, 3 in the source
            if state[k].shape[1:] == own[k].shape[1:]:  # else load_state_dict below names the mismatch
                state[k] = torch.cat([state[k], own[k][state[k].shape[0]:]])
    try:
        G.load_state_dict(state)
    except RuntimeError as e:  # torch names every missing, unexpected and misshapen tensor
        raise ValueError(f"--init-from: {folder} has another architecture (ngf, n_blocks, upsample?): {e}") from e
    if source.colour_target is not None:  # matched colour is part of the model: the run keeps training with it
        G.set_colour_target(source.colour_target)


class DivergenceError(RuntimeError):
    """A loss or a weight became NaN or infinite: training has diverged."""


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class Generators(nn.Module):
    """G_AB and G_BA as one module: one forward and one backward per step for DistributedDataParallel.

    forward(real_A, real_B) -> fake_B, fake_A, rec_A, rec_B, idt_B, idt_A, mask_B, mask_A
    (idt_* None without the identity loss; mask_B, the mask of G_AB(real_A), and mask_A
    None without attention). With detach_mask the reconstructions start from the same
    translations with their masks detached: the cycle loss then trains the content and the
    reverse generator but cannot close the forward mask; with detach_idt_mask the identity
    mappings do not train the masks either. With both, the masks' only teachers are the
    adversarial loss and the mask priors. With forward's cycle_noise the translations are translated
    back with Gaussian noise of that standard deviation added where their masks are on
    (everywhere for the paper's generator; Bashkirova et al. 2019). Every generator call has the same batch size, so
    torch.compile builds one graph per image size (batching real_A with real_B for the
    identity mapping compiled twice as long and ran no faster). Using each generator
    several times in one forward is fine for DDP: a parameter's gradients are summed
    before its all-reduce hook fires.
    """

    def __init__(self, G_AB: nn.Module, G_BA: nn.Module, identity: bool = True, attention: bool = False,
                 detach_mask: bool = False, detach_idt_mask: bool = False):
        super().__init__()
        self.G_AB, self.G_BA, self.identity, self.attention = G_AB, G_BA, identity, attention
        self.detach_mask, self.detach_idt_mask = detach_mask, detach_idt_mask

    def forward(self, real_A: torch.Tensor, real_B: torch.Tensor, mask_floor=None, cycle_noise: float = 0.0):
        """cycle_noise: the noise's standard deviation this step (the Trainer switches it on at priors_start)."""
        mask_B = mask_A = None
        if self.attention:  # every call with the same mask floor (a 0-d tensor: no recompiling as it changes)
            G_AB = functools.partial(self.G_AB, mask_floor=mask_floor)
            G_BA = functools.partial(self.G_BA, mask_floor=mask_floor)
            fake_B, mask_B, content_B = G_AB(real_A, return_content=True)
            fake_A, mask_A, content_A = G_BA(real_B, return_content=True)
        else:
            G_AB, G_BA = self.G_AB, self.G_BA
            fake_B, fake_A = G_AB(real_A), G_BA(real_B)
        if self.attention and self.detach_mask:  # the same values, without the path to the masks
            seen_B, seen_A = blend(content_B, mask_B.detach(), real_A), blend(content_A, mask_A.detach(), real_B)
        else:
            seen_B, seen_A = fake_B, fake_A
        if cycle_noise:  # no room to hide the input in faint patterns where the translation changed the photo
            seen_B, seen_A = self._add_noise(seen_B, mask_B, cycle_noise), self._add_noise(seen_A, mask_A, cycle_noise)
        rec_A, rec_B = G_BA(seen_B), G_AB(seen_A)
        idt_B = idt_A = None
        if self.identity and self.attention and self.detach_idt_mask:
            idt_B, idt_A = self._identity(G_AB, real_B), self._identity(G_BA, real_A)
        elif self.identity:
            idt_B, idt_A = G_AB(real_B), G_BA(real_A)
        return fake_B, fake_A, rec_A, rec_B, idt_B, idt_A, mask_B, mask_A

    @staticmethod
    def _add_noise(x, mask, std: float):
        """x + N(0, std^2) where the mask is on (everywhere without one)."""
        return x + std * torch.randn_like(x) * (1 if mask is None else mask.detach())

    @staticmethod
    def _identity(G, x):
        """G(x) with its mask detached: the identity loss then trains only the content."""
        _, mask, content = G(x, return_content=True)
        return blend(content, mask.detach(), x)


class Discriminators(nn.Module):
    """D_A and D_B as one module: forward(real_A, fake_A, real_B, fake_B) -> the four PatchGAN maps.

    Real and fake go through each D as one batch (instance norm keeps the images independent);
    the fakes may be more images than the reals (see TrainConfig.d_negatives).
    """

    def __init__(self, D_A: nn.Module, D_B: nn.Module):
        super().__init__()
        self.D_A, self.D_B = D_A, D_B

    def forward(self, real_A, fake_A, real_B, fake_B):
        real_A_pred, fake_A_pred = self.D_A(torch.cat([real_A, fake_A])).split([len(real_A), len(fake_A)])
        real_B_pred, fake_B_pred = self.D_B(torch.cat([real_B, fake_B])).split([len(real_B), len(fake_B)])
        return real_A_pred, fake_A_pred, real_B_pred, fake_B_pred


class Trainer:
    """Owns G_AB, G_BA, D_A, D_B, their optimisers, lr schedules, pools and grad scalers.

    `train_step(real_A, real_B)` does one CycleGAN update and returns the losses;
    `end_epoch()` advances the lr schedule. `state_dict()` holds everything needed to
    resume exactly; `save_checkpoint` writes it atomically.

    Args:
        config (`TrainConfig`): the run's settings; name_a and name_b name the domains.
    """

    def __init__(self, config: TrainConfig):
        self.config = c = config
        c.validate()
        self.device = resolve_device(c.device)
        self.precision = resolve_precision(c.precision, self.device)
        torch.manual_seed(c.seed)
        gen = dict(ngf=c.ngf, n_blocks=c.n_blocks, image_size=c.image_size, upsample=c.upsample,
                   attention=c.attention, recolour=c.recolour, cell=c.cell, bins=c.bins, guided_radius=c.guided_radius,
                   guided_eps=c.guided_eps)
        self.G_AB = Generator(**gen, source_domain=c.name_a or "A", target_domain=c.name_b or "B")
        self.G_BA = Generator(**gen, source_domain=c.name_b or "B", target_domain=c.name_a or "A")
        if c.init_from:
            for G in (self.G_AB, self.G_BA):
                init_generator(G, Path(c.init_from) / f"{G.source_domain}2{G.target_domain}")
        # the drawn train faces the masks are taught on (lambda_drawn; issue [16]): a few dozen, kept in memory
        self.drawn = drawn_training_set(c.drawn_masks(), c.celeba_root, c.image_size, (c.name_a, c.name_b)) \
            if c.lambda_drawn and c.drawn_masks() else None
        if c.colour_targets:  # matched colour measured as the run started (train/run.py), kept by resume
            self.G_AB.set_colour_target(c.colour_targets["AB"])
            self.G_BA.set_colour_target(c.colour_targets["BA"])
        self.D_A = Discriminator(ndf=c.ndf, n_layers=c.n_layers_d)
        self.D_B = Discriminator(ndf=c.ndf, n_layers=c.n_layers_d)
        nhwc = use_channels_last(self.device, self.precision) if c.channels_last == "auto" else c.channels_last == "on"
        self.memory_format = torch.channels_last if nhwc else torch.contiguous_format
        for net in self.nets.values():
            net.to(self.device, memory_format=self.memory_format).train()
        # the averaged generators, which checkpoints keep and save_pretrained ships (None: ema_decay 0)
        # generators started from trained weights are averaged at the full decay from the first step
        self.ema = ({name: EMA(self.nets[name], c.ema_decay, warmup=not c.init_from) for name in ("G_AB", "G_BA")}
                    if c.ema_decay else None)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed image sizes: let cuDNN time its algorithms once
        # what train_step calls: wrappers sharing the parameters of self.nets. Only the
        # generators are compiled: compiling the discriminators too cost 15 s more per
        # training shape (two more graphs: frozen on fakes, training on real + pool) and
        # saved no measurable step time at 128 px on the 2-core CPU.
        self.fwd = {name: maybe_compile(net, c.compile and name.startswith("G")) for name, net in self.nets.items()}
        # each pair as one module, so that under torchrun DistributedDataParallel sees one
        # forward and one backward per step and averages the gradients across the ranks
        self.generators = Generators(self.fwd["G_AB"], self.fwd["G_BA"], identity=c.lambda_identity > 0,
                                     attention=c.attention, detach_mask=c.detach_mask_in_cycle,
                                     detach_idt_mask=c.detach_mask_in_identity)
        self.discriminators = Discriminators(self.fwd["D_A"], self.fwd["D_B"])
        self.world_size, self.rank = distributed.world_size(), distributed.rank()
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generators = DistributedDataParallel(self.generators, device_ids=ids, broadcast_buffers=False)
            self.discriminators = DistributedDataParallel(self.discriminators, device_ids=ids,
                                                          broadcast_buffers=False)

        betas = (c.beta1, c.beta2)
        self.opt_G = torch.optim.Adam(chain(self.G_AB.parameters(), self.G_BA.parameters()), lr=c.lr, betas=betas)
        self.opt_D = torch.optim.Adam(chain(self.D_A.parameters(), self.D_B.parameters()), lr=c.lr, betas=betas)
        # fp16 needs loss scaling against gradient underflow; one scaler per optimiser,
        # since G's and D's gradients have unrelated magnitudes. Disabled for bf16/fp32.
        fp16 = self.precision == "fp16"
        self.scaler_G = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_D = torch.amp.GradScaler(self.device.type, enabled=fp16)
        # one pair of pools per rank, each with its own random choices
        self.pool_A = ImagePool(c.pool_size, seed=c.seed + 2 * self.rank)
        self.pool_B = ImagePool(c.pool_size, seed=c.seed + 2 * self.rank + 1)
        self.step = 0  # optimisation steps done
        # one entry per process that trained this run, kept in the checkpoint: {"command", "machine", "started",
        # "from_step", "to_step", "seconds"} (train/run.py fills them; training.json reports them)
        self.sessions = []
        self.epoch = 0  # current epoch (0-based)
        self.batch_in_epoch = 0  # steps of the current epoch done (each takes batch_size x world_size images)
        self._set_lr()

    @property
    def nets(self) -> dict:
        return {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B}

    def autocast(self):
        return autocast(self.device, self.precision)

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)

    def train_step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict:
        """One update of both generators, then both discriminators.

        Args:
            real_A, real_B (`torch.Tensor`): (N, 3, H, W) in [-1, 1], unpaired.
        Returns:
            dict of float losses: G_AB, G_BA (adversarial), cycle_A, cycle_B, idt_A, idt_B, colour_A, colour_B,
            mask_A, mask_B (weighted), G (their sum), D_A, D_B (halved); with attention also
            M_A, M_B, the mean masks of the translations to A and to B (a diagnostic).
        """
        c = self.config
        D_A, D_B = self.fwd["D_A"], self.fwd["D_B"]  # the generator step uses them frozen, outside DDP
        real_A, real_B = self._to_device(real_A), self._to_device(real_B)
        # during d_warmup the generators only make fakes: fresh discriminators learn before they teach
        train_G = self.step >= c.d_warmup
        priors = self.priors_on()
        lambda_sparse, lambda_face, lambda_edge = (c.lambda_mask, c.lambda_mask_face, c.lambda_mask_edge) if priors \
            else (0.0, 0.0, 0.0)

        # 1. fakes and reconstructions: A -> B -> A and B -> A -> B; with the identity loss,
        # G_AB also maps real_B (it should change nothing) and G_BA real_A (see Generators)
        with self.autocast(), torch.set_grad_enabled(train_G):
            fake_B, fake_A, rec_A, rec_B, idt_B, idt_A, mask_B, mask_A = self.generators(
                real_A, real_B, mask_floor=self.mask_floor(), cycle_noise=c.cycle_noise if priors else 0.0)

        # 2. freeze the discriminators: the generator step must not train them
        set_requires_grad([self.D_A, self.D_B], False)

        # 3. the paper's generator losses: fool D (LSGAN, Eq. 1 with least squares), cycle back (Eq. 2),
        # keep target-domain images unchanged (identity, sec. 5.2)
        with self.autocast():
            pred_fake_B, pred_fake_A = D_B(fake_B), D_A(fake_A)
        losses = {
            "G_AB": gan_loss(pred_fake_B, True),
            "G_BA": gan_loss(pred_fake_A, True),
            "cycle_A": c.lambda_cycle * cycle_loss(real_A, rec_A),
            "cycle_B": (priors and c.lambda_cycle_b or c.lambda_cycle) * cycle_loss(real_B, rec_B),
        }
        if c.lambda_identity > 0:
            w = c.lambda_cycle * c.lambda_identity
            losses["idt_A"] = w * identity_loss(real_A, idt_A)
            losses["idt_B"] = w * identity_loss(real_B, idt_B)
        # 4. the attention masks' priors (Mejjati et al. 2018: sparsity and smoothness; this project's face box
        # and edge terms after priors_start; see losses.mask_*)
        if lambda_sparse or c.lambda_mask_tv or lambda_face or lambda_edge:
            for name, mask, real, fake in (("mask_A", mask_A, real_B, fake_A), ("mask_B", mask_B, real_A, fake_B)):
                losses[name] = (lambda_sparse * mask_sparsity_loss(mask) + c.lambda_mask_tv * mask_smoothness_loss(mask)
                                + lambda_face * mask_face_loss(mask) + lambda_edge * mask_edge_loss(real, fake, mask))
        # 5. the colour of the recoloured hair against real hair of the target colour (issue [16]): each fake's
        # masked pixels against the target domain's photos under the reverse generator's mask (their hair)
        if c.lambda_colour and priors:
            losses["colour_B"] = c.lambda_colour * colour_distribution_loss(fake_B, mask_B, real_B, mask_A)
            losses["colour_A"] = c.lambda_colour * colour_distribution_loss(fake_A, mask_A, real_A, mask_B)
        # 6. where hair is, taught on the drawn train faces (issue [16]): each generator's mask on one of them; not
        # while the mask is held at 1, which gives it no gradient (a third of a step's time saved there)
        if self.drawn and self.step >= c.mask_start:
            losses["drawn"] = c.lambda_drawn * self.drawn_loss()
        loss_G = sum(losses.values())
        losses["G"] = loss_G
        if c.attention:
            losses["M_A"], losses["M_B"] = mask_A.detach().float().mean(), mask_B.detach().float().mean()
        self._check_finite(losses)
        if train_G:
            self.opt_G.zero_grad(set_to_none=True)
            self.scaler_G.scale(loss_G).backward()
            self.scaler_G.step(self.opt_G)
            self.scaler_G.update()
            if self.ema:
                for name, ema in self.ema.items():
                    ema.update(self.nets[name], self.step)

        # 6. unfreeze the discriminators
        set_requires_grad([self.D_A, self.D_B], True)

        # 7. discriminators: real images vs. detached fakes from the history pools, loss halved;
        # with d_negatives the other domain's real images count as fakes too
        fake_B_pool = self.pool_B.query(fake_B.detach().float())
        fake_A_pool = self.pool_A.query(fake_A.detach().float())
        if c.d_negatives:
            fake_B_pool, fake_A_pool = torch.cat([fake_B_pool, real_A]), torch.cat([fake_A_pool, real_B])
        with self.autocast():
            real_A_pred, fake_A_pred, real_B_pred, fake_B_pred = self.discriminators(
                real_A, fake_A_pool, real_B, fake_B_pool)
            loss_D_A = discriminator_loss(real_A_pred, fake_A_pred)
            loss_D_B = discriminator_loss(real_B_pred, fake_B_pred)
        losses["D_A"], losses["D_B"] = loss_D_A, loss_D_B
        averaged = self._check_finite(losses)
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler_D.scale(loss_D_A + loss_D_B).backward()
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()

        self.step += 1
        self.batch_in_epoch += 1
        return averaged

    def drawn_loss(self) -> torch.Tensor:
        """The masks' binary cross-entropy against hand-drawn hair: G_AB's on a drawn face of domain A, G_BA's on one
        of B, each drawn at random and flipped at random, averaged (losses.drawn_mask_loss)."""
        total = 0.0
        for key, G in (("A", self.fwd["G_AB"]), ("B", self.fwd["G_BA"])):
            images, masks = self.drawn[key]
            i = int(torch.randint(len(images), ()))
            x, hair = images[i:i + 1], masks[i:i + 1]
            if torch.rand(()) < 0.5:
                x, hair = x.flip(-1), hair.flip(-1)
            with self.autocast():
                _, mask = G(self._to_device(x), return_mask=True, mask_floor=self.mask_floor())
            total = total + drawn_mask_loss(mask, self._to_device(hair))
        return total / 2

    def mask_floor(self):
        """The attention mask's floor at this step, a 0-d tensor (None without attention or warm-up).

        An attention generator can reach the identity by closing its mask, which zeroes the
        cycle loss at once, long before a fresh discriminator has learnt to call unchanged
        images fake: measured here, the masks of a pair started from paper generators fell
        to a mean of 0.01 within 80 steps. During the warm-up the output is
        floor + (1 - floor) * M of the content, with the floor falling linearly from 1 to 0
        over mask_warmup steps, so the discriminators learn on translated images first and
        the mask takes over gradually.

        Started from random weights, that is not enough: the content is still a blur when
        the floor reaches 0, the photo beats it in the discriminators' eyes and the masks
        close for good (measured here: a mean of 0.005 at step 300, 0.0003 at 500, with the
        cpu recipe from scratch). So the floor first stays at 1 for mask_start steps: the
        generators learn as the paper's (at floor 1 the raw mask gets no gradient, nor from
        the mask terms), as the shipped pair's paper generators did before their masks were
        added, and the warm-up follows.
        """
        c = self.config
        if not (c.attention and (c.mask_start or c.mask_warmup)):
            return None
        t = self.step - c.mask_start
        floor = 1.0 if t < 0 else max(0.0, 1.0 - t / c.mask_warmup) if c.mask_warmup else 0.0
        return torch.tensor(floor, device=self.device)

    def priors_on(self) -> bool:
        """Whether this step trains with the fine-tuning terms: lambda_mask, lambda_mask_face, lambda_mask_edge,
        cycle_noise and lambda_cycle_b (before priors_start: off, and the B cycle weighs lambda_cycle).

        The shipped pair was made in stages, each a new run from the last with these terms added
        (docs/experiments.md); a recipe schedules them by step inside one run instead. They shape a
        mask that exists, so they start after the mask has taken over (mask_start + mask_warmup).
        """
        return self.step >= self.config.priors_start

    def _check_finite(self, losses: dict) -> dict:
        """The losses as floats, averaged over the ranks; DivergenceError (on every rank at once) if one is not finite."""
        values = distributed.mean(torch.stack([v.detach().float() for v in losses.values()])).tolist()
        averaged = dict(zip(losses, values))
        bad = {k: v for k, v in averaged.items() if not math.isfinite(v)}
        if bad:
            raise DivergenceError(
                f"non-finite loss at step {self.step + 1} (epoch {self.epoch}): {bad}; training has diverged"
            )
        return averaged

    def end_epoch(self) -> None:
        """Advance the lr schedule (it is per epoch, as in the paper)."""
        self.epoch += 1
        self.batch_in_epoch = 0
        self._set_lr()

    def _set_lr(self) -> None:
        """The lr of the current epoch under this config's schedule. A function of the epoch
        only, so a run resumed with a longer schedule (--epochs, --epochs-decay) or another
        --lr continues on the new schedule from its first step."""
        lr = self.config.lr * lr_factor(self.epoch, self.config.epochs, self.config.epochs_decay)
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr

    def generators_to_save(self) -> tuple:
        """(G_AB, G_BA) as shipped: the averaged weights when ema_decay is on, else the trained ones."""
        if self.ema:
            return self.ema["G_AB"].average, self.ema["G_BA"].average
        return self.G_AB, self.G_BA

    @property
    def lr(self) -> float:
        return self.opt_G.param_groups[0]["lr"]

    # checkpoints: a plain dict, loaded with weights_only=True

    def state_dict(self) -> dict:
        """Everything to resume; under torchrun every rank must call it (it gathers the ranks' pools)."""
        state = {name: net.state_dict() for name, net in self.nets.items()}
        for name, ema in (self.ema or {}).items():
            state[f"{name}_ema"] = ema.average.state_dict()
        pools = distributed.gather({"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()})
        state.update(
            version=CHECKPOINT_VERSION,
            config=asdict(self.config),
            step=self.step, epoch=self.epoch, batch_in_epoch=self.batch_in_epoch, world_size=self.world_size,
            opt_G=self.opt_G.state_dict(), opt_D=self.opt_D.state_dict(),
            scaler_G=self.scaler_G.state_dict(), scaler_D=self.scaler_D.state_dict(),
            pools=pools,  # one {"A", "B"} per rank
            sessions=self.sessions,
            rng={
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "python": random.getstate(),
            },
        )
        return state

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {state.get('version')!r} is not {CHECKPOINT_VERSION}")
        for name, net in self.nets.items():
            net.load_state_dict(state[name])
        for name, ema in (self.ema or {}).items():
            # a checkpoint from before averaging (or with it off) starts the average from the weights
            ema.average.load_state_dict(state.get(f"{name}_ema", state[name]))
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.scaler_G.load_state_dict(state["scaler_G"])
        self.scaler_D.load_state_dict(state["scaler_D"])
        pools = state.get("pools") or [{"A": state["pool_A"], "B": state["pool_B"]}]  # older checkpoints: one pair
        if self.rank < len(pools):  # a rank the saved run did not have starts with empty pools
            self.pool_A.load_state_dict(pools[self.rank]["A"], self.device)
            self.pool_B.load_state_dict(pools[self.rank]["B"], self.device)
        self.step, self.epoch = state["step"], state["epoch"]
        self.sessions = list(state.get("sessions", []))  # checkpoints before sessions were kept: none
        # the position in the epoch, in images, re-expressed in steps of this run's world size
        # (resuming on another number of processes; a remainder repeats a few images)
        images = state["batch_in_epoch"] * self.config.batch_size * state.get("world_size", 1)
        self.batch_in_epoch = images // (self.config.batch_size * self.world_size)
        self._set_lr()  # not the saved lr: the schedule may have been extended
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        random.setstate(state["rng"]["python"])

    def save_checkpoint(self, path) -> None:
        """Write atomically: a temporary file in the same folder, fsync, then rename over `path`.

        A process killed at any moment leaves either the old checkpoint or the new one.
        Non-finite weights are never written over a good checkpoint. Under torchrun every
        rank calls this and rank 0 writes.
        """
        bad = [f"{name}.{k}" for name, net in self.nets.items() for k, p in net.named_parameters()
               if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(f"weights became non-finite at step {self.step} ({bad[:3]}...); "
                                     "training has diverged")
        state = self.state_dict()
        if not distributed.is_main():
            return
        write_atomically(state, path)


class MaskTeacher:
    """Teaches a recolouring generator's guided mask where hair is on drawn faces alone (issue [16]).

    With matched colour the generator learns one thing, the mask, and the GAN finds it from the discriminator
    alone, missing whole regions (the lengths of long hair, dark background taken for black hair). Each step here
    a batch of random views of the drawn faces (data.augment_drawn: zoom, shift, mirror, colour) pays the mask's
    binary cross-entropy against their drawn hair (losses.drawn_mask_loss): no GAN, no other generator. The mask
    is taught as a probability (mask_gain 1). train/teach_mask.py runs it alone, train/run.py as the last stage of
    a run (teach_mask_steps); state_dict() resumes it exactly.
    """

    def __init__(self, G: Generator, images: torch.Tensor, hair: torch.Tensor, batch_size: int = 16,
                 lr: float = 1e-4):
        if not (G.recolour and G.guided_radius):
            raise ValueError("only the guided mask of a recolouring generator can be taught on drawn faces")
        self.G, self.images, self.hair = G.train().requires_grad_(True), images, hair
        self.batch_size, self.lr = batch_size, lr
        G.set_mask_gain(1.0)
        self.optimizer = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.step = 0

    def train_step(self) -> float:
        """One step on a batch of random views; returns its loss."""
        pick = torch.randint(len(self.images), (self.batch_size,))
        x, drawn = augment_drawn(self.images[pick], self.hair[pick])  # on the CPU, then to the generator's device
        device = next(self.G.parameters()).device
        _, mask = self.G(x.to(device), return_mask=True)
        loss = drawn_mask_loss(mask, drawn.to(device))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return loss.item()

    def summary(self) -> dict:
        """What was taught, for training.json's sessions (the card's "mask taught on N drawn faces, S steps")."""
        return {"steps": self.step, "faces": len(self.images), "batch_size": self.batch_size, "lr": self.lr}

    def state_dict(self) -> dict:
        return {"step": self.step, "G": self.G.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        torch.set_rng_state(state["rng"])
