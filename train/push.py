"""Publish a trained pair of generators to the Hugging Face Hub, and deploy the page as a Space.

    python train/push.py weights alice/black2blond             # weights/black2blond -> alice/black2blond,
                                                              # weights/blond2black -> alice/blond2black
    python train/push.py runs/ngf32 alice/b2b --direction black2blond --reverse-repo-id alice/b2b-reverse
    python train/push.py weights alice/black2blond --space alice/black2blond-demo   # the pair, then the Space
    python train/push.py --space alice/black2blond-demo        # the Space alone (--models: a published pair)

The Space gets app.py, cyclegan/, weights/, examples/, requirements.txt, .gitattributes
(binary files as LFS) and README.md, whose front matter then names the published pair
(`models:`), shown on the Hub and linked from the page. Tests, runs and caches stay home.

Each repo gets config.json, model.safetensors, training.json (when the folder has one), a
model card (README.md) generated from them and from eval.json (train/evaluate.py), and a
sample image: an example face translated and reconstructed. The token comes from --token,
else HF_TOKEN or the login cached by `hf auth login`. Exit status 0 when both repos were
published, 1 when the Hub refused or failed (the message says what was published), 2 for
bad arguments.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from cyclegan.cards import reverse_repo_id  # noqa: E402
from cyclegan.hub import HubPushError, push_pair, push_space  # noqa: E402

DEFAULT_SAMPLE = REPO / "examples" / "astronaut_face.jpg"


def add_push_options(parser: argparse.ArgumentParser) -> None:
    """The publishing flags shared with train/run.py --push-to-hub."""
    parser.add_argument("--reverse-repo-id", help="repo of the opposite direction (default: the mirror name in the "
                                                  "same namespace, e.g. alice/blond2black for alice/black2blond)")
    parser.add_argument("--private", action="store_true", help="create the repos as private (if they are new)")
    parser.add_argument("--token", help="Hub token with write access (default: HF_TOKEN, else the cached login)")
    parser.add_argument("--commit-message", help="commit message (default: 'Upload <name>')")
    parser.add_argument("--revision", help="branch to push to, created when missing (default: main)")
    parser.add_argument("--sample-image", type=Path, default=DEFAULT_SAMPLE,
                        help="face photo shown translated in the model cards (default: the public-domain "
                             "examples/astronaut_face.jpg)")
    parser.add_argument("--no-sample", action="store_true", help="no sample image in the cards")


def push(folders, repo_id: str, evaluation_file: Path, args: argparse.Namespace, selection_file: Path = None) -> int:
    """Publish; print the commit URLs or the error. Returns the exit status."""
    evaluation = json.loads(evaluation_file.read_text()) if evaluation_file and evaluation_file.is_file() else None
    selection = json.loads(selection_file.read_text()) if selection_file and selection_file.is_file() else None
    sample = None if args.no_sample else args.sample_image
    if sample is not None and not Path(sample).is_file():
        print(f"error: no sample image at {sample} (pass --sample-image or --no-sample)", file=sys.stderr)
        return 2
    try:
        urls = push_pair(folders, repo_id, args.reverse_repo_id, evaluation=evaluation, selection=selection,
                         sample_image=sample,
                         private=args.private or None, token=args.token, commit_message=args.commit_message,
                         revision=args.revision)
    except HubPushError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for url in urls:
        print(f"published {url}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, nargs="?", help="folder holding the two generator folders, e.g. "
                                                              "weights/ or a train/run.py --out folder")
    parser.add_argument("repo_id", nargs="?", help="Hub repo for the forward direction, e.g. alice/black2blond")
    parser.add_argument("--space", help="also deploy the page to this Gradio Space, e.g. alice/black2blond-demo "
                                        "(created when missing)")
    parser.add_argument("--models", nargs="+", default=[], help="with --space alone: the published pair the "
                                                                 "Space names, e.g. alice/black2blond alice/blond2black")
    parser.add_argument("--direction", help="forward generator folder inside WEIGHTS (default: the repo "
                                            "name, e.g. black2blond)")
    parser.add_argument("--eval", type=Path, help="evaluation for the cards (default: WEIGHTS/eval.json if present)")
    parser.add_argument("--selection", type=Path, help="the snapshot selection the pair was chosen by, for the cards "
                                                      "(train/evaluate.py --snapshots; default: WEIGHTS/selection.json "
                                                      "if present)")
    add_push_options(parser)
    args = parser.parse_args(argv)
    if (args.weights is None) != (args.repo_id is None) or not (args.repo_id or args.space):
        parser.error("give WEIGHTS and REPO_ID to publish a pair, --space to deploy the page, or both")
    models = args.models
    if args.repo_id:
        status, models = push_weights(args)
        if status:
            return status
    if args.space:
        try:
            url = push_space(args.space, REPO, models, private=args.private or None, token=args.token,
                             commit_message=args.commit_message)
        except HubPushError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"deployed {url}" + (f" (naming {', '.join(models)})" if models else ""))
    return 0


def push_weights(args: argparse.Namespace) -> tuple:
    """The pair in args.weights to args.repo_id and its mirror: (exit status, the two repo ids)."""
    direction = args.direction or args.repo_id.rsplit("/", 1)[-1]
    forward = args.weights / direction
    available = sorted(p.parent.name for p in args.weights.glob("*/config.json"))
    if not (forward / "config.json").is_file():
        print(f"error: no generator folder {forward} (with config.json); {args.weights} holds "
              f"{available or 'no generator folders'}; pass --direction", file=sys.stderr)
        return 2, []
    config = json.loads((forward / "config.json").read_text())
    backward = args.weights / f"{config['target_domain']}2{config['source_domain']}"
    if not (backward / "config.json").is_file():
        print(f"error: no generator folder {backward} for the opposite direction", file=sys.stderr)
        return 2, []
    reverse = args.reverse_repo_id or reverse_repo_id(args.repo_id, config["source_domain"], config["target_domain"])
    status = push((forward, backward), args.repo_id, args.eval or args.weights / "eval.json", args,
                  args.selection or args.weights / "selection.json")
    return status, [args.repo_id, reverse]


if __name__ == "__main__":
    sys.exit(main())
