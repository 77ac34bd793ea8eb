"""The recolouring transform: a smooth field of colour transforms with a luminance axis, and the mask as a
guided filter of the photo, both applied at any resolution.

A recolouring generator (networks.Generator with recolour=True) does not paint pixels. Its last layer
predicts, per pixel of the model's input, `bins` affine colour transforms (one per knot of a luminance
axis) and a raw mask. Averaged over cells of `cell` pixels they form a field, a bilateral grid in the
sense of HDRNet (Gharbi et al. 2017, "Deep Bilateral Learning for Real-Time Image Enhancement"):

    T(x) = x + A(p, l) x + b(p, l)     A (3x3) and b (3) sliced from the field at the pixel's place p
                                       (bilinearly) and luminance l (linearly between the knots)

so dark and light pixels of one cell get different transforms: near-black hair can be lifted to blond
while the lighter skin and background of the same cell keep their colour. The guide is the pixel's own
luminance (fixed, not learnt as in HDRNet), so it is the same at the model's size and at the photo's.

The mask is made the same way: the raw mask is fitted, window by window, as a linear function of the
input's colours (the colour guided filter, He et al. 2010, "Guided Image Filtering", Eq. 19-21), and
those linear coefficients are averaged over the same cells and scaled up with the field, as the fast
guided filter does (Wu et al. 2018, "Fast End-to-End Trainable Guided Filter"):

    M(p) = clamp(a(p) . x(p) + c(p), 0, 1)

At any resolution the mask's edges are the photo's own colour edges: no halo, no blocks, no straight
lines at the crop, and at the model's size it is exactly what training saw.

Field layout, channels: 12 * bins colour coefficients (knot k's 12 at 12k: A row by row, then b), then,
with a guided mask, 4 mask coefficients (a for R, G, B, then c). Images are (N, 3, H, W) in [-1, 1].

Matched colour (issue [16]; a generator with `hair_lightness`): the mask is the model's, the colour is not
learnt but the target hair's own, in CIELAB, as real-time hair recolouring keys a colour lookup on luminance
(Tkachenka et al. 2019):

    L*' = Q_target(F_hair(L*))      the photo's hair lightness mapped rank by rank onto real target hair's
                                    (F_hair: the CDF of L* under the mask; Q_target: target hair's quantiles;
                                    L* here stands for its base layer B, below)
    a*' = a*_target(L*') + k (a* - a*_hair), b*' likewise: chroma taken to the target's at the new lightness
                                    (real blond is warmer where darker), the photo's own variation kept by k
                                    (chroma_kept), not multiplied, so dark pixels' noise stays small

A monotone curve keeps the strands' order and highlights; per face it is one `curve` (hair_curve) of
4 K + 2 numbers, which applies at any resolution (match_colours). The curve maps the lightness' base layer, not
the pixel: black hair's L* lies within a few units, so the curve's slope is 3-5 there and raised the photo's
grain and JPEG blocks into khaki blotches ("camouflage"). The base B is the lightness smoothed where it is flat
and kept where it has edges (the guided filter with L* as its own guide, He et al. 2010, windows of BASE_RADIUS
model pixels, base_coefficients; centred so that the hair's median detail is 0), and the detail rides on the
result times the curve's slope s there, at most DETAIL_GAIN (blond -> black: s < 1, the detail shrinks with the
rest; black -> blond: s of 3-5 held to 2):

    L*' = Q_target(F_hair(B)) + min(s, DETAIL_GAIN) (L* - B)

B's coefficients are computed at the model's size and scaled up like the field, so a photo of any size gets the
same base layer, with its own fine detail. (Measured on 300 val faces through the page: the black -> blond hair
no longer blotched; the classifier calls 82.0% of them blond against 85.7% with the blotches, its 12 lost faces
mostly smoother and, to the eye, no less blond: docs/experiments.md.)
"""

import functools

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # Rec. 601, as cyclegan.inference.keep_detail
D65 = (0.95047, 1.0, 1.08883)  # the reference white's X, Y, Z (sRGB's)
SRGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
LAB_DELTA = 6 / 29
HAIR_MARGIN = 10.0  # L*: matched colour fades out over this much lightness beyond the hair's range (match_colours)
BASE_RADIUS = 2  # model pixels: the windows (5 x 5) of the lightness' base layer (base_coefficients)
BASE_EPS = 100.0  # (L*)^2: contrast of less than about 10 L* within a window is smoothed into the base, more kept
DETAIL_GAIN = 2.0  # the detail L* - B rides on the result times the curve's slope there, but at most this


def luminance(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Luminance in [0, 1] of colours in [-1, 1] along `dim` (kept, of size 1)."""
    weights = x.new_tensor(LUMA).view([3 if d == dim % x.ndim else 1 for d in range(x.ndim)])
    return ((x + 1) / 2 * weights).sum(dim, keepdim=True)


def srgb_to_lab(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """sRGB colours in [-1, 1] along `dim` -> CIELAB along it: L* in [0, 100], a*, b* (D65 white; IEC 61966-2-1's
    sRGB curve, CIE 1976's L*a*b*)."""
    rgb = ((x.float().movedim(dim, -1) + 1) / 2).clamp(0, 1)
    return linear_to_lab(srgb_linear(rgb)).movedim(-1, dim)


def srgb_linear(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB values in [0, 1] -> linear light (IEC 61966-2-1's curve)."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_lab(linear: torch.Tensor) -> torch.Tensor:
    """Linear-light sRGB colours (..., 3) -> CIELAB (..., 3) (D65 white)."""
    return f_to_lab(lab_f(linear @ linear.new_tensor(SRGB_TO_XYZ).T / linear.new_tensor(D65)))


def lab_f(t: torch.Tensor) -> torch.Tensor:
    """CIE 1976's f of X / Xn, Y / Yn, Z / Zn: the cube root, linear near 0."""
    return torch.where(t > LAB_DELTA ** 3, t.clamp(min=1e-12) ** (1 / 3), t / (3 * LAB_DELTA ** 2) + 4 / 29)


def f_to_lab(f: torch.Tensor) -> torch.Tensor:
    """f(X / Xn), f(Y / Yn), f(Z / Zn) along the last dimension -> L*, a*, b* along it."""
    return torch.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_xyz(lab: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """CIELAB along `dim` -> X / Xn, Y / Yn, Z / Zn along it (f's inverse)."""
    L, a, b = lab.unbind(dim)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim)
    return torch.where(f > LAB_DELTA, f * f * f, 3 * LAB_DELTA ** 2 * (f - 4 / 29))


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> sRGB values in [0, 1] (srgb_linear's inverse)."""
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def lab_to_srgb(lab: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """CIELAB along `dim` -> sRGB in [-1, 1] along it (srgb_to_lab's inverse; colours outside sRGB clamped)."""
    xyz = lab_to_xyz(lab.float().movedim(dim, -1)) * lab.new_tensor(D65, dtype=torch.float32)
    linear = (xyz @ torch.linalg.inv(xyz.new_tensor(SRGB_TO_XYZ)).T).clamp(0, 1)
    return (srgb_encode(linear).clamp(0, 1) * 2 - 1).movedim(-1, dim)


TABLE_STEPS = 65535  # the lookup tables' steps over [0, 1]: f and the sRGB curve to within 0.03 of a level


@functools.lru_cache(maxsize=None)
def lookup_tables() -> dict:
    """The photo path's tables: sRGB's 256 levels linearised, f and srgb_encode at TABLE_STEPS + 1 points, and
    linear sRGB <-> XYZ / white as matrices."""
    grid = torch.arange(TABLE_STEPS + 1, dtype=torch.float32) / TABLE_STEPS
    to_xyz = torch.tensor(SRGB_TO_XYZ) / torch.tensor(D65)[:, None]
    return dict(linear=srgb_linear(torch.arange(256, dtype=torch.float32) / 255), f=lab_f(grid),
                encode=srgb_encode(grid), to_xyz=to_xyz, from_xyz=torch.linalg.inv(to_xyz))


def _look_up(table: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """table at values in [0, 1] (clamped; values is overwritten), to the nearest of its TABLE_STEPS + 1 points."""
    return table.take(values.clamp_(0, 1).mul_(TABLE_STEPS).round_().long())


def levels_to_lab(levels: torch.Tensor) -> torch.Tensor:
    """(n, 3) uint8 sRGB levels -> (n, 3) CIELAB: srgb_to_lab by lookup tables (to within 0.1), 2-3 times as
    fast, for the photo path's millions of pixels (visible_changes, match_levels)."""
    t = lookup_tables()
    linear = t["linear"].take(levels.T.long())  # (3, n): a channel at a time is what runs fast here
    return f_to_lab(_look_up(t["f"], t["to_xyz"] @ linear).T)


def lab_to_unit(lab: torch.Tensor) -> torch.Tensor:
    """(n, 3) CIELAB -> (n, 3) sRGB in [0, 1]: lab_to_srgb by a lookup table (to within 0.03 of a level)."""
    t = lookup_tables()
    return _look_up(t["encode"], t["from_xyz"] @ lab_to_xyz(lab.T, 0)).T


def weighted_quantiles(values: torch.Tensor, weights: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """(N, M) values and their (N, M) nonnegative weights -> (N, K) the weighted quantiles at `levels` (K,) in
    [0, 1]: each value stands for its weight's share of the distribution, centred on it (the midpoint rule),
    interpolated linearly between values. Uniform weights where an image's weights sum to 0."""
    weights = weights.float().clamp(min=0)
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones_like(weights))
    order = values.float().argsort(1)
    v, w = values.float().gather(1, order), weights.gather(1, order)
    cdf = (w.cumsum(1) - w / 2) / w.sum(1, keepdim=True)  # (N, M), ascending
    return interpolate(levels.to(v).expand(len(v), -1).contiguous(), cdf, v)


def interpolate(x: torch.Tensor, xp: torch.Tensor, *fp: torch.Tensor):
    """numpy.interp image by image: (N, M) points, (N, K) ascending knots xp and their values fp -> (N, M);
    constant beyond the end knots. Knots closer than 1e-6 count as one step. Several fp (each (N, K)) share the
    search: one (N, M) result for each, a tuple when there are several."""
    n, k = xp.shape
    i = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, k - 1)
    i = i + torch.arange(0, n * k, k, device=x.device)[:, None]  # into the rows of all images' knots at once
    table = torch.stack([xp, *fp], -1).reshape(n * k, -1)  # (N K, 1 + len(fp)): one lookup for all
    lo, hi = table[i - 1], table[i]  # (N, M, 1 + len(fp))
    t = ((x - lo[..., 0]) / (hi[..., 0] - lo[..., 0]).clamp(min=1e-6)).clamp(0, 1)
    out = (lo[..., 1:] + t[..., None] * (hi[..., 1:] - lo[..., 1:])).unbind(-1)
    return out[0] if len(out) == 1 else out


def base_coefficients(x: torch.Tensor, mask: torch.Tensor = None, radius: int = BASE_RADIUS,
                      eps: float = BASE_EPS) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] at the model's size -> (N, 2, H, W): the coefficients p, q of the base layer of its
    lightness, B = p L* + q, the guided filter of L* with itself as the guide (He et al. 2010, Eq. 5-8, windows of
    2 radius + 1 clipped at the borders): p = var / (var + eps) is near 0 where L* is flat (grain, JPEG blocks:
    smoothed away) and near 1 at edges (a strand's highlight, hair against a wall: kept). With the hair's `mask`
    (N, 1, H, W) q is shifted so that the hair's median detail L* - B is 0. At other sizes the coefficients are
    scaled up bilinearly (the photo path) and B follows that photo's own L*."""
    def box(t):
        return F.avg_pool2d(t, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    L = srgb_to_lab(x.float())[:, :1]
    mean = box(L)
    var = (box(L * L) - mean * mean).clamp(min=0)
    p = var / (var + eps)
    coefficients = box(torch.cat([p, mean * (1 - p)], 1))
    if mask is not None:  # centred: the hair's median detail L* - B made 0 (black hair's is below 0: a few bright
        # strands over a darker body), else the detail added back would darken the matched hair
        detail = (L - lightness_base(L, coefficients)).flatten(1)
        half = torch.tensor([0.5], device=x.device)
        shift = weighted_quantiles(detail, mask.float().flatten(1), half)[:, :, None, None]  # (N, 1, 1, 1)
        coefficients = coefficients + torch.cat([torch.zeros_like(shift), shift], 1)  # not in place: the cycle's
        # gradient flows through p, q
    return coefficients


def lightness_base(L: torch.Tensor, coefficients: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """B = p L* + q: L* (size 1 along `dim`) and base_coefficients (p, q along `dim`) at the same size."""
    p, q = coefficients.float().unbind(dim)
    return (p.unsqueeze(dim) * L + q.unsqueeze(dim))


def hair_curve(x: torch.Tensor, mask: torch.Tensor, lightness, ab, base: torch.Tensor = None) -> torch.Tensor:
    """The matched-colour curve of each image (module docstring): (N, 4 K + 2) = the hair's L* at K quantile
    levels (K = len(lightness)), the target's L* there (`lightness`, real target hair's quantiles at levels
    (k + 0.5) / K), the hair's median a*, b*, and the target's a* at those K lightnesses then its b* (`ab`: one
    [a*, b*] for all, or one for each of `lightness`, as real blond hair is warmer where it is darker).

    x: (N, 3, H, W) in [-1, 1], at the model's size; mask: (N, 1, H, W) in [0, 1], the hair's weights; base:
    (N, 2, H, W), x's base_coefficients: the hair's quantiles are its base layer's (None: of L* itself)."""
    lab = srgb_to_lab(x)
    L = (lab[:, :1] if base is None else lightness_base(lab[:, :1], base)).flatten(1)
    lab = lab.flatten(2)  # (N, 3, HW)
    k, w = len(lightness), mask.float().flatten(1)
    levels = (torch.arange(k, dtype=torch.float32, device=x.device) + 0.5) / k
    source = weighted_quantiles(L, w, levels)
    source = source + torch.arange(k, device=x.device) * 1e-4  # strictly ascending, even for a flat hair
    half = torch.tensor([0.5], device=x.device)
    hair_ab = torch.cat([weighted_quantiles(lab[:, c], w, half) for c in (1, 2)], 1)  # (N, 2) medians
    target = x.new_tensor(lightness, dtype=torch.float32).expand(len(x), -1)
    target_ab = x.new_tensor(ab, dtype=torch.float32).reshape(-1, 2)
    if len(target_ab) not in (1, k):
        raise ValueError(f"ab must be one [a*, b*] or one for each of the {k} lightnesses, got {len(target_ab)}")
    target_ab = target_ab.expand(k, 2).T.reshape(1, 2 * k).expand(len(x), -1)  # a* at each knot, then b*
    return torch.cat([source, target, hair_ab, target_ab], 1)


def match_colours(x: torch.Tensor, curve: torch.Tensor, kept: float, base: torch.Tensor = None,
                  dim: int = 1) -> tuple:
    """The matched colours of x (sRGB in [-1, 1] along `dim`, N images first) by each image's curve (N, 4 K + 2)
    (hair_curve) and x's base_coefficients `base` (2 along `dim`; None: no base layer, L* mapped itself), and how
    hair-like each pixel's lightness is (size 1 along `dim`; matched_lab)."""
    lab = srgb_to_lab(x, dim).movedim(dim, -1)
    if base is not None:
        base = base.float().movedim(dim, -1).reshape(len(curve), -1, 2)
    new, likeness = matched_lab(lab.reshape(len(curve), -1, 3), curve, kept, base)
    colours = lab_to_srgb(new.reshape(lab.shape), -1).movedim(-1, dim)
    return colours, likeness.reshape(*lab.shape[:-1], 1).movedim(-1, dim)


def match_levels(levels: torch.Tensor, curve: torch.Tensor, kept: float, base: torch.Tensor = None) -> tuple:
    """match_colours for the photo path: (n, 3) uint8 pixels of one image, its curve (4 K + 2,) and the pixels'
    base_coefficients (n, 2), scaled up to them -> their matched colours (n, 3) in [0, 1] and likeness (n,),
    through lookup tables (levels_to_lab, lab_to_unit): within 0.05 of a level of match_colours, 2-3x as fast on
    a 12 MP photo's hair."""
    new, likeness = matched_lab(levels_to_lab(levels)[None], curve[None], kept, None if base is None else base[None])
    return lab_to_unit(new[0]), likeness[0]


def matched_lab(lab: torch.Tensor, curve: torch.Tensor, kept: float, base: torch.Tensor = None) -> tuple:
    """The matched colour in CIELAB (N, M, 3) of each image's pixels by its curve (N, 4 K + 2) (hair_curve) and
    their base_coefficients (N, M, 2; None: L* is its own base): the base layer B through the curve (beyond its
    ends moved as its end knots) plus the pixel's own detail L* - B times the curve's slope there (at most
    DETAIL_GAIN), a*, b* taken to the target's at the new lightness plus `kept` of their distance from the hair's
    median; and (N, M) how hair-like each pixel's lightness is: 1 within the hair's range (the curve's end knots),
    falling to 0 at HAIR_MARGIN beyond, which the mask is multiplied by. Why: matched colour paints whatever the
    mask covers with the target's full colour, so a mask reaching onto a white wall beside black hair would turn
    it as much darker as the hair."""
    k = (curve.shape[1] - 2) // 4
    source, target, hair_ab = curve[:, :k], curve[:, k:2 * k], curve[:, 2 * k:2 * k + 2]
    target_a, target_b = curve[:, 2 * k + 2:3 * k + 2], curve[:, 3 * k + 2:]
    L = lab[..., 0]
    B = L if base is None else lightness_base(L[..., None], base, dim=-1)[..., 0]
    beyond = (B - B.clamp(source[:, :1], source[:, -1:]))  # past the hair's darkest or lightest knot
    likeness = (1 - beyond.abs() / HAIR_MARGIN).clamp(min=0)
    d = target.diff(dim=1) / source.diff(dim=1).clamp(min=1e-6)  # (N, K - 1): the curve's slope between knots
    slope = torch.cat([d[:, :1], (d[:, 1:] + d[:, :-1]) / 2, d[:, -1:]], 1).clamp(0, DETAIL_GAIN)  # at the knots
    mapped, a, b, gain = interpolate(B, source, target, target_a, target_b, slope)
    L = (mapped + beyond + gain * (L - B)).clamp(0, 100)
    ab = torch.stack([a, b], -1) + kept * (lab[..., 1:] - hair_ab[:, None])
    return torch.cat([L[..., None], ab], -1), likeness


def coefficient_field(coefficients: torch.Tensor, cell: int) -> torch.Tensor:
    """(N, C, H, W) per-pixel coefficients -> (N, C, H / cell, W / cell), their means over cells: the
    smooth field (cells at the edges may be partial)."""
    return F.avg_pool2d(coefficients.float(), cell, ceil_mode=True) if cell > 1 else coefficients.float()


def upsample(field: torch.Tensor, size) -> torch.Tensor:
    """The field scaled bilinearly to `size` (H, W), as the photo path's PIL-style taps do."""
    return F.interpolate(field.float(), size=tuple(size), mode="bilinear", align_corners=False)


def affine_colours(x: torch.Tensor, coef: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """T(x) = x + A x + b, pixel by pixel: x holds 3 colours and coef 12 coefficients along `dim` (A =
    coef[:9] as a 3x3 matrix, rows the output channels; b = coef[9:]), the other dimensions alike."""
    x, coef = x.movedim(dim, -1), coef.movedim(dim, -1)
    A, b = coef[..., :9].unflatten(-1, (3, 3)), coef[..., 9:]
    return (x + (A @ x[..., None])[..., 0] + b).movedim(-1, dim)


def slice_bins(coef: torch.Tensor, x: torch.Tensor, bins: int, dim: int = 1) -> torch.Tensor:
    """The 12 coefficients of each pixel from its 12 * bins along `dim`: linear interpolation between the
    knots of the luminance axis (knot k at luminance k / (bins - 1)) at the pixel's luminance."""
    if bins == 1:
        return coef.narrow(dim, 0, 12)
    position = luminance(x, dim) * (bins - 1)  # size 1 along dim
    out = 0
    for k in range(bins):  # hat weights: each pixel reads its two nearest knots
        out = out + (1 - (position - k).abs()).clamp(min=0) * coef.narrow(dim, 12 * k, 12)
    return out


def knots_read(x: torch.Tensor, bins: int) -> tuple:
    """(knot, weight), each (n, 2): the two knots each of n colours x (n, 3) reads and their hat weights, the
    nonzero terms of slice_bins (for gathering just those; one knot, weight 1, when bins is 1)."""
    if bins == 1:
        return x.new_zeros(len(x), 1, dtype=torch.long), x.new_ones(len(x), 1)
    position = luminance(x, -1)[:, 0] * (bins - 1)
    lower = position.floor().clamp(0, bins - 2)
    t = position - lower  # in [0, 1]: white reads the last knot with weight 1
    return torch.stack([lower, lower + 1], 1).long(), torch.stack([1 - t, t], 1)


def gather_knots(coef: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, x: torch.Tensor, bins: int) -> torch.Tensor:
    """The 12 coefficients of n pixels of a strip: slice_bins for just those pixels and just the two knots
    each reads (the photo path visits only the pixels its mask turns on).

    coef: (rows, cols, 12 bins), the strip's coefficients (cyclegan.faces.resample_rows); ys, xs: (n,) the
    pixels' places in it; x: (n, 3) their colours in [-1, 1]. Returns (n, 12)."""
    knots, weights = knots_read(x, bins)  # (n, 2) each
    table, first = coef.reshape(-1, 12), (ys * coef.shape[1] + xs) * bins
    return sum(table[first + knots[:, j]] * weights[:, j:j + 1] for j in range(knots.shape[1]))


def recolour(x: torch.Tensor, coef: torch.Tensor, bins: int, dim: int = 1) -> torch.Tensor:
    """T(x) with the per-pixel coefficients `coef` (12 * bins, or more, along `dim`; the rest ignored)."""
    return affine_colours(x, slice_bins(coef, x, bins, dim), dim)


def mask_coefficients(field: torch.Tensor, bins: int, dim: int = 1) -> torch.Tensor:
    """The guided mask's 4 coefficients of a field (or per-pixel coefficients) along `dim`: after the 12 bins."""
    return field.narrow(dim, 12 * bins, 4)


def guided_mask(x: torch.Tensor, coef: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """M = clamp(a . x + c, 0, 1) from the 4 mask coefficients (a for R, G, B, then c) along `dim`.

    In training the clamp passes its gradient straight through (Bengio et al. 2013's straight-through
    estimator): a plain clamp has none where a . x + c left [0, 1], so a mask that had grown past 1
    everywhere could never be taught to close again (measured: the mask priors moved nothing in 650 steps).
    """
    a, c = coef.narrow(dim, 0, 3), coef.narrow(dim, 3, 1)
    q = (a * x).sum(dim, keepdim=True) + c
    if not q.requires_grad:
        return q.clamp(0, 1)
    return q + (q.clamp(0, 1) - q).detach()


def mask_reach(coef: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """The largest mask the 4 mask coefficients can give any colour in [-1, 1]^3: c + |a|_1 (for cutting the
    photo path's work to where a mask can be on)."""
    return coef.narrow(dim, 3, 1) + coef.narrow(dim, 0, 3).abs().sum(dim, keepdim=True)


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Means over (2 radius + 1)^2 windows, cut at the borders (He et al.'s box filter)."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def guided_coefficients(guide: torch.Tensor, mask: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """The colour guided filter's linear coefficients (He et al. 2010, Eq. 19-20): for each window the
    (a, c) minimising mean((a . I + c - p)^2) + eps |a|^2 over it, I the guide and p the mask.

    guide: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W). Returns (N, 4, H, W): a (3 channels), c. eps
    says how much colour contrast an edge needs to be followed: in flat windows a -> 0 and the mask is
    the window's mean. Computed in fp32 with a closed-form 3x3 inverse (the covariance plus eps is
    positive definite), which compiles and runs on any device.
    """
    I, p = guide.float(), mask.float()
    ii = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    products = [I[:, i:i + 1] * I[:, j:j + 1] for i, j in ii]
    means = _box(torch.cat([I, p, I * p] + products, 1), radius)  # one box filter for all 13 channels
    mean_I, mean_p, mean_Ip = means[:, :3], means[:, 3:4], means[:, 4:7]
    cov_Ip = mean_Ip - mean_I * mean_p  # (N, 3, H, W)
    s = {(i, j): means[:, 7 + k:8 + k] - mean_I[:, i:i + 1] * mean_I[:, j:j + 1] + (eps if i == j else 0)
         for k, (i, j) in enumerate(ii)}
    s.update({(j, i): v for (i, j), v in list(s.items())})
    # the inverse by cofactors: inv = adj(S) / det(S)
    cof = {(i, j): s[(i + 1) % 3, (j + 1) % 3] * s[(i + 2) % 3, (j + 2) % 3]
           - s[(i + 1) % 3, (j + 2) % 3] * s[(i + 2) % 3, (j + 1) % 3] for i in range(3) for j in range(3)}
    det = s[0, 0] * cof[0, 0] + s[0, 1] * cof[0, 1] + s[0, 2] * cof[0, 2]
    a = torch.cat([sum(cof[j, i] * cov_Ip[:, j:j + 1] for j in range(3)) for i in range(3)], 1) / det
    c = mean_p - (a * mean_I).sum(1, keepdim=True)
    return torch.cat([a, c], 1)


def field_mask(x: torch.Tensor, field: torch.Tensor, bins: int) -> torch.Tensor:
    """The guided mask (N, 1, H, W) of a field at x's size, before matched colour's likeness (apply_field)."""
    return guided_mask(x.float(), mask_coefficients(upsample(field, x.shape[-2:]), bins))


def apply_field(x: torch.Tensor, field: torch.Tensor, bins: int = 1, guided: bool = False, colour: dict = None):
    """T(x), and with `guided` the mask, from a field scaled bilinearly to x's size.

    x: (N, 3, H, W) in [-1, 1] at any size; field: (N, 12 * bins (+ 4 with guided), h, w). Returns T(x)
    (N, 3, H, W), not clamped (training sees the true values; cyclegan.inference.translate clamps what
    it returns), or (T(x), M) with guided, M (N, 1, H, W) in [0, 1]. Computed in fp32. A field of zeros
    is the identity. With `colour` ({"lightness", "ab", "kept"}, Generator.colour_target; needs guided) the
    content is the matched colour of x under the mask (match_colours), not the field's T(x).
    """
    x = x.float()
    coef = upsample(field, x.shape[-2:])
    mask = guided_mask(x, mask_coefficients(coef, bins)) if guided else None  # as field_mask
    if colour is not None:
        if mask is None:
            raise ValueError("matched colour needs the guided mask (guided_radius > 0)")
        base = base_coefficients(x, mask.detach())
        curve = hair_curve(x, mask.detach(), colour["lightness"], colour["ab"], base)
        content, likeness = match_colours(x, curve, colour["kept"], base)
        return content, mask * likeness
    content = recolour(x, coef, bins)
    return content if mask is None else (content, mask)
