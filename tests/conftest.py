"""Shared pytest set-up for semgame.

* torch uses one CPU thread for the whole session (the test machine has 2 cores shared by
  several people, and these small models are faster single-threaded anyway).
* ``synthetic_root`` (session scope): a data root in the layout of the shared data folder,
  built from :func:`semgame.data.synthetic_dataset`, so tests can train and evaluate end to end
  without real data or a network. Use it as ``root=`` / ``data_root=`` / ``SEMGAME_DATA``.
* ``tiny_link`` (session scope): a tiny link trained once on it (``tiny_link_flags``: its config as
  CLI flags); ``cli``: ``semgame`` run in-process.
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


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli(argv) -> (exit status, stdout, stderr)``: ``semgame argv`` run in-process (items made ``str``)."""
    from helpers import run_cli

    return lambda argv: run_cli(argv, capsys)


#: The config of the ``tiny_link`` fixture (as ``semgame`` flags: the ``tiny_link_flags`` fixture).
TINY_LINK = {"dataset": "mnist", "k": 8, "width": 4, "batch_size": 64}


@pytest.fixture(scope="session")
def tiny_link_flags() -> list[str]:
    """``TINY_LINK`` as ``semgame`` flags: ``["--dataset", "mnist", "--k", "8", ...]``."""
    return [s for key, value in TINY_LINK.items() for s in (f"--{key.replace('_', '-')}", str(value))]


@pytest.fixture(scope="session")
def tiny_link(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """A tiny MNIST link (``TINY_LINK``, 3 epochs, 1 eavesdropper epoch) trained once on ``synthetic_root``.

    Returns ``(cfg, link, eve, train, test, run_dir)``: the loaded config, the frozen link and its
    eavesdropper, the encoded train and test sets (:class:`~semgame.privacy.defences.Encoded`) and the run
    folder. Shared by the session: do not modify.
    """
    from semgame.config import LinkConfig
    from semgame.loader import load_run
    from semgame.privacy.defences import encode
    from semgame.run import load_data, train_run

    run = tmp_path_factory.mktemp("tiny-link")
    train_run(LinkConfig(**TINY_LINK, epochs=3, eve_epochs=1, data_root=str(synthetic_root)), run, quiet=True)
    cfg, link, eve = load_run(run)
    link.requires_grad_(False)
    train, test = load_data(cfg)
    return cfg, link, eve, encode(link, train), encode(link, test), run


@pytest.fixture(scope="session")
def leakage_pair(tiny_link):
    """``leakage_pair(defence, k=, epochs=) -> (undefended row, defended row)`` of ``tiny_link``.

    Two :func:`~semgame.privacy.leakage.leakage_report` rows, ``tiny_link``'s eavesdropper as the transfer
    one: the undefended link (1 fresh eavesdropper) and ``defence`` (``k`` fresh eavesdroppers, with the
    undefended legitimate accuracy); ``epochs`` per fresh eavesdropper.
    """
    from semgame.privacy.defences import NoDefence
    from semgame.privacy.leakage import leakage_report

    cfg, link, eve, train, test, _ = tiny_link

    def pair(defence, *, k: int, epochs: int) -> tuple[dict, dict]:
        base = leakage_report(link, cfg, NoDefence(), train, test, k=1, epochs=epochs, undefended_eve=eve)
        kw = {"k": k, "epochs": epochs, "undefended_eve": eve, "undefended_legit_acc": base["legit_acc"]}
        return base, leakage_report(link, cfg, defence, train, test, **kw)

    return pair
