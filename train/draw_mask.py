"""Draw hair masks by eye as polygons (hair_masks/*.json), one CelebA face at a time.

    python train/draw_mask.py grid 000017.jpg --out /tmp/grid.png
    python train/draw_mask.py check 000017.jpg --polygon "50,95 50,78 ... 56,96" --out /tmp/check.png
    python train/draw_mask.py add hair_masks/train.json 000017.jpg --domain black --about "woman, light wall" \\
        --polygon "50,95 50,78 ... 56,96"
    python train/draw_mask.py agree hair_masks/val.json hair_masks/val_second.json

`grid` draws the aligned photo (178x218) at 3x with a grid every 10 of its pixels, numbered every 20, to read
polygon points off; `check` draws the polygon and the mask it snaps to (cyclegan.evaluation.drawn_mask: what the
evaluator and --lambda-drawn use) over the same picture; `add` stores the polygon in a mask file (made if missing,
a face already there replaced); `agree` scores two drawings of the same faces against each other (IoU at the
model's 64x80, as the masks are scored, and the share of the pixels outside the first's hair the second takes in:
how far two people agree). Only the polygons are stored: the pictures go
where --out says (never into the repository: CelebA is for non-commercial research). A polygon goes once round the
hair: the outer edge, then back along the hairline and round the face.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from cyclegan.data import celeba_image_dir, load_image  # noqa: E402
from cyclegan.evaluation import drawn_mask, drawn_training_set, load_hair_masks, mask_iou  # noqa: E402

SCALE = 3  # the pictures' pixels a photo pixel
STEP = 10  # a grid line every STEP photo pixels, numbered every 2 STEP
SIZE = (178, 218)  # CelebA's aligned images


def parse_polygon(text: str) -> list:
    """"x,y x,y ..." -> [(x, y), ...], or a ValueError naming the point that is not one."""
    points = []
    for token in text.replace(";", " ").split():
        try:
            x, y = (float(v) for v in token.split(","))
        except ValueError:
            raise ValueError(f"{token!r} is not a point x,y") from None
        if not (0 <= x <= SIZE[0] and 0 <= y <= SIZE[1]):
            raise ValueError(f"{token!r} lies outside the {SIZE[0]}x{SIZE[1]} photo")
        points.append((x, y))
    if len(points) < 3:
        raise ValueError(f"a polygon needs 3 or more points, got {len(points)}")
    return points


def grid_picture(photo: Image.Image) -> Image.Image:
    """The photo at SCALE x with a grid every STEP photo pixels, numbered every 2 STEP along the top and left."""
    big = photo.convert("RGB").resize((photo.width * SCALE, photo.height * SCALE), Image.NEAREST)
    draw = ImageDraw.Draw(big)
    for v in range(0, max(photo.size) + 1, STEP):
        colour = (255, 255, 0) if v % (2 * STEP) == 0 else (0, 255, 255)
        if v <= photo.width:
            draw.line([(v * SCALE, 0), (v * SCALE, big.height)], fill=colour, width=1)
            if v % (2 * STEP) == 0:
                draw.text((v * SCALE + 2, 2), str(v), fill=(255, 0, 0))
        if v <= photo.height:
            draw.line([(0, v * SCALE), (big.width, v * SCALE)], fill=colour, width=1)
            if v % (2 * STEP) == 0:
                draw.text((2, v * SCALE + 2), str(v), fill=(255, 0, 0))
    return big


def check_picture(photo: Image.Image, polygon: list) -> Image.Image:
    """grid_picture with the snapped mask tinted red and the polygon drawn in green, its points numbered."""
    hair = drawn_mask(polygon, photo).numpy()
    pixels = np.asarray(photo.convert("RGB"), np.float32)
    pixels[hair] = 0.5 * pixels[hair] + 0.5 * np.array([255, 0, 0], np.float32)
    big = grid_picture(Image.fromarray(pixels.astype(np.uint8)))
    draw = ImageDraw.Draw(big)
    scaled = [(x * SCALE, y * SCALE) for x, y in polygon]
    draw.line(scaled + scaled[:1], fill=(0, 255, 0), width=2)
    for k, (x, y) in enumerate(scaled):
        draw.text((x + 3, y + 3), str(k), fill=(0, 255, 0))
    return big


def add(path: Path, image: str, domain: str, about: str, polygon: list) -> int:
    """Store the polygon of `image` in the mask file at `path` (made if missing); returns how many faces it holds."""
    if path.exists():
        load_hair_masks(path)  # a clear error for a file that is not a mask file, before it is written
        data = json.loads(path.read_text())
    else:
        data = {"about": "Hair masks drawn by hand (train/draw_mask.py); only the polygons, never the images.",
                "image_size": list(SIZE), "masks": []}
    entry = {"image": image, "domain": domain, "about": about, "polygon": [[round(x, 1), round(y, 1)] for x, y in polygon]}
    data["masks"] = [m for m in data["masks"] if m["image"] != image] + [entry]
    path.write_text(mask_file_text(data))
    return len(data["masks"])


def agreement(first, second, celeba_root) -> dict:
    """{"black": (IoU, outside), "blond": ...}: two drawings of the same faces (mask files naming the same faces, in
    the same order) scored against each other at the model's size: evaluation.mask_iou of their drawn_training_set
    masks, and the mean share of the pixels outside the first drawing's hair that the second takes in (what the
    evaluator's "outside" asks of a model)."""
    a, b = load_hair_masks(first), load_hair_masks(second)
    if [(n, d) for n, (d, _) in a.items()] != [(n, d) for n, (d, _) in b.items()]:
        raise ValueError(f"{first} and {second} do not name the same faces and colours in the same order")
    names = ("black", "blond")
    ma, mb = drawn_training_set(first, celeba_root, 64, names), drawn_training_set(second, celeba_root, 64, names)
    scores = {}
    for name, key in zip(names, "AB"):
        hair, other = ma[key][1] >= 0.5, mb[key][1] >= 0.5
        outside = ((other & ~hair).flatten(1).sum(1) / (~hair).flatten(1).sum(1).clamp(min=1)).mean().item()
        scores[name] = (mask_iou(mb[key][1], ma[key][1]), outside)
    return scores


def mask_file_text(data: dict) -> str:
    """A mask file's JSON as hair_masks/*.json lay it out: a face a few lines, its polygon on one (diffs stay small)."""
    def number(v):
        return int(v) if float(v).is_integer() else v

    faces = []
    for m in data["masks"]:
        fields = [f'   "{k}": {json.dumps(m[k])}' for k in m if k != "polygon"]
        fields.append(f'   "polygon": {json.dumps([[number(x), number(y)] for x, y in m["polygon"]])}')
        faces.append("  {\n" + ",\n".join(fields) + "\n  }")
    head = [f' "{k}": {json.dumps(v)}' for k, v in data.items() if k != "masks"]
    return "{\n" + ",\n".join(head + [' "masks": [\n' + ",\n".join(faces) + "\n ]"]) + "\n}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--celeba-root", default="../shared/celeba", help="CelebA in the Kaggle layout (default %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("grid", "check"):
        p = sub.add_parser(name)
        p.add_argument("image", help="a file name of img_align_celeba, e.g. 000017.jpg")
        p.add_argument("--out", required=True, help="where to write the picture (outside the repository)")
        if name == "check":
            p.add_argument("--polygon", required=True, help='"x,y x,y ..." in the photo\'s pixels')
    p = sub.add_parser("agree")
    p.add_argument("first", help="a mask file, e.g. hair_masks/val.json")
    p.add_argument("second", help="another drawing of the same faces, e.g. hair_masks/val_second.json")
    p = sub.add_parser("add")
    p.add_argument("file", help="the mask file, e.g. hair_masks/train.json")
    p.add_argument("image")
    p.add_argument("--domain", required=True, help="the face's hair colour, e.g. black or blond")
    p.add_argument("--about", default="", help="a few words on the face (hair, background)")
    p.add_argument("--polygon", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            print(f"{args.file}: {add(Path(args.file), args.image, args.domain, args.about, parse_polygon(args.polygon))} faces")
            return 0
        if args.command == "agree":
            for name, (iou, outside) in agreement(args.first, args.second, args.celeba_root).items():
                print(f"{name}: IoU {iou:.3f}, the second outside the first's hair {outside:.1%}")
            return 0
        photo = load_image(celeba_image_dir(args.celeba_root) / args.image)
        if photo.size != SIZE:
            raise ValueError(f"{args.image} is {photo.size[0]}x{photo.size[1]}, not CelebA's aligned {SIZE[0]}x{SIZE[1]}")
        picture = grid_picture(photo) if args.command == "grid" else check_picture(photo, parse_polygon(args.polygon))
        picture.save(args.out)
        print(f"wrote {args.out}")
        return 0
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
