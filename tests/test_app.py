"""app.py: the handler on good and bad photos, the running server through gradio_client,
and the page in a real headless Chromium (Playwright), all offline on 127.0.0.1."""

import os
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from conftest import REPO, free_port

sys.path.insert(0, str(REPO))
import app  # noqa: E402

ARTIFACTS = REPO / "tests" / "artifacts"
ASTRONAUT = REPO / "examples" / "astronaut.jpg"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def models():
    app.load_models(app.DEFAULT_MODEL, "cpu", "fp32")
    return app.MODELS


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header says width x height: a decompression bomb to anyone who believes it."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]  # chunk type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Every kind of upload the page must survive, by name."""
    d = tmp_path_factory.mktemp("photos")
    face = Image.open(ASTRONAUT).convert("RGB")
    face.convert("L").save(d / "grey.png")
    face.convert("RGBA").save(d / "rgba.png")
    face.convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray((np.asarray(face.convert("L"), dtype=np.uint16) * 257)).save(d / "16bit.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers turn it 90 degrees clockwise
    face.crop((0, 0, 512, 400)).rotate(90, expand=True).save(d / "exif_rotated.jpg", exif=exif)
    Image.new("RGB", (1, 1), (120, 80, 40)).save(d / "1x1.png")
    (d / "not_an_image.jpg").write_text("this is text, not a photo")
    (d / "truncated.jpg").write_bytes(ASTRONAUT.read_bytes()[:2000])
    png_claiming_size(d / "huge.png", 20000, 20000)  # past PIL's own limit: Image.open refuses it
    png_claiming_size(d / "big.png", 6000, 5000)  # under PIL's limit, over the page's
    return d


@pytest.mark.parametrize("name,size", [("grey.png", (512, 512)), ("rgba.png", (512, 512)), ("cmyk.jpg", (512, 512)),
                                       ("16bit.png", (512, 512)), ("exif_rotated.jpg", (512, 400)),
                                       ("1x1.png", (1, 1))])
def test_unusual_photos_translate(models, photos, name, size):
    seen, fake, mask, rec, composite, message = app.translate(str(photos / name), "AB", True)
    assert seen.size == fake.size == rec.size == (128, 128)
    assert composite.size == size and composite.mode == "RGB"
    assert message.endswith(".")
    if name != "1x1.png":
        assert message.startswith("1 face found")  # found upright, so the EXIF rotation was applied
        # the model repainted a region (the hair) by more than noise, not just a few pixels
        changed = np.abs(np.asarray(fake, dtype=int) - np.asarray(seen, dtype=int)).mean(axis=2) > 10
        assert changed.mean() > 0.03


@pytest.mark.parametrize("name,message", [
    ("not_an_image.jpg", "Cannot use this image: cannot read image not_an_image.jpg"),
    ("truncated.jpg", "Cannot use this image: cannot read image truncated.jpg"),
    ("huge.png", "Cannot use this image: image huge.png has too many pixels to decode safely"),
    ("big.png", "Cannot use this image: image big.png is 6000x5000 pixels, more than the 25 megapixels allowed"),
])
def test_bad_files_are_clear_errors(models, photos, name, message):
    with pytest.raises(gr.Error, match=message):
        app.translate(str(photos / name), "AB", True)


def test_no_photo_and_unknown_direction_are_clear_errors(models):
    with pytest.raises(gr.Error, match="Upload a photo first"):
        app.translate(None, "AB", True)
    with pytest.raises(gr.Error, match="Unknown direction 'XY'"):
        app.translate(str(ASTRONAUT), "XY", True)


@pytest.mark.parametrize("name", ["astronaut.jpg", "grace_hopper.jpg", "no_face"])
def test_composite_differs_from_the_photo_only_where_the_mask_is_on(models, tmp_path, name):
    from cyclegan.faces import MASK_OFF, translate_photo
    G, G_back = models["AB"]
    assert G.attention, "the shipped models are attention generators"
    if name == "no_face":  # smooth colour gradients and a disc: no face, so the central square is used
        yy, xx = np.mgrid[0:300, 0:400]
        arr = np.stack([xx * 255 // 400, yy * 255 // 300, np.full_like(xx, 90)], -1).astype(np.uint8)
        arr[(yy - 150) ** 2 + (xx - 200) ** 2 < 60 ** 2] = (20, 20, 20)
        photo = Image.fromarray(arr)
    else:
        photo = Image.open(REPO / "examples" / name).convert("RGB")
    r = translate_photo(photo, G, G_back, precision="fp32")
    assert r.message.startswith("no face" if name == "no_face" else "1 face")
    before, after = np.asarray(photo, dtype=int), np.asarray(r.composite, dtype=int)
    left, top, right, bottom = r.box
    side = right - left
    on = np.zeros(before.shape[:2], bool)  # where the mask, scaled to the photo, is on
    on[top:bottom, left:right] = np.asarray(r.mask.resize((side, side), Image.BILINEAR)) / 255 >= MASK_OFF
    assert np.abs(after - before)[~on].max() <= 2
    assert (~on).mean() > 0.3  # the model left most of the photo alone
    if name != "no_face":
        assert np.abs(after - before)[on].mean() > 3  # and changed something where its mask is on


def test_directions_use_the_right_generators(models):
    G_AB, G_BA = models["AB"]
    assert (G_AB.source_domain, G_AB.target_domain) == ("black", "blond")
    assert models["BA"] == (G_BA, G_AB)
    assert app.SETTINGS["labels"] == {"AB": "Black → Blond", "BA": "Blond → Black"}
    _, fake_ab, *_ = app.translate(str(ASTRONAUT), "AB", True)
    _, fake_ba, *_ = app.translate(str(ASTRONAUT), "BA", True)
    assert np.abs(np.asarray(fake_ab, dtype=int) - np.asarray(fake_ba, dtype=int)).mean() > 3


def test_the_upload_component_turns_decoding_errors_into_messages(photos):
    from gradio.data_classes import ImageData
    component = app.PhotoInput(type="filepath")
    assert component.get_block_name() == "image"
    with pytest.raises(gr.Error, match="not an image this page can read"):
        component.preprocess(ImageData(path=str(photos / "not_an_image.jpg"), orig_name="not_an_image.jpg"))
    with pytest.raises(gr.Error, match="too many pixels"):
        component.preprocess(ImageData(path=str(photos / "huge.png"), orig_name="huge.png"))


# The running server

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """python app.py on 127.0.0.1, offline: no analytics, no Hub, no SSR, its own temp dir."""
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_SSR_MODE": "False",
           "GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio")), "PYTHONWARNINGS": "ignore"}
    log = tmp_path_factory.mktemp("log") / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port), "--device", "cpu"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"app.py did not start in 180 s:\n{log.read_text()}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_server_translates_through_the_client_and_survives_bad_requests(server, photos):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError
    client = Client(server, verbose=False)
    with pytest.raises(AppError, match="not an image this page can read"):
        client.predict(handle_file(str(photos / "not_an_image.jpg")), "AB", True, api_name="/translate")
    seen, fake, mask, rec, composite, message = client.predict(handle_file(str(ASTRONAUT)), "BA", True,
                                                               api_name="/translate")
    assert message.startswith("1 face found")
    assert [Image.open(p).size for p in (seen, fake, mask, rec)] == [(128, 128)] * 4
    assert Image.open(composite).size == (512, 512)
    assert all(Image.open(p).format == "PNG" for p in (seen, fake, mask, rec, composite))  # lossless panels


def test_page_in_a_real_browser(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (.ci/run does)")
    port = urlsplit(server).port
    outside = []

    def only_loopback(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    photo = tmp_path / "portrait.png"
    Image.open(REPO / "examples" / "grace_hopper.jpg").save(photo)
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.route("**/*", only_loopback)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.locator("#photo input[type=file]").set_input_files(str(photo))
            page.locator("#photo img").wait_for(timeout=30_000)
            previous = {}
            for label in ("Black → Blond", "Blond → Black"):
                page.get_by_label(label).check()
                page.get_by_role("button", name="Translate").click()
                # a new translation (its file differs per direction; the model's input does not), then every panel loaded
                page.wait_for_function(
                    "old => { const i = document.querySelector('#translation img'); return i && i.src !== old; }",
                    arg=previous.get("translation", ""), timeout=60_000)
                sizes = {}
                for panel in ("seen", "translation", "mask", "reconstruction", "composite"):
                    page.wait_for_function(
                        "sel => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
                        arg=f"#{panel} img", timeout=60_000)
                    previous[panel] = page.locator(f"#{panel} img").get_attribute("src")
                    sizes[panel] = page.evaluate(
                        "sel => { const i = document.querySelector(sel); return [i.naturalWidth, i.naturalHeight]; }",
                        f"#{panel} img")
                assert sizes == {"seen": [128, 128], "translation": [128, 128], "mask": [128, 128],
                                 "reconstruction": [128, 128], "composite": [512, 600]}, label
                assert page.locator("#status textarea").input_value().startswith("1 face found")
                page.screenshot(path=str(ARTIFACTS / f"app_{label.split()[0].lower()}.png"), full_page=True)
        finally:
            page.screenshot(path=str(ARTIFACTS / "app_last.png"), full_page=True)  # what the page showed last
            (ARTIFACTS / "app_last.html").write_text(page.content())
            browser.close()
    assert outside == [], f"the page tried to reach outside hosts: {outside}"


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_page_translates_in_half_precision():
    app.load_models(app.DEFAULT_MODEL, "cuda", "auto")
    try:
        G, _ = app.MODELS["AB"]
        assert next(G.parameters()).is_cuda and app.SETTINGS["precision"] in ("fp16", "bf16")
        seen, fake, mask, rec, composite, message = app.translate(str(ASTRONAUT), "AB", True)
        assert fake.size == (128, 128) and composite.size == (512, 512) and message.startswith("1 face found")
    finally:
        app.load_models(app.DEFAULT_MODEL, "cpu", "fp32")


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("spaces") is not None,
                    reason="the spaces package is installed: app.gpu is spaces.GPU there")
def test_gpu_decorator_is_a_no_op_without_spaces():
    assert app.gpu(len) is len
