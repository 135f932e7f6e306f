"""Honest leakage evaluation: fresh eavesdroppers trained from scratch against a frozen defence.

An eavesdropper that a defence was optimised against (the *in-loop* one) can look fooled while a
freshly trained one is not. After a defence is frozen, :func:`fresh_eavesdroppers` trains ``K``
new eavesdroppers from random initialisation (each its own seed, its own channel at the
eavesdropper SNR, a fixed budget of ``epochs`` epochs of Adam) on *recorded defended transmissions*
of the training set (the eavesdropper's labelled data), and tests them on the defended test
transmissions. :func:`leakage_report` puts their mean / std / max next to the in-loop
eavesdropper, an eavesdropper trained on the undefended link (transfer), the legitimate accuracy
and PSNR, and chance. ``model="strong"`` trains :class:`~semgame.privacy.strong_eve.CSIEavesdropper`
instead (its own CSI as input, a normalised 3x512 MLP, up to ``epochs`` epochs with early stopping on a
held-out tenth of its training transmissions).

Every row also carries the physical ceiling of keyless privacy (:mod:`semgame.privacy.ceiling`):
``a_max`` (the legitimate receiver's accuracy on the row's transmissions at :data:`AMAX_SNR_DB`),
``ceiling_pts`` with that ``a_max``, ``ceiling_pts_amax1`` with ``a_max = 1``, ``fraction_of_ceiling``
(``gap_fresh / ceiling_pts``) and ``ceiling_flag`` when the fresh gap lies above a ceiling (the fresh
eavesdroppers are under-trained). Not-applicable ceilings are ``None`` with ``ceiling_note`` saying why.

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

from semgame.config import ConfigError, LinkConfig, check_int, check_lr
from semgame.data import dataset_info
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper, make_channel
from semgame.metrics import accuracy, psnr
from semgame.privacy.ceiling import ceiling
from semgame.privacy.defences import Defence, Encoded
from semgame.privacy.perturbation import check_waveforms
from semgame.privacy.strong_eve import CSIEavesdropper
from semgame.seeds import MAX_FRESH_EVES, Stream, eve_seed, seeded_generator
from semgame.training import fit_eavesdropper, train_eavesdropper_epoch

__all__ = [
    "TEST_NONCE_OFFSET",
    "AMAX_SNR_DB",
    "FRESH_MODELS",
    "KEYED_KINDS",
    "COLUMNS",
    "check_k",
    "defend",
    "legit_metrics",
    "eve_accuracy",
    "new_eavesdropper",
    "fit_early_stopping",
    "fresh_eavesdroppers",
    "ceiling_columns",
    "leakage_report",
]

TEST_NONCE_OFFSET = 1 << 40
AMAX_SNR_DB = 80.0
"""SNR at which ``a_max`` (the noiseless accuracy) is measured: below 30 dB effective for 1e-5 of fades."""
FRESH_MODELS = ("standard", "strong")
"""Fresh eavesdroppers: the project's :class:`~semgame.link.NeuralEavesdropper` (fixed epochs) or the
stronger :class:`~semgame.privacy.strong_eve.CSIEavesdropper` (early stopping)."""
KEYED_KINDS = ("keyed", "rotation")
"""Defence kinds that use a key (the keyless ceiling does not apply to them)."""
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
    ("a_max", "a_max"),
    ("ceiling_pts", "ceiling (pts)"),
    ("ceiling_pts_amax1", "ceiling a_max=1 (pts)"),
    ("fraction_of_ceiling", "fraction of ceiling"),
    ("tx_power", "tx power"),
)
"""Report columns (key, header) shared by every benchmark table."""


def check_k(k: object) -> int:
    """Validate the number of fresh eavesdroppers (at most :data:`~semgame.seeds.MAX_FRESH_EVES`: their seeds
    stay apart from the surrogate's and the undefended eavesdropper's)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_FRESH_EVES:
        raise ConfigError(f"the number of fresh eavesdroppers K must be an integer in [1, {MAX_FRESH_EVES}], got {k!r}")
    return k


@torch.no_grad()
def defend(defence: Defence, enc: Encoded, *, nonce_offset: int = 0, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Defended transmissions of a whole set: ``(x_tx [N, k], nonces [N])`` (nonce ``offset + i``)."""
    nonces = torch.arange(len(enc), dtype=torch.int64) + nonce_offset
    out = []
    for s in range(0, len(enc), batch_size):
        out.append(
            defence.transmit(enc.x[s : s + batch_size], enc.labels[s : s + batch_size], nonces[s : s + batch_size])
        )
    return torch.cat(out).detach(), nonces


@torch.no_grad()
def legit_metrics(
    link: SemanticLink,
    defence: Defence,
    enc: Encoded,
    x_tx: Tensor,
    nonces: Tensor,
    *,
    seed: int = 0,
    snr_db: float | None = None,
    batch_size: int = 512,
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
def _accuracy(
    eve: torch.nn.Module,
    x_tx: Tensor,
    labels: Tensor,
    gen: torch.Generator,
    snr_db: float | None = None,
    batch_size: int = 1024,
) -> float:
    eve.eval()
    hits = 0.0
    for s in range(0, len(labels), batch_size):
        hits += float(
            accuracy(eve(x_tx[s : s + batch_size], snr_db=snr_db, generator=gen), labels[s : s + batch_size]).sum()
        )
    return hits / len(labels)


def eve_accuracy(
    eve: torch.nn.Module,
    x_tx: Tensor,
    labels: Tensor,
    *,
    seed: int = 0,
    snr_db: float | None = None,
    batch_size: int = 1024,
) -> float:
    """Test accuracy of an eavesdropper on recorded transmissions (its own seeded channel)."""
    gen = seeded_generator(seed, Stream.EVAL_EVE_NOISE, device=x_tx.device)
    return _accuracy(eve, x_tx, labels, gen, snr_db=snr_db, batch_size=batch_size)


def new_eavesdropper(
    cfg: LinkConfig, eve_snr_db: float, seed: int, device: torch.device | str = "cpu", model: str = "standard"
) -> NeuralEavesdropper | CSIEavesdropper:
    """A freshly initialised eavesdropper (weights from ``seed``; global RNG left untouched).

    ``model``: ``"standard"`` (:class:`~semgame.link.NeuralEavesdropper`) or ``"strong"``
    (:class:`~semgame.privacy.strong_eve.CSIEavesdropper`).
    """
    if model not in FRESH_MODELS:
        raise ConfigError(f"fresh eavesdropper model must be one of {', '.join(FRESH_MODELS)}; got {model!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if model == "strong":
            eve = CSIEavesdropper(make_channel(cfg, float(eve_snr_db)), cfg.k, dataset_info(cfg.dataset).num_classes)
        else:
            eve = build_eavesdropper(cfg.replace(eve_snr_db=float(eve_snr_db)))
        return eve.to(device)


def fit_early_stopping(
    eve: torch.nn.Module,
    x: Tensor,
    labels: Tensor,
    *,
    max_epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    holdout: float = 0.1,
    patience: int = 3,
) -> dict[str, Any]:
    """Train ``eve`` on recorded transmissions with early stopping; keeps the best weights.

    A seeded ``holdout`` fraction of ``(x, labels)`` is set aside; after each epoch (Adam, cosine
    schedule over ``max_epochs``) the held-out accuracy is measured (fixed channel draws), and training
    stops after ``patience`` epochs without improvement. Returns ``epochs_run``, ``best_epoch`` and
    ``holdout_acc``.
    """
    check_int("max_epochs", max_epochs)
    check_int("patience", patience)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout < 1:
        raise ConfigError(f"holdout must be a fraction in (0, 1), got {holdout!r}")
    check_waveforms("early stopping (a held-out part and a training part)", x, labels, low=2)
    n_val = min(len(labels) - 1, max(1, round(holdout * len(labels))))
    order = torch.randperm(len(labels), generator=seeded_generator(seed, Stream.HOLDOUT_SPLIT)).to(x.device)
    val, fit = order[:n_val], order[n_val:]
    data = TensorDataset(x[fit], labels[fit])
    opt = torch.optim.Adam(eve.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)
    best, best_epoch, best_state, epoch = -1.0, 0, None, 0
    for epoch in range(1, max_epochs + 1):
        train_eavesdropper_epoch(
            eve, lambda a, b: a, data, opt, batch_size=batch_size, seed=seed, epoch=epoch - 1, device=x.device
        )
        schedule.step()
        acc = _accuracy(eve, x[val], labels[val], seeded_generator(seed, Stream.HOLDOUT_NOISE, device=x.device))
        if acc > best:
            best, best_epoch = acc, epoch
            best_state = {k: v.detach().clone() for k, v in eve.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    eve.load_state_dict(best_state)
    return {"epochs_run": epoch, "best_epoch": best_epoch, "holdout_acc": best}


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
    model: str = "standard",
) -> dict[str, Any]:
    """Train ``k`` eavesdroppers from scratch on recorded (defended) training transmissions.

    Returns ``accs`` (test accuracy of each), ``mean``, ``std`` (population), ``max``, ``seeds``,
    ``epochs``, ``model``, ``epochs_run`` (per eavesdropper) and ``seconds``. Eavesdropper ``j`` uses seed
    ``eve_seed(seed, j) = seed * 1000 + j`` for its initialisation, shuffling and channel draws.
    ``model="standard"`` trains exactly ``epochs`` epochs; ``model="strong"`` (a
    :class:`~semgame.privacy.strong_eve.CSIEavesdropper`) at most ``epochs``, with early stopping
    (:func:`fit_early_stopping`).
    """
    check_k(k)
    check_int("fresh eavesdropper epochs", epochs)
    lr = cfg.lr if lr is None else lr
    check_lr("fresh eavesdropper lr", lr)
    batch_size = check_int("fresh eavesdropper batch_size", cfg.batch_size if batch_size is None else batch_size)
    check_waveforms("fresh eavesdropper training", train_tx, train_labels, low=2 if model == "strong" else 1)
    check_waveforms("fresh eavesdropper test", test_tx, test_labels)
    snr = cfg.eve_snr if eve_snr_db is None else float(eve_snr_db)
    device = train_tx.device
    data = TensorDataset(train_tx, train_labels)
    accs, seeds, runs, start = [], [], [], time.perf_counter()
    for j in range(k):
        s = eve_seed(seed, j)
        eve = new_eavesdropper(cfg, snr, s, device, model=model)
        if model == "strong":
            runs.append(
                fit_early_stopping(
                    eve,
                    train_tx,
                    train_labels,
                    max_epochs=epochs,
                    lr=lr,
                    batch_size=batch_size,
                    seed=s,
                )["epochs_run"]
            )
        else:
            fit_eavesdropper(
                eve,
                lambda x, y: x,
                data,
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                seed=s,
                device=device,
            )
            runs.append(epochs)
        accs.append(eve_accuracy(eve, test_tx, test_labels, seed=s))
        seeds.append(s)
    return {
        "accs": accs,
        "mean": statistics.fmean(accs),
        "std": statistics.pstdev(accs),
        "max": max(accs),
        "seeds": seeds,
        "epochs": epochs,
        "model": model,
        "epochs_run": runs,
        "eve_snr_db": snr,
        "seconds": time.perf_counter() - start,
    }


def ceiling_columns(
    cfg: LinkConfig, *, legit_acc: float, gap_pts: float, chance: float, a_max: float, eve_snr_db: float, keyed: bool
) -> dict[str, Any]:
    """The ceiling columns of one row (see the module docstring): ``ceiling_pts``, ``ceiling_pts_amax1``,
    ``fraction_of_ceiling``, ``ceiling_note`` and ``ceiling_flag``."""
    kw = dict(
        legit_snr_db=cfg.snr_db, eve_snr_db=eve_snr_db, fading=cfg.fading, block=cfg.block, csi=cfg.csi, keyed=keyed
    )
    measured, bound = ceiling(legit_acc, chance, a_max, **kw), ceiling(legit_acc, chance, 1.0, **kw)
    flag = None
    if bound.points is not None and gap_pts > bound.points:
        flag = "above the a_max = 1 ceiling: fresh eavesdroppers under-trained"
    elif measured.points is not None and gap_pts > measured.points:
        flag = "above the ceiling: fresh eavesdroppers under-trained (or a_max underestimated)"
    return {
        "ceiling_pts": measured.points,
        "ceiling_pts_amax1": bound.points,
        "fraction_of_ceiling": measured.fraction(gap_pts),
        "ceiling_note": measured.reason or bound.reason or None,
        "ceiling_flag": flag,
    }


def leakage_report(
    link: SemanticLink,
    cfg: LinkConfig,
    defence: Defence,
    train: Encoded,
    test: Encoded,
    *,
    eve_snr_db: float | None = None,
    in_loop_eve: NeuralEavesdropper | None = None,
    undefended_eve: NeuralEavesdropper | None = None,
    undefended_legit_acc: float | None = None,
    seed: int = 0,
    fresh_limit: int | None = None,
    **fresh_options: Any,
) -> dict[str, Any]:
    """One table row: legit metrics, in-loop / transfer / fresh eavesdropper accuracy, chance, ceiling.

    ``in_loop_eve``: the eavesdropper the defence was built against (``None`` -> NaN);
    ``undefended_eve``: one trained on undefended waveforms (transfer; ``None`` -> NaN).
    ``fresh_limit`` caps the number of recorded training transmissions the fresh eavesdroppers get;
    ``fresh_options`` (``k``, ``epochs``, ``model``, ``lr``, ``batch_size``) go to
    :func:`fresh_eavesdroppers`.
    """
    check_waveforms("leakage report training", train.x, train.labels)
    check_waveforms("leakage report test", test.x, test.labels)
    if fresh_limit is not None:
        check_int("fresh_limit", fresh_limit)
    snr = cfg.eve_snr if eve_snr_db is None else float(eve_snr_db)
    t0 = time.perf_counter()
    train_tx, _ = defend(defence, train, nonce_offset=0)
    test_tx, test_nonces = defend(defence, test, nonce_offset=TEST_NONCE_OFFSET)
    defend_s = time.perf_counter() - t0
    legit = legit_metrics(link, defence, test, test_tx, test_nonces, seed=seed)
    a_max = legit_metrics(link, defence, test, test_tx, test_nonces, seed=seed, snr_db=AMAX_SNR_DB)["legit_acc"]
    n = len(train) if fresh_limit is None else min(fresh_limit, len(train))
    fresh = fresh_eavesdroppers(
        cfg, train_tx[:n], train.labels[:n], test_tx, test.labels, eve_snr_db=snr, seed=seed, **fresh_options
    )
    nan = math.nan
    row = {
        **defence.describe(),
        "eve_snr_db": snr,
        "legit_snr_db": cfg.snr_db,
        "fading": cfg.fading,
        "block": cfg.block,
        **legit,
        "undefended_legit_acc": nan if undefended_legit_acc is None else undefended_legit_acc,
        "in_loop_eve_acc": nan
        if in_loop_eve is None
        else eve_accuracy(in_loop_eve, test_tx, test.labels, seed=seed, snr_db=snr),
        "transfer_eve_acc": nan
        if undefended_eve is None
        else eve_accuracy(undefended_eve, test_tx, test.labels, seed=seed, snr_db=snr),
        "fresh_eve_mean": fresh["mean"],
        "fresh_eve_std": fresh["std"],
        "fresh_eve_max": fresh["max"],
        "fresh_eve_accs": fresh["accs"],
        "fresh_eve_seeds": fresh["seeds"],
        "fresh_eve_epochs": fresh["epochs"],
        "fresh_eve_model": fresh["model"],
        "fresh_eve_epochs_run": fresh["epochs_run"],
        "fresh_eve_train_n": n,
        "chance": 1.0 / dataset_info(cfg.dataset).num_classes,
        "seconds_defend": defend_s,
        "seconds_fresh": fresh["seconds"],
    }
    if defence.psr_db is not None:
        c = getattr(getattr(defence, "pert", None), "c", 1.0)
        p = test_tx - test.x * c
        row["psr_measured_db"] = float(
            10 * torch.log10((p / c).abs().square().sum(-1).mean() / test.x.abs().square().sum(-1).mean())
        )
    row["gap_fresh"] = 100.0 * (row["legit_acc"] - row["fresh_eve_mean"])
    row["a_max"] = a_max
    row.update(
        ceiling_columns(
            cfg,
            legit_acc=row["legit_acc"],
            gap_pts=row["gap_fresh"],
            chance=row["chance"],
            a_max=a_max,
            eve_snr_db=snr,
            keyed=row["kind"] in KEYED_KINDS,
        )
    )
    return row
