"""Tests for semgame.data (small synthetic files; real data only if $SEMGAME_DATA has it)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

from semgame import data
from semgame.data import (
    DataNotFoundError,
    dataset_info,
    load_dataset,
    resolve_root,
    synthetic_dataset,
)

torch.set_num_threads(1)
REAL_ROOT = os.environ.get("SEMGAME_DATA")  # read before any test changes the environment


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch ~/.cache, and never reuse tensors cached by another test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    data._load_cached.cache_clear()


def _raw_shape(name: str, n: int) -> tuple[int, ...]:
    c, h, w = dataset_info(name).shape
    return (n, h, w) if c == 1 else (n, h, w, c)


def _write_npz(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, y=y)
    return path


def _fake_arrays(name: str, n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, _raw_shape(name, n), dtype=np.uint8)
    x.flat[0], x.flat[1] = 0, 255
    return x, rng.integers(0, 10, n, dtype=np.uint8)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(f">4B{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _check_matches(ds: torch.utils.data.TensorDataset, x: np.ndarray, y: np.ndarray) -> None:
    images, labels = ds.tensors
    expected = torch.from_numpy(x).float() / 255
    expected = expected.unsqueeze(1) if x.ndim == 3 else expected.permute(0, 3, 1, 2)
    assert images.dtype == torch.float32 and images.is_contiguous()
    assert labels.dtype == torch.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    torch.testing.assert_close(images, expected)
    assert labels.tolist() == y.tolist()


# --- names, splits, roots --------------------------------------------------------------


def test_dataset_info_and_aliases() -> None:
    assert dataset_info("MNIST").shape == (1, 28, 28)
    assert dataset_info("CIFAR-10") is data.DATASETS["cifar10"]
    assert dataset_info("cifar10").shape == (3, 32, 32)
    for alias in ("fashion-mnist", "FMNIST", "Fashion_MNIST"):
        assert dataset_info(alias).name == "fashion_mnist"
    for info in data.DATASETS.values():
        assert info.num_classes == len(info.classes) == 10
    assert dataset_info("cifar10").classes[3] == "cat"


def test_unknown_dataset_and_bad_split() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'svhn'; choose one of: mnist, cifar10, fashion_mnist"):
        load_dataset("svhn")
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_dataset("mnist", "val")


def test_resolve_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SEMGAME_DATA", raising=False)
    assert resolve_root() is None
    monkeypatch.setenv("SEMGAME_DATA", str(tmp_path / "env"))
    assert resolve_root() == tmp_path / "env"
    assert resolve_root(tmp_path / "arg") == tmp_path / "arg"


# --- layouts ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "cifar10", "fashion_mnist"])
def test_npz_layout_via_root_and_env(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _fake_arrays(name)
    _write_npz(tmp_path / name / "test.npz", x, y)
    ds = load_dataset(name, "test", root=tmp_path, download=False)
    c, h, w = dataset_info(name).shape
    assert ds.tensors[0].shape == (12, c, h, w) and len(ds) == 12
    _check_matches(ds, x, y)

    monkeypatch.setenv("SEMGAME_DATA", str(tmp_path))
    again = load_dataset(name, "test", download=False)
    assert again.tensors[0] is ds.tensors[0]  # cached within the process


@pytest.mark.parametrize("folder", ["fashion_mnist", "fashion-mnist"])
def test_fashion_idx_gz_layout(folder: str, tmp_path: Path) -> None:
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = _fake_arrays("fashion_mnist", n=7, seed=len(split))
        _write_idx(tmp_path / folder / f"{prefix}-images-idx3-ubyte.gz", x)
        _write_idx(tmp_path / folder / f"{prefix}-labels-idx1-ubyte.gz", y)
        _check_matches(load_dataset("fmnist", split, root=tmp_path, download=False), x, y)


def test_npz_is_preferred_over_idx(tmp_path: Path) -> None:
    x, y = _fake_arrays("fashion_mnist", n=5)
    _write_npz(tmp_path / "fashion_mnist" / "train.npz", x, y)
    _write_idx(tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz", x[:2])
    _write_idx(tmp_path / "fashion_mnist" / "train-labels-idx1-ubyte.gz", y[:2])
    _check_matches(load_dataset("fashion_mnist", root=tmp_path, download=False), x, y)  # all 5, from the npz


# --- corrupt data ----------------------------------------------------------------------


def test_garbage_and_truncated_npz(tmp_path: Path) -> None:
    bad = tmp_path / "mnist" / "train.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(ValueError, match=r"corrupt or unreadable dataset file .*train\.npz"):
        load_dataset("mnist", root=tmp_path, download=False)

    good = _write_npz(tmp_path / "mnist" / "test.npz", *_fake_arrays("mnist", n=50))
    good.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"corrupt or unreadable dataset file .*test\.npz"):
        load_dataset("mnist", "test", root=tmp_path, download=False)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((4, 28, 27), np.uint8), np.zeros(4, np.uint8), r"x must have shape \[N,28,28\]"),
        (np.zeros((4, 1, 28, 28), np.uint8), np.zeros(4, np.uint8), r"x must have shape"),
        (np.zeros((4, 28, 28), np.float32), np.zeros(4, np.uint8), "x must be uint8"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8), "x has 4 samples but y has 3"),
        (np.zeros((4, 28, 28), np.uint8), np.full(4, 10, np.uint8), r"labels must be in 0\.\.9"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros((4, 1), np.uint8), "y must be a 1-D integer array"),
    ],
)
def test_invalid_arrays(x: np.ndarray, y: np.ndarray, message: str, tmp_path: Path) -> None:
    _write_npz(tmp_path / "mnist" / "train.npz", x, y)
    with pytest.raises(ValueError, match=message) as err:
        load_dataset("mnist", root=tmp_path, download=False)
    assert str(tmp_path / "mnist" / "train.npz") in str(err.value)


def test_npz_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "cifar10" / "train.npz"
    path.parent.mkdir()
    np.savez(path, images=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"missing arrays \['x', 'y'\]"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_corrupt_idx(tmp_path: Path) -> None:
    folder = tmp_path / "fashion_mnist"
    x, y = _fake_arrays("fashion_mnist", n=3)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", y)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:  # header says 4 images, data has 3
        f.write(struct.pack(">4B3I", 0, 0, 8, 3, 4, 28, 28) + x.tobytes())
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: .*header says shape"):
        load_dataset("fashion_mnist", root=tmp_path, download=False)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"corrupt or unreadable dataset file .*train-images"):
        load_dataset("fashion_mnist", root=tmp_path, download=False)


# --- missing data ----------------------------------------------------------------------


def test_missing_data_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("mnist", "test", root=tmp_path / "nowhere", download=False)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert str(tmp_path / "nowhere" / "mnist" / "test.npz") in message
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    assert str(tmp_path / "xdg-cache" / "semgame" / "mnist" / "test.npz") in message
    assert "SEMGAME_DATA=/path" in message and "root=" in message
    assert "download disabled" in message


def test_incomplete_torchvision_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataNotFoundError, match="cifar-10-batches-py \\(torchvision layout\\): unusable"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_failed_download_becomes_data_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torchvision = pytest.importorskip("torchvision")

    def offline(self: object) -> None:
        raise URLError("no network")

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", offline)
    monkeypatch.delenv("SEMGAME_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match=r"(?s)cifar-10-batches-py.*no network.*SEMGAME_DATA") as err:
        load_dataset("cifar10", "test")
    assert isinstance(err.value.__cause__, URLError)


# --- real data (only where $SEMGAME_DATA holds it) -------------------------------------


@pytest.mark.parametrize(
    "name, first_labels",
    [("mnist", [7]), ("cifar10", [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]), ("fashion_mnist", [9, 2, 1, 1, 6])],
)
def test_real_test_split(name: str, first_labels: list[int]) -> None:
    if not REAL_ROOT:
        pytest.skip("SEMGAME_DATA is not set")
    folders = [Path(REAL_ROOT) / d for d in data._DIR_NAMES[name]]
    if not any((f / "test.npz").is_file() or (f / "t10k-images-idx3-ubyte.gz").is_file() for f in folders):
        pytest.skip(f"no {name} test split under SEMGAME_DATA={REAL_ROOT}")
    images, labels = load_dataset(name, "test", root=REAL_ROOT, download=False).tensors
    assert images.shape == (10_000, *dataset_info(name).shape)
    assert labels[: len(first_labels)].tolist() == first_labels
    assert images.min() == 0.0 and images.max() == 1.0
    assert torch.bincount(labels).numel() == 10


# --- synthetic data and splits ---------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_synthetic_dataset(name: str) -> None:
    ds = synthetic_dataset(name, 200, seed=3)
    images, labels = ds.tensors
    assert images.shape == (200, *dataset_info(name).shape) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and torch.bincount(labels).tolist() == [20] * 10
    assert images.min() >= 0.0 and images.max() <= 1.0
    same = synthetic_dataset(name, 200, seed=3).tensors
    assert torch.equal(same[0], images) and torch.equal(same[1], labels)
    other = synthetic_dataset(name, 200, seed=4).tensors
    assert not torch.equal(other[0], images)

    # Classes share their patterns across seeds, so class means from one set classify another.
    means = torch.stack([images[labels == k].mean(0) for k in range(10)]).flatten(1)
    predicted = torch.cdist(other[0].flatten(1), means).argmin(1)
    assert (predicted == other[1]).float().mean() > 0.95


def test_synthetic_dataset_rejects_empty() -> None:
    with pytest.raises(ValueError, match="n must be positive"):
        synthetic_dataset("mnist", 0)
