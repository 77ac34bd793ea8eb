"""Checkpoint files: written atomically, read without unpickling anything but tensors and plain data.

What a checkpoint holds is `Trainer.state_dict()`; this module only moves it to and from disk.
"""

import copy
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import torch

CHECKPOINT_VERSION = 1  # version-1 checkpoints before distributed training load too (one pool pair, world 1)


def write_atomically(state: dict, path) -> None:
    """torch.save into a temporary file in the same folder, fsync, then rename over `path`: a process
    killed at any moment leaves either the old checkpoint or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_folder(folder, write) -> None:
    """write(tmp) fills a fresh temporary folder beside `folder`, which then takes its place: a process killed at
    any moment leaves the old folder or the new one whole, and nothing of the old one is left in the new."""
    folder = Path(folder)
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def save_generator(G, folder, training: dict, mask_gain: float = None, **card) -> None:
    """A generator's folder, whole and fresh (replace_folder): save_pretrained's config.json, model.safetensors and
    model card (README.md, from `training` and `card`, e.g. selection=...), and training.json. Fresh matters:
    save_pretrained keeps a README.md already in a folder, the previous generator's card. With `mask_gain` the
    saved generator's mask is steepened so (Generator.set_mask_gain), not G's: training goes on with the plain one."""
    if mask_gain is not None and mask_gain != G.mask_gain:
        G = copy.deepcopy(G)
        G.set_mask_gain(mask_gain)

    def write(tmp: Path):
        G.save_pretrained(tmp, model_card_kwargs={"training": training, **card})
        (tmp / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    replace_folder(folder, write)


def remove_stale_temporaries(path) -> list:
    """Delete the temporaries of `path` that save_checkpoint left when its process was killed mid-write
    (kill -9 or a lost machine: `.checkpoint.pt.tmp<pid>`, often tens of MB), those of processes that
    no longer run; nothing else of the folder. Returns [(file name, bytes)] of what was removed."""
    path, removed = Path(path), []
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        pid = tmp.name[len(f".{path.name}.tmp"):]
        if not pid.isdigit() or int(pid) == os.getpid() or process_exists(int(pid)):
            continue
        removed.append((tmp.name, tmp.stat().st_size))
        tmp.unlink(missing_ok=True)
    return removed


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process is there
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but another user's
        return True
    return True


def read_checkpoint(path) -> dict:
    """torch.load with weights_only=True (no arbitrary unpickling), with a clear error when corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise ValueError(f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); it may be truncated") from e


class StopFlag:
    """SIGINT/SIGTERM ask the loop to stop after the current step, so the checkpoint is consistent."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def restore(self):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step, then stopping", file=sys.stderr)
