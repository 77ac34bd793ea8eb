"""Shared fixtures: tiny synthetic images and a miniature CelebA, made on the fly.

Nothing here is real CelebA data; tests that need the real images use `celeba_root`,
which skips when ../shared/celeba is absent.
"""

import csv
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cyclegan.device import CpuThreads  # noqa: E402

SHARED_CELEBA = REPO.parent / "shared" / "celeba"
TINY = dict(ngf=4, n_blocks=1, ndf=4, compile=False)  # networks small enough for a CPU step in milliseconds


def write_images(folder: Path, n: int, size=(40, 48), seed=0, prefix="img") -> list:
    """n random-noise images (RGB JPEG/PNG alternately) with a colour bias per seed."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        arr[..., seed % 3] //= 2
        path = folder / f"{prefix}{i:03d}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(arr).save(path)
        paths.append(path)
    return paths


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_same_networks(a: dict, b: dict) -> None:
    """Two checkpoints (read_checkpoint) hold bit-identical G_AB, G_BA, D_A, D_B."""
    import torch
    for net in ("G_AB", "G_BA", "D_A", "D_B"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), f"{net}.{k}"


CPU_THREADS = CpuThreads()  # the suite runs in a main thread too: it follows the load as training does


def pytest_sessionstart(session):
    CPU_THREADS.apply()


def pytest_runtest_setup(item):
    CPU_THREADS.update()


@pytest.fixture(scope="session", autouse=True)
def temporary_folders_of_the_tools(tmp_path_factory):
    """Gradio's uploads and inductor's compiled kernels go under pytest's temporary folder, not the system's
    (servers the tests start inherit the variables)."""
    saved = {k: os.environ.get(k) for k in ("GRADIO_TEMP_DIR", "TORCHINDUCTOR_CACHE_DIR")}
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("inductor"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def image_folders(tmp_path):
    """Two folders of 6 and 4 synthetic images: (folder_a, folder_b)."""
    a, b = tmp_path / "trainA", tmp_path / "trainB"
    write_images(a, 6, seed=1)
    write_images(b, 4, seed=2)
    return a, b


# Rows of the miniature CelebA: (image_id, partition, Black_Hair, Blond_Hair, Male)
MINI_CELEBA = [
    ("000001.jpg", 0, 1, -1, 1),   # train, black, male
    ("000002.jpg", 0, 1, -1, -1),  # train, black, female
    ("000003.jpg", 0, -1, 1, -1),  # train, blond, female
    ("000004.jpg", 0, 1, 1, -1),   # both: neither domain
    ("000005.jpg", 0, -1, -1, 1),  # neither
    ("000006.jpg", 1, 1, -1, 1),   # val, black
    ("000007.jpg", 1, -1, 1, 1),   # val, blond, male
    ("000008.jpg", 2, -1, 1, -1),  # test, blond
    ("000009.jpg", 0, -1, 1, 1),   # train, blond, male
]


@pytest.fixture
def mini_celeba(tmp_path):
    """A CelebA root in the Kaggle layout with 9 synthetic 178x218 images."""
    root = tmp_path / "celeba"
    images = root / "img_align_celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, *_ in MINI_CELEBA:
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(images / image_id)
    with open(root / "list_eval_partition.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "partition"])
        w.writerows((r[0], r[1]) for r in MINI_CELEBA)
    with open(root / "list_attr_celeba.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "Black_Hair", "Blond_Hair", "Male"])
        w.writerows((r[0], r[2], r[3], r[4]) for r in MINI_CELEBA)
    return root


@pytest.fixture
def celeba_root():
    if not (SHARED_CELEBA / "list_attr_celeba.csv").is_file():
        pytest.skip(f"real CelebA images not found at {SHARED_CELEBA}")
    return SHARED_CELEBA


class Painter(torch.nn.Module):
    """A stand-in attention generator: paints 0.5 wherever a fixed (H, W) mask is on."""
    attention, image_size = True, 32

    def __init__(self, mask):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # translate finds the device from a parameter
        self.register_buffer("mask", mask[None, None].float())

    def forward(self, x, return_mask=False):
        mask = self.mask.expand(len(x), 1, -1, -1)
        y = torch.lerp(x, torch.full_like(x, 0.5), mask)
        return (y, mask) if return_mask else y


def pieces(size=32):
    """A mask of a 10x10 block (the hair), a 2x2 speck (an island) and a soft 4x4 patch at 0.3."""
    mask = torch.zeros(size, size)
    mask[2:12, 2:12] = 1
    mask[20:22, 25:27] = 1
    mask[25:29, 4:8] = 0.3
    return mask
