"""Translate photos (or whole images) with a trained generator.

    python train/translate.py --model weights/black2blond --input photos/ --out out/
    python train/translate.py --model alice/black2blond --input a.jpg b.png --out out/ --triptych
    python train/translate.py --model weights/black2blond --input crops/ --out out/ --whole
    python train/translate.py --model weights/blond2black --input clip.mov --out out/     # -> out/clip.mp4

By default each photo gets exactly what the web page gives it: the largest face is found,
cropped as CelebA is, translated at the model's size with the photo's own hair texture kept
(--detail) and the mask's islands left out (--drop-islands), and the change pasted back into the
photo at its full resolution. A photo with no face is left out and named at the end. --whole
translates each image whole at its own size instead (the generator is fully convolutional;
padded to a multiple of 4 and cropped back): for data sets of aligned crops such as CelebA's,
with --celeba-crop to take the central square first and --resize to work at the model's size.
Writes out/<name>.png for every image translated. --triptych also writes model input |
translated | reconstructed sheets into out/<a>2<b>2<a>/ (with the mask, white where the model
changed the picture, before the reconstruction for attention generators), translating back with
the reverse generator (found from the model's card or name, as `load_pair` does). Unreadable
files are reported and skipped; the exit status is 1 when any failed.

Video files (VIDEO_EXTENSIONS) are translated frame by frame as the page's video view does
(cyclegan.video: the face followed, the change smoothed over frames) into out/<name>.mp4 with their
frame rate, size and audio kept, without the page's length limit.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cyclegan.data import IMAGE_EXTENSIONS, celeba_crop, list_images, load_image  # noqa: E402
from cyclegan.device import CpuThreads, resolve_device, resolve_precision  # noqa: E402
from cyclegan.faces import translate_photo  # noqa: E402
from cyclegan.hub import load_pair  # noqa: E402
from cyclegan.inference import image_to_tensor, mask_to_image_tensor, optimize_for_inference, tensor_to_image, \
    translate  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402
from cyclegan.video import VIDEO_EXTENSIONS, translate_video  # noqa: E402


def gather_inputs(inputs: list) -> list:
    """Image and video files from files and folders (a folder's images and videos directly inside it, sorted)."""
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += list_images(item, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS, "images or videos")
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"no file or folder {item}")
    return paths


def translate_one(path: Path, G, G_back, args, precision: str):
    """(translation, triptych or None) for one file, or (None, None) for a photo with no face;
    ValueError when it cannot be read or is too small."""
    attention = getattr(G, "attention", False)
    if not args.whole:  # the web page's path
        photo = load_image(path, max_pixels=args.max_megapixels * 1e6)
        r = translate_photo(photo, G, G_back, crop_face=True, precision=precision, detail=args.detail,
                            drop_islands=args.drop_islands)
        if not r.translated:
            return None, None
        sheet = [r.model_input, r.translation] + ([r.mask.convert("RGB")] if attention else []) + [r.reconstruction]
        return r.composite, sheet
    photo = load_image(path, max_pixels=args.max_megapixels * 1e6)
    if args.celeba_crop:
        photo = celeba_crop(photo)
    if args.resize:
        photo = photo.resize((G.image_size, G.image_size), Image.LANCZOS)
    options = {"detail": args.detail, "drop_islands": args.drop_islands}
    if G_back is None:
        return tensor_to_image(translate(G, image_to_tensor(photo), precision, **options)), None
    fake, mask = translate(G, image_to_tensor(photo), precision, return_mask=True, **options)
    rec = translate(G_back, fake, precision, **options)
    translation = tensor_to_image(fake)
    sheet = [photo, translation] + ([tensor_to_image(mask_to_image_tensor(mask))] if attention else [])
    return translation, sheet + [tensor_to_image(rec)]


def translate_one_video(path: Path, G, args, precision: str) -> None:
    """out/<name>.mp4 from a video file, with a progress bar of its frames; ValueError when it cannot be used."""
    if args.whole:
        raise ValueError("--whole is for images; videos are translated around the face, as on the page")
    with tqdm(desc=path.name, unit="frame", leave=False) as bar:
        def progress(done, total):
            args.cpu_threads.update()  # a long clip: follow the load frame by frame
            bar.total = total
            bar.update(done - bar.n)
        info = translate_video(path, args.out / f"{path.stem}.mp4", G, precision, progress, max_seconds=float("inf"),
                               max_pixels=args.max_megapixels * 1e6)
    tqdm.write(f"{path.name}: {info.frames} frames, {info.seconds:.1f} s at {info.fps:g} fps"
               + (f", {info.audio} audio" if info.audio else ", no audio") + f" -> {args.out / (path.stem + '.mp4')}")


def side_by_side(images: list) -> Image.Image:
    sheet = Image.new("RGB", (sum(im.width for im in images), max(im.height for im in images)), "white")
    x = 0
    for im in images:
        sheet.paste(im, (x, 0))
        x += im.width
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="generator folder (save_pretrained) or Hub repo id")
    parser.add_argument("--input", nargs="+", required=True,
                        help="image and video files and/or folders of them (images: "
                             f"{', '.join(sorted(IMAGE_EXTENSIONS))}; videos: {', '.join(sorted(VIDEO_EXTENSIONS))})")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--whole", action="store_true",
                        help="translate each image whole at its own size instead of the face in it (for aligned "
                             "crops such as CelebA's)")
    parser.add_argument("--face-crop", action="store_true", help=argparse.SUPPRESS)  # the default since the page's
    parser.add_argument("--celeba-crop", action="store_true",
                        help="with --whole: translate the central square, as CelebA is cropped")
    parser.add_argument("--resize", action="store_true", help="with --whole: resize to the model's image size instead "
                                                              "of translating at the image's own size")
    parser.add_argument("--triptych", action="store_true", help="also write model input | translated | reconstructed "
                                                                "sheets (needs the reverse generator)")
    parser.add_argument("--detail", action=argparse.BooleanOptionalAction, default=None,
                        help="keep the photo's fine detail (hair strands) under the model's colours where its mask "
                             "is on (cyclegan.inference.keep_detail; default: on for photos, as the web page does; "
                             "off with --whole)")
    parser.add_argument("--drop-islands", action=argparse.BooleanOptionalAction, default=True,
                        help="leave the picture alone on the mask's small specks away from the hair, as the web page "
                             "does (cyclegan.inference.mask_islands; default %(default)s)")
    parser.add_argument("--max-megapixels", type=float, default=None,
                        help="skip larger images (default 25, as the web page; 4 with --whole, where translating "
                             "an image whole takes gigabytes of memory)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default %(default)s)")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (default %(default)s)")
    parser.add_argument("--threads", default="auto", help="CPU threads: auto (default: as many as the cores other "
                        "processes leave free, looked at again every few seconds) or a number to keep")
    args = parser.parse_args(argv)
    try:
        args.cpu_threads = CpuThreads(args.threads)
    except ValueError as e:
        parser.error(f"--threads: {e}")
    args.cpu_threads.apply()  # before the first parallel region
    if args.whole and args.face_crop:
        parser.error("--face-crop (the default) and --whole exclude each other")
    if (args.celeba_crop or args.resize) and not args.whole:
        parser.error("--celeba-crop and --resize go with --whole (photos are cropped around their face)")
    args.detail = not args.whole if args.detail is None else args.detail
    args.max_megapixels = args.max_megapixels or (4.0 if args.whole else 25.0)

    try:
        paths = gather_inputs(args.input)
        if args.triptych or not args.whole:  # the page's path (translate_photo) reconstructs too
            G, G_back = load_pair(args.model)
        else:
            G, G_back = Generator.from_pretrained(args.model), None
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    G = optimize_for_inference(G, str(device), precision)
    G_back = optimize_for_inference(G_back, str(device), precision) if G_back is not None else None
    sheets = args.out / f"{G.source_domain}2{G.target_domain}2{G.source_domain}"
    (sheets if args.triptych else args.out).mkdir(parents=True, exist_ok=True)

    failed, faceless = [], []
    tqdm.write(f"CPU threads: {args.cpu_threads.describe()}")
    for path in tqdm(paths, desc=f"{G.source_domain} -> {G.target_domain}", unit="file"):
        args.cpu_threads.update()
        try:
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                translate_one_video(path, G, args, precision)
                continue
            translation, sheet = translate_one(path, G, G_back, args, precision)
        except ValueError as e:
            failed.append(path)
            tqdm.write(f"skipped {path}: {e}")
            continue
        if translation is None:
            faceless.append(path)
            continue
        translation.save(args.out / f"{path.stem}.png")
        if args.triptych:
            side_by_side(sheet).save(sheets / f"{path.stem}.png")
    done = len(paths) - len(failed) - len(faceless)
    print(f"translated {done} of {len(paths)} files into {args.out}"
          + (f"; no face found in {len(faceless)}, left out (--whole translates whole images): "
             f"{', '.join(p.name for p in faceless)}" if faceless else "")
          + (f"; {len(failed)} could not be used: {', '.join(p.name for p in failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
