"""torchrun with 2 CPU processes (gloo): identical ranks, equal to one process with the global
batch, rank-0-only files, exact resume, resume on another world size, a crashed rank."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from conftest import REPO, assert_same_networks, free_port
from cyclegan.networks import Discriminator, Generator
from cyclegan.checkpoints import read_checkpoint
from cyclegan.config import TrainConfig
from cyclegan.training import Trainer

TINY = ["--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--image-size", "32", "--precision", "fp32", "--no-compile",
        "--num-workers", "0", "--epoch-size", "8", "--epochs", "1", "--epochs-decay", "2", "--checkpoint-every", "0"]


def torchrun(script, *args, nproc=2, wait=True):
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", str(script), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def run_args(folders, out, *extra):
    return [REPO / "train" / "run.py", "--data-a", folders[0], "--data-b", folders[1], "--out", out, *TINY, *extra]


def rows(out):
    with open(out / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_ranks_hold_identical_weights_equal_to_one_process_with_the_global_batch(image_folders, tmp_path):
    worker = REPO / "tests" / "ddp_worker.py"
    # 6 steps of 2 x batch 1, crossing an epoch end (4 steps an epoch), against 1 x batch 2
    result = torchrun(worker, *image_folders, tmp_path, 1, 6)
    assert result.returncode == 0, result.stderr[-3000:]
    single = subprocess.run([sys.executable, str(worker), *map(str, (*image_folders, tmp_path, 2, 6))], capture_output=True, text=True,
                            timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    rank0, rank1 = (load_file(str(tmp_path / f"rank{r}_of_2.safetensors")) for r in (0, 1))
    one = load_file(str(tmp_path / "rank0_of_1.safetensors"))
    assert len(one) == len(rank0) > 20
    for k in one:
        assert torch.equal(rank0[k], rank1[k]), k  # DDP keeps the ranks bit-identical
    # the same functions as one process with the global batch. Compared on outputs, not weights:
    # a conv bias right before instance norm has no true gradient, so Adam moves it by
    # round-off noise (by up to lr a step, differently in each run) without changing the function
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    nets = {"G_AB": lambda: Generator(ngf=4, n_blocks=1, image_size=32), "G_BA": lambda: Generator(
        ngf=4, n_blocks=1, image_size=32), "D_A": lambda: Discriminator(ndf=4), "D_B": lambda: Discriminator(ndf=4)}
    for name, make in nets.items():
        outputs = []
        for weights in (rank0, one):
            net = make().eval()
            net.load_state_dict({k.split(".", 1)[1]: v for k, v in weights.items() if k.startswith(name + ".")})
            with torch.no_grad():
                outputs.append(net(x))
        assert torch.allclose(*outputs, rtol=1e-3, atol=1e-4), (name, (outputs[0] - outputs[1]).abs().max())
    # and training moved them: six Adam steps of 2e-4 from the seed-0 initialisation
    init = Trainer(TrainConfig(ngf=4, n_blocks=1, ndf=4, image_size=32, compile=False)).nets
    start = {f"{name}.{k}": v for name, net in init.items() for k, v in net.state_dict().items()}
    assert max((one[k] - start[k]).abs().max().item() for k in one) > 5e-4


def test_only_rank_0_writes_and_a_resumed_run_continues_exactly(image_folders, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    result = torchrun(*run_args(image_folders, straight, "--max-steps", "6"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in straight.iterdir()) == ["checkpoint.pt", "losses.csv", "losses.png", "raw",
                                                          "samples", "samples.gif", "trainA2trainB", "trainB2trainA",
                                                          "train_config.json"]
    assert [int(r["step"]) for r in rows(straight)] == [1, 2, 3, 4, 5, 6]  # one writer: no duplicated rows
    assert result.stdout.count("saved checkpoint.pt") == 2  # epoch end at step 4, max-steps at 6: rank 0 only
    assert "2 processes, 2 images a step" in result.stdout

    assert torchrun(*run_args(image_folders, split, "--max-steps", "3")).returncode == 0
    result = torchrun(REPO / "train" / "run.py", "--out", split, "--resume", "--max-steps", "6")
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = read_checkpoint(straight / "checkpoint.pt"), read_checkpoint(split / "checkpoint.pt")
    assert a["step"] == b["step"] == 6 and a["epoch"] == b["epoch"] == 1 and a["world_size"] == 2
    assert len(a["pools"]) == 2 and all(p["A"]["images"] for p in a["pools"])  # each rank's pool is kept
    assert_same_networks(a, b)
    assert rows(straight) == rows(split)


def test_resume_on_another_number_of_processes(image_folders, tmp_path):
    out = tmp_path / "run"
    assert torchrun(*run_args(image_folders, out, "--max-steps", "2")).returncode == 0  # 4 of the epoch's 8 images
    state = read_checkpoint(out / "checkpoint.pt")
    assert (state["step"], state["epoch"], state["batch_in_epoch"], state["world_size"]) == (2, 0, 2, 2)
    # one process, batch 1: the epoch continues at image 4, so it ends after 4 more steps
    result = subprocess.run([sys.executable, str(REPO / "train" / "run.py"), "--out", str(out), "--resume",
                             "--max-steps", "6"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = read_checkpoint(out / "checkpoint.pt")
    assert (state["step"], state["epoch"], state["batch_in_epoch"], state["world_size"]) == (6, 1, 0, 1)
    assert len(state["pools"]) == 1


def test_a_crashed_rank_ends_the_run_with_an_error_not_a_hang(image_folders, tmp_path):
    out = tmp_path / "run"
    proc = torchrun(*run_args(image_folders, out, "--max-steps", "100000", "--epochs", "1000", "--dist-timeout", "30"),
                    wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "losses.csv").exists() and len(rows(out)) >= 2):
        time.sleep(0.2)
    rank1 = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_rank(int(p), "1", proc.pid)]
    assert len(rank1) == 1, "rank 1 not found"
    os.kill(rank1[0], signal.SIGKILL)
    start = time.time()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert time.time() - start < 100
    assert "run.py FAILED" in stderr or "ChildFailedError" in stderr, stderr[-2000:]


def _is_rank(pid: int, rank: str, launcher: int) -> bool:
    """Is `pid` the worker of torchrun `launcher` with RANK=rank?"""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    return parent == launcher and f"RANK={rank}".encode() in environ
