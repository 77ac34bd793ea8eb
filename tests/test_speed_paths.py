"""The fast paths compute the same function as fp32 eager, within stated tolerances.

bf16 autocast: relative L2 error of the paper's generator (random N(0, 0.02) weights)
below 2.5e-2. Measured: 1.8e-2. The error grows by about 0.1-0.4% at every convolution,
since each rounds its input to bf16's 8-bit mantissa; keeping norms and residual sums in
fp32 only brings it to 1.5e-2. The trained generators in weights/ meet 1e-2 on real faces
(measured 4.4e-3), which a test checks when CelebA is present.
channels_last and torch.compile in fp32: relative L2 error below 1e-5 (float rounding only).
"""

import subprocess
import sys

import pytest
import torch

from conftest import REPO

from cyclegan.device import maybe_compile
from cyclegan.inference import optimize_for_inference, translate
from cyclegan.networks import Generator
from cyclegan.config import TrainConfig
from cyclegan.training import Trainer


def rel_l2(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


@pytest.fixture(scope="module")
def paper_generator():
    torch.manual_seed(0)
    return Generator(ngf=64, n_blocks=6, image_size=128).eval()


@pytest.fixture(scope="module")
def x():
    torch.manual_seed(1)
    return torch.rand(2, 3, 64, 64) * 2 - 1


def test_bf16_generator_matches_fp32(paper_generator, x):
    reference = translate(paper_generator, x, precision="fp32")
    fast = translate(paper_generator, x, precision="bf16")
    assert 0 < rel_l2(fast, reference) < 2.5e-2  # > 0: it really ran in lower precision


def test_channels_last_matches_contiguous(paper_generator, x):
    reference = translate(paper_generator, x, precision="fp32")
    G = Generator(ngf=64, n_blocks=6)
    G.load_state_dict(paper_generator.state_dict())
    G = G.to(memory_format=torch.channels_last)
    assert rel_l2(translate(G, x.contiguous(memory_format=torch.channels_last), precision="fp32"), reference) < 1e-5


def test_optimize_for_inference_keeps_the_function(paper_generator, x):
    G = Generator(ngf=64, n_blocks=6)
    G.load_state_dict(paper_generator.state_dict())
    fast = optimize_for_inference(G, device="cpu", precision="fp32")
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    assert rel_l2(translate(fast, x, precision="fp32"), translate(paper_generator, x, precision="fp32")) < 1e-5


def graphs_compiled() -> int:
    """Graphs dynamo has compiled in this process so far: a compiled call that fell back to eager adds none."""
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


def test_compiled_generator_matches_eager():
    torch.manual_seed(0)
    G = Generator(ngf=8, n_blocks=2).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    reference = translate(G, x, precision="fp32")
    compiled = optimize_for_inference(G, device="cpu", precision="fp32", compile=True)
    before = graphs_compiled()
    assert rel_l2(translate(compiled, x, precision="fp32"), reference) < 1e-5
    assert graphs_compiled() > before  # it was compiled, not run eagerly after a suppressed error


def test_a_failed_compile_says_so_in_one_line_and_runs_eagerly(monkeypatch):
    def broken_backend(graph, example_inputs):
        raise RuntimeError("no C++ compiler found")
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compile_(module, backend=broken_backend, **kw))
    torch._dynamo.reset()
    torch.manual_seed(0)
    G = Generator(ngf=4, n_blocks=1).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with pytest.warns(RuntimeWarning, match="torch.compile failed, running eagerly instead: RuntimeError: no C\\+\\+ "
                                            "compiler found") as caught:
        out = maybe_compile(G, True)(x)
    assert len([w for w in caught if "torch.compile failed" in str(w.message)]) == 1
    with torch.no_grad():
        assert torch.equal(out.detach(), G(x))
    torch._dynamo.reset()


def test_compiled_training_matches_eager():
    """The default (TrainConfig.compile=True) training step, at a tiny size: the generators are compiled, and
    three steps give eager's losses."""
    assert TrainConfig().compile

    def run(compile):
        trainer = Trainer(TrainConfig(ngf=4, n_blocks=1, ndf=4, image_size=32, precision="fp32", compile=compile))
        g = torch.Generator().manual_seed(0)
        for _ in range(3):
            losses = trainer.train_step(torch.rand(1, 3, 32, 32, generator=g) * 2 - 1,
                                        torch.rand(1, 3, 32, 32, generator=g) * 2 - 1)
        return trainer, losses

    eager, eager_losses = run(False)
    before = graphs_compiled()
    compiled, compiled_losses = run(True)
    assert graphs_compiled() > before
    assert compiled_losses["G"] == pytest.approx(eager_losses["G"], rel=1e-4)
    # Compare what the networks compute, not every tensor: the biases of convolutions
    # followed by instance norm get gradients that are pure rounding noise (the norm removes
    # them), which Adam scales up to full steps, differently in each run.
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert rel_l2(translate(compiled.G_AB, x, "fp32"), translate(eager.G_AB, x, "fp32")) < 1e-3


def test_identity_batched_with_translation_is_the_same_function():
    """The trainer runs G_AB on cat([real_A, real_B]); instance norm makes that per-image."""
    torch.manual_seed(0)
    G = Generator(ngf=8, n_blocks=2)
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        together = G(torch.cat([a, b]))
        assert rel_l2(together[:1], G(a)) < 1e-5 and rel_l2(together[1:], G(b)) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision,tolerance", [("fp16", 1e-2), ("bf16", 1e-2), ("fp32", 1e-3)])
def test_cuda_generator_matches_cpu_fp32(paper_generator, x, precision, tolerance):
    reference = translate(paper_generator, x, precision="fp32")
    G = Generator(ngf=64, n_blocks=6)
    G.load_state_dict(paper_generator.state_dict())
    fast = optimize_for_inference(G, device="cuda", precision=precision)
    assert rel_l2(translate(fast, x.cuda(), precision=precision).cpu(), reference) < tolerance


@pytest.mark.parametrize("name", ["black2blond", "blond2black"])
def test_bf16_matches_fp32_on_the_shipped_generators_and_real_faces(celeba_root, name):
    import sys
    from conftest import REPO
    sys.path.insert(0, str(REPO / "train"))
    from train_classifier import load_split
    from cyclegan.device import cpu_has_fast_bf16
    G = Generator.from_pretrained(REPO / "weights" / name).eval()
    # without AMX, bf16 convolutions are emulated (~10 s a face here): 4 faces keep the default run short
    faces = 16 if cpu_has_fast_bf16() else 4
    images, _ = load_split(celeba_root, "val", G.image_size, ["Black_Hair"], max_images=faces)
    x = images.float() / 127.5 - 1
    assert rel_l2(translate(G, x, precision="bf16"), translate(G, x, precision="fp32")) < 1e-2


def test_compiling_on_a_cpu_does_not_warn_about_a_missing_cuda_runtime():
    """The CUDA toolkit's "No CUDA runtime is found" warning means nothing to a CPU run."""
    if torch.cuda.is_available():
        pytest.skip("a CUDA runtime is found here")
    plain = subprocess.run([sys.executable, "-c", "import torch.utils.cpp_extension"], capture_output=True,
                           text=True, timeout=120)
    if "No CUDA runtime is found" not in plain.stderr:
        pytest.skip("no CUDA toolkit on this machine: torch does not warn in the first place")
    # a fused norm + ReLU makes inductor generate and build C++, which is when torch warns
    code = ("import torch; from cyclegan.device import maybe_compile; "
            "net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.InstanceNorm2d(2), torch.nn.ReLU()); "
            "print(maybe_compile(net, True)(torch.ones(1, 1, 8, 8)).shape)")
    compiled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    assert "torch.Size([1, 2, 6, 6])" in compiled.stdout
    assert "No CUDA runtime is found" not in compiled.stderr
