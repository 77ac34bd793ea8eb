"""Redraw a training run's reports from its files: losses.png from losses.csv, samples.gif from samples/.

    python train/report.py runs/black2blond

train/run.py refreshes both at every sample grid; this redraws them for a finished or
copied run, or after editing losses.csv. It draws what the run has (a run without sample
grids gets losses.png alone) and exits 2 only when it can draw nothing.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from cyclegan.reports import write_reports  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a train/run.py --out folder")
    args = parser.parse_args(argv)
    if not (args.run_dir / "losses.csv").is_file():
        print(f"error: {args.run_dir} has no losses.csv; is it a train/run.py output folder?", file=sys.stderr)
        return 2
    written = write_reports(args.run_dir)  # what the run has: e.g. no sample grid yet
    for path in written:
        print(f"wrote {path}")
    for name, source in (("losses.png", "no rows in losses.csv"), ("samples.gif", "no sample grids in samples/")):
        if args.run_dir / name not in written:
            print(f"no {name}: {source}")
    return 0 if written else 2


if __name__ == "__main__":
    sys.exit(main())
