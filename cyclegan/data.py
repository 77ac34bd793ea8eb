"""Unpaired two-domain image data: folders or a CelebA attribute selection.

Every random choice (which B image goes with an A image, crop offsets, flips) is a
pure function of (seed, epoch, index), so a resumed run sees exactly the batches an
uninterrupted one would, with any number of loader workers.

Images leave this module as float (3, H, W) tensors in [-1, 1].
"""

import csv
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset, Sampler
from tqdm import tqdm

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".gif"}
CELEBA_PARTITIONS = {"train": 0, "val": 1, "test": 2}
CELEBA_CROP = 178  # aligned CelebA images are 178x218; the central square holds face and hair

# What PIL raises for files that are not images, truncated or absurdly large.
IMAGE_ERRORS = (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError)


@dataclass
class Domain:
    """One side of the unpaired data: a name ("black") and its image files."""

    name: str
    paths: list
    male: list = field(default_factory=list)  # CelebA Male attribute per image (bool), when known

    def __post_init__(self):
        if not self.paths:
            raise ValueError(f"domain '{self.name}' has no images")


def list_images(folder, extensions=IMAGE_EXTENSIONS, kind: str = "images") -> list:
    """The image files (by extension; or other `kind`s of files by theirs) directly inside `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in extensions and p.is_file())
    if not paths:
        raise ValueError(f"image folder {folder} holds no {kind} ({', '.join(sorted(extensions))})")
    return paths


def folder_domains(data_a, data_b, name_a=None, name_b=None):
    """Two folders of images -> (Domain A, Domain B); names default to the folder names."""
    a, b = Path(data_a), Path(data_b)
    return Domain(name_a or a.name, list_images(a)), Domain(name_b or b.name, list_images(b))


def celeba_image_dir(root) -> Path:
    """The folder of CelebA's JPEGs: the Kaggle layout nests img_align_celeba twice."""
    root = Path(root)
    for d in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba"):
        if d.is_dir():
            return d
    raise FileNotFoundError(f"{root} has no img_align_celeba/img_align_celeba/ folder: is it a CelebA root?")


def _read_csv(path: Path) -> list:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a CelebA root needs list_attr_celeba.csv and list_eval_partition.csv")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_celeba_labels(root):
    """(rows of list_attr_celeba.csv as dicts of "1"/"-1", {image_id: official partition 0/1/2})."""
    root = Path(root)
    attrs = _read_csv(root / "list_attr_celeba.csv")
    partition = {r["image_id"]: int(r["partition"]) for r in _read_csv(root / "list_eval_partition.csv")}
    return attrs, partition


def celeba_domains(root, attr_a="Black_Hair", attr_b="Blond_Hair", split="train", name_a=None, name_b=None):
    """Select two CelebA domains by attribute, in one official partition.

    An image belongs to A when `attr_a` is 1 and `attr_b` is -1, to B the other way
    round; images with both or neither are left out.

    Args:
        root (`str` or `Path`): CelebA in the Kaggle layout (img_align_celeba/img_align_celeba/,
            list_attr_celeba.csv, list_eval_partition.csv).
        attr_a (`str`, defaults to "Black_Hair"): attribute of domain A.
        attr_b (`str`, defaults to "Blond_Hair"): attribute of domain B.
        split (`str`, defaults to "train"): "train", "val" or "test" (the official partition).
        name_a, name_b (`str`, optional): domain names; default "black" for "Black_Hair" etc.
    """
    if split not in CELEBA_PARTITIONS:
        raise ValueError(f"split must be one of {sorted(CELEBA_PARTITIONS)}, got {split!r}")
    root = Path(root)
    image_dir = celeba_image_dir(root)
    attrs, partition = read_celeba_labels(root)
    columns = set(attrs[0]) - {"image_id"} if attrs else set()
    for attr in (attr_a, attr_b):
        if attr not in columns:
            raise ValueError(f"unknown CelebA attribute {attr!r}; choose from {sorted(columns)}")
    if attr_a == attr_b:
        raise ValueError(f"attr_a and attr_b must differ, both are {attr_a!r}")

    wanted = CELEBA_PARTITIONS[split]
    selected = {"a": ([], []), "b": ([], [])}
    missing = 0
    for row in attrs:
        if partition.get(row["image_id"]) != wanted:
            continue
        a, b = row[attr_a] == "1", row[attr_b] == "1"
        if a == b:
            continue
        path = image_dir / row["image_id"]
        if not path.is_file():
            missing += 1
            continue
        paths, male = selected["a" if a else "b"]
        paths.append(path)
        male.append(row.get("Male") == "1")
    if missing:
        warnings.warn(f"{missing} images listed in {root / 'list_attr_celeba.csv'} are not in {image_dir}; skipped")
    default_name = lambda attr: attr.split("_")[0].lower()  # Black_Hair -> black
    return (
        Domain(name_a or default_name(attr_a), *selected["a"]),
        Domain(name_b or default_name(attr_b), *selected["b"]),
    )


def load_image(path, max_pixels: int = None) -> Image.Image:
    """Open any image PIL reads as 8-bit RGB, upright by its EXIF orientation.

    Raises ValueError naming the file when it is unreadable, truncated or not an image,
    and when it has more than `max_pixels` pixels (checked before decoding).
    """
    try:
        with Image.open(path) as im:
            size = im.size
            if not max_pixels or size[0] * size[1] <= max_pixels:
                im.load()
                ImageOps.exif_transpose(im, in_place=True)  # in place: a phone photo is not copied twice
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit greyscale: scale to 8 bits
                    arr = np.asarray(im, dtype=np.float64)
                    im = Image.fromarray((arr / max(arr.max(), 1) * 255).round().astype(np.uint8))
                return im if im.mode == "RGB" else im.convert("RGB")
    except Image.DecompressionBombError as e:  # raised by Image.open itself past twice PIL's limit
        raise ValueError(f"image {path} has too many pixels to decode safely: {e}") from e
    except IMAGE_ERRORS as e:
        raise ValueError(f"cannot read image {path}: {e}") from e
    raise ValueError(f"image {path} is {size[0]}x{size[1]} pixels, more than the {max_pixels / 1e6:.0f} "
                     "megapixels allowed; scale it down first")


def celeba_crop(im: Image.Image) -> Image.Image:
    """The central square of an aligned CelebA image (178x178 of 178x218), any size scaled alike."""
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    return im.crop((left, top, left + side, top + side))


def celeba_full_height(image_size: int) -> int:
    """The height, a multiple of 4, of a whole aligned CelebA image (178x218) scaled to `image_size` wide."""
    return max(4, round(image_size * 218 / 178 / 4) * 4)


def domain_images(domain: Domain, image_size: int):
    """uint8 (N, 3, S, S) of CelebA's central square, resized, and the Male labels and paths of those read (the
    evaluation's and the matched colour's view of a domain)."""
    ds = UnpairedDataset(domain, domain, image_size=image_size, preprocess="celeba", train=False, cache=True)
    images, readable = ds.cache["A"]
    ok = readable.tolist()
    return (images[readable], [m for m, k in zip(domain.male, ok) if k], [p for p, k in zip(domain.paths, ok) if k])


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL RGB -> uint8 (3, H, W)."""
    return torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float().div(127.5).sub(1.0)


def load_size_for(image_size: int) -> int:
    """The paper's jitter: resize to 286 then random-crop 256, i.e. 1.117x."""
    return int(round(image_size * 286 / 256))


class UnpairedDataset(Dataset):
    """Unpaired A/B images: item (epoch, i) is A[i mod |A|] with a random B.

    Its length is max(|A|, |B|); B is drawn independently of A (the reference's
    serial_batches=False) from an RNG seeded by (seed, epoch, i), as are crops and flips.

    Args:
        domain_a, domain_b (`Domain`): the image lists.
        image_size (`int`, defaults to 128): output side in pixels.
        preprocess (`str`, defaults to "celeba"): "celeba" (central 178x178 square, resize),
            "celeba_full" (the whole aligned 178x218 image, resized to image_size wide: the hair above,
            beside and below the face, as a recolouring model sees it on the page), "resize_crop" (resize to 1.117x, random crop: the paper's jitter) or "resize"
            (plain resize, for evaluation).
        train (`bool`, defaults to True): random horizontal flips and crops; False gives fixed views.
        seed (`int`, defaults to 0): seed of every random choice.
        cache (`bool`, defaults to False): decode every image once, up front, and keep it
            resized as uint8 in memory (`cache_bytes()` says how much); items then cost a
            slice and a flip instead of a JPEG decode.
        balance_male (`bool`, defaults to False): in training, draw both A and B at random with
            men and women equally likely in each domain (needs `Domain.male`). CelebA's blond
            images are 93% female and its black-haired ones 54% male; without balancing the
            generators learn "blond means female".
    """

    PREPROCESS = ("celeba", "celeba_full", "resize_crop", "resize")

    def __init__(self, domain_a: Domain, domain_b: Domain, image_size=128, preprocess="celeba", train=True, seed=0,
                 cache=False, balance_male=False):
        if preprocess not in self.PREPROCESS:
            raise ValueError(f"preprocess must be one of {self.PREPROCESS}, got {preprocess!r}")
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a positive multiple of 4, got {image_size}")
        self.domains = {"A": domain_a, "B": domain_b}
        self.image_size, self.preprocess, self.train, self.seed = image_size, preprocess, train, seed
        self.unreadable = set()  # per process: files that failed, so each is warned about once
        self.cache = {}  # "A"/"B" -> (uint8 (n, 3, s, s) images, bool (n,) readable)
        self.groups = {}  # "A"/"B" -> index arrays of women and men, when balancing
        if balance_male:
            for side, d in self.domains.items():
                if len(d.male) != len(d.paths):
                    raise ValueError(f"balancing by gender needs the Male attribute of every image of domain "
                                     f"'{d.name}' (CelebA data); folders of images do not have it")
                male = np.asarray(d.male, dtype=bool)
                self.groups[side] = [g for g in (np.flatnonzero(~male), np.flatnonzero(male)) if len(g)]
        if cache:
            self.fill_cache()

    def __len__(self):
        return max(len(d.paths) for d in self.domains.values())

    @property
    def stored_shape(self) -> tuple:
        """(height, width) of the decoded images before the random part (crop, flip)."""
        if self.preprocess == "celeba_full":
            return celeba_full_height(self.image_size), self.image_size
        side = load_size_for(self.image_size) if self.preprocess == "resize_crop" and self.train else self.image_size
        return side, side

    def cache_bytes(self) -> int:
        h, w = self.stored_shape
        return sum(len(d.paths) for d in self.domains.values()) * 3 * h * w

    def _decode(self, path):
        """The deterministic part: decode, crop, resize to uint8 (3, h, w) (stored_shape); None if unreadable."""
        try:
            im = load_image(path)
        except ValueError as e:
            warnings.warn(f"skipping unreadable image: {e}")
            return None
        if self.preprocess == "celeba":
            im = celeba_crop(im)
        h, w = self.stored_shape
        return to_tensor(im.resize((w, h), Image.BICUBIC))

    def fill_cache(self, progress: bool = True) -> None:
        """Decode every image once, on all cores (Pillow decodes without holding the GIL)."""
        for side, domain in self.domains.items():
            if side == "B" and domain is self.domains["A"]:  # one list used for both sides
                self.cache["B"] = self.cache["A"]
                continue
            n, (h, w) = len(domain.paths), self.stored_shape
            images, readable = torch.zeros(n, 3, h, w, dtype=torch.uint8), torch.zeros(n, dtype=torch.bool)
            pool = ThreadPoolExecutor(os.cpu_count())
            try:
                decoded = pool.map(self._decode, domain.paths)
                for j, x in enumerate(tqdm(decoded, total=n, desc=f"decoding {domain.name}", disable=not progress)):
                    if x is not None:
                        images[j], readable[j] = x, True
            finally:  # on Ctrl-C the queued decodes are dropped, not waited for
                pool.shutdown(wait=False, cancel_futures=True)
            self.cache[side] = (images, readable)

    def _load(self, side: str, index: int) -> torch.Tensor:
        """Image `index` of a domain as uint8 (3, h, w); an unreadable file gives way to the next one."""
        paths = self.domains[side].paths
        for k in range(len(paths)):
            j = (index + k) % len(paths)
            if side in self.cache:
                images, readable = self.cache[side]
                if readable[j]:
                    return images[j]
            elif paths[j] not in self.unreadable:
                x = self._decode(paths[j])
                if x is not None:
                    return x
                self.unreadable.add(paths[j])
        raise ValueError(f"every image of this domain is unreadable ({len(paths)} files, e.g. {paths[0]})")

    def _augment(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        s = self.image_size
        if self.preprocess != "celeba_full" and (x.shape[-1] > s or x.shape[-2] > s):  # random crop (train) or centre crop
            top, left = (rng.integers(x.shape[-2] - s + 1), rng.integers(x.shape[-1] - s + 1)) if self.train else (
                (x.shape[-2] - s) // 2, (x.shape[-1] - s) // 2)
            x = x[:, top:top + s, left:left + s]
        if self.train and rng.random() < 0.5:
            x = x.flip(-1)
        return x

    def _balanced_index(self, side: str, rng: np.random.Generator) -> int:
        """A random group (women or men), then a random image of it."""
        groups = self.groups[side]
        group = groups[rng.integers(len(groups))]
        return int(group[rng.integers(len(group))])

    def __getitem__(self, key):
        """key = (epoch, i) from EpochSampler, or a plain i (epoch 0)."""
        epoch, i = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, epoch, i])
        n_a, n_b = len(self.domains["A"].paths), len(self.domains["B"].paths)
        if self.train and self.groups:
            i_a, j = self._balanced_index("A", rng), self._balanced_index("B", rng)
        else:
            i_a, j = i % n_a, int(rng.integers(n_b)) if self.train else i % n_b
        real_a = self._augment(self._load("A", i_a), rng)
        real_b = self._augment(self._load("B", j), rng)
        return {"A": to_float(real_a), "B": to_float(real_b)}  # each (3, S, S) in [-1, 1] ((3, H, S) with celeba_full)


class EpochSampler(Sampler):
    """Yields (epoch, index) keys: a fresh permutation every epoch, seeded by (seed, epoch).

    Args:
        n (`int`): dataset length.
        seed (`int`, defaults to 0): permutation seed.
        epoch_size (`int`, optional): items per epoch; fewer than n takes a new random
            subset each epoch (useful when a full pass is longer than you want between
            lr updates, samples and checkpoints), more repeats the data.
        shuffle (`bool`, defaults to True): False yields 0..n-1 in order.
        rank (`int`), world_size (`int`), defaults 0 and 1: under torchrun, this rank's shard:
            every world_size-th key of the epoch from key `rank`, cut so every rank has
            as many (a tail of under world_size keys is skipped). Batch k of each rank
            together are then exactly batch k of a single process with world_size times
            the batch size.
    """

    def __init__(self, n: int, seed: int = 0, epoch_size=None, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1):
        if epoch_size is not None and epoch_size < 1:
            raise ValueError(f"epoch_size must be positive, got {epoch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank {rank} of {world_size}")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch_size = epoch_size or n
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0):
        """Iterate epoch `epoch` from its item `start`, counted over all ranks (to resume mid-epoch)."""
        self.epoch, self.start = epoch, start

    def __len__(self):
        return (self.epoch_size - self.start) // self.world_size

    def __iter__(self):
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch, 7919])
            order = np.concatenate([rng.permutation(self.n) for _ in range(math.ceil(self.epoch_size / self.n))])
        else:
            order = np.arange(self.epoch_size) % self.n
        keys = order[self.start:self.epoch_size]
        for i in keys[self.rank:len(self) * self.world_size:self.world_size]:
            yield (self.epoch, int(i))


def should_cache(mode: str, nbytes: int) -> bool:
    """--cache auto|on|off: auto caches when the images take under half the available memory."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"cache must be auto, on or off, got {mode!r}")
    if mode != "auto":
        return mode == "on"
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on Linux: be conservative
        return False
    return nbytes < available // 2


def augment_drawn(images: torch.Tensor, masks: torch.Tensor) -> tuple:
    """A random view of drawn faces and their hair (n, 3, H, W) in [-1, 1], (n, 1, H, W) in [0, 1], for teaching a
    mask on a few hundred of them (train/teach_mask.py): one random zoom (0.8-1.25x), shift (up to 15% of the side
    each way) and mirror per face, the same for image and hair, as the page's hair window frames a face at varying
    scale and place; and a random saturation (0.6-1.4x), contrast (0.75-1.3x) and brightness (0.8-1.2x) of the image,
    so the mask follows the hair's shape more than one camera's colours. Uses torch's global random generator."""
    n = len(images)
    zoom = torch.exp(torch.empty(n).uniform_(math.log(0.8), math.log(1.25)))
    mirror = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    shift_x, shift_y = torch.empty(n).uniform_(-0.15, 0.15), torch.empty(n).uniform_(-0.15, 0.15)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = zoom * mirror, zoom, shift_x, shift_y
    grid = torch.nn.functional.affine_grid(theta, images.shape, align_corners=False)
    images = torch.nn.functional.grid_sample(images, grid, padding_mode="border", align_corners=False)
    masks = torch.nn.functional.grid_sample(masks, grid, padding_mode="border", align_corners=False)
    u = (images + 1) / 2
    grey = u.mean(1, keepdim=True)
    u = grey + torch.empty(n, 1, 1, 1).uniform_(0.6, 1.4) * (u - grey)  # saturation
    mean = u.mean((1, 2, 3), keepdim=True)
    u = mean + torch.empty(n, 1, 1, 1).uniform_(0.75, 1.3) * (u - mean)  # contrast
    u = u * torch.empty(n, 1, 1, 1).uniform_(0.8, 1.2)  # brightness
    return u.clamp(0, 1) * 2 - 1, masks
