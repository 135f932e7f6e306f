"""Shared pytest set-up for semgame.

* torch uses one CPU thread for the whole session (the test machine has 2 cores shared by
  several people, and these small models are faster single-threaded anyway).
* ``synthetic_root`` (session scope): a data root in the layout of the shared data folder,
  built from :func:`semgame.data.synthetic_dataset`, so tests can train and evaluate end to end
  without real data or a network. Use it as ``root=`` / ``data_root=`` / ``SEMGAME_DATA``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semgame.data import dataset_info, synthetic_dataset

torch.set_num_threads(1)

#: Sizes of the synthetic splits written by ``synthetic_root``.
SYNTHETIC_SIZES = {"train": 512, "test": 256}
#: Datasets written by ``synthetic_root``.
SYNTHETIC_DATASETS = ("mnist", "cifar10")


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)


def write_synthetic_npz(path: Path, name: str, n: int, seed: int) -> Path:
    """Write ``n`` images of :func:`synthetic_dataset` as ``path`` (an ``.npz`` with ``x``, ``y``).

    ``x`` is uint8 ``[N,H,W]`` (grey) or ``[N,H,W,3]`` (colour), ``y`` uint8 ``[N]``: the
    format of the shared data folder (see its README).
    """
    images, labels = synthetic_dataset(name, n, seed=seed).tensors
    x = (images * 255).round().clamp(0, 255).to(torch.uint8)  # [N, C, H, W]
    x = x[:, 0] if dataset_info(name).shape[0] == 1 else x.permute(0, 2, 3, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=np.ascontiguousarray(x.numpy()), y=labels.numpy().astype(np.uint8))
    return path


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention data root with small learnable stand-ins for the real sets.

    Layout (the same as ``$SEMGAME_DATA``)::

        <root>/mnist/train.npz    x uint8 [512,28,28]    y uint8 [512]
        <root>/mnist/test.npz     x uint8 [256,28,28]    y uint8 [256]
        <root>/cifar10/train.npz  x uint8 [512,32,32,3]  y uint8 [512]
        <root>/cifar10/test.npz   x uint8 [256,32,32,3]  y uint8 [256]

    Images come from :func:`semgame.data.synthetic_dataset` (fixed class patterns plus noise,
    balanced labels, seed 0 for train and 1 for test), so a small model learns them in an epoch
    or two. Shared by the whole session: do not write into it (make your own folder for
    corrupt-file tests).
    """
    root = tmp_path_factory.mktemp("synthetic-data")
    for name in SYNTHETIC_DATASETS:
        for seed, (split, n) in enumerate(SYNTHETIC_SIZES.items()):
            write_synthetic_npz(root / name / f"{split}.npz", name, n, seed)
    return root
