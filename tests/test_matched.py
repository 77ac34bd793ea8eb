"""Matched colour (issue [16], cyclegan/transform.py): the colour under the mask is real target hair's, the hair's
lightness mapped rank by rank onto it, at the model's size and at the photo's."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.checkpoints import save_generator
from cyclegan.evaluation import far_out, hair_target
from cyclegan.faces import photo_curve, recolour_photo
from cyclegan.inference import translate
from cyclegan.networks import Generator
from cyclegan.training import init_generator
from cyclegan.transform import (DETAIL_GAIN, HAIR_MARGIN, base_coefficients, hair_curve, interpolate, lab_to_srgb,
                                lab_to_unit, levels_to_lab, lightness_base, match_colours, match_levels, srgb_to_lab,
                                weighted_quantiles)
from test_transform import set_coefficients, smooth_photo

REPO = Path(__file__).resolve().parent.parent
BLOND = [40.0 + 30.0 * k / 15 for k in range(16)]  # a target: L* spread evenly over 40..70


def matched_generator(lightness=BLOND, ab=(6.0, 23.0), kept=0.3, seed=0, **kwargs):
    torch.manual_seed(seed)
    return Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, cell=4, bins=3, guided_radius=2,
                     hair_lightness=list(lightness), hair_ab=list(ab), chroma_kept=kept, **kwargs).eval()


def test_lab_round_trip_and_known_values():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert (lab_to_srgb(srgb_to_lab(x)) - x).abs().max() < 1e-4
    white, black = torch.ones(1, 3, 1, 1), -torch.ones(1, 3, 1, 1)
    assert srgb_to_lab(white).flatten().tolist() == pytest.approx([100, 0, 0], abs=0.01)
    assert srgb_to_lab(black).flatten().tolist() == pytest.approx([0, 0, 0], abs=0.01)
    # along another dimension: (n, 3) colours
    assert torch.allclose(srgb_to_lab(x.permute(0, 2, 3, 1), -1), srgb_to_lab(x).permute(0, 2, 3, 1), atol=1e-5)


def test_the_photo_paths_lookup_tables_equal_the_exact_colours():
    """levels_to_lab, lab_to_unit and match_levels (uint8 pixels, lookup tables) against srgb_to_lab, lab_to_srgb and
    match_colours on every 7th level of each channel and on random colours: within 0.1 in CIELAB and 0.05 of a level
    in sRGB, far below the 0.5 that rounding to a level adds."""
    steps = torch.arange(0, 256, 7, dtype=torch.uint8)
    levels = torch.cartesian_prod(steps, steps, steps)
    levels = torch.cat([levels, torch.randint(0, 256, (20000, 3), generator=torch.Generator().manual_seed(0),
                                              dtype=torch.uint8)])
    signed = levels.float() / 127.5 - 1
    exact = srgb_to_lab(signed, dim=-1)
    assert (levels_to_lab(levels) - exact).abs().max() < 0.1
    assert ((lab_to_unit(exact) * 2 - 1 - lab_to_srgb(exact, -1)).abs().max() * 127.5) < 0.05
    warmer_when_darker = torch.stack([torch.linspace(9, 3, 16), torch.linspace(21, 25, 16)])  # a* then b* knots
    for lightness, ab, kept in [(BLOND, torch.tensor([[6.0], [23.0]]).expand(2, 16), 0.3),
                                ([3.0 + k / 2 for k in range(16)], torch.tensor([[0.5], [1.0]]).expand(2, 16), 0.0),
                                (BLOND, warmer_when_darker, 0.3)]:
        hair = torch.tensor([12.0 + 3 * k for k in range(16)])  # a dark hair's L* knots
        curve = torch.cat([hair, torch.tensor(lightness), torch.tensor([2.0, 9.0]), ab.flatten()])
        colours, likeness = match_colours(signed[None], curve[None], kept, dim=-1)
        fast, fast_likeness = match_levels(levels, curve, kept)
        assert ((fast * 2 - 1 - colours[0]).abs().max() * 127.5) < 0.05
        assert (fast_likeness - likeness[0, :, 0]).abs().max() < 0.01


def test_weighted_quantiles_and_interpolation_by_hand():
    values = torch.tensor([[30.0, 10.0, 20.0, 40.0]])
    # equal weights: the midpoint rule puts 10, 20, 30, 40 at levels 1/8, 3/8, 5/8, 7/8
    got = weighted_quantiles(values, torch.ones(1, 4), torch.tensor([0.125, 0.25, 0.5, 0.875]))
    assert got[0].tolist() == pytest.approx([10.0, 15.0, 25.0, 40.0])
    # a weight of 0 takes a value out of the distribution: 10, 30, 40 at 1/6, 1/2, 5/6
    got = weighted_quantiles(values, torch.tensor([[1.0, 1.0, 0.0, 1.0]]), torch.tensor([0.5]))
    assert got[0].tolist() == pytest.approx([30.0])
    # no weight anywhere: uniform weights, not NaN
    assert weighted_quantiles(values, torch.zeros(1, 4), torch.tensor([0.5]))[0].tolist() == pytest.approx([25.0])
    xp, fp = torch.tensor([[0.0, 10.0, 20.0]]), torch.tensor([[5.0, 6.0, 26.0]])
    assert interpolate(torch.tensor([[-5.0, 5.0, 15.0, 30.0]]), xp, fp)[0].tolist() == pytest.approx([5, 5.5, 16, 26])


def test_a_curve_that_leaves_lightness_and_chroma_alone_is_the_identity():
    x = smooth_photo(seed=3, n=2)
    mask = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    lab = srgb_to_lab(x)
    # the target's L* quantiles the hair's own, its a* b* the hair's median, all the variation kept
    own = hair_curve(x, mask, BLOND, [0.0, 0.0])
    k = len(BLOND)
    curve = own.clone()
    curve[:, k:2 * k] = own[:, :k]
    curve[:, 2 * k + 2:3 * k + 2] = own[:, 2 * k:2 * k + 1]  # the target's a* at every lightness, then b*
    curve[:, 3 * k + 2:] = own[:, 2 * k + 1:2 * k + 2]
    out, likeness = match_colours(x, curve, kept=1.0)
    assert (out - x).abs().max() < 1e-3
    inside = (lab[:, :1] >= own[:, None, None, :1].permute(0, 3, 1, 2)) & (lab[:, :1] <= own[:, k - 1].view(2, 1, 1, 1))
    assert torch.all(likeness[inside] == 1)


def test_matched_colours_take_the_targets_lightness_by_rank_and_its_chroma():
    # a grey-brown "hair" whose L* is spread over 10..30, matched onto a target over 40..70 with a*, b* (6, 23)
    L = torch.linspace(10, 30, 64).view(1, 1, 8, 8)
    lab = torch.cat([L, torch.full_like(L, 3.0), torch.full_like(L, 2.0)], 1)
    x = lab_to_srgb(lab)
    curve = hair_curve(x, torch.ones(1, 1, 8, 8), BLOND, [6.0, 23.0])
    out, likeness = match_colours(x, curve, kept=0.3)
    got = srgb_to_lab(out)
    assert got[:, 0].median().item() == pytest.approx(55.0, abs=1.0)  # the middle rank: the target's median
    assert got[:, 0].min().item() == pytest.approx(40.0, abs=1.5) and got[:, 0].max().item() == pytest.approx(70, abs=1.5)
    assert torch.all(got[0, 0].flatten().diff() >= -1e-3)  # the strands' order is kept
    assert got[:, 1].median().item() == pytest.approx(6.0, abs=0.3)  # the hair had one a*, b*: the target's exactly
    assert got[:, 2].median().item() == pytest.approx(23.0, abs=0.3)
    # the end knots are the hair's quantiles at levels 1 / 2K and 1 - 1 / 2K: its last few pixels lie just beyond
    assert torch.all(likeness >= 0.95) and torch.all(likeness.flatten()[4:-4] == 1)


def test_matched_chroma_follows_the_targets_at_each_lightness():
    """hair_ab with one [a*, b*] per lightness knot (real blond: warmer where darker): the darkest strands take the
    darkest knot's a*, b*, the lightest the lightest's, in between in order; one pair for all is the same as that
    pair at every knot."""
    L = torch.linspace(10, 30, 64).view(1, 1, 8, 8)
    x = lab_to_srgb(torch.cat([L, torch.full_like(L, 3.0), torch.full_like(L, 2.0)], 1))  # one a*, b*
    k = len(BLOND)
    ab = [[9.0 - 6 * i / (k - 1), 21.0 + 4 * i / (k - 1)] for i in range(k)]  # a* 9 -> 3, b* 21 -> 25
    out, _ = match_colours(x, hair_curve(x, torch.ones(1, 1, 8, 8), BLOND, ab), kept=0.3)
    got = srgb_to_lab(out)[0].flatten(1)  # (3, 64), darkest pixel first
    assert got[1, 0].item() == pytest.approx(9.0, abs=0.4) and got[1, -1].item() == pytest.approx(3.0, abs=0.4)
    assert got[2, 0].item() == pytest.approx(21.0, abs=0.4) and got[2, -1].item() == pytest.approx(25.0, abs=0.4)
    assert torch.all(got[1].diff() <= 0.05) and torch.all(got[2].diff() >= -0.05)
    one = hair_curve(x, torch.ones(1, 1, 8, 8), BLOND, [6.0, 23.0])
    assert torch.equal(one, hair_curve(x, torch.ones(1, 1, 8, 8), BLOND, [[6.0, 23.0]] * k))
    with pytest.raises(ValueError, match="one for each"):
        hair_curve(x, torch.ones(1, 1, 8, 8), BLOND, [[6.0, 23.0]] * 3)


def grainy_hair(L_low, L_high, grain, seed=0):
    """(1, 3, 32, 32): grey hair whose lightness is shaded from L_low (top) to L_high (bottom) with a grain of
    +- `grain` L* on every pixel, as a photo's noise and JPEG blocks."""
    rows = torch.linspace(L_low, L_high, 32).view(1, 1, 32, 1).expand(1, 1, 32, 32)
    noise = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1) * grain
    L = rows + noise
    return lab_to_srgb(torch.cat([L, torch.zeros_like(L), torch.zeros_like(L)], 1))


def grain_of(L):
    """The RMS of L* minus its 5 x 5 mean, inside the borders: a picture's fine grain."""
    mean = torch.nn.functional.avg_pool2d(L, 5, stride=1)
    return (L[..., 2:-2, 2:-2] - mean).pow(2).mean().sqrt().item()


def test_the_base_layer_smooths_grain_and_keeps_edges():
    """base_coefficients: B is the grain's local mean where the hair is flat and the pixel itself at a hair's edge
    against a white wall (a grain far under sqrt(BASE_EPS), an edge far over it)."""
    x = grainy_hair(8, 8, grain=2.0)
    x[..., 16:] = 1.0  # a white wall (L* 100) on the right half
    L = srgb_to_lab(x)[:, :1]
    B = lightness_base(L, base_coefficients(x))
    hair, wall = (slice(2, 30), slice(2, 12)), (slice(2, 30), slice(20, 30))
    assert grain_of(B[..., :, :14]) < 0.25 * grain_of(L[..., :, :14])  # the grain smoothed away
    assert (B[0, 0][hair] - 8).abs().max() < 1.5 and (B[0, 0][wall] - 100).abs().max() < 0.5
    assert (B[0, 0, :, 16] - 100).abs().max() < 8 and (B[0, 0, :, 15] - L[0, 0, :, 15]).abs().max() < 20  # the edge
    assert B[0, 0, 4:-4, 15].mean() < 40 and B[0, 0, 4:-4, 16].mean() > 70  # kept where it was: no halo
    # with the hair's mask its median detail L* - B is 0 (B moves by it, the smoothing is the same)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., :14] = 1
    centred = lightness_base(L, base_coefficients(x, mask))
    assert (L - centred)[..., :14].median().abs() < 0.05


def test_matched_lightness_maps_the_base_and_holds_the_grain_to_the_detail_gain():
    """Dark hair shaded over L* 5..15 with a grain of +- 1.5 matched onto blond (40..70): the shading spreads over
    the target's range as before, but the grain grows by at most DETAIL_GAIN, where mapping each pixel itself (no
    base layer) grows it by the curve's slope, 3 here; onto a darker, narrower target (slope below 1) the grain
    shrinks with the rest."""
    x, mask = grainy_hair(5, 15, grain=1.5), torch.ones(1, 1, 32, 32)
    L = srgb_to_lab(x)[:, :1]
    base = base_coefficients(x, mask)
    out = {}
    for name, b in (("base", base), ("pixel", None)):
        colours, _ = match_colours(x, hair_curve(x, mask, BLOND, [6.0, 23.0], b), 0.3, b)
        out[name] = srgb_to_lab(colours)[:, :1]
    assert out["base"].median().item() == pytest.approx(55.0, abs=1.0)  # the target's median
    rows = out["base"].mean(3).flatten()  # the shading: top to bottom over most of the target's range
    assert rows[2].item() < 44 and rows[-3].item() > 66 and torch.all(rows[2:-2].diff() > -0.5)
    assert grain_of(out["pixel"]) > 2.5 * grain_of(L)
    assert grain_of(out["base"]) < DETAIL_GAIN * 1.1 * grain_of(L)
    dark = [5.0 + 5.0 * k / 15 for k in range(16)]  # onto L* 5..10: half the hair's own range
    colours, _ = match_colours(x, hair_curve(x, mask, dark, [0.0, 0.0], base), 0.3, base)
    assert grain_of(srgb_to_lab(colours)[:, :1]) < 0.7 * grain_of(L)


def test_matched_colour_passes_gradients_to_its_input():
    """A cycle whose masks are not detached (--no-detach-mask-in-cycle) backpropagates through the reverse
    generator's matched colour into the forward translation: the base layer's centring must not be in place."""
    from cyclegan.transform import apply_field
    x = (smooth_photo(seed=4, n=2)).requires_grad_()
    field = torch.randn(2, 12 * 3 + 4, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    content, mask = apply_field(x, field, 3, guided=True, colour={"lightness": BLOND, "ab": [6.0, 23.0], "kept": 0.3})
    (content * mask).sum().backward()
    assert x.grad.abs().sum() > 0 and field.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()


def test_likeness_falls_off_beyond_the_hairs_lightness():
    hair = torch.linspace(10, 30, 64).view(1, 1, 8, 8)
    lab = torch.cat([hair, torch.zeros_like(hair), torch.zeros_like(hair)], 1)
    curve = hair_curve(lab_to_srgb(lab), torch.ones(1, 1, 8, 8), BLOND, [0.0, 0.0])
    top = curve[0, len(BLOND) - 1].item()
    probe = torch.tensor([top + HAIR_MARGIN / 2, top + 2 * HAIR_MARGIN]).view(1, 1, 1, 2)
    probe = lab_to_srgb(torch.cat([probe, torch.zeros_like(probe), torch.zeros_like(probe)], 1))
    _, likeness = match_colours(probe, curve, 0.3)
    assert likeness.flatten().tolist() == pytest.approx([0.5, 0.0], abs=0.03)


def test_photo_path_at_the_models_size_is_the_models_output():
    G = matched_generator()
    set_coefficients(G, mask_logit=0.5)
    x = smooth_photo(seed=5)
    y, mask, field = translate(G, x, "fp32", return_field=True)
    photo = Image.fromarray(((x[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy())
    matched = photo_curve(G, photo, field[0])
    out = np.asarray(recolour_photo(photo, (0, 0, 32, 32), field[0], None, G.bins, True, matched), int)
    model = ((y[0].permute(1, 2, 0) + 1) * 127.5).round().int().numpy()
    assert np.abs(out - np.asarray(photo, int)).max() > 20  # it recoloured
    inside = (slice(4, -4), slice(4, -4))  # the photo path fades the box's border, the model does not
    assert np.abs(out[inside] - model[inside]).max() <= 2


def test_matched_colour_config_round_trips_and_older_folders_load_without_it(tmp_path):
    G = matched_generator()
    G.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["hair_lightness"] == BLOND and config["hair_ab"] == [6.0, 23.0] and config["chroma_kept"] == 0.3
    assert Generator.from_pretrained(tmp_path / "m").colour_target == G.colour_target
    older = Generator.from_pretrained(REPO / "weights" / "field" / "black2blond")
    assert older.colour_target is None  # an older folder (the previous default): the field's own colour, as before
    assert Generator.from_pretrained(REPO / "weights" / "black2blond").colour_target is not None  # the default


def test_matched_colour_is_handed_on_by_init_from(tmp_path):
    source = matched_generator(source_domain="black", target_domain="blond")
    source.save_pretrained(tmp_path / "black2blond")
    G = Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, cell=4, bins=3, guided_radius=2,
                  source_domain="black", target_domain="blond")
    init_generator(G, tmp_path / "black2blond")
    assert G.colour_target == source.colour_target
    G.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["hair_lightness"] == BLOND


@pytest.mark.parametrize("kwargs, message", [
    (dict(guided_radius=0), "needs the guided mask"),
    (dict(hair_lightness=[50.0, 40.0]), "ascending"),
    (dict(hair_ab=[1.0]), "hair_ab must be"),
    (dict(hair_ab=[[1.0, 2.0]] * 3), "hair_ab must be"),
    (dict(chroma_kept=1.5), "chroma_kept"),
])
def test_bad_matched_colour_settings_are_refused(kwargs, message):
    args = dict(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, bins=3, guided_radius=2,
                hair_lightness=BLOND, hair_ab=[6.0, 23.0])
    with pytest.raises(ValueError, match=message):
        Generator(**{**args, **kwargs})


def test_hair_target_quantiles_by_hand_without_far_out_pixels():
    L = torch.arange(100, dtype=torch.float32)  # L* 0..99 evenly, grey
    lab = torch.stack([L, torch.zeros_like(L), torch.zeros_like(L)], 1)
    saturated = torch.tensor([[60.0, 60.0, -60.0]] * 5)  # a few far-out colours (chroma 85) are left out
    target = hair_target([lab, saturated], k=4)
    assert target["hair_lightness"] == pytest.approx([12.375, 37.125, 61.875, 86.625], abs=0.01)
    assert target["hair_ab"] == [[0.0, 0.0]] * 4
    # a* rising with L*: each quantile's median a* (its own pixels' and its neighbours': 2.4, 3.7, 6.2, 7.4), then the
    # least-squares line through them over the levels 1/8 .. 7/8 (slope 7)
    lab[:, 1] = L / 10
    assert [a for a, _ in hair_target([lab, saturated], k=4)["hair_ab"]] == pytest.approx([2.3, 4.05, 5.8, 7.55], abs=0.01)
    assert far_out(torch.tensor([1.0, 2, 3, 4, 100])).tolist() == [False] * 4 + [True]
    # fewer pixels than quantiles (a tiny run's few photos): every quantile still has pixels to take a*, b* from
    few = hair_target([lab[::20]], k=32)  # 5 pixels
    assert len(few["hair_ab"]) == 32 and all(np.isfinite(few["hair_ab"]).flatten())


def test_colour_targets_measure_each_domains_hair_as_run_py_does(tmp_path):
    """evaluation.colour_targets (what train/run.py measures as a run starts): photos whose hair (all but the face box)
    is one flat colour per domain give G_AB the blond's CIELAB and G_BA the black's, at every quantile."""
    from cyclegan.data import Domain
    from cyclegan.evaluation import colour_targets
    hair = {"black": (25, 20, 18), "blond": (215, 185, 120)}
    domains = []
    for name, colour in hair.items():
        paths = []
        for i in range(6):
            photo = Image.new("RGB", (178, 218), colour)
            photo.paste((200 - 10 * i, 150, 130), (60, 95, 118, 175))  # a face, well inside the face box
            paths.append(tmp_path / f"{name}{i}.png")
            photo.save(paths[-1])
        domains.append(Domain(name, paths, [False] * 6))
    targets = colour_targets(*domains, image_size=32, max_images=4, kept=0.25)
    for direction, name in (("AB", "blond"), ("BA", "black")):
        L, a, b = srgb_to_lab(torch.tensor(hair[name], dtype=torch.float32).view(1, 3, 1, 1) / 127.5 - 1).flatten()
        assert targets[direction]["lightness"] == pytest.approx([L.item()] * 32, abs=0.05)
        ab = torch.tensor(targets[direction]["ab"])  # one a*, b* for each of the 32 lightnesses
        assert ab.shape == (32, 2) and (ab - torch.stack([a, b])).abs().max() < 0.05
        assert targets[direction]["kept"] == 0.25


def test_match_colour_script_takes_matched_colour_out_again(tmp_path):
    """--off: the configs lose the matched colour, and each folder is written again whole: the card no longer
    describes it, the weights are the same and as fp16 as they were on disk, training.json is kept."""
    from safetensors.torch import load_file
    for name, (src, dst) in {"black2blond": ("black", "blond"), "blond2black": ("blond", "black")}.items():
        save_generator(matched_generator(source_domain=src, target_domain=dst).half(), tmp_path / name,
                       {"steps": 7})
    assert "Matched colour" in (tmp_path / "black2blond" / "README.md").read_text()
    before = load_file(tmp_path / "black2blond" / "model.safetensors")
    done = subprocess.run([sys.executable, str(REPO / "train" / "match_colour.py"), "--weights", str(tmp_path), "--off"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("black2blond", "blond2black"):
        assert Generator.from_pretrained(tmp_path / name).colour_target is None
        assert "Matched colour" not in (tmp_path / name / "README.md").read_text()
        assert json.loads((tmp_path / name / "training.json").read_text()) == {"steps": 7}
    after = load_file(tmp_path / "black2blond" / "model.safetensors")
    assert after.keys() == before.keys() and all(after[k].dtype == torch.float16 and torch.equal(after[k], before[k])
                                                 for k in before)
    missing = subprocess.run([sys.executable, str(REPO / "train" / "match_colour.py"), "--weights", str(tmp_path / "x")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no generator config" in missing.stderr


def test_drawn_masks_load_and_score_by_hand(tmp_path):
    from cyclegan.evaluation import drawn_mask, load_hair_masks, mask_scores

    masks = load_hair_masks(REPO / "hair_masks" / "val.json")
    assert len(masks) == 47 and sum(d == "black" for d, _ in masks.values()) == 24
    # the second, blind drawing of the same faces (how far two drawings agree) names the same faces and colours
    second = load_hair_masks(REPO / "hair_masks" / "val_second.json")
    assert {n: d for n, (d, _) in second.items()} == {n: d for n, (d, _) in masks.items()}
    assert sum(second[n][1] == p for n, (_, p) in masks.items()) == 10  # ten first drawings replaced by the second
    # a photo whose "hair" is a dark square on a light ground: the drawn polygon, a little off, snaps to its edges
    photo = np.full((40, 40, 3), 220, np.uint8)
    photo[10:30, 10:30] = 30
    photo = Image.fromarray(photo)
    hair = drawn_mask([(12, 9), (31, 12), (29, 31), (9, 28)], photo)
    square = np.zeros((40, 40), bool)
    square[10:30, 10:30] = True
    h = hair.numpy()
    # the snapped mask keeps inside the square's edges where the polygon spilled past them, and covers most of it
    assert (h & square).sum() >= 0.85 * 400 and (h & ~square).sum() <= 8
    # scores by hand: a result that changes the square and 16 pixels outside it
    result = np.asarray(photo).copy()
    result[10:30, 10:30] = (200, 180, 100)
    result[0:4, 0:4] = (0, 0, 0)
    scores = mask_scores(hair, photo, Image.fromarray(result))
    changed = np.zeros((40, 40), bool)
    changed[10:30, 10:30] = changed[0:4, 0:4] = True
    assert scores["iou"] == pytest.approx((changed & h).sum() / (changed | h).sum())
    assert scores["outside"] == pytest.approx((changed & ~h).sum() / (~h).sum())  # the 16 and the square's missed rim
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"image_size": [178, 218], "masks": [{"image": "a.jpg", "domain": "black",
                                                                     "polygon": [[0, 0], [500, 0], [0, 5]]}]}))
    with pytest.raises(ValueError, match="a polygon needs 3 or more points inside 178x218"):
        load_hair_masks(bad)
    with pytest.raises(ValueError, match="is not a drawn-mask file"):
        load_hair_masks(tmp_path / "missing.json")


def test_draw_mask_tool_reads_points_stores_polygons_and_draws_the_snapped_mask(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(REPO / "train"))
    import draw_mask
    from cyclegan.evaluation import load_hair_masks

    assert draw_mask.parse_polygon("10,20 30.5,40; 50,60") == [(10, 20), (30.5, 40), (50, 60)]
    for text, why in [("10,20 30,40", "needs 3 or more points, got 2"), ("10,20 30 50,60", "'30' is not a point"),
                      ("10,20 30,40 179,60", "'179,60' lies outside the 178x218 photo")]:
        with pytest.raises(ValueError, match=why):
            draw_mask.parse_polygon(text)
    # add makes the file, replaces a face drawn again, and what it writes loads as a mask file
    path = tmp_path / "masks.json"
    square = [(60, 60), (120, 60), (120, 120), (60, 120)]
    assert draw_mask.add(path, "000001.jpg", "black", "first", square) == 1
    assert draw_mask.add(path, "000002.jpg", "blond", "", square[:3]) == 2
    assert draw_mask.add(path, "000001.jpg", "black", "again", square[1:]) == 2
    masks = load_hair_masks(path)
    assert masks["000001.jpg"] == ("black", square[1:]) and masks["000002.jpg"] == ("blond", square[:3])
    assert '"polygon": [[120, 60], [120, 120], [60, 120]]' in path.read_text()  # a polygon on one line
    # the layout the repository's mask files have, to the byte
    for shipped in ("train.json", "val.json", "val_second.json", "val_hats.json"):
        text = (REPO / "hair_masks" / shipped).read_text()
        assert draw_mask.mask_file_text(json.loads(text)) == text
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a drawn-mask file"):
        draw_mask.add(tmp_path / "other.json", "000001.jpg", "black", "", square)
    # the pictures: 3x, a yellow line every 20 photo pixels, cyan between; the snapped mask tinted red
    pixels = np.full((218, 178, 3), 200, np.uint8)
    pixels[60:120, 60:120] = 20  # dark "hair" the polygon is drawn round
    photo = Image.fromarray(pixels)
    grid = np.asarray(draw_mask.grid_picture(photo))
    assert grid.shape == (654, 534, 3)
    assert tuple(grid[301, 120]) == (255, 255, 0) and tuple(grid[301, 90]) == (0, 255, 255)  # x = 40, 30
    assert tuple(grid[301, 121]) == (200, 200, 200)  # between the lines: the photo
    check = np.asarray(draw_mask.check_picture(photo, [(58, 58), (122, 58), (122, 122), (58, 122)]))
    inside, outside = check[3 * 90 + 1, 3 * 95 + 1], check[3 * 150 + 1, 3 * 95 + 1]
    assert tuple(inside) == (137, 10, 10) and tuple(outside) == (200, 200, 200)  # half red over the dark square only
    # the command line: a clear error for a folder that is not CelebA and for a face that is not there, nothing written
    grid_args = ["grid", "999999.jpg", "--out", str(tmp_path / "g.png")]
    assert draw_mask.main(["--celeba-root", str(tmp_path), *grid_args]) == 2
    assert "is it a CelebA root?" in capsys.readouterr().err
    (tmp_path / "img_align_celeba" / "img_align_celeba").mkdir(parents=True)
    assert draw_mask.main(["--celeba-root", str(tmp_path), *grid_args]) == 2
    assert "999999.jpg" in capsys.readouterr().err and not (tmp_path / "g.png").exists()


def test_mask_gain_steepens_the_guided_mask_at_the_models_size_and_the_photos(tmp_path):
    from cyclegan.networks import steeper
    from cyclegan.transform import guided_mask, mask_coefficients, upsample

    # on the coefficients: M = a . x + c becomes clamp(k (M - 1/2) + 1/2), both tails and the middle
    g = torch.Generator().manual_seed(0)
    coef, x = torch.randn(1, 4, 8, 8, generator=g), torch.rand(1, 3, 8, 8, generator=g) * 2 - 1
    m1 = guided_mask(x, coef)
    assert (m1 == 0).any() and (m1 == 1).any() and ((m1 > 0.1) & (m1 < 0.9)).any()
    assert torch.allclose(guided_mask(x, steeper(coef, 3.0)), (3 * (m1 - 0.5) + 0.5).clamp(0, 1), atol=1e-6)
    assert steeper(coef, 1.0) is coef
    # in a generator: the field carries the steeper mask, at the model's size and at 5x
    soft = matched_generator(seed=3)
    with torch.no_grad():
        soft.model[-1].weight[-1] *= 40  # a mask that varies over the picture
    steep = matched_generator(seed=3, mask_gain=3.0)
    steep.load_state_dict(soft.state_dict())
    x = smooth_photo(seed=5, size=32)
    with torch.no_grad():
        _, _, f1 = soft(x, return_field=True)
        _, _, f3 = steep(x, return_field=True)
    for size in (x.shape[-2:], (160, 160)):
        xs = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
        g1 = guided_mask(xs, mask_coefficients(upsample(f1, size), soft.bins))
        g3 = guided_mask(xs, mask_coefficients(upsample(f3, size), steep.bins))
        assert (g1 < 2 / 3).any() and (g1 > 2 / 3).any()  # some of it is steepened up to 1, some not
        assert torch.allclose(g3, (3 * (g1 - 0.5) + 0.5).clamp(0, 1), atol=1e-5)
    steep.save_pretrained(tmp_path / "g")
    assert Generator.from_pretrained(tmp_path / "g").mask_gain == 3.0
    for bad in (0.5, "3", True):
        with pytest.raises(ValueError, match="mask_gain must be a number >= 1"):
            matched_generator(mask_gain=bad)
    with pytest.raises(ValueError, match="needs guided_radius > 0"):
        Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, mask_gain=2.0)
    # set afterwards (teach_mask), the same refusals, and what save_pretrained writes follows
    soft.set_mask_gain(2.5)
    soft.save_pretrained(tmp_path / "g2")
    assert Generator.from_pretrained(tmp_path / "g2").mask_gain == 2.5
    with pytest.raises(ValueError, match="mask_gain must be a number >= 1"):
        soft.set_mask_gain(0.5)
    # saved steepened (checkpoints.save_generator(mask_gain=...): train/run.py, teach_mask.py), trained on as it was
    from cyclegan.checkpoints import save_generator
    from cyclegan.config import TrainConfig
    save_generator(soft, tmp_path / "g4", {}, mask_gain=3.0)
    assert Generator.from_pretrained(tmp_path / "g4").mask_gain == 3.0 and soft.mask_gain == 2.5
    with pytest.raises(ValueError, match="mask_gain must be a number >= 1"):  # the run's setting, the same check
        TrainConfig(mask_gain=0.5, attention=True, recolour=True, guided_radius=2).validate()
    # matched colour taken out again (match_colour.py --off): gone from the generator and from its config
    soft.set_colour_target(None)
    soft.save_pretrained(tmp_path / "g3")
    assert soft.colour_target is None and Generator.from_pretrained(tmp_path / "g3").colour_target is None


def test_augmented_drawn_faces_move_with_their_hair_and_vary():
    from cyclegan.data import augment_drawn

    # a grey "photo" that is its own hair mask: the views' colour changes are monotone per image, so image and mask
    # stay in lockstep (Pearson 1) if and only if both took the same zoom, shift and mirror
    g = torch.Generator().manual_seed(0)
    hair = (torch.rand(6, 1, 20, 16, generator=g) > 0.5).float()
    hair = torch.nn.functional.avg_pool2d(hair, 3, 1, 1)  # soft edges, so interpolation shows
    images = (0.3 + 0.4 * hair).expand(-1, 3, -1, -1) * 2 - 1
    torch.manual_seed(1)
    x, m = augment_drawn(images, hair)
    assert x.shape == images.shape and m.shape == hair.shape and x.min() >= -1 and x.max() <= 1
    for k in range(6):
        r = torch.corrcoef(torch.stack([x[k, 0].flatten(), m[k, 0].flatten()]))[0, 1]
        assert r > 0.999
        assert (m[k] - hair[k]).abs().mean() > 0.05  # moved: not the face as drawn
    # and each view has its own contrast and brightness: the image's levels per unit of hair differ
    slopes = [torch.linalg.lstsq(torch.stack([m[k, 0].flatten(), torch.ones(320)], 1), x[k, 0].flatten()[:, None])
              .solution[0, 0] for k in range(6)]
    assert torch.stack(slopes).std() > 0.02


def test_mask_iou_by_hand():
    from cyclegan.evaluation import mask_iou

    mask, hair = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    mask[0, 0, :2] = 0.7   # face 1: 8 pixels found (>= 1/2), 4 of them drawn, 4 drawn pixels missed: 4 / 12
    hair[0, 0, 1:3] = 1.0
    mask[1, 0, 0, 0] = 0.49  # face 2: nothing found (below 1/2), nothing drawn: right, 1 (as mask_scores)
    assert mask_iou(mask, hair) == pytest.approx((4 / 12 + 1) / 2)


def test_two_drawings_of_the_val_faces_are_scored_against_each_other(celeba_root, tmp_path, capsys):
    """draw_mask.py agree: a drawing agrees with itself exactly; the blind second drawing of the val faces, ten of
    whose polygons val.json took over, agrees less; files naming other faces are refused."""
    sys.path.insert(0, str(REPO / "train"))
    import draw_mask
    val, second = REPO / "hair_masks" / "val.json", REPO / "hair_masks" / "val_second.json"
    assert draw_mask.agreement(val, val, celeba_root) == {"black": (1.0, 0.0), "blond": (1.0, 0.0)}
    both = draw_mask.agreement(val, second, celeba_root)
    assert all(0.7 < iou < 0.95 and 0.01 < outside < 0.1 for iou, outside in both.values()), both
    assert draw_mask.main(["--celeba-root", str(celeba_root), "agree", str(val), str(second)]) == 0
    iou, outside = both["black"]
    assert f"black: IoU {iou:.3f}, the second outside the first's hair {outside:.1%}" in capsys.readouterr().out
    masks = json.loads(val.read_text())
    masks["masks"] = masks["masks"][1:]
    (tmp_path / "fewer.json").write_text(json.dumps(masks))
    assert draw_mask.main(["--celeba-root", str(celeba_root), "agree", str(val), str(tmp_path / "fewer.json")]) == 2
    assert "do not name the same faces" in capsys.readouterr().err


def test_teach_mask_tool_teaches_the_mask_on_drawn_faces_and_saves_a_pair(celeba_root, tmp_path, capsys):
    sys.path.insert(0, str(REPO / "train"))
    import teach_mask
    from cyclegan.evaluation import drawn_training_set, load_hair_masks
    from cyclegan.losses import drawn_mask_loss

    def subset(name, n):  # a few drawn faces of each colour, in the repository's file format
        masks = load_hair_masks(REPO / "hair_masks" / name)
        kept = [k for d in ("black", "blond") for k in [k for k, v in masks.items() if v[0] == d][:n]]
        path = tmp_path / name
        path.write_text(json.dumps({"image_size": [178, 218], "masks": [
            {"image": k, "domain": masks[k][0], "polygon": masks[k][1]} for k in kept]}))
        return path
    train, val = subset("train.json", 6), subset("val.json", 3)
    weights = tmp_path / "weights"
    for direction, seed in (("black2blond", 0), ("blond2black", 1)):
        torch.manual_seed(seed)
        Generator(ngf=4, n_blocks=1, image_size=64, attention=True, recolour=True, bins=3, guided_radius=2,
                  hair_lightness=BLOND, hair_ab=[6.0, 23.0]).save_pretrained(weights / direction)
    (weights / "black2blond" / "training.json").write_text(json.dumps({"steps": 7, "sessions": []}))
    out = tmp_path / "taught"
    args = ["--weights", str(weights), "--direction", "black2blond", "--celeba-root", str(celeba_root),
            "--train-masks", str(train), "--val-masks", str(val), "--out", str(out), "--steps", "40",
            "--batch-size", "4", "--lr", "0.002", "--every", "20", "--snapshot-every", "20"]
    assert teach_mask.main(args) == 0
    assert "val IoU at the start" in capsys.readouterr().out
    images, hair = drawn_training_set(train, celeba_root, 64, ("black", "blond"))["A"]

    def drawn_loss(folder):  # the mask's cross-entropy on the drawn black train faces as they are (not augmented)
        G = Generator.from_pretrained(folder).eval()
        G.mask_gain = 1.0
        with torch.no_grad():
            return drawn_mask_loss(G(images, return_mask=True)[1], hair).item()
    before, after = drawn_loss(weights / "black2blond"), drawn_loss(out / "black2blond")
    assert after < 0.8 * before  # taught
    for taught in (out / "snapshots" / "step20", out / "snapshots" / "step40", out):  # as a train/run.py run
        step = 20 if taught.name == "step20" else 40
        assert json.loads((taught / "black2blond" / "config.json").read_text())["mask_gain"] == 2.0
        record = json.loads((taught / "black2blond" / "training.json").read_text())
        assert record["steps"] == 7 and record["sessions"][-1]["teach_mask"] == {
            "steps": step, "faces": 6, "batch_size": 4, "lr": 0.002}
        assert "mask taught on 6 drawn faces" in (taught / "black2blond" / "README.md").read_text()
        for name in ("config.json", "model.safetensors"):  # the other generator, unchanged
            assert (taught / "blond2black" / name).read_bytes() == (weights / "blond2black" / name).read_bytes()
    assert not list(out.rglob("*.tmp"))
    assert (out / "black2blond" / "model.safetensors").read_bytes() == (
        out / "snapshots" / "step40" / "black2blond" / "model.safetensors").read_bytes()
    assert teach_mask.main([*args[:2], "--direction", "blond2black", "--celeba-root", str(celeba_root), "--out",
                            str(out), "--weights", str(tmp_path / "none")]) == 2
    # Ctrl-C in the 4th step: the 3 steps done are saved as a snapshot and as the result, the run says so
    calls = []

    def interrupted(*a):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return augment_drawn(*a)
    from cyclegan.data import augment_drawn
    stopped = tmp_path / "stopped"
    with pytest.MonkeyPatch.context() as m:
        m.setattr("cyclegan.training.augment_drawn", interrupted)
        assert teach_mask.main([*args[:args.index("--out")], "--out", str(stopped), "--steps", "40"]) == 130
    assert [f.name for f in (stopped / "snapshots").iterdir()] == ["step3"]
    record = json.loads((stopped / "black2blond" / "training.json").read_text())
    assert record["sessions"][-1]["teach_mask"]["steps"] == 3
    # SIGTERM (a killed background job, a scheduler) during step 3: the step is finished and kept the same way
    import os
    import signal
    calls.clear()

    def terminated(*a):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return augment_drawn(*a)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as m:
        m.setattr("cyclegan.training.augment_drawn", terminated)
        assert teach_mask.main([*args[:args.index("--out")], "--out", str(tmp_path / "term"), "--steps", "40"]) == 130
    assert [f.name for f in (tmp_path / "term" / "snapshots").iterdir()] == ["step3"]
    assert signal.getsignal(signal.SIGTERM) is handler  # put back
