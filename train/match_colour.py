"""Give a pair of recolouring generators the matched colour: real target hair's, measured on CelebA.

    python train/match_colour.py --weights weights --celeba-root ../shared/celeba

Measures the colour of real hair of each target colour on the train split (cyclegan.evaluation.colour_targets:
the pixels of a domain's photos whose colour is clearly that domain's hair, their L* quantiles and median a*, b*;
what train/run.py --match-colour measures when a run starts) and writes it into each generator's config.json as hair_lightness and hair_ab
(networks.Generator: the colour under the mask becomes the target hair's, the photo's hair lightness mapped
rank by rank onto it; cyclegan.transform). Each generator's folder is written again whole, its weights as they
were (in their precision on disk), its card saying the new colour (with the folder's selection.json table, if
the pair was shipped); --off takes the matched colour out again (the field's own colour). The generators need a
guided mask (guided_radius > 0).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from safetensors import safe_open  # noqa: E402

from cyclegan.checkpoints import save_generator  # noqa: E402
from cyclegan.data import celeba_domains  # noqa: E402
from cyclegan.evaluation import colour_targets  # noqa: E402
from cyclegan.networks import Generator  # noqa: E402

DIRECTIONS = {"black2blond": "AB", "blond2black": "BA"}  # each generator's direction


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="weights", help="folder with black2blond/ and blond2black/ (default %(default)s)")
    parser.add_argument("--celeba-root", help="CelebA in the Kaggle layout (needed unless --off)")
    parser.add_argument("--max-images", type=int, default=2000,
                        help="train photos a domain to measure (default %(default)s)")
    parser.add_argument("--chroma-kept", type=float, default=0.3,
                        help="share of the hair's own a*, b* variation kept around the target's (default %(default)s)")
    parser.add_argument("--off", action="store_true", help="take the matched colour out of the configs")
    args = parser.parse_args(argv)
    folders = {d: Path(args.weights) / d for d in DIRECTIONS}
    missing = [str(f / "config.json") for f in folders.values() if not (f / "config.json").is_file()]
    if missing:
        print(f"error: no generator config at {', '.join(missing)}", file=sys.stderr)
        return 2
    configs = {d: json.loads((f / "config.json").read_text()) for d, f in folders.items()}
    if any(not c.get("guided_radius") for c in configs.values()):
        print("error: matched colour needs generators with a guided mask (guided_radius > 0)", file=sys.stderr)
        return 2
    if args.off:
        for d, config in configs.items():
            for key in ("hair_lightness", "hair_ab", "chroma_kept"):
                config.pop(key, None)
    else:
        if not args.celeba_root:
            print("error: --celeba-root is needed to measure real hair", file=sys.stderr)
            return 2
        try:
            a, b = celeba_domains(args.celeba_root, "Black_Hair", "Blond_Hair", "train")
        except (ValueError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        targets = colour_targets(a, b, configs["black2blond"]["image_size"], args.max_images, args.chroma_kept)
        for d, config in configs.items():
            t = targets[DIRECTIONS[d]]
            config.update(hair_lightness=t["lightness"], hair_ab=t["ab"], chroma_kept=t["kept"])
    selection = Path(args.weights) / "selection.json"  # a shipped pair's: its cards keep the selection table
    card = {"selection": json.loads(selection.read_text())} if selection.is_file() else {}
    for d, config in configs.items():
        rewrite(folders[d], config, card)
        print(f"{folders[d] / 'config.json'}: " + (f"matched colour L* {config['hair_lightness'][0]:.1f}.."
              f"{config['hair_lightness'][-1]:.1f}, a* b* {config['hair_ab'][0]} .. {config['hair_ab'][-1]}" if "hair_lightness" in config
              else "the field's own colour"))
    return 0


def rewrite(folder: Path, config: dict, card: dict) -> None:
    """The generator in `folder` written again whole (checkpoints.save_generator) with `config`'s matched colour,
    so that its card says the colour it now has; its weights unchanged, in the precision they had on disk."""
    with safe_open(folder / "model.safetensors", "pt") as f:
        dtype = f.get_tensor(next(iter(f.keys()))).dtype
    G = Generator.from_pretrained(folder)
    G.set_colour_target({"lightness": config["hair_lightness"], "ab": config["hair_ab"], "kept": config["chroma_kept"]}
                        if "hair_lightness" in config else None)
    training = json.loads((folder / "training.json").read_text()) if (folder / "training.json").is_file() else {}
    save_generator(G.to(dtype), folder, training, **card)


if __name__ == "__main__":
    sys.exit(main())
