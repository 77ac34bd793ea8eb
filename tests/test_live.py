"""The live path (cyclegan.live) and the video path (cyclegan.video) on the licence-clean test clip
(train/clip.py: the astronaut panned and zoomed, a plain wall in the middle)."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import cyclegan.faces
import cyclegan.inference
import cyclegan.live
from conftest import REPO
from cyclegan.evaluation import flicker
from cyclegan.faces import translate_photo
from cyclegan.live import HOLD, SEARCH_EVERY, SEARCH_SIDE, LiveTranslator
from test_transform import grid_generator, set_coefficients

sys.path.insert(0, str(REPO / "train"))
import clip  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    return list(clip.frames(30, 320, 240))  # frames 14-17 are the wall


class Counted(torch.nn.Module):
    """A generator that counts its calls."""

    def __init__(self, G):
        super().__init__()
        self.G, self.calls = G, 0
        for name in ("recolour", "bins", "cell", "guided_radius", "image_size", "attention"):
            setattr(self, name, getattr(G, name))

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.G(*args, **kwargs)


def model(scale=0.1):
    G = grid_generator()
    set_coefficients(G, scale=scale)
    return Counted(G)


def test_the_clip_has_a_face_where_it_says_and_a_wall_between(frames):
    faces = [bool(cyclegan.faces.detect_faces(Image.fromarray(f), SEARCH_SIDE)) for f in frames]
    assert faces == [clip.has_face(i, 30) for i in range(30)] and faces.count(False) == 4


def test_frames_without_a_face_come_back_unchanged_and_cost_no_model_call(frames):
    G = model()
    live = LiveTranslator(G)
    wall = frames[15]
    for _ in range(5):
        assert live(wall) is wall
    assert G.calls == 0 and live.face is None


def test_a_still_frame_is_the_photo_paths_translation(frames, monkeypatch):
    # one path: with no smoothing the live translation of a frame is the page's, face found the same way
    real = cyclegan.faces.detect_faces
    monkeypatch.setattr(cyclegan.faces, "detect_faces", lambda photo, side=0: real(photo, SEARCH_SIDE))
    G = model()
    photo = Image.fromarray(frames[0])
    expected = translate_photo(photo, G, G, precision="fp32").composite
    out = LiveTranslator(G, smoothing=0.0)(frames[0])
    change = np.abs(out.astype(int) - frames[0]).max(-1)
    assert np.array_equal(out, np.asarray(expected)) and (change > 10).mean() > 0.05


def test_the_face_is_followed_through_the_clip_and_dropped_at_the_wall(frames):
    G = model()
    live = LiveTranslator(G, model_every=1)
    changed, followed = [], []
    for i, frame in enumerate(frames):
        out = live(frame)
        changed.append(not np.array_equal(out, frame))
        if live.face is not None and clip.has_face(i, 30):
            detected = cyclegan.faces.detect_faces(Image.fromarray(frame), SEARCH_SIDE)[0]
            cx, cy = detected[0] + detected[2] / 2, detected[1] + detected[3] / 2
            followed.append(abs(live.face[0] - cx) + abs(live.face[1] - cy) < 0.25 * detected[2])
    # every face frame is translated except those just after the wall, until the next search finds her
    assert changed[:14] == [True] * 14 and changed[18 + SEARCH_EVERY:] == [True] * (12 - SEARCH_EVERY)
    # the wall: held for HOLD - 1 frames (a missed detection on a real face), then the frames themselves
    assert changed[14 + HOLD - 1:18] == [False] * (4 - HOLD + 1)
    assert all(followed) and len(followed) >= 24


def test_a_face_turned_to_one_side_is_followed_on_every_frame(celeba_root):
    """A still profile (a val photo the frontal cascade misses, at 2x): found by the search and then followed, so
    every frame is translated, none dropped and searched for again."""
    photo = Image.open(celeba_root / "img_align_celeba" / "img_align_celeba" / "167957.jpg").convert("RGB")
    frame = np.asarray(photo.resize((356, 436), Image.BICUBIC))
    live = LiveTranslator(model(), model_every=1)
    changed = [not np.array_equal(live(frame), frame) for _ in range(8)]
    assert changed == [True] * 8 and live.misses == 0


def test_the_face_box_is_averaged_until_the_face_jumps_further_than_its_width():
    live = LiveTranslator(model())
    assert live.track((100, 100, 50, 50)) == (100, 100, 50, 50)  # centre (125, 125)
    live.change = ["the change so far"]
    # 30 px to the right, under its width: the running average (weight 0.5 on the past), the change kept
    assert live.track((130, 100, 50, 50)) == (115, 100, 50, 50) and live.change == ["the change so far"]
    # 85 px from the average, over its width: a new face, taken as it is, its change started afresh
    assert live.track((200, 100, 50, 50)) == (200, 100, 50, 50) and live.change is None


def test_the_model_runs_on_every_model_every_th_frame_and_its_change_is_averaged(frames, monkeypatch):
    said = []  # the fields the model gave, in order

    def recording(*args, **kwargs):
        out = cyclegan.inference.translate(*args, **kwargs)
        said.append(out[2][0].cpu())
        return out

    monkeypatch.setattr(cyclegan.live, "translate", recording)
    G = model()
    live = LiveTranslator(G, smoothing=0.5, model_every=2)
    used = []
    for frame in frames[:6]:
        live(frame)
        used.append(live.change[0].clone())
    assert G.calls == 3 and len(said) == 3  # frames 0, 2, 4
    expected = said[0]
    for k, field in enumerate(said[1:], 1):  # the window moved a little: the past is scaled to the new field
        past = torch.nn.functional.interpolate(expected[None], size=field.shape[-2:], mode="bilinear")[0]
        expected = 0.5 * past + 0.5 * field
        assert torch.allclose(used[2 * k], expected, atol=1e-6)
        assert torch.equal(used[2 * k + 1], used[2 * k])  # the frame between reuses it
    assert not torch.allclose(used[5], said[2], atol=1e-3)  # the average is not the last field alone


def test_bad_frames_and_settings_are_refused():
    G = model()
    with pytest.raises(ValueError, match="uint8 RGB"):
        LiveTranslator(G)(np.zeros((240, 320, 3), np.float32))
    with pytest.raises(ValueError, match="smoothing"):
        LiveTranslator(G, smoothing=1.0)
    with pytest.raises(ValueError, match="model_every"):
        LiveTranslator(G, model_every=0)


def test_flicker_is_one_for_a_steady_tint_and_large_for_a_blinking_one():
    rng = np.random.default_rng(0)
    inputs = [np.clip(100 + rng.normal(0, 3, (20, 20, 3)), 0, 255).astype(np.uint8) for _ in range(6)]
    steady = [x.copy() for x in inputs]
    for y in steady:
        y[:10] += 40  # the same change on every frame: moves only as the input does
    assert flicker(inputs, steady) == pytest.approx(1.0)
    blinking = [x.copy() for x in inputs]
    for i, y in enumerate(blinking):
        y[:10] += 40 if i % 2 else 20
    # |out_t - out_t-1| = |in_t - in_t-1 +- 20| on the 200 tinted pixels: about 20 / (the noise's 3.4)
    assert 4 < flicker(inputs, blinking) < 8
    assert np.isnan(flicker(inputs, inputs))


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    clip.write_mp4(path, frames, fps=15)  # 2 s with a tone
    return path


def decoded(path):
    import av
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_video_comes_back_translated_with_its_frames_rate_size_and_audio(clip_mp4, tmp_path):
    from cyclegan.video import probe, translate_video
    G = model()
    seen = []
    info = translate_video(clip_mp4, tmp_path / "out.mp4", G, progress=lambda done, total: seen.append((done, total)))
    source = probe(clip_mp4)
    assert (info.width, info.height, info.fps, info.frames, info.audio) == (320, 240, 15.0, 30, "aac")
    assert info.seconds == pytest.approx(source.seconds, abs=0.07) and source.seconds == pytest.approx(2.0, abs=0.07)
    assert seen[-1] == (30, 30) and len(seen) == 30
    before, after = decoded(clip_mp4), decoded(tmp_path / "out.mp4")
    change = [np.abs(a.astype(int) - b).mean() for a, b in zip(after, before)]
    # the wall comes back as it was (after HOLD - 1 frame held; encoded once more: within H.264's noise of
    # 1.5 grey levels on it), her hair changed (by the random model: 9-16 grey levels on average)
    assert max(change[14 + HOLD - 1:18]) < 2.0 and min(change[:14] + change[18:]) > 5.0
    assert not (tmp_path / "out.mp4.part").exists()


def test_a_corrupt_or_too_long_video_is_refused_with_a_message_and_nothing_written(clip_mp4, tmp_path):
    from cyclegan.video import translate_video
    G = model()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(ValueError, match="broken.mp4 is not a video FFmpeg can read"):
        translate_video(broken, tmp_path / "out.mp4", G)
    with pytest.raises(ValueError, match=r"clip.mp4 is 2.0 s long; the limit is 1 s"):
        translate_video(clip_mp4, tmp_path / "out.mp4", G, max_seconds=1)
    with pytest.raises(ValueError, match="320x240; the limit is 0.1 megapixels"):
        translate_video(clip_mp4, tmp_path / "out.mp4", G, max_pixels=50_000)
    assert G.calls == 0 and not list(tmp_path.glob("out.mp4*"))


def test_a_silent_webm_comes_back_as_a_silent_mp4(frames, tmp_path):
    import av
    from cyclegan.video import translate_video
    source = tmp_path / "silent.webm"
    with av.open(str(source), "w") as out:  # VP9, no audio
        stream = out.add_stream("libvpx-vp9", rate=12)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for frame in frames[:12]:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    info = translate_video(source, tmp_path / "out.mp4", model())
    assert (info.frames, info.fps, info.audio, info.width, info.height) == (12, 12.0, "", 320, 240)
    assert info.seconds == pytest.approx(1.0, abs=0.1)


def test_a_clip_whose_sound_mp4_cannot_hold_comes_back_with_it_as_aac(frames, tmp_path):
    import av
    from fractions import Fraction
    from cyclegan.video import COPIED_AUDIO, translate_video
    source, rate = tmp_path / "pcm.mov", 22050
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 0.3 * 32767).astype(np.int16)  # 1 s at 0.3
    with av.open(str(source), "w") as out:  # 12 frames at 12 fps and 16-bit PCM, which MP4 does not hold
        video = out.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        sound = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for frame in frames[:12]:
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(video.encode())
        for start in range(0, rate, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="s16", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
            out.mux(sound.encode(chunk))
        out.mux(sound.encode())
    assert "pcm_s16le" not in COPIED_AUDIO
    info = translate_video(source, tmp_path / "out.mp4", model())
    assert (info.frames, info.audio) == (12, "aac")
    with av.open(str(tmp_path / "out.mp4")) as clip_out:
        samples = np.concatenate([f.to_ndarray()[0] for f in clip_out.decode(audio=0)], axis=-1)  # planar: a channel
    # the whole second of the tone (AAC's priming and padding add a little), as loud as it was: RMS 0.3 / sqrt 2,
    # less the 3 dB of the mono sound spread over the two channels of the AAC stream
    assert rate * 0.95 <= len(samples) <= rate * 1.15
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) == pytest.approx(0.3 / 2, rel=0.1)
