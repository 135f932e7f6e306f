"""Run configuration: one flat, validated dataclass, loadable from TOML and overridable by flags.

Every field is a CLI flag of ``semgame train`` (``k`` -> ``--k``, ``snr_db`` -> ``--snr-db``) and a
key of a TOML config file. Unknown keys and invalid values stop with a one-line :class:`ConfigError`.

Example:
    >>> cfg = LinkConfig(dataset="mnist", k=16)
    >>> cfg.replace(snr_db=5.0).snr_db
    5.0
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from semgame.channels import CSIS, EQUALIZERS, FADINGS, SNR_DB_RANGE
from semgame.models import ARCHS, latent_layout

__all__ = [
    "ConfigError",
    "LinkConfig",
    "PRECISIONS",
    "from_dict",
    "load_config_file",
    "check_int",
    "check_lr",
    "check_snr",
    "MAX_WIDTH",
    "MAX_THREADS",
    "MAX_SEED",
]

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("cosine", "onecycle")
RECON_LOSSES = ("mse", "psnr")
"""Reconstruction terms of the link loss (:func:`semgame.training.recon_term`)."""
MAX_WIDTH = 256
"""Largest model ``width`` (a CIFAR-10 link of width 256 has 0.24 G parameters)."""
MAX_THREADS = 1024
"""Largest ``threads`` (torch refuses absurd counts with an overflow deep inside)."""
MAX_SEED = 2**32 - 1
"""Largest ``seed`` (seeds are mixed into 64-bit generator seeds, see :mod:`semgame.seeds`)."""
MAX_LR = 3.4028234663852886e38
"""Largest learning rate: the largest float32 (torch's optimisers refuse more with an overflow deep inside)."""


class ConfigError(ValueError):
    """A configuration value or key is invalid."""


@dataclass(frozen=True)
class LinkConfig:
    """Everything that defines a semantic link, its eavesdropper and their training.

    Channel: ``snr_db`` is the legitimate receiver's SNR, ``eve_snr_db`` the eavesdropper's
    (``None``: same as legitimate). ``train_snr_db`` is an optional ``[lo, hi]`` range sampled
    per sample during training (``None``: train at ``snr_db``). Both receivers see independent
    Rayleigh fading (``fading``), block (one coefficient per image) or per symbol (``block``).
    ``csi="perfect"`` equalises with the true coefficient (``equalizer`` mmse or zf).

    Architecture (:mod:`semgame.models`): ``arch="dense"`` (the default, and what every config
    written before the field existed means) maps a conv trunk through one linear layer to the
    ``2k`` reals; ``arch="spatial"`` keeps them as a feature map of side ``H / 4`` (Deep JSCC
    style), so ``2k`` must fill whole channels of it (``k`` a multiple of 32 for CIFAR-10).

    Training: the link minimises ``CE + recon_weight * R`` with Adam at ``lr``, where ``R`` is the
    ``recon_loss``: ``"mse"``, the mean squared error, or ``"psnr"``, minus the per-image PSNR in dB
    averaged over the batch (the reported metric; its gradient is an image's MSE gradient times
    ``4.34 / MSE``, so ``recon_weight`` shrinks by about that factor: 0.08 for psnr against 50 for
    mse on the CIFAR-10 spatial link). Adam runs on the
    ``schedule`` of :func:`semgame.training.link_schedule` (``"cosine"`` over the epochs, or
    ``"onecycle"``: linear warm-up to ``lr`` and linear decay, stepped per batch); ``augment`` adds random
    horizontal flips and 4-pixel translations (useful for CIFAR-10, not for digits).

    Limits: ``1 <= k <=`` the number of image values (784 for MNIST, 3072 for CIFAR-10: a latent
    never expands the image), ``1 <= width <=`` :data:`MAX_WIDTH`, SNRs within
    :data:`semgame.channels.SNR_DB_RANGE`, ``0 <= seed <=`` :data:`MAX_SEED`,
    ``1 <= threads <=`` :data:`MAX_THREADS`.

    ``precision``: ``"fp32"``, ``"bf16"`` (autocast of the neural blocks; the channel stays
    complex64) or ``"auto"`` (bf16 only where the device computes it natively, see
    :func:`semgame.training.resolve_precision`). Like ``device`` and ``threads`` it does not
    define the run: a run may resume under another precision.
    """

    dataset: str = "mnist"
    arch: str = "dense"
    k: int = 16
    width: int = 16
    snr_db: float = 10.0
    eve_snr_db: float | None = None
    train_snr_db: tuple[float, float] | None = None
    fading: str = "rayleigh"
    block: bool = True
    csi: str = "perfect"
    equalizer: str = "mmse"
    epochs: int = 5
    eve_epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    schedule: str = "cosine"
    recon_weight: float = 1.0
    recon_loss: str = "mse"
    augment: bool = False
    train_limit: int | None = None
    test_limit: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    threads: int = 1
    data_root: str | None = None

    def __post_init__(self) -> None:
        from semgame.data import dataset_info

        if not isinstance(self.dataset, str):
            raise ConfigError(f"dataset must be a name (string), got {self.dataset!r}")
        try:
            info = dataset_info(self.dataset)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        c, h, w = info.shape
        check_int("k", self.k, high=c * h * w)
        check_int("width", self.width, high=MAX_WIDTH)
        check_int("epochs", self.epochs, low=0)
        check_int("eve_epochs", self.eve_epochs, low=0)
        check_int("batch_size", self.batch_size)
        check_int("threads", self.threads, high=MAX_THREADS)
        check_int("seed", self.seed, low=0, high=MAX_SEED)
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        check_snr("snr_db", self.snr_db)
        if self.eve_snr_db is not None:
            check_snr("eve_snr_db", self.eve_snr_db)
        if self.train_snr_db is not None:
            lo, hi = _pair("train_snr_db", self.train_snr_db)
            check_snr("train_snr_db", lo)
            check_snr("train_snr_db", hi)
            object.__setattr__(self, "train_snr_db", (lo, hi))
        check_lr("lr", self.lr)
        _finite("recon_weight", self.recon_weight, nonnegative=True)
        if self.data_root is not None and not isinstance(self.data_root, str):
            raise ConfigError(f"data_root must be a folder path (string), got {self.data_root!r}")
        if not isinstance(self.augment, bool) or not isinstance(self.block, bool):
            raise ConfigError(f"augment and block must be true or false, got {self.augment!r} and {self.block!r}")
        _choice("fading", self.fading, FADINGS)
        _choice("csi", self.csi, CSIS)
        _choice("equalizer", self.equalizer, EQUALIZERS)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("recon_loss", self.recon_loss, RECON_LOSSES)
        _choice("arch", self.arch, ARCHS)
        try:
            latent_layout(self.arch, info.shape, self.k)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    @property
    def eve_snr(self) -> float:
        """The eavesdropper's SNR in dB (the legitimate SNR unless set)."""
        return self.snr_db if self.eve_snr_db is None else self.eve_snr_db

    def replace(self, **changes: Any) -> LinkConfig:
        """A copy with some fields changed (validated like the original)."""
        return from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/TOML-friendly; tuples become lists)."""
        d = dataclasses.asdict(self)
        if d["train_snr_db"] is not None:
            d["train_snr_db"] = list(d["train_snr_db"])
        return d


def from_dict(values: dict[str, Any], cls: type = LinkConfig) -> Any:
    """Build a config dataclass from a dict; unknown keys raise :class:`ConfigError`."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(map(repr, unknown))}; known keys: {', '.join(sorted(known))}"
        )
    values = dict(values)
    for key, val in values.items():
        if isinstance(val, list):
            values[key] = tuple(val)
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(str(err)) from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a dict (validation happens in :func:`from_dict`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None


def check_int(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` if it is an integer in ``[low, high]``, else a one-line :class:`ConfigError`.

    >>> check_int("epochs", 3, low=0)
    3
    >>> check_int("threads", 0)
    Traceback (most recent call last):
    ...
    semgame.config.ConfigError: threads must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def check_snr(name: str, value: Any) -> float:
    """``value`` as a float if it is an SNR in dB within :data:`~semgame.channels.SNR_DB_RANGE`, else a
    one-line :class:`ConfigError`."""
    _finite(name, value)
    lo, hi = SNR_DB_RANGE
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in [{lo:g}, {hi:g}] dB, got {value!r}")
    return float(value)


def check_lr(name: str, value: Any) -> None:
    """A one-line :class:`ConfigError` unless ``value`` is a learning rate in ``(0,`` :data:`MAX_LR` ``]``."""
    _finite(name, value, positive=True)
    if value > MAX_LR:
        raise ConfigError(f"{name} must be <= {MAX_LR:.4g} (the largest float32), got {value!r}")


def _finite(name: str, value: Any, positive: bool = False, nonnegative: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if nonnegative and value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{name} must be a pair [lo, hi], got {value!r}")
    lo, hi = value
    _finite(name, lo)
    _finite(name, hi)
    if lo > hi:
        raise ConfigError(f"{name} must satisfy lo <= hi, got {value!r}")
    return float(lo), float(hi)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
