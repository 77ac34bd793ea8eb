"""Sheets to look at: val photos upscaled as a phone's would be, through the page's path, with pairs side by side.

    python train/look.py weights ~/b2b-runs/b2b --celeba-root ../shared/celeba --out ~/b2b-look

Takes COUNT photos of each domain of CelebA's val split from FIRST on (by default 12 from the 301st: the first 300
are the ones train/evaluate.py scores with --max-images 300), upscales each SCALE times (bicubic; 4x makes a
178x218 face a 712x872 photo), recolours it as the web page does (cyclegan.faces.translate_photo with its defaults:
face found, hair window recoloured at the photo's resolution, islands dropped) with each pair given, and writes
<out>/<domain>_<k>.png: four photos a sheet, a row each (photo | pair 1 | pair 2 ...), every picture at half the
upscaled size, the file name above. Issue [16] asks that these be looked at and described: at this size a glow
beside the hair, a band, a two-tone head or a cast shows where the model's 64 px does not. CelebA is for
non-commercial research: keep the sheets out of any repository.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from tqdm import tqdm  # noqa: E402

from cyclegan.data import celeba_domains, load_image  # noqa: E402
from cyclegan.faces import translate_photo  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402

ROWS = 4  # photos a sheet
LABEL = 14  # pixels above each row for the file name


def sheets(photos: list, pairs: list, scale: int) -> list:
    """Sheets (PIL images) of `photos` (PIL RGB) upscaled `scale` times, each beside its translation by every
    (G, G_back) in `pairs`, ROWS photos a sheet, pictures at half the upscaled size."""
    out = []
    for start in range(0, len(photos), ROWS):
        rows = photos[start:start + ROWS]
        w, h = (rows[0].width * scale) // 2, (rows[0].height * scale) // 2
        sheet = Image.new("RGB", (w * (1 + len(pairs)), (h + LABEL) * len(rows)), "white")
        for r, photo in enumerate(rows):
            big = photo.resize((photo.width * scale, photo.height * scale), Image.BICUBIC)
            with torch.no_grad():
                cells = [big] + [translate_photo(big, G, G_back).composite for G, G_back in pairs]
            for c, cell in enumerate(cells):
                sheet.paste(cell.resize((w, h), Image.LANCZOS), (w * c, (h + LABEL) * r + LABEL))
            ImageDraw.Draw(sheet).text((2, (h + LABEL) * r), photo.info.get("name", ""), fill="black")
        out.append(sheet)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", help="folders with black2blond/ and blond2black/ (weights/, a run's "
                        "folder or one of its snapshots/step*/)")
    parser.add_argument("--celeba-root", required=True, help="CelebA in the Kaggle layout")
    parser.add_argument("--out", required=True, help="folder for the sheets (outside the repository)")
    parser.add_argument("--first", type=int, default=300, help="the val photos from this one on (default %(default)s)")
    parser.add_argument("--count", type=int, default=12, help="photos of each domain (default %(default)s)")
    parser.add_argument("--scale", type=int, default=4, help="upscaling (default %(default)s)")
    args = parser.parse_args(argv)
    if args.first < 0 or args.count < 1 or args.scale < 1:
        parser.error("--first must be 0 or more, --count and --scale at least 1")
    try:
        black, blond = celeba_domains(args.celeba_root, "Black_Hair", "Blond_Hair", "val")
        for folder in args.pairs:
            for name in ("black2blond", "blond2black"):
                if not (Path(folder) / name / "config.json").is_file():
                    raise FileNotFoundError(f"no generator at {Path(folder) / name} (config.json missing)")
        loaded = [{name: Generator.from_pretrained(Path(folder) / name).eval()
                   for name in ("black2blond", "blond2black")} for folder in args.pairs]
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for domain, forward, back in ((black, "black2blond", "blond2black"), (blond, "blond2black", "black2blond")):
        paths = domain.paths[args.first:args.first + args.count]
        if not paths:
            print(f"error: the val split has {len(domain.paths)} {domain.name} photos, none from {args.first} on",
                  file=sys.stderr)
            return 2
        photos = []
        for path in tqdm(paths, desc=f"{domain.name} photos"):
            photo = load_image(path)
            photo.info["name"] = Path(path).name
            photos.append(photo)
        pairs = [(G[forward], G[back]) for G in loaded]
        for k, sheet in enumerate(sheets(photos, pairs, args.scale)):
            sheet.save(out / f"{domain.name}_{k}.png")
            print(f"wrote {out / f'{domain.name}_{k}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
