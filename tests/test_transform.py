"""The recolouring pair of issue [13]: the bilateral grid (a luminance axis on the field of colour transforms)
and the guided-filter mask (cyclegan/transform.py), at the model's size and at the photo's."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cyclegan.evaluation import FACE_BOX, face_region
from cyclegan.faces import MASK_ON, pil_taps, recolour_photo, resample_rows, translate_photo, widen
from cyclegan.inference import image_to_tensor, tensor_to_image, translate
from cyclegan.networks import Generator
from cyclegan.transform import (apply_field, gather_knots, guided_coefficients, guided_mask, luminance, mask_reach,
                                recolour, slice_bins)

BINS = 3


def grid_generator(bins=BINS, guided_radius=2, seed=0):
    torch.manual_seed(seed)
    return Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, cell=4, bins=bins,
                     guided_radius=guided_radius).eval()


def set_coefficients(G, scale=0.05, mask_logit=None, seed=1):
    """Random weights for the transform's filters (a field that varies over the image and between knots);
    with `mask_logit`, a constant raw mask."""
    conv, k = G.model[-1], 12 * G.bins
    with torch.no_grad():
        conv.weight[:k] = torch.randn(conv.weight[:k].shape, generator=torch.Generator().manual_seed(seed)) * scale
        if mask_logit is not None:
            conv.weight[k:].zero_()
            conv.bias[k:] = mask_logit


def smooth_photo(seed=0, size=32, n=1):
    """A photo with structure over a few pixels, as the model's input is."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 3, size // 4, size // 4, generator=g) * 2 - 1, size=(size, size), mode="bicubic",
                      align_corners=False)
    return x.clamp(-1, 1)


def test_slicing_interpolates_between_the_knots_at_the_pixels_luminance():
    coef = torch.randn(1, 12 * BINS, 1, 1).expand(1, 12 * BINS, 2, 2)
    x = torch.tensor([-1.0, 0.0, 1.0, 0.5]).view(1, 1, 2, 2).expand(1, 3, 2, 2)  # grey: luminance (x + 1) / 2
    sliced = slice_bins(coef, x, BINS)
    knots = coef[0, :, 0, 0].view(BINS, 12)
    assert torch.allclose(luminance(x)[0, 0], torch.tensor([[0.0, 0.5], [1.0, 0.75]]), atol=1e-6)
    assert torch.allclose(sliced[0, :, 0, 0], knots[0], atol=1e-6)  # black: the first knot
    assert torch.allclose(sliced[0, :, 0, 1], knots[1], atol=1e-6)  # mid grey: the middle one
    assert torch.allclose(sliced[0, :, 1, 0], knots[2], atol=1e-6)  # white: the last
    assert torch.allclose(sliced[0, :, 1, 1], (knots[1] + knots[2]) / 2, atol=1e-6)  # halfway between two


@pytest.mark.parametrize("bins", [1, BINS])
def test_gathering_two_rows_and_two_knots_a_pixel_equals_resampling_then_slicing_all(bins):
    """The photo path slices only the pixels its mask turns on and only the two knots each reads (gather_knots);
    that must be what slicing every knot of every pixel gives, black and white pixels included."""
    g = torch.Generator().manual_seed(3)
    field, height, width = torch.randn(12 * bins, 5, 7, generator=g), 23, 31
    x = torch.rand(height, width, 3, generator=g) * 2 - 1
    x[0, :5], x[1, :5] = -1, 1  # the ends of the luminance axis
    coef = resample_rows(widen(field, width), pil_taps(5, height, "bilinear"))  # (height, width, 12 bins)
    expected = slice_bins(coef, x, bins, dim=-1)  # every knot of every pixel
    ys, xs = torch.nonzero(torch.rand(height, width, generator=g) > 0.5, as_tuple=True)  # some of the pixels
    got = gather_knots(coef, ys, xs, x[ys, xs], bins)
    assert torch.allclose(got, expected[ys, xs], atol=1e-5)


def test_dark_and_light_pixels_of_one_cell_get_different_transforms():
    """What a single affine per cell cannot do: lift near-black to blond and keep a light colour beside it."""
    dark, light = torch.tensor([-0.9, -0.9, -0.9]), torch.tensor([0.6, 0.3, 0.2])
    blond = torch.tensor([0.7, 0.5, 0.0])
    knots = torch.zeros(BINS, 12)
    knots[0, 9:] = blond - dark  # the black knot: an offset that lands near-black on blond
    coef = knots.flatten().view(1, -1, 1, 1)
    x = torch.stack([dark, light]).T.reshape(1, 3, 1, 2)
    y = recolour(x, coef.expand(1, -1, 1, 2), BINS)
    # near-black (luminance 0.05) reads 0.9 of the black knot; the light colour (0.69) none of it
    assert torch.allclose(y[0, :, 0, 0], dark + 0.9 * (blond - dark), atol=1e-5)
    assert torch.allclose(y[0, :, 0, 1], light, atol=1e-6)


def test_the_guided_filter_solves_he_et_als_least_squares():
    g = torch.Generator().manual_seed(0)
    I, p = torch.rand(1, 3, 12, 14, generator=g) * 2 - 1, torch.rand(1, 1, 12, 14, generator=g)
    radius, eps = 2, 0.01
    coef = guided_coefficients(I, p, radius, eps)
    # one window by hand: the ridge regression of p on I (with an intercept) over the 5x5 window at (6, 7)
    window = (slice(4, 9), slice(5, 10))
    X = I[0][:, window[0], window[1]].reshape(3, -1).T
    y = p[0, 0][window].reshape(-1)
    Xc, yc = X - X.mean(0), y - y.mean()
    a = torch.linalg.solve(Xc.T @ Xc / len(y) + eps * torch.eye(3), Xc.T @ yc / len(y))
    c = y.mean() - a @ X.mean(0)
    assert torch.allclose(coef[0, :3, 6, 7], a, atol=1e-5) and torch.allclose(coef[0, 3, 6, 7], c, atol=1e-5)
    # a constant mask is fitted by a constant: a = 0, c = the mask
    flat = guided_coefficients(I, torch.full_like(p, 0.3), radius, eps)
    assert flat[:, :3].abs().max() < 1e-5 and torch.allclose(flat[:, 3], torch.full_like(flat[:, 3], 0.3), atol=1e-5)


def test_mask_zero_gives_the_photo_exactly_at_the_models_size_and_the_photos():
    G = grid_generator()
    set_coefficients(G, mask_logit=-200.0)  # the raw mask underflows to 0: the guided one is 0 too
    x = smooth_photo(n=2)
    y, mask, field = G(x, return_field=True)
    assert field.shape == (2, 12 * BINS + 4, 8, 8) and field[:, :12 * BINS].abs().max() > 0.01
    assert torch.all(mask == 0) and torch.equal(y, x)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    out = recolour_photo(photo, (5, 10, 65, 80), field[0], None, BINS, guided=True)
    assert np.array_equal(np.asarray(out), np.asarray(photo))


def test_the_photo_path_at_the_models_size_is_the_models_output():
    G = grid_generator()
    set_coefficients(G)
    photo = tensor_to_image(smooth_photo(3))
    x = image_to_tensor(photo)
    y, mask, field = translate(G, x, "fp32", return_field=True)
    content, guided = apply_field(x, field, BINS, guided=True)
    assert torch.allclose(guided, mask, atol=1e-6)  # the mask is rebuilt from the field exactly
    out = recolour_photo(photo, (0, 0, 32, 32), field[0], None, BINS, guided=True)
    # the model's blend with T(x) clipped to a photo's colours (the model clips after the blend)
    expected = tensor_to_image(torch.lerp(x, content.clamp(-1, 1), mask))
    on = mask[0, 0].numpy() >= MASK_ON
    diff = np.abs(np.asarray(out, int) - np.asarray(expected, int)).max(-1)
    assert on.mean() > 0.5 and diff[on].max() <= 1
    assert np.abs(np.asarray(out, int) - np.asarray(photo, int)).max() > 10  # and it did change the photo


def test_the_transform_and_mask_at_twice_the_size_are_the_upsampled_1x_result_within_a_stated_tolerance():
    """T and M at 2x (the field scaled once, to 2x, each pixel sliced at its own luminance) against T and M at
    1x scaled up: they differ by the product rule of interpolation (a coefficient's change over a pixel times
    the colour's), second order on a smooth photo. Stated tolerance, for a field that varies across the
    image and between its knots: within 2 grey levels on average and 8 at the 99th percentile for the
    blended output, and 0.01 on average for the mask, while the transform moves colours by tens of levels."""
    G = grid_generator()
    set_coefficients(G, scale=0.1)
    small = smooth_photo(4)
    large = F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)
    _, _, field = G(small, return_field=True)
    T1, M1 = apply_field(small, field, BINS, guided=True)
    T2, M2 = apply_field(large, field, BINS, guided=True)
    up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
    out_1x, out_2x = up(torch.lerp(small, T1, M1)), torch.lerp(large, T2, M2)
    levels = (out_2x - out_1x).abs() / 2 * 255
    assert levels.mean() < 2.0 and torch.quantile(levels.flatten(), 0.99) < 8.0
    assert (M2 - up(M1)).abs().mean() < 0.01
    assert ((out_2x - large).abs() / 2 * 255).mean() > 10  # not by accident: the colours do move


def test_a_constant_photo_gets_one_colour_at_any_size():
    G = grid_generator()
    knots = torch.randn(BINS, 12, generator=torch.Generator().manual_seed(5)) * 0.2
    with torch.no_grad():  # a constant field (the same transforms everywhere), the raw mask fully on
        G.model[-1].weight.zero_()
        G.model[-1].bias[:12 * BINS] = knots.flatten()
        G.model[-1].bias[-1] = 200.0
    colour = torch.tensor([0.2, -0.1, -0.5])
    x = colour.view(1, 3, 1, 1).expand(1, 3, 32, 32)
    l = float(luminance(colour.view(1, 3, 1, 1)))  # noqa: E741
    k = l * (BINS - 1)
    lo = int(k)
    coef = knots[lo] * (1 - (k - lo)) + knots[min(lo + 1, BINS - 1)] * (k - lo)
    A, b = coef[:9].view(3, 3), coef[9:]
    expected = ((colour + A @ colour + b).clamp(-1, 1) + 1) * 127.5
    y, mask, field = translate(G, x, "fp32", return_field=True)
    assert torch.all(mask == 1)  # a flat photo: the guided mask is the raw one, 1
    assert torch.allclose((y[0, :, 5, 7] + 1) * 127.5, expected, atol=1e-3)
    assert torch.allclose(y, y[..., :1, :1].expand_as(y), atol=1e-6)
    photo = tensor_to_image(x).resize((160, 160))
    out = np.asarray(recolour_photo(photo, (0, 0, 160, 160), field[0], None, BINS, guided=True), float)
    assert np.abs(out - expected.numpy()).max() <= 1.0


def test_at_the_photos_resolution_the_guided_mask_follows_the_photos_edges():
    """A two-colour photo whose edge falls inside the field's cells: the mask on the hair colour fitted at 32 px
    switches at the photo's own edge at 8x, within a pixel or two, where the mask scaled up as an image
    (the first recolouring pairs) fades over a whole cell: no halo, no blocks."""
    hair, skin = torch.tensor([-0.8, -0.85, -0.9]), torch.tensor([0.6, 0.2, 0.0])
    big = np.zeros((256, 256, 3), np.uint8)
    big[:, :] = ((skin + 1) * 127.5).round().numpy().astype(np.uint8)
    big[:, :117] = ((hair + 1) * 127.5).round().numpy().astype(np.uint8)  # the edge at 14.6 of 32 px
    photo = Image.fromarray(big)
    x = image_to_tensor(photo.resize((32, 32), Image.BOX))
    on_hair = torch.zeros(1, 1, 256, 256)
    on_hair[..., :117] = 1
    raw = F.avg_pool2d(on_hair, 8)  # a raw mask on the hair (its share of each pixel), as a trained one would be
    coef = torch.cat([torch.zeros(1, 12 * BINS, 32, 32), guided_coefficients(x, raw, 2, 0.01)], 1)
    field = F.avg_pool2d(coef, 4)  # the generator's cells
    out = np.asarray(recolour_photo(photo, (0, 0, 256, 256), field[0], None, BINS, guided=True))
    assert np.array_equal(out, big)  # an identity transform changes nothing, whatever the mask
    mask = guided_mask(image_to_tensor(photo), F.interpolate(field[:, 12 * BINS:], size=(256, 256), mode="bilinear",
                                                            align_corners=False))[0, 0]
    row = mask[128]
    assert row[:112].min() > 0.9 and row[119:].max() < 0.1  # on the hair, off the skin, to within 2 px of the edge
    scaled = F.interpolate(raw, size=(256, 256), mode="bilinear", align_corners=False)[0, 0, 128]
    assert ((scaled > 0.1) & (scaled < 0.9)).sum() >= 8  # the raw mask scaled up fades over a whole cell
    assert float(mask_reach(field[0, 12 * BINS:], dim=0).min()) >= float(mask.max()) - 1  # reach bounds it


def test_config_round_trip_and_older_recolouring_folders(tmp_path):
    G = grid_generator(guided_radius=3)
    set_coefficients(G)
    G.save_pretrained(tmp_path / "g")
    config = json.loads((tmp_path / "g" / "config.json").read_text())
    assert (config["bins"], config["guided_radius"], config["guided_eps"]) == (BINS, 3, 0.01)
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    x = smooth_photo(n=2)
    assert (loaded.bins, loaded.guided_radius) == (BINS, 3) and torch.equal(loaded(x), G(x))
    # a recolouring folder from before the grid (issue [11]) has no bins or guided_radius: one affine a cell
    torch.manual_seed(0)
    old = Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True).eval()
    old.save_pretrained(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["bins"], config["guided_radius"], config["guided_eps"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    again = Generator.from_pretrained(tmp_path / "old").eval()
    assert (again.bins, again.guided_radius) == (1, 0) and torch.equal(again(x), old(x))


def test_bad_grid_settings_are_refused():
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        Generator(attention=True, recolour=True, bins=0)
    with pytest.raises(ValueError, match="guided_radius must be a non-negative integer"):
        Generator(attention=True, recolour=True, guided_radius=-1)
    with pytest.raises(ValueError, match="guided_eps must be positive"):
        Generator(attention=True, recolour=True, guided_eps=0.0)
    with pytest.raises(ValueError, match="they need recolour"):
        Generator(attention=True, bins=3)


def test_the_page_path_recolours_the_window_with_the_guided_mask():
    from conftest import REPO
    G = grid_generator()
    set_coefficients(G, scale=0.1)
    photo = Image.open(REPO / "examples" / "astronaut.jpg").convert("RGB")
    r = translate_photo(photo, G, G, precision="fp32", drop_islands=False)
    assert r.translated and r.model_input.size[1] > r.model_input.size[0] * 0.9
    change = np.abs(np.asarray(r.composite, int) - np.asarray(photo, int)).max(-1)
    left, top, right, bottom = r.box
    outside = np.ones(change.shape, bool)
    outside[top:bottom, left:right] = False
    assert change[outside].max() == 0 and change[top:bottom, left:right].mean() > 3


def test_face_region_of_a_whole_aligned_image_is_its_central_squares():
    tall = torch.arange(80 * 64, dtype=torch.float32).view(1, 1, 80, 64)
    square = tall[..., 8:72, :]
    assert torch.equal(face_region(tall), face_region(square))
    assert face_region(tall).shape[-2:] == (round(FACE_BOX[3] * 64) - round(FACE_BOX[1] * 64),
                                           round(FACE_BOX[2] * 64) - round(FACE_BOX[0] * 64))


def test_the_guided_masks_clamp_passes_its_gradient_through_in_training():
    x = torch.zeros(1, 3, 2, 2)
    coef = torch.tensor([0.0, 0.0, 0.0, 1.5]).view(1, 4, 1, 1).expand(1, 4, 2, 2).clone().requires_grad_()
    mask = guided_mask(x, coef)
    assert torch.all(mask == 1)  # clamped in the forward pass
    mask.sum().backward()
    assert torch.all(coef.grad[:, 3] == 1)  # a plain clamp would give 0 here: nothing could close the mask
    with torch.no_grad():
        assert torch.all(guided_mask(x, coef) == 1)


class FieldGenerator(torch.nn.Module):
    """A stand-in recolouring generator that predicts a given guided field (bins 1, cell 4) for any input."""
    recolour, bins, cell, guided_radius = True, 1, 4, 2

    def __init__(self, field):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # translate reads the device from the parameters
        self.register_buffer("field", field)

    def forward(self, x, return_field=True):
        content, mask = apply_field(x, self.field, self.bins, guided=True)
        return torch.lerp(x, content, mask), mask, self.field


def test_dropping_islands_of_a_guided_mask_switches_its_cells_off_in_the_field_and_the_output():
    field = torch.zeros(1, 16, 32, 32)  # 128 x 128 pixels: A = 0, b = +0.5 everywhere; the mask's c below
    field[:, 9:12] = 0.5
    field[:, 15, :10] = 1.0  # the hair: the top ten rows of cells, one large piece
    field[:, 15, 24:26, 24:26] = 1.0  # an island: 2 x 2 cells, far below it, its mask following red too
    field[:, 12, 24:26, 24:26] = 0.5
    x = smooth_photo(size=128) * 0.5
    G = FieldGenerator(field)
    y_kept, mask_kept = translate(G, x, "fp32", return_mask=True)
    y, mask, dropped = translate(G, x, "fp32", return_field=True, drop_islands=True)
    island = (slice(None), slice(None), slice(88, 112), slice(88, 112))  # the island's cells and their neighbours
    assert mask_kept[island].max() > 0.9 and (y_kept - x)[island].abs().max() > 0.4  # it was painted
    assert mask[island].max() == 0 and torch.equal(y[island], x[island])  # and is now the photo exactly
    assert torch.equal(y[..., :36, :], y_kept[..., :36, :]) and (y - x)[..., :36, :].abs().min() > 0.4  # hair kept
    assert torch.equal(dropped[:, :12], field[:, :12])  # the colour transform is untouched
    assert dropped[0, 12:, 23:27, 23:27].abs().max() == 0 and torch.equal(dropped[:, 12:, :10], field[:, 12:, :10])
    # the output is the dropped field's, so the photo path (which rebuilds the mask from the field) agrees
    content, rebuilt = apply_field(x, dropped, 1, guided=True)
    assert torch.equal(rebuilt, mask)
    photo = tensor_to_image(x)
    out = recolour_photo(photo, (0, 0, 128, 128), dropped[0], None, 1, guided=True)
    diff = np.abs(np.asarray(out, int) - np.asarray(tensor_to_image(y), int))
    assert diff.max() <= 1 and np.array_equal(np.asarray(out)[88:112, 88:112], np.asarray(photo)[88:112, 88:112])
