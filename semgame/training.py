"""Training and evaluation of the legitimate link and of eavesdroppers.

* :func:`train_link_epoch` — multi-task training: cross-entropy + ``recon_weight`` * :func:`recon_term`.
* :func:`train_eavesdropper_epoch` — supervised training of an eavesdropper on its own channel,
  on whatever waveform a ``transmit(images, labels)`` callable produces (the plain encoder, or a
  defended transmitter).
* :func:`evaluate` — legitimate accuracy, PSNR, SSIM and eavesdropper accuracy at given SNRs.

All randomness (shuffling, channel noise, fading) comes from generators seeded by
``(seed, stream, epoch)`` through :func:`semgame.seeds.seeded_generator`, so a resumed run repeats exactly what an
uninterrupted one does.

Precision: every function takes ``precision`` (``"fp32"``, ``"bf16"`` or ``"auto"``, see
:func:`resolve_precision`) and runs the forward passes of the neural blocks under
:func:`autocast`; the channel stays complex64 (:mod:`semgame.link`) and losses and metrics are
computed in float32.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from semgame.config import PRECISIONS, RECON_LOSSES, ConfigError, LinkConfig
from semgame.link import NeuralEavesdropper, SemanticLink
from semgame.metrics import accuracy, psnr, ssim
from semgame.seeds import Stream, seeded_generator

__all__ = [
    "Transmit",
    "resolve_device",
    "resolve_precision",
    "autocast",
    "link_schedule",
    "per_batch",
    "batches",
    "augment_batch",
    "recon_term",
    "train_link_epoch",
    "train_eavesdropper_epoch",
    "fit_eavesdropper",
    "evaluate",
    "encoder_transmit",
    "freeze",
]

Transmit = Callable[[Tensor, Tensor], Tensor]
"""``transmit(images, labels) -> x [batch, k] complex64``: what goes on the air."""


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; ``"cuda"`` without a GPU is a :class:`ConfigError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA GPU; use --device cpu or auto")
    return torch.device(name)


@functools.lru_cache(maxsize=8)
def _native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":  # AMX or AVX512-BF16; on plain AVX2 bf16 convs are emulated and much slower
        return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"fp32"`` or ``"bf16"`` for a requested precision on ``device``.

    ``"auto"`` is ``"bf16"`` where the device computes bf16 natively (CUDA GPUs with bf16 support;
    CPUs with AMX or AVX512-BF16) and ``"fp32"`` elsewhere: on an AVX2-only CPU, bf16 autocast runs
    these conv links several times *slower* than fp32 (``benchmarks/bench_precision.py``).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if _native_bf16(torch.device(device)) else "fp32"


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """Context for the forward passes of neural blocks: bf16 autocast on ``device`` or nothing.

    Convolutions and linear layers run in bf16 inside it; the links switch it off around the
    channel (:func:`semgame.link.fp32_channel`), and power normalisation casts to float32.

    >>> with autocast("fp32", "cpu"):
    ...     torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype
    torch.float32
    """
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=resolve_precision(precision, device) == "bf16")


def batches(
    data: TensorDataset,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Mini-batches ``(images, labels)`` on ``device``; shuffled when a (CPU) generator is given.

    On an accelerator the whole set is copied there once per pass and batches are gathered there (no
    gather on the host and small copy per batch); the batches are the same on every device.
    """
    images, labels = data.tensors
    n = len(labels)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if torch.device(device).type != "cpu":
        images, labels, order = images.to(device), labels.to(device), order.to(device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield images[idx].to(device, non_blocking=True), labels[idx].to(device, non_blocking=True)


def augment_batch(images: Tensor, generator: torch.Generator, pad: int = 4) -> Tensor:
    """Random horizontal flip and translation by up to ``pad`` pixels (reflect padding), per image.

    ``images``: ``[batch, C, H, W]``; ``generator``: a CPU generator. Returns a new tensor.
    """
    b, _, h, w = images.shape
    flip = (torch.rand(b, generator=generator) < 0.5).to(images.device)
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    shift_y, shift_x = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator)).to(images.device)
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect").permute(0, 2, 3, 1)
    rows = shift_y[:, None, None] + torch.arange(h, device=images.device)[None, :, None]
    cols = shift_x[:, None, None] + torch.arange(w, device=images.device)[None, None, :]
    batch_idx = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch_idx, rows, cols].permute(0, 3, 1, 2).contiguous()


def recon_term(recon: Tensor, images: Tensor, kind: str = "mse", reduction: str = "mean") -> Tensor:
    """The reconstruction term of the link loss: ``"mse"``, or ``"psnr"`` (minus the per-image PSNR in dB).

    ``recon``, ``images``: ``[batch, C, H, W] float32``. ``reduction="mean"``: a scalar, the mean
    over the batch (for ``"mse"`` exactly :func:`torch.nn.functional.mse_loss`); ``"none"``: the
    per-image terms ``[batch]``, for weighted losses.

    >>> x = torch.full((2, 1, 2, 2), 0.5)
    >>> round(float(recon_term(x + 0.1, x)), 6), recon_term(x + 0.1, x, "psnr", reduction="none").round()
    (0.01, tensor([-20., -20.]))
    """
    if kind not in RECON_LOSSES:
        raise ConfigError(f"recon_loss must be one of {', '.join(RECON_LOSSES)}; got {kind!r}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if kind == "mse" and reduction == "mean":
        return F.mse_loss(recon, images)
    per = (recon - images).square().flatten(1).mean(1) if kind == "mse" else -psnr(recon, images)
    return per.mean() if reduction == "mean" else per


def _num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def link_schedule(
    optimizer: torch.optim.Optimizer, cfg: LinkConfig, num_train: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule of ``cfg.schedule`` for ``cfg.epochs`` epochs over ``num_train`` samples.

    ``"cosine"``: :class:`~torch.optim.lr_scheduler.CosineAnnealingLR` from ``cfg.lr`` to 0, stepped once
    per epoch. ``"onecycle"``: :class:`~torch.optim.lr_scheduler.OneCycleLR`, a linear warm-up from
    ``cfg.lr / 25`` to ``cfg.lr`` over the first 25 % of the batches, then a linear decay to
    ``cfg.lr / 25e4``, stepped after every batch by :func:`train_link_epoch` (see :func:`per_batch`).
    """
    if cfg.schedule == "onecycle":
        total = max(cfg.epochs, 1) * _num_batches(num_train, cfg.batch_size)
        # OneCycleLR divides by (pct_start * total - 1): 0 / 0 on its first step when that is 0 (4 batches in all)
        pct_start = 0.25 if total != 4 else 0.5
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=cfg.lr,
            total_steps=total,
            pct_start=pct_start,
            anneal_strategy="linear",
            cycle_momentum=False,
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))


def per_batch(schedule: object) -> bool:
    """Whether a schedule is stepped after every batch (one-cycle) rather than after every epoch."""
    return isinstance(schedule, torch.optim.lr_scheduler.OneCycleLR)


def train_link_epoch(
    link: SemanticLink,
    data: TensorDataset,
    optimizer: torch.optim.Optimizer,
    cfg: LinkConfig,
    epoch: int,
    device: torch.device,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, float]:
    """One epoch of multi-task training; returns mean ``loss``, ``ce``, ``mse`` and ``seconds``.

    Forward passes run under :func:`autocast` with ``cfg.precision``. A per-batch ``schedule``
    (:func:`per_batch`) is stepped after every optimiser step; an epoch schedule is the caller's.
    """
    step_schedule = schedule is not None and per_batch(schedule)
    link.train()
    amp = autocast(cfg.precision, device)
    shuffle = seeded_generator(cfg.seed, Stream.LINK_SHUFFLE, epoch)
    noise = seeded_generator(cfg.seed, Stream.LINK_NOISE, epoch, device=device)
    augment = seeded_generator(cfg.seed, Stream.AUGMENT, epoch)
    snr = cfg.train_snr_db if cfg.train_snr_db is not None else cfg.snr_db
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, ce, mse: summed where they are (no host sync)
    start, n = time.perf_counter(), 0
    for images, labels in tqdm(
        batches(data, cfg.batch_size, device=device, generator=shuffle),
        total=_num_batches(len(data), cfg.batch_size),
        desc=f"link epoch {epoch + 1}",
        leave=False,
        disable=None,
    ):
        if cfg.augment:
            images = augment_batch(images, augment)
        with amp:
            out = link(images, snr_db=snr, generator=noise)
        ce = F.cross_entropy(out.logits.float(), labels)
        mse = F.mse_loss(out.recon.float(), images)
        rec = mse if cfg.recon_loss == "mse" else recon_term(out.recon.float(), images, cfg.recon_loss)
        loss = ce + cfg.recon_weight * rec
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step_schedule:
            schedule.step()
        b = len(labels)
        n += b
        sums += torch.stack([loss.detach(), ce.detach(), mse.detach()]).double() * b
    loss_sum, ce_sum, mse_sum = sums.tolist()
    return {"loss": loss_sum / n, "ce": ce_sum / n, "mse": mse_sum / n, "seconds": time.perf_counter() - start}


def train_eavesdropper_epoch(
    eve: NeuralEavesdropper,
    transmit: Transmit,
    data: TensorDataset,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    device: torch.device,
    precision: str = "auto",
) -> dict[str, float]:
    """One epoch of supervised eavesdropper training on ``transmit``'s waveforms (not updated)."""
    eve.train()
    amp = autocast(precision, device)
    shuffle = seeded_generator(seed, Stream.EVE_SHUFFLE, epoch)
    noise = seeded_generator(seed, Stream.EVE_NOISE, epoch, device=device)
    total = torch.zeros((), dtype=torch.float64, device=device)  # summed where it is (no host sync)
    n, start = 0, time.perf_counter()
    for images, labels in tqdm(
        batches(data, batch_size, device=device, generator=shuffle),
        total=_num_batches(len(data), batch_size),
        desc=f"eve epoch {epoch + 1}",
        leave=False,
        disable=None,
    ):
        with torch.no_grad(), amp:
            x = transmit(images, labels)
        with amp:
            logits = eve(x, generator=noise)
        loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach().double() * len(labels)
        n += len(labels)
    return {"loss": float(total) / n, "seconds": time.perf_counter() - start}


def fit_eavesdropper(
    eve: NeuralEavesdropper,
    transmit: Transmit,
    data: TensorDataset,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: torch.device,
    precision: str = "auto",
) -> NeuralEavesdropper:
    """Train an eavesdropper from its current weights for ``epochs`` epochs (Adam, cosine lr)."""
    optimizer = torch.optim.Adam(eve.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    for epoch in range(epochs):
        train_eavesdropper_epoch(
            eve,
            transmit,
            data,
            optimizer,
            batch_size=batch_size,
            seed=seed,
            epoch=epoch,
            device=device,
            precision=precision,
        )
        schedule.step()
    return eve


@torch.no_grad()
def evaluate(
    link: SemanticLink,
    data: TensorDataset,
    *,
    device: torch.device,
    eve: NeuralEavesdropper | None = None,
    snr_db: float | None = None,
    eve_snr_db: float | None = None,
    batch_size: int = 512,
    seed: int = 0,
    precision: str = "auto",
) -> dict[str, float]:
    """Test metrics: ``legit_acc``, ``legit_psnr`` (dB), ``legit_ssim`` and, with ``eve``, ``eve_acc``.

    ``snr_db`` / ``eve_snr_db`` override the channels' own SNRs. Channel draws use a generator
    seeded by ``seed``, so evaluation is deterministic. Forward passes run under :func:`autocast`.
    """
    link.eval()
    amp = autocast(precision, device)
    if eve is not None:
        eve.eval()
    legit_noise = seeded_generator(seed, Stream.EVAL_LEGIT_NOISE, device=device)
    eve_noise = seeded_generator(seed, Stream.EVAL_EVE_NOISE, device=device)
    keys = (
        ("legit_acc", "legit_psnr", "legit_ssim", "eve_acc")
        if eve is not None
        else ("legit_acc", "legit_psnr", "legit_ssim")
    )
    sums = torch.zeros(len(keys), dtype=torch.float64, device=device)  # summed where they are (no host sync)
    n = 0
    for images, labels in batches(data, batch_size, device=device):
        with amp:
            out = link(images, snr_db=snr_db, generator=legit_noise)
            eve_logits = eve(out.x, snr_db=eve_snr_db, generator=eve_noise) if eve is not None else None
        recon = out.recon.float()
        batch = [accuracy(out.logits, labels).sum(), psnr(recon, images).sum(), ssim(recon, images).sum()]
        if eve_logits is not None:
            batch.append(accuracy(eve_logits, labels).sum())
        sums += torch.stack(batch).double()
        n += len(labels)
    return {k: v / n for k, v in zip(keys, sums.tolist(), strict=True)}


def encoder_transmit(link: SemanticLink) -> Transmit:
    """The undefended transmitter: ``link.encoder(images)`` in eval mode (BatchNorm frozen)."""

    def transmit(images: Tensor, labels: Tensor) -> Tensor:
        link.encoder.eval()
        return link.encoder(images)

    return transmit


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` for every parameter; returns the module."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
