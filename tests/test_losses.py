"""Loss values on hand-made tensors, the history pool, and the learning-rate schedule."""

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
