"""Copy the snapshot a selection chose into a weights folder: the page's default pair.

    python train/ship.py runs/eval/selection.json weights

SELECTION is the selection.json of `train/evaluate.py --snapshots` (its "chosen" snapshot holds black2blond/
and blond2black/). Each generator is written with save_pretrained in fp16 (half the size; loaded as fp32),
with its training.json and a card that holds the training settings and the selection table; the
selection.json is written beside them with this machine's paths cut to the run's own ("snapshots/step...",
"final"; the classifier relative to the repository). Prints how far the fp16 copy's translations are from the snapshot's. Older generators in the
folder are replaced; move them first to keep them (weights/attention/ holds the previous pair).
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cyclegan.checkpoints import save_generator  # noqa: E402
from cyclegan.inference import translate  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402

DIRECTIONS = ("black2blond", "blond2black")


def run_relative(path: str) -> str:
    """A snapshot's or the run's folder as the run names it, not as this machine does."""
    p = Path(path)
    return f"snapshots/{p.name}" if p.parent.name == "snapshots" else "final"


def ship(selection_file: Path, out: Path) -> dict:
    """Write the chosen pair into `out`; returns {direction: largest fp16-vs-fp32 difference in grey levels}."""
    selection = json.loads(selection_file.read_text())
    snapshot = Path(selection["chosen"])
    missing = [d for d in DIRECTIONS if not (snapshot / d / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(f"the chosen snapshot {snapshot} has no {', '.join(missing)} (with config.json)")
    shipped = {**selection, "chosen": run_relative(selection["chosen"]),
               "reports": {run_relative(k): v for k, v in selection["reports"].items()}}
    classifier = Path(selection.get("settings", {}).get("classifier", ""))
    if classifier.is_relative_to(REPO):  # e.g. weights/classifier
        shipped["settings"] = {**selection["settings"], "classifier": str(classifier.relative_to(REPO))}
    torch.manual_seed(0)
    x = F.interpolate(torch.rand(2, 3, 16, 20) * 2 - 1, size=(64, 80), mode="bicubic").clamp(-1, 1)  # smooth faces
    differences = {}
    for direction in DIRECTIONS:
        source, target = snapshot / direction, out / direction
        training = json.loads((source / "training.json").read_text())
        G = Generator.from_pretrained(source).eval()
        save_generator(Generator.from_pretrained(source).half(), target, training, selection=shipped)
        copy = Generator.from_pretrained(target).eval()
        differences[direction] = float((translate(G, x, "fp32") - translate(copy, x, "fp32")).abs().max()) * 127.5
    (out / "selection.json").write_text(json.dumps(shipped, indent=2) + "\n")
    return differences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("selection", type=Path, help="selection.json of train/evaluate.py --snapshots")
    parser.add_argument("out", type=Path, help="the weights folder to write, e.g. weights")
    args = parser.parse_args(argv)
    try:
        differences = ship(args.selection, args.out)
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for direction, levels in differences.items():
        print(f"{args.out / direction}: fp16 on disk, translations within {levels:.3f} grey levels of the snapshot's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
