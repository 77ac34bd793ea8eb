"""CPU threads on a shared CPU (cyclegan.device.CpuThreads): as many as the cores other processes leave free,
chosen before the first parallel region of training, the command line and the page, and followed as the load
changes."""

import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch

from conftest import REPO, write_images
from cyclegan import device
from cyclegan.device import CpuThreads

CORES = len(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@contextmanager
def busy_core():
    """Another process keeping one core busy, as a browser or a second job would."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


class FakeClock:
    """The kernel's tick counters and the monotonic clock, moved by hand: `others` cores of other processes' work
    and `own` cores of this process's work for every second that passes."""

    def __init__(self, monkeypatch):
        self.now, self.all_ticks, self.own_ticks = 1000.0, 0, 0
        monkeypatch.setattr(device, "_cpu_ticks", lambda cores: self.all_ticks)
        monkeypatch.setattr(device, "_own_ticks", lambda: self.own_ticks)
        # device's own name for the time module, not the module itself: other threads keep the real clock
        monkeypatch.setattr(device, "time", SimpleNamespace(monotonic=lambda: self.now, sleep=self.advance))
        self.others, self.own = 0.0, 0.0
        self.hz = os.sysconf("SC_CLK_TCK")

    def advance(self, seconds):
        self.now += seconds
        self.own_ticks += round(self.own * seconds * self.hz)
        self.all_ticks += round((self.own + self.others) * seconds * self.hz)


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    return FakeClock(monkeypatch)


@pytest.mark.parametrize("others, threads", [(0.0, 4), (0.3, 4), (0.5, 3), (1.0, 3), (1.45, 2), (2.6, 1), (9.0, 1)])
def test_auto_leaves_each_core_another_process_keeps_busy(four_cores, others, threads):
    four_cores.others, four_cores.own = others, 0.7  # this process's own work never counts as a neighbour's
    t = CpuThreads("auto")
    assert t.apply() == threads == torch.get_num_threads()
    assert t.others == pytest.approx(others, abs=0.05)
    assert f"{threads} of 4 cores" in t.describe() and "follows the load" in t.describe()


def test_update_follows_the_load_at_most_every_few_seconds(four_cores):
    t = CpuThreads()
    assert t.apply() == 4
    four_cores.others = 2.0  # two cores taken from now on
    four_cores.advance(device.FOLLOW_EVERY / 2)
    assert t.update() == 4  # not looked at yet
    four_cores.advance(device.FOLLOW_EVERY / 2)
    assert t.update() == 2 == torch.get_num_threads()
    four_cores.others = 0.0  # the neighbours have gone
    four_cores.advance(device.FOLLOW_EVERY)
    assert t.update() == 4 == torch.get_num_threads()


def test_a_number_or_omp_num_threads_is_kept_whatever_the_load(four_cores, monkeypatch):
    four_cores.others = 3.0
    assert CpuThreads("3").apply() == 3
    t = CpuThreads(2)
    assert t.apply() == 2 and "2 (fixed)" in t.describe()
    four_cores.advance(2 * device.FOLLOW_EVERY)
    assert t.update() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # torchrun's choice for several processes
    t = CpuThreads("auto")
    assert t.apply() == 3 and "OMP_NUM_THREADS" in t.describe()


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", ""])
def test_a_bad_number_of_threads_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="threads must be auto or a whole number"):
        CpuThreads(bad)


def test_the_kernels_tick_counters_see_a_busy_process():
    if CORES < 2:
        pytest.skip(f"{CORES} core: nothing to leave free")
    with busy_core():
        t = CpuThreads()
        assert t.apply() == CORES - 1
        assert 0.6 <= t.others <= 1.5


def run_command(args):
    """Run a Python command line as a user's shell would (OMP_NUM_THREADS unset); its output."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


# run.main with the first training step reporting the threads it ran with: the choice must already be in force
FIRST_STEP = """
import json, sys, torch
sys.path.insert(0, {train!r}); sys.argv[0] = {run!r}
import run
seen = []
step = run.Trainer.train_step
def first(self, *a, **k):
    seen.append(torch.get_num_threads())
    return step(self, *a, **k)
run.Trainer.train_step = first
status = run.main(sys.argv[1:])
print("threads at the first step:", seen[0])
sys.exit(status)
"""


@pytest.mark.skipif(CORES < 2, reason="one core: no core to leave free")
def test_training_takes_the_free_cores_before_its_first_step_and_says_so(tmp_path):
    write_images(tmp_path / "a", 2, seed=1)
    write_images(tmp_path / "b", 2, seed=2)
    script = FIRST_STEP.format(train=str(REPO / "train"), run=str(REPO / "train" / "run.py"))
    flags = ["--data-a", tmp_path / "a", "--data-b", tmp_path / "b", "--ngf", "4", "--n-blocks", "1", "--ndf", "4",
             "--image-size", "32", "--precision", "fp32", "--no-compile", "--max-steps", "2"]
    with busy_core():
        log = run_command(["-c", script, *flags, "--out", tmp_path / "busy"])
    assert f"threads at the first step: {CORES - 1}\n" in log
    assert f"CPU threads: {CORES - 1} of {CORES} cores (follows the load" in log
    log = run_command(["-c", script, *flags, "--threads", "1", "--out", tmp_path / "fixed"])
    assert "threads at the first step: 1\n" in log and "CPU threads: 1 (fixed)" in log
    training = json.loads(next((tmp_path / "fixed").glob("*2*/training.json")).read_text())
    assert training["sessions"][0]["threads"] == "1 (fixed)"
    # the progress bar's last line counts the step that ended the run, not one fewer
    assert re.findall(r"\| (\d+)/1000 \[", log)[-1] == "2"


def test_the_command_line_takes_the_free_cores_and_refuses_a_bad_number(tmp_path):
    photo = REPO / "examples" / "astronaut.jpg"
    log = run_command([REPO / "train" / "translate.py", "--model", REPO / "weights" / "blond2black", "--input", photo,
                       "--out", tmp_path, "--threads", "1"])
    assert "CPU threads: 1 (fixed)" in log and (tmp_path / "astronaut.png").is_file()
    proc = subprocess.run([sys.executable, str(REPO / "train" / "translate.py"), "--model", "m", "--input", "x",
                           "--out", str(tmp_path), "--threads", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--threads: threads must be auto or a whole number" in proc.stderr
