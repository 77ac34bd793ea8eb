"""black2blond: the web page. Drop in a photo, pick a direction, watch the hair colour change.

    python app.py                              # http://127.0.0.1:7860, the models in weights/
    python app.py --model alice/black2blond    # a pair from the Hugging Face Hub (or B2B_MODEL=...)
    python app.py --host 0.0.0.0 --port 8080 --device cpu

The face is found in the photo, cropped the way the CelebA training images are, translated
at the model's size, translated back, and the change pasted into the photo where the model's
attention mask is on, leaving out the mask's small specks away from the hair (cyclegan/faces.py).
On a GPU (a ZeroGPU Space included) the translation runs in fp16/bf16, on the CPU in the fastest
precision the CPU has (cyclegan/device.py). The Live tab translates the webcam's stream frame by frame
(cyclegan/live.py: the face followed, the change smoothed over frames), the Video tab a clip
(cyclegan/video.py); both use the photo's path.
"""

import argparse
import math
import os
import secrets
import sys
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import torch
from huggingface_hub.repocard import metadata_load
from PIL import Image, UnidentifiedImageError

from cyclegan.data import load_image
from cyclegan.device import CpuThreads, resolve_device, resolve_precision
from cyclegan.evaluation import AttributeClassifier
from cyclegan.faces import MAX_FACES, VISIBLE_DE, auto_pick, before_after, mask_overlay, translate_photo, visible_changes, \
    with_strength
from cyclegan.hub import load_pair
from cyclegan.inference import optimize_for_inference
from cyclegan.live import LiveTranslator
from cyclegan.video import MAX_PIXELS as VIDEO_MAX_PIXELS, MAX_SECONDS as VIDEO_MAX_SECONDS, VIDEO_EXTENSIONS, \
    translate_video

try:  # Hugging Face ZeroGPU: a GPU is attached only while a decorated function runs
    import spaces
    gpu = spaces.GPU
except ImportError:
    def gpu(fn=None, **options):
        """Without `spaces`: @gpu and @gpu(duration=...) leave the function as it is."""
        return fn if fn is not None else (lambda f: f)

REPO = Path(__file__).resolve().parent
DEFAULT_MODEL = str(REPO / "weights" / "black2blond")
CLASSIFIER = REPO / "weights" / "classifier"  # reads each face's hair for the Auto direction
EXAMPLES = REPO / "examples"
PANEL_SIDE = 150  # the model's panels are shown about this large (app.enlarged)
MAX_PIXELS = 25_000_000  # larger uploads get a message, not minutes of work and gigabytes of memory
# the live view: the webcam sends a frame every LIVE_EVERY s; gradio keeps only the newest frame that arrived
# while the last was being translated (the others are dropped, never queued: gradio/routes.py overwrites the
# event's data), and a stream ends after LIVE_SECONDS of translating, freeing its slot for the next visitor
LIVE_EVERY, LIVE_SECONDS, LIVE_STREAMS = 1 / 15, 120, 2
VIDEO_KINDS = ", ".join(e.lstrip(".") for e in sorted(VIDEO_EXTENSIONS))

# the examples, each in the direction that shows what the model does (examples/README.md: where they come from)
EXAMPLE_PHOTOS = [("astronaut.jpg", "BA"), ("astronaut_dark.jpg", "AB")]
# after a translation: bring the result into view when it is cut off (on a phone it is under the controls)
SHOW_RESULT = """() => {
    const status = document.getElementById('status'), result = document.getElementById('composite');
    if (!status || !result) return;
    const top = status.getBoundingClientRect().top, bottom = result.getBoundingClientRect().bottom;
    if (top < 0 || (bottom > window.innerHeight && top > 60))
        status.scrollIntoView({behavior: 'smooth', block: 'start'});
}"""

# filled once by load_models(): direction value -> (generator, reverse generator)
MODELS = {}
# the last few results by their slider file: (photo, composite) in memory, so that the strength slider and the PNG
# download recompose them exactly and without the model (a JPEG upload's slider file is a JPEG)
# (4: a 12 MP photo's pair takes 72 MB)
RECENT, RECENT_KEPT = OrderedDict(), 4
# less than this share of the face's window visibly changed: say so and suggest the other direction (measured with
# the shipped pair: the black-haired example sent blond -> black changes 1.3% of its window, the examples sent the
# way that has hair to change 13-17%; the dark-blond astronaut sent black -> blond 7.5%: her blond gets lighter)
NOTHING_VISIBLE = 0.03
SHARE_PIXELS = 3_000_000  # what_changed counts a larger photo on a grid of rows and columns
# threads: the CPU threads follow the load (cyclegan.device.CpuThreads; the browser is often the neighbour), looked
# at again by each request
SETTINGS = {"precision": "fp32", "labels": {}, "threads": CpuThreads()}


def load_models(model: str, device: str = "auto", precision: str = "auto") -> None:
    """Load the pair once, at start, on the device the page will run on."""
    G_AB, G_BA = load_pair(model)
    dev = resolve_device(device)
    SETTINGS["precision"] = resolve_precision(precision, dev)
    G_AB, G_BA = (optimize_for_inference(G, str(dev), SETTINGS["precision"]) for G in (G_AB, G_BA))
    MODELS.update(AB=(G_AB, G_BA), BA=(G_BA, G_AB))
    SETTINGS["labels"] = {key: f"{G.source_domain.capitalize()} → {G.target_domain.capitalize()}"
                          for key, (G, _) in MODELS.items()}
    SETTINGS["image_size"] = G_AB.image_size
    # Auto: the hair colour classifier of the evaluation (98% on val), on the CPU (a 64 px crop a face)
    SETTINGS["classifier"] = AttributeClassifier.from_pretrained(CLASSIFIER).eval() \
        if (CLASSIFIER / "config.json").is_file() else None
    SETTINGS["recolour"] = getattr(G_AB, "recolour", False)  # a recolouring pair keeps the photo's texture anyway


def generators(direction: str):
    """(G, G_back, pick) for a direction of the page's radio buttons: "AB", "BA", or "auto" (G_AB, G_BA and the
    Auto pick, cyclegan.faces.auto_pick, when the classifier is there); None for a direction it does not know."""
    if direction == "auto" and SETTINGS.get("classifier") is not None:
        return (*MODELS["AB"], auto_pick(MODELS["AB"], SETTINGS["classifier"]))
    return (*MODELS[direction], None) if direction in MODELS else None


class Refused(str):
    """An upload the page cannot use, as the message that says why (PhotoInput hands it to translate)."""


def refuse(message: str) -> tuple:
    """What the page shows for a request it turns down (no photo, an unreadable, too large or too small
    image): the message in the status box, where it stays until the next request, and as a toast;
    empty panels."""
    return (None,) * 5 + (refused(message),)


def refused(message: str) -> str:
    """Say that a request was turned down: one line in the server log instead of a traceback (which stays
    for real faults) and a toast on the page; returns the message for the status box."""
    print(f"refused a request: {message}", file=sys.stderr, flush=True)
    gr.Warning(message)
    return message


class PhotoInput(gr.Image):
    """gr.Image whose decoding errors reach the page as a message a person can act on.

    Gradio opens the upload before calling our function; an unreadable file or a
    decompression bomb would otherwise surface as a bare "Error" in every panel.
    """
    is_template = True  # rendered by gradio's own Image front end

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError:
            return Refused(f"This image has too many pixels (more than {MAX_PIXELS / 1e6:.0f} megapixels are "
                           "refused): scale it down and try again.")
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return Refused("This file is not an image this page can read: upload a JPEG, PNG or WebP photo.")


def page_files(photo_path: str, photo: Image.Image, composite: Image.Image) -> tuple:
    """(before, after) files for the comparison slider, written where gradio serves files from (no copy).

    Before is the upload itself when it shows as decoded (upright, RGB), else the decoded photo. After
    is the composite in the upload's kind: a JPEG photo's as JPEG at quality 95 (0.07 s for 12 MP, where
    PNG takes 1-2 s and 5-20 MB), anything else as PNG.
    """
    folder = Path(gr.utils.get_upload_folder()) / secrets.token_hex(10)
    folder.mkdir(parents=True)
    with Image.open(photo_path) as im:
        kind, upright = im.format, im.mode == "RGB" and im.getexif().get(0x0112, 1) == 1

    def save(image: Image.Image, name: str) -> str:
        path = folder / f"{name}.{'jpg' if kind == 'JPEG' else 'png'}"
        image.save(path, **(dict(quality=95) if kind == "JPEG" else dict(compress_level=1)))
        return str(path)
    before = photo_path if upright and kind in ("JPEG", "PNG", "WEBP") else save(photo, "photo")
    return before, save(composite, "edited")


@gpu
def translate(photo_path, direction: str, crop_face: bool, detail: bool = True):
    """Gradio handler: (model input, translation, mask heat map, reconstruction, (photo, composite) for
    the slider, message). A request the page turns down returns empty panels and the reason."""
    if isinstance(photo_path, Refused):
        return refuse(photo_path)
    if not photo_path:
        return refuse("Upload a photo first (or click one of the examples).")
    chosen = generators(direction)
    if chosen is None:
        return refuse(f"Unknown direction {direction!r}; choose one of {list(SETTINGS['labels'].values())}.")
    G, G_back, pick = chosen
    SETTINGS["threads"].update()
    try:
        photo = load_image(photo_path, max_pixels=MAX_PIXELS)
        with torch.no_grad():
            r = translate_photo(photo, G, G_back, crop_face=crop_face, precision=SETTINGS["precision"], detail=detail,
                                pick=pick if crop_face else None)
    except ValueError as e:  # unreadable, too many pixels, too small
        return refuse(f"Cannot use this image: {str(e).replace(str(photo_path), Path(photo_path).name)}")
    if not r.translated:  # no face, or no face Auto could call: the photo as it was, with the message saying why
        return (None,) * 4 + (page_files(photo_path, photo, r.composite), f"{r.message}.")
    files = page_files(photo_path, photo, r.composite)
    RECENT[files[1]] = (photo, r.composite)
    while len(RECENT) > RECENT_KEPT:
        RECENT.popitem(last=False)
    panels = (r.model_input, r.translation, mask_overlay(r.model_input, r.mask), r.reconstruction)
    return (*map(enlarged, panels), files, f"{r.message}; {what_changed(photo, r.composite, r.box, direction)}.")


def what_changed(photo: Image.Image, composite: Image.Image, box: tuple, direction: str) -> str:
    """The status's account of the change: the share of the photo's pixels that visibly changed (by more than
    VISIBLE_DE in CIELAB); when under NOTHING_VISIBLE of the face's window did, that nothing visibly changed,
    with the other direction suggested. A photo over SHARE_PIXELS is counted on every n-th row and column (shares
    of a 12 MP photo's hair to a tenth of a percent, in a quarter of the time)."""
    n = max(1, math.isqrt(photo.width * photo.height // SHARE_PIXELS))
    visible = visible_changes(photo, composite, step=n)
    share, window = visible.mean(), visible[box[1] // n:-(-box[3] // n), box[0] // n:-(-box[2] // n)].mean()
    if direction not in MODELS or window >= NOTHING_VISIBLE:
        return f"{share:.1%} of the photo's pixels visibly changed (by more than {VISIBLE_DE:g} delta E)"
    G, other = MODELS[direction][0], SETTINGS["labels"]["BA" if direction == "AB" else "AB"]
    return (f"nothing visibly changed ({share:.1%} of the photo's pixels by more than {VISIBLE_DE:g} delta E): the "
            f"hair may already be {G.target_domain}; try {other}")


def recompose(original, strength: float):
    """Gradio handler of the strength slider (0-100 %) and of a finished translation: the slider's (photo, result)
    with the change scaled (cyclegan.faces.with_strength) from the result kept in memory, without the model.
    The downloads follow in a second step (downloads), so the slider shows the change first."""
    if not original or original[1] not in RECENT:  # nothing translated yet, or long ago
        return original
    before, after = original
    if strength < 100:
        photo, composite = RECENT[after]
        after = str(Path(after).parent / f"strength{strength:g}{Path(after).suffix}")
        with_strength(photo, composite, strength / 100).save(
            after, **(dict(quality=95) if after.endswith(".jpg") else dict(compress_level=1)))
    return before, after


def downloads(original, strength: float) -> tuple:
    """(PNG, JPEG) files to download: the result at `strength` at full size (the photo's own pixels wherever
    nothing was changed, exactly) and a before | after picture to share (cyclegan.faces.before_after, at most
    1600 px wide); (None, None) when the translation is no longer kept."""
    if not original or original[1] not in RECENT:
        return None, None
    photo, composite = RECENT[original[1]]
    result = with_strength(photo, composite, strength / 100)
    folder = Path(original[1]).parent
    png, share = folder / "recoloured.png", folder / "before-after.jpg"
    result.save(png, compress_level=1)
    before_after(photo, result).save(share, quality=90)
    return str(png), str(share)


def enlarged(image: Image.Image, side: int = PANEL_SIDE) -> Image.Image:
    """A model-size panel scaled up by a whole factor to about `side` pixels on its shorter side, so a 64 px
    model's view fills its box instead of showing as a thumbnail (gradio does not scale images up)."""
    k = max(1, round(side / min(image.size)))
    return image if k == 1 else image.resize((image.width * k, image.height * k), Image.LANCZOS)


@gpu
def live_frame(frame, direction: str, live):
    """Gradio stream handler: one webcam frame (numpy RGB) -> (the frame translated, the stream's
    LiveTranslator, kept in a gr.State: it follows the face and smooths the change over frames)."""
    chosen = generators(direction)
    if frame is None or chosen is None:
        return frame, live
    SETTINGS["threads"].update()
    G, _, pick = chosen
    if live is None or live.G is not G or (live.pick is None) != (pick is None):  # a new stream, or a new direction
        live = LiveTranslator(G, SETTINGS["precision"], pick=pick)
    return live(frame), live


@gpu(duration=120)  # ZeroGPU allots 60 s a call by default; a 30 s clip can take longer
def translate_clip(video_path, direction: str, progress=gr.Progress()):
    """Gradio handler: a video file -> (the translated MP4, message); a clip the page turns down -> (None, why)."""
    if not video_path:
        return None, refused(f"Upload a video clip first ({VIDEO_KINDS}).")
    chosen = generators(direction)
    if chosen is None:
        return None, refused(f"Unknown direction {direction!r}.")
    SETTINGS["threads"].update()
    target = Path(gr.utils.get_upload_folder()) / secrets.token_hex(10) / f"{Path(video_path).stem}-translated.mp4"
    target.parent.mkdir(parents=True)
    progress(0, desc="Translating frames")
    try:
        info = translate_video(video_path, target, chosen[0], SETTINGS["precision"],
                               lambda done, total: progress((done, total), desc="Translating frames", unit="frames"),
                               pick=chosen[2])
    except ValueError as e:  # unreadable, too long, too large
        return None, refused(f"Cannot use this video: {e}")
    audio = f", its {info.audio} sound kept" if info.audio else " (it has no sound)"
    return str(target), f"Translated {info.frames} frames ({info.seconds:.1f} s at {info.fps:g} fps){audio}."


def translate_example(photo_path, direction: str):
    """An example, translated as the page's defaults would (face found and cropped)."""
    return translate(photo_path, direction, True)


def published_models() -> list:
    """The `models:` of this repository's README front matter: the Hub repos of the published
    pair, which train/push.py --space writes when it deploys the page."""
    return list(metadata_load(REPO / "README.md").get("models") or [])


def model_card_link(model_name: str) -> str:
    """Markdown naming the model card: the Hub repo given with --model, else the published pair
    of the front matter, else the default models' README in this repository."""
    if not Path(model_name).exists():
        return f"[{model_name}](https://huggingface.co/{model_name})"
    published = published_models()
    if published:
        return ", ".join(f"[{m}](https://huggingface.co/{m})" for m in published)
    return "`weights/README.md` in this repository (the default models)"


def build_demo(model_name: str) -> gr.Blocks:
    size, recolour = SETTINGS["image_size"], SETTINGS.get("recolour", False)
    card = model_card_link(model_name)
    # a recolouring pair works on a window around the face and recolours the photo at its own resolution
    how = (f"the hair around each face (up to {MAX_FACES}) is taken at the scale of CelebA's faces, the model says "
           "where and how to recolour it, and that recolouring is applied to your photo at its own resolution; Auto "
           "reads each face's hair and picks the direction" if recolour else
           f"the largest face is cropped like a CelebA image, translated at {size}x{size}, translated back, and the "
           "change is pasted into your photo where the model chose to change it")
    beyond = ("Hair beyond the window around the face keeps its colour. " if recolour else
              "Hair beyond the face's square (long hair on the shoulders) keeps its colour. ")
    choices = [(label, key) for key, label in SETTINGS["labels"].items()]
    # every tab's directions: Auto reads each face's hair (when the classifier is there), the explicit ones stay
    directions = ([("Auto (read each face's hair)", "auto")] if SETTINGS.get("classifier") else []) + choices
    with gr.Blocks(title="black2blond", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# black2blond\n"
            "A CycleGAN ([Zhu et al. 2017](https://arxiv.org/abs/1703.10593)) that turns black hair blond and "
            f"blond hair black, trained without paired images on CelebA's aligned celebrity faces. Upload a photo: {how}.")
        with gr.Tabs():
            with gr.Tab("Photo", id="photo-tab"):
                # the result beside the button on a laptop, right under it on a phone (the columns stack)
                with gr.Row():
                    with gr.Column(min_width=300):
                        photo = PhotoInput(type="filepath", sources=["upload", "clipboard", "webcam"], label="Photo",
                                           elem_id="photo")
                        # the button right under the photo: on a 390 px phone it is then on the first screen
                        button = gr.Button("Translate", variant="primary")
                        direction = gr.Radio(directions, value=directions[0][1], label="Direction",
                                             elem_id="direction")
                        crop_face = gr.Checkbox(value=True, label="Find the face and crop around it "
                                                                  "(off: use the central square)")
                        detail = gr.Checkbox(value=True, label="Keep the photo's hair texture: colour from the model, "
                                                               "strands from the photo (off: the model's own texture)",
                                             visible=not recolour)  # a recolouring pair always keeps it
                    with gr.Column(min_width=300):
                        status = gr.Textbox(label="What was done", interactive=False, elem_id="status", lines=5,
                                            max_lines=8)
                        composite = gr.ImageSlider(label="Before | after (drag)", type="filepath",
                                                   interactive=False, elem_id="composite", max_height=640)
                        strength = gr.Slider(0, 100, value=100, step=5, label="Strength (%): how much of the change",
                                             elem_id="strength")
                        with gr.Row():
                            download = gr.DownloadButton("Download the result (PNG, full size)", value=None,
                                                         elem_id="download", size="sm")
                            share = gr.DownloadButton("Before | after, to share (JPEG)", value=None,
                                                      elem_id="share", size="sm")
                        original = gr.State(None)  # the translation's (photo, result) files, before any strength
                examples = gr.Examples([[str(EXAMPLES / name), key] for name, key in EXAMPLE_PHOTOS],
                                       inputs=[photo, direction],
                                       label="Examples (public-domain portraits, each in the direction that has "
                                             "hair to change): click one to translate it")
                # the model's own view: short labels, and each panel wide enough to show the image at
                # least at the model's size; on a phone they wrap two or one to a row
                with gr.Row(equal_height=True):
                    panel = dict(format="png", type="pil", interactive=False, min_width=max(size, PANEL_SIDE) + 30,
                                 height=max(size, PANEL_SIDE) + 60)
                    seen = gr.Image(label=f"Model input (face at {size} px)" if recolour else
                                    f"Model input ({size} px)", elem_id="seen", **panel)
                    fake = gr.Image(label="Translation", elem_id="translation", **panel)
                    mask = gr.Image(label="Where it changed", elem_id="mask", **panel)
                    rec = gr.Image(label="Translated back", elem_id="reconstruction", **panel)
            with gr.Tab("Live (webcam)", id="live-tab"):
                gr.Markdown(
                    "Your webcam, translated as you move: the face is followed from frame to frame and the colour "
                    "change is smoothed over frames. Frames the server cannot keep up with are skipped, so what you "
                    f"see stays current; a stream stops after {LIVE_SECONDS // 60} minutes (start it again to go on).")
                live_direction = gr.Radio(directions, value=directions[0][1], label="Direction")
                with gr.Row():
                    webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam",
                                      elem_id="webcam")
                    live_view = gr.Image(label="Translated", type="numpy", format="jpeg", interactive=False,
                                         elem_id="live")
                live_state = gr.State(None)
            with gr.Tab("Video", id="video-tab"):
                gr.Markdown(
                    f"A short clip ({VIDEO_KINDS}; up to {VIDEO_MAX_SECONDS:g} s and "
                    f"{VIDEO_MAX_PIXELS / 1e6:.1f} megapixels a frame) translated frame by frame, with its frame "
                    "rate, size and sound kept.")
                video_direction = gr.Radio(directions, value=directions[0][1], label="Direction")
                with gr.Row():
                    video_in = gr.Video(sources=["upload"], label="Clip", elem_id="video-in")
                    video_out = gr.Video(label="Translated", interactive=False, elem_id="video-out")
                video_button = gr.Button("Translate the clip", variant="primary")
                video_status = gr.Textbox(label="What was done", interactive=False, elem_id="video-status")
        gr.Markdown(
            "**Limits.** The model saw only CelebA's aligned, frontal celebrity faces at "
            f"{size}x{size}, with black or blond hair. Out of its domain, and changed little or oddly: grey, white, "
            "red or brown hair, hats, caps and scarves, profiles and tilted heads, children and drawings (a simple "
            f"detector finds frontal faces only, at least a tenth of the photo's shorter side; the live view and "
            f"video follow the largest face). {beyond}The reconstruction can look perfect even when the translation is "
            "poor: CycleGANs learn to hide information about the input in their outputs. CelebA is licensed for "
            f"non-commercial research only. Model card: {card}.")
        outputs = [seen, fake, mask, rec, composite, status]
        finish = dict(fn=recompose, inputs=[original, strength], outputs=composite, api_visibility="undocumented")
        files = dict(fn=downloads, inputs=[original, strength], outputs=[download, share], api_visibility="undocumented")
        button.click(translate, [photo, direction, crop_face, detail], outputs, api_name="translate") \
            .then(lambda files: files, composite, original, api_visibility="undocumented").then(**finish) \
            .then(None, js=SHOW_RESULT).then(**files)
        examples.load_input_event.then(translate_example, [photo, direction], outputs, api_visibility="undocumented") \
            .then(lambda files: files, composite, original, api_visibility="undocumented").then(**finish) \
            .then(None, js=SHOW_RESULT).then(**files)
        strength.release(**finish).then(**files)
        webcam.stream(live_frame, [webcam, live_direction, live_state], [live_view, live_state],
                      stream_every=LIVE_EVERY, time_limit=LIVE_SECONDS, concurrency_limit=LIVE_STREAMS,
                      api_visibility="undocumented")
        video_button.click(translate_clip, [video_in, video_direction], [video_out, video_status],
                           api_name="translate_video")
    return demo


def theme() -> gr.themes.Base:
    """System fonts only: the default themes fetch web fonts, and the page must work offline."""
    return gr.themes.Base(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("B2B_MODEL", DEFAULT_MODEL),
                        help="a save_pretrained folder or a Hub repo id of one direction; the reverse is found "
                             "from it (default: $B2B_MODEL, else %(default)s)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default: $GRADIO_SERVER_NAME, as a Hugging Face Space sets it, "
                             "else %(default)s; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (default: $GRADIO_SERVER_PORT, else %(default)s)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default %(default)s)")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (default %(default)s: "
                                                            "fp16/bf16 on GPUs, bf16 on AMX CPUs, else fp32)")
    parser.add_argument("--threads", default="auto", help="CPU threads: auto (default: as many as the cores other "
                        "processes leave free, looked at again by each request) or a number to keep")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    args = parser.parse_args(argv)
    try:
        SETTINGS["threads"] = CpuThreads(args.threads)
    except ValueError as e:
        parser.error(f"--threads: {e}")
    SETTINGS["threads"].apply()  # before the models' first parallel region
    try:
        load_models(args.model, args.device, args.precision)
    except (OSError, ValueError) as e:
        parser.exit(2, f"error: cannot load the model {args.model}: {e}\n")
    demo = build_demo(args.model)
    # one translation at a time on a CPU (it uses every core), a few on a GPU; a bounded queue
    concurrency = 2 if resolve_device(args.device).type == "cuda" else 1
    demo.queue(default_concurrency_limit=concurrency, max_size=32)
    # quiet: gradio's own start-up lines suggest `share=True` in launch(); this app's switch is --share
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, theme=theme(),
                max_file_size="50mb", quiet=True, prevent_thread_lock=True)
    print(f"black2blond: serving {demo.local_url} (listening on {args.host}:{demo.server_port}; "
          f"Ctrl-C stops it); CPU threads: {SETTINGS['threads'].describe()}", flush=True)
    print(f"public link: {demo.share_url}" if demo.share_url else
          "for a public link, start it with: python app.py --share", flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
