"""Translate every image of folders or files with a trained generator.

    python train/translate.py --model weights/black2blond --input photos/ --out out/
    python train/translate.py --model alice/black2blond --input a.jpg b.png --out out/ --triptych
    python train/translate.py --model weights/black2blond --input photos/ --out out/ --face-crop

Writes out/<name>.png for every input. Images of any size are translated whole (the
generator is fully convolutional; padded to a multiple of 4 and cropped back), or with
--resize at the model's own size. --celeba-crop first takes the central square as
CelebA's aligned faces are cropped; --face-crop finds the largest face, translates it as
the web page does and pastes it back into the photo. --triptych also writes
real | translated | reconstructed sheets into out/<a>2<b>2<a>/ (real | translated | mask |
reconstructed for attention generators, the mask white where the model changed the picture),
translating back with the reverse generator (found from the model's card or name, as `load_pair` does).
Unreadable files are reported and skipped; the exit status is 1 when any failed.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cyclegan.data import IMAGE_EXTENSIONS, celeba_crop, list_images, load_image  # noqa: E402
from cyclegan.device import resolve_device, resolve_precision  # noqa: E402
from cyclegan.faces import translate_photo  # noqa: E402
from cyclegan.hub import load_pair  # noqa: E402
from cyclegan.inference import image_to_tensor, mask_to_image_tensor, optimize_for_inference, tensor_to_image, \
    translate  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402


def gather_inputs(inputs: list) -> list:
    """Image files from files and folders (a folder's images directly inside it, sorted)."""
    paths = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += list_images(item)
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"no file or folder {item}")
    return paths


def translate_one(path: Path, G, G_back, args, precision: str):
    """(translation, triptych or None) for one file; ValueError when it cannot be read."""
    photo = load_image(path, max_pixels=args.max_megapixels * 1e6)
    attention = getattr(G, "attention", False)
    if args.face_crop:
        r = translate_photo(photo, G, G_back, crop_face=True, precision=precision, detail=args.detail,
                            drop_islands=args.drop_islands)
        sheet = [r.model_input, r.translation] + ([r.mask.convert("RGB")] if attention else []) + [r.reconstruction]
        return r.composite, sheet
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
    parser.add_argument("--input", nargs="+", required=True, help="image files and/or folders of images "
                                                                   f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    crop = parser.add_mutually_exclusive_group()
    crop.add_argument("--celeba-crop", action="store_true", help="translate the central square, as CelebA is cropped")
    crop.add_argument("--face-crop", action="store_true", help="find the largest face, translate it, paste it back")
    parser.add_argument("--resize", action="store_true", help="resize to the model's image size instead of "
                                                              "translating at the image's own size")
    parser.add_argument("--triptych", action="store_true", help="also write real | translated | reconstructed "
                                                                "sheets (needs the reverse generator)")
    parser.add_argument("--detail", action=argparse.BooleanOptionalAction, default=False,
                        help="keep the photo's fine detail (hair strands) under the model's colours where its mask "
                             "is on, as the web page does (cyclegan.inference.keep_detail; default %(default)s)")
    parser.add_argument("--drop-islands", action=argparse.BooleanOptionalAction, default=True,
                        help="leave the picture alone on the mask's small specks away from the hair, as the web page "
                             "does (cyclegan.inference.mask_islands; default %(default)s)")
    parser.add_argument("--max-megapixels", type=float, default=4.0, help="skip larger images: translating them "
                        "whole takes gigabytes of memory (default %(default)s; use --resize or crop for photos)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default %(default)s)")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16 | fp16 (default %(default)s)")
    args = parser.parse_args(argv)

    try:
        paths = gather_inputs(args.input)
        if args.triptych or args.face_crop:  # the face crop's translate_photo reconstructs too
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

    failed = []
    for path in tqdm(paths, desc=f"{G.source_domain} -> {G.target_domain}", unit="image"):
        try:
            translation, sheet = translate_one(path, G, G_back, args, precision)
        except ValueError as e:
            failed.append(path)
            tqdm.write(f"skipped {path}: {e}")
            continue
        translation.save(args.out / f"{path.stem}.png")
        if args.triptych:
            side_by_side(sheet).save(sheets / f"{path.stem}.png")
    print(f"translated {len(paths) - len(failed)} of {len(paths)} images into {args.out}"
          + (f"; {len(failed)} could not be read: {', '.join(p.name for p in failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
