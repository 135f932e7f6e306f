"""Atomic file writes and safe checkpoint loading.

Every file semgame writes (checkpoints, metrics, configs, reports) goes through a temporary file in
the same folder, synced to disk, then :func:`os.replace` (and the folder synced), so an interrupted run
never leaves a half-written file and never destroys the previous version. A process killed mid-write
leaves at most a hidden ``.<name>.*.tmp`` file, which :func:`remove_temp_files` clears. A write that fails (disk full,
read-only folder) raises :class:`OutputError` and leaves the previous version intact.
Checkpoints are read with ``torch.load(weights_only=True)``: nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CheckpointError",
    "OutputError",
    "atomic_write",
    "check_output_file",
    "save_checkpoint",
    "load_checkpoint",
    "remove_temp_files",
    "write_json",
    "write_png",
    "write_text",
]

_TEMP_GLOB = ".*.tmp"


class CheckpointError(RuntimeError):
    """A checkpoint (or another file of a run folder) is missing, unreadable or not semgame's."""


class OutputError(OSError):
    """A file could not be written (disk full, read-only folder, ...); its previous version is intact.

    ``errno`` is that of the underlying :class:`OSError`; the message is one line naming the file.
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable: a power cut after it keeps the new file, and files renamed later
    never outlive it. Best effort: a file system that cannot sync a folder keeps the file in place anyway."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def check_output_file(path: str | Path | None, flag: str = "--output") -> None:
    """Refuse up front (:class:`OutputError`), before a command's work, an output file ``path`` that cannot be
    written: a folder, or a path below a file. ``None`` (no output asked for) passes."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file name")
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise OutputError(f"{flag} {path} cannot be written: {above} is a file, not a folder")


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}", err.errno) from None
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            kept = "its previous version is intact" if path.exists() else "nothing was written"
            raise OutputError(f"cannot write {path}: {err.strerror or err} ({kept})", err.errno) from None
        raise
    _fsync_dir(path.parent)
    return path


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files that processes killed inside :func:`atomic_write` left in ``folder``.

    Call it only while no other process writes there (e.g. under :class:`semgame.runloop.RunLock`).
    """
    removed = [p for p in Path(folder).glob(_TEMP_GLOB) if p.is_file()]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def save_checkpoint(obj: dict[str, Any], path: str | Path) -> Path:
    """Atomically ``torch.save`` a dict of tensors, state dicts and plain Python values."""
    return atomic_write(path, lambda fh: torch.save(obj, fh))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; clear :class:`CheckpointError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as err:  # the file is there but cannot be read (permissions, I/O error)
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    except Exception:  # torch raises many types for truncated / foreign files; its advice to unpickle is unsafe
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a semgame checkpoint (it does not load as tensors and plain "
            "values; semgame never unpickles other objects)"
        ) from None
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
