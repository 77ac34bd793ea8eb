"""The attention-guided generator, its mask losses, weight averaging (EMA), warm starts and model selection."""

import json
import sys

import pytest
import torch

from conftest import REPO, TINY, assert_same_networks
from cyclegan.evaluation import face_region
from cyclegan.inference import sample_grid, translate
from cyclegan.losses import mask_edge_loss, mask_face_loss, mask_smoothness_loss, mask_sparsity_loss
from cyclegan.networks import Generator, blend
from cyclegan.checkpoints import read_checkpoint
from cyclegan.config import TrainConfig
from cyclegan.training import EMA, Generators, Trainer

sys.path.insert(0, str(REPO / "train"))
import evaluate  # noqa: E402
import run  # noqa: E402


def tiny_generator(**kwargs):
    torch.manual_seed(0)
    return Generator(ngf=4, n_blocks=1, image_size=32, **kwargs)


def image(seed=0, n=2, size=32):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def set_mask_logit(G, value):
    """Make the mask constant: zero the mask filter, set its bias (the last output channel)."""
    conv = G.model[-1]
    with torch.no_grad():
        conv.weight[-1].zero_()
        conv.bias[-1] = value


def test_mask_has_one_channel_in_0_1_and_output_stays_in_range():
    G = tiny_generator(attention=True)
    x = image()
    y, mask = G(x, return_mask=True)
    assert y.shape == x.shape and mask.shape == (2, 1, 32, 32)
    assert 0 <= mask.min() and mask.max() <= 1 and mask.std() > 0
    _, _, content = G(x, return_content=True)
    assert torch.allclose(y, mask * content + (1 - mask) * x, atol=1e-6)  # Mejjati et al.'s blend, by hand
    assert torch.equal(G(x), y)


def test_mask_zero_returns_the_input_exactly_and_mask_one_the_content():
    G = tiny_generator(attention=True)
    x = image()
    set_mask_logit(G, -200.0)  # sigmoid underflows to exactly 0
    y, mask = G(x, return_mask=True)
    assert torch.all(mask == 0) and torch.equal(y, x)
    set_mask_logit(G, 200.0)  # exactly 1
    y, mask = G(x, return_mask=True)
    content = torch.tanh(G.model(x)[:, :3])
    assert torch.all(mask == 1) and torch.equal(y, content)
    assert not torch.allclose(content, x, atol=0.1)  # the two cases really differ


def test_blend_mixes_pixel_by_pixel():
    content, x = torch.ones(1, 3, 2, 2), -torch.ones(1, 3, 2, 2)
    mask = torch.tensor([[[[0.0, 0.25], [0.5, 1.0]]]])
    assert torch.equal(blend(content, mask, x)[0, 0], torch.tensor([[-1.0, -0.5], [0.0, 1.0]]))


def test_paper_generator_mask_is_all_ones_and_its_output_unchanged():
    G = tiny_generator()
    x = image()
    y, mask = G(x, return_mask=True)
    assert torch.equal(y, G(x)) and torch.all(mask == 1)
    assert sum(p.numel() for p in G.parameters()) + 4 * 7 * 7 + 1 == sum(
        p.numel() for p in tiny_generator(attention=True).parameters())  # one more 7x7 filter and bias


def test_attention_needs_matching_channels_and_a_boolean():
    with pytest.raises(ValueError, match="in_channels .* must equal out_channels"):
        Generator(in_channels=1, out_channels=3, attention=True)
    with pytest.raises(ValueError, match="attention must be true or false"):
        Generator(attention="yes")


def test_config_round_trip_rebuilds_the_attention_generator(tmp_path):
    G = tiny_generator(attention=True).eval()
    G.save_pretrained(tmp_path / "g")
    assert json.loads((tmp_path / "g" / "config.json").read_text())["attention"] is True
    loaded = Generator.from_pretrained(tmp_path / "g").eval()
    assert loaded.attention
    x = image()
    assert torch.allclose(loaded(x), G(x), atol=1e-6)


def test_folders_saved_before_attention_still_load(tmp_path):
    # config.json of a model saved before the attention option existed: no "attention" key
    G = tiny_generator()
    G.save_pretrained(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["attention"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    loaded = Generator.from_pretrained(tmp_path / "old")
    assert loaded.attention is False
    assert torch.allclose(loaded(image()), G(image()), atol=1e-6)


def test_mask_losses_by_formula():
    empty, full = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    assert mask_sparsity_loss(empty) == 0 and mask_sparsity_loss(full) == 1
    assert mask_smoothness_loss(full) == 0
    half = torch.zeros(1, 1, 4, 4)
    half[..., 2:] = 1  # one vertical edge: 4 of the 12 horizontal neighbour pairs differ by 1
    assert mask_smoothness_loss(half) == pytest.approx(4 / 12)
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1  # every horizontal pair differs
    assert mask_smoothness_loss(stripes) == pytest.approx(1.0)


def make_trainer(**kwargs):
    return Trainer(TrainConfig(**{**TINY, "precision": "fp32", "image_size": 32, "attention": True, **kwargs}))


def train_ten_steps(**kwargs):
    """A tiny attention pair after 10 steps on one image pair: (the last losses, G_AB's mask on that image)."""
    x, y = image(1, n=1), image(2, n=1)
    trainer = make_trainer(lr=1e-3, **kwargs)
    for _ in range(10):
        losses = trainer.train_step(x, y)
    with torch.no_grad():
        _, mask = trainer.G_AB(x, return_mask=True)
    return losses, mask


def test_mask_sparsity_pulls_the_mask_down():
    means = {}
    for lam in (0.0, 50.0):
        losses, _ = train_ten_steps(lambda_mask=lam)
        means[lam] = losses["M_A"] + losses["M_B"]
        assert ("mask_A" in losses) == (lam > 0)
    assert means[50.0] < means[0.0] - 0.1


def test_mask_losses_without_attention_are_refused():
    for name in ("lambda_mask", "lambda_mask_face", "lambda_mask_edge"):
        with pytest.raises(ValueError, match="need attention"):
            make_trainer(attention=False, **{name: 1.0})


def test_mask_edge_loss_is_the_change_where_the_mask_is_unsure():
    x, content = image(3, n=1), image(4, n=1)
    ramp = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(1, 1, 32, 32)  # off, unsure, on from left to right
    for mask in (torch.zeros(1, 1, 32, 32), torch.ones(1, 1, 32, 32)):  # sure: nothing to charge
        assert mask_edge_loss(x, blend(content, mask, x), mask) == 0
    expected = (ramp * (1 - ramp) * (content - x).abs()).mean()
    assert torch.allclose(mask_edge_loss(x, blend(content, ramp, x), ramp), expected)
    assert expected > 0.05
    assert mask_edge_loss(x, blend(x, ramp, x), ramp) == 0  # content = the photo: free at any mask


def test_mask_edge_term_shrinks_the_change_at_the_masks_edge():
    edge = {}
    for lam in (0.0, 50.0):
        x, y = image(1, n=1), image(2, n=1)
        trainer = make_trainer(lr=1e-3, lambda_mask_edge=lam)
        for _ in range(20):
            losses = trainer.train_step(x, y)
        assert ("mask_A" in losses) == (lam > 0)
        with torch.no_grad():
            fake, mask = trainer.G_AB(x, return_mask=True)
        edge[lam] = mask_edge_loss(x, fake, mask)
    assert edge[50.0] < edge[0.0] / 2


def test_mask_face_loss_counts_only_the_face_box():
    on_face = torch.zeros(2, 1, 50, 50)
    face_region(on_face).fill_(1.0)  # a view: fills the box in place
    assert mask_face_loss(on_face) == 1.0
    assert mask_face_loss(1 - on_face) == 0.0  # all of the hair and background on, the face off
    assert 0 < mask_sparsity_loss(on_face) < 0.2  # the box is a small part of the picture


def test_mask_face_prior_takes_the_mask_off_the_face_more_than_off_the_rest():
    masks = {}
    for lam in (0.0, 50.0):
        losses, masks[lam] = train_ten_steps(lambda_mask_face=lam)
        assert ("mask_A" in losses) == (lam > 0)
    face_drop = face_region(masks[0.0]).mean() - face_region(masks[50.0]).mean()
    assert face_drop > 0.1
    outside = lambda m: (m.sum() - face_region(m).sum()) / (m.numel() - face_region(m).numel())
    assert outside(masks[0.0]) - outside(masks[50.0]) < face_drop / 2


def test_d_warmup_trains_only_the_discriminators_first():
    x, y = image(1, n=1), image(2, n=1)
    trainer = make_trainer(d_warmup=2)
    flat = lambda net: torch.cat([p.detach().flatten() for p in net.parameters()])  # a copy
    weights = lambda name: flat(trainer.nets[name])
    averaged = lambda: flat(trainer.ema["G_AB"].average)
    before = {name: weights(name) for name in trainer.nets}
    ema_before = averaged()
    for _ in range(2):
        losses = trainer.train_step(x, y)
        assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    for name in ("G_AB", "G_BA"):
        assert torch.equal(weights(name), before[name])
    assert torch.equal(averaged(), ema_before)
    for name in ("D_A", "D_B"):
        assert not torch.equal(weights(name), before[name])
    trainer.train_step(x, y)  # step 3: the generators train
    assert not torch.equal(weights("G_AB"), before["G_AB"]) and not torch.equal(averaged(), ema_before)
    with pytest.raises(ValueError, match="d_warmup"):
        make_trainer(d_warmup=-1)


def test_ema_follows_the_weights_with_the_warmup_decay():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.9)
    with torch.no_grad():
        net.weight.fill_(1.0)
    before = ema.average.weight.clone()
    ema.update(net, step=0)  # d = min(0.9, 1/10) = 0.1: the average moves 90% of the way
    assert torch.allclose(ema.average.weight, 0.1 * before + 0.9, atol=1e-6)
    for step in range(1, 200):
        ema.update(net, step)
    assert torch.allclose(ema.average.weight, torch.ones(1, 2), atol=1e-6)
    with pytest.raises(ValueError, match="ema_decay"):
        EMA(net, decay=1.0)


def test_ema_of_trained_weights_keeps_the_full_decay_from_the_first_step():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.9, warmup=False)
    before = ema.average.weight.clone()
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net, step=0)  # d = 0.9: the average moves only 10% of the way
    assert torch.allclose(ema.average.weight, 0.9 * before + 0.1, atol=1e-6)


def test_saved_generators_are_the_average_and_raw_ones_are_kept(image_folders, tmp_path):
    a, b = image_folders
    out = tmp_path / "run"
    flags = ["--data-a", str(a), "--data-b", str(b), "--out", str(out), "--ngf", "4", "--n-blocks", "1", "--ndf", "4",
             "--image-size", "32", "--precision", "fp32", "--no-compile", "--attention", "--ema-decay", "0.5",
             "--max-steps", "4", "--snapshot-every", "2", "--lambda-mask", "0.1", "--lambda-mask-tv", "0.1"]
    assert run.main(flags) == 0
    state = read_checkpoint(out / "checkpoint.pt")
    for name, folder in (("G_AB", "trainA2trainB"), ("G_BA", "trainB2trainA")):
        shipped = Generator.from_pretrained(out / folder).state_dict()
        raw = Generator.from_pretrained(out / "raw" / folder).state_dict()
        assert all(torch.equal(v, state[f"{name}_ema"][k]) for k, v in shipped.items())
        assert all(torch.equal(v, state[name][k]) for k, v in raw.items())
        assert any(not torch.equal(v, raw[k]) for k, v in shipped.items())
        assert json.loads((out / folder / "training.json").read_text())["averaged"] is True
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["step0000002", "step0000004"]
    header = (out / "losses.csv").read_text().splitlines()[0].split(",")
    assert {"mask_A", "mask_B", "M_A", "M_B"} <= set(header)


def test_killed_and_resumed_run_with_ema_equals_a_straight_run(image_folders, tmp_path):
    a, b = image_folders
    common = ["--data-a", str(a), "--data-b", str(b), "--ngf", "4", "--n-blocks", "1", "--ndf", "4",
              "--image-size", "32", "--precision", "fp32", "--no-compile", "--attention", "--ema-decay", "0.9",
              "--lambda-mask", "0.1", "--epoch-size", "4", "--checkpoint-every", "0"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run.main([*common, "--out", str(straight), "--max-steps", "6"]) == 0
    assert run.main([*common, "--out", str(split), "--max-steps", "3"]) == 0
    assert run.main(["--out", str(split), "--resume", "--max-steps", "6"]) == 0
    x, y = read_checkpoint(straight / "checkpoint.pt"), read_checkpoint(split / "checkpoint.pt")
    assert_same_networks(x, y)
    for name in ("G_AB_ema", "G_BA_ema"):
        assert all(torch.equal(v, y[name][k]) for k, v in x[name].items()), name
        assert any(not torch.equal(v, x[name.removesuffix("_ema")][k]) for k, v in x[name].items())


def test_checkpoint_without_an_average_resumes_with_one(tmp_path):
    plain = make_trainer(ema_decay=0.0)
    plain.train_step(image(0, n=1), image(1, n=1))
    plain.save_checkpoint(tmp_path / "c.pt")
    averaged = make_trainer(ema_decay=0.99)
    averaged.load_state_dict(read_checkpoint(tmp_path / "c.pt"))
    for k, v in plain.G_AB.state_dict().items():
        assert torch.equal(averaged.ema["G_AB"].average.state_dict()[k], v)


def test_init_from_a_paper_pair_starts_an_attention_pair(tmp_path):
    for source, target in (("A", "B"), ("B", "A")):
        G = Generator(ngf=4, n_blocks=1, image_size=32, source_domain=source, target_domain=target)
        G.save_pretrained(tmp_path / "init" / f"{source}2{target}")
    trainer = make_trainer(init_from=str(tmp_path / "init"))
    paper = Generator.from_pretrained(tmp_path / "init" / "A2B")
    ours, theirs = trainer.G_AB.state_dict(), paper.state_dict()
    last_w, last_b = list(ours)[-2:]
    for k, v in theirs.items():
        assert torch.equal(ours[k][:3] if k in (last_w, last_b) else ours[k], v), k
    assert ours[last_w].shape[0] == 4
    assert not trainer.ema["G_AB"].warmup and make_trainer().ema["G_AB"].warmup  # averaged from trained weights
    # with the mask forced to 1 the attention generator is exactly the paper generator
    set_mask_logit(trainer.G_AB, 200.0)
    x = image()
    assert torch.allclose(trainer.G_AB(x), paper(x), atol=1e-6)


def test_init_from_another_architecture_is_a_clear_error(tmp_path):
    for source, target in (("A", "B"), ("B", "A")):
        Generator(ngf=8, n_blocks=1, source_domain=source, target_domain=target).save_pretrained(
            tmp_path / f"{source}2{target}")
    with pytest.raises(ValueError, match="another architecture"):
        make_trainer(init_from=str(tmp_path))
    with pytest.raises(FileNotFoundError):
        make_trainer(init_from=str(tmp_path / "nothing"))


def test_sample_grid_shows_the_mask_column():
    G_AB, G_BA = tiny_generator(attention=True).eval(), tiny_generator(attention=True).eval()
    set_mask_logit(G_AB, -200.0)  # changes nothing: black mask column
    set_mask_logit(G_BA, 200.0)  # repaints everything: white mask column
    grid = sample_grid(G_AB, G_BA, image(0, n=1), image(1, n=1), precision="fp32")
    assert grid.size == (4 * 32, 2 * 32)
    assert grid.crop((64, 0, 96, 32)).getextrema() == ((0, 0),) * 3
    assert grid.crop((64, 32, 96, 64)).getextrema() == ((255, 255),) * 3
    assert sample_grid(tiny_generator().eval(), tiny_generator().eval(), image(0, n=1), image(1, n=1),
                       precision="fp32").size == (3 * 32, 2 * 32)
    fake, mask = translate(G_AB, image(0, n=1)[..., :30, :31], "fp32", return_mask=True)
    assert fake.shape == (1, 3, 30, 31) and mask.shape == (1, 1, 30, 31)


def figures(success_ab, success_ba, face=30.0, gender=0.95, n=300):
    return {d: {"n": n, "model": {"success_rate": s, "face_psnr": face, "gender_kept": gender}}
            for d, s in (("black2blond", success_ab), ("blond2black", success_ba))}


def test_selection_takes_the_best_weaker_direction_among_those_meeting_the_floors():
    reports = {"s1": figures(0.99, 0.70), "s2": figures(0.90, 0.88), "s3": figures(0.97, 0.95, face=24.0),
               "s4": figures(0.95, 0.93, gender=0.80)}
    assert evaluate.select(reports, 26.0, 0.93) == ("s2", True)
    assert evaluate.select({"s3": reports["s3"], "s4": reports["s4"]}, 26.0, 0.93) == ("s3", False)


def test_selection_breaks_ties_within_the_standard_error_by_face_psnr():
    # the full-val figures of steps 5,000 and 9,000 of the shipped run: 0.8 points apart on 948 faces,
    # less than one standard error (1.0 point), so the pair that changes the face less is chosen
    reports = {"step5000": figures(0.881, 0.915, face=29.0, n=948),
               "step9000": figures(0.889, 0.950, face=28.0, n=948)}
    assert evaluate.select(reports, 26.0, 0.93) == ("step5000", True)
    # the same rates measured on 30,000 faces (standard error 0.18 points) are a real difference
    many = {name: {d: {**v, "n": 30_000} for d, v in r.items()} for name, r in reports.items()}
    assert evaluate.select(many, 26.0, 0.93) == ("step9000", True)
    # ties are judged on the lower of a pair's two face PSNRs, not their mean (40 and 27 lose to 30 and 30)
    lopsided = {"a": figures(0.90, 0.90, n=300), "b": figures(0.90, 0.90, n=300)}
    lopsided["a"]["black2blond"]["model"]["face_psnr"] = 40.0
    lopsided["a"]["blond2black"]["model"]["face_psnr"] = 27.0
    assert evaluate.select(lopsided, 26.0, 0.93) == ("b", True)


def test_mask_warmup_floor_falls_from_one_to_zero():
    trainer = make_trainer(mask_warmup=4)
    floors, means = [], []
    for i in range(6):
        floors.append(float(trainer.mask_floor()))
        means.append(trainer.train_step(image(i, n=1), image(i + 10, n=1))["M_A"])
    assert floors == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert means[0] == 1.0 and means[1] < 1.0  # at the floor 1 the output is the content alone
    assert make_trainer().mask_floor() is None and make_trainer(attention=False, mask_warmup=4).mask_floor() is None
    G = tiny_generator(attention=True)
    _, mask = G(image(), return_mask=True, mask_floor=torch.tensor(0.5))
    assert mask.min() >= 0.5


def test_mask_start_holds_the_mask_at_one_and_untrained_then_the_warmup_follows():
    trainer = make_trainer(mask_start=2, mask_warmup=2, lambda_mask_tv=0.5, lambda_mask_face=1.0)
    last = trainer.G_AB.model[-1]  # the c7s1-4 layer: content filters, then the mask's
    before, bias = last.weight.detach().clone(), last.bias[-1].item()
    floors = []
    for i in range(5):
        floors.append(float(trainer.mask_floor()))
        trainer.train_step(image(i, n=1), image(i + 10, n=1))
        if i == 1:  # after the two held steps: the content trained, the mask filter (and its bias) not at all
            assert torch.equal(last.weight[-1], before[-1]) and float(last.bias[-1]) == float(bias)
            assert not torch.equal(last.weight[:-1], before[:-1])
    assert floors == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert not torch.equal(last.weight[-1], before[-1])  # trained once the floor falls
    assert float(make_trainer(mask_start=3).mask_floor()) == 1.0 and make_trainer(mask_start=0).mask_floor() is None
    with pytest.raises(ValueError, match="mask_start"):
        make_trainer(mask_start=-1)


@pytest.mark.parametrize("negatives,judged", [(False, [1, 2]), (True, [1, 3])])
def test_d_negatives_show_the_other_domains_real_images_to_each_discriminator_as_fakes(negatives, judged):
    trainer = make_trainer(attention=False, d_negatives=negatives)
    seen = []
    trainer.D_B.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    real_A, real_B = image(0, n=1), image(1, n=1)
    trainer.train_step(real_A, real_B)
    assert seen == judged  # the generator step's fake_B, then real_B + pooled fake_B (+ real_A)


@pytest.mark.parametrize("detach", [False, True])
def test_detach_mask_in_cycle_keeps_the_cycle_loss_from_training_the_forward_mask(detach):
    G_AB, G_BA = tiny_generator(attention=True), tiny_generator(attention=True)
    real_A, real_B = image(0, n=1), image(1, n=1)
    fake_B, fake_A, rec_A, *_ = Generators(G_AB, G_BA, attention=True, detach_mask=detach)(real_A, real_B)
    assert torch.equal(fake_B, G_AB(real_A))  # the translations themselves are unchanged
    (rec_A - real_A).abs().mean().backward()  # cycle_A: real_A -> G_AB -> G_BA
    mask_filter, content_filters = G_AB.model[-1].weight.grad[-1], G_AB.model[-1].weight.grad[:-1]
    assert (mask_filter.abs().sum() == 0) == detach
    assert content_filters.abs().sum() > 0


@pytest.mark.parametrize("detach", [False, True])
def test_detach_mask_in_identity_keeps_the_identity_loss_from_training_the_mask(detach):
    G_AB, G_BA = tiny_generator(attention=True), tiny_generator(attention=True)
    real_A, real_B = image(0, n=1), image(1, n=1)
    *_, idt_B, idt_A, _, _ = Generators(G_AB, G_BA, attention=True, detach_idt_mask=detach)(real_A, real_B)
    assert torch.allclose(idt_B, G_AB(real_B), atol=1e-6)
    (idt_B - real_B).abs().mean().backward()  # idt_B: G_AB(real_B) should be real_B
    assert (G_AB.model[-1].weight.grad[-1].abs().sum() == 0) == detach
    assert G_AB.model[-1].weight.grad[:-1].abs().sum() > 0


@pytest.mark.parametrize("detach", [False, True])
def test_cycle_noise_reaches_the_reverse_generator_only_where_the_mask_is_on(detach):
    G_AB, G_BA = tiny_generator(attention=True), tiny_generator(attention=True)
    real_A, real_B = image(0, n=1), image(1, n=1)

    def rec_A(noise):
        torch.manual_seed(0)
        with torch.no_grad():
            return Generators(G_AB, G_BA, attention=True, detach_mask=detach)(real_A, real_B, cycle_noise=noise)[2]

    assert not torch.allclose(rec_A(0.5), rec_A(0.0), atol=1e-3)  # the mask is partly on: noise gets through
    set_mask_logit(G_AB, -200.0)  # G_AB changes nothing: there is nowhere to put noise
    assert torch.equal(rec_A(0.5), rec_A(0.0))
    with pytest.raises(ValueError, match="cycle_noise"):
        make_trainer(cycle_noise=-0.1)


def test_the_priors_start_at_priors_start_and_not_before():
    from cyclegan.recipes import PRIORS
    x, y = image(1, n=1), image(2, n=1)
    plain = make_trainer().train_step(x, y)
    before = make_trainer(**PRIORS, priors_start=2).train_step(x, y)  # step 0 < 2: the paper's terms only
    assert before == pytest.approx(plain, rel=1e-6)
    on = make_trainer(**PRIORS).train_step(x, y)  # priors_start 0: from the first step
    late = make_trainer(**PRIORS, priors_start=2)
    late.step = 2  # the step at which they switch on
    assert late.train_step(x, y) == pytest.approx(on, rel=1e-6)
    assert "mask_A" in on and "mask_A" not in before  # the face and edge terms
    assert on["cycle_B"] != pytest.approx(before["cycle_B"], rel=1e-3)  # lambda_cycle_b 15 and the noise
    with pytest.raises(ValueError, match="priors_start"):
        make_trainer(priors_start=-1)
