"""Reading trained links back: run folders, ``model.pt`` and ``checkpoint.pt`` files.

Every semgame file that holds a link (written by :func:`semgame.run.train_run` or
:func:`semgame.privacy.minmax.minmax_run`) is a dict with a ``format`` entry, the flat
:class:`~semgame.config.LinkConfig` and state dicts. It is read with ``torch.load(weights_only=True)``
(:func:`semgame.io.load_checkpoint`): nothing is unpickled. The envs, the CLI and the privacy
benchmarks all load links through :func:`load_run`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semgame.config import LinkConfig, from_dict
from semgame.io import CheckpointError, load_checkpoint
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper, build_link

__all__ = ["FORMAT", "MODEL_FORMAT", "load_run", "run_file", "run_config", "is_minmax_run"]

FORMAT = "semgame-run-v1"
"""``format`` of a training run's ``checkpoint.pt``."""
MODEL_FORMAT = "semgame-model-v1"
"""``format`` of a finished run's ``model.pt`` (config, link and eavesdropper weights only)."""


def load_run(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[LinkConfig, SemanticLink, NeuralEavesdropper]:
    """Config, link and eavesdropper of a run folder, a ``model.pt`` or a ``checkpoint.pt``, in eval mode.

    A folder is read from ``model.pt`` when training finished, else from its latest ``checkpoint.pt``.
    """
    path = run_file(run_dir)
    state = _read(path, device)
    cfg = from_dict(state["config"])
    link, eve = build_link(cfg).to(device), build_eavesdropper(cfg).to(device)
    try:
        link.load_state_dict(state["link"])
        eve.load_state_dict(state["eve"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:  # missing, mis-shaped or mis-typed entries
        raise CheckpointError(f"checkpoint {path} does not match its config: {str(err).splitlines()[0]}") from None
    return cfg, link.eval(), eve.eval()


def run_file(run_dir: str | Path) -> Path:
    """The file :func:`load_run` reads: ``run_dir`` itself if a file, else its ``model.pt`` when training
    finished, else its latest ``checkpoint.pt``."""
    path = Path(run_dir)
    if path.is_dir():
        return path / "model.pt" if (path / "model.pt").exists() else path / "checkpoint.pt"
    return path


def run_config(run_dir: str | Path) -> LinkConfig:
    """The :class:`~semgame.config.LinkConfig` of a run (the file :func:`load_run` reads), without building it."""
    return from_dict(_read(run_file(run_dir))["config"])


def is_minmax_run(run_dir: str | Path) -> bool:
    """Whether a run (as :func:`load_run` reads it) was written by a min-max game (its eavesdropper is the
    game's in-loop one) rather than by ``semgame train`` (an eavesdropper trained against the frozen link)."""
    return "minmax" in _read(run_file(run_dir))


def _read(path: Path, device: str | torch.device = "cpu") -> dict:
    state = load_checkpoint(path, map_location=device)
    if state.get("format") not in (FORMAT, MODEL_FORMAT):
        raise CheckpointError(
            f"checkpoint {path} has format {state.get('format')!r}, expected {MODEL_FORMAT!r} or {FORMAT!r}"
        )
    if not isinstance(state.get("config"), dict):
        raise CheckpointError(f"checkpoint {path} has no config (a dict of LinkConfig keys)")
    return state
