"""Make a licence-clean test clip for the live view and the video path: the example astronaut
(examples/astronaut.jpg, NASA, public domain) panned and zoomed like a hand-held webcam, with a stretch
of frames without her (the camera turned to a plain wall) in the middle.

    python train/clip.py --out clip.y4m              # for Chromium's fake camera (--use-file-for-fake-video-capture)
    python train/clip.py --out clip.mp4 --seconds 4  # H.264 with a 440 Hz AAC tone, for the video path

The frames are (height, width, 3) uint8 RGB; `frames()` gives them to tests and train/bench.py, with
`has_face` saying which show her.
"""

import argparse
import math
from fractions import Fraction
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "examples" / "astronaut.jpg"
WIDTH, HEIGHT, FPS = 640, 480, 15
WALL = (0.45, 0.6)  # the share of the clip, from .. to, where the camera shows the wall


def has_face(i: int, n: int, away: tuple = WALL) -> bool:
    """Whether frame i of n shows the astronaut (the camera shows the wall from away[0] to away[1] of the clip)."""
    return not away[0] * n <= i < away[1] * n


def wall(width: int, height: int) -> np.ndarray:
    """A plain wall: a soft grey-beige gradient with a little sensor noise (no face for the cascade)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 150 + 30 * (x / width) - 20 * (y / height)
    noise = np.random.default_rng(0).normal(0, 2.0, (height, width, 1))
    colour = np.array([1.0, 0.96, 0.88], np.float32)
    return np.clip(base[..., None] * colour + noise, 0, 255).astype(np.uint8)


def frames(n: int = 90, width: int = WIDTH, height: int = HEIGHT, away: tuple = WALL):
    """n frames of the clip: a 4:3 view of the photo that zooms in and out by about 15% and drifts
    sideways and up and down by a tenth of the frame, as a hand-held camera does; the wall between."""
    photo = Image.open(ASTRONAUT).convert("RGB")
    side, plain = photo.width, wall(width, height)
    for i in range(n):
        if not has_face(i, n, away):
            yield plain
            continue
        t = i / max(1, n - 1)
        view_w = side * (0.8 - 0.12 * math.sin(2 * math.pi * t))  # zoom
        view_h = view_w * height / width
        cx = side / 2 + 0.06 * side * math.sin(2 * math.pi * 1.5 * t)  # pan
        cy = view_h / 2 + 0.04 * side * (1 - math.cos(2 * math.pi * t))
        left = min(max(cx - view_w / 2, 0), side - view_w)
        top = min(max(cy - view_h / 2, 0), side - view_h)
        view = photo.resize((width, height), Image.BICUBIC, box=(left, top, left + view_w, top + view_h))
        yield np.asarray(view)


def write_y4m(path: Path, clip, fps: int = FPS) -> int:
    """The frames as a YUV4MPEG2 4:2:0 file in video range (what Chromium's fake camera reads); returns the count."""
    count = 0
    with open(path, "wb") as f:
        for frame in clip:
            if count == 0:
                f.write(f"YUV4MPEG2 W{frame.shape[1]} H{frame.shape[0]} F{fps}:1 Ip A1:1 C420mpeg2\n".encode())
            y, u, v = Image.fromarray(frame).convert("YCbCr").split()  # full range (JFIF)
            half = (frame.shape[1] // 2, frame.shape[0] // 2)
            # Chromium reads a y4m's samples as video range (Y 16-235, Cb Cr 16-240), as in BT.601 video
            y = y.point(lambda t: round(16 + t * 219 / 255))
            u, v = (c.resize(half, Image.BILINEAR).point(lambda t: round(128 + (t - 128) * 224 / 255)) for c in (u, v))
            f.write(b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes())
            count += 1
    return count


def write_mp4(path: Path, clip, fps: int = FPS, audio: bool = True) -> int:
    """The frames as H.264 (yuv420p) with, when `audio`, a 440 Hz AAC tone as long as the video."""
    import av  # imported here: only the video path needs it

    clip = list(clip)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)  # every stream is added before the first packet
        video.width, video.height, video.pix_fmt = clip[0].shape[1], clip[0].shape[0], "yuv420p"
        video.options = {"crf": "18", "preset": "veryfast"}
        sound = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        for frame in clip:
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(video.encode())
        if sound is not None:
            samples = (np.sin(2 * np.pi * 440 * np.arange(round(44100 * len(clip) / fps)) / 44100) * 0.2)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 1024].astype(np.float32),
                                                   format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 44100, start, Fraction(1, 44100)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return len(clip)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="a .y4m or .mp4 file")
    parser.add_argument("--seconds", type=float, default=6.0, help="length (default 6 s)")
    parser.add_argument("--fps", type=int, default=FPS, help=f"frame rate (default {FPS})")
    parser.add_argument("--no-audio", action="store_true", help=".mp4: without the tone")
    args = parser.parse_args(argv)
    n = max(1, round(args.seconds * args.fps))
    if args.out.suffix == ".y4m":
        count = write_y4m(args.out, frames(n), args.fps)
    elif args.out.suffix == ".mp4":
        count = write_mp4(args.out, frames(n), args.fps, audio=not args.no_audio)
    else:
        sys.exit(f"error: --out must end in .y4m or .mp4, got {args.out.name}")
    print(f"wrote {args.out}: {count} frames of {WIDTH}x{HEIGHT} at {args.fps} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
