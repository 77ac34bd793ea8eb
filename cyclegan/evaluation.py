"""Judging unpaired translations, as StarGAN and AttGAN judge attribute editing.

Does the output carry the target attribute (an attribute classifier trained on CelebA's
labels), and is everything else kept (the Male prediction, PSNR and SSIM on the central
face region, PSNR of the reconstruction)? Is the recoloured hair the colour real hair of the
target colour has (CIELAB medians, colour_figures)? Images are (N, 3, H, W) in [-1, 1].
"""

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from .mixin import StrictHubMixin
from .transform import srgb_to_lab  # noqa: F401 (the colour figures' space; re-exported)

ATTRIBUTES = ["Black_Hair", "Blond_Hair", "Male"]
PSNR_CAP = 100.0  # dB given to identical images, whose PSNR is infinite
# The central face (eyes, nose, mouth; no hair) as fractions of CelebA's aligned 178x178
# crop: the eyes sit at about 51% of the height, the mouth at about 74%.
FACE_BOX = (0.30, 0.42, 0.70, 0.82)  # left, top, right, bottom


class AttributeClassifier(nn.Module, StrictHubMixin, library_name="cyclegan", tags=["celeba", "attributes"]):
    """A small CNN predicting CelebA attributes from a face crop (multi-label, one logit each).

    Four stages of two 3x3 conv-BN-ReLU layers and a 2x2 max pool, global average
    pooling and a linear layer. Any input size is resized to `image_size` first.

    Args:
        attributes (`list[str]`, defaults to Black_Hair, Blond_Hair, Male): CelebA attribute names.
        image_size (`int`, defaults to 64): side the input is resized to.
        width (`int`, defaults to 32): channels of the first stage, doubled at each stage.
    """

    def __init__(self, attributes: list = None, image_size: int = 64, width: int = 32):
        super().__init__()
        self.attributes = list(attributes or ATTRIBUTES)
        self.image_size = image_size
        layers, channels = [], 3
        for k in range(4):
            out = width * 2**k
            for _ in range(2):
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(channels, len(self.attributes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, n_attributes) logits."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
        return self.head(self.features(x).mean(dim=(2, 3)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> dict:
        """{attribute: bool (N,)}: the classifier's yes/no for each attribute."""
        logits = self(x)
        return {name: logits[:, k] > 0 for k, name in enumerate(self.attributes)}


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, cap: float = PSNR_CAP) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB: 10 log10(range^2 / MSE).

    For images in [-1, 1] the range is 2. Identical images (MSE 0) get `cap` (100 dB)
    instead of infinity, so means stay finite and JSON-friendly.
    """
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse)).clamp(max=cap).nan_to_num(cap)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5,
    K1 = 0.01, K2 = 0.03, computed per channel over the valid window positions and averaged."""
    x, y = x.float(), y.float()
    c = x.shape[1]
    window = _gaussian_window().to(x)[None, None].repeat(c, 1, 1, 1)
    mean = lambda t: F.conv2d(t, window, groups=c)
    mu_x, mu_y = mean(x), mean(y)
    var_x = mean(x * x) - mu_x**2
    var_y = mean(y * y) - mu_y**2
    cov = mean(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def face_region(x: torch.Tensor) -> torch.Tensor:
    """The central face box (FACE_BOX) of CelebA-aligned crops (N, C, H, W): of the central square, so
    that whole aligned images (taller than wide, data.celeba_full_height) have it where their crops do."""
    h, w = x.shape[-2:]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    left, top, right, bottom = FACE_BOX
    return x[..., y0 + round(top * side):y0 + round(bottom * side), x0 + round(left * side):x0 + round(right * side)]


CHANGED = 12  # grey levels: a pixel a translation moved by more than this in a channel was changed (strands, colour)


def outside_face_box(x: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: the pixels of (N, C, H, W) images outside the central face box (FACE_BOX)."""
    zone = torch.ones(len(x), *x.shape[-2:], dtype=torch.bool)
    face_region(zone).fill_(False)  # a view of the face box
    return zone


def changed_pixels(photo: torch.Tensor, result: torch.Tensor, changed: int = CHANGED) -> torch.Tensor:
    """(N, H, W) bool: where `result` differs from `photo` by more than `changed` grey levels in any channel.
    photo, result: (N, 3, H, W) in [-1, 1]."""
    return (result.float() - photo.float()).abs().amax(1) * 127.5 > changed


# Two-tone hair: which pixels still have the source domain's hair colour after a translation.
HAIR_BINS = 16  # levels per RGB channel of the colour histograms (16^3 colours)
HAIR_RATIO = 4.0  # a colour is the source's hair colour where it is this many times likelier in its photos


class HairColour:
    """A per-pixel hair-colour likelihood learned from the two domains' colour statistics.

    Each domain's photos give a colour histogram (HAIR_BINS levels per channel, one count added to
    every bin) of their pixels outside the central face box (FACE_BOX): hair, background, neck and
    shoulders. Background and skin are alike in both domains, so their colours are about as likely
    in either; hair is not. A pixel "has domain d's hair colour" when its colour is at least
    HAIR_RATIO times likelier in d's photos than in the other's. `left(real, fake)` then says how
    much of the source hair colour a translation kept: of the pixels that had it in the input, the
    share that still have it in the output. A two-tone translation (a dark crown over blond curls)
    keeps much; real photos of the target domain show the level a convincing translation may keep.

    Args:
        images (`dict`): {"A": uint8 (N, 3, H, W), "B": ...}, CelebA crops of each domain.
    """

    def __init__(self, images: dict, bins: int = HAIR_BINS, ratio: float = HAIR_RATIO):
        self.bins, self.ratio = bins, ratio
        counts = {k: torch.bincount(self._codes(v)[outside_face_box(v)], minlength=bins ** 3).double() + 1
                  for k, v in images.items()}
        self.p = {k: c / c.sum() for k, c in counts.items()}

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) uint8 or float in [-1, 1] -> (N, H, W) colour bin indices."""
        if x.dtype != torch.uint8:
            x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        q = (x.long() * self.bins) // 256
        return (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]

    def has(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """(N, H, W) bool: pixels outside the face box with domain's ("A" or "B") hair colour."""
        other = "B" if domain == "A" else "A"
        likelier = self.p[domain] >= self.ratio * self.p[other]
        return likelier[self._codes(x).cpu()] & outside_face_box(x)

    def share(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """(N,) float: the share of each image's pixels outside the face box with domain's hair colour."""
        return self.has(x, domain).flatten(1).float().sum(1) / outside_face_box(x).flatten(1).sum(1)

    def left(self, real: torch.Tensor, fake: torch.Tensor, source: str, zone: torch.Tensor = None) -> tuple:
        """(kept, had): (N,) pixel counts with the source hair colour in real and, of those, still in fake; only
        where `zone` (N, H, W) bool is on, when given (e.g. the drawn hair)."""
        had = self.has(real, source) if zone is None else self.has(real, source) & zone
        return (had & self.has(fake, source)).flatten(1).sum(1), had.flatten(1).sum(1)

    def lab(self, x: torch.Tensor, domain: str) -> list:
        """Per image, the (n, 3) L*a*b* of its pixels with domain's hair colour (`has`): real hair of that colour,
        for colour_figures. x: (N, 3, H, W) in [-1, 1]."""
        return _sampled(srgb_to_lab(x), self.has(x, domain))


# The colour of the hair (issue [16]): CIELAB of the pixels a translation recoloured, against real hair.
COLOUR_SAMPLE = 4096  # at most this many pixels an image go into the medians (evenly spaced), so a large photo
                      # does not outweigh the others and memory stays small


def _sampled(lab: torch.Tensor, where: torch.Tensor) -> list:
    """Per image, the (n, 3) L*a*b* of the pixels `where` (N, H, W) holds, at most COLOUR_SAMPLE evenly spaced."""
    out = []
    for values, on in zip(lab, where):
        picked = values.permute(1, 2, 0)[on]  # (n, 3)
        if len(picked) > COLOUR_SAMPLE:
            picked = picked[torch.linspace(0, len(picked) - 1, COLOUR_SAMPLE).round().long()]
        out.append(picked)
    return out


def recoloured_hair(photo: torch.Tensor, result: torch.Tensor, changed: int = CHANGED) -> list:
    """Per image, the (n, 3) L*a*b* of the result's pixels outside the central face box (FACE_BOX) that the
    translation changed by more than `changed` grey levels in any channel: the hair it recoloured (and whatever
    else it changed beside the face). photo, result: (N, 3, H, W) in [-1, 1]."""
    return _sampled(srgb_to_lab(result), changed_pixels(photo, result, changed) & outside_face_box(result))


def colour_figures(pixels: list) -> dict:
    """Medians over all the pixels of a list of (n, 3) L*a*b* arrays: L*, a*, b*, chroma (sqrt(a*^2 + b*^2)), and
    how many pixels and images they came from; NaN figures when there are none."""
    lab = torch.cat([p.reshape(-1, 3) for p in pixels]) if pixels else torch.zeros(0, 3)
    if not len(lab):
        return {"L": float("nan"), "a": float("nan"), "b": float("nan"), "chroma": float("nan"), "pixels": 0,
                "images": 0}
    chroma = lab[:, 1:].norm(dim=1)
    return {"L": round(lab[:, 0].median().item(), 2), "a": round(lab[:, 1].median().item(), 2),
            "b": round(lab[:, 2].median().item(), 2), "chroma": round(chroma.median().item(), 2),
            "pixels": len(lab), "images": sum(1 for p in pixels if len(p))}


def far_out(values: torch.Tensor, k: float = 3.0) -> torch.Tensor:
    """(n,) bool: values beyond Tukey's far-out fences, more than k interquartile ranges outside the quartiles."""
    q1, q3 = torch.quantile(values.double(), values.new_tensor([0.25, 0.75], dtype=torch.float64))
    return (values < q1 - k * (q3 - q1)) | (values > q3 + k * (q3 - q1))


# Drawn hair masks (issue [16]): hair_masks/val.json, scored against what the page changed.
MASK_DE = 6.0  # CIE76 delta E: a pixel changed by more than this counts as changed, for the mask's IoU and the
               # change outside the drawn hair (the "no pixel outside the hair changes by more than 6")


def load_hair_masks(path) -> dict:
    """{image file name: (domain, polygon)} of a drawn-mask file (hair_masks/val.json); a clear ValueError
    for a file that is not one (missing keys, a polygon of fewer than 3 points or outside the image)."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
        width, height = data["image_size"]
        masks = {}
        for m in data["masks"]:
            polygon = [(float(x), float(y)) for x, y in m["polygon"]]
            if len(polygon) < 3 or any(not (0 <= x <= width and 0 <= y <= height) for x, y in polygon):
                raise ValueError(f"{m['image']}: a polygon needs 3 or more points inside {width}x{height}")
            masks[m["image"]] = (m["domain"], polygon)
        return masks
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a drawn-mask file: {e!r}") from e


def drawn_mask(polygon: list, photo) -> torch.Tensor:
    """(H, W) bool: the drawn polygon (in the photo's pixels) snapped to the photo's colour edges, as
    examples/darken_hair.py snaps its own: rasterised, blurred by 2 px, fitted as a colour guided filter of the
    photo (radius 4, eps 1e-4, the coefficients averaged over 9 px) and cut at one half."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    from .transform import guided_coefficients

    drawn = Image.new("L", photo.size, 0)
    ImageDraw.Draw(drawn).polygon(polygon, fill=255)
    p = torch.from_numpy(np.asarray(drawn.filter(ImageFilter.GaussianBlur(2)), np.float32) / 255)[None, None]
    x = torch.from_numpy(np.asarray(photo.convert("RGB"), np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    coef = F.avg_pool2d(guided_coefficients(x, p, 4, 1e-4), 9, 1, 4, count_include_pad=False)
    return ((coef[:, :3] * x).sum(1) + coef[:, 3])[0] >= 0.5


@functools.lru_cache(maxsize=4)  # a run reads them for its GAN and its teaching stage; 20-40 s on 2 cores
def drawn_training_set(path, celeba_root, image_size: int, names: tuple) -> dict:
    """{"A": (images, masks), "B": ...}: the photos of a drawn-mask file of train faces (hair_masks/train.json) as
    training sees them (the whole aligned 178x218 image at image_size wide, data.celeba_full_height high), images
    (n, 3, H, W) in [-1, 1], and their drawn hair (drawn_mask) scaled the same way, masks (n, 1, H, W) in [0, 1].
    names: the (A, B) domain names the file's "domain"s are matched to ("black", "blond"). Kept for the process's
    next call with the same arguments (not to be changed in place)."""
    import numpy as np
    from PIL import Image

    from .data import celeba_full_height, celeba_image_dir, load_image

    size = (image_size, celeba_full_height(image_size))
    folder = celeba_image_dir(celeba_root)
    found = {"A": ([], []), "B": ([], [])}
    for name, (domain, polygon) in load_hair_masks(path).items():
        if domain not in names:
            continue
        try:
            photo = load_image(folder / name)
        except ValueError as e:
            raise ValueError(f"{e}: a face of the drawn masks {path} (train without them: --lambda-drawn 0 "
                             "--teach-mask-steps 0)") from e
        hair = Image.fromarray(drawn_mask(polygon, photo).numpy().astype(np.uint8) * 255)
        x = torch.from_numpy(np.asarray(photo.resize(size, Image.LANCZOS), np.float32) / 127.5 - 1).permute(2, 0, 1)
        m = torch.from_numpy(np.asarray(hair.resize(size, Image.BOX), np.float32) / 255)[None]
        images, masks = found["A" if domain == names[0] else "B"]
        images.append(x)
        masks.append(m)
    if not all(images for images, _ in found.values()):
        raise ValueError(f"{path} has no drawn masks of {names[0]} and of {names[1]} hair both (train without "
                         "them: --lambda-drawn 0 --teach-mask-steps 0)")
    return {k: (torch.stack(images), torch.stack(masks)) for k, (images, masks) in found.items()}


def mask_iou(mask: torch.Tensor, hair: torch.Tensor) -> float:
    """The mean over faces of the intersection over union of a model's mask cut at one half with drawn hair (both
    (n, 1, H, W) in [0, 1], at the model's size): how well a mask finds the hair before the page's photo path."""
    found, drawn = mask >= 0.5, hair >= 0.5
    union = (found | drawn).flatten(1).sum(1).float()
    iou = (found & drawn).flatten(1).sum(1).float() / union.clamp(min=1)
    return torch.where(union > 0, iou, 1.0).mean().item()  # nothing found where nothing is drawn: 1, as mask_scores


def mask_scores(hair: torch.Tensor, photo, result, delta_e: float = MASK_DE) -> dict:
    """How well a recolouring kept to the drawn hair: iou, the intersection over union of the pixels it changed
    by more than `delta_e` with the hair (H, W bool, drawn_mask); outside, the share of the pixels outside the
    hair it changed by more than `delta_e` (the issue asks at most 1%)."""
    import numpy as np

    def lab(image):
        return srgb_to_lab(torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 127.5 - 1), dim=-1)
    changed = (lab(photo) - lab(result)).norm(dim=-1) > delta_e
    union = (changed | hair).sum().item()
    return {"iou": (changed & hair).sum().item() / union if union else 1.0,
            "outside": (changed & ~hair).sum().item() / max(1, (~hair).sum().item())}


def colour_targets(a, b, image_size: int, max_images: int = 2000, kept: float = 0.3) -> dict:
    """{"AB": G_AB's matched colour, "BA": G_BA's} ({"lightness", "ab", "kept"}, Generator.set_colour_target): real
    hair of each target colour (HairColour, hair_target) on up to `max_images` aligned CelebA photos of each domain
    (cyclegan.data.Domain a, b) at the model's size. About a minute for 2,000 a domain on 2 cores."""
    from .data import Domain, domain_images, to_float

    images = {}
    for key, domain in (("A", a), ("B", b)):
        first = Domain(domain.name, domain.paths[:max_images], domain.male[:max_images])
        images[key] = domain_images(first, image_size)[0]
    hair = HairColour(images)
    targets = {}
    for direction, target in (("AB", "B"), ("BA", "A")):
        t = hair_target(hair.lab(to_float(images[target]), target))
        targets[direction] = {"lightness": t["hair_lightness"], "ab": t["hair_ab"], "kept": kept}
    return targets


def hair_target(pixels: list, k: int = 32) -> dict:
    """The matched colour's target (networks.Generator's hair_lightness, hair_ab) from real hair of the target
    colour, a list of (n, 3) L*a*b* arrays (HairColour.lab): L* at the k quantile levels (k + 0.5) / k and, at
    each, the a*, b* of the pixels of that lightness (the median of the k-quantile's own pixels and its two
    neighbours', then the straight line through those medians: real blond's a* falls from 9 in the darkest eighth
    to 3 in the lightest, so one a* for all is olive in the shadows and pink in the highlights); pooled over all
    the pixels but the far-out ones in L* or chroma (far_out): the colours HairColour calls black hair include 9%
    of saturated background colours (chroma 47, L* 38-85, measured on 2,000 train photos) which a black must not
    take its highlights from."""
    lab = torch.cat([p.reshape(-1, 3) for p in pixels])
    if not len(lab):
        raise ValueError("no pixels of real hair of the target colour to match")
    lab = lab[~(far_out(lab[:, 0]) | far_out(lab[:, 1:].norm(dim=1)))]
    lab = lab[lab[:, 0].argsort()]
    levels = (torch.arange(k, dtype=torch.float64) + 0.5) / k
    lightness = torch.quantile(lab[:, 0].double(), levels).clamp(0, 100)
    n = len(lab)
    first = [min(max(0, (j - 1) * n // k), n - 1) for j in range(k)]  # quantile j's pixels and its neighbours',
    ab = torch.stack([lab[a:max(a + 1, min(n, (j + 2) * n // k)), 1:].median(0).values  # at least one
                      for j, a in enumerate(first)]).double()  # (k, 2)
    # the straight line through them (least squares over the levels): real black's medians wander by 1-2 from
    # level to level (its darkest a*, b* 1.7, -1.1, a purple tint) where blond's fall steadily
    t = levels - levels.mean()
    ab = ab.mean(0) + t[:, None] * (t[:, None] * (ab - ab.mean(0))).sum(0) / (t ** 2).sum()
    return {"hair_lightness": [round(v, 3) for v in lightness.tolist()],
            "hair_ab": [[round(v, 3) for v in pair.tolist()] for pair in ab]}


def flicker(inputs, outputs, changed: int = CHANGED) -> float:
    """How much a translated clip flickers: the frame-to-frame change of the output where the translation
    changed it, over the input's own frame-to-frame change on the same pixels.

    inputs, outputs: sequences of (H, W, 3) uint8 frames, in order. For each pair of consecutive frames,
    the pixels the translation changed by more than `changed` grey levels (in either frame) add
    |out_t - out_t-1| to the numerator and |in_t - in_t-1| to the denominator. 1: the translated hair
    changes from frame to frame as much as the camera's picture of it does; above 1, it flickers. NaN when
    nothing was changed.
    """
    import numpy as np

    num = den = 0.0
    previous = None
    for x, y in zip(inputs, outputs):
        x, y = x.astype(np.int16), y.astype(np.int16)
        on = np.abs(y - x).max(-1) > changed
        if previous is not None:
            px, py, pon = previous
            where = on | pon
            num += float(np.abs(y - py)[where].sum())
            den += float(np.abs(x - px)[where].sum())
        previous = x, y, on
    return num / den if den else float("nan")
