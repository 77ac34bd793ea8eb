"""Real photos: face detection, the CelebA-like crop, paste-back (cyclegan/faces.py)."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, Painter, pieces
from cyclegan.faces import FACE_CENTRE_Y, FACE_WIDTH, MASK_ON, NO_FACE, centre_box, detect_faces, face_box, \
    face_cascade, feather_mask, paste_back, translate_photo
from cyclegan.inference import DETAIL_SIGMA, MASK_OFF, keep_detail
from cyclegan.networks import Generator

ASTRONAUT = REPO / "examples" / "astronaut.jpg"
HOPPER = REPO / "examples" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    return tuple(Generator(ngf=4, n_blocks=1, image_size=32).eval() for _ in range(2))


def test_one_face_in_each_example_and_a_celeba_like_box_around_it():
    for path in (ASTRONAUT, HOPPER):
        photo = Image.open(path).convert("RGB")
        faces = detect_faces(photo)
        assert len(faces) == 1, path
        x, y, w, h = faces[0]
        left, top, right, bottom = face_box(faces[0], photo.size)
        assert right - left == bottom - top == min(round(w / FACE_WIDTH), *photo.size)
        assert left <= x and x + w <= right and top <= y and y + h <= bottom  # the whole face is in the crop
        assert 0 <= left and right <= photo.width and 0 <= top and bottom <= photo.height
    # the astronaut's crop is not clamped: the face sits where CelebA has it
    photo = Image.open(ASTRONAUT).convert("RGB")
    (x, y, w, h), = detect_faces(photo)
    left, top, right, _ = face_box((x, y, w, h), photo.size)
    assert (y + h / 2 - top) / (right - left) == pytest.approx(FACE_CENTRE_Y, abs=0.01)


def test_a_face_turned_to_one_side_is_found_by_the_profile_cascade_facing_either_way(celeba_root, pair):
    """Two val photos of faces in profile that the frontal cascade misses (one turned each way: the profile cascade
    finds one in the photo, the other in its mirror): each is found once, where CelebA's alignment puts the face,
    and its mirror image is found at the mirrored place; the photo is then translated, not refused."""
    folder = celeba_root / "img_align_celeba" / "img_align_celeba"
    for name in ("167957.jpg", "165192.jpg"):
        photo = Image.open(folder / name).convert("RGB")
        grey = np.asarray(photo.convert("L"))
        assert len(face_cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))) == 0
        (x, y, w, h), = detect_faces(photo)
        # CelebA's aligned 178x218: a frontal box of about 100 px centred near (89, 124)
        assert abs(x + w / 2 - 89) < 25 and abs(y + h / 2 - 124) < 25 and 70 < w == h < 140, (name, x, y, w)
        (mx, my, mw, mh), = detect_faces(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        # the cascade scans the mirror on its own grid (a few px apart); a shift taken the wrong way would be 30 px
        assert abs(mx - (photo.width - x - w)) <= 0.1 * w and abs(my - y) <= 0.1 * w and abs(mw - w) <= 0.1 * w, name
        result = translate_photo(photo, *pair)
        assert result.translated and result.message != NO_FACE


def test_the_largest_of_several_faces_is_used_and_the_message_says_so(pair):
    face = Image.open(ASTRONAUT).convert("RGB")
    photo = Image.new("RGB", (1300, 600), (200, 200, 200))
    photo.paste(face.resize((420, 420)), (0, 90))
    photo.paste(face, (760, 44))
    faces = detect_faces(photo)
    assert len(faces) == 2 and faces[0][0] > 760 > faces[1][0]
    result = translate_photo(photo, *pair)
    assert result.message == "2 faces found; translated the largest"
    assert result.box[0] > 700


def test_no_face_leaves_the_photo_as_it_was_and_says_how_to_translate_the_centre(pair):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8))
    result = translate_photo(photo, *pair)
    assert result.message == NO_FACE == "no face found; turn off face cropping to translate the centre anyway"
    assert np.array_equal(np.asarray(result.composite), np.asarray(photo)) and result.composite is not photo
    assert not result.translated and result.translation is None and result.fraction_changed == 0.0
    # with cropping off, the central square is translated
    result = translate_photo(photo, *pair, crop_face=False)
    assert result.translated and result.box == centre_box(photo.size) == (35, 0, 125, 90)
    assert result.message == "face cropping off: translated the central square of the photo"
    assert translate_photo(Image.open(ASTRONAUT).convert("RGB"), *pair, crop_face=False).box == (0, 0, 512, 512)


@pytest.mark.parametrize("size", [(1, 1), (31, 200), (200, 31)])
def test_photos_smaller_than_the_model_are_refused_with_the_minimum(pair, size):
    with pytest.raises(ValueError, match=rf"the photo is {size[0]}x{size[1]} pixels, too small .* at least 32 pixels"):
        translate_photo(Image.new("RGB", size), *pair)
    assert translate_photo(Image.new("RGB", (32, 40)), *pair, crop_face=False).composite.size == (32, 40)


def test_outputs_have_the_models_size_and_the_photo_outside_the_box_is_untouched(pair):
    photo = Image.open(HOPPER).convert("RGB")
    result = translate_photo(photo, *pair)
    assert result.model_input.size == result.translation.size == result.reconstruction.size == (32, 32)
    assert result.composite.size == photo.size and result.composite.mode == "RGB"
    before, after = np.asarray(photo).astype(int), np.asarray(result.composite).astype(int)
    left, top, right, bottom = result.box
    outside = np.ones(before.shape[:2], bool)
    outside[top:bottom, left:right] = False
    assert np.array_equal(before[outside], after[outside])
    # inside, the photo changed by what the model changed: the mean change over the box's opaque
    # centre equals the mean of translation - model input over the same part of the crop
    m = (right - left) // 4
    change = (after - before)[top + m:bottom - m, left + m:right - m].mean(axis=(0, 1))
    q = 32 // 4
    model_change = (np.asarray(result.translation, dtype=float) - np.asarray(result.model_input, dtype=float))[
        q:-q, q:-q].mean(axis=(0, 1))
    assert np.abs(change - model_change).max() < 2.0 and np.abs(model_change).max() > 3


@pytest.mark.parametrize("drop_islands", [True, False])
def test_the_photo_keeps_its_pixels_on_the_masks_islands_by_default(drop_islands):
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))  # the box is the whole photo
    G = Painter(pieces())
    r = translate_photo(photo, G, G, crop_face=False, precision="fp32", drop_islands=drop_islands)
    change = np.abs(np.asarray(r.composite, dtype=int) - np.asarray(photo, dtype=int)).max(-1)
    speck = change[20:22, 25:27]  # the island of pieces(): away from the 10x10 block, under 1% of the crop
    assert (speck.max() == 0) if drop_islands else (speck.min() > 10)
    assert (np.asarray(r.mask)[20:22, 25:27].max() == 0) == drop_islands
    assert change[4:10, 4:10].min() > 10  # the block is painted either way


def test_feather_mask_is_opaque_inside_and_fades_at_the_edges():
    mask = np.asarray(feather_mask(100))
    assert mask[50, 50] == 255 and mask[12:88, 12:88].min() == 255
    assert 0 < mask[0, 50] < 40 and mask[0, 0] <= mask[0, 50] < mask[6, 50] < mask[12, 50]
    assert np.array_equal(mask, mask.T) and np.array_equal(mask, mask[::-1, ::-1])


def test_paste_back_on_tiny_photos():
    out = paste_back(Image.new("RGB", (10, 10)), Image.new("RGB", (4, 4), (255, 255, 255)), (2, 2, 6, 6))
    assert np.asarray(out)[:2].max() == 0 and np.asarray(out)[4, 4].min() == 255
    # with the model's input: the change (+50) lands on the photo's own pixels (100 -> 150), clipped at 255
    photo = Image.new("RGB", (10, 10), (100, 100, 240))
    out = paste_back(photo, Image.new("RGB", (4, 4), (60, 60, 60)), (2, 2, 6, 6),
                     Image.new("RGB", (4, 4), (10, 10, 10)))
    assert tuple(np.asarray(out)[4, 4]) == (150, 150, 255) and tuple(np.asarray(out)[0, 0]) == (100, 100, 240)


def reference_paste_back(photo, crop, box, model_input, mask, detail):
    """The composite as it was defined before paste_back was made fast: every step at the box's full
    size (the change scaled up by PIL's bicubic, keep_detail's blurs at full size, the mask by PIL)."""
    side = box[2] - box[0]
    original = np.asarray(photo.crop(box), np.float32)
    change = np.asarray(crop, np.float32) - np.asarray(model_input, np.float32)
    change = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((side, side), Image.BICUBIC))
                       for c in change.transpose(2, 0, 1)], axis=-1)
    if detail:
        def as_float(a):
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None] / 127.5 - 1
        changed = as_float(np.clip(original + change, 0, 255))
        changed = keep_detail(as_float(original), changed, torch.ones_like(changed[:, :1]), DETAIL_SIGMA * side)
        change = (changed[0].permute(1, 2, 0).numpy() + 1) * 127.5 - original
    up = np.asarray(mask.resize((side, side), Image.BILINEAR), np.float32) / 255
    weight = np.clip((up - MASK_OFF) / (MASK_ON - MASK_OFF), 0, 1) * np.asarray(feather_mask(side), np.float32) / 255
    out = photo.copy()
    out.paste(Image.fromarray(np.clip(original + change * weight[..., None], 0, 255).round().astype(np.uint8)), box[:2])
    return out


@pytest.mark.parametrize("side", [300, 777])  # the smooth fields at full size, and at a third of it
@pytest.mark.parametrize("detail", [True, False])
def test_fast_paste_back_is_the_full_size_computation_within_two_grey_levels(side, detail):
    rng = np.random.default_rng(side)
    h, w = side + 60, side + 90
    yy, xx = np.mgrid[:h, :w]
    # a photo with a smooth shading, fine strands of high contrast and saturated highlights
    photo = 90 + 60 * np.sin(xx / 40.0)[..., None] + 70 * (np.sin(xx * 1.7 + yy * 0.3) > 0.6)[..., None]
    photo = np.clip(photo + rng.normal(0, 12, (h, w, 3)) + [0, 10, -20], 0, 255)
    photo[100:140, 50:400] = 255
    photo = Image.fromarray(photo.astype(np.uint8))
    box = (50, 20, 50 + side, 20 + side)
    model_input = photo.crop(box).resize((128, 128), Image.LANCZOS)
    # the model's change: a bright lattice over a blob, dark elsewhere; the mask a soft blob and a speck
    y, x = np.mgrid[:128, :128]
    blob = np.clip(1.3 - np.hypot(y - 50, x - 60) / 40, 0, 1)
    change = np.where(blob[..., None] > 0, 110 + 40 * np.sin(x / 2.0)[..., None], -60) * [1, 0.9, 0.4]
    crop = Image.fromarray(np.clip(np.asarray(model_input, float) + change, 0, 255).astype(np.uint8))
    mask = blob.copy()
    mask[100:104, 20:24] = 0.6
    mask = Image.fromarray((mask * 255).round().astype(np.uint8))
    fast = np.asarray(paste_back(photo, crop, box, model_input, mask, detail), int)
    full = np.asarray(reference_paste_back(photo, crop, box, model_input, mask, detail), int)
    assert np.abs(fast - full).max() <= 2
    assert np.abs(fast - np.asarray(photo, int)).max() > 60  # the change is there to compare


@pytest.mark.parametrize("kind", ["attention", "recolour"])
def test_the_reconstruction_is_the_reverse_generator_on_the_translation(kind):
    from cyclegan.inference import image_to_tensor, tensor_to_image, translate
    from test_recolour import set_last_layer
    options = dict(attention=True, recolour=kind == "recolour", upsample="resize_conv")
    G, G_back = (Generator(ngf=4, n_blocks=1, image_size=32, **options).eval() for _ in range(2))
    for seed, net in enumerate((G, G_back)):
        torch.manual_seed(seed)
        for p in net.parameters():  # two different pairs of random weights, far from the identity
            p.data.normal_(0, 0.3)
        if kind == "recolour":
            set_last_layer(net, seed=seed + 5)
    r = translate_photo(Image.open(ASTRONAUT).convert("RGB"), G, G_back)
    translation = image_to_tensor(r.translation)
    expected, forward = (np.asarray(tensor_to_image(translate(net, translation, "fp32", drop_islands=True)), int)
                         for net in (G_back, G))  # as translate_photo's defaults run them
    got = np.asarray(r.reconstruction, int)
    # the page's reconstruction panel: G_back on the translation, within what rounding the translation to 8 bits
    # moves these random networks' outputs, far from G on it or the translation itself (measured: 15-77 levels)
    assert np.abs(got - expected).mean() < 2  # measured: 1.4 (attention), 0.0 (recolour)
    assert np.abs(got - forward).mean() > 8 and np.abs(got - np.asarray(r.translation, int)).mean() > 8
