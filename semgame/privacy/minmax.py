"""Iterative min-max training of the legitimate link against an in-loop eavesdropper.

Per mini-batch of a *round* (one pass over the training set):

1. the eavesdropper takes ``eve_steps`` Adam steps on cross-entropy, on the transmitted waveform
   (detached) through its own channel at the eavesdropper SNR (``LinkConfig.eve_snr_db``);
2. encoder + legitimate receiver take ``legit_steps`` Adam steps on

       ``task + lambda_ * leakage``,  ``task = CE_legit + recon_weight * MSE``,

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

The eavesdropper's weights are not updated in step 2. Optionally the link is pre-trained
(``pretrain_epochs``, plain multi-task training) and the eavesdropper too (``eve_pretrain_epochs``),
unless an initial run (``init=``) supplies them.

:func:`minmax_run` keeps everything in a run folder (``config.toml``, atomic ``checkpoint.pt`` after
every epoch of every phase, ``model.pt`` readable by :func:`semgame.loader.load_run`,
``metrics.json``, ``tb/`` with hparams). All randomness is seeded per ``(seed, phase, epoch)``, so
a run interrupted at any point resumes from its last checkpoint and ends with exactly the weights
of an uninterrupted run.
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
from torch.utils.tensorboard import SummaryWriter

from semgame.channels import ChannelState
from semgame.config import ConfigError, LinkConfig, from_dict
from semgame.io import load_checkpoint, save_checkpoint, write_json, write_text
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper, build_link
from semgame.loader import MODEL_FORMAT, load_run
from semgame.run import RUNTIME_KEYS, config_to_toml, load_data
from semgame.seeds import Stream, seeded_generator
from semgame.training import (
    batches,
    encoder_transmit,
    evaluate,
    resolve_device,
    train_eavesdropper_epoch,
    train_link_epoch,
)

__all__ = ["OBJECTIVES", "MinMaxConfig", "leakage_term", "sample_snr_db", "task_loss", "minmax_epoch", "minmax_run", "FORMAT"]

FORMAT = "semgame-minmax-v1"
OBJECTIVES = ("neg_ce", "kl_uniform")


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
        for name, low in (("eve_steps", 1), ("legit_steps", 1), ("rounds", 0), ("pretrain_epochs", 0), ("eve_pretrain_epochs", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.eve_lr is not None and (
            isinstance(self.eve_lr, bool) or not isinstance(self.eve_lr, (int, float))
            or not math.isfinite(self.eve_lr) or self.eve_lr <= 0
        ):
            raise ConfigError(f"eve_lr must be a finite number > 0, got {self.eve_lr!r}")
        if self.gate_snr_db is not None and (
            isinstance(self.gate_snr_db, bool) or not isinstance(self.gate_snr_db, (int, float))
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
    """Effective SNR of each transmission, ``10 log10(mean_k |h|^2 / N0)`` ``[batch]`` (block fading: ``|h|^2 / N0``)."""
    gain = (state.h.real.square() + state.h.imag.square()).mean(-1)
    return 10.0 * torch.log10(gain / state.noise_var)


def task_loss(logits: Tensor, recon: Tensor, images: Tensor, labels: Tensor, recon_weight: float,
              weight: Tensor | None = None) -> Tensor:
    """``CE + recon_weight * MSE``, each transmission weighted by ``weight [batch]`` (mean over the batch)."""
    if weight is None:
        return F.cross_entropy(logits, labels) + recon_weight * F.mse_loss(recon, images)
    per = F.cross_entropy(logits, labels, reduction="none") + recon_weight * (recon - images).square().flatten(1).mean(1)
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
    """One round of the alternating game; returns means of ``task``, ``leak``, ``eve_ce``, ``legit_acc_train``."""
    link.train()
    shuffle = seeded_generator(cfg.seed, Stream.MINMAX_SHUFFLE, epoch)
    legit_noise = seeded_generator(cfg.seed, Stream.MINMAX_LEGIT_NOISE, epoch, device=device)
    eve_noise = seeded_generator(cfg.seed, Stream.MINMAX_EVE_NOISE, epoch, device=device)
    snr = cfg.train_snr_db if cfg.train_snr_db is not None else cfg.snr_db
    eve_snr = None if not mm.eve_snr_spread_db else (cfg.eve_snr - mm.eve_snr_spread_db, cfg.eve_snr + mm.eve_snr_spread_db)
    gate = mm.gate_snr_db
    sums = {"task": 0.0, "leak": 0.0, "eve_ce": 0.0, "loss": 0.0}
    n, start = 0, time.perf_counter()
    for images, labels in batches(data, cfg.batch_size, device=device, generator=shuffle):
        for step in range(mm.legit_steps):
            out = link(images, snr_db=snr, generator=legit_noise)
            if step == 0:
                eve.train()
                eve.requires_grad_(True)
                x_det = out.x.detach()
                for _ in range(mm.eve_steps):
                    eve_ce = F.cross_entropy(eve(x_det, snr_db=eve_snr, generator=eve_noise), labels)
                    eve_opt.zero_grad(set_to_none=True)
                    eve_ce.backward()
                    eve_opt.step()
                sums["eve_ce"] += float(eve_ce.detach()) * len(labels)
            eve.requires_grad_(False)
            y_eve, eve_state = eve.channel(out.x, snr_db=eve_snr, generator=eve_noise)
            legit_w = eve_w = None
            if gate is not None:
                legit_w = (sample_snr_db(out.state) >= gate).to(out.logits.dtype)
                eve_w = (sample_snr_db(eve_state) < gate).to(out.logits.dtype)
            task = task_loss(out.logits, out.recon, images, labels, cfg.recon_weight, legit_w)
            leak = leakage_term(eve.classifier(y_eve), labels, mm.objective, eve_w)
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


def _hparams(cfg: LinkConfig, mm: MinMaxConfig) -> dict[str, Any]:
    out = {}
    for k, v in {**{k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_KEYS}, **mm.to_dict()}.items():
        out[k] = str(v) if isinstance(v, (tuple, list)) or v is None else v
    out["eve_snr"] = cfg.eve_snr
    return out


def minmax_run(
    cfg: LinkConfig,
    mm: MinMaxConfig,
    run_dir: str | Path,
    *,
    init: str | Path | None = None,
    quiet: bool = False,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Pre-train (optional) then play ``mm.rounds`` rounds of the game in ``run_dir``; returns metrics.

    ``init``: a run folder / ``model.pt`` whose link (and eavesdropper) weights start the game
    (its config must have the same dataset, ``k`` and ``width``). Resumes from
    ``run_dir/checkpoint.pt`` when present (a different config is a :class:`ConfigError`).
    ``stop_after``: return after that many epochs *in this call* (all phases counted), as an
    interruption would; the checkpoint is complete and a later call continues. Returns ``{}`` then.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    device = resolve_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    results_cfg = {"link": {k: v for k, v in cfg.to_dict().items() if k not in RUNTIME_KEYS}, "minmax": mm.to_dict(),
                   "init": None if init is None else str(init)}
    state: dict[str, Any] | None = None
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        if state.get("format") != FORMAT:
            raise ConfigError(f"{run_dir} holds a checkpoint that is not a min-max run ({state.get('format')!r}); use a new --run-dir")
        if state["results_config"] != results_cfg:
            raise ConfigError(f"{run_dir} holds a min-max run with a different config; use a new --run-dir")
    train, test = load_data(cfg)
    with torch.random.fork_rng(devices=[]):  # weights from the seed, not from the global RNG
        torch.manual_seed(cfg.seed)
        link, eve = build_link(cfg).to(device), build_eavesdropper(cfg).to(device)
    pre_epochs = mm.pretrain_epochs
    if init is not None and state is None:
        icfg, ilink, ieve = load_run(init, device=device)
        if (icfg.dataset, icfg.k, icfg.width) != (cfg.dataset, cfg.k, cfg.width):
            raise ConfigError(f"init run {init} has dataset/k/width {(icfg.dataset, icfg.k, icfg.width)}, expected {(cfg.dataset, cfg.k, cfg.width)}")
        link.load_state_dict(ilink.state_dict())
        eve.load_state_dict(ieve.state_dict())
    if init is not None:
        pre_epochs = 0
    link_opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
    eve_opt = torch.optim.Adam(eve.parameters(), lr=mm.eve_lr or cfg.lr)
    counters = {"pre": 0, "eve_pre": 0, "round": 0}
    history: list[dict[str, Any]] = []
    if state is not None:
        link.load_state_dict(state["link"])
        eve.load_state_dict(state["eve"])
        link_opt.load_state_dict(state["link_opt"])
        eve_opt.load_state_dict(state["eve_opt"])
        counters, history = state["counters"], state["history"]
        say(f"resuming {run_dir}: {counters}")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.toml", config_to_toml(cfg.to_dict()) + "\n[minmax]\n" + config_to_toml(mm.to_dict()))

    def checkpoint() -> None:
        save_checkpoint({
            "format": FORMAT, "results_config": results_cfg, "config": cfg.to_dict(), "minmax": mm.to_dict(),
            "counters": dict(counters), "history": history, "link": link.state_dict(), "eve": eve.state_dict(),
            "link_opt": link_opt.state_dict(), "eve_opt": eve_opt.state_dict(),
        }, ckpt_path)

    done_here = 0

    def stop() -> bool:
        return stop_after is not None and done_here >= stop_after

    step = sum(counters.values())
    writer = SummaryWriter(str(run_dir / "tb"), purge_step=step + 1 if step else None)
    eval_kw = dict(device=device, seed=cfg.seed)
    try:
        while counters["pre"] < pre_epochs:
            if stop():
                return {}
            stats = train_link_epoch(link, train, link_opt, cfg, 100 + counters["pre"], device)
            counters["pre"] += 1
            done_here += 1
            m = evaluate(link, test, **eval_kw)
            history.append({"phase": "pretrain", "epoch": counters["pre"], **stats, **m})
            writer.add_scalar("pretrain/legit_acc", m["legit_acc"], sum(counters.values()))
            say(f"pretrain {counters['pre']}/{pre_epochs}: acc {m['legit_acc']:.4f} psnr {m['legit_psnr']:.2f}")
            checkpoint()
        while counters["eve_pre"] < mm.eve_pretrain_epochs:
            if stop():
                return {}
            stats = train_eavesdropper_epoch(eve, encoder_transmit(link), train, eve_opt, batch_size=cfg.batch_size,
                                             seed=cfg.seed, epoch=100 + counters["eve_pre"], device=device)
            counters["eve_pre"] += 1
            done_here += 1
            m = evaluate(link, test, eve=eve, **eval_kw)
            history.append({"phase": "eve_pretrain", "epoch": counters["eve_pre"], **stats, "eve_acc": m["eve_acc"]})
            writer.add_scalar("pretrain/eve_acc", m["eve_acc"], sum(counters.values()))
            say(f"eve pretrain {counters['eve_pre']}/{mm.eve_pretrain_epochs}: eve acc {m['eve_acc']:.4f}")
            checkpoint()
        while counters["round"] < mm.rounds:
            if stop():
                return {}
            stats = minmax_epoch(link, eve, train, link_opt, eve_opt, cfg, mm, counters["round"], device)
            counters["round"] += 1
            done_here += 1
            m = evaluate(link, test, eve=eve, **eval_kw)
            history.append({"phase": "minmax", "epoch": counters["round"], **stats, **m})
            s = sum(counters.values())
            for key, val in stats.items():
                writer.add_scalar(f"minmax/{key}", val, s)
            for key in ("legit_acc", "legit_psnr", "eve_acc"):
                writer.add_scalar(f"test/{key}", m[key], s)
            say(f"round {counters['round']}/{mm.rounds}: legit acc {m['legit_acc']:.4f} psnr {m['legit_psnr']:.2f} "
                f"in-loop eve acc {m['eve_acc']:.4f} ({stats['seconds']:.1f} s)")
            checkpoint()
        final = evaluate(link, test, eve=eve, **eval_kw)
        final["chance"] = 1.0 / len(torch.unique(test.tensors[1]))
        metrics = {"config": cfg.to_dict(), "minmax": mm.to_dict(), "init": results_cfg["init"], "test": final,
                   "history": history, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        writer.add_hparams(_hparams(cfg, mm), {f"hparam/{k}": v for k, v in final.items()}, run_name=".")
        save_checkpoint({"format": MODEL_FORMAT, "config": cfg.to_dict(), "minmax": mm.to_dict(),
                         "link": link.state_dict(), "eve": eve.state_dict()}, run_dir / "model.pt")
        write_json(run_dir / "metrics.json", metrics)
    finally:
        writer.close()
    return metrics


def load_minmax_config(values: dict[str, Any]) -> MinMaxConfig:
    """A :class:`MinMaxConfig` from a dict (TOML ``[minmax]`` table); unknown keys are errors."""
    if "lambda" in values:
        values = {**{k: v for k, v in values.items() if k != "lambda"}, "lambda_": values["lambda"]}
    return from_dict(values, MinMaxConfig)
