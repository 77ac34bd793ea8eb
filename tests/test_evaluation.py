"""The evaluation metrics on hand-made inputs, the classifier's save/load, the evaluate command."""

import json
import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO
from cyclegan.data import celeba_domains, to_float
from cyclegan.evaluation import PSNR_CAP, AttributeClassifier, face_region, psnr, ssim
from cyclegan.inference import tensor_to_image, translate
from cyclegan.networks import Generator

sys.path.insert(0, str(REPO / "train"))
import evaluate  # noqa: E402


def test_psnr_of_identical_images_is_capped():
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert psnr(x, x).tolist() == [PSNR_CAP, PSNR_CAP]


def test_psnr_of_a_known_shift():
    x = torch.zeros(1, 3, 8, 8)
    # MSE 0.01 over a range of 2: 10 log10(4 / 0.01) = 26.02 dB
    assert psnr(x, x + 0.1).item() == pytest.approx(10 * math.log10(4 / 0.01), abs=1e-3)
    assert psnr(x, x + 0.2).item() == pytest.approx(10 * math.log10(4 / 0.04), abs=1e-3)


def test_ssim_of_identical_and_of_constant_images():
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    # constant images a and b: SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * 2)^2
    a, b, c1 = 0.2, -0.3, (0.01 * 2) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)).item() == pytest.approx(expected, rel=1e-4)
    noisy = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    assert 0 < ssim(noisy, x).item() < 0.9


def test_face_region_is_the_central_face_box():
    x = torch.zeros(1, 3, 100, 100)
    x[..., 42:82, 30:70] = 1
    region = face_region(x)
    assert region.shape == (1, 3, 40, 40) and region.min() == 1


def test_classifier_predicts_each_attribute_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = AttributeClassifier(["Black_Hair", "Male"], image_size=32, width=4).eval()
    x = torch.rand(3, 3, 128, 128) * 2 - 1
    pred = model.predict(x)
    assert set(pred) == {"Black_Hair", "Male"} and pred["Male"].shape == (3,) and pred["Male"].dtype == torch.bool
    model.save_pretrained(tmp_path)
    loaded = AttributeClassifier.from_pretrained(tmp_path).eval()
    assert loaded.attributes == ["Black_Hair", "Male"]
    torch.testing.assert_close(loaded(x), model(x))


def test_evaluate_writes_figures_and_a_contact_sheet(mini_celeba, tmp_path):
    weights = tmp_path / "weights"
    for source, target in (("black", "blond"), ("blond", "black")):
        Generator(ngf=4, n_blocks=1, image_size=32, source_domain=source, target_domain=target).save_pretrained(
            weights / f"{source}2{target}")
    classifier = AttributeClassifier(image_size=32, width=4)
    male = classifier.attributes.index("Male")
    with torch.no_grad():  # it calls everyone a man
        classifier.head[1].weight[male] = 0.0
        classifier.head[1].bias[male] = 10.0
    # and calls one of the two black-haired faces' translations blond, the other not: its threshold between them
    black, black_male, _ = evaluate.domain_images(celeba_domains(mini_celeba, split="train")[0], 32)
    blond_k = classifier.attributes.index("Blond_Hair")
    G_AB = Generator.from_pretrained(weights / "black2blond").eval()
    with torch.no_grad():
        logits = classifier.eval()(translate(G_AB, to_float(black), "fp32"))[:, blond_k]
        assert logits[0] != logits[1]
        classifier.head[1].bias[blond_k] -= logits.mean()
    classifier.save_pretrained(weights / "classifier")
    out = tmp_path / "eval"
    assert evaluate.main(["--weights", str(weights), "--celeba-root", str(mini_celeba), "--split", "train",
                          "--classifier", str(weights / "classifier"), "--out", str(out), "--precision", "fp32"]) == 0
    report = json.loads((out / "eval.json").read_text())
    d = report["black2blond"]
    assert d["n"] == 2 and d["n_male"] == 1
    assert d["identity"]["face_psnr"] == PSNR_CAP and d["identity"]["face_ssim"] == pytest.approx(1.0, abs=1e-4)
    assert d["identity"]["gender_kept"] == 1.0 and d["identity"]["cycle_psnr"] == PSNR_CAP
    assert d["model"]["face_psnr"] < PSNR_CAP
    # success by hand: the classifier on the generator's translations of the two black-haired crops, each
    # face's verdict to its own gender (CelebA's Male label)
    classifier = AttributeClassifier.from_pretrained(weights / "classifier").eval()
    verdicts = classifier.predict(translate(G_AB, to_float(black), "fp32"))["Blond_Hair"].float()
    man = torch.tensor(black_male)
    assert sorted(verdicts.tolist()) == [0.0, 1.0]  # the man's and the woman's verdicts differ
    assert d["model"]["success_rate"] == pytest.approx(verdicts.mean().item(), abs=1e-4)
    assert d["model"]["success_rate_male"] == pytest.approx(verdicts[man].mean().item(), abs=1e-4)
    assert d["model"]["success_rate_female"] == pytest.approx(verdicts[~man].mean().item(), abs=1e-4)
    blond = evaluate.domain_images(celeba_domains(mini_celeba, split="train")[1], 32)[0]
    # gender as labelled, against CelebA's labels: right for the man, wrong for the woman, whatever the image
    for name in ("model", "identity", "colour_shift"):
        assert (d[name]["gender_as_labelled_male"], d[name]["gender_as_labelled_female"]) == (1.0, 0.0)
        assert d[name]["gender_kept"] == 1.0  # while nobody's gender changes
    # the real blond photos, scored as a translation would be
    photos = d["target_photos"]
    assert photos["n"] == len(blond) and photos["success_rate"] == pytest.approx(
        classifier.predict(to_float(blond))["Blond_Hair"].float().mean().item(), abs=1e-4)
    # the contact sheet: a row per face, photo | translation | reconstruction, black-haired first
    sheet = np.asarray(Image.open(out / "contact_sheet.png").convert("RGB"), int)
    assert sheet.shape == ((2 + len(blond)) * 32, 3 * 32, 3)
    assert np.array_equal(sheet[:32, :32], black[0].permute(1, 2, 0).numpy())
    assert np.array_equal(sheet[-32:, :32], blond[-1].permute(1, 2, 0).numpy())
    fake = np.asarray(tensor_to_image(translate(G_AB, to_float(black[:1]), "fp32")), int)
    assert np.abs(sheet[:32, 32:64] - fake).max() <= 1
    # standard errors: of a share over the two faces, sqrt(p(1 - p) / n); of the identity's capped PSNR, 0
    p = d["model"]["success_rate"]
    assert d["model"]["se"]["success_rate"] == pytest.approx(math.sqrt(p * (1 - p) / 2), abs=1e-4)
    assert d["identity"]["se"]["face_psnr"] == 0.0 and math.isnan(d["model"]["se"]["success_rate_male"])  # one man
    # --detail scores the translations with the photo's texture: other model figures, same baselines
    assert evaluate.main(["--weights", str(weights), "--celeba-root", str(mini_celeba), "--split", "train",
                          "--classifier", str(weights / "classifier"), "--out", str(tmp_path / "detail"),
                          "--detail"]) == 0
    detailed = json.loads((tmp_path / "detail" / "eval.json").read_text())
    assert (report["detail"], detailed["detail"]) == (False, True)
    assert detailed["black2blond"]["identity"] == d["identity"]
    assert detailed["black2blond"]["model"]["face_psnr"] != d["model"]["face_psnr"]


def test_evaluate_scores_the_pages_path_and_the_hair_left(mini_celeba, tmp_path):
    weights = tmp_path / "weights"
    for source, target in (("black", "blond"), ("blond", "black")):
        Generator(ngf=4, n_blocks=1, image_size=32, attention=True, recolour=True, source_domain=source,
                  target_domain=target).save_pretrained(weights / f"{source}2{target}")
    AttributeClassifier(image_size=32, width=4).save_pretrained(weights / "classifier")
    # dark noise for the black-haired, light for the blond: colours one domain's photos have and the other's not
    folder = mini_celeba / "img_align_celeba" / "img_align_celeba"
    rng = np.random.default_rng(0)
    for image_id, light in (("000001.jpg", 0), ("000002.jpg", 0), ("000003.jpg", 1), ("000009.jpg", 1)):
        Image.fromarray((rng.integers(0, 100, (218, 178, 3)) + 155 * light).astype(np.uint8)).save(folder / image_id)
    # drawn hair masks: every black photo's is scored, also beyond --max-images; a photo this copy lacks is left out
    square = [[40, 40], [140, 40], [140, 140], [40, 140]]
    masks = tmp_path / "masks.json"
    masks.write_text(json.dumps({"image_size": [178, 218], "masks": [
        {"image": name, "domain": domain, "polygon": square}
        for name, domain in (("000001.jpg", "black"), ("000002.jpg", "black"), ("999999.jpg", "black"),
                             ("000003.jpg", "blond"))]}))
    out = tmp_path / "eval"
    assert evaluate.main(["--weights", str(weights), "--celeba-root", str(mini_celeba), "--split", "train",
                          "--classifier", str(weights / "classifier"), "--out", str(out), "--page",
                          "--max-images", "1", "--hair-masks", str(masks)]) == 0
    report = json.loads((out / "eval.json").read_text())
    drawn = report["black2blond"]["page"]["drawn_masks"]
    assert drawn["n"] == 2 and drawn["iou"] == 0.0 and drawn["outside"] == 0.0  # no face found: nothing changed
    # so all the black colour in the drawn hair is left, where the blond photo's drawn hair holds none of it
    assert drawn["hair_left"] == 1.0 and drawn["hair_left_real"] == 0.0 and drawn["se"]["hair_left"] == 0.0
    assert report["blond2black"]["page"]["drawn_masks"]["n"] == 1
    assert evaluate.main(["--weights", str(weights), "--celeba-root", str(mini_celeba), "--split", "train",
                          "--classifier", str(weights / "classifier"), "--out", str(out), "--page"]) == 0
    d = json.loads((out / "eval.json").read_text())["black2blond"]
    # a new recolouring generator is the identity: it leaves all the source hair colour, as the identity does
    for name in ("model", "identity"):
        assert d[name]["hair_left"] == 1.0 and d[name]["faces_over_third_left"] == 1.0, name
        assert d[name]["sheet_left"] == [1.0, 1.0], name
    assert d["colour_shift"]["hair_left"] < 1.0
    # the noise photos hold no face: the page leaves them as they were and says so
    page = d["page"]
    assert page["no_face"] == 1.0 and page["face_psnr"] == PSNR_CAP and page["hair_left"] == 1.0
    assert page["hair_left_photo"] == 1.0  # over the whole photo too
    assert d["target_photos"]["hair_left"] == 0.0  # the blond photos hold none of the black photos' colours


def test_snapshots_from_a_step_on_are_scored_once_and_one_is_chosen(mini_celeba, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    for seed, folder in enumerate(("snapshots/step0000002", "snapshots/step0000004", ".")):
        torch.manual_seed(seed)
        for source, target in (("black", "blond"), ("blond", "black")):
            Generator(ngf=4, n_blocks=1, image_size=32, source_domain=source, target_domain=target).save_pretrained(
                run / folder / f"{source}2{target}")
    AttributeClassifier(image_size=32, width=4).save_pretrained(tmp_path / "classifier")
    scored = []
    score = evaluate.evaluate_pair
    monkeypatch.setattr(evaluate, "evaluate_pair", lambda G_AB, *rest, **kw: scored.append(G_AB) or score(G_AB, *rest, **kw))
    out = tmp_path / "eval"
    flags = ["--weights", str(run), "--snapshots", "--celeba-root", str(mini_celeba), "--split", "train",
             "--classifier", str(tmp_path / "classifier"), "--out", str(out)]
    assert evaluate.main([*flags, "--from-step", "3"]) == 0
    selection = json.loads((out / "selection.json").read_text())
    assert list(selection["reports"]) == [str(run / "snapshots" / "step0000004"), str(run)]
    assert selection["from_step"] == 3 and len(scored) == 2
    assert selection["chosen"] == evaluate.select(selection["reports"], 26, 0.93)[0]  # the rule's own choice
    step4 = selection["reports"][str(run / "snapshots" / "step0000004")]
    # the run goes on: its next snapshot and its final generators are scored, step 4 is read back
    for source, target in (("black", "blond"), ("blond", "black")):
        Generator(ngf=4, n_blocks=1, image_size=32, source_domain=source, target_domain=target).save_pretrained(
            run / "snapshots" / "step0000006" / f"{source}2{target}")
    assert evaluate.main([*flags, "--from-step", "3"]) == 0
    selection = json.loads((out / "selection.json").read_text())
    assert len(scored) == 4 and selection["reports"][str(run / "snapshots" / "step0000004")] == step4
    assert "step0000004: " in capsys.readouterr().out.split("(scored before)")[0].splitlines()[-1]
    # other settings score everything again
    assert evaluate.main([*flags, "--from-step", "3", "--max-images", "1"]) == 0
    assert len(scored) == 7
    assert evaluate.main([*flags, "--from-step", "7"]) == 2
    assert "no snapshots/step*/ from step 7 on" in capsys.readouterr().err
    # a first pass over a long run: only every 4th step's snapshot (and the final generators)
    assert [f.name for f in evaluate.snapshot_folders(run, 0, every=4)] == ["step0000004", "run"]
    assert [f.name for f in evaluate.snapshot_folders(run, 0)] == ["step0000002", "step0000004", "step0000006", "run"]


def test_compare_passes_figures_within_one_standard_error_and_fails_worse_ones(tmp_path, capsys):
    import compare

    def evaluation(success, hair_left, face_psnr):
        figures = {"success_rate": success, "hair_left": hair_left, "face_psnr": face_psnr,
                   "se": {"success_rate": 0.02, "hair_left": 0.03, "face_psnr": 0.5}}
        return {"split": "val", "black2blond": {"n": 300, "model": figures, "page": dict(figures)}}
    old = evaluation(0.90, 0.50, 50.0)
    rows = compare.compare(evaluation(0.885, 0.52, 49.6), old)  # each a little worse, under one SE
    assert len(rows) == 6 and all(row[-1] for row in rows)
    assert all(row[-1] for row in compare.compare(evaluation(0.99, 0.10, 60.0), old))  # all better
    failed = {row[2] for row in compare.compare(evaluation(0.87, 0.40, 50.0), old) if not row[-1]}
    assert failed == {"success_rate"}  # 3 points down fails; 10 points less hair left is better
    assert {row[2] for row in compare.compare(evaluation(0.9, 0.54, 49.0), old) if not row[-1]} == {"hair_left",
                                                                                                    "face_psnr"}
    files = [tmp_path / "new.json", tmp_path / "old.json"]
    for path, e in zip(files, (evaluation(0.87, 0.5, 50.0), old)):
        path.write_text(json.dumps(e))
    assert compare.main([str(f) for f in files]) == 1
    out = capsys.readouterr().out
    assert "success_rate" in out and "2 worse by more than one; a pair as good as the old one would be, by chance, " \
        "about 1.4 times" in out  # 6 figures (success on both paths worse), each missed with P(Z < -1 / sqrt(2)) = 0.24 by an equal pair
    del old["black2blond"]["model"]["se"]
    files[1].write_text(json.dumps(old))
    assert compare.main([str(f) for f in files]) == 2
    assert "no standard errors (black2blond, model)" in capsys.readouterr().err
    old = evaluation(0.9, 0.5, 50.0)
    old["black2blond"]["n"] = 948
    files[1].write_text(json.dumps(old))
    assert compare.main([str(f) for f in files]) == 2
    assert "300 faces against 948" in capsys.readouterr().err


def test_evaluate_reports_missing_weights(mini_celeba, tmp_path, capsys):
    assert evaluate.main(["--weights", str(tmp_path), "--celeba-root", str(mini_celeba)]) == 2
    assert "no model folder" in capsys.readouterr().err


def test_shipped_classifier_is_accurate_on_real_val_images(celeba_root):
    import train_classifier
    model = AttributeClassifier.from_pretrained(REPO / "weights" / "classifier").eval()
    images, labels = train_classifier.load_split(celeba_root, "val", model.image_size, model.attributes,
                                                 max_images=300)
    accuracy = train_classifier.accuracy(model, images, labels)
    assert (accuracy > 0.93).all(), dict(zip(model.attributes, accuracy.tolist()))


def test_shipped_generators_change_the_hair_colour(celeba_root, tmp_path):
    """A regression guard on weights/: on 60 val faces per domain, well above the identity's ~1%."""
    out = tmp_path / "eval"
    assert evaluate.main(["--weights", str(REPO / "weights"), "--celeba-root", str(celeba_root),
                          "--max-images", "60", "--out", str(out)]) == 0
    report = json.loads((out / "eval.json").read_text())
    for direction in ("black2blond", "blond2black"):
        model, identity = report[direction]["model"], report[direction]["identity"]
        assert model["success_rate"] > 0.4 > identity["success_rate"], direction
        assert model["gender_kept"] > 0.8 and model["cycle_psnr"] > 17, direction


def test_chance_of_miss_is_how_often_an_equally_good_pair_measures_worse_by_one_standard_error():
    import compare

    torch.manual_seed(0)
    for se_old, se_new in ((1.0, 1.0), (1.0, 0.5), (0.3, 2.0)):
        old, new = torch.randn(200_000) * se_old, torch.randn(200_000) * se_new  # one true value, two noisy estimates
        observed = (new - old < -se_old).float().mean().item()
        assert abs(compare.chance_of_miss(se_old, se_new) - observed) < 0.005
    assert abs(compare.chance_of_miss(1.0, 1.0) - 0.2398) < 1e-4
    assert compare.chance_of_miss(0.0, 0.0) == 0.0  # a figure without noise (both 100%) never misses by chance


def test_strands_is_the_results_fine_detail_over_the_photos_where_it_changed():
    g = torch.Generator().manual_seed(0)
    photo = (torch.rand(2, 1, 40, 40, generator=g) * 0.4 - 0.6).expand(2, 3, 40, 40)  # dark, with texture
    lifted = photo + 0.8  # recoloured, the same strands: the detail is kept
    flat = torch.full_like(photo, 0.3)  # a painted patch: none of it
    doubled = photo * 2 + 0.9  # twice the contrast: twice the detail
    assert evaluate.strands(photo, lifted).tolist() == pytest.approx([1.0, 1.0], abs=1e-4)
    assert evaluate.strands(photo, flat).tolist() == pytest.approx([0.0, 0.0], abs=1e-4)
    assert evaluate.strands(photo, doubled).tolist() == pytest.approx([2.0, 2.0], abs=1e-3)
    assert evaluate.strands(photo, photo).isnan().all()  # nothing changed: no figure


def test_selection_reads_the_pages_figures_when_every_report_has_them():
    def report(model_success, page_success):
        figures = lambda p: {"success_rate": p, "face_psnr": 40.0, "gender_kept": 0.97}  # noqa: E731
        return {d: {"n": 300, "model": figures(model_success), "page": figures(page_success)}
                for d in ("black2blond", "blond2black")}
    reports = {"a": report(0.95, 0.70), "b": report(0.80, 0.90)}
    assert evaluate.select(reports, 26, 0.93) == ("b", True)  # the page's path decides
    for d in reports["b"].values():
        del d["page"]
    assert evaluate.select(reports, 26, 0.93) == ("a", True)  # without it for all, the crops do


def test_compare_counts_strands_closer_to_one_as_better():
    import compare

    def evaluation(strands):
        page = {"strands": strands, "se": {"strands": 0.02}}
        return {"black2blond": {"n": 300, "model": {"se": {}}, "page": page}}
    assert compare.compare(evaluation(0.96), evaluation(1.51))[0][-1]  # the lattice (1.51) -> nearly the photo's
    assert not compare.compare(evaluation(0.58), evaluation(1.05))[0][-1]  # a flat patch is worse
    assert compare.compare(evaluation(1.04), evaluation(0.95))[0][-1]  # as near one, above or below


def test_compare_reads_the_drawn_masks_figures_when_both_scored_the_same_drawn_faces():
    import compare

    def evaluation(iou, outside, n=24):
        drawn = {"n": n, "iou": iou, "outside": outside, "se": {"iou": 0.03, "outside": 0.01}}
        return {"black2blond": {"n": 300, "model": {"se": {}}, "page": {"se": {}, "drawn_masks": drawn}}}
    rows = compare.compare(evaluation(0.60, 0.05), evaluation(0.66, 0.08))
    assert [(r[1], r[2], r[-1]) for r in rows] == [("drawn", "iou", False), ("drawn", "outside", True)]
    assert rows[0][5] == pytest.approx(-0.06)  # new - old
    assert compare.compare(evaluation(0.60, 0.05, n=23), evaluation(0.66, 0.08)) == []  # other faces: not compared


def test_target_photos_success_by_sex_counts_each_photo_under_its_own_sex():
    class SeesBrightAsBlond:  # a stand-in classifier: the attribute where the image is bright
        def predict(self, x):
            return {"Blond_Hair": x.mean(dim=(1, 2, 3)) > 0}
    # 5 photos: the 2 men are bright (seen blond), of the 3 women one is
    images = torch.tensor([250, 10, 240, 20, 230], dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 3, 4, 4)
    male = [True, False, True, False, False]
    rate = evaluate.classifier_rate(SeesBrightAsBlond(), images, male, "Blond_Hair", batch_size=2)
    assert (rate["n"], rate["n_male"]) == (5, 2)
    assert (rate["success_rate"], rate["success_rate_male"], rate["success_rate_female"]) == (0.6, 1.0, 0.3333)


def test_the_hair_figures_are_the_pixel_counts_hand_computed():
    # four faces with (kept, had) pixels of the source hair colour: 20/100, 40/100 and 60/100 left, and one with
    # too few (50 < HAIR_MIN_PIXELS) to count as a face keeping over a third
    kept, had = torch.tensor([20, 40, 60, 50]), torch.tensor([100, 100, 100, 50])

    class Hair:
        def left(self, real, fake, source):
            return kept, had

    class Classifier:
        def predict(self, x):
            return {"Blond_Hair": torch.tensor([True, True, False, True]), "Male": torch.tensor([True, False] * 2)}
    images = torch.zeros(4, 3, 64, 64)
    batches = [(images, {"model": (images, torch.full((4,), 30.0))})]
    figures = evaluate.evaluate_direction(batches, [True, False] * 2, Classifier(), "Blond_Hair", Hair(), "A")["model"]
    assert figures["hair_left"] == pytest.approx(170 / 350, abs=1e-4)
    assert figures["faces_over_third_left"] == pytest.approx(2 / 3, abs=1e-4)  # 40 and 60 of the three counted
    assert figures["success_rate"] == 0.75 and figures["success_rate_male"] == 0.5
    assert figures["sheet_left"] == [0.2, 0.4, 0.6, 1.0]


RED_LAB = (53.24, 80.09, 67.20)  # sRGB (255, 0, 0) in CIELAB (D65), as colour references give it


def pixels(rgb, n=1, size=64):
    """n images of one sRGB colour, (n, 3, size, size) in [-1, 1]."""
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(n, 3, size, size) / 127.5 - 1


def test_srgb_to_lab_gives_the_reference_values():
    from cyclegan.evaluation import srgb_to_lab
    for rgb, lab in (((255, 255, 255), (100.0, 0.0, 0.0)), ((0, 0, 0), (0.0, 0.0, 0.0)), ((255, 0, 0), RED_LAB),
                     ((0, 255, 0), (87.73, -86.18, 83.18)), ((0, 0, 255), (32.30, 79.19, -107.86)),
                     ((128, 128, 128), (53.59, 0.0, 0.0))):
        assert srgb_to_lab(pixels(rgb, size=1)).flatten().tolist() == pytest.approx(lab, abs=0.01), rgb


def test_the_colour_of_recoloured_hair_by_hand():
    from cyclegan.evaluation import COLOUR_SAMPLE, colour_figures, recoloured_hair
    photo = pixels((100, 100, 100))
    result = photo.clone()
    result[..., :6, :] = pixels((255, 0, 0))[..., :6, :]  # the top rows, above the face box: recoloured red
    result[..., 35:45, 25:35] = pixels((0, 0, 255))[..., 35:45, 25:35]  # inside the face box: not hair
    result[..., 60:, :] = pixels((110, 110, 110))[..., 60:, :]  # 10 grey levels: under CHANGED
    hair, = recoloured_hair(photo, result)
    assert hair.shape == (6 * 64, 3)
    figures = colour_figures([hair])
    assert [figures[k] for k in ("L", "a", "b")] == pytest.approx(RED_LAB, abs=0.01)
    assert figures["chroma"] == pytest.approx(math.hypot(*RED_LAB[1:]), abs=0.01)
    assert (figures["pixels"], figures["images"]) == (384, 1)
    # a large photo gives at most COLOUR_SAMPLE pixels to the medians; an unchanged one none
    big, unchanged = recoloured_hair(pixels((100, 100, 100), n=2, size=256), pixels((255, 0, 0), n=2, size=256)
                                     .clone().index_copy_(0, torch.tensor([1]), pixels((100, 100, 100), size=256)))
    assert (len(big), len(unchanged)) == (COLOUR_SAMPLE, 0)
    # medians over the pooled pixels of every image: L* 10, 20, 30 -> 20; chroma sqrt(5), 5, sqrt(61) -> 5
    pooled = colour_figures([torch.tensor([[10.0, 1, 2], [20, 3, 4]]), torch.tensor([[30.0, 5, 6]])])
    assert pooled == {"L": 20.0, "a": 3.0, "b": 4.0, "chroma": 5.0, "pixels": 3, "images": 2}
    assert math.isnan(colour_figures([])["L"]) and colour_figures([unchanged])["pixels"] == 0


def test_the_colour_of_real_hair_is_that_of_the_domains_hair_pixels():
    from cyclegan.evaluation import HairColour, colour_figures
    black, red = (pixels(rgb, n=2, size=32) for rgb in ((0, 0, 0), (255, 0, 0)))
    to_uint8 = lambda x: ((x + 1) * 127.5).round().to(torch.uint8)  # noqa: E731
    hair = HairColour({"A": to_uint8(black), "B": to_uint8(red)})
    figures = colour_figures(hair.lab(red, "B"))
    assert [figures[k] for k in ("L", "a", "b")] == pytest.approx(RED_LAB, abs=0.01)
    outside_face_box = 32 * 32 - 12 * 13  # FACE_BOX of the 32 px square: columns 10-21, rows 13-25
    assert (figures["pixels"], figures["images"]) == (2 * outside_face_box, 2)
    assert colour_figures(hair.lab(black, "B"))["pixels"] == 0  # black is A's hair colour, not B's
