"""Data sources, preprocessing, determinism, and bad input."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan.data import (Domain, EpochSampler, UnpairedDataset, celeba_crop, celeba_domains, folder_domains,
                           list_images, load_image, to_float)
from conftest import write_images


def test_folder_domains_list_images_by_extension(image_folders, tmp_path):
    (image_folders[0] / "notes.txt").write_text("not an image")
    a, b = folder_domains(*image_folders)
    assert (a.name, len(a.paths), b.name, len(b.paths)) == ("trainA", 6, "trainB", 4)
    assert all(p.suffix in (".jpg", ".png") for p in a.paths)


def test_missing_or_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        list_images(tmp_path / "empty")
    with pytest.raises(ValueError, match="has no images"):
        Domain("a", [])


def test_celeba_selection_follows_attributes_and_partition(mini_celeba):
    a, b = celeba_domains(mini_celeba, "Black_Hair", "Blond_Hair", "train")
    assert (a.name, b.name) == ("black", "blond")
    assert [p.name for p in a.paths] == ["000001.jpg", "000002.jpg"]  # both/neither (4, 5) left out
    assert [p.name for p in b.paths] == ["000003.jpg", "000009.jpg"]
    assert a.male == [True, False] and b.male == [False, True]
    a, b = celeba_domains(mini_celeba, split="val")
    assert ([p.name for p in a.paths], [p.name for p in b.paths]) == (["000006.jpg"], ["000007.jpg"])


def test_celeba_bad_arguments(mini_celeba, tmp_path):
    with pytest.raises(ValueError, match="unknown CelebA attribute 'Red_Hair'"):
        celeba_domains(mini_celeba, "Red_Hair", "Blond_Hair")
    with pytest.raises(ValueError, match="split must be one of"):
        celeba_domains(mini_celeba, split="dev")
    with pytest.raises(ValueError, match="has no images"):
        celeba_domains(mini_celeba, split="test")  # the test partition has no black-haired image here
    with pytest.raises(FileNotFoundError, match="img_align_celeba"):
        celeba_domains(tmp_path)
    (mini_celeba / "list_eval_partition.csv").unlink()
    with pytest.raises(FileNotFoundError, match="list_eval_partition.csv"):
        celeba_domains(mini_celeba)


def test_real_celeba_counts_match_its_readme(celeba_root):
    a, b = celeba_domains(celeba_root, "Black_Hair", "Blond_Hair", "train")
    assert (len(a.paths), len(b.paths)) == (8895, 5337)
    a, b = celeba_domains(celeba_root, "Black_Hair", "Blond_Hair", "val")
    assert (len(a.paths), len(b.paths)) == (948, 661)
    assert sum(b.male) / len(b.male) < 0.15  # the gender bias the README warns about


def test_celeba_crop_keeps_the_central_square():
    arr = np.zeros((218, 178, 3), dtype=np.uint8)
    arr[:20] = 255  # top band: outside the central 178x178 square (rows 20..197)
    arr[20:198] = 100
    crop = np.asarray(celeba_crop(Image.fromarray(arr)))
    assert crop.shape == (178, 178, 3)
    assert (crop == 100).all()


def test_items_are_in_range_shaped_and_deterministic(mini_celeba):
    ds = UnpairedDataset(*celeba_domains(mini_celeba), image_size=32, preprocess="celeba", seed=3)
    item = ds[(0, 1)]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert item["A"].dtype == torch.float32 and -1 <= item["A"].min() and item["A"].max() <= 1
    again = UnpairedDataset(*celeba_domains(mini_celeba), image_size=32, preprocess="celeba", seed=3)[(0, 1)]
    assert torch.equal(item["A"], again["A"]) and torch.equal(item["B"], again["B"])


def test_b_is_drawn_independently_of_a(image_folders):
    a, b = folder_domains(*image_folders)
    ds = UnpairedDataset(a, b, image_size=32, preprocess="resize", train=True, seed=0)
    assert len(ds) == 6  # max(|A|, |B|)
    picks = {tuple(ds[(epoch, 0)]["B"][:, 0, 0].tolist()) for epoch in range(30)}
    assert len(picks) > 2  # the same A image meets different B images across epochs


def test_resize_crop_jitters_and_flips(image_folders):
    a, b = folder_domains(*image_folders)
    ds = UnpairedDataset(a, b, image_size=32, preprocess="resize_crop", train=True)
    views = {ds[(epoch, 0)]["A"].numpy().tobytes() for epoch in range(10)}
    assert len(views) > 1
    fixed = UnpairedDataset(a, b, image_size=32, preprocess="resize_crop", train=False)
    assert fixed[(0, 0)]["A"].shape == (3, 32, 32)
    assert torch.equal(fixed[(0, 0)]["A"], fixed[(5, 0)]["A"])  # evaluation views do not change


def test_unreadable_images_are_skipped_with_a_warning_naming_them(image_folders):
    a_dir, b_dir = image_folders
    (a_dir / "img000.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")  # corrupt
    truncated = a_dir / "img001.jpg"
    truncated.write_bytes(truncated.read_bytes()[:200])
    ds = UnpairedDataset(*folder_domains(a_dir, b_dir), image_size=32, preprocess="resize")
    with pytest.warns(UserWarning) as caught:
        item = ds[(0, 0)]  # img000 is corrupt, the next one, img001, truncated: img002 stands in
    messages = " ".join(str(w.message) for w in caught)
    assert "img000.png" in messages and "img001.jpg" in messages
    assert torch.equal(item["A"], ds[(0, 2)]["A"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # each bad file is reported once, then skipped quietly
        assert ds[(0, 1)]["A"].shape == (3, 32, 32)


def test_a_domain_of_only_unreadable_files_is_an_error(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"nope")
    write_images(tmp_path / "b", 2)
    ds = UnpairedDataset(*folder_domains(tmp_path / "a", tmp_path / "b"), image_size=32, preprocess="resize")
    with pytest.raises(ValueError, match="every image of this domain is unreadable"), pytest.warns(UserWarning):
        ds[(0, 0)]


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "I;16", "P"])
def test_load_image_gives_rgb_for_any_mode(tmp_path, mode):
    im = Image.new(mode, (10, 8))
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I;16") else "x.png")
    im.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (10, 8)


def test_load_image_applies_exif_orientation(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_epoch_sampler_permutes_per_epoch_and_resumes_mid_epoch():
    s = EpochSampler(10, seed=1)
    e0 = [i for _, i in s]
    s.set_epoch(1)
    e1 = [i for _, i in s]
    assert sorted(e0) == sorted(e1) == list(range(10)) and e0 != e1
    s.set_epoch(1, start=4)
    assert [i for _, i in s] == e1[4:] and len(s) == 6
    small = EpochSampler(10, seed=1, epoch_size=3)
    assert len(list(small)) == 3
    big = EpochSampler(4, seed=1, epoch_size=10)
    assert len(list(big)) == 10


def test_cached_items_equal_decoded_items_including_unreadable_fallback(image_folders):
    a_dir, b_dir = image_folders
    (a_dir / "img002.png").write_bytes(b"broken")
    for preprocess in ("resize_crop", "resize"):
        plain = UnpairedDataset(*folder_domains(a_dir, b_dir), image_size=32, preprocess=preprocess, seed=4)
        with pytest.warns(UserWarning, match="img002.png"):
            cached = UnpairedDataset(*folder_domains(a_dir, b_dir), image_size=32, preprocess=preprocess, seed=4,
                                     cache=True)
        assert cached.cache["A"][1].tolist() == [True, True, False, True, True, True]
        for key in [(0, i) for i in range(6)] + [(3, 2), (7, 5)]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x, y = plain[key], cached[key]
            assert torch.equal(x["A"], y["A"]) and torch.equal(x["B"], y["B"]), key
    assert cached.cache_bytes() == (6 + 4) * 3 * 32 * 32


def test_cache_modes():
    from cyclegan.data import should_cache
    assert should_cache("on", 10**15) and not should_cache("off", 1)
    assert should_cache("auto", 1) and not should_cache("auto", 10**15)
    with pytest.raises(ValueError, match="cache must be"):
        should_cache("yes", 1)


def test_balancing_draws_men_and_women_equally_in_each_domain(mini_celeba):
    a, b = celeba_domains(mini_celeba)
    a.paths, a.male = a.paths + [a.paths[1]] * 8, a.male + [False] * 8  # domain A: 1 man, 9 women
    ds = UnpairedDataset(a, b, image_size=32, preprocess="celeba", cache=True, balance_male=True)
    men_a = men_b = 0
    cached_a, cached_b = ds.cache["A"][0], ds.cache["B"][0]
    for i in range(400):
        item = ds[(0, i)]
        men_a += torch.equal(item["A"], to_float(cached_a[0])) or torch.equal(item["A"], to_float(cached_a[0].flip(-1)))
        men_b += torch.equal(item["B"], to_float(cached_b[1])) or torch.equal(item["B"], to_float(cached_b[1].flip(-1)))
    assert 160 < men_a < 240 and 160 < men_b < 240  # about half, though A has 10% men


def test_balancing_needs_the_male_attribute(image_folders):
    with pytest.raises(ValueError, match="needs the Male attribute"):
        UnpairedDataset(*folder_domains(*image_folders), image_size=32, balance_male=True)
