"""Atomic file writes and safe checkpoint loading.

Every file semgame writes (checkpoints, metrics, configs, reports) goes through a temporary file in
the same folder followed by :func:`os.replace`, so an interrupted run never leaves a half-written
file and never destroys the previous version. Checkpoints are read with
``torch.load(weights_only=True)``: nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["CheckpointError", "atomic_write", "save_checkpoint", "load_checkpoint", "write_json", "write_png", "write_text"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not a semgame checkpoint."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(obj: dict[str, Any], path: str | Path) -> Path:
    """Atomically ``torch.save`` a dict of tensors, state dicts and plain Python values."""
    return atomic_write(path, lambda fh: torch.save(obj, fh))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; clear :class:`CheckpointError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for truncated / foreign files
        raise CheckpointError(f"checkpoint {path} is corrupt or not a safe semgame checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(obj, dict) or "format" not in obj:
        raise CheckpointError(f"checkpoint {path} is not a semgame checkpoint (no 'format' entry)")
    return obj


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write pretty-printed JSON."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda fh: fh.write(text), mode="w")


def write_png(path: str | Path, fig: Any, dpi: int = 120) -> Path:
    """Atomically save a matplotlib figure as PNG."""
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi))


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write a text file."""
    return atomic_write(path, lambda fh: fh.write(text), mode="w")
