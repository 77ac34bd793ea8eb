"""Video files: a clip translated frame by frame with the live path (cyclegan.live: the face followed, the
change smoothed over frames) and written back as H.264 MP4 with its frame size, frame rate, frame times
and audio kept.

    info = translate_video("in.mov", "out.mp4", G_AB, progress=lambda done, total: ...)

Reads anything FFmpeg reads (mp4, webm, mov, ...) through PyAV. The audio is copied as it is when MP4
holds its codec (AAC, MP3, Opus, FLAC, ALAC), else re-encoded to AAC. Clips longer than `max_seconds` or
with frames larger than `max_pixels` are refused with a ValueError that says the limit, before any work.
"""

from dataclasses import dataclass
from pathlib import Path

from .live import LiveTranslator

MAX_SECONDS = 30.0  # the page's limits: about a minute of work on a 2-core CPU at 640x480
MAX_PIXELS = 1920 * 1080
COPIED_AUDIO = {"aac", "mp3", "opus", "flac", "alac"}  # codecs an MP4 holds as they are
VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"}  # what train/translate.py takes as videos


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float  # the average frame rate
    seconds: float
    frames: int  # as the container states it (0 when it does not), or as counted after translating
    audio: str  # the audio codec's name, "" without audio


def probe(path) -> VideoInfo:
    """What a video file holds; a ValueError that names the file and the fault when it is not a video."""
    import av  # imported here: only the video path needs it

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path.name}: no video stream in it")
            v = container.streams.video[0]
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else ""
            seconds = float(v.duration * v.time_base) if v.duration else \
                (container.duration / 1e6 if container.duration else 0.0)
            fps = float(v.average_rate or v.guessed_rate or 0)
            if not v.codec_context.width or not fps:
                raise ValueError(f"{path.name}: its video stream has no frame size or frame rate")
            return VideoInfo(v.codec_context.width, v.codec_context.height, fps, seconds, v.frames, audio)
    except av.error.FFmpegError as e:
        raise ValueError(f"{path.name} is not a video FFmpeg can read ({e.__class__.__name__}: {e.strerror})") \
            from None


def check_limits(info: VideoInfo, name: str, max_seconds: float = MAX_SECONDS, max_pixels: int = MAX_PIXELS):
    """A ValueError that says the limit when the clip is too long or its frames too large."""
    if info.seconds > max_seconds:
        raise ValueError(f"{name} is {info.seconds:.1f} s long; the limit is {max_seconds:g} s: cut it shorter")
    if info.width * info.height > max_pixels:
        raise ValueError(f"{name} is {info.width}x{info.height}; the limit is {max_pixels / 1e6:.1f} megapixels a "
                         "frame (1920x1080): scale it down")


def translate_video(source, target, G, precision: str = "fp32", progress=None, max_seconds: float = MAX_SECONDS,
                    max_pixels: int = MAX_PIXELS, **live_options) -> VideoInfo:
    """Translate every frame of the video `source` with G and write `target` (.mp4) (`pick`, among live_options: Auto,
    LiveTranslator). `progress(done, total)`
    is called after each frame. Returns the written clip's VideoInfo (frames counted). A clip that breaks
    part way is a ValueError and leaves no half-written target behind."""
    import av  # imported here: only the video path needs it

    source, target = Path(source), Path(target)
    info = probe(source)
    check_limits(info, source.name, max_seconds, max_pixels)
    live = LiveTranslator(G, precision, model_every=1, **live_options)  # offline: the model sees every frame
    total = info.frames or round(info.seconds * info.fps)
    partial = target.with_name(target.name + ".part")
    done = 0
    try:
        with av.open(str(source)) as inp, av.open(str(partial), "w", format="mp4") as out:
            v_in = inp.streams.video[0]
            a_in = inp.streams.audio[0] if inp.streams.audio else None
            v_out = out.add_stream("libx264", rate=v_in.average_rate)
            v_out.width, v_out.height = info.width - info.width % 2, info.height - info.height % 2  # 4:2:0
            v_out.pix_fmt, v_out.time_base = "yuv420p", v_in.time_base
            v_out.options = {"crf": "18", "preset": "veryfast"}
            a_out, resampler = None, None
            if a_in is not None and a_in.codec_context.name in COPIED_AUDIO:
                a_out = out.add_stream_from_template(a_in)
            elif a_in is not None:
                a_out = out.add_stream("aac", rate=a_in.codec_context.sample_rate or 44100)
                resampler = av.AudioResampler(format="fltp", layout=a_out.layout, rate=a_out.rate)
            for packet in inp.demux(*[s for s in (v_in, a_in) if s is not None]):
                if packet.stream is a_in and resampler is None:
                    if packet.dts is not None:
                        packet.stream = a_out
                        out.mux(packet)
                    continue
                for frame in packet.decode():
                    if packet.stream is a_in:
                        for chunk in resampler.resample(frame):
                            out.mux(a_out.encode(chunk))
                        continue
                    rgb = frame.to_ndarray(format="rgb24")[:v_out.height, :v_out.width]
                    new = av.VideoFrame.from_ndarray(live(rgb), format="rgb24")
                    new.pts, new.time_base = frame.pts, frame.time_base
                    out.mux(v_out.encode(new))
                    done += 1
                    if progress is not None:
                        progress(done, max(total, done))
            out.mux(v_out.encode())
            if resampler is not None:
                out.mux(a_out.encode())
    except av.error.FFmpegError as e:
        partial.unlink(missing_ok=True)
        raise ValueError(f"{source.name} broke after {done} frames ({e.__class__.__name__}: {e.strerror})") \
            from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    written = probe(target)
    written.frames = done
    return written
