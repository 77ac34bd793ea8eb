"""The inference helpers: any image size, conversions, the sample grid."""

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.inference import image_to_tensor, pad_to_multiple, sample_grid, tensor_to_image, translate, translate_image
from cyclegan.networks import Generator


@pytest.fixture
def G():
    torch.manual_seed(0)
    return Generator(ngf=4, n_blocks=1).eval()


@pytest.mark.parametrize("h,w", [(30, 45), (1, 1), (3, 7), (64, 64)])
def test_translate_any_size_returns_the_same_size_in_range(G, h, w):
    y = translate(G, torch.rand(2, 3, h, w) * 2 - 1, precision="fp32")
    assert y.shape == (2, 3, h, w) and y.dtype == torch.float32
    assert y.min() >= -1 and y.max() <= 1


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
    fake, rec = translate_image(Image.new("RGB", (50, 30), (10, 200, 30)), G, G, precision="fp32")
    assert fake.size == rec.size == (50, 30) and fake.mode == "RGB"


def test_sample_grid_layout(G):
    real = torch.rand(2, 3, 16, 16) * 2 - 1
    grid = sample_grid(G, G, real, real, precision="fp32")
    assert grid.size == (3 * 16, 4 * 16)  # real | fake | rec, two rows per direction
    assert np.array_equal(np.asarray(grid)[:16, :16], np.asarray(tensor_to_image(real[0])))
