"""Issue [17] on the photo path: every face of a group photo recoloured, windows that overlap combined without
a seam, and the Auto direction read from each face's hair (cyclegan/faces.py)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclegan.evaluation import AttributeClassifier
from cyclegan.faces import auto_pick, detect_faces, recolour_photo, translate_photo
from cyclegan.hub import load_pair

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def pair():
    return load_pair(str(REPO / "weights" / "black2blond"))  # (G_AB, G_BA)


@pytest.fixture(scope="module")
def classifier():
    return AttributeClassifier.from_pretrained(REPO / "weights" / "classifier").eval()


def group_photo(name="astronaut.jpg", second=(300, 230), side=330, size=(900, 560)) -> Image.Image:
    """The (licence-clean) example pasted twice, the second copy smaller: two faces at two scales."""
    face = Image.open(EXAMPLES / name).convert("RGB")
    photo = Image.new("RGB", size, (128, 128, 128))
    photo.paste(face, (0, 0))
    photo.paste(face.resize((side, side), Image.LANCZOS), second)
    return photo


def changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.abs(np.asarray(a, int) - np.asarray(b, int)).max(-1) > 12


def only(face: int, G, G_back):
    """A pick that recolours only the face-th face (in translate_photo's order, largest first)."""
    seen = []

    def pick(photo, box):
        seen.append(box)
        return (G, G_back, None) if len(seen) - 1 == face else (None, None, None)
    return pick


def test_every_face_of_a_group_photo_is_recoloured_each_at_its_own_scale(pair):
    G_AB, G_BA = pair
    photo = group_photo(second=(540, 200))
    faces = detect_faces(photo)
    assert len(faces) == 2 and faces[0][2] > 1.3 * faces[1][2]  # two faces, two sizes
    r = translate_photo(photo, G_BA, G_AB)  # the astronaut is blond: blond -> black has hair to change
    assert r.message == "2 faces found; recoloured all 2"
    moved = changed(photo, r.composite)
    for face in faces:  # each face's hair, above its face box, was recoloured
        x, y, w, h = face
        above = moved[max(0, y - h // 2):y, x:x + w]
        assert above.mean() > 0.3, face
    one = translate_photo(photo, G_BA, G_AB, max_faces=1)
    assert one.message == "2 faces found; recoloured the largest"  # max_faces=1
    assert changed(photo, one.composite).sum() < 0.8 * moved.sum()  # the second face left as it was


def test_overlapping_windows_take_each_pixel_from_the_face_that_claims_it_most():
    """Two faces' windows that overlap, with masks on everywhere (a weaker one and a stronger one): in the overlap
    every pixel is the stronger face's own result, nowhere recoloured twice or blended into a seam."""
    import torch
    from test_transform import grid_generator, set_coefficients

    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    boxes, results, fields = [(0, 0, 80, 80), (40, 16, 120, 96)], [], []
    for seed, logit in ((1, 0.5), (2, 3.0)):  # masks of about 0.62 and 0.95
        G = grid_generator()
        set_coefficients(G, scale=0.2, mask_logit=logit, seed=seed)
        fields.append(G(torch.zeros(1, 3, 32, 32) + 0.1, return_field=True)[2][0])
    for box, field in zip(boxes, fields):
        results.append(np.asarray(recolour_photo(photo, box, field, None, 3, guided=True), int))
    canvas, claims = torch.from_numpy(np.array(photo)), torch.zeros(96, 128)
    for box, field in zip(boxes, fields):
        recolour_photo(photo, box, field, None, 3, True, None, canvas, claims)
    both, original = canvas.numpy().astype(int), np.asarray(photo, int)
    assert ((both == results[0]).all(-1) | (both == results[1]).all(-1)).all()  # each pixel one face's own
    centre = (slice(30, 66), slice(52, 68))  # inside both windows, away from their feathered edges
    assert (results[0][centre] != original[centre]).any() and (results[1][centre] != results[0][centre]).any()
    assert np.array_equal(both[centre], results[1][centre])  # the stronger mask's change


def test_auto_reads_each_faces_hair_and_picks_the_direction(pair, classifier):
    G_AB, G_BA = pair
    blond = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")
    black = Image.open(EXAMPLES / "astronaut_dark.jpg").convert("RGB")
    r = translate_photo(blond, G_AB, G_BA, pick=auto_pick(pair, classifier))
    assert "hair reads blond (1.00): made black" in r.message
    assert np.array_equal(np.asarray(r.composite), np.asarray(translate_photo(blond, G_BA, G_AB).composite))
    r = translate_photo(black, G_AB, G_BA, pick=auto_pick(pair, classifier))
    assert "hair reads black (0.99): made blond" in r.message
    assert np.array_equal(np.asarray(r.composite), np.asarray(translate_photo(black, G_AB, G_BA).composite))


def test_auto_leaves_a_face_it_cannot_call_alone_and_says_so(pair, classifier):
    G_AB, G_BA = pair
    grey = Image.open(EXAMPLES / "grace_hopper.jpg").convert("RGB")  # grey-dark hair: black 0.56, blond 0.12
    r = translate_photo(grey, G_AB, G_BA, pick=auto_pick(pair, classifier))
    assert not r.translated and np.array_equal(np.asarray(r.composite), np.asarray(grey))
    assert "hair reads neither black (0.56) nor blond (0.12) at least 80% surely: left as it was" in r.message


def test_auto_in_the_live_view_reads_each_followed_face_once(pair, classifier):
    import sys
    sys.path.insert(0, str(REPO / "train"))
    import clip
    from cyclegan.live import LiveTranslator

    G_AB, G_BA = pair
    frames = list(clip.frames(12))
    reads = []

    def counting(photo, box):
        reads.append(box)
        return auto_pick(pair, classifier)(photo, box)
    auto, blond_to_black = LiveTranslator(G_AB, pick=counting), LiveTranslator(G_BA)
    outs = [(auto(f), blond_to_black(f)) for f in frames]
    assert auto.chosen[0] is G_BA and "hair reads blond" in auto.chosen[2]  # the astronaut's hair is blond
    # read when a face starts being followed (and again when the tracker starts afresh after a jump), not each frame
    assert 1 <= len(reads) <= 2
    assert all(np.array_equal(a, b) for a, b in outs)  # then exactly the blond -> black stream
    assert any((a != f).any() for (a, _), f in zip(outs, frames))


def test_auto_in_the_live_view_leaves_a_face_it_cannot_call():
    from cyclegan.live import LiveTranslator

    frame = np.asarray(Image.open(EXAMPLES / "astronaut.jpg").convert("RGB"))
    reads = []
    live = LiveTranslator(load_pair(str(REPO / "weights" / "black2blond"))[0],
                          pick=lambda photo, box: reads.append(box) or (None, None, "hair reads neither"))
    assert all(np.array_equal(live(frame), frame) for _ in range(4))
    assert len(reads) == 1 and live.face is not None  # the face was found and followed, and read once
