"""Compare two pairs' evaluations figure by figure: is the new pair as good as the old, within noise?

    python train/compare.py runs/eval-new/eval.json weights/eval.json

Both files come from train/evaluate.py on the same faces (same --split, --max-images and, for the page's
figures, --page). For every figure of every direction, on the model's crop, on the page's path and against the
hand-drawn hair (page/drawn_masks, when both scored the same drawn faces) when both have it, prints the old
and the new value, the difference, and the old figure's standard error over the faces (the "se"
train/evaluate.py writes): a figure passes when the new pair is better or worse by at most one standard error.
"Better" is higher for success, gender kept, PSNR, SSIM and the drawn masks' IoU, lower for the hair left, the
change outside the drawn hair and the faces without a face found, and closer to 1 for the strands (the page's
fine detail over the photo's). Exits 1 when any figure fails, 2 when the files cannot be compared.

One standard error is a strict bar: two equally good pairs, each measured with noise, differ by
more than the old figure's standard error about a quarter of the time, so over twenty figures a
few misses are chance. The last line says how many misses chance alone would give (from both
files' standard errors), to read the count of failures against.
"""

import argparse
import json
import math
import sys
from pathlib import Path

LOWER_IS_BETTER = {"hair_left", "hair_left_photo", "faces_over_third_left", "no_face", "outside"}
CLOSER_TO_ONE = {"strands"}  # the result's fine detail over the photo's: 1 keeps the photo's texture
PATHS = ("model", "page", "drawn")  # the model on its crop; the page's path on whole photos; the page against the
# hand-drawn hair (its figures under page/drawn_masks)


def chance_of_miss(se_old: float, se_new: float) -> float:
    """The probability that a pair as good as the old one measures worse by more than se_old: the difference
    of two independent estimates of the same value has standard deviation sqrt(se_old^2 + se_new^2)."""
    spread = math.hypot(se_old, se_new)
    return 0.5 * (1 + math.erf(-se_old / spread / math.sqrt(2))) if spread else 0.0


def figures_of(direction: dict, path: str):
    """One direction's figures on a path (PATHS; "drawn": the page's against the hand-drawn hair), or None."""
    return direction.get("page", {}).get("drawn_masks") if path == "drawn" else direction.get(path)


def compare(new: dict, old: dict) -> list:
    """Rows (direction, path, figure, old, new, difference, standard error, chance of a miss, passes) of the
    figures both have; the chance is chance_of_miss's, with the new figure's standard error when it has one."""
    rows = []
    for direction, old_d in old.items():
        if not (isinstance(old_d, dict) and "model" in old_d):
            continue
        new_d = new.get(direction)
        if new_d is None:
            raise ValueError(f"the new evaluation has no {direction}")
        if new_d["n"] != old_d["n"]:
            raise ValueError(f"{direction}: {new_d['n']} faces against {old_d['n']}: evaluate both on the same faces")
        for path in PATHS:
            old_p, new_p = figures_of(old_d, path), figures_of(new_d, path)
            if old_p is None or new_p is None:
                continue
            if path == "drawn" and not (old_p["n"] and old_p["n"] == new_p["n"]):
                continue  # drawn masks of other faces (another mask file): not comparable
            if "se" not in old_p:
                raise ValueError(f"the old evaluation has no standard errors ({direction}, {path}): evaluate it again "
                                 "with this train/evaluate.py")
            for figure, se in old_p["se"].items():
                was, now = old_p[figure], new_p[figure]
                gain = (was - now) if figure in LOWER_IS_BETTER else (now - was)
                if figure in CLOSER_TO_ONE:
                    gain = abs(was - 1) - abs(now - 1)
                chance = chance_of_miss(se, new_p.get("se", {}).get(figure, se))
                rows.append((direction, path, figure, was, now, now - was, se, chance, not gain < -se))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", type=Path, help="eval.json of the candidate pair")
    parser.add_argument("old", type=Path, help="eval.json of the pair it would replace")
    args = parser.parse_args(argv)
    try:
        new, old = (json.loads(path.read_text()) for path in (args.new, args.old))
        rows = compare(new, old)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{'direction':12} {'path':5} {'figure':26} {'old':>8} {'new':>8} {'new-old':>8} {'1 SE':>7}")
    for direction, path, figure, was, now, difference, se, _, passes in rows:
        print(f"{direction:12} {path:5} {figure:26} {was:8.4f} {now:8.4f} {difference:+8.4f} {se:7.4f}"
              f"{'' if passes else '  worse by more than 1 SE'}")
    failed = [row for row in rows if not row[-1]]
    print(f"{len(rows) - len(failed)} of {len(rows)} figures better or within one standard error")
    chance = sum(row[-2] for row in rows if not math.isnan(row[-2]))
    print(f"{len(failed)} worse by more than one; a pair as good as the old one would be, by chance, about "
          f"{chance:.1f} times")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
