"""Image-classification datasets (MNIST, CIFAR-10, Fashion-MNIST) as tensors.

Data are found, in order, in ``root`` (argument, else ``$SEMGAME_DATA``), then in the
cache directory (``$XDG_CACHE_HOME/semgame``, default ``~/.cache/semgame``), and finally
downloaded into that cache by torchvision. Inside a root, three layouts are tried:

1. ``<root>/<name>/{train,test}.npz`` holding ``x`` (uint8 ``[N,H,W]`` or ``[N,H,W,3]``)
   and ``y`` (uint8 ``[N]``);
2. for grey-scale sets, the original idx files ``<root>/<name>/{train,t10k}-{images-idx3,
   labels-idx1}-ubyte.gz`` (``fashion-mnist`` is accepted as a folder name too, which is
   what the Debian package ``dataset-fashion-mnist`` ships);
3. torchvision's own layout (``<root>/MNIST/raw``, ``<root>/cifar-10-batches-py``, ...).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.error import URLError

import numpy as np
import torch
from torch.utils.data import TensorDataset

__all__ = [
    "DATASETS",
    "CorruptDataError",
    "DataNotFoundError",
    "DatasetInfo",
    "dataset_info",
    "load_dataset",
    "resolve_root",
    "synthetic_dataset",
]

ENV_VAR = "SEMGAME_DATA"
_SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset: image shape ``(C, H, W)`` and class names."""

    name: str
    shape: tuple[int, int, int]
    num_classes: int
    classes: tuple[str, ...]


_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (1, 28, 28), 10, tuple(str(d) for d in range(10))),
    "cifar10": DatasetInfo("cifar10", (3, 32, 32), 10, _CIFAR10_CLASSES),
    "fashion_mnist": DatasetInfo("fashion_mnist", (1, 28, 28), 10, _FASHION_CLASSES),
}
_ALIASES = {"cifar-10": "cifar10", "fashion-mnist": "fashion_mnist", "fmnist": "fashion_mnist"}
# Folder names searched inside a root, per dataset.
_DIR_NAMES = {"mnist": ("mnist",), "cifar10": ("cifar10",), "fashion_mnist": ("fashion_mnist", "fashion-mnist")}
# torchvision class name and the folder it reads, relative to its root.
_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw"),
}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_PATTERN_SEED = 1234  # fixes the class patterns of synthetic_dataset


class DataNotFoundError(FileNotFoundError):
    """No copy of the requested dataset was found and it could not be downloaded."""


class CorruptDataError(ValueError):
    """A dataset file exists but cannot be read or holds invalid arrays."""


def dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` for ``name`` (case-insensitive, aliases allowed)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[key]


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the data root: ``root`` if given, else ``$SEMGAME_DATA`` if set, else None."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "semgame"


class _Candidate(NamedTuple):
    layout: str  # "npz", "idx" or "torchvision"
    path: Path  # npz file, idx images file, or torchvision root
    place: Path  # what is checked for existence and shown to the user

    def exists(self) -> bool:
        if self.layout == "idx":
            return self.path.is_file() and _idx_labels_path(self.path).is_file()
        return self.place.exists()

    def describe(self) -> str:
        if self.layout == "idx":
            return f"{self.place} (+ {_idx_labels_path(self.path).name}, idx.gz layout)"
        return f"{self.place} ({self.layout} layout)"


def _idx_labels_path(images: Path) -> Path:
    return images.with_name(images.name.replace("images-idx3", "labels-idx1"))


def _candidates(info: DatasetInfo, split: str, root: Path) -> list[_Candidate]:
    dirs = [root / d for d in _DIR_NAMES[info.name]]
    found = [_Candidate("npz", d / f"{split}.npz", d / f"{split}.npz") for d in dirs]
    if info.shape[0] == 1:
        for d in dirs:
            images = d / f"{_IDX_PREFIX[split]}-images-idx3-ubyte.gz"
            found.append(_Candidate("idx", images, images))
    found.append(_Candidate("torchvision", root, root / _TORCHVISION[info.name][1]))
    return found


def _corrupt(path: Path, detail: object) -> CorruptDataError:
    return CorruptDataError(f"corrupt or unreadable dataset file {path}: {detail}")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:  # opened here: np.load leaks its own handle on a bad zip
            if f.read(4) != b"PK\x03\x04":
                raise ValueError("not an .npz (zip) archive")
            f.seek(0)
            with np.load(f) as data:  # allow_pickle stays False
                missing = {"x", "y"} - set(data.files)
                if missing:
                    raise ValueError(f"missing arrays {sorted(missing)} (has {data.files})")
                return data["x"], data["y"]
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile, zlib.error) as exc:
        raise _corrupt(path, exc) from exc  # (MemoryError: a header that claims a huge shape)


def _read_idx(path: Path) -> np.ndarray:
    """Read a gzipped idx file of unsigned bytes (magic ``0x0000080D``, D = ndim)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise _corrupt(path, exc) from exc
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise _corrupt(path, "not an idx file of unsigned bytes (bad magic number)")
    header = 4 + 4 * raw[3]
    if len(raw) < header:
        raise _corrupt(path, "truncated header")
    dims = struct.unpack(f">{raw[3]}I", raw[4:header])
    if len(raw) - header != math.prod(dims):
        raise _corrupt(path, f"{len(raw) - header} data bytes, header says shape {dims}")
    try:
        return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()
    except ValueError as exc:  # more dimensions than NumPy allows
        raise _corrupt(path, exc) from exc


def _read_torchvision(name: str, split: str, root: Path) -> tuple[np.ndarray, np.ndarray]:
    import torchvision  # slow to import, so only when needed

    cls = getattr(torchvision.datasets, _TORCHVISION[name][0])
    ds = cls(root=str(root), train=split == "train", download=False)
    x = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    return x, np.asarray(ds.targets)


def _validate(x: np.ndarray, y: np.ndarray, info: DatasetInfo, source: Path) -> None:
    c, h, w = info.shape
    sample = (h, w) if c == 1 else (h, w, c)
    if x.dtype != np.uint8:
        raise _corrupt(source, f"x must be uint8, got {x.dtype}")
    if x.shape[1:] != sample or x.ndim != len(sample) + 1:
        raise _corrupt(source, f"x must have shape [N,{','.join(map(str, sample))}], got {list(x.shape)}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise _corrupt(source, f"y must be a 1-D integer array, got {y.dtype} {list(y.shape)}")
    if len(x) != len(y):
        raise _corrupt(source, f"x has {len(x)} samples but y has {len(y)}")
    if len(y) == 0:
        raise _corrupt(source, "no samples")
    if y.min() < 0 or y.max() >= info.num_classes:
        raise _corrupt(source, f"labels must be in 0..{info.num_classes - 1}, got {y.min()}..{y.max()}")


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, split: str, layout: str, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    info = DATASETS[name]
    if layout == "npz":
        x, y = _read_npz(path)
    elif layout == "idx":
        x, y = _read_idx(path), _read_idx(_idx_labels_path(path))
    else:
        x, y = _read_torchvision(name, split, path)
    _validate(x, y, info, path)
    images = torch.from_numpy(x)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    images = images.to(torch.float32, memory_format=torch.contiguous_format).div_(255)
    return images, torch.from_numpy(y.astype(np.int64))


def _not_found(info: DatasetInfo, split: str, looked: list[str], last: str) -> str:
    c, h, w = info.shape
    x_shape = f"[N,{h},{w}]" if c == 1 else f"[N,{h},{w},{c}]"
    lines = [f"dataset {info.name!r} (split {split!r}) not found. Looked in:"]
    lines += [f"  - {place}" for place in looked] + [f"  - {last}"]
    lines.append(
        f"To provide the data, set {ENV_VAR}=/path or pass root=...; expected layout "
        f"<root>/{info.name}/{split}.npz (x uint8 {x_shape}, y uint8 [N])"
        + (f", or the original idx .gz files in <root>/{info.name}/" if c == 1 else "")
        + f", or torchvision's layout <root>/{_TORCHVISION[info.name][1]}; "
        "or connect to the internet for torchvision's download."
    )
    return "\n".join(lines)


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> TensorDataset:
    """Load a dataset split as images float32 in [0, 1] ``[N,C,H,W]`` and labels int64 ``[N]``.

    See the module docstring for where data are looked for. Results are cached per process,
    so repeated calls return the same tensors: do not modify them in place (clone first).
    Raises :class:`DataNotFoundError` if no copy is found and the download fails or is
    disabled, and ValueError on an unknown name or split, or on a corrupt file.
    """
    info = dataset_info(name)
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    cache = _cache_dir()
    roots = [r for r in (resolve_root(root), cache) if r is not None]
    looked: list[str] = []
    for r in dict.fromkeys(p.resolve() for p in roots):
        for cand in _candidates(info, split, r):
            looked.append(cand.describe())
            if not cand.exists():
                continue
            try:
                return TensorDataset(*_load_cached(info.name, split, cand.layout, cand.path))
            except RuntimeError as exc:  # torchvision: incomplete or corrupt folder
                looked[-1] += f": unusable ({exc})"
    if not download:
        raise DataNotFoundError(_not_found(info, split, looked, "download disabled (download=False)"))
    try:
        import torchvision

        getattr(torchvision.datasets, _TORCHVISION[info.name][0])(
            root=str(cache), train=split == "train", download=True
        )
    except (URLError, OSError, RuntimeError) as exc:
        msg = _not_found(info, split, looked, f"torchvision download into {cache} failed: {exc}")
        raise DataNotFoundError(msg) from exc
    return TensorDataset(*_load_cached(info.name, split, "torchvision", cache.resolve()))


def synthetic_dataset(name: str, n: int, *, seed: int = 0) -> TensorDataset:
    """Small learnable stand-in for a dataset: ``n`` images in [0, 1] of the real shape.

    Each class has a fixed smooth mean pattern (the same for every ``seed``, so sets made
    with different seeds share classes); ``seed`` draws the balanced labels and the noise.
    """
    info = dataset_info(name)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    c, h, w = info.shape
    patterns = torch.rand(info.num_classes, c, h // 4, w // 4, generator=torch.Generator().manual_seed(_PATTERN_SEED))
    means = torch.nn.functional.interpolate(patterns, size=(h, w), mode="nearest") * 0.8 + 0.1
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % info.num_classes
    labels = labels[torch.randperm(n, generator=gen)]
    noise = torch.randn(n, c, h, w, generator=gen) * 0.15
    return TensorDataset((means[labels] + noise).clamp_(0, 1), labels)
