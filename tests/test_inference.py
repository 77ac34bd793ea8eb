"""The inference helpers: any image size, conversions, the sample grid, keeping the photo's detail."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import Painter, pieces
from cyclegan.inference import gaussian_blur, image_to_tensor, keep_detail, mask_islands, pad_to_multiple, \
    sample_grid, tensor_to_image, translate, translate_image
from cyclegan.networks import Generator


@pytest.fixture
def G():
    torch.manual_seed(0)
    return Generator(ngf=4, n_blocks=1).eval()


@pytest.mark.parametrize("h,w", [(30, 45), (1, 1), (3, 7), (64, 64)])
def test_translate_any_size_returns_the_same_size_in_range(G, h, w):
    x = torch.rand(2, 3, h, w) * 2 - 1
    y = translate(G, x, precision="fp32")
    assert y.shape == (2, 3, h, w) and y.dtype == torch.float32
    # the generator on the input padded to a multiple of 4 (at least 8), cut back to the input's size
    padded, _ = pad_to_multiple(x)
    with torch.no_grad():
        assert torch.allclose(y, G(padded)[..., :h, :w], atol=1e-6)


def test_translate_of_a_multiple_of_4_equals_the_plain_forward(G):
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(translate(G, x, precision="fp32"), G(x))


def test_padding_reflects_and_crops_back():
    x = torch.arange(6.0).view(1, 1, 2, 3)
    padded, size = pad_to_multiple(x)
    assert padded.shape == (1, 1, 8, 8) and size == (2, 3)  # at least 8: the generator's minimum
    assert torch.equal(padded[..., :2, :3], x)


def test_translate_rejects_an_unbatched_tensor(G):
    with pytest.raises(ValueError, match="expects a batch"):
        translate(G, torch.zeros(3, 8, 8))


def test_image_tensor_round_trip_is_exact():
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = image_to_tensor(Image.fromarray(arr))
    assert x.shape == (1, 3, 5, 7) and x.min() >= -1 and x.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_image(x)), arr)


def test_translate_image_gives_translation_and_reconstruction(G):
    torch.manual_seed(1)
    G_back = Generator(ngf=4, n_blocks=1).eval()  # another generator for the way back
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8))
    fake, rec = translate_image(photo, G, G_back, precision="fp32")
    assert fake.size == rec.size == (50, 30) and fake.mode == rec.mode == "RGB"
    # the translation is G of the photo, the reconstruction G_back of the translation (each padded to 32x52, cut)
    x = image_to_tensor(photo)
    expected_fake = translate(G, x, precision="fp32")
    assert np.array_equal(np.asarray(fake), np.asarray(tensor_to_image(expected_fake)))
    expected_rec = translate(G_back, expected_fake, precision="fp32")  # from the float translation
    assert np.array_equal(np.asarray(rec), np.asarray(tensor_to_image(expected_rec)))
    assert not np.array_equal(np.asarray(rec), np.asarray(tensor_to_image(translate(G, expected_fake, "fp32"))))


def test_sample_grid_layout(G):
    real = torch.rand(2, 3, 16, 16) * 2 - 1
    grid = sample_grid(G, G, real, real, precision="fp32")
    assert grid.size == (3 * 16, 4 * 16)  # real | fake | rec, two rows per direction
    assert np.array_equal(np.asarray(grid)[:16, :16], np.asarray(tensor_to_image(real[0])))


def lattice(size=128, period=10, amplitude=0.3):
    """(1, 1, size, size): a woven-looking grid of bumps, like the one the generators paint in hair."""
    t = torch.arange(size, dtype=torch.float32) * 2 * np.pi / period
    return amplitude * (torch.sin(t)[None, :] * torch.sin(t)[:, None])[None, None]


def test_keep_detail_takes_the_colour_from_the_translation_and_the_texture_from_the_photo():
    strands = 0.1 * torch.sin(torch.arange(128.0) * 2 * np.pi / 4).view(1, 1, 1, -1).expand(1, 3, 128, 128)
    photo = -0.6 + strands  # dark hair with fine vertical strands (4 px period)
    blond = torch.tensor([0.6, 0.3, -0.2]).view(1, 3, 1, 1)
    translation = blond + lattice()  # blond, with the generators' own 10 px lattice on top
    out = keep_detail(photo, translation, torch.ones(1, 1, 128, 128))
    inner = (..., slice(16, -16), slice(16, -16))  # away from the borders
    # the colour: the translation's, on average
    assert torch.allclose(out[inner].mean(dim=(2, 3)), blond.view(1, 3), atol=0.03)
    # the lattice is gone: along a column (the strands run vertically) it varies < 1/10 as much
    assert out[inner].std(dim=2).mean() < 0.1 * translation[inner].std(dim=2).mean()
    # the strands are the photo's: brighter where the photo is brighter
    row = out[0, 0, 64, 16:-16] - out[0, 0, 64, 16:-16].mean()
    assert torch.corrcoef(torch.stack([row, strands[0, 0, 64, 16:-16]]))[0, 1] > 0.95


def test_keep_detail_leaves_the_photo_exactly_where_the_mask_is_off():
    photo, translation = torch.rand(1, 3, 40, 50) * 2 - 1, torch.rand(1, 3, 40, 50) * 2 - 1
    mask = torch.zeros(1, 1, 40, 50)
    mask[..., 10:30, 10:30] = 1
    out = keep_detail(photo, translation, mask)
    assert torch.equal(out[..., ~mask[0, 0].bool()], photo[..., ~mask[0, 0].bool()])
    assert (out - photo).abs()[..., 10:30, 10:30].mean() > 0.1
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("h,w", [(1, 1), (3, 7), (128, 128)])
def test_gaussian_blur_keeps_the_size_and_the_mean_of_a_flat_image(h, w):
    x = torch.full((1, 3, h, w), 0.25)
    y = gaussian_blur(x, 3.0)
    assert y.shape == x.shape and torch.allclose(y, x)


def test_gaussian_blur_spreads_a_point_by_sigma():
    x = torch.zeros(1, 1, 65, 65)
    x[..., 32, 32] = 1
    y = gaussian_blur(x, 3.0)[0, 0]
    offsets = (torch.arange(65.0) - 32) ** 2
    assert y.sum().item() == pytest.approx(1, abs=1e-5)
    assert (y.sum(0) * offsets).sum().item() == pytest.approx(9, rel=0.02)  # variance sigma^2 along x


def test_translate_with_detail_applies_keep_detail_under_the_generators_mask():
    torch.manual_seed(0)
    G = Generator(ngf=4, n_blocks=1, attention=True).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    fake, mask = translate(G, x, "fp32", return_mask=True)
    detailed, same_mask = translate(G, x, "fp32", return_mask=True, detail=True)
    assert torch.equal(mask, same_mask)
    assert torch.allclose(detailed, keep_detail(x, fake, mask))
    assert not torch.allclose(detailed, fake, atol=1e-3)


def test_mask_islands_are_the_small_pieces_but_never_the_largest():
    mask = pieces()[None, None]
    islands = mask_islands(mask, share=20 / 32 ** 2)  # pieces under 20 px: the speck (4), the patch (16)
    assert islands.shape == mask.shape and islands.dtype == torch.bool
    assert islands[0, 0, 20:22, 25:27].all() and islands[0, 0, 25:29, 4:8].all()
    assert islands.sum() == 4 + 16
    assert not mask_islands(mask, share=10 / 32 ** 2)[0, 0, 25:29, 4:8].any()  # 16 px is not under 10
    alone = torch.zeros(1, 1, 32, 32)
    alone[0, 0, 5:7, 5:7] = 1  # a single small piece is the largest: kept
    assert not mask_islands(torch.cat([alone, torch.zeros_like(alone)])).any()
    assert not mask_islands(torch.ones(1, 1, 32, 32)).any()  # the paper generator's all-ones mask


def test_translate_drop_islands_gives_the_input_back_on_the_islands_only():
    torch.manual_seed(0)
    G = Painter(pieces())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y, mask = translate(G, x, "fp32", return_mask=True)
    kept, kept_mask = translate(G, x, "fp32", return_mask=True, drop_islands=True)
    islands = mask_islands(mask)
    assert islands.sum() == 2 * 4  # of the pieces under the largest only the speck is under 1% (10 px), in each image
    on_islands = islands.expand_as(x)
    assert torch.equal(kept[on_islands], x[on_islands])
    assert torch.equal(kept[~on_islands], y[~on_islands])
    assert torch.equal(kept_mask, mask.masked_fill(islands, 0))
    assert not torch.equal(y[on_islands], x[on_islands])  # without the option the islands are painted
