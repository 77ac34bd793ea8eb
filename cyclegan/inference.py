"""Translating images with trained generators: padding, precision, PIL in and out."""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data import to_float
from .device import autocast, maybe_compile, resolve_device, resolve_precision, use_channels_last


def pad_to_multiple(x: torch.Tensor, multiple: int = 4, minimum: int = 8):
    """Pad (N, C, H, W) on the bottom/right to sides divisible by `multiple` and at least `minimum`.

    Reflection where it fits, else edge replication. Returns the padded tensor and the
    original (H, W) to crop back to.
    """
    h, w = x.shape[-2:]
    pad_h = max(h + -h % multiple, minimum) - h
    pad_w = max(w + -w % multiple, minimum) - w
    if pad_h or pad_w:
        # reflection needs the pad smaller than the side; replicate covers tiny images
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (h, w)


def optimize_for_inference(generator: torch.nn.Module, device: str = "auto", precision: str = "auto",
                           compile: bool = False) -> torch.nn.Module:
    """The generator set up the way the fast path runs it; pass the result to `translate`.

    Moves it to `device` in eval mode without gradients, in NHWC where that is faster
    (see cyclegan.device), and compiles it if asked. Use the same `precision` in
    `translate`. The returned module shares its parameters with `generator`.
    """
    dev = resolve_device(device)
    nhwc = use_channels_last(dev, resolve_precision(precision, dev))
    generator = generator.to(dev, memory_format=torch.channels_last if nhwc else torch.contiguous_format).eval()
    generator.requires_grad_(False)
    return maybe_compile(generator, compile)


@torch.no_grad()
def translate(generator: torch.nn.Module, x: torch.Tensor, precision: str = "auto", return_mask: bool = False):
    """Run `generator` on (N, 3, H, W) in [-1, 1] of any H, W; returns float32 of the same shape.

    Pads to a multiple of 4 and crops back, runs under the precision's autocast on the
    generator's device, and clamps to [-1, 1]. With return_mask=True, returns
    (translation, mask), mask (N, 1, H, W) float32 in [0, 1]: where the generator changed
    the picture (all ones for the paper's generator, see Generator.forward).
    """
    if x.ndim == 3:
        raise ValueError(f"translate expects a batch (N, C, H, W), got {tuple(x.shape)}; use x[None]")
    device = next(generator.parameters()).device
    precision = resolve_precision(precision, device)
    padded, (h, w) = pad_to_multiple(x.to(device, torch.float32))
    with autocast(device, precision):
        y = generator(padded, return_mask=True) if return_mask else generator(padded)
    if return_mask:
        y, mask = y
        return y[..., :h, :w].float().clamp(-1, 1), mask[..., :h, :w].float()
    return y[..., :h, :w].float().clamp(-1, 1)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image (any mode) -> (1, 3, H, W) float in [-1, 1]."""
    arr = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    return to_float(torch.from_numpy(arr).permute(2, 0, 1))[None]


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [-1, 1] -> PIL RGB."""
    x = x.detach().float().cpu()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"tensor_to_image takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    arr = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr)


def translate_image(image: Image.Image, G: torch.nn.Module, F_inv: torch.nn.Module, precision: str = "auto"):
    """Translate a PIL image with G and back with F_inv (e.g. G_AB then G_BA).

    Returns (translation, reconstruction) as PIL images of the input's size.
    """
    x = image_to_tensor(image)
    fake = translate(G, x, precision)
    rec = translate(F_inv, fake, precision)
    return tensor_to_image(fake), tensor_to_image(rec)


def mask_to_image_tensor(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] -> (N, 3, H, W) in [-1, 1], grey: black = unchanged, white = repainted."""
    return (mask * 2 - 1).expand(-1, 3, -1, -1)


def sample_grid(G_AB, G_BA, real_A: torch.Tensor, real_B: torch.Tensor, precision: str = "auto") -> Image.Image:
    """A picture of both directions: rows of real | translated | reconstructed, and with
    attention generators real | translated | mask | reconstructed (the mask in grey, white
    where the generator changed the picture).

    real_A, real_B: (N, 3, H, W) in [-1, 1]. The first N rows are A -> B -> A, the
    next N are B -> A -> B.
    """
    show_mask = getattr(G_AB, "attention", False) or getattr(G_BA, "attention", False)
    rows = []
    for real, G, F_inv in ((real_A, G_AB, G_BA), (real_B, G_BA, G_AB)):
        fake, mask = translate(G, real, precision, return_mask=True)
        rec = translate(F_inv, fake, precision)
        columns = [real.float().cpu(), fake.cpu()] + ([mask_to_image_tensor(mask).cpu()] if show_mask else []) + [
            rec.cpu()]
        rows += [torch.cat(images, dim=-1) for images in zip(*columns)]
    return tensor_to_image(torch.cat(rows, dim=-2))
