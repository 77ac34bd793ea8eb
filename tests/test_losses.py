"""Loss values on hand-made tensors, the history pool, and the learning-rate schedule."""

import math

import pytest
import torch

from cyclegan.losses import cycle_loss, discriminator_loss, gan_loss, identity_loss
from cyclegan.config import TrainConfig
from cyclegan.training import ImagePool, Trainer, lr_factor
from conftest import TINY


def test_lsgan_loss_values():
    pred = torch.tensor([[0.0, 0.5], [1.0, 2.0]])
    # real target 1: ((1)^2 + 0.5^2 + 0 + 1^2) / 4
    assert gan_loss(pred, True).item() == pytest.approx((1 + 0.25 + 0 + 1) / 4)
    # fake target 0: (0 + 0.25 + 1 + 4) / 4
    assert gan_loss(pred, False).item() == pytest.approx((0 + 0.25 + 1 + 4) / 4)


def test_discriminator_loss_is_halved():
    real, fake = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.5)
    # 0.5 * ((0.5 - 1)^2 + 0.5^2) = 0.25
    assert discriminator_loss(real, fake).item() == pytest.approx(0.25)
    assert discriminator_loss(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).item() == 0.0


def test_cycle_and_identity_losses_are_mean_l1():
    x = torch.zeros(1, 3, 2, 2)
    y = torch.tensor([0.5, -0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert cycle_loss(x, y).item() == pytest.approx(2 / 3)
    assert identity_loss(x, y).item() == pytest.approx(2 / 3)
    assert cycle_loss(y, y).item() == 0.0


def test_losses_are_computed_in_float32_from_bf16_inputs():
    pred = torch.full((1, 1, 3, 3), 0.3, dtype=torch.bfloat16)
    loss = gan_loss(pred, True)
    # (bf16(0.3) - 1)^2 in float32: bf16(0.3) is 0.30078125, and the square is not rounded to bf16 (0.48828125)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx((0.30078125 - 1) ** 2, abs=1e-7)
    assert loss.item() != pytest.approx(float(torch.tensor((0.30078125 - 1) ** 2).bfloat16()), abs=1e-4)
    x = torch.tensor([[0.1, 0.7]], dtype=torch.bfloat16)
    assert cycle_loss(x, torch.zeros_like(x)).dtype == torch.float32


def test_pool_returns_inputs_while_filling_then_mixes_history():
    pool = ImagePool(pool_size=3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as given
    assert len(pool.images) == 3
    history = {0.0, 1.0, 2.0}
    seen_old = seen_new = 0
    for step in range(200):
        new = torch.tensor([[[[100.0 + step]]]])
        out = pool.query(new).item()
        if out == 100.0 + step:
            seen_new += 1
        else:
            assert out in history  # a stored image, handed out in place of the new one
            history.discard(out)
            history.add(100.0 + step)  # ... and the new one took its slot
            seen_old += 1
        assert len(pool.images) == 3
        assert {im.item() for im in pool.images} == history
    assert 70 < seen_old < 130 and seen_old + seen_new == 200  # about half and half


def test_pool_of_size_zero_passes_through():
    pool = ImagePool(pool_size=0)
    x = torch.randn(4, 3, 8, 8)
    assert pool.query(x) is x
    with pytest.raises(ValueError, match="pool_size must be >= 0, got -1"):
        ImagePool(pool_size=-1)


def test_pool_state_round_trip_repeats_the_same_choices():
    a = ImagePool(pool_size=2, seed=5)
    a.query(torch.randn(3, 1, 2, 2))
    b = ImagePool(pool_size=2, seed=99)
    b.load_state_dict(a.state_dict(), "cpu")
    x = torch.randn(6, 1, 2, 2)
    assert torch.equal(a.query(x), b.query(x))


@pytest.mark.parametrize("epoch,expected", [(0, 1.0), (99, 1.0), (100, 100 / 101), (150, 50 / 101), (199, 1 / 101)])
def test_lr_schedule_at_the_papers_epochs(epoch, expected):
    assert lr_factor(epoch, epochs=100, epochs_decay=100) == pytest.approx(expected)


def test_trainer_lr_follows_the_schedule_across_epochs():
    trainer = Trainer(TrainConfig(**TINY, epochs=2, epochs_decay=2, precision="fp32"))
    lrs = []
    for _ in range(4):
        lrs.append(trainer.lr)
        trainer.end_epoch()
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 * 1 / 3])
    assert trainer.opt_D.param_groups[0]["lr"] == pytest.approx(trainer.lr)


def test_colour_distribution_loss_is_the_sliced_distance_between_two_colours():
    from cyclegan.evaluation import srgb_to_lab
    from cyclegan.losses import COLOUR_DIRECTIONS, colour_distribution_loss
    def flat(rgb):
        return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 16, 16) / 127.5 - 1
    brown, blond, on = flat((120, 80, 40)), flat((220, 190, 120)), torch.ones(1, 1, 16, 16)
    assert colour_distribution_loss(blond, on, blond, on).item() == 0.0
    # one colour against another: every quantile of a projection differs by the projection of the difference
    directions = torch.randn(3, COLOUR_DIRECTIONS, generator=torch.Generator().manual_seed(3))
    directions = directions / directions.norm(dim=0, keepdim=True)
    gap = (srgb_to_lab(brown) - srgb_to_lab(blond))[0, :, 0, 0] / 100
    expected = (gap @ directions).abs().mean().item()
    got = colour_distribution_loss(brown, on, blond, on, generator=torch.Generator().manual_seed(3)).item()
    assert got == pytest.approx(expected, rel=1e-4)
    # only the masked pixels count, and too few of them turn the term off
    half = torch.zeros(1, 1, 16, 16)
    half[..., :8, :] = 1
    mixed = torch.cat([blond[..., :8, :], brown[..., 8:, :]], dim=2)
    assert colour_distribution_loss(mixed, half, blond, on).item() == 0.0
    few = torch.zeros(1, 1, 16, 16)
    few[..., :7, :9] = 1  # 63 pixels, under COLOUR_MIN_PIXELS
    assert colour_distribution_loss(brown, few, blond, on).item() == 0.0


def test_colour_distribution_loss_moves_the_fake_toward_the_real_hair_only():
    from cyclegan.losses import colour_distribution_loss
    torch.manual_seed(0)
    fake = (torch.rand(1, 3, 16, 16) * 0.4 - 0.6).requires_grad_(True)  # dark
    real = (torch.rand(1, 3, 16, 16) * 0.4 + 0.3).requires_grad_(True)  # light
    on = torch.ones(1, 1, 16, 16)
    def loss():  # the same random directions each time
        return colour_distribution_loss(fake, on, real, on, generator=torch.Generator().manual_seed(0))
    before = loss()
    before.backward()
    assert real.grad is None and fake.grad.abs().sum() > 0
    with torch.no_grad():
        fake -= 0.1 * fake.grad / fake.grad.abs().max()
    assert loss() < before - 0.01


def test_the_colour_term_needs_attention_and_trains_from_priors_start():
    from cyclegan.config import TrainConfig
    from cyclegan.training import Trainer
    with pytest.raises(ValueError, match="lambda_colour .* needs attention"):
        TrainConfig(lambda_colour=1.0).validate()
    trainer = Trainer(TrainConfig(**TINY, image_size=32, precision="fp32", attention=True, lambda_colour=10.0,
                                  priors_start=2))
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    assert "colour_A" not in trainer.train_step(a, b) and "colour_A" not in trainer.train_step(a, b)
    losses = trainer.train_step(a, b)
    assert losses["colour_A"] > 0 and losses["colour_B"] > 0


def test_drawn_mask_loss_by_hand_and_a_shut_mask_is_taught_to_open():
    from cyclegan.losses import drawn_mask_loss
    hair = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    mask = torch.tensor([[[[0.5, 0.5], [0.9, 0.0]]]], requires_grad=True)
    loss = drawn_mask_loss(mask, hair)
    by_hand = -(math.log(0.5) + math.log(0.5) + math.log(0.9) + math.log(1 - 1e-4)) / 4
    assert loss.item() == pytest.approx(by_hand, rel=1e-5)
    shut = torch.zeros(1, 1, 2, 2, requires_grad=True)  # shut everywhere, hair drawn on the left column
    drawn_mask_loss(shut, hair).backward()
    assert (shut.grad[..., 0] < -100).all() and (shut.grad[..., 1] >= 0).all()  # opens where hair is drawn, only there
