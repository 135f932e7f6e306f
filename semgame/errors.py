"""The error types semgame raises on bad input: each carries a one-line message naming the problem.

Bad configs, flags, files, data, agent specs and actions never end in a traceback from inside torch,
NumPy or Gymnasium: semgame checks them first and raises one of these. The ``semgame`` command
prints any of :data:`USER_ERRORS` as ``semgame: error: <message>`` and exits with status 2;
argument-parsing errors look the same.

* :class:`semgame.config.ConfigError` (a ``ValueError``): an unknown or invalid config key or value,
  config file or flag; :class:`semgame.privacy.keyed.MissingKeyError` (a ``ConfigError``): a keyed
  perturbation without its key;
* :class:`semgame.protocols.AgentSpecError` (``ValueError``): an agent spec that does not resolve,
  whose file fails to import, whose agent cannot be built or lacks ``act``;
* :class:`semgame.io.CheckpointError` (``RuntimeError``): a checkpoint that is missing, unreadable,
  corrupt, not semgame's (never unpickled) or not the run's, or a run folder's ``metrics.json`` that is
  not a run's metrics, or results without their checkpoint;
* :class:`semgame.data.DataNotFoundError` (``FileNotFoundError``): no copy of a dataset (the message
  says where it looked); :class:`semgame.data.CorruptDataError` (``ValueError``): a dataset file that
  is unreadable or holds bad arrays;
* :class:`semgame.io.OutputError` (``OSError``): a file that cannot be written (disk full, read-only
  folder); the previous version is intact;
* :class:`semgame.runloop.RunLockedError` (``RuntimeError``): a run folder (or ``semgame bench``
  output folder) in use by another live process;
* the environments raise ``ValueError`` (``ConfigError`` is one) for an invalid constructor
  argument, of any type, or an invalid action, and ``gymnasium.error.ResetNeeded`` for ``step()``
  before ``reset()``.
"""

from __future__ import annotations

from semgame.config import ConfigError
from semgame.data import CorruptDataError, DataNotFoundError
from semgame.io import CheckpointError, OutputError
from semgame.protocols import AgentSpecError
from semgame.runloop import RunLockedError

__all__ = ["USER_ERRORS"]

USER_ERRORS = (
    ConfigError,
    AgentSpecError,
    CheckpointError,
    DataNotFoundError,
    CorruptDataError,
    OutputError,
    RunLockedError,
)
"""What the ``semgame`` command reports as ``semgame: error: ...`` (exit status 2)."""
