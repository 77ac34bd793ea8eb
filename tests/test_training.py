"""The training step, mixed precision, divergence guard and checkpoints."""

import pytest
import torch

from cyclegan.checkpoints import read_checkpoint
from cyclegan.config import TrainConfig
from cyclegan.training import DivergenceError, Trainer
from conftest import TINY


def make_trainer(**kwargs):
    return Trainer(TrainConfig(**{**TINY, "precision": "fp32", "image_size": 32, **kwargs}))


def batch(seed, n=1, size=32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 3, size, size, generator=g) * 2 - 1


def snapshot(trainer):
    return {name: {k: v.clone() for k, v in net.state_dict().items()} for name, net in trainer.nets.items()}


def test_step_returns_finite_losses_and_changes_every_network():
    trainer = make_trainer()
    before = snapshot(trainer)
    for i in range(3):
        losses = trainer.train_step(*batch(i))
    assert set(losses) == {"G", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"}
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert losses["G"] == pytest.approx(sum(v for k, v in losses.items() if k not in ("G", "D_A", "D_B")), rel=1e-5)
    for name, net in trainer.nets.items():
        changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[name][k])]
        assert changed, f"{name} did not change"
    assert trainer.step == 3
    # the discriminators are trainable again after the generator phase froze them
    assert all(p.requires_grad for p in trainer.D_A.parameters())


def test_generator_phase_does_not_move_the_discriminators(monkeypatch):
    trainer = make_trainer()
    before = snapshot(trainer)
    monkeypatch.setattr(trainer.opt_D, "step", lambda *a, **k: None)  # only G's optimiser steps
    trainer.train_step(*batch(0))
    for name in ("D_A", "D_B"):
        assert all(torch.equal(v, before[name][k]) for k, v in trainer.nets[name].state_dict().items())


def test_identity_loss_off_when_lambda_is_zero():
    losses = make_trainer(lambda_identity=0.0).train_step(*batch(0))
    assert "idt_A" not in losses and "idt_B" not in losses


def test_identity_weight_is_lambda_identity_times_lambda_cycle():
    a = make_trainer(lambda_identity=0.5, lambda_cycle=10.0).train_step(*batch(0))
    b = make_trainer(lambda_identity=0.1, lambda_cycle=10.0).train_step(*batch(0))
    assert a["idt_A"] / b["idt_A"] == pytest.approx(5.0, rel=1e-4)


def test_lambda_cycle_b_weights_the_b_cycle_alone():
    a = make_trainer(lambda_cycle=10.0).train_step(*batch(0))
    b = make_trainer(lambda_cycle=10.0, lambda_cycle_b=15.0).train_step(*batch(0))
    assert b["cycle_B"] / a["cycle_B"] == pytest.approx(1.5, rel=1e-4)
    assert b["cycle_A"] == pytest.approx(a["cycle_A"], rel=1e-6) and b["idt_B"] == pytest.approx(a["idt_B"], rel=1e-6)


def test_bf16_step_is_finite_and_close_to_fp32():
    a, b = batch(0)
    fp32 = make_trainer(precision="fp32").train_step(a, b)
    bf16 = make_trainer(precision="bf16").train_step(a, b)
    assert all(torch.isfinite(torch.tensor(v)) for v in bf16.values())
    assert bf16["cycle_A"] == pytest.approx(fp32["cycle_A"], rel=0.05)
    # and it did run in bf16: measured here, bf16 moves the losses by 1e-4 to 4e-3 of their value, while fp32
    # in another memory layout (bf16 also switches to NHWC) moves them by about 1e-7
    moved = max(abs(bf16[k] - fp32[k]) / abs(fp32[k]) for k in ("G", "G_AB", "cycle_A", "cycle_B", "D_A", "D_B"))
    assert moved > 1e-4


def test_non_finite_loss_stops_before_any_update():
    trainer = make_trainer()
    before = snapshot(trainer)
    real_A, real_B = batch(0)
    real_A[0, 0, 0, 0] = float("nan")
    with pytest.raises(DivergenceError, match="non-finite loss at step 1"):
        trainer.train_step(real_A, real_B)
    for name, net in trainer.nets.items():
        assert all(torch.equal(v, before[name][k]) for k, v in net.state_dict().items())


def test_checkpoint_round_trip_resumes_exactly(tmp_path):
    straight = make_trainer()
    for i in range(5):
        straight.train_step(*batch(i))

    first = make_trainer()
    for i in range(3):
        first.train_step(*batch(i))
    first.end_epoch()
    first.save_checkpoint(tmp_path / "ckpt.pt")
    resumed = make_trainer(seed=123)  # different init: everything must come from the checkpoint
    resumed.load_state_dict(read_checkpoint(tmp_path / "ckpt.pt"))
    assert (resumed.step, resumed.epoch, resumed.batch_in_epoch) == (3, 1, 0)
    assert resumed.lr == first.lr
    assert len(resumed.pool_A.images) == 3
    straight.end_epoch()  # the same schedule position as the resumed run
    for i in range(3, 5):
        resumed.train_step(*batch(i))
    for name, net in straight.nets.items():
        other = resumed.nets[name].state_dict()
        for k, v in net.state_dict().items():
            assert torch.equal(v, other[k]), f"{name}.{k} differs after resume"


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    trainer = make_trainer()
    path = tmp_path / "checkpoint.pt"
    trainer.save_checkpoint(path)
    good = path.read_bytes()
    trainer.train_step(*batch(0))

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # killed in the middle of writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good  # the previous checkpoint is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(ValueError, match="unreadable"):
        read_checkpoint(bad)
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "nothing.pt")


def test_checkpoint_refuses_arbitrary_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    path = tmp_path / "evil.pt"
    torch.save({"version": 1, "x": Evil()}, path)
    with pytest.raises(ValueError, match="unreadable"):
        read_checkpoint(path)


def test_trainer_rejects_bad_settings():
    with pytest.raises(ValueError, match="precision"):
        make_trainer(precision="fp8")
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        make_trainer(precision="fp16", device="cpu")
    with pytest.raises(ValueError, match="unknown device|not supported|no usable CUDA"):
        make_trainer(device="tpu")
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainConfig.from_dict({"learning_rate": 1})


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_mixed_precision_step(precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    trainer = make_trainer(device="cuda", precision=precision)
    before = snapshot(trainer)
    for i in range(3):
        losses = trainer.train_step(*batch(i))
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert trainer.scaler_G.is_enabled() == (precision == "fp16")
    changed = [k for k, v in trainer.G_AB.state_dict().items() if not torch.equal(v, before["G_AB"][k])]
    assert changed


@cuda
def test_cuda_checkpoint_resumes_on_cpu(tmp_path):
    trainer = make_trainer(device="cuda", precision="fp16")
    trainer.train_step(*batch(0))
    trainer.save_checkpoint(tmp_path / "c.pt")
    cpu = make_trainer(device="cpu")
    cpu.load_state_dict(read_checkpoint(tmp_path / "c.pt"))
    for k, v in trainer.G_AB.state_dict().items():
        assert torch.equal(v.cpu(), cpu.G_AB.state_dict()[k])


def spy(trainer, name):
    """Replace trainer.<name> (its generators' or discriminators' module) by a wrapper that keeps each call's
    arguments and outputs; returns the list of (args, outputs)."""
    module, calls = getattr(trainer, name), []

    def recorded(*args, **kwargs):
        out = module(*args, **kwargs)
        calls.append((args, out))
        return out
    setattr(trainer, name, recorded)
    return calls


def test_both_history_pools_fill_and_the_discriminators_are_shown_older_fakes():
    trainer = make_trainer(pool_size=2)
    made, shown = spy(trainer, "generators"), spy(trainer, "discriminators")
    for i in range(8):
        trainer.train_step(*batch(i))
    assert len(trainer.pool_A.images) == len(trainer.pool_B.images) == 2
    history, older = {"A": [], "B": []}, {"A": 0, "B": 0}
    for (_, fakes), (d_args, _) in zip(made, shown):
        fake_B, fake_A = fakes[0].detach().float(), fakes[1].detach().float()
        _, fake_A_pool, _, fake_B_pool = d_args
        for domain, fake, pooled in (("A", fake_A, fake_A_pool), ("B", fake_B, fake_B_pool)):
            history[domain].append(fake)
            # D sees this step's fake or one an earlier step made, never anything else
            assert any(torch.equal(pooled, earlier) for earlier in history[domain])
            older[domain] += not torch.equal(pooled, fake)
    assert older["A"] >= 1 and older["B"] >= 1  # each pool handed back an older fake at least once


def test_a_bf16_step_runs_the_generators_and_the_discriminators_in_bf16():
    trainer = make_trainer(precision="bf16")
    made, judged = spy(trainer, "generators"), spy(trainer, "discriminators")
    trainer.train_step(*batch(0))
    fake_B, fake_A, rec_A, rec_B = made[0][1][:4]
    assert [t.dtype for t in (fake_B, fake_A, rec_A, rec_B)] == [torch.bfloat16] * 4
    assert [t.dtype for t in judged[0][1]] == [torch.bfloat16] * 4


def realness(trainer, real_A, real_B):
    """D's mean score (1 = real in LSGAN) on real_B, on G_AB's fake B, on real_A and on G_BA's fake A."""
    with torch.no_grad():
        return (trainer.D_B(real_B).mean().item(), trainer.D_B(trainer.G_AB(real_A)).mean().item(),
                trainer.D_A(real_A).mean().item(), trainer.D_A(trainer.G_BA(real_B)).mean().item())


def test_a_generator_step_makes_its_fakes_score_more_real(monkeypatch):
    # the adversarial terms alone (Eq. 1, least squares): G's fakes move toward D's "real" (1), away from "fake" (0)
    trainer = make_trainer(lr=1e-3, lambda_cycle=0.0, lambda_identity=0.0)
    monkeypatch.setattr(trainer.opt_D, "step", lambda *a, **k: None)
    real_A, real_B = batch(0)
    _, fake_B, _, fake_A = realness(trainer, real_A, real_B)
    with torch.no_grad():  # each D scores the fakes 0.5 at the start, between the two targets
        for D, score in ((trainer.D_B, fake_B), (trainer.D_A, fake_A)):
            [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)][-1].bias += 0.5 - score
    _, fake_B_before, _, fake_A_before = realness(trainer, real_A, real_B)
    for _ in range(5):
        trainer.train_step(real_A, real_B)
    _, fake_B_after, _, fake_A_after = realness(trainer, real_A, real_B)
    assert fake_B_after > fake_B_before + 0.05 and fake_A_after > fake_A_before + 0.05


def test_a_discriminator_step_scores_real_above_fake(monkeypatch):
    trainer = make_trainer(lr=1e-3)
    monkeypatch.setattr(trainer.opt_G, "step", lambda *a, **k: None)
    real_A, real_B = batch(0)
    real_B_0, fake_B_0, real_A_0, fake_A_0 = realness(trainer, real_A, real_B)
    for _ in range(5):
        trainer.train_step(real_A, real_B)
    real_B_1, fake_B_1, real_A_1, fake_A_1 = realness(trainer, real_A, real_B)
    assert real_B_1 - fake_B_1 > real_B_0 - fake_B_0 + 0.1 and real_B_1 > fake_B_1
    assert real_A_1 - fake_A_1 > real_A_0 - fake_A_0 + 0.1 and real_A_1 > fake_A_1


def test_the_identity_loss_is_each_generator_on_its_own_target_domain():
    # Sec. 5.2: lambda_identity * lambda_cycle * E[|G_BA(a) - a|] (and G_AB(b) - b), not the translation's change
    trainer = make_trainer(lambda_identity=0.5, lambda_cycle=10.0)
    made = spy(trainer, "generators")
    real_A, real_B = batch(0)
    losses = trainer.train_step(real_A, real_B)
    fake_B, fake_A, _, _, idt_B, idt_A = made[0][1][:6]
    assert losses["idt_A"] == pytest.approx(5.0 * (idt_A - real_A).abs().mean().item(), rel=1e-5)
    assert losses["idt_B"] == pytest.approx(5.0 * (idt_B - real_B).abs().mean().item(), rel=1e-5)
    assert abs(losses["idt_A"] - 5.0 * (fake_A - real_A).abs().mean().item()) > 1e-3
