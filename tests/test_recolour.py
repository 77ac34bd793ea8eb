"""The recolouring generator (issue [11]): M * T(x) + (1 - M) * x with T a smooth field of colour transforms,
applied at the photo's own resolution, and the two-tone hair figure of the evaluation."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import REPO
from cyclegan.evaluation import HairColour, outside_face_box
from cyclegan.faces import MASK_ON, detect_faces, face_box, hair_window, recolour_photo, translate_photo
from cyclegan.inference import image_to_tensor, tensor_to_image, translate
from cyclegan.networks import Generator, apply_field, coefficient_field
from cyclegan.config import TrainConfig
from cyclegan.training import Trainer


def recolourer(cell=4, **kwargs):
    torch.manual_seed(0)
    return Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, cell=cell, **kwargs).eval()


def image(seed=0, n=2, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def set_last_layer(G, field=None, mask_logit=None, seed=1):
    """Give the transform's 12 filters random weights (a field that varies over the image) or, with
    `field` (12 numbers), a constant field; set the mask's filter to a constant logit."""
    conv = G.model[-1]
    with torch.no_grad():
        if field is None:
            conv.weight[:12] = torch.randn(conv.weight[:12].shape, generator=torch.Generator().manual_seed(seed)) * 0.05
        else:
            conv.weight[:12].zero_()
            conv.bias[:12] = torch.tensor(field, dtype=torch.float32)
        if mask_logit is not None:
            conv.weight[12].zero_()
            conv.bias[12] = mask_logit


# a constant field: a colour matrix that swaps and darkens, and an offset
CONSTANT_FIELD = [-0.5, 0.1, 0.0, 0.0, -0.6, 0.2, 0.1, 0.0, -0.4, -0.2, 0.05, 0.1]


def test_a_new_recolouring_generator_is_the_identity():
    x = image()
    y, mask, field = recolourer()(x, return_field=True)
    assert torch.all(field == 0) and torch.allclose(y, x, atol=1e-6)
    assert field.shape == (2, 12, 8, 8) and mask.shape == (2, 1, 32, 32) and mask.std() > 0


def test_mask_zero_gives_the_photo_exactly_and_mask_one_the_transform():
    G, x = recolourer(), image()
    set_last_layer(G, mask_logit=-200.0)  # sigmoid underflows to exactly 0
    y, mask, field = G(x, return_field=True)
    assert torch.all(mask == 0) and torch.equal(y, x) and field.abs().max() > 0.01
    set_last_layer(G, mask_logit=200.0)
    y, mask, field = G(x, return_field=True)
    assert torch.all(mask == 1) and torch.equal(y, apply_field(x, field))
    assert (y - x).abs().max() > 0.05  # the transform really changes the picture
    # on a photo: a mask of 0 everywhere gives back the photo's own pixels, at any size
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    zero = Image.new("L", (32, 32), 0)
    assert np.array_equal(np.asarray(recolour_photo(photo, (5, 10, 65, 80), field[0], zero)), np.asarray(photo))


def test_the_transform_by_formula():
    x = image(n=1, size=8)
    field = torch.tensor(CONSTANT_FIELD).view(1, 12, 1, 1).expand(1, 12, 2, 2)
    A, b = torch.tensor(CONSTANT_FIELD[:9]).view(3, 3), torch.tensor(CONSTANT_FIELD[9:])
    expected = x + torch.einsum("ij,njhw->nihw", A, x) + b.view(1, 3, 1, 1)
    assert torch.allclose(apply_field(x, field), expected, atol=1e-6)
    assert torch.equal(apply_field(x, torch.zeros(1, 12, 3, 3)), x)


def test_the_field_is_the_mean_of_the_coefficients_over_cells():
    coefficients = torch.randn(1, 12, 10, 12)
    field = coefficient_field(coefficients, 4)
    assert field.shape == (1, 12, 3, 3)  # partial cells at the edges
    assert torch.allclose(field[0, :, 0, 0], coefficients[0, :, :4, :4].mean((1, 2)), atol=1e-6)
    assert torch.allclose(field[0, :, 2, 2], coefficients[0, :, 8:, 8:].mean((1, 2)), atol=1e-6)


def test_the_transform_at_twice_the_size_is_the_upsampled_result_within_a_stated_tolerance():
    """T applied to a photo at 2x (the field scaled bilinearly once, to 2x) against T at 1x scaled up
    (the field scaled to 1x, the result to 2x). They differ by the product rule of interpolation (A's
    change over a pixel times x's) and by bilinear-of-bilinear against bilinear on the field, both
    second order: for a field that changes linearly across the image, within 2 grey levels in the
    interior and 0.5 on average; for a rough field (independent N(0, 0.3) cells), 2 on average and 12
    at the 99th percentile, while the transform moves the colours by tens of grey levels."""
    torch.manual_seed(0)
    small = F.interpolate(torch.rand(1, 3, 8, 8) * 2 - 1, size=(32, 32), mode="bicubic", align_corners=False)
    small = small.clamp(-1, 1)  # a photo with structure over a few pixels, as the model's input is
    large = F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)
    axis = torch.linspace(-1, 1, 8)  # cells of 4 pixels over the 32-pixel image
    linear = (torch.randn(12, 1, 1) * axis.view(1, 8, 1) + torch.randn(12, 1, 1) * axis.view(1, 1, 8)
              + torch.randn(12, 1, 1) * 0.3)[None] * 0.5
    rough = torch.randn(1, 12, 8, 8) * 0.3
    for field, interior, mean, p99 in ((linear, 2.0, 0.5, 2.0), (rough, None, 2.0, 12.0)):
        at_2x = apply_field(large, field)
        upsampled = F.interpolate(apply_field(small, field), scale_factor=2, mode="bilinear", align_corners=False)
        difference = (at_2x - upsampled).abs() / 2 * 255  # in grey levels
        assert difference.mean() < mean and torch.quantile(difference.flatten(), 0.99) < p99
        if interior:
            assert difference[..., 8:-8, 8:-8].max() < interior
        assert ((at_2x - large).abs() / 2 * 255).mean() > 20  # not by accident: the colours do move


def test_a_constant_photo_gets_one_colour_at_any_size():
    G = recolourer()
    set_last_layer(G, field=CONSTANT_FIELD, mask_logit=200.0)
    colour = torch.tensor([0.6, 0.3, -0.2])  # in [-1, 1]
    A, b = torch.tensor(CONSTANT_FIELD[:9]).view(3, 3), torch.tensor(CONSTANT_FIELD[9:])
    expected = ((colour + A @ colour + b).clamp(-1, 1) + 1) * 127.5
    x = colour.view(1, 3, 1, 1).expand(1, 3, 32, 32)
    y, mask, field = translate(G, x, "fp32", return_field=True)
    assert torch.allclose(y, y[..., :1, :1].expand_as(y), atol=1e-6)
    assert torch.allclose((y[0, :, 0, 0] + 1) * 127.5, expected, atol=1e-3)
    # the same colour at 5x the model's size, across the whole box (a box that is the whole photo has no feather)
    photo = tensor_to_image(x).resize((160, 160))
    out = np.asarray(recolour_photo(photo, (0, 0, 160, 160), field[0], Image.new("L", (32, 32), 255)), float)
    assert np.abs(out - expected.numpy()).max() <= 1.0


def test_the_photo_path_equals_the_model_at_its_own_size_and_leaves_the_rest_alone():
    G = recolourer()
    set_last_layer(G)
    photo = tensor_to_image(image(3, n=1))
    y, mask, field = translate(G, image_to_tensor(photo), "fp32", return_field=True)
    mask_image = Image.fromarray((mask[0, 0].numpy() * 255).round().astype(np.uint8))
    out = recolour_photo(photo, (0, 0, 32, 32), field[0], mask_image)
    # where the mask is on, the photo path at 1x is the model's blend M * T(x) + (1 - M) * x, with T(x)
    # clipped to the colours a photo can hold (the model's output is clipped after the blend), within 1/255
    x = image_to_tensor(photo)
    model = torch.lerp(x, apply_field(x, field).clamp(-1, 1), mask)
    on = mask[0, 0].numpy() >= MASK_ON
    diff = np.abs(np.asarray(out, int) - np.asarray(tensor_to_image(model), int)).max(-1)
    assert on.any() and diff[on].max() <= 1
    # a mask that is off on the left half: there (away from where the bilinear scaling reaches) and outside
    # the box the photo keeps its pixels within 2/255 (exactly, in fact), at 4x the size
    big = photo.resize((256, 256))
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 255
    box = (32, 32, 224, 224)
    out = np.asarray(recolour_photo(big, box, field[0], Image.fromarray(half)), int)
    before = np.asarray(big, int)
    untouched = np.ones((256, 256), bool)
    untouched[32:224, 32 + 96 - 4:224] = False  # the box's right half and the few pixels the mask's edge reaches
    assert np.abs(out - before)[untouched].max() <= 2
    assert np.abs(out - before)[40:216, 140:216].mean() > 5


def test_config_round_trip_rebuilds_the_recolouring_generator(tmp_path):
    G = recolourer(cell=8)
    set_last_layer(G)
    G.save_pretrained(tmp_path / "g")
    config = json.loads((tmp_path / "g" / "config.json").read_text())
    assert (config["attention"], config["recolour"], config["cell"]) == (True, True, 8)
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert loaded.recolour and loaded.cell == 8
    x = image()
    assert torch.equal(loaded(x), G(x))


@pytest.mark.parametrize("kind", ["paper", "attention"])
def test_folders_saved_before_recolour_still_load_as_they_were(tmp_path, kind):
    torch.manual_seed(0)
    G = Generator(ngf=4, n_blocks=1, image_size=32, attention=kind == "attention").eval()
    G.save_pretrained(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["recolour"], config["cell"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    loaded = Generator.from_pretrained(tmp_path / "old").eval()
    assert not loaded.recolour and loaded.attention == (kind == "attention")
    assert torch.equal(loaded(image()), G(image()))


def test_the_shipped_attention_generators_load_and_translate():
    for name in ("black2blond", "blond2black"):
        config = json.loads((REPO / "weights" / name / "config.json").read_text())
        G = Generator.from_pretrained(REPO / "weights" / name).eval()
        assert G.attention and G.recolour == config.get("recolour", False)
        x = image(n=1, size=64)
        y, mask = translate(G, x, "fp32", return_mask=True)
        assert y.shape == x.shape and 0 <= mask.min() < mask.max() <= 1
        assert torch.allclose(y, x, atol=1e-6) == (mask.max() == 0)  # it changes the picture where its mask is on


def test_bad_recolour_settings_are_refused():
    with pytest.raises(ValueError, match="recolour needs attention"):
        Generator(recolour=True)
    with pytest.raises(ValueError, match="in_channels must be 3"):
        Generator(in_channels=1, out_channels=1, attention=True, recolour=True)
    with pytest.raises(ValueError, match="cell must be a positive integer"):
        Generator(attention=True, recolour=True, cell=0)
    with pytest.raises(ValueError, match="return_field needs a recolouring generator"):
        translate(Generator(ngf=4, n_blocks=1, attention=True), image(n=1), return_field=True)


def test_an_attention_pair_starts_a_recolouring_pair_with_its_mask(tmp_path):
    for source, target in (("A", "B"), ("B", "A")):
        torch.manual_seed(1)
        Generator(ngf=4, n_blocks=1, image_size=32, attention=True, source_domain=source,
                  target_domain=target).save_pretrained(tmp_path / "init" / f"{source}2{target}")
    config = dict(ngf=4, n_blocks=1, ndf=4, compile=False, precision="fp32", image_size=32, attention=True)
    trainer = Trainer(TrainConfig(**config, recolour=True, init_from=str(tmp_path / "init")))
    attention = Generator.from_pretrained(tmp_path / "init" / "A2B").eval()
    x = image()
    y, mask, field = trainer.G_AB.eval()(x, return_field=True)
    assert torch.allclose(mask, attention(x, return_mask=True)[1], atol=1e-6)  # the same mask
    assert torch.all(field == 0) and torch.allclose(y, x, atol=1e-6)  # and the identity transform
    # and a recolouring pair cannot start a pair of another kind
    trainer.G_AB.save_pretrained(tmp_path / "rec" / "A2B")
    trainer.G_BA.save_pretrained(tmp_path / "rec" / "B2A")
    with pytest.raises(ValueError, match="pass --recolour"):
        Trainer(TrainConfig(**config, init_from=str(tmp_path / "rec")))


def test_translate_photo_recolours_a_window_wider_than_the_face_at_the_photos_resolution():
    G = recolourer()
    set_last_layer(G, field=CONSTANT_FIELD, mask_logit=200.0)
    photo = Image.open(REPO / "examples" / "astronaut.jpg").convert("RGB")
    r = translate_photo(photo, G, G, precision="fp32")
    face = face_box(detect_faces(photo)[0], photo.size)
    side = face[2] - face[0]
    assert r.translated and r.box == hair_window(face, photo.size)
    left, top, right, bottom = r.box
    assert left < face[0] and right > face[2] and bottom > face[3] + 0.4 * side  # the hair around and below it
    # the face box at the model's size (32), the window around it at the same scale
    assert r.model_input.size == tuple(round((b - a) * 32 / side / 4) * 4 for a, b in ((left, right), (top, bottom)))
    # inside the window, away from its feathered edges, the photo's pixels are recoloured by the constant
    # transform (its strands kept: the change is a function of the pixel's own colour, not painted)
    before = np.asarray(photo, float)[top + 40:bottom - 40, left + 40:right - 40] / 127.5 - 1
    after = np.asarray(r.composite, float)[top + 40:bottom - 40, left + 40:right - 40]
    A, b = np.array(CONSTANT_FIELD[:9]).reshape(3, 3), np.array(CONSTANT_FIELD[9:])
    expected = (np.clip(before + before @ A.T + b, -1, 1) + 1) * 127.5
    assert np.abs(after - expected).max() <= 1.0


def test_hair_colour_likelihood_finds_what_is_left_of_the_source_hair():
    def domain(colour, n=4):  # a face-coloured centre, hair of one colour around it
        x = torch.full((n, 3, 32, 32), 0, dtype=torch.uint8)
        x[:] = torch.tensor(colour, dtype=torch.uint8).view(1, 3, 1, 1)
        x[:, :, 8:28, 8:24] = torch.tensor([200, 150, 120], dtype=torch.uint8).view(1, 3, 1, 1)
        return x
    black, blond = domain([20, 15, 10]), domain([230, 200, 120])
    hair = HairColour({"A": black, "B": blond})
    zone, skin = outside_face_box(black), black[:, 0] == 200  # outside the face box; the skin reaches beyond it
    assert zone.any() and (zone & skin).any()
    # the hair's colour is black's, never blond's; skin, alike in both domains, is neither's hair
    assert torch.equal(hair.has(black, "A"), zone & ~skin) and not hair.has(black, "B").any()
    hair_share = (zone & ~skin).flatten(1).sum(1) / zone.flatten(1).sum(1)
    assert torch.allclose(hair.share(black, "A"), hair_share) and torch.all(hair.share(blond, "A") == 0)
    # the left half of the hair turned blond: about half of it is left
    half = black.clone()
    half[:, :, :, :16] = blond[:, :, :, :16]
    kept, had = hair.left(black, half, "A")
    assert torch.equal(had, (zone & ~skin).flatten(1).sum(1))
    assert (kept.float() / had).tolist() == pytest.approx([0.5] * 4, abs=0.05)
    # counted only in a zone (the drawn hair): its left 8 columns all turned blond, its right 8 all kept
    for columns, expected in ((slice(0, 8), 0.0), (slice(24, 32), 1.0)):
        zone_only = torch.zeros(4, 32, 32, dtype=torch.bool)
        zone_only[:, :, columns] = True
        kept, had = hair.left(black, half, "A", zone_only)
        assert torch.equal(had, (zone & ~skin & zone_only).flatten(1).sum(1)) and had.min() > 0
        assert (kept.float() / had).tolist() == [expected] * 4


def test_the_photo_path_leaves_pixels_under_a_faint_mask_exactly_as_they_were():
    G = recolourer()
    set_last_layer(G, field=[-2, 0, 0, 0, 0, -2, 0, 0, 0, 0, -2, 0])  # T(x) = -x: the negative, a large change
    photo = tensor_to_image(image(3, n=1)).resize((96, 96))
    _, _, field = translate(G, image_to_tensor(photo.resize((32, 32))), "fp32", return_field=True)
    band = np.full((32, 32), 255, np.uint8)  # on, but for a band in the middle (inside the span the path visits)
    band[:, 8:24] = 5  # 5/255 = 0.0196 < MASK_OFF (0.02)
    out = np.asarray(recolour_photo(photo, (0, 0, 96, 96), field[0], Image.fromarray(band)), int)
    before = np.asarray(photo, int)
    assert np.abs(out - before)[:, :20].mean() > 50  # the field changes every colour where the mask is on
    assert np.array_equal(out[:, 30:66], before[:, 30:66])  # the band, but for the columns the mask's edges reach
