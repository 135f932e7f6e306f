"""The error types semgame raises on bad input: each carries a one-line message naming the problem.

Bad configs, flags, files, data, agent specs and actions never end in a traceback from inside torch,
NumPy or Gymnasium: semgame checks them first and raises one of these. The ``semgame`` command
prints any of :data:`USER_ERRORS` as ``semgame: error: <message>`` and exits with status 2;
argument-parsing errors look the same.

========================================  ====================  ======================================================
type                                      base                  raised for
========================================  ====================  ======================================================
:class:`semgame.config.ConfigError`       ``ValueError``        an unknown or invalid config key / value, TOML file or flag
:class:`semgame.privacy.keyed.MissingKeyError`  ``ConfigError``  a keyed perturbation without a key
:class:`semgame.protocols.AgentSpecError` ``ValueError``        an agent spec that does not resolve or lacks ``act``
:class:`semgame.io.CheckpointError`       ``RuntimeError``      a checkpoint that is missing, corrupt or not semgame's
:class:`semgame.data.DataNotFoundError`   ``FileNotFoundError`` no copy of a dataset (the message says where it looked)
:class:`semgame.data.CorruptDataError`    ``ValueError``        a dataset file that cannot be read or holds invalid arrays
:class:`semgame.io.OutputError`           ``OSError``           a file that cannot be written (disk full, read-only);
                                                                the previous version is intact
:class:`semgame.runloop.RunLockedError`   ``RuntimeError``      a run folder in use by another live process
``ValueError``                            --                    the envs: an invalid constructor argument (value or
                                                                type) or action (``ConfigError`` is one too)
``gymnasium.error.ResetNeeded``           ``Exception``         the envs: ``step()`` before ``reset()``
========================================  ====================  ======================================================
"""

from __future__ import annotations

from semgame.config import ConfigError
from semgame.data import CorruptDataError, DataNotFoundError
from semgame.io import CheckpointError, OutputError
from semgame.protocols import AgentSpecError
from semgame.runloop import RunLockedError

__all__ = ["USER_ERRORS"]

USER_ERRORS = (ConfigError, AgentSpecError, CheckpointError, DataNotFoundError, CorruptDataError, OutputError,
               RunLockedError)
"""What the ``semgame`` command reports as ``semgame: error: ...`` (exit status 2)."""
