"""The networks match the paper and the reference implementation."""

import pytest
import torch

from cyclegan.networks import Discriminator, Generator


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def test_parameter_counts_match_the_reference():
    assert n_params(Generator(ngf=64, n_blocks=9)) == 11_378_179
    assert n_params(Discriminator(ndf=64, n_layers=3)) == 2_764_737


def test_generator_layers_follow_the_paper():
    G = Generator(ngf=64, n_blocks=6)
    convs = [m for m in G.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    # c7s1-64, d128, d256, 6 x R256 (2 convs each), u128, u64, c7s1-3
    shapes = [(type(m).__name__, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in convs]
    assert shapes[:3] == [("Conv2d", 3, 64, 7, 1), ("Conv2d", 64, 128, 3, 2), ("Conv2d", 128, 256, 3, 2)]
    assert shapes[3:15] == [("Conv2d", 256, 256, 3, 1)] * 12
    assert shapes[15:] == [("ConvTranspose2d", 256, 128, 3, 2), ("ConvTranspose2d", 128, 64, 3, 2), ("Conv2d", 64, 3, 7, 1)]
    norms = [m for m in G.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 6


@pytest.mark.parametrize("size", [64, 128, 256])
def test_generator_keeps_shape_and_range(size):
    G = Generator(ngf=8, n_blocks=2)
    x = torch.rand(2, 3, size, size) * 2 - 1
    y = G(x)
    assert y.shape == x.shape
    # the output is the tanh of the last convolution (c7s1-3), not clamped: tanh of the same layers by hand
    assert torch.allclose(y, torch.tanh(G.model[:-1](x)), atol=1e-6)
    assert y.std() > 0  # not a constant image


def test_generator_is_fully_convolutional():
    y = Generator(ngf=4, n_blocks=1)(torch.zeros(1, 3, 36, 52))
    assert y.shape == (1, 3, 36, 52)


@pytest.mark.parametrize("shape", [(1, 3, 30, 32), (1, 3, 32, 34), (3, 32, 32), (1, 3, 4, 4)])
def test_generator_rejects_sizes_not_divisible_by_4(shape):
    with pytest.raises(ValueError, match="divisible by 4 and at least 8"):
        Generator(ngf=4, n_blocks=1)(torch.zeros(shape))


@pytest.mark.parametrize("kwargs,message", [(dict(ngf=0), "ngf must be a positive integer, got 0"),
                                            (dict(n_blocks=-1), "n_blocks must be a non-negative integer, got -1"),
                                            (dict(image_size=30), "image_size must be a positive multiple of 4, got 30"),
                                            (dict(ngf=2.5), "ngf must be a positive integer, got 2.5")])
def test_generator_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        Generator(**kwargs)


def test_patchgan_output_and_receptive_field():
    D = Discriminator(ndf=8)
    assert D(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # the reference's 30x30 patches at 256
    # The receptive field of one output value is 70x70: its gradient touches exactly that window.
    # (Instance norm mixes all positions through its statistics, so it is taken out for this.)
    for i, m in enumerate(D.model):
        if isinstance(m, torch.nn.InstanceNorm2d):
            D.model[i] = torch.nn.Identity()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    D(x)[0, 0, 7, 7].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 70
    assert int(cols.max() - cols.min()) + 1 == 70


def test_patchgan_has_no_norm_on_first_layer():
    D = Discriminator()
    assert isinstance(D.model[0], torch.nn.Conv2d) and isinstance(D.model[1], torch.nn.LeakyReLU)
    assert D.model[1].negative_slope == 0.2
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in D.modules()) == 3


def test_weights_are_initialised_from_n_0_002():
    torch.manual_seed(0)
    weights = torch.cat([m.weight.flatten() for m in Generator().modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    biases = [m.bias for m in Discriminator().modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(torch.count_nonzero(b) == 0 for b in biases)


def test_resize_conv_upsampling_has_the_same_size_and_parameters():
    deconv, resize = Generator(ngf=8, n_blocks=1), Generator(ngf=8, n_blocks=1, upsample="resize_conv")
    assert n_params(deconv) == n_params(resize)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in resize.modules())
    assert resize(torch.zeros(1, 3, 32, 48)).shape == (1, 3, 32, 48)
    with pytest.raises(ValueError, match="upsample must be"):
        Generator(upsample="bilinear")


@pytest.mark.parametrize("upsample", ["deconv", "resize_conv"])
def test_both_upsampling_kinds_save_and_load(tmp_path, upsample):
    G = Generator(ngf=4, n_blocks=1, upsample=upsample)
    G.save_pretrained(tmp_path)
    H = Generator.from_pretrained(tmp_path)
    x = torch.rand(1, 3, 16, 16)
    assert H._hub_mixin_config["upsample"] == upsample
    assert torch.equal(H(x), G(x))
