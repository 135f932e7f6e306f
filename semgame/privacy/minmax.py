"""Iterative min-max training of the legitimate link against an in-loop eavesdropper.

Per mini-batch of a *round* (one pass over the training set):

1. the eavesdropper takes ``eve_steps`` Adam steps on cross-entropy, on the transmitted waveform
   (detached) through its own channel at the eavesdropper SNR (``LinkConfig.eve_snr_db``);
2. encoder + legitimate receiver take ``legit_steps`` Adam steps on

       ``task + lambda_ * leakage``,  ``task = CE_legit + recon_weight * R``,

   where ``leakage`` is, for ``objective="neg_ce"``, ``-CE(eve(x), y)`` (push the eavesdropper's
   loss up), and for ``objective="kl_uniform"``, ``KL(U || p_eve) = -log C - mean_c log p_eve(c|x)``
   (push its posterior toward uniform; bounded below by 0, unlike ``neg_ce``).

**Step shaping** (``gate_snr_db = t``, issue #8). The ceiling of :mod:`semgame.privacy.ceiling` is
reached by an encoder whose accuracy-vs-effective-SNR curve is a step at some ``t``: every receiver
fails below ``t`` and succeeds above. With a gate, the leakage counts only the eavesdropper's
transmissions whose effective SNR ``|h|^2 / N0`` (its mean over the symbols) lies below ``t`` (above it
hiding would cost the legitimate receiver just as much), and the legitimate task loss only the
legitimate transmissions above ``t`` (below it the step gives up). Both are still averaged over the
whole batch, so ``lambda_`` keeps its meaning. ``eve_snr_spread_db = d`` draws the eavesdropper's
SNR per transmission uniformly in ``eve_snr +- d`` dB (leakage averaged over a range of SNRs).

The eavesdropper's weights are not updated in step 2. Optionally the link is pre-trained first
(``pretrain_epochs``, plain multi-task training; skipped when an initial run ``init=`` supplies the
link), then the eavesdropper (``eve_pretrain_epochs``).

:func:`minmax_run` keeps everything in a run folder, like ``semgame train`` and through the same
loop (:func:`semgame.runloop.run_phases`): ``config.toml``, atomic ``checkpoint.pt`` after every
epoch of every phase, ``model.pt`` readable by :func:`semgame.loader.load_run`, ``metrics.json``,
``tb/`` with hparams. All randomness is seeded per ``(seed, phase, epoch)``, so a run interrupted at
any point resumes from its last checkpoint and ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from semgame.channels import ChannelState
from semgame.config import ConfigError, LinkConfig, check_lr, check_snr, from_dict
from semgame.data import dataset_info
from semgame.link import NeuralEavesdropper, SemanticLink
from semgame.loader import load_run
from semgame.run import config_to_toml, eve_phase, link_phase, prepare, results_config
from semgame.runloop import TEST_TAGS, Phase, Plan, run_phases
from semgame.seeds import Stream, seeded_generator
from semgame.tags import EVE_LOSS, MINMAX_LEAKAGE, TRAIN_LOSS
from semgame.training import autocast, batches, evaluate, recon_term

__all__ = [
    "OBJECTIVES",
    "MinMaxConfig",
    "leakage_term",
    "sample_snr_db",
    "task_loss",
    "minmax_epoch",
    "minmax_run",
    "FORMAT",
    "INIT_SHAPE_KEYS",
]

FORMAT = "semgame-minmax-v1"
OBJECTIVES = ("neg_ce", "kl_uniform")
INIT_SHAPE_KEYS = ("dataset", "arch", "k", "width")
"""The config keys an ``init`` run must share with the game (its weights must fit the game's link)."""


@dataclass(frozen=True)
class MinMaxConfig:
    """Game settings (the link, its SNRs and its optimiser come from :class:`~semgame.config.LinkConfig`).

    ``lambda_`` >= 0 weights the leakage term; ``objective`` in :data:`OBJECTIVES`; ``eve_steps`` /
    ``legit_steps`` >= 1 updates per mini-batch; ``rounds`` game epochs; ``pretrain_epochs`` /
    ``eve_pretrain_epochs`` plain epochs first (ignored for the link when starting from ``init``);
    ``eve_lr`` (``None``: the link's ``lr``); ``gate_snr_db`` (``None``: no gate) and
    ``eve_snr_spread_db`` >= 0 (see the module docstring).
    """

    lambda_: float = 1.0
    objective: str = "neg_ce"
    eve_steps: int = 1
    legit_steps: int = 1
    rounds: int = 2
    pretrain_epochs: int = 0
    eve_pretrain_epochs: int = 1
    eve_lr: float | None = None
    gate_snr_db: float | None = None
    eve_snr_spread_db: float = 0.0

    def __post_init__(self) -> None:
        lam = self.lambda_
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam):
            raise ConfigError(f"lambda must be a finite number >= 0, got {lam!r}")
        if lam < 0:
            raise ConfigError(f"lambda must be >= 0, got {lam!r}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}")
        for name, low in (
            ("eve_steps", 1),
            ("legit_steps", 1),
            ("rounds", 0),
            ("pretrain_epochs", 0),
            ("eve_pretrain_epochs", 0),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.eve_lr is not None:
            check_lr("eve_lr", self.eve_lr)
        if self.gate_snr_db is not None and (
            isinstance(self.gate_snr_db, bool)
            or not isinstance(self.gate_snr_db, (int, float))
            or not math.isfinite(self.gate_snr_db)
        ):
            raise ConfigError(f"gate_snr_db must be a finite number (dB) or unset, got {self.gate_snr_db!r}")
        d = self.eve_snr_spread_db
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
            raise ConfigError(f"eve_snr_spread_db must be a finite number >= 0, got {d!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def leakage_term(eve_logits: Tensor, labels: Tensor, objective: str, weight: Tensor | None = None) -> Tensor:
    """The leakage penalty the transmitter *minimises* (see the module docstring).

    ``weight [batch]`` (e.g. the 0/1 gate of step shaping) weights each transmission's term; the result
    is still the mean over the batch.
    """
    if objective == "neg_ce":
        per = -F.cross_entropy(eve_logits, labels, reduction="none")
    elif objective == "kl_uniform":
        per = -math.log(eve_logits.shape[-1]) - F.log_softmax(eve_logits, dim=-1).mean(-1)
    else:
        raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    return (per if weight is None else per * weight).mean()


def sample_snr_db(state: ChannelState) -> Tensor:
    """Effective SNR of each transmission, ``10 log10(mean_k |h|^2 / N0)`` ``[batch]``.

    Under block fading this is ``|h|^2 / N0``.
    """
    gain = (state.h.real.square() + state.h.imag.square()).mean(-1)
    return 10.0 * torch.log10(gain / state.noise_var)


def task_loss(
    logits: Tensor,
    recon: Tensor,
    images: Tensor,
    labels: Tensor,
    recon_weight: float,
    weight: Tensor | None = None,
    recon_loss: str = "mse",
) -> Tensor:
    """``CE + recon_weight * R`` (``R``: :func:`~semgame.training.recon_term` of kind ``recon_loss``), each
    transmission weighted by ``weight [batch]`` (mean over the batch)."""
    if weight is None:
        return F.cross_entropy(logits, labels) + recon_weight * recon_term(recon, images, recon_loss)
    per = F.cross_entropy(logits, labels, reduction="none") + recon_weight * recon_term(
        recon, images, recon_loss, reduction="none"
    )
    return (per * weight).mean()


def minmax_epoch(
    link: SemanticLink,
    eve: NeuralEavesdropper,
    data: torch.utils.data.TensorDataset,
    link_opt: torch.optim.Optimizer,
    eve_opt: torch.optim.Optimizer,
    cfg: LinkConfig,
    mm: MinMaxConfig,
    epoch: int,
    device: torch.device,
) -> dict[str, float]:
    """One round of the alternating game; returns the means of ``task``, ``leak``, ``eve_ce`` and ``loss``
    (``task + lambda_ * leak``) over the round's samples, and its ``seconds``."""
    link.train()
    shuffle = seeded_generator(cfg.seed, Stream.MINMAX_SHUFFLE, epoch)
    legit_noise = seeded_generator(cfg.seed, Stream.MINMAX_LEGIT_NOISE, epoch, device=device)
    eve_noise = seeded_generator(cfg.seed, Stream.MINMAX_EVE_NOISE, epoch, device=device)
    snr = cfg.train_snr_db if cfg.train_snr_db is not None else cfg.snr_db
    amp = autocast(cfg.precision, device)
    eve_snr = (
        None if not mm.eve_snr_spread_db else (cfg.eve_snr - mm.eve_snr_spread_db, cfg.eve_snr + mm.eve_snr_spread_db)
    )
    gate = mm.gate_snr_db
    sums = {"task": 0.0, "leak": 0.0, "eve_ce": 0.0, "loss": 0.0}
    n, start = 0, time.perf_counter()
    for images, labels in batches(data, cfg.batch_size, device=device, generator=shuffle):
        for step in range(mm.legit_steps):
            with amp:
                out = link(images, snr_db=snr, generator=legit_noise)
            if step == 0:
                eve.train()
                eve.requires_grad_(True)
                x_det = out.x.detach()
                for _ in range(mm.eve_steps):
                    with amp:
                        eve_logits = eve(x_det, snr_db=eve_snr, generator=eve_noise)
                    eve_ce = F.cross_entropy(eve_logits.float(), labels)
                    eve_opt.zero_grad(set_to_none=True)
                    eve_ce.backward()
                    eve_opt.step()
                sums["eve_ce"] += float(eve_ce.detach()) * len(labels)
            eve.requires_grad_(False)
            y_eve, eve_state = eve.channel(out.x, snr_db=eve_snr, generator=eve_noise)
            legit_w = eve_w = None
            if gate is not None:
                legit_w = (sample_snr_db(out.state) >= gate).float()
                eve_w = (sample_snr_db(eve_state) < gate).float()
            task = task_loss(
                out.logits.float(), out.recon.float(), images, labels, cfg.recon_weight, legit_w, cfg.recon_loss
            )
            with amp:
                eve_logits = eve.classifier(y_eve)
            leak = leakage_term(eve_logits.float(), labels, mm.objective, eve_w)
            loss = task + mm.lambda_ * leak
            link_opt.zero_grad(set_to_none=True)
            loss.backward()
            link_opt.step()
        eve.requires_grad_(True)
        b = len(labels)
        n += b
        sums["task"] += float(task.detach()) * b
        sums["leak"] += float(leak.detach()) * b
        sums["loss"] += float(loss.detach()) * b
    return {**{k: v / n for k, v in sums.items()}, "seconds": time.perf_counter() - start}


ROUND_TAGS = {"task": TRAIN_LOSS, "leak": MINMAX_LEAKAGE, "eve_ce": EVE_LOSS, **TEST_TAGS}
"""TensorBoard tags of a game round's history record (:func:`minmax_epoch`'s means, then the test metrics)."""
_PRETRAIN_EPOCH0 = 100
"""Pre-training epochs draw from the seeded streams of epochs 100, 101, ... (never those of a plain run)."""


def minmax_run(
    cfg: LinkConfig,
    mm: MinMaxConfig,
    run_dir: str | Path,
    *,
    init: str | Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Pre-train (optional) then play ``mm.rounds`` rounds of the game in ``run_dir``.

    Returns ``metrics.json``'s content.

    ``init``: a run folder / ``model.pt`` whose link (and eavesdropper) weights start the game
    (its config must have the same :data:`INIT_SHAPE_KEYS`; ``semgame minmax --init`` takes them from it unless
    given; link pre-training is skipped then).
    Runs on :func:`semgame.runloop.run_phases`: resumes from ``run_dir/checkpoint.pt`` when present
    (a different config is a :class:`ConfigError`), one process per folder, bit-identical resumes.
    """
    for end in (cfg.eve_snr - mm.eve_snr_spread_db, cfg.eve_snr + mm.eve_snr_spread_db):
        check_snr("eve_snr_db -/+ eve_snr_spread_db", end)  # the eavesdropper's SNR range in the game
    results_cfg = {"link": results_config(cfg), "minmax": mm.to_dict(), "init": None if init is None else str(init)}

    def setup(state: dict[str, Any] | None) -> Plan:
        device, train, test, link, eve = prepare(cfg)
        if init is not None and state is None:
            icfg, ilink, ieve = load_run(init, device=device)
            shape = tuple(getattr(icfg, key) for key in INIT_SHAPE_KEYS)
            if shape != tuple(getattr(cfg, key) for key in INIT_SHAPE_KEYS):
                raise ConfigError(
                    f"init run {init} has {'/'.join(INIT_SHAPE_KEYS)} {shape}, "
                    f"expected {tuple(getattr(cfg, key) for key in INIT_SHAPE_KEYS)}"
                )
            link.load_state_dict(ilink.state_dict())
            eve.load_state_dict(ieve.state_dict())
        link_opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
        eve_opt = torch.optim.Adam(eve.parameters(), lr=mm.eve_lr or cfg.lr)

        def game_round(epoch: int) -> dict[str, float]:
            stats = minmax_epoch(link, eve, train, link_opt, eve_opt, cfg, mm, epoch, device)
            return {**stats, **evaluate(link, test, eve=eve, device=device, seed=cfg.seed, precision=cfg.precision)}

        def final() -> dict[str, float]:
            out = evaluate(link, test, eve=eve, device=device, seed=cfg.seed, precision=cfg.precision)
            return {**out, "chance": 1.0 / dataset_info(cfg.dataset).num_classes}

        pre = 0 if init is not None else mm.pretrain_epochs
        return Plan(
            phases=[
                link_phase("pretrain", pre, link, link_opt, cfg, train, test, device, epoch0=_PRETRAIN_EPOCH0),
                eve_phase(
                    "eve_pretrain",
                    mm.eve_pretrain_epochs,
                    eve,
                    eve_opt,
                    link,
                    cfg,
                    train,
                    test,
                    device,
                    epoch0=_PRETRAIN_EPOCH0,
                ),
                Phase("minmax", "game round", mm.rounds, len(train), game_round, ROUND_TAGS),
            ],
            state={"link": link, "eve": eve, "link_opt": link_opt, "eve_opt": eve_opt},
            model=("link", "eve"),
            final=final,
            device=str(device),
        )

    meta = {"config": cfg.to_dict(), "minmax": mm.to_dict(), "init": results_cfg["init"]}
    toml = config_to_toml(cfg.to_dict()) + "\n[minmax]\n" + config_to_toml(mm.to_dict())
    hparams = {**results_config(cfg), **mm.to_dict(), "eve_snr": cfg.eve_snr}
    return run_phases(
        run_dir,
        fmt=FORMAT,
        meta=meta,
        results_config=results_cfg,
        config_toml=toml,
        hparams=hparams,
        setup=setup,
        quiet=quiet,
    )


def load_minmax_config(values: dict[str, Any], overrides: dict[str, Any] | None = None) -> MinMaxConfig:
    """A :class:`MinMaxConfig` from a dict (TOML ``[minmax]`` table; unknown keys are errors), with ``overrides``
    (field names, e.g. ``lambda_``: the command-line flags) replacing its values."""
    if "lambda" in values:
        if "lambda_" in values:
            raise ConfigError("the [minmax] table sets both lambda and lambda_: keep one (lambda)")
        values = {**{k: v for k, v in values.items() if k != "lambda"}, "lambda_": values["lambda"]}
    return from_dict({**values, **(overrides or {})}, MinMaxConfig)
