"""Make docs/astronaut.jpg, the README's picture, from the pair that ships (weights/) through the page's path.

    python docs/make_picture.py            # or --model runs/b2b/black2blond to see another pair

Four panels 300 px high, cropped to her head and shoulders: the public-domain astronaut (dark blond) | that, blond -> black | the same photo with
her hair darkened by hand (examples/astronaut_dark.jpg) | that, black -> blond.
"""

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cyclegan.data import load_image  # noqa: E402
from cyclegan.faces import translate_photo  # noqa: E402
from cyclegan.hub import load_pair  # noqa: E402

HEIGHT, LABEL = 300, 22
HEAD = (96, 0, 416, 320)  # the head and shoulders of the 512x512 photo


def panel(image: Image.Image, text: str) -> Image.Image:
    image = image.crop(HEAD)
    image = image.resize((round(image.width * HEIGHT / image.height), HEIGHT), Image.LANCZOS)
    out = Image.new("RGB", (image.width, HEIGHT + LABEL), "white")
    out.paste(image, (0, LABEL))
    ImageDraw.Draw(out).text((6, 5), text, fill="black")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "weights" / "black2blond"), help="the black -> blond generator")
    parser.add_argument("--out", default=str(REPO / "docs" / "astronaut.jpg"))
    args = parser.parse_args(argv)
    G_AB, G_BA = load_pair(args.model)
    blond, dark = load_image(REPO / "examples" / "astronaut.jpg"), load_image(REPO / "examples" / "astronaut_dark.jpg")
    panels = [panel(blond, "photo (dark blond)"), panel(translate_photo(blond, G_BA, G_AB).composite, "blond -> black"),
              panel(dark, "hair darkened by hand"), panel(translate_photo(dark, G_AB, G_BA).composite, "black -> blond")]
    sheet = Image.new("RGB", (sum(p.width for p in panels), HEIGHT + LABEL), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
