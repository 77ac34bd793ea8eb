"""Translating images with trained generators: padding, precision, PIL in and out."""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data import to_float
from .device import autocast, maybe_compile, resolve_device, resolve_precision, use_channels_last
from .networks import blend
from .transform import apply_field, mask_coefficients

# keep_detail: the blur that splits colour from texture, as a share of the image's shorter side
# (3 px at the models' 128 px: it leaves a sixth of the ~10 px lattice the generators paint in hair),
# and the ratio image's guards: EPS (luminance in [0, 1]) keeps the noise of dark hair from being
# amplified, RATIO bounds how much brighter or darker than its surroundings a pixel may become
DETAIL_SIGMA, DETAIL_EPS, DETAIL_RATIO = 3 / 128, 0.04, (0.5, 2.0)
# MASK_OFF: an attention mask below it counts as off (the page pastes nothing there, cyclegan/faces.py);
# drop_islands: a connected piece of the mask (8-connected pixels >= MASK_OFF) smaller than
# ISLAND_SHARE of the picture, other than the largest piece, is an island (docs/experiments.md)
MASK_OFF, ISLAND_SHARE = 0.02, 0.01


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


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, C, H, W) blurred by a Gaussian of std `sigma` pixels (separable; reflected borders,
    replicated where the image is smaller than the kernel)."""
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    mode = "reflect" if radius < min(x.shape[-2:]) else "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


@torch.no_grad()
def keep_detail(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, sigma: float = None) -> torch.Tensor:
    """The translation `y` of the photo `x` with the photo's own fine detail, where `mask` is on.

    Colour from the translation, texture from the photo: y blurred at `sigma` pixels (default
    DETAIL_SIGMA of the shorter side) times the photo's luminance ratio image, (L + eps) /
    (blur(L) + eps) scaled to a local mean of one, which carries its hair strands and edges but
    not its colour or brightness (the quotient-image idea of Shashua and Riklin-Raviv 2001, as in
    detail-preserving recolouring). Why: the generators paint hair with a woven lattice of their
    own, which this replaces with the photo's strands; but the attribute classifier of
    train/evaluate.py reads blond partly from that texture, so it calls fewer translations blond
    with it (docs/experiments.md). Blended as lerp(x, ., mask): x exactly where the mask is 0.

    x, y: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W) in [0, 1] (all ones: everywhere).
    """
    sigma = sigma or DETAIL_SIGMA * min(x.shape[-2:])
    x, y = x.float(), y.float()
    luminance = ((x + 1) / 2 * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    ratio = ((luminance + DETAIL_EPS) / (gaussian_blur(luminance, sigma) + DETAIL_EPS)).clamp(*DETAIL_RATIO)
    ratio = ratio / gaussian_blur(ratio, sigma)  # local mean one: the translation's brightness is kept
    detailed = ((gaussian_blur((y + 1) / 2, sigma) * ratio).clamp(0, 1) * 2 - 1)
    return torch.lerp(x, detailed, mask.float().expand_as(x))


def mask_islands(mask: torch.Tensor, level: float = MASK_OFF, share: float = ISLAND_SHARE) -> torch.Tensor:
    """(N, 1, H, W) bool, True on the mask's islands: its connected pieces (8-connected pixels
    >= `level`) smaller than `share` of the picture, except each image's largest piece.

    Why: the attention generators leave small specks of mask away from the hair (on a chin, a
    shoulder, beside an eye) where they paint a blotch; the hair is one large piece.
    """
    import cv2  # imported here: only inference needs it, not training

    on = (mask >= level).cpu().numpy().astype(np.uint8)
    islands = np.zeros(on.shape, dtype=bool)
    min_area = share * on.shape[-2] * on.shape[-1]
    for i, image in enumerate(on[:, 0]):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(image, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
        small = [k + 1 for k, area in enumerate(areas) if area < min_area and k != areas.argmax()]
        islands[i, 0] = np.isin(labels, small)
    return torch.from_numpy(islands).to(mask.device)


@torch.no_grad()
def translate(generator: torch.nn.Module, x: torch.Tensor, precision: str = "auto", return_mask: bool = False,
              detail: bool = False, drop_islands: bool = False, return_field: bool = False):
    """Run `generator` on (N, 3, H, W) in [-1, 1] of any H, W; returns float32 of the same shape.

    Pads to a multiple of 4 and crops back, runs under the precision's autocast on the
    generator's device, and clamps to [-1, 1]. With return_mask=True, returns
    (translation, mask), mask (N, 1, H, W) float32 in [0, 1]: where the generator changed
    the picture (all ones for the paper's generator, see Generator.forward). With
    detail=True the translation keeps the input's fine detail under the mask (keep_detail).
    With drop_islands=True the mask's islands (mask_islands) are taken off: the input is
    returned there, and the returned mask is 0 there. A recolouring generator's output already
    keeps the input's detail (it is a transform of it), so detail does nothing there; with
    return_field=True (recolouring generators) it returns (translation, mask, field), the
    field of colour transforms (N, 12, H / cell, W / cell) that networks.apply_field applies
    to the input at any size.
    """
    if x.ndim == 3:
        raise ValueError(f"translate expects a batch (N, C, H, W), got {tuple(x.shape)}; use x[None]")
    device = next(generator.parameters()).device
    precision = resolve_precision(precision, device)
    padded, (h, w) = pad_to_multiple(x.to(device, torch.float32))
    recolour = getattr(generator, "recolour", False)
    if return_field and not recolour:
        raise ValueError("return_field needs a recolouring generator (recolour=True)")
    with autocast(device, precision):
        y, mask, *field = generator(padded, return_field=True) if recolour else generator(padded, return_mask=True)
    y, mask = y[..., :h, :w].float().clamp(-1, 1), mask[..., :h, :w].float()
    if drop_islands and field and getattr(generator, "guided_radius", 0):
        # a guided mask lives in the field: switch it off on the cells the islands touch, and make the output
        # from that field, so the model's output and the photo path (which rebuilds the mask from the field) agree
        field[0] = drop_field_islands(field[0], mask_islands(mask), generator.cell, generator.bins)
        content, mask = apply_field(padded, field[0], generator.bins, guided=True,
                                    colour=getattr(generator, "colour_target", None))
        y, mask = blend(content, mask, padded)[..., :h, :w].clamp(-1, 1), mask[..., :h, :w]
    elif drop_islands:
        islands = mask_islands(mask)
        y, mask = torch.where(islands, x.to(device, torch.float32), y), mask.masked_fill(islands, 0)
    if detail and not recolour:
        y = keep_detail(x.to(device), y, mask)
    if return_field:
        cell = generator.cell  # the field's cells over the image, without those of the padding
        return y, mask, field[0][..., :-(-h // cell), :-(-w // cell)].float()
    return (y, mask) if return_mask else y


def drop_field_islands(field: torch.Tensor, islands: torch.Tensor, cell: int, bins: int) -> torch.Tensor:
    """A guided recolouring field (N, 12 bins + 4, h, w) with its mask switched off (coefficients 0) on every cell
    that an island (N, 1, H, W bool, mask_islands) touches; the colour transform is left as it was."""
    touched = F.max_pool2d(islands.float(), cell, ceil_mode=True) > 0
    touched = F.pad(touched, (0, field.shape[-1] - touched.shape[-1], 0, field.shape[-2] - touched.shape[-2]))
    field = field.clone()
    mask_coefficients(field, bins).masked_fill_(touched, 0)  # a view into the copy
    return field


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


def translate_image(image: Image.Image, G: torch.nn.Module, F_inv: torch.nn.Module, precision: str = "auto",
                    detail: bool = False):
    """Translate a PIL image with G and back with F_inv (e.g. G_AB then G_BA).

    Returns (translation, reconstruction) as PIL images of the input's size; detail as in translate.
    """
    x = image_to_tensor(image)
    fake = translate(G, x, precision, detail=detail)
    rec = translate(F_inv, fake, precision, detail=detail)
    return tensor_to_image(fake), tensor_to_image(rec)


def mask_to_image_tensor(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) in [0, 1] -> (N, 3, H, W) in [-1, 1], grey: black = unchanged, white = repainted."""
    return (mask * 2 - 1).expand(-1, 3, -1, -1)


def sample_grid(G_AB, G_BA, real_A: torch.Tensor, real_B: torch.Tensor, precision: str = "auto",
                detail: bool = False, drop_islands: bool = False) -> Image.Image:
    """A picture of both directions: rows of real | translated | reconstructed, and with
    attention generators real | translated | mask | reconstructed (the mask in grey, white
    where the generator changed the picture).

    real_A, real_B: (N, 3, H, W) in [-1, 1]. The first N rows are A -> B -> A, the
    next N are B -> A -> B. detail, drop_islands: as in translate, both ways.
    """
    show_mask = getattr(G_AB, "attention", False) or getattr(G_BA, "attention", False)
    rows = []
    for real, G, F_inv in ((real_A, G_AB, G_BA), (real_B, G_BA, G_AB)):
        fake, mask = translate(G, real, precision, return_mask=True, detail=detail, drop_islands=drop_islands)
        rec = translate(F_inv, fake, precision, detail=detail, drop_islands=drop_islands)
        columns = [real.float().cpu(), fake.cpu()] + ([mask_to_image_tensor(mask).cpu()] if show_mask else []) + [
            rec.cpu()]
        rows += [torch.cat(images, dim=-1) for images in zip(*columns)]
    return tensor_to_image(torch.cat(rows, dim=-2))
