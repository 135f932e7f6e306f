"""Honest leakage evaluation: fresh eavesdroppers trained from scratch against a frozen defence.

An eavesdropper that a defence was optimised against (the *in-loop* one) can look fooled while a
freshly trained one is not. After a defence is frozen, :func:`fresh_eavesdroppers` trains ``K``
new eavesdroppers from random initialisation (each its own seed, its own channel at the
eavesdropper SNR, a fixed budget of ``epochs`` epochs of Adam) on *recorded defended transmissions*
of the training set (the eavesdropper's labelled data), and tests them on the defended test
transmissions. :func:`leakage_report` puts their mean / std / max next to the in-loop
eavesdropper, an eavesdropper trained on the undefended link (transfer), the legitimate accuracy
and PSNR, and chance.

Nonces: training transmission ``i`` uses nonce ``i``, test transmission ``i`` uses
``TEST_NONCE_OFFSET + i``: the eavesdropper never sees a test mask during training.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from semgame.config import ConfigError, LinkConfig
from semgame.data import dataset_info
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper
from semgame.metrics import accuracy, psnr
from semgame.privacy.defences import Defence, Encoded
from semgame.seeds import Stream, eve_seed, seeded_generator
from semgame.training import fit_eavesdropper

__all__ = [
    "TEST_NONCE_OFFSET",
    "COLUMNS",
    "check_k",
    "defend",
    "legit_metrics",
    "eve_accuracy",
    "new_eavesdropper",
    "fresh_eavesdroppers",
    "leakage_report",
]

TEST_NONCE_OFFSET = 1 << 40
COLUMNS = (
    ("defence", "defence"),
    ("eve_snr_db", "eve SNR (dB)"),
    ("legit_acc", "legit acc"),
    ("legit_psnr", "legit PSNR (dB)"),
    ("undefended_legit_acc", "undefended legit acc"),
    ("in_loop_eve_acc", "in-loop eve acc"),
    ("transfer_eve_acc", "undefended eve acc (transfer)"),
    ("fresh_eve_mean", "fresh eve acc mean"),
    ("fresh_eve_std", "fresh eve std"),
    ("fresh_eve_max", "fresh eve max"),
    ("chance", "chance"),
    ("gap_fresh", "legit - fresh mean (pts)"),
    ("tx_power", "tx power"),
)
"""Report columns (key, header) shared by every benchmark table."""


def check_k(k: object) -> int:
    """Validate the number of fresh eavesdroppers."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"the number of fresh eavesdroppers K must be an integer >= 1, got {k!r}")
    return k


@torch.no_grad()
def defend(defence: Defence, enc: Encoded, *, nonce_offset: int = 0, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Defended transmissions of a whole set: ``(x_tx [N, k], nonces [N])`` (nonce ``offset + i``)."""
    nonces = torch.arange(len(enc), dtype=torch.int64) + nonce_offset
    out = []
    for s in range(0, len(enc), batch_size):
        out.append(defence.transmit(enc.x[s : s + batch_size], enc.labels[s : s + batch_size], nonces[s : s + batch_size]))
    return torch.cat(out).detach(), nonces


@torch.no_grad()
def legit_metrics(
    link: SemanticLink, defence: Defence, enc: Encoded, x_tx: Tensor, nonces: Tensor, *, seed: int = 0,
    snr_db: float | None = None, batch_size: int = 512,
) -> dict[str, float]:
    """Legitimate accuracy and PSNR on defended transmissions (seeded legitimate channel)."""
    link.eval()
    receiver = defence.receiver(link)
    receiver.eval()
    gen = seeded_generator(seed, Stream.EVAL_LEGIT_NOISE, device=x_tx.device)
    acc = ps = 0.0
    for s in range(0, len(enc), batch_size):
        y, state = link.channel(x_tx[s : s + batch_size], snr_db=snr_db, generator=gen)
        logits, recon = receiver(defence.receive(link, y, state, nonces[s : s + batch_size]))
        acc += float(accuracy(logits, enc.labels[s : s + batch_size]).sum())
        ps += float(psnr(recon, enc.images[s : s + batch_size].to(recon.device)).sum())
    return {"legit_acc": acc / len(enc), "legit_psnr": ps / len(enc)}


@torch.no_grad()
def eve_accuracy(eve: NeuralEavesdropper, x_tx: Tensor, labels: Tensor, *, seed: int = 0, snr_db: float | None = None,
                 batch_size: int = 1024) -> float:
    """Test accuracy of an eavesdropper on recorded transmissions (its own seeded channel)."""
    eve.eval()
    gen = seeded_generator(seed, Stream.EVAL_EVE_NOISE, device=x_tx.device)
    hits = 0.0
    for s in range(0, len(labels), batch_size):
        hits += float(accuracy(eve(x_tx[s : s + batch_size], snr_db=snr_db, generator=gen), labels[s : s + batch_size]).sum())
    return hits / len(labels)


def new_eavesdropper(cfg: LinkConfig, eve_snr_db: float, seed: int, device: torch.device | str = "cpu") -> NeuralEavesdropper:
    """A freshly initialised eavesdropper (weights from ``seed``; global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_eavesdropper(cfg.replace(eve_snr_db=float(eve_snr_db))).to(device)


def fresh_eavesdroppers(
    cfg: LinkConfig,
    train_tx: Tensor,
    train_labels: Tensor,
    test_tx: Tensor,
    test_labels: Tensor,
    *,
    k: int = 3,
    epochs: int = 5,
    eve_snr_db: float | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``k`` eavesdroppers from scratch on recorded (defended) training transmissions.

    Returns ``accs`` (test accuracy of each), ``mean``, ``std`` (population), ``max``, ``seeds``,
    ``epochs`` and ``seconds``. Eavesdropper ``j`` uses seed ``eve_seed(seed, j) = seed * 1000 + j`` for its
    initialisation, shuffling and channel draws.
    """
    check_k(k)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"fresh eavesdropper epochs must be an integer >= 1, got {epochs!r}")
    snr = cfg.eve_snr if eve_snr_db is None else float(eve_snr_db)
    device = train_tx.device
    data = TensorDataset(train_tx, train_labels)
    accs, seeds, start = [], [], time.perf_counter()
    for j in range(k):
        s = eve_seed(seed, j)
        eve = new_eavesdropper(cfg, snr, s, device)
        fit_eavesdropper(eve, lambda x, y: x, data, epochs=epochs, lr=lr or cfg.lr, batch_size=batch_size or cfg.batch_size,
                         seed=s, device=device)
        accs.append(eve_accuracy(eve, test_tx, test_labels, seed=s))
        seeds.append(s)
    return {
        "accs": accs, "mean": statistics.fmean(accs), "std": statistics.pstdev(accs), "max": max(accs),
        "seeds": seeds, "epochs": epochs, "eve_snr_db": snr, "seconds": time.perf_counter() - start,
    }


def leakage_report(
    link: SemanticLink,
    cfg: LinkConfig,
    defence: Defence,
    train: Encoded,
    test: Encoded,
    *,
    k: int = 3,
    epochs: int = 5,
    eve_snr_db: float | None = None,
    in_loop_eve: NeuralEavesdropper | None = None,
    undefended_eve: NeuralEavesdropper | None = None,
    undefended_legit_acc: float | None = None,
    seed: int = 0,
    fresh_limit: int | None = None,
) -> dict[str, Any]:
    """One table row: legit metrics, in-loop / transfer / fresh eavesdropper accuracy, chance.

    ``in_loop_eve``: the eavesdropper the defence was built against (``None`` -> NaN);
    ``undefended_eve``: one trained on undefended waveforms (transfer; ``None`` -> NaN).
    ``fresh_limit`` caps the number of recorded training transmissions the fresh eavesdroppers get.
    """
    snr = cfg.eve_snr if eve_snr_db is None else float(eve_snr_db)
    t0 = time.perf_counter()
    train_tx, _ = defend(defence, train, nonce_offset=0)
    test_tx, test_nonces = defend(defence, test, nonce_offset=TEST_NONCE_OFFSET)
    defend_s = time.perf_counter() - t0
    legit = legit_metrics(link, defence, test, test_tx, test_nonces, seed=seed)
    n = len(train) if fresh_limit is None else min(fresh_limit, len(train))
    fresh = fresh_eavesdroppers(cfg, train_tx[:n], train.labels[:n], test_tx, test.labels, k=k, epochs=epochs,
                                eve_snr_db=snr, seed=seed)
    nan = math.nan
    row = {
        **defence.describe(),
        "eve_snr_db": snr,
        "legit_snr_db": cfg.snr_db,
        **legit,
        "undefended_legit_acc": nan if undefended_legit_acc is None else undefended_legit_acc,
        "in_loop_eve_acc": nan if in_loop_eve is None else eve_accuracy(in_loop_eve, test_tx, test.labels, seed=seed, snr_db=snr),
        "transfer_eve_acc": nan if undefended_eve is None else eve_accuracy(undefended_eve, test_tx, test.labels, seed=seed, snr_db=snr),
        "fresh_eve_mean": fresh["mean"],
        "fresh_eve_std": fresh["std"],
        "fresh_eve_max": fresh["max"],
        "fresh_eve_accs": fresh["accs"],
        "fresh_eve_seeds": fresh["seeds"],
        "fresh_eve_epochs": epochs,
        "fresh_eve_train_n": n,
        "chance": 1.0 / dataset_info(cfg.dataset).num_classes,
        "seconds_defend": defend_s,
        "seconds_fresh": fresh["seconds"],
    }
    if defence.psr_db is not None:
        c = getattr(getattr(defence, "pert", None), "c", 1.0)
        p = test_tx - test.x * c
        row["psr_measured_db"] = float(10 * torch.log10((p / c).abs().square().sum(-1).mean() / test.x.abs().square().sum(-1).mean()))
    row["gap_fresh"] = 100.0 * (row["legit_acc"] - row["fresh_eve_mean"])
    return row
