"""A training run on disk: config, checkpoints, metrics and TensorBoard events in one folder.

Layout of ``run_dir``::

    config.toml      the full configuration (reusable with ``semgame train --config``)
    checkpoint.pt    latest state, written atomically after every epoch (weights_only-safe)
    model.pt         final weights only: config + link + eavesdropper (what ``load_run`` and the envs read)
    metrics.json     final test metrics, per-epoch history and timings
    tb/              TensorBoard events: train/*, legit/*, eve/* and hparams

:func:`train_run` resumes from ``checkpoint.pt`` when it exists and its config matches, so an
interrupted run continues at the next epoch without repeating or losing one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset
from torch.utils.tensorboard import SummaryWriter

from semgame.config import ConfigError, LinkConfig, from_dict
from semgame.data import load_dataset
from semgame.io import load_checkpoint, save_checkpoint, write_json, write_text
from semgame.link import build_eavesdropper, build_link
from semgame.loader import FORMAT, MODEL_FORMAT
from semgame.seeds import Stream, seeded_generator
from semgame.training import (
    encoder_transmit,
    evaluate,
    resolve_device,
    train_eavesdropper_epoch,
    train_link_epoch,
)

__all__ = ["train_run", "load_data", "config_to_toml", "RUNTIME_KEYS"]

RUNTIME_KEYS = ("device", "threads", "data_root", "precision")
"""Config keys that do not define a run's results; a run may resume with different values."""


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
    out = []
    for split, limit in (("train", cfg.train_limit), ("test", cfg.test_limit)):
        ds = load_dataset(cfg.dataset, split, root=cfg.data_root)
        if limit is not None and limit < len(ds):
            idx = torch.randperm(len(ds), generator=seeded_generator(cfg.seed, Stream.SUBSET))[:limit]
            ds = TensorDataset(*(t[idx] for t in ds.tensors))
        out.append(ds)
    return out[0], out[1]


def _results_config(cfg: LinkConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_KEYS}


def _log(writer: SummaryWriter, prefix: str, metrics: dict[str, float], step: int) -> None:
    for key, val in metrics.items():
        writer.add_scalar(f"{prefix}/{key}", val, step)


def _legit_scalars(m: dict[str, float]) -> dict[str, float]:
    return {"acc": m["legit_acc"], "psnr": m["legit_psnr"], "ssim": m["legit_ssim"]}


def train_run(cfg: LinkConfig, run_dir: str | Path, *, quiet: bool = False) -> dict[str, Any]:
    """Train link then eavesdropper as ``cfg`` says, in ``run_dir``; returns the final metrics.

    Resumes from ``run_dir/checkpoint.pt`` when present. A checkpoint from a different config
    (other than the runtime keys device, threads, data_root) is a :class:`ConfigError`; nothing in
    ``run_dir`` is touched then.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    device = resolve_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    state: dict[str, Any] | None = None
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        saved = _results_config(from_dict(state["config"]))  # keys added since it was saved take their defaults
        if saved != _results_config(cfg):
            diff = sorted(k for k in saved if saved.get(k) != _results_config(cfg).get(k))
            raise ConfigError(f"{run_dir} holds a run with a different config (differs in: {', '.join(diff)}); use a new --run-dir")
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    train, test = load_data(cfg)
    with torch.random.fork_rng(devices=[]):  # initial weights follow cfg.seed, not the global RNG state
        torch.manual_seed(cfg.seed)
        link, eve = build_link(cfg).to(device), build_eavesdropper(cfg).to(device)
    link_opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
    link_sched = torch.optim.lr_scheduler.CosineAnnealingLR(link_opt, T_max=max(cfg.epochs, 1))
    eve_opt = torch.optim.Adam(eve.parameters(), lr=cfg.lr)
    eve_sched = torch.optim.lr_scheduler.CosineAnnealingLR(eve_opt, T_max=max(cfg.eve_epochs, 1))
    link_epoch = eve_epoch = 0
    history: list[dict[str, Any]] = []
    wall_before, t0 = 0.0, time.perf_counter()
    if state is not None:
        link.load_state_dict(state["link"])
        eve.load_state_dict(state["eve"])
        for obj, key in ((link_opt, "link_opt"), (link_sched, "link_sched"), (eve_opt, "eve_opt"), (eve_sched, "eve_sched")):
            obj.load_state_dict(state[key])
        link_epoch, eve_epoch, history = state["link_epoch"], state["eve_epoch"], state["history"]
        wall_before = state["wall_seconds"]
        say(f"resuming {run_dir}: link epoch {link_epoch}/{cfg.epochs}, eavesdropper epoch {eve_epoch}/{cfg.eve_epochs}")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.toml", config_to_toml(cfg.to_dict()))

    def checkpoint() -> None:
        save_checkpoint(
            {
                "format": FORMAT, "config": cfg.to_dict(), "link_epoch": link_epoch, "eve_epoch": eve_epoch,
                "link": link.state_dict(), "eve": eve.state_dict(), "link_opt": link_opt.state_dict(),
                "link_sched": link_sched.state_dict(), "eve_opt": eve_opt.state_dict(),
                "eve_sched": eve_sched.state_dict(), "history": history,
                "wall_seconds": wall_before + time.perf_counter() - t0,
            },
            ckpt_path,
        )

    # steps 1..link_epoch+eve_epoch are logged and checkpointed; drop anything logged after them
    writer = SummaryWriter(str(run_dir / "tb"), purge_step=link_epoch + eve_epoch + 1 if state is not None else None)
    eval_kw = dict(device=device, seed=cfg.seed, precision=cfg.precision)
    try:
        while link_epoch < cfg.epochs:
            stats = train_link_epoch(link, train, link_opt, cfg, link_epoch, device)
            link_sched.step()
            test_m = evaluate(link, test, **eval_kw)
            link_epoch += 1
            _log(writer, "train", stats, link_epoch)
            _log(writer, "legit", _legit_scalars(test_m), link_epoch)
            history.append({"phase": "link", "epoch": link_epoch, **stats, **test_m})
            say(f"link epoch {link_epoch}/{cfg.epochs}: loss {stats['loss']:.4f} acc {test_m['legit_acc']:.4f} "
                f"psnr {test_m['legit_psnr']:.2f} dB ({stats['seconds']:.1f} s)")
            checkpoint()
        transmit = encoder_transmit(link)
        while eve_epoch < cfg.eve_epochs:
            stats = train_eavesdropper_epoch(
                eve, transmit, train, eve_opt, batch_size=cfg.batch_size, seed=cfg.seed, epoch=eve_epoch, device=device,
                precision=cfg.precision,
            )
            eve_sched.step()
            eve_m = evaluate(link, test, eve=eve, **eval_kw)
            eve_epoch += 1
            step = cfg.epochs + eve_epoch
            writer.add_scalar("eve/train_loss", stats["loss"], step)
            writer.add_scalar("eve/acc", eve_m["eve_acc"], step)
            history.append({"phase": "eve", "epoch": eve_epoch, **stats, "eve_acc": eve_m["eve_acc"]})
            say(f"eavesdropper epoch {eve_epoch}/{cfg.eve_epochs}: loss {stats['loss']:.4f} acc {eve_m['eve_acc']:.4f}")
            checkpoint()
        final = evaluate(link, test, eve=eve if cfg.eve_epochs else None, **eval_kw)
        final["chance"] = 1.0 / len(torch.unique(test.tensors[1]))
        link_secs = [h["seconds"] for h in history if h["phase"] == "link"]
        metrics = {
            "config": cfg.to_dict(),
            "test": final,
            "history": history,
            "seconds_per_link_epoch": sum(link_secs) / len(link_secs) if link_secs else math.nan,
            "wall_seconds": wall_before + time.perf_counter() - t0,
            "device": str(device),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        hparams = {k: (str(v) if isinstance(v, (tuple, list)) or v is None else v) for k, v in _results_config(cfg).items()}
        writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in final.items()}, run_name=".")
        save_checkpoint(
            {"format": MODEL_FORMAT, "config": cfg.to_dict(), "link": link.state_dict(), "eve": eve.state_dict()},
            run_dir / "model.pt",
        )
        write_json(run_dir / "metrics.json", metrics)
    finally:
        writer.close()
    return metrics
