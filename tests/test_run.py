"""train/run.py and train/prepare_celeba.py from the command line: outputs, resume, signals, errors."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, assert_same_networks
from cyclegan.networks import Generator
from cyclegan.checkpoints import read_checkpoint

sys.path.insert(0, str(REPO / "train"))
import prepare_celeba  # noqa: E402
import run  # noqa: E402

TINY_FLAGS = ["--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--image-size", "32", "--num-workers", "0",
              "--precision", "fp32", "--no-compile"]


def folder_args(image_folders, out, *extra):
    a, b = image_folders
    return ["--data-a", str(a), "--data-b", str(b), "--out", str(out), *TINY_FLAGS, *extra]


def read_losses(out):
    with open(out / "losses.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_help_explains_every_option():
    result = subprocess.run([sys.executable, str(REPO / "train" / "run.py"), "--help"],
                            capture_output=True, text=True, check=True)
    for flag in ["--celeba-root", "--data-a", "--data-b", "--out", "--image-size", "--epochs", "--epochs-decay",
                 "--max-steps", "--batch-size", "--device", "--precision", "--seed", "--resume", "--lr",
                 "--lambda-cycle", "--lambda-identity", "--pool-size", "--ngf", "--n-blocks", "--sample-every",
                 "--checkpoint-every", "--attr-a", "--attr-b"]:
        assert flag in result.stdout, flag
    assert "auto | bf16 | fp16 | fp32" in result.stdout and "==SUPPRESS==" not in result.stdout


def test_end_to_end_on_real_celeba(celeba_root, tmp_path):
    out = tmp_path / "run"
    status = run.main(["--celeba-root", str(celeba_root), "--max-images", "4", "--max-steps", "3",
                       "--out", str(out), "--sample-every", "2", *TINY_FLAGS])
    assert status == 0
    assert [int(r["step"]) for r in read_losses(out)] == [1, 2, 3]
    for name, source, target in (("black2blond", "black", "blond"), ("blond2black", "blond", "black")):
        G = Generator.from_pretrained(out / name)
        assert (G.source_domain, G.target_domain, G.image_size) == (source, target, 32)
        assert json.loads((out / name / "config.json").read_text())["ngf"] == 4
        y = G(torch.zeros(1, 3, 32, 32))
        assert y.shape == (1, 3, 32, 32) and torch.isfinite(y).all()
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 3
    samples = sorted((out / "samples").iterdir())
    # the grid every 2 steps, and one for the state the run ended in
    assert [p.name for p in samples] == ["epoch000_step0000002.png", "epoch000_step0000003.png"]
    config = json.loads((out / "train_config.json").read_text())
    assert config["celeba_root"] == str(celeba_root) and config["name_a"] == "black"
    # the one command trains the matched-colour pair: real hair's colour measured as the run started, in the saved
    # generators and kept by --resume (not measured again)
    targets = config["colour_targets"]
    assert targets["AB"]["lightness"][16] > targets["BA"]["lightness"][16] + 20  # median L*: blond hair, black hair
    for name, direction in (("black2blond", "AB"), ("blond2black", "BA")):
        saved = json.loads((out / name / "config.json").read_text())
        assert (saved["hair_lightness"], saved["hair_ab"], saved["chroma_kept"]) == (
            targets[direction]["lightness"], targets[direction]["ab"], 0.3)
    assert run.main(["--out", str(out), "--resume", "--max-steps", "4"]) == 0
    assert json.loads((out / "train_config.json").read_text())["colour_targets"] == targets


def test_drawn_train_masks_teach_the_masks(celeba_root, tmp_path):
    """--lambda-drawn: the drawn train faces load as training sees them; their term is logged and its gradient
    reaches both generators' masks."""
    from cyclegan.evaluation import drawn_training_set, load_hair_masks
    drawn = drawn_training_set(REPO / "hair_masks" / "train.json", celeba_root, 32, ("black", "blond"))
    domains = [d for d, _ in load_hair_masks(REPO / "hair_masks" / "train.json").values()]
    for (images, masks), name in zip(drawn.values(), ("black", "blond")):
        n = domains.count(name)
        assert n >= 100 and images.shape == (n, 3, 40, 32) and masks.shape == (n, 1, 40, 32)
        assert 0.1 < masks.mean() < 0.6 and images.min() >= -1 and images.max() <= 1
    out = tmp_path / "run"
    assert run.main(["--celeba-root", str(celeba_root), "--max-images", "4", "--max-steps", "3", "--out", str(out),
                     "--mask-start", "0", "--lambda-drawn", "1", "--train-masks",
                     str(REPO / "hair_masks" / "train.json"), *TINY_FLAGS]) == 0
    assert all(float(r["drawn"]) > 0.1 for r in read_losses(out))  # a cross-entropy of masks not yet taught
    # and it teaches: its gradient reaches both generators' mask layers (the last conv's mask channel) once the
    # mask is no longer held at 1 (the recipe's mask_warmup)
    from cyclegan.config import TrainConfig
    from cyclegan.training import Trainer
    config = json.loads((out / "train_config.json").read_text())
    trainer = Trainer(TrainConfig(**{**config, "colour_targets": None, "mask_warmup": 0}))
    trainer.drawn_loss().backward()
    for G in (trainer.G_AB, trainer.G_BA):
        last = [p for p in G.parameters() if p.grad is not None][-2]  # the final conv's weight
        assert last.grad[-1].abs().sum() > 0
    # while the mask is held at 1 (mask_start) the term could teach nothing: it is not computed
    held = Trainer(TrainConfig(**{**config, "colour_targets": None, "mask_start": 5}))
    x = torch.rand(1, 3, 40, 32) * 2 - 1
    assert "drawn" not in held.train_step(x, x)
    held.step = 5
    assert held.train_step(x, x)["drawn"] > 0
    assert run.main(["--celeba-root", str(celeba_root), "--out", str(tmp_path / "x"), "--lambda-drawn", "1",
                     "--train-masks", "", *TINY_FLAGS]) == 2  # no drawn masks: refused before anything is read


def test_the_one_command_teaches_the_masks_after_the_gan_and_resumes_the_teaching(celeba_root, tmp_path):
    """The cpu recipe on CelebA: the drawn train faces shipped in hair_masks/ teach the masks during the GAN
    (lambda_drawn) and, after its last step, alone (teach_mask_steps); the pair in --out is then the taught one,
    steepened (mask_gain), the GAN's last kept in snapshots/. A stop during the teaching keeps it in teach.pt and
    --resume ends where a straight run ends."""
    from safetensors.torch import load_file
    args = ["--celeba-root", str(celeba_root), "--max-images", "4", "--epochs", "1", "--epochs-decay", "0",
            "--epoch-size", "2", "--teach-mask-steps", "3", "--snapshot-every", "0", "--mask-start", "0", *TINY_FLAGS]
    straight = tmp_path / "straight"
    assert run.main([*args, "--out", str(straight)]) == 0
    config = json.loads((straight / "train_config.json").read_text())
    assert (config["lambda_drawn"], config["train_masks"], config["mask_gain"]) == (10.0, "auto", 2.0)
    assert all(float(r["drawn"]) > 0 for r in read_losses(straight))
    weights = {}
    for name in ("black2blond", "blond2black"):
        taught, gan = straight / name, straight / "snapshots" / "step0000002" / name
        for folder in (taught, gan):
            assert json.loads((folder / "config.json").read_text())["mask_gain"] == 2.0
        weights[name] = load_file(taught / "model.safetensors")
        untaught = load_file(gan / "model.safetensors")
        assert any(not torch.equal(weights[name][k], untaught[k]) for k in untaught)  # the teaching changed it
        sessions = json.loads((taught / "training.json").read_text())["sessions"]
        assert sessions[-1]["teach_mask"]["steps"] == 3 and sessions[-1]["teach_mask"]["faces"] >= 200
        assert "teach_mask" not in json.loads((gan / "training.json").read_text())["sessions"][-1]
    # SIGTERM while black2blond's mask is taught (its 2nd step): that step is finished and kept, and nothing else
    import os
    from cyclegan.data import augment_drawn
    calls = []

    def terminated(*a):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return augment_drawn(*a)
    stopped = tmp_path / "stopped"
    with pytest.MonkeyPatch.context() as m:
        m.setattr("cyclegan.training.augment_drawn", terminated)
        assert run.main([*args, "--out", str(stopped)]) == 130
    assert read_checkpoint(stopped / "teach.pt")["black2blond"]["step"] == 2
    assert "blond2black" not in read_checkpoint(stopped / "teach.pt")
    assert "teach_mask" not in json.loads((stopped / "black2blond" / "training.json").read_text())["sessions"][-1]
    assert run.main(["--out", str(stopped), "--resume"]) == 0
    for name in ("black2blond", "blond2black"):
        resumed = load_file(stopped / name / "model.safetensors")
        assert all(torch.equal(resumed[k], weights[name][k]) for k in resumed), name
    # a damaged teach.pt: a clear error, not a traceback
    (stopped / "teach.pt").write_bytes(b"not a checkpoint")
    assert run.main(["--out", str(stopped), "--resume"]) == 2


def test_killed_and_resumed_run_equals_a_straight_run(image_folders, tmp_path):
    # epoch size 4 with 7 steps: the interruption at step 3 is mid-epoch, the run crosses two epoch ends; pools of
    # 2 images, full before the interruption, and noise before the cycle from the first step (the recipe's priors):
    # the resumed pools and random state matter
    common = ["--epoch-size", "4", "--epochs", "1", "--epochs-decay", "2", "--checkpoint-every", "0", "--pool-size", "2",
              "--cycle-noise", "0.1", "--priors-start", "0"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run.main(folder_args(image_folders, straight, *common, "--max-steps", "7")) == 0
    assert run.main(folder_args(image_folders, split, *common, "--max-steps", "3")) == 0
    assert run.main(["--out", str(split), "--resume", "--max-steps", "7"]) == 0

    a, b = read_checkpoint(straight / "checkpoint.pt"), read_checkpoint(split / "checkpoint.pt")
    assert a["step"] == b["step"] == 7 and a["epoch"] == b["epoch"] == 1
    assert_same_networks(a, b)
    assert read_losses(straight) == read_losses(split)


def test_training_json_names_each_command_its_steps_the_machine_and_the_wall_time(image_folders, tmp_path):
    out = tmp_path / "run"
    assert run.main(folder_args(image_folders, out, "--max-steps", "3")) == 0
    assert run.main(["--out", str(out), "--resume", "--max-steps", "5"]) == 0
    forward = sorted(p for p in out.glob("*2*") if p.is_dir())[0]  # <a>2<b>/, named after the folders
    training = json.loads((forward / "training.json").read_text())
    first, second = training["sessions"]
    assert first["command"].startswith("python train/run.py --data-a") and "--max-steps 3" in first["command"]
    assert second["command"] == f"python train/run.py --out {out} --resume --max-steps 5"
    assert (first["from_step"], first["to_step"], second["from_step"], second["to_step"]) == (0, 3, 3, 5)
    assert "cores" in first["machine"] and "torch" in first["machine"]
    assert training["wall_hours"] == round((first["seconds"] + second["seconds"]) / 3600, 2)
    assert training["steps"] == 5


def test_resume_drops_log_rows_logged_after_the_checkpoint(image_folders, tmp_path):
    out = tmp_path / "run"
    assert run.main(folder_args(image_folders, out, "--max-steps", "2")) == 0
    with open(out / "losses.csv", "a") as f:  # rows a killed run logged after its last checkpoint
        f.write("3,0,0.0002,1,1,1,1,1,1,1,1,1\n")
    assert run.main(["--out", str(out), "--resume", "--max-steps", "4"]) == 0
    assert [int(r["step"]) for r in read_losses(out)] == [1, 2, 3, 4]
    assert read_losses(out)[2]["G"] != "1"


def test_resume_with_a_longer_schedule_follows_it_from_the_first_step(image_folders, tmp_path):
    # a finished 1 + 2 epoch run saves lr 0 for the epoch after its last; extended to 1 + 4
    # epochs, that epoch (3, 0-based) must run at 2e-4 * (1 - 3/5), not at the saved 0
    out = tmp_path / "run"
    common = ["--epoch-size", "2", "--checkpoint-every", "0"]
    assert run.main(folder_args(image_folders, out, *common, "--epochs", "1", "--epochs-decay", "2")) == 0
    assert [float(r["lr"]) for r in read_losses(out)] == pytest.approx([2e-4] * 2 + [2e-4 * 2 / 3] * 2 + [2e-4 / 3] * 2, rel=1e-5)
    assert read_checkpoint(out / "checkpoint.pt")["opt_G"]["param_groups"][0]["lr"] == 0
    assert run.main(["--out", str(out), "--resume", "--epochs-decay", "4", "--max-steps", "8"]) == 0
    rows = read_losses(out)[6:]
    assert [int(r["epoch"]) for r in rows] == [3, 3]
    assert [float(r["lr"]) for r in rows] == pytest.approx([2e-4 * 2 / 5] * 2, rel=1e-5)


def test_sigterm_saves_a_checkpoint_and_resume_continues(image_folders, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "train" / "run.py"), *folder_args(image_folders, out, "--max-steps", "100000")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "losses.csv").exists() and len(read_losses(out)) >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "SIGTERM" in stderr
    checkpoint = read_checkpoint(out / "checkpoint.pt")
    step = checkpoint["step"]
    assert step >= 2 and len(read_losses(out)) == step
    # the saved generator is the checkpoint's averaged one at that step, tensor for tensor (not a fresh one)
    saved = Generator.from_pretrained(out / "trainA2trainB").state_dict()
    assert saved.keys() == checkpoint["G_AB_ema"].keys()
    assert all(torch.equal(saved[k], checkpoint["G_AB_ema"][k]) for k in saved)
    assert any(not torch.equal(checkpoint["G_AB_ema"][k], checkpoint["G_AB"][k]) for k in saved)
    assert run.main(["--out", str(out), "--resume", "--max-steps", str(step + 1)]) == 0
    assert read_checkpoint(out / "checkpoint.pt")["step"] == step + 1


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(image_folders, tmp_path, capsys):
    out = tmp_path / "run"
    status = run.main(folder_args(image_folders, out, "--lr", "1e30", "--max-steps", "50", "--checkpoint-every", "1"))
    assert status == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "last good checkpoint" in err
    state = read_checkpoint(out / "checkpoint.pt")
    assert state["step"] < 50
    assert all(torch.isfinite(v).all() for v in state["G_AB"].values())


@pytest.mark.parametrize("args,message", [
    ([], "no training data"),
    (["--data-a", "/nonexistent/a", "--data-b", "/nonexistent/b"], "does not exist"),
    (["--celeba-root", "/nonexistent"], "img_align_celeba"),
    (["--resume"], "no checkpoint.pt"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    assert run.main([*args, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_existing_run_is_not_overwritten_and_resume_keeps_the_architecture(image_folders, tmp_path, capsys):
    out = tmp_path / "run"
    assert run.main(folder_args(image_folders, out, "--max-steps", "1")) == 0
    before = (out / "checkpoint.pt").read_bytes()
    assert run.main(folder_args(image_folders, out, "--max-steps", "1")) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert run.main(["--out", str(out), "--resume", "--ngf", "8"]) == 2
    assert "cannot change ['ngf']" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before


def test_prepare_celeba_materialises_the_selection(mini_celeba, tmp_path):
    out = tmp_path / "black2blond"
    assert prepare_celeba.main(["--celeba-root", str(mini_celeba), "--out", str(out)]) == 0
    listing = {d: sorted(p.name for p in (out / d).iterdir()) for d in ("trainA", "trainB", "testA", "testB")}
    assert listing == {"trainA": ["000001.jpg", "000002.jpg"], "trainB": ["000003.jpg", "000009.jpg"],
                       "testA": ["000006.jpg"], "testB": ["000007.jpg"]}
    src = mini_celeba / "img_align_celeba" / "img_align_celeba" / "000001.jpg"
    assert (out / "trainA" / "000001.jpg").read_bytes() == src.read_bytes()
    assert prepare_celeba.main(["--celeba-root", str(mini_celeba), "--out", str(out)]) == 2  # not over a full folder


def test_defaults_fit_the_device_and_the_run_says_how_long_it_takes(image_folders, tmp_path, capsys):
    assert run.main(folder_args(image_folders, tmp_path / "auto", "--max-steps", "12")) == 0
    printed = capsys.readouterr().out
    # no GPU here: the CPU recipe (the recolouring pair), its settings said; flags given win (ngf 4)
    assert "recipe cpu: upsample=resize_conv, attention=True" in printed and "ngf=32" not in printed
    config = json.loads((tmp_path / "auto" / "train_config.json").read_text())
    assert (config["attention"], config["d_negatives"], config["epoch_size"], config["epochs"], config["ngf"]) == (
        True, True, 1000, 10, 4)
    assert (config["recolour"], config["bins"], config["guided_radius"], config["image_size"]) == (True, 3, 2, 32)
    assert (config["priors_start"], config["lambda_mask"], config["lambda_mask_face"], config["lambda_mask_edge"],
            config["cycle_noise"], config["lambda_cycle_b"]) == (4000, 0.0, 1.0, 0.0, 0.1, 15.0)
    assert config["preprocess"] == "auto"  # folders of images: resize_crop (CelebA: its whole aligned images)
    # matched colour is measured on aligned CelebA faces: auto leaves folders of images with the field's own colour
    assert config["match_colour"] == "auto" and config["colour_targets"] is None
    assert [json.loads(f.read_text()).get("hair_lightness") for f in (tmp_path / "auto").glob("*2*/config.json")] == [
        None, None]
    assert "20 epochs of 1,000 steps: 12 steps" in printed  # --max-steps bounds the run
    estimate = [line for line in printed.splitlines() if "s a step here" in line]
    assert len(estimate) == 1 and "the remaining 1 steps take about" in estimate[0]  # timed over steps 2-11
    assert " s (until" in estimate[0]  # a short remainder in seconds, not "0.0 h"
    assert "about 2.5 h" in run.duration_estimate(run.TIMED_STEPS * 0.5, 18_000)
    assert "about 15 min" in run.duration_estimate(run.TIMED_STEPS * 0.5, 1_800)

    assert run.main(folder_args(image_folders, tmp_path / "paper", "--recipe", "paper", "--max-steps", "1")) == 0
    assert "recipe paper: the paper settings" in capsys.readouterr().out
    config = json.loads((tmp_path / "paper" / "train_config.json").read_text())
    assert (config["attention"], config["upsample"], config["epochs"], config["epochs_decay"], config["epoch_size"]) == (
        False, "deconv", 100, 100, 0)


def test_ctrl_c_during_start_up_stops_with_one_line_and_drops_the_queued_decoding(image_folders, tmp_path, capsys,
                                                                                 monkeypatch):
    from cyclegan.data import UnpairedDataset
    decode, calls = UnpairedDataset._decode, []

    def interrupted(self, path):  # Ctrl-C arrives while the images are being cached
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        time.sleep(0.2)
        return decode(self, path)

    monkeypatch.setattr(UnpairedDataset, "_decode", interrupted)
    out = tmp_path / "run"
    assert run.main(folder_args(image_folders, out, "--cache", "on")) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (f"interrupted during start-up, before the first step: nothing was trained "
                                            f"or written to {out}; run the same command to start again")
    assert not out.exists()
    time.sleep(0.5)  # the decodes already running finish; the queued ones were dropped
    assert len(calls) < 6  # of domain A's 6 (and B's 4)


def test_a_killed_checkpoint_writes_temporary_is_removed_at_the_next_start(image_folders, tmp_path, capsys):
    out = tmp_path / "run"
    assert run.main(folder_args(image_folders, out, "--max-steps", "1")) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".checkpoint.pt.tmp{int(dead.stdout)}"  # what a kill -9 in the middle of torch.save leaves
    stale.write_bytes(b"\0" * 3_000_000)
    sleeper = subprocess.Popen(["sleep", "60"])
    alive = out / f".checkpoint.pt.tmp{sleeper.pid}"  # another run, still writing
    alive.write_bytes(b"\0")
    other = out / ".losses.csv.tmp1"  # not the checkpoint's
    other.write_bytes(b"\0")
    capsys.readouterr()
    try:
        assert run.main(["--out", str(out), "--resume", "--max-steps", "2"]) == 0
    finally:
        sleeper.kill()
    assert not stale.exists() and alive.exists() and other.exists()
    assert f"removed {stale} (3 MiB): a checkpoint write cut short by a killed run" in capsys.readouterr().out


def test_the_default_run_on_celeba_draws_men_and_women_equally_in_each_domain(mini_celeba, tmp_path, monkeypatch,
                                                                               capsys):
    # more rows: black-haired train images 3 men to 1 woman, blond ones 1 man to 3 women
    import csv
    from PIL import Image
    extra = [("000010.jpg", 0, -1, 1, -1), ("000011.jpg", 0, -1, 1, -1), ("000012.jpg", 0, 1, -1, 1),
             ("000013.jpg", 0, 1, -1, 1)]
    for image_id, *_ in extra:
        Image.new("RGB", (178, 218), (90, 80, 70)).save(mini_celeba / "img_align_celeba" / "img_align_celeba" / image_id)
    with open(mini_celeba / "list_eval_partition.csv", "a", newline="") as f:
        csv.writer(f).writerows((r[0], r[1]) for r in extra)
    with open(mini_celeba / "list_attr_celeba.csv", "a", newline="") as f:
        csv.writer(f).writerows((r[0], r[2], r[3], r[4]) for r in extra)
    made = []

    class Recorded(run.UnpairedDataset):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)
    monkeypatch.setattr(run, "UnpairedDataset", Recorded)
    # noise images have no hair colour to measure: the default's matched colour says so, and what to do
    assert run.main(["--celeba-root", str(mini_celeba), "--out", str(tmp_path / "noise"), "--max-steps", "1",
                     *TINY_FLAGS]) == 2
    assert "--match-colour off" in capsys.readouterr().err
    made.clear()
    assert run.main(["--celeba-root", str(mini_celeba), "--out", str(tmp_path / "run"), "--max-steps", "1",
                     "--match-colour", "off", "--lambda-drawn", "0", "--teach-mask-steps", "0", *TINY_FLAGS]) == 0
    dataset, = [d for d in made if d.train]  # the training set (the sample grids have their own)
    drawn = {"A": [], "B": []}
    load = dataset._load
    monkeypatch.setattr(dataset, "_load", lambda side, i: drawn[side].append(i) or load(side, i))
    for i in range(300):
        dataset[(0, i)]
    for side, men in (("A", 3 / 4), ("B", 1 / 4)):
        male = dataset.domains[side].male
        assert sum(male) / len(male) == men  # what an unbalanced draw would give
        share = sum(male[i] for i in drawn[side]) / len(drawn[side])
        assert abs(share - 0.5) < 0.1, (side, share)  # 300 draws: 0.5 +- 0.03 (1 SE)
