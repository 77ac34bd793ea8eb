"""The workflow around training: reports (losses.png, samples.gif), batch translation, ONNX export, the sheets to
look at (train/look.py)."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, write_images
from cyclegan.inference import image_to_tensor, keep_detail, tensor_to_image
from cyclegan.inference import translate as run_generator
from cyclegan.hub import load_pair
from cyclegan.networks import Generator
from cyclegan.reports import loss_curves, read_losses, samples_gif, smooth

sys.path.insert(0, str(REPO / "train"))
import export  # noqa: E402
import look  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402
import translate  # noqa: E402

COLUMNS = ["step", "epoch", "lr", "G", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"]


def write_csv(path, n, scale=1.0):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for s in range(1, n + 1):
            w.writerow([s, 0, 2e-4] + [scale * (5 + np.sin(s / 7 + i)) / (1 + i) for i in range(9)])


def test_loss_curves_follow_the_csv(tmp_path):
    write_csv(tmp_path / "losses.csv", 300)
    first = loss_curves(tmp_path / "losses.csv", tmp_path / "losses.png").read_bytes()
    image = Image.open(tmp_path / "losses.png")
    assert image.size[0] == 1000 and image.getextrema() != ((255, 255), (255, 255), (255, 255))
    write_csv(tmp_path / "losses.csv", 300, scale=3.0)
    assert loss_curves(tmp_path / "losses.csv", tmp_path / "losses.png").read_bytes() != first
    steps, columns = read_losses(tmp_path / "losses.csv")
    assert steps[-1] == 300 and set(columns) == set(COLUMNS[3:])


def test_loss_curves_add_a_mask_panel_for_attention_runs(tmp_path):
    write_csv(tmp_path / "paper.csv", 50)
    paper = Image.open(loss_curves(tmp_path / "paper.csv", tmp_path / "paper.png"))
    with open(tmp_path / "paper.csv") as f, open(tmp_path / "attention.csv", "w") as g:
        for i, line in enumerate(f):
            g.write(line.rstrip("\n") + (",M_A,M_B,mask_A,mask_B\n" if i == 0 else ",0.3,0.2,0.05,0.04\n"))
    attention = Image.open(loss_curves(tmp_path / "attention.csv", tmp_path / "attention.png"))
    assert attention.height - paper.height == 350  # one more panel, 300 px + the gap
    third = np.asarray(attention.convert("RGB"))[paper.height:]
    assert (third != 255).any(axis=2).mean() > 0.01  # with lines drawn in it


def test_report_py_draws_what_a_run_has(image_folders, tmp_path, capsys):
    a, b = image_folders
    out = tmp_path / "run"
    assert run.main(["--data-a", str(a), "--data-b", str(b), "--out", str(out), "--ngf", "4", "--n-blocks", "1",
                     "--ndf", "4", "--image-size", "32", "--precision", "fp32", "--no-compile", "--max-steps", "3",
                     "--sample-every", "0"]) == 0
    # a run stopped before any sample interval or epoch end still leaves a grid of its last state
    assert [p.name for p in (out / "samples").iterdir()] == ["epoch000_step0000003.png"]
    card = (out / "trainA2trainB" / "README.md").read_text()  # true of this run
    assert "3 steps" in card and "the image folders trainA/ and trainB/" in card
    for p in (out / "samples").iterdir():  # a run without grids: losses.png alone, and no error
        p.unlink()
    (out / "losses.png").unlink()
    assert report.main([str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "no samples.gif: no sample grids" in printed
    assert (out / "losses.png").is_file()


def test_smoothing_is_an_unbiased_moving_average():
    assert smooth([4.0, 4.0, 4.0], span=10) == pytest.approx([4.0, 4.0, 4.0])
    s = smooth([0.0] * 50 + [1.0] * 50, span=5)
    assert s[49] == pytest.approx(0) and 0.3 < s[50] < 0.5 and s[-1] == pytest.approx(1, abs=1e-6)


def test_samples_gif_has_a_frame_per_grid_in_step_order(tmp_path):
    for step, colour in ((20, (255, 0, 0)), (3, (0, 255, 0)), (100, (0, 0, 255))):
        Image.new("RGB", (48, 32), colour).save(tmp_path / f"epoch000_step{step:07d}.png")
    gif = Image.open(samples_gif(tmp_path, tmp_path / "samples.gif"))
    assert gif.n_frames == 3
    colours = []
    for i in range(3):
        gif.seek(i)
        colours.append(np.asarray(gif.convert("RGB"))[-1, -1].argmax())  # a corner the step label does not touch
    assert colours == [1, 0, 2]  # green (step 3), red (20), blue (100)


def test_run_writes_reports_and_report_py_redraws_them(image_folders, tmp_path, capsys):
    a, b = image_folders
    out = tmp_path / "run"
    assert run.main(["--data-a", str(a), "--data-b", str(b), "--out", str(out), "--ngf", "4", "--n-blocks", "1",
                     "--ndf", "4", "--image-size", "32", "--precision", "fp32", "--no-compile", "--epoch-size", "3",
                     "--epochs", "1", "--epochs-decay", "1", "--sample-every", "2"]) == 0
    assert (out / "losses.png").is_file() and Image.open(out / "samples.gif").n_frames == 4  # steps 2, 3, 4, 6
    # each sample grid names its columns (and its rows' directions) in a strip above the images
    grid = np.asarray(Image.open(sorted((out / "samples").glob("*.png"))[0]).convert("L"))
    rows = 2 * len(run.sample_images(run.TrainConfig(data_a=str(a), data_b=str(b), image_size=32),
                                     "resize_crop")[0])
    header = grid.shape[0] - rows * 32
    assert grid.shape[1] == 4 * 32 and header >= 2 * 16  # attention (the recipe): 4 columns; notes and names
    assert grid[:header].min() < 100 and (grid[:header] > 250).mean() > 0.7  # dark text on white
    before = (out / "losses.png").read_bytes()
    with open(out / "losses.csv", "a") as f:
        f.write("7,2,0.0001," + ",".join(["9.5"] * 9) + "\n")
    assert report.main([str(out)]) == 0
    assert (out / "losses.png").read_bytes() != before
    assert report.main([str(tmp_path)]) == 2 and "has no losses.csv" in capsys.readouterr().err


def save_pair(weights, **kwargs):
    for seed, (src, tgt) in enumerate((("black", "blond"), ("blond", "black"))):
        torch.manual_seed(seed)
        Generator(ngf=4, n_blocks=1, image_size=32, source_domain=src, target_domain=tgt, **kwargs).save_pretrained(
            weights / f"{src}2{tgt}")
    return weights


@pytest.fixture
def pair_dir(tmp_path):
    return save_pair(tmp_path / "weights")


def test_triptychs_of_attention_generators_show_the_mask(tmp_path):
    weights = save_pair(tmp_path / "weights", attention=True)
    single = tmp_path / "one.png"
    # noise, not a flat colour: on a flat image the instance norms divide rounding noise by ~0, so the
    # mask is that noise amplified in fp32 and exactly 0.5 in bf16 (the fast path on AMX CPUs)
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(single)
    assert translate.main(["--model", str(weights / "black2blond"), "--input", str(single), "--out",
                           str(tmp_path / "out"), "--whole", "--triptych", "--precision", "fp32"]) == 0
    sheet = Image.open(tmp_path / "out" / "black2blond2black" / "one.png")
    assert sheet.size == (4 * 64, 48)
    G = Generator.from_pretrained(weights / "black2blond")
    _, mask = G(torch.from_numpy(np.asarray(Image.open(single), dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None],
                return_mask=True)
    grey = np.asarray(sheet.crop((128, 0, 192, 48)).convert("L"), dtype=float) / 255
    assert np.abs(grey - mask[0, 0].detach().numpy()).max() < 2 / 255  # the third panel is the mask
    assert translate.main(["--model", str(weights / "black2blond"), "--input",
                           str(REPO / "examples" / "grace_hopper.jpg"), "--out", str(tmp_path / "faces"),
                           "--triptych"]) == 0
    assert Image.open(tmp_path / "faces" / "black2blond2black" / "grace_hopper.png").size == (4 * 32, 32)
    # --detail: the model's colours over the photo's texture, as keep_detail makes them
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    photo.save(single)
    assert translate.main(["--model", str(weights / "black2blond"), "--input", str(single), "--out",
                           str(tmp_path / "detail"), "--whole", "--detail", "--precision", "fp32"]) == 0
    x = image_to_tensor(photo)
    y, mask = run_generator(G, x, "fp32", return_mask=True)
    expected, plain = np.asarray(tensor_to_image(keep_detail(x, y, mask)), int), np.asarray(tensor_to_image(y), int)
    written = np.asarray(Image.open(tmp_path / "detail" / "one.png"), int)
    assert np.abs(written - expected).max() <= 1 and np.abs(written - plain).mean() > 3


def test_batch_translation_keeps_sizes_skips_bad_files_and_writes_triptychs(pair_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_images(photos, 3, size=(37, 29))  # odd sizes: padded to a multiple of 4 and cropped back
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    single = tmp_path / "one.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(single)
    out = tmp_path / "out"
    status = translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(photos), str(single),
                             "--out", str(out), "--whole", "--triptych"])
    assert status == 1  # one file could not be read, the others were translated
    assert sorted(p.name for p in out.glob("*.png")) == ["img000.png", "img001.png", "img002.png", "one.png"]
    assert Image.open(out / "img001.png").size == (37, 29) and Image.open(out / "one.png").size == (64, 48)
    assert Image.open(out / "black2blond2black" / "img001.png").size == (3 * 37, 29)
    text = capsys.readouterr()
    assert "skipped" in text.out + text.err and "broken.jpg" in text.out
    assert "translated 4 of 5 files" in text.out

    resized = tmp_path / "resized"
    assert translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(single), "--out",
                           str(resized), "--whole", "--resize", "--celeba-crop"]) == 0
    assert Image.open(resized / "one.png").size == (32, 32)
    # the translation is the generator's output, not a copy of the input
    original = np.asarray(Image.new("RGB", (32, 32), (10, 200, 30)), dtype=int)
    assert np.abs(np.asarray(Image.open(resized / "one.png"), dtype=int) - original).mean() > 3


def test_batch_translation_of_photos_is_the_pages_path_by_default(pair_dir, tmp_path, capsys):
    from cyclegan.faces import translate_photo
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(REPO / "examples" / "grace_hopper.jpg").save(photos / "hopper.jpg")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)).save(photos / "sky.png")
    out = tmp_path / "out"
    assert translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(photos), "--out", str(out),
                           "--triptych", "--precision", "fp32"]) == 0
    # exactly what the page makes: the face found, the texture kept, pasted into the photo at its size
    G, G_back = load_pair(pair_dir / "black2blond")
    page = translate_photo(Image.open(photos / "hopper.jpg").convert("RGB"), G, G_back, precision="fp32", detail=True)
    assert np.array_equal(np.asarray(Image.open(out / "hopper.png")), np.asarray(page.composite))
    assert Image.open(out / "black2blond2black" / "hopper.png").size == (96, 32)
    # the photo without a face is left out and named
    assert not (out / "sky.png").exists()
    assert "translated 1 of 2 files" in capsys.readouterr().out.replace(
        f"into {out}; no face found in 1, left out (--whole translates whole images): sky.png", "")
    with pytest.raises(SystemExit, match="2"):  # argparse's error: the two exclude each other
        translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(photos), "--out", str(out),
                        "--whole", "--face-crop"])
    assert "--face-crop (the default) and --whole exclude each other" in capsys.readouterr().err


def test_batch_translation_argument_errors(pair_dir, tmp_path, capsys):
    assert translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(tmp_path / "nothing"),
                           "--out", str(tmp_path / "o")]) == 2
    assert "no file or folder" in capsys.readouterr().err


def test_onnx_export_matches_pytorch(pair_dir, tmp_path):
    pytest.importorskip("onnxscript", reason="exporting needs onnx and onnxscript (requirements-dev.txt)")
    pytest.importorskip("onnxruntime", reason="checking needs onnxruntime (requirements-dev.txt)")
    path = tmp_path / "g.onnx"
    assert export.main(["--model", str(pair_dir / "black2blond"), "--onnx", str(path)]) == 0
    G = Generator.from_pretrained(pair_dir / "black2blond")
    assert export.check(G, path) < 1e-4
    # a size the export never saw, and an odd batch
    import onnxruntime as ort
    x = torch.rand(3, 3, 44, 100) * 2 - 1
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - G(x).numpy()).max() < 1e-4


def test_column_names_wrap_in_narrow_grids_instead_of_overlapping():
    from cyclegan.reports import label_grid
    names = ["photo", "translated", "mask (white = changed)", "translated back"]
    narrow = np.asarray(label_grid(Image.new("RGB", (4 * 64, 80), "grey"), names).convert("L"))
    wide = np.asarray(label_grid(Image.new("RGB", (4 * 200, 80), "grey"), names).convert("L"))
    assert wide.shape[0] - 80 == 16 + 4  # one line of names over 200 px columns
    assert narrow.shape[0] - 80 >= 3 * 16  # at 64 px "mask (white = changed)" takes three lines
    # each column's text stays inside its own column: a white gap at every boundary between two
    header = narrow[:narrow.shape[0] - 80]
    for boundary in (64, 128, 192):
        assert (header[:, boundary - 1:boundary + 1] > 250).all()


def test_the_tools_write_their_temporary_files_under_pytests_folder(tmp_path_factory):
    import gradio as gr
    from torch._inductor.runtime.cache_dir_utils import cache_dir
    base = tmp_path_factory.getbasetemp().resolve()
    for folder in (gr.utils.get_upload_folder(), cache_dir()):
        assert base in Path(folder).resolve().parents, folder


def test_the_gpu_check_skips_its_gpu_rows_with_the_reason_and_times_the_page(monkeypatch, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: train/gpu_check.py runs its GPU rows for real")
    sys.path.insert(0, str(REPO / "train"))
    import gpu_check
    monkeypatch.setattr(gpu_check, "cuda_tests", lambda: ("0 passed, 8 skipped", True))  # the suite is run elsewhere
    photos = {"0.6 MP": {"page": 0.5}, "12 MP": {"page": 0.9}}
    monkeypatch.setattr(gpu_check.bench, "bench_photos", lambda **kw: {"value": photos})
    assert gpu_check.main(["--markdown", str(tmp_path / "gpu.md")]) == 0
    table = (tmp_path / "gpu.md").read_text()
    assert table == capsys.readouterr().out.strip() + "\n"
    rows = [line for line in table.splitlines() if line.startswith("| training step")]
    assert len(rows) == 3 and all(gpu_check.NO_GPU in row for row in rows)
    assert "| web page request, 12 MP photo, on cpu (no GPU here) | 900 ms (1.80x the 0.6 MP one) |" in table
    monkeypatch.setattr(gpu_check, "cuda_tests", lambda: ("1 failed", False))
    assert gpu_check.main([]) == 1  # a failing CUDA test fails the check


def test_batch_translation_takes_video_files(pair_dir, tmp_path, capsys):
    import av
    import clip
    clips = tmp_path / "clips"
    clips.mkdir()
    clip.write_mp4(clips / "walk.mp4", clip.frames(8, 320, 240), fps=10)
    (clips / "broken.mov").write_bytes(b"not a video at all")
    out = tmp_path / "out"
    assert translate.main(["--model", str(pair_dir / "black2blond"), "--input", str(clips), "--out", str(out)]) == 1
    with av.open(str(out / "walk.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert [s.type for s in c.streams] == ["video", "audio"] and c.streams.video[0].average_rate == 10
    assert len(frames) == 8 and frames[0].shape == (240, 320, 3)
    text = capsys.readouterr().out
    assert "walk.mp4: 8 frames, 0.8 s at 10 fps, aac audio" in text and "broken.mov" in text
    assert "translated 1 of 2 files" in text and not (out / "broken.mp4").exists()


def test_ship_copies_the_chosen_snapshot_in_fp16_with_cards_and_relative_paths(tmp_path):
    import ship
    import json as json_
    from safetensors import safe_open
    run_dir = tmp_path / "run"
    for step, seed in (("step0001000", 0), ("step0001500", 1)):
        torch.manual_seed(seed)
        save_pair(run_dir / "snapshots" / step, attention=True, recolour=True, bins=3, guided_radius=2)
        for d in ship.DIRECTIONS:
            (run_dir / "snapshots" / step / d / "training.json").write_text(json_.dumps({"steps": 1500, "config": {}}))
    figures = {"success_rate": 0.9, "face_psnr": 40.0, "gender_kept": 0.97, "cycle_psnr": 30.0}
    report = {d: {"n": 10, "model": figures} for d in ship.DIRECTIONS}
    chosen = str(run_dir / "snapshots" / "step0001500")
    selection = {"chosen": chosen, "min_face_psnr": 26.0, "min_gender_kept": 0.93, "max_images": 10,
                 "reports": {str(run_dir / "snapshots" / "step0001000"): report, chosen: report, str(run_dir): report}}
    (tmp_path / "selection.json").write_text(json_.dumps(selection))
    assert ship.main([str(tmp_path / "selection.json"), str(tmp_path / "weights")]) == 0
    shipped = json_.loads((tmp_path / "weights" / "selection.json").read_text())
    assert shipped["chosen"] == "snapshots/step0001500"
    assert sorted(shipped["reports"]) == ["final", "snapshots/step0001000", "snapshots/step0001500"]
    for d in ship.DIRECTIONS:
        folder = tmp_path / "weights" / d
        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        original, copy = (Generator.from_pretrained(p).eval() for p in (Path(chosen) / d, folder))
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        assert next(copy.parameters()).dtype == torch.float32
        assert (run_generator(original, x, "fp32") - run_generator(copy, x, "fp32")).abs().max() < 0.01
        card = (folder / "README.md").read_text()
        assert "| step0001500 (chosen) |" in card and "1500 steps" in card
        assert json_.loads((folder / "training.json").read_text())["steps"] == 1500
    # shipped again over it, another choice: every file of the folder is the new one's, the card too
    (tmp_path / "selection.json").write_text(json_.dumps({**selection, "chosen": str(run_dir / "snapshots" / "step0001000")}))
    assert ship.main([str(tmp_path / "selection.json"), str(tmp_path / "weights")]) == 0
    for d in ship.DIRECTIONS:
        assert "| step0001000 (chosen) |" in (tmp_path / "weights" / d / "README.md").read_text()
    (tmp_path / "selection.json").write_text(json_.dumps({**selection, "chosen": str(tmp_path / "nowhere")}))
    assert ship.main([str(tmp_path / "selection.json"), str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()  # nothing written for a snapshot that is not there


def test_look_writes_sheets_of_upscaled_val_photos_beside_each_pairs_page_result(celeba_root, tmp_path, capsys):
    out = tmp_path / "look"
    assert look.main([str(REPO / "weights"), "--celeba-root", str(celeba_root), "--out", str(out), "--count", "1",
                      "--scale", "2"]) == 0
    assert capsys.readouterr().out.split() == ["wrote", str(out / "black_0.png"), "wrote", str(out / "blond_0.png")]
    folder = celeba_root / "img_align_celeba" / "img_align_celeba"
    for domain, name in look_names(celeba_root).items():
        sheet = np.asarray(Image.open(out / f"{domain}_0.png"), np.float32)
        assert sheet.shape == (look.LABEL + 218, 2 * 178, 3)  # one photo: a row of photo | the pair's result
        photo, result = sheet[look.LABEL:, :178], sheet[look.LABEL:, 178:]
        # the photo at 2x shown at half: the photo again, near enough; the pair recoloured its hair, not all of it
        assert np.abs(photo - np.asarray(Image.open(folder / name), np.float32)).mean() < 3
        changed = np.abs(result - photo).max(-1) > 30
        assert 0.03 < changed.mean() < 0.6, (domain, changed.mean())
    assert look.main(["nowhere", "--celeba-root", str(celeba_root), "--out", str(out)]) == 2
    assert "no generator at nowhere/black2blond" in capsys.readouterr().err


def look_names(celeba_root) -> dict:
    """The file name of the 301st val photo of each domain (look.py's first by default)."""
    from cyclegan.data import celeba_domains
    black, blond = celeba_domains(celeba_root, "Black_Hair", "Blond_Hair", "val")
    return {d.name: Path(d.paths[300]).name for d in (black, blond)}
