"""A training run on disk: config, checkpoints, metrics and TensorBoard events in one folder.

Layout of ``run_dir``::

    config.toml      the full configuration (reusable with ``semgame train --config``)
    checkpoint.pt    latest state, written atomically after every epoch (weights_only-safe)
    model.pt         final weights only: config + link + eavesdropper (what ``load_run`` and the envs read)
    metrics.json     final test metrics, per-epoch history and timings
    tb/              TensorBoard events (tags of :mod:`semgame.tags`) and hparams

:func:`train_run` runs on :func:`semgame.runloop.run_phases` (lock, resume, checkpoints, TensorBoard):
an interrupted run continues at the next epoch without repeating or losing one, and ends with the
weights and metrics of an uninterrupted run. :func:`prepare` and the phase builders
:func:`link_phase` / :func:`eve_phase` are shared with :func:`semgame.privacy.minmax.minmax_run`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from semgame.config import LinkConfig
from semgame.data import dataset_info, load_dataset
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper, build_link
from semgame.loader import FORMAT
from semgame.runloop import TEST_TAGS, Phase, Plan, run_phases
from semgame.seeds import Stream, seeded_generator
from semgame.tags import EVE_ACC, EVE_LOSS, TRAIN_CE, TRAIN_LOSS, TRAIN_MSE
from semgame.training import (
    encoder_transmit,
    evaluate,
    link_schedule,
    per_batch,
    resolve_device,
    train_eavesdropper_epoch,
    train_link_epoch,
)

__all__ = [
    "train_run",
    "load_data",
    "load_split",
    "config_to_toml",
    "prepare",
    "link_phase",
    "eve_phase",
    "RUNTIME_KEYS",
]

RUNTIME_KEYS = ("device", "threads", "data_root", "precision")
"""Config keys that do not define a run's results; a run may resume with different values."""

IMPLIED = {"arch": "dense", "schedule": "cosine", "recon_loss": "mse"}
"""Config keys added after runs were first checkpointed, with the value every earlier run implied: a key
holding that value is left out of :func:`results_config`, so those runs still resume."""

LINK_TAGS = {
    "loss": TRAIN_LOSS,
    "ce": TRAIN_CE,
    "mse": TRAIN_MSE,
    **{k: TEST_TAGS[k] for k in ("legit_acc", "legit_psnr", "legit_ssim")},
}
EVE_TAGS = {"loss": EVE_LOSS, "eve_acc": EVE_ACC}


def config_to_toml(values: dict[str, Any]) -> str:
    """Serialise a flat config dict to TOML (``None`` values are omitted: they are the defaults)."""
    lines = []
    for key, val in values.items():
        if val is None:
            continue
        if isinstance(val, bool):
            lines.append(f"{key} = {'true' if val else 'false'}")
        elif isinstance(val, str):
            # a JSON string is a valid TOML basic string, once DEL (allowed raw in JSON) is escaped
            quoted = json.dumps(val, ensure_ascii=False).replace("\x7f", "\\u007f")
            lines.append(f"{key} = {quoted}")
        elif isinstance(val, (list, tuple)):
            lines.append(f"{key} = [{', '.join(repr(float(v)) for v in val)}]")
        else:
            lines.append(f"{key} = {val!r}")
    return "\n".join(lines) + "\n"


def load_data(cfg: LinkConfig) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets of a config, subsampled (seeded) to ``train_limit`` / ``test_limit``."""
    return load_split(cfg, "train"), load_split(cfg, "test")


def load_split(cfg: LinkConfig, split: str) -> TensorDataset:
    """One split (``"train"`` or ``"test"``) of a config's data, subsampled (seeded) to its limit."""
    limit = cfg.train_limit if split == "train" else cfg.test_limit
    ds = load_dataset(cfg.dataset, split, root=cfg.data_root)
    if limit is not None and limit < len(ds):
        idx = torch.randperm(len(ds), generator=seeded_generator(cfg.seed, Stream.SUBSET))[:limit]
        ds = TensorDataset(*(t[idx] for t in ds.tensors))
    return ds


def results_config(cfg: LinkConfig) -> dict[str, Any]:
    """The config entries that define a run's results (all but :data:`RUNTIME_KEYS`)."""
    return {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_KEYS and not (k in IMPLIED and IMPLIED[k] == v)}


def prepare(cfg: LinkConfig) -> tuple[torch.device, TensorDataset, TensorDataset, SemanticLink, NeuralEavesdropper]:
    """What every run of ``cfg`` starts from: device (threads set), train and test sets, and the
    initial link and eavesdropper, whose weights follow ``cfg.seed`` (not the global RNG state)."""
    device = resolve_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    train, test = load_data(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        link, eve = build_link(cfg).to(device), build_eavesdropper(cfg).to(device)
    return device, train, test, link, eve


def link_phase(
    name: str,
    epochs: int,
    link: SemanticLink,
    opt: torch.optim.Optimizer,
    cfg: LinkConfig,
    train: TensorDataset,
    test: TensorDataset,
    device: torch.device,
    *,
    sched: Any = None,
    epoch0: int = 0,
) -> Phase:
    """Multi-task link training (:func:`~semgame.training.train_link_epoch`), then a test evaluation, per epoch.

    Epoch ``e`` draws from the seeded streams of epoch ``epoch0 + e``; ``sched`` steps after each epoch
    (or after each batch, :func:`~semgame.training.per_batch`).
    """

    def run_epoch(epoch: int) -> dict[str, float]:
        stats = train_link_epoch(link, train, opt, cfg, epoch0 + epoch, device, schedule=sched)
        if sched is not None and not per_batch(sched):
            sched.step()
        return {**stats, **evaluate(link, test, device=device, seed=cfg.seed, precision=cfg.precision)}

    return Phase(name, f"{name} epoch", epochs, len(train), run_epoch, LINK_TAGS)


def eve_phase(
    name: str,
    epochs: int,
    eve: NeuralEavesdropper,
    opt: torch.optim.Optimizer,
    link: SemanticLink,
    cfg: LinkConfig,
    train: TensorDataset,
    test: TensorDataset,
    device: torch.device,
    *,
    sched: Any = None,
    epoch0: int = 0,
) -> Phase:
    """Eavesdropper training on the link's undefended waveforms, then its test accuracy, per epoch."""

    def run_epoch(epoch: int) -> dict[str, float]:
        stats = train_eavesdropper_epoch(
            eve,
            encoder_transmit(link),
            train,
            opt,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            epoch=epoch0 + epoch,
            device=device,
            precision=cfg.precision,
        )
        if sched is not None:
            sched.step()
        return {
            **stats,
            "eve_acc": evaluate(link, test, eve=eve, device=device, seed=cfg.seed, precision=cfg.precision)["eve_acc"],
        }

    return Phase(name, f"{name} epoch", epochs, len(train), run_epoch, EVE_TAGS)


def train_run(cfg: LinkConfig, run_dir: str | Path, *, quiet: bool = False) -> dict[str, Any]:
    """Train link then eavesdropper as ``cfg`` says, in ``run_dir``; returns the content of ``metrics.json``.

    Resumes from ``run_dir/checkpoint.pt`` when present. A checkpoint from a different config
    (other than the :data:`RUNTIME_KEYS`) is a :class:`~semgame.config.ConfigError`;
    a folder in use by another process a :class:`~semgame.runloop.RunLockedError`; nothing in
    ``run_dir`` is touched then. Metrics: ``test`` (final test metrics and ``chance``), ``history``
    (one record per epoch), ``samples_seen``, timings (:data:`semgame.runloop.TIMING_KEYS`).
    """

    def setup(state: dict[str, Any] | None) -> Plan:
        device, train, test, link, eve = prepare(cfg)
        link_opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
        eve_opt = torch.optim.Adam(eve.parameters(), lr=cfg.lr)
        link_sched = link_schedule(link_opt, cfg, len(train))
        eve_sched = torch.optim.lr_scheduler.CosineAnnealingLR(eve_opt, T_max=max(cfg.eve_epochs, 1))

        def final() -> dict[str, float]:
            out = evaluate(
                link, test, eve=eve if cfg.eve_epochs else None, device=device, seed=cfg.seed, precision=cfg.precision
            )
            return {**out, "chance": 1.0 / dataset_info(cfg.dataset).num_classes}

        return Plan(
            phases=[
                link_phase("link", cfg.epochs, link, link_opt, cfg, train, test, device, sched=link_sched),
                eve_phase("eve", cfg.eve_epochs, eve, eve_opt, link, cfg, train, test, device, sched=eve_sched),
            ],
            state={
                "link": link,
                "eve": eve,
                "link_opt": link_opt,
                "link_sched": link_sched,
                "eve_opt": eve_opt,
                "eve_sched": eve_sched,
            },
            model=("link", "eve"),
            final=final,
            device=str(device),
        )

    return run_phases(
        run_dir,
        fmt=FORMAT,
        meta={"config": cfg.to_dict()},
        results_config=results_config(cfg),
        config_toml=config_to_toml(cfg.to_dict()),
        hparams=results_config(cfg),
        setup=setup,
        quiet=quiet,
    )
