"""Real photos for a model trained on CelebA faces: find the face, crop it the way CelebA is
cropped, translate, and paste the result back into the photo.

    result = translate_photo(photo, G_AB, G_BA)   # photo: PIL RGB of any size
    result.composite                               # the photo with the translated face blended in
    result.mask                                    # where the model changed the picture

An attention generator's change is pasted where its mask is on, and nowhere else (by default
not on the mask's small islands away from the hair either: cyclegan.inference.mask_islands); a
paper generator's (which repaints everything) over the crop box with feathered edges.

Faces are found with OpenCV's bundled Haar cascade "frontalface_alt2" (shipped inside the
opencv wheel; nothing is downloaded; of the bundled frontal cascades it had the fewest
false detections on our example photos); where it finds none, its profile cascade looks for a face turned
to either side (the photo and its mirror), and the box it finds is moved to where a frontal box would be
(PROFILE_*). The crop box is calibrated on CelebA itself: on
394 of 400 train images as the model saw them (the central 178x178 of the aligned
178x218), the cascade's face box is centred at (0.499, 0.582) of the crop and 0.565 of
its side wide (std 0.009, 0.010, 0.039), so a detected face of width w gets a square
crop of side w / 0.565 placed the same way: face centred, hair above, a little neck.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageChops

from .inference import DETAIL_EPS, DETAIL_RATIO, DETAIL_SIGMA, MASK_OFF, image_to_tensor, tensor_to_image, \
    translate
from .transform import affine_colours, base_coefficients, field_mask, gather_knots, guided_mask, hair_curve, \
    levels_to_lab, mask_coefficients, mask_reach, match_levels

# where a CelebA training crop has its face: Haar box centre (x, y) and width, as fractions of the crop side
FACE_CENTRE_X, FACE_CENTRE_Y, FACE_WIDTH = 0.499, 0.582, 0.565
DETECT_SIDE = 640  # detect on a copy at most this large: the cascade's time grows with the pixels
# a profile cascade's box (side pw) -> the frontal box of the same face: its centre pw * PROFILE_SHIFT_X further
# toward the side the face turns to, pw * PROFILE_SHIFT_Y lower, PROFILE_WIDTH pw wide (where both cascades found
# the one face on 815 of 1,500 CelebA train photos: -0.155 +- 0.061, 0.025 +- 0.046, 0.895 +- 0.168)
PROFILE_SHIFT_X, PROFILE_SHIFT_Y, PROFILE_WIDTH = -0.155, 0.025, 0.895
FEATHER = 0.12  # share of the crop side over which the pasted crop fades into the photo
# attention generators: below MASK_OFF (cyclegan.inference) the photo is left exactly as it was; the change
# fades in up to MASK_ON
MASK_ON = 0.1
# paste_back: the smooth fields are computed at WORK_SIDE to twice it, the full-size pixels in strips of about
# STRIP_PIXELS (about 1 MB a channel as floats: they stay in the CPU's cache between the steps of a strip)
WORK_SIDE, STRIP_PIXELS = 128, 1 << 18
# scaling a phone photo down to the model or the face detector: PIL first averages blocks of pixels until the
# image is within this factor of the target, then filters (its docs: indistinguishable from the plain filter
# at 3; at 12 MP the two scalings went from 145 ms to a few ms)
REDUCING_GAP = 3.0
# a recolouring generator translates the face box widened by these shares of its side (left, top, right,
# bottom): long hair and shoulders, at the scale the model was trained at (it is fully convolutional)
WINDOW = (0.3, 0.1, 0.3, 0.5)


NO_FACE = "no face found; turn off face cropping to translate the centre anyway"
MAX_FACES = 8  # a recolouring generator recolours up to this many faces of a photo, the largest first


@dataclass
class PhotoResult:
    composite: Image.Image  # the full photo with the translation blended in (the photo itself when nothing was done)
    message: str  # what was done: which face, why the centre was used, or why nothing was
    model_input: Image.Image = None  # the crop as the model saw it, image_size square (None: not translated); for a
    # recolouring generator the wider hair_window at the same scale, a rectangle
    translation: Image.Image = None  # the model's output, model_input's size
    reconstruction: Image.Image = None  # the translation mapped back by the reverse generator
    mask: Image.Image = None  # L, model_input's size: where the model changed the picture (paper G: 255)
    box: tuple = None  # (left, top, right, bottom) of the crop in the photo

    @property
    def translated(self) -> bool:
        return self.translation is not None

    @property
    def fraction_changed(self) -> float:
        """Share of the crop where the mask is at least one half (0 when nothing was translated)."""
        return float((np.asarray(self.mask) >= 128).mean()) if self.translated else 0.0


@functools.cache
def face_cascade(name: str = "frontalface_alt2"):
    """One of OpenCV's bundled Haar cascades, read once (20 ms a read)."""
    import cv2  # imported here: only photos need it, not training
    return cv2.CascadeClassifier(cv2.data.haarcascades + f"haarcascade_{name}.xml")


def detect_faces(photo: Image.Image, side: int = DETECT_SIDE) -> list:
    """Faces in a PIL RGB photo as (x, y, w, h) in its pixels, largest first; found on a copy at most `side`
    pixels large (the live path detects on a smaller one than photos)."""
    import cv2  # imported here: only photos need it, not training

    scale = min(1.0, side / max(photo.size))
    small = photo if scale == 1.0 else photo.resize((max(1, round(photo.width * scale)),
                                                     max(1, round(photo.height * scale))), Image.BILINEAR,
                                                    reducing_gap=REDUCING_GAP)
    grey = cv2.cvtColor(np.asarray(small.convert("RGB")), cv2.COLOR_RGB2GRAY)
    cascade = face_cascade()
    min_side = max(24, min(small.size) // 10)
    if min(small.size) < min_side:
        return []
    faces = [tuple(f) for f in cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                                         minSize=(min_side, min_side))]
    if not faces:  # a face turned to one side: the profile cascade finds faces turned one way, so also the mirror's
        faces = profile_faces(grey, min_side)
    faces = [tuple(int(round(v / scale)) for v in f) for f in faces]
    return sorted(faces, key=lambda f: f[2] * f[3], reverse=True)


def profile_faces(grey: np.ndarray, min_side: int) -> list:
    """Faces turned to one side in a greyscale image, as the frontal boxes (x, y, w, h) they would have (PROFILE_*),
    the image's own and its mirror's (translated back)."""
    found, width = [], grey.shape[1]
    for mirrored in (False, True):
        image = np.ascontiguousarray(grey[:, ::-1]) if mirrored else grey
        for x, y, w, h in face_cascade("profileface").detectMultiScale(image, scaleFactor=1.1, minNeighbors=5,
                                                                        minSize=(min_side, min_side)):
            cx = x + w / 2 + PROFILE_SHIFT_X * w
            cx = width - cx if mirrored else cx
            cy, side = y + h / 2 + PROFILE_SHIFT_Y * w, PROFILE_WIDTH * w
            found.append((cx - side / 2, cy - side / 2, side, side))
    kept = []  # a face found both ways once: the largest box of those whose centres fall within one another
    for x, y, w, h in sorted(found, key=lambda f: f[2], reverse=True):
        if all(abs(x + w / 2 - (kx + kw / 2)) > kw / 2 or abs(y + h / 2 - (ky + kh / 2)) > kh / 2
               for kx, ky, kw, kh in kept):
            kept.append((x, y, w, h))
    return kept


def face_box(face: tuple, photo_size: tuple) -> tuple:
    """The square CelebA-like crop (left, top, right, bottom) around a face (x, y, w, h).

    Moved (not cut) to stay inside the photo, and shrunk only when the photo is smaller.
    """
    x, y, w, h = face
    side = min(round(w / FACE_WIDTH), *photo_size)
    left = round(x + w / 2 - FACE_CENTRE_X * side)
    top = round(y + h / 2 - FACE_CENTRE_Y * side)
    left = min(max(left, 0), photo_size[0] - side)
    top = min(max(top, 0), photo_size[1] - side)
    return left, top, left + side, top + side


def centre_box(photo_size: tuple) -> tuple:
    """The largest central square."""
    side = min(photo_size)
    left, top = (photo_size[0] - side) // 2, (photo_size[1] - side) // 2
    return left, top, left + side, top + side


def feather_mask(side: int) -> Image.Image:
    """An L mask of side x side: 255 inside, fading linearly to 0 over FEATHER of the side at the edges."""
    edge = feather(side)
    return Image.fromarray((torch.minimum(edge[:, None], edge[None, :]).numpy() * 255).round().astype(np.uint8))


def feather(side: int, start: bool = True, end: bool = True) -> torch.Tensor:
    """(side,) float in [0, 1]: 1 inside, falling linearly to 0 over FEATHER of the side at both ends (at
    the start, the end only when they are True); the square's feather is the outer minimum of it with itself."""
    ramp, far = max(1, round(side * FEATHER)), torch.full((side,), side)
    d = torch.minimum(torch.arange(side) if start else far, torch.arange(side).flip(0) if end else far).float()
    return ((d + 0.5) / ramp).clamp(0, 1)


def mask_image(mask: torch.Tensor) -> Image.Image:
    """A mask in [0, 1] of shape (..., h, w) with one image in it (e.g. (1, 1, h, w)) -> an L image."""
    return Image.fromarray((mask.reshape(mask.shape[-2:]).cpu().numpy() * 255).round().astype(np.uint8))


def mask_weight(mask: torch.Tensor) -> torch.Tensor:
    """Paste-back weights in [0, 1] from an attention mask (any shape) in [0, 1]: exactly 0 below
    MASK_OFF, rising linearly to 1 at MASK_ON."""
    return ((mask - MASK_OFF) / (MASK_ON - MASK_OFF)).clamp_(0, 1)


def pil_taps(n_in: int, n_out: int, kernel: str) -> torch.Tensor:
    """How PIL scales one axis up from n_in to n_out samples with "bilinear" or "bicubic" (a = -0.5), as
    an (n_out, n_in) matrix: out = taps @ in (Resample.c: the taps are normalised and stop at the borders)."""
    support = {"bilinear": 1.0, "bicubic": 2.0}[kernel] * max(n_in / n_out, 1.0)
    centre = (np.arange(n_out) + 0.5) * n_in / n_out
    lo = np.maximum((centre - support + 0.5).astype(int), 0)  # int() truncates, as C does
    index = lo[:, None] + np.arange(int(np.ceil(2 * support)) + 1)
    t = np.abs(index + 0.5 - centre[:, None]) / max(n_in / n_out, 1.0)
    if kernel == "bilinear":
        weight = np.clip(1 - t, 0, None)
    else:  # Keys' cubic with a = -0.5
        a = -0.5
        weight = np.where(t < 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                          np.where(t < 2, (((t - 5) * t + 8) * t - 4) * a, 0))
    weight = np.where(index < np.minimum((centre + support + 0.5).astype(int), n_in)[:, None], weight, 0)
    taps = np.zeros((n_out, n_in + index.shape[1]), np.float32)
    np.put_along_axis(taps, index, weight / weight.sum(1, keepdims=True), axis=1)
    return torch.from_numpy(taps[:, :n_in])


def resample_rows(field: torch.Tensor, taps: torch.Tensor, y0: int = 0, y1: int = None) -> torch.Tensor:
    """Rows y0:y1 of `field` (h, ...) resampled along its first axis by `taps` (pil_taps), as a small
    matrix product over the few rows of the field that they read."""
    taps = taps[y0:y1]
    used = torch.nonzero(taps.any(0)).flatten()
    lo, hi = int(used[0]), int(used[-1]) + 1
    return (taps[:, lo:hi] @ field[lo:hi].reshape(hi - lo, -1)).view(len(taps), *field.shape[1:])


def widen(field: torch.Tensor, side: int, kernel: str = "bilinear", scale: int = None) -> torch.Tensor:
    """(C, h, w) -> (h, side, C): resampled to `side` columns as PIL would (with `scale`: the first
    `side` of w * scale columns, for fields of blocks of exactly `scale` pixels); rows are left to resample_rows."""
    taps = pil_taps(field.shape[2], field.shape[2] * scale if scale else side, kernel)[:side]
    return (field.reshape(-1, field.shape[2]) @ taps.T).view(field.shape[0], field.shape[1], side) \
        .permute(1, 2, 0).contiguous()


def blur_matrix(n: int, sigma: float) -> torch.Tensor:
    """(n, n): cyclegan.inference.gaussian_blur along one axis of n samples (reflected borders, replicated
    where the kernel is wider than the axis) as a matrix, so that a small field blurs as two matrix
    products, several times faster than the convolution with its wide kernel."""
    radius = max(1, int(3 * sigma + 0.5))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-t ** 2 / (2 * sigma ** 2))
    index = np.arange(n)[:, None] + t
    if radius < n:  # F.pad's "reflect": the edge sample is not repeated
        index = np.abs(index)
        index = np.where(index > n - 1, 2 * (n - 1) - index, index)
    matrix = np.zeros((n, n))
    np.add.at(matrix, (np.repeat(np.arange(n), len(t)), np.clip(index, 0, n - 1).ravel()),
              np.tile(kernel / kernel.sum(), n))
    return torch.from_numpy(matrix.astype(np.float32))


def reduced_blur(small: torch.Tensor, sigma: float, reduce: int) -> torch.Tensor:
    """A Gaussian blur of `sigma` full-size pixels on (N, C, h, w) already averaged down `reduce` times.

    Why: a field blurred at sigma is smooth, so it can be computed small and scaled back up. The
    averaging ((reduce² - 1)/12 of variance) and the bilinear scaling up (about twice that) blur too, so
    the Gaussian here is narrowed to keep the total at sigma²: within half a grey level of the blur at
    full size away from the borders, while sigma / reduce stays above about 5.
    """
    sigma_small = math.sqrt(max(sigma ** 2 - (reduce ** 2 - 1) / 4, sigma ** 2 / 4)) / reduce
    h, w = small.shape[-2:]
    return blur_matrix(h, sigma_small) @ small @ blur_matrix(w, sigma_small).T


def mask_span(mask: torch.Tensor, side: int, width: int = None) -> tuple:
    """(top, bottom, left, right) in a box of `side` pixels (`side` high and `width` wide) that holds every
    pixel where the mask (h, w), scaled up to the box, can reach MASK_OFF; None when it reaches it nowhere."""
    rows, cols = [torch.nonzero((mask >= MASK_OFF).any(dim)).flatten() for dim in (1, 0)]
    if not len(rows):
        return None
    (h, w), pad = mask.shape, 2  # a bilinear tap reaches one pixel of the mask further; one more for rounding
    width = width or side
    return (max(0, (int(rows[0]) - pad) * side // h), min(side, -(-(int(rows[-1]) + 1 + pad) * side // h)),
            max(0, (int(cols[0]) - pad) * width // w), min(width, -(-(int(cols[-1]) + 1 + pad) * width // w)))


def detail_fields(region: Image.Image, pixels: torch.Tensor, change: torch.Tensor, change_taps: tuple) -> tuple:
    """keep_detail (cyclegan.inference) at the size of a photo's box, where it computed every blur at full
    size: the colour of photo + change blurred at DETAIL_SIGMA of the side, the photo's luminance ratio
    image and its local mean, the smooth two as small fields to scale up (widened; with their row taps).

    pixels: (side, side, 3) uint8, the box of the photo (region); change: (h, side, 3) the model's change
    in [0, 1] units, widened to the box, with `change_taps` to scale its rows. Returns (colour, ratio,
    mean, row_taps): colour (work, side, 3), ratio (side, side), mean (work, side, 1).
    """
    side = pixels.shape[0]
    reduce = max(1, side // WORK_SIDE)
    work, sigma, luma = -(-side // reduce), DETAIL_SIGMA * side, torch.tensor([0.299, 0.587, 0.114])
    small = torch.from_numpy(np.asarray(region.reduce(reduce), np.float32) / 255)  # (work, work, 3): box means
    blur_l = widen(reduced_blur((small @ luma)[None, None], sigma, reduce)[0], side, scale=reduce)
    row_taps = pil_taps(work, work * reduce, "bilinear")
    ratio, colour = torch.empty(side, side), torch.empty(1, 3, work, work)  # colour: means of photo + change
    strip = reduce * max(1, STRIP_PIXELS // side // reduce)  # whole blocks of the reduction in each strip
    for y0 in range(0, side, strip):
        y1 = min(y0 + strip, side)
        x = pixels[y0:y1].float().div_(255)  # (rows, side, 3) in [0, 1]
        lum = x @ luma
        ratio[y0:y1] = ((lum + DETAIL_EPS) / (resample_rows(blur_l, row_taps, y0, y1)[..., 0] + DETAIL_EPS)) \
            .clamp_(*DETAIL_RATIO)
        changed = x.add_(resample_rows(change, change_taps, y0, y1)).clamp_(0, 1).permute(2, 0, 1)[None]
        colour[..., y0 // reduce:-(-y1 // reduce), :] = F.avg_pool2d(changed, reduce, ceil_mode=True)
    colour = widen(reduced_blur(colour, sigma, reduce)[0], side, scale=reduce)
    mean = F.avg_pool2d(ratio[None, None], reduce, ceil_mode=True)  # partial blocks at the ends, as reduce()
    mean = widen(reduced_blur(mean, sigma, reduce)[0], side, scale=reduce)
    return colour, ratio, mean, row_taps


@torch.no_grad()
def paste_back(photo: Image.Image, crop: Image.Image, box: tuple, model_input: Image.Image = None,
               mask: Image.Image = None, detail: bool = False) -> Image.Image:
    """`photo` with `crop` blended in over `box` (feathered edges); pixels outside the box are untouched.

    With `model_input` (what the model was given, the crop's size), only the change the
    model made, crop - model_input, is upsampled and added to the photo, which keeps the
    photo's own detail at full resolution instead of pasting a blurry upscaled crop.
    With `mask` (an attention generator's, L, the crop's size) the change is added only
    where the mask is on (see mask_weight) instead of over a feathered square, so the
    photo keeps every pixel the model left alone. With `detail` (and `model_input`), the
    changed region keeps the photo's texture at its full resolution: the upscaled change gives
    the colour, the photo the strands (cyclegan.inference.keep_detail, its blur scaled to the box).

    Cost: the blurred fields are computed at WORK_SIDE to twice it and scaled up, the change is
    scaled up as PIL's bicubic does, and the full-size pixels are visited in strips of STRIP_PIXELS
    that stay in the CPU's cache, only where the mask is on: a 12 MP photo's box costs a few tenths
    of a second instead of 15 s, the same within 2/255 (tested against the full-size computation).
    """
    side = box[2] - box[0]
    region = photo.crop(box)
    if model_input is None:
        out = photo.copy()
        out.paste(Image.composite(crop.resize((side, side), Image.BICUBIC), region, feather_mask(side)), box[:2])
        return out
    span = (0, side, 0, side)
    if mask is not None:
        span = mask_span(torch.from_numpy(np.asarray(mask, np.float32) / 255), side)
        if span is None:
            return photo.copy()
        mask = torch.from_numpy(np.array(mask.resize((side, side), Image.BILINEAR)))  # uint8: cheap at any size
    top, bottom, left, right = span
    pixels = torch.from_numpy(np.array(region))  # (side, side, 3) uint8, written back strip by strip
    change = torch.from_numpy(np.asarray(crop, np.float32) - np.asarray(model_input, np.float32)) / 255
    change_taps = pil_taps(change.shape[0], side, "bicubic")
    change = widen(change.permute(2, 0, 1), side, "bicubic")  # (h, side, 3): PIL's bicubic scaling of the change
    if detail:
        colour, ratio, mean, row_taps = detail_fields(region, pixels, change, change_taps)
    edge = feather(side)  # (side,): the square's feather is its outer minimum

    strip = max(1, STRIP_PIXELS // (right - left))
    for y0 in range(top, bottom, strip):  # the full-size pixels under the mask, once each, in cache-sized strips
        y1 = min(y0 + strip, bottom)
        x = pixels[y0:y1, left:right].float().div_(255)  # (rows, cols, 3) in [0, 1]
        if detail:
            target = resample_rows(colour[:, left:right], row_taps, y0, y1)
            target *= ratio[y0:y1, left:right, None] / resample_rows(mean[:, left:right], row_taps, y0, y1)
            delta = target.clamp_(0, 1).sub_(x)
        else:
            delta = resample_rows(change[:, left:right], change_taps, y0, y1)
        weight = torch.minimum(edge[y0:y1].view(-1, 1, 1), edge[left:right].view(1, -1, 1))
        if mask is not None:
            weight = weight * mask_weight(mask[y0:y1, left:right, None].float().div_(255))
        pixels[y0:y1, left:right] = x.add_(delta.mul_(weight)).mul_(255).clamp_(0, 255).round_().to(torch.uint8)
    out = photo.copy()
    out.paste(Image.fromarray(pixels.numpy()), box[:2])
    return out


@torch.no_grad()
def recolour_photo(photo: Image.Image, box: tuple, field: torch.Tensor, mask: Image.Image, bins: int = 1,
                   guided: bool = False, matched: tuple = None, canvas: torch.Tensor = None,
                   claims: torch.Tensor = None) -> Image.Image:
    """`photo` recoloured over `box` by a recolouring generator's field of colour transforms, at the
    photo's own resolution: M * T(x) + (1 - M) * x (cyclegan.transform) with the field scaled bilinearly
    to the box, each pixel's transform sliced at its own luminance (`bins` knots), the change cut to
    exactly 0 where the mask is below MASK_OFF (mask_weight) and faded out over FEATHER of the box at its
    edges. The mask is the guided one rebuilt from the field at every pixel with `guided` (it follows the
    photo's own colour edges), else `mask` scaled bilinearly. Pixels outside the box or under a mask of 0
    are untouched; strands, highlights and shading are the photo's own, whatever the photo's size.

    box: (left, top, right, bottom), any rectangle; field: (12 bins (+ 4), h, w) float, the field over the
    box as the model saw it; mask: L, the model's size. Visits the box in strips of STRIP_PIXELS: the mask
    first (4 coefficients a pixel), then the colour transforms only of the pixels it turns on (gather_knots),
    so the cost follows the hair's area, not the photo's. With `matched` ((curve, kept, base), photo_curve) the
    colour is the matched one (cyclegan.transform.match_levels), not the field's transforms.

    Several faces (translate_photo): with `canvas` ((H, W, 3) uint8, the photo's result being built) and `claims`
    ((H, W) float, the weight of the change each pixel holds so far), this face's change is written into the
    canvas only where its weight beats the claim there, so where two faces' windows overlap each pixel takes the
    change of the face whose mask claims it most; nothing is returned.
    """
    width, height = box[2] - box[0], box[3] - box[1]
    field = field.float()
    mask_field = mask_coefficients(field, bins, dim=0) if guided else None  # (4, h, w)
    reach = mask_reach(mask_field, dim=0)[0] if guided else torch.from_numpy(np.asarray(mask, np.float32) / 255)
    span = mask_span(reach, height, width)
    if span is None:
        return photo.copy() if canvas is None else None
    top, bottom, left, right = span
    if guided:
        mask_coef = widen(mask_field, width)  # (h, width, 4)
    else:
        weights = torch.from_numpy(np.array(mask.resize((width, height), Image.BILINEAR)))  # uint8: cheap at any size
    pixels = torch.from_numpy(np.array(photo.crop(box)))  # (height, width, 3) uint8, written back strip by strip
    colour = widen(field[:12 * bins], width)  # (h, width, 12 bins): bilinear as F.interpolate's, see transform.upsample
    row_taps = pil_taps(field.shape[1], height, "bilinear")
    if matched is not None:  # the lightness' base layer's coefficients, scaled up as the field
        curve, kept, base = matched
        base, base_taps = widen(base.float(), width), pil_taps(base.shape[1], height, "bilinear")
    # faded where the box ends inside the photo, not where the photo itself ends
    edge_y, edge_x = feather(height, box[1] > 0, box[3] < photo.height), feather(width, box[0] > 0, box[2] < photo.width)
    strip = max(1, STRIP_PIXELS // (right - left))
    for y0 in range(top, bottom, strip):
        y1 = min(y0 + strip, bottom)
        x = pixels[y0:y1, left:right].float().div_(255)  # (rows, cols, 3) in [0, 1]
        if guided:
            m = guided_mask(x * 2 - 1, resample_rows(mask_coef[:, left:right], row_taps, y0, y1), dim=-1)
        else:
            m = weights[y0:y1, left:right, None].float().div_(255)
        weight = torch.minimum(edge_y[y0:y1].view(-1, 1, 1), edge_x[left:right].view(1, -1, 1))
        weight = (weight * m * mask_weight(m))[..., 0]  # the model's own blend, cut to exactly 0 below MASK_OFF
        ys, xs = torch.nonzero(weight, as_tuple=True)
        if not len(ys):
            continue
        on = x[ys, xs]  # (n, 3) in [0, 1]: only the pixels the mask turns on are recoloured
        if matched is not None:  # the colour, and how hair-like each pixel's lightness is (the mask's factor)
            b = resample_rows(base[:, left:right], base_taps, y0, y1)[ys, xs]  # (n, 2)
            new, likeness = match_levels(pixels[y0 + ys, left + xs], curve, kept, b)
            weight[ys, xs] *= likeness
        else:
            signed = on * 2 - 1  # the model's [-1, 1]
            first, last = int(xs.min()), int(xs.max()) + 1  # the columns they span
            coef = resample_rows(colour[:, left + first:left + last], row_taps, y0, y1)
            new = affine_colours(signed, gather_knots(coef, ys, xs - first, signed, bins), dim=-1).add_(1).div_(2)
        delta = new.clamp_(0, 1).sub_(on)
        w = weight[ys, xs]
        on = on.add_(delta.mul_(w[:, None])).mul_(255).clamp_(0, 255).round_().to(torch.uint8)
        if canvas is None:
            pixels[y0 + ys, left + xs] = on
            continue
        gy, gx = box[1] + y0 + ys, box[0] + left + xs  # in the whole photo
        wins = w > claims[gy, gx]
        canvas[gy[wins], gx[wins]], claims[gy[wins], gx[wins]] = on[wins], w[wins]
    if canvas is not None:
        return None
    out = photo.copy()
    out.paste(Image.fromarray(pixels.numpy()), box[:2])
    return out


VISIBLE_DE = 5.0  # CIE76 delta E: a pixel changed by more than this counts as visibly changed (about twice a just
                  # noticeable difference, 2.3, so that JPEG-level noise does not count)


def changed_box(a: np.ndarray, b: np.ndarray) -> tuple:
    """(top, bottom, left, right) of the pixels where two (H, W, 3) uint8 images differ; None where none do."""
    differs = read_only(a).ne(read_only(b)).any(-1)
    rows, cols = torch.nonzero(differs.any(1)).flatten(), torch.nonzero(differs.any(0)).flatten()
    return None if not len(rows) else (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def read_only(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing a read-only array's memory (np.asarray of a PIL image), without a copy: not to be written
    (torch warns that writing it would be undefined; nothing here writes it)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


def rgb_tensor(image: Image.Image) -> torch.Tensor:
    """(H, W, 3) uint8 tensor of a PIL image's RGB pixels, sharing an RGB image's memory (read_only)."""
    return read_only(np.asarray(image if image.mode == "RGB" else image.convert("RGB")))


def visible_changes(photo: Image.Image, result: Image.Image, delta_e: float = VISIBLE_DE, step: int = 1) -> np.ndarray:
    """(H, W) bool: the pixels `result` (the photo's size) changed by more than `delta_e` (CIE76, the distance in
    CIELAB): what a person sees changed, not the model's mask; with `step` > 1 of every step-th row and column only,
    (H / step, W / step) rounded up (for shares of a large photo: app.what_changed). Only the rectangle where the
    two differ is read and only the pixels that differ are converted (by lookup tables, levels_to_lab), so a 12 MP
    photo costs about what its hair costs."""
    if photo.size != result.size:
        raise ValueError(f"the result is {result.width}x{result.height}, the photo {photo.width}x{photo.height}")
    photo, result = (image if image.mode == "RGB" else image.convert("RGB") for image in (photo, result))
    visible = np.zeros((-(-photo.height // step), -(-photo.width // step)), bool)
    box = ImageChops.difference(photo, result).getbbox()  # in C: a tenth of comparing 12 MP as tensors
    if box is None:
        return visible
    box = (box[0] - box[0] % step, box[1] - box[1] % step, *box[2:])  # on the grid of rows and columns kept
    a, b = (read_only(np.asarray(image.crop(box))[::step, ::step]) for image in (photo, result))
    ys, xs = torch.nonzero(a.ne(b).any(-1), as_tuple=True)
    lab = [levels_to_lab(image[ys, xs]) for image in (a, b)]  # (n, 3) each
    moved = (lab[0] - lab[1]).norm(dim=1) > delta_e
    visible[ys[moved].numpy() + box[1] // step, xs[moved].numpy() + box[0] // step] = True
    return visible


def with_strength(photo: Image.Image, result: Image.Image, strength: float) -> Image.Image:
    """photo + strength (result - photo), pixel by pixel: the change scaled without running the model again
    (x + s (T(x) - x) inside the mask, the photo itself outside it). 0 gives the photo, 1 the result, exactly."""
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")
    if strength == 1 or strength == 0:
        return (result if strength else photo).convert("RGB")  # a new image either way
    a, b = np.asarray(photo.convert("RGB")), np.asarray(result.convert("RGB"))
    out, box = a.copy(), changed_box(a, b)
    if box is not None:
        top, bottom, left, right = box
        x, y = (torch.from_numpy(t[top:bottom, left:right]).float() for t in (a, b))
        out[top:bottom, left:right] = torch.lerp(x, y, strength).round_().to(torch.uint8).numpy()
    return Image.fromarray(out)


SHARE_SIDE = 1600  # the before/after picture to share is at most this many pixels wide


def before_after(photo: Image.Image, result: Image.Image, width: int = SHARE_SIDE) -> Image.Image:
    """The photo and the result side by side, scaled together to at most `width` pixels wide: a picture to share."""
    scale = min(1.0, width / (2 * photo.width))
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    pair = Image.new("RGB", (2 * size[0], size[1]))
    for k, image in enumerate((photo, result)):
        pair.paste(image.convert("RGB").resize(size, Image.LANCZOS, reducing_gap=REDUCING_GAP) if scale < 1
                   else image.convert("RGB"), (k * size[0], 0))
    return pair


def hair_window(box: tuple, photo_size: tuple) -> tuple:
    """The box a recolouring generator translates: the CelebA-like face box widened by WINDOW (shares of
    its side to the left, top, right, bottom) to hold the hair around the face, cut to the photo."""
    side = box[2] - box[0]
    left, top, right, bottom = (round(m * side) for m in WINDOW)
    return (max(0, box[0] - left), max(0, box[1] - top),
            min(photo_size[0], box[2] + right), min(photo_size[1], box[3] + bottom))


def mask_overlay(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The image in grey with the mask as a heat map on it: orange where the model changed the
    picture, the plain grey image where it left it alone."""
    grey = np.asarray(image.convert("L").convert("RGB"), dtype=np.float32) * 0.8
    m = np.asarray(mask.resize(image.size, Image.BILINEAR), dtype=np.float32)[..., None] / 255
    heat = np.array([255, 120, 0], dtype=np.float32)
    return Image.fromarray((grey * (1 - 0.75 * m) + heat * 0.75 * m).round().astype(np.uint8))


def translate_photo(photo: Image.Image, G, G_back, crop_face: bool = True, precision: str = "auto",
                    detail: bool = False, drop_islands: bool = True, max_faces: int = MAX_FACES,
                    pick=None) -> PhotoResult:
    """Translate the faces of a photo with G and back with G_back (e.g. G_AB, G_BA).

    Args:
        photo (`PIL.Image.Image`): RGB, at least G.image_size pixels on its shorter side (see
            cyclegan.data.load_image for files); smaller is a ValueError that says the minimum.
        G, G_back: the generators; G.image_size is the side the model was trained at.
        crop_face (`bool`, defaults to True): find the faces and crop around each as CelebA is cropped;
            when no face is found the photo is left as it is (the result says so: NO_FACE, `translated`
            False). With False, the central square is translated.
        precision (`str`): as in cyclegan.inference.translate.
        detail (`bool`, defaults to False): keep the photo's fine detail (hair strands) under
            the translation's colours, at the crop's size and in the full photo (keep_detail).
        drop_islands (`bool`, defaults to True): leave the photo alone on the mask's small specks
            away from the hair, both ways (cyclegan.inference.mask_islands).
        max_faces (`int`, defaults to MAX_FACES): a recolouring generator recolours up to this many faces, the
            largest first, each in its own window at its own scale (windows that overlap are combined pixel by
            pixel: the face whose mask claims a pixel most gives its change, recolour_photo); other generators
            translate the largest face only. detect_faces finds faces at least a tenth of the photo's shorter
            side (of a copy at most DETECT_SIDE large) and 24 px.
        pick (callable, optional): pick(photo, face) -> (G, G_back, note) chooses each face's generators (the
            page's Auto direction, read_hair), or (None, None, note) to leave the face alone; the notes join
            the message. The result's panels are of the first face translated.
    """
    size = G.image_size
    if min(photo.size) < size:
        raise ValueError(f"the photo is {photo.width}x{photo.height} pixels, too small to hold a face at the "
                         f"model's {size}x{size}: use one at least {size} pixels on its shorter side")
    faces = detect_faces(photo) if crop_face else []
    if crop_face and not faces:  # pasting an edit of some other square into the photo helps nobody
        return PhotoResult(photo.copy(), NO_FACE)
    recolour = getattr(G, "recolour", False)
    if not faces:
        boxes, message = [centre_box(photo.size)], "face cropping off: translated the central square of the photo"
    elif len(faces) == 1:
        boxes, message = [face_box(faces[0], photo.size)], "1 face found"
    elif recolour:
        boxes = [face_box(f, photo.size) for f in faces[:max_faces]]
        message = f"{len(faces)} faces found"
    else:
        boxes, message = [face_box(faces[0], photo.size)], f"{len(faces)} faces found; translated the largest"
    picks = [pick(photo, box) if pick else (G, G_back, None) for box in boxes]
    if recolour and len(faces) > 1:
        done = sum(p[0] is not None for p in picks)
        message += ("; recoloured the largest" if len(boxes) == 1 else
                    f"; recoloured {done} of the {len(boxes)} largest" if len(boxes) < len(faces) else
                    f"; recoloured {'all ' if done == len(boxes) else ''}{done}")
    notes = [(f"face {k + 1}, " if len(boxes) > 1 else "") + note for k, (_, _, note) in enumerate(picks) if note]
    if notes:
        message += ": " + "; ".join(notes)
    if not recolour:
        G, G_back = picks[0][:2]
        if G is None:
            return PhotoResult(photo.copy(), message)
        box, model_input = model_window(photo, boxes[0], G)
        x = image_to_tensor(model_input)  # (1, 3, size, size) in [-1, 1]
        fake, mask = translate(G, x, precision, return_mask=True, detail=detail, drop_islands=drop_islands)
        rec = translate(G_back, fake, precision, detail=detail, drop_islands=drop_islands)
        translation = tensor_to_image(fake)
        mask = mask_image(mask)
        attention = getattr(G, "attention", False)
        composite = paste_back(photo, translation, box, model_input, mask if attention else None, detail)
        return PhotoResult(composite, message, model_input, translation, tensor_to_image(rec), mask, box)
    # a recolouring pair: the whole head of hair of each face, recoloured at the photo's resolution; several faces
    # are written into one canvas, each pixel by the face that claims it most (one face: straight into a copy)
    several = len(boxes) > 1
    canvas = torch.from_numpy(np.array(photo.convert("RGB"))) if several else None
    claims = torch.zeros(photo.height, photo.width) if several else None
    composite, first = None, None
    for box, (G_face, G_face_back, _) in zip(boxes, picks):
        if G_face is None:
            continue
        window, model_input = model_window(photo, box, G_face)
        fake, mask, field = translate(G_face, image_to_tensor(model_input), precision, return_field=True,
                                      drop_islands=drop_islands)
        out = recolour_photo(photo, window, field[0].cpu(), mask_image(mask), G_face.bins, G_face.guided_radius > 0,
                             photo_curve(G_face, model_input, field[0]), canvas, claims)
        composite = out if out is not None else composite  # one face: recolour_photo's own copy
        if first is None:
            rec = translate(G_face_back, fake, precision, drop_islands=drop_islands)
            first = (model_input, tensor_to_image(fake), tensor_to_image(rec), mask_image(mask), window)
    composite = Image.fromarray(canvas.numpy()) if several else composite or photo.copy()
    if first is None:  # every face left alone (pick)
        return PhotoResult(composite, message)
    model_input, translation, reconstruction, mask, window = first
    return PhotoResult(composite, message, model_input, translation, reconstruction, mask, window)


AUTO_CONFIDENCE = 0.8  # Auto direction: a face's hair is called black or blond when the classifier is this sure


@torch.no_grad()
def read_hair(photo: Image.Image, box: tuple, classifier) -> dict:
    """{attribute: probability} of an attribute classifier (cyclegan.evaluation.AttributeClassifier) on the
    face's CelebA-like square `box` (face_box), scaled to the classifier's size as its training crops were."""
    x = image_to_tensor(photo.crop(box).resize((classifier.image_size,) * 2, Image.LANCZOS, reducing_gap=REDUCING_GAP))
    p = torch.sigmoid(classifier(x.to(next(classifier.parameters()).device)))[0].tolist()
    return dict(zip(classifier.attributes, p))


def auto_pick(pair: tuple, classifier, confidence: float = AUTO_CONFIDENCE):
    """translate_photo's `pick` for the Auto direction: each face's hair read by the classifier (read_hair), made
    blond when it reads black and black when it reads blond, each at least `confidence` sure, and left alone
    otherwise. pair: (G_AB, G_BA), black -> blond and blond -> black."""
    G_AB, G_BA = pair

    def pick(photo: Image.Image, box: tuple) -> tuple:
        p = read_hair(photo, box, classifier)
        black, blond = p["Black_Hair"], p["Blond_Hair"]
        if black >= confidence and black > blond:
            return G_AB, G_BA, f"hair reads {G_AB.source_domain} ({black:.2f}): made {G_AB.target_domain}"
        if blond >= confidence and blond > black:
            return G_BA, G_AB, f"hair reads {G_BA.source_domain} ({blond:.2f}): made {G_BA.target_domain}"
        return None, None, (f"hair reads neither {G_AB.source_domain} ({black:.2f}) nor {G_BA.source_domain} "
                            f"({blond:.2f}) at least {confidence:.0%} surely: left as it was")
    return pick


def photo_curve(G, model_input: Image.Image, field: torch.Tensor) -> tuple:
    """(curve, kept, base) for recolour_photo's matched colour of a generator with one (Generator.colour_target),
    from what the model saw and its field (12 bins + 4, h, w) as translate returned it: the curve the model itself
    made (cyclegan.transform.apply_field) and the lightness' base_coefficients (2, H, W) at the model's size;
    None for the field's colour."""
    target = getattr(G, "colour_target", None)
    if target is None:
        return None
    x = image_to_tensor(model_input)
    mask = field_mask(x, field[None].float().cpu(), G.bins)
    base = base_coefficients(x, mask)
    curve = hair_curve(x, mask, target["lightness"], target["ab"], base)
    return curve[0], target["kept"], base[0]


def model_window(photo: Image.Image, box: tuple, G) -> tuple:
    """(window, model_input): what of the photo G translates for the face box `box`, and that part scaled to
    the model's scale. A recolouring generator gets the wider hair_window at the scale the face box has at
    G.image_size (its sides multiples of 4), the other generators the box itself at image_size square."""
    size = G.image_size
    if not getattr(G, "recolour", False):
        return box, photo.crop(box).resize((size, size), Image.LANCZOS, reducing_gap=REDUCING_GAP)
    scale, window = size / (box[2] - box[0]), hair_window(box, photo.size)
    model_size = [max(8, round((window[k + 2] - window[k]) * scale / 4) * 4) for k in (0, 1)]
    return window, photo.crop(window).resize(model_size, Image.LANCZOS, reducing_gap=REDUCING_GAP)
