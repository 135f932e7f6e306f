"""Pluggable agents: the :class:`Eavesdropper` and :class:`Transmitter` protocols and a loader.

An agent is any object with an ``act`` method that maps a *batch* of observations to a batch of
actions. The environments call ``act`` inside ``step`` and never train the agent there; learning
agents adapt *between* episodes or rollouts, in the user's loop, through their optional
``update`` method (or any API of their own), and are swapped into an env with
``env.unwrapped.set_eavesdropper(agent)``.

Eavesdropper::

    class MyEve:
        def act(self, obs: np.ndarray) -> np.ndarray:        # [n, obs_dim] float32 -> [n] int
            ...
        def update(self, obs: np.ndarray, labels: np.ndarray) -> dict | None:   # optional
            ...

``obs`` is what the env's eavesdropper role observes: the received waveform, I/Q interleaved
(``2k`` floats), followed by CSI features when the env has ``include_csi=True``. An agent that sets
``accepts_tensors = True`` receives a ``torch.Tensor`` on the env's device instead of a NumPy
array (no copy on GPU) and may return a tensor.

Transmitter (a defence; the transmitter role's policy)::

    class MyDefence:
        def act(self, obs: np.ndarray) -> np.ndarray:        # [n, 2k (+10)] -> [n, 2k] in [-1, 1]
            ...

Specs: :func:`load_agent` resolves ``"package.module:Class"`` or ``"path/to/file.py:Class"`` to the
class (or factory function) and checks that what it produces has the protocol's methods.

Example:
    >>> cls = load_agent("semgame.protocols:ConstantEavesdropper")
    >>> cls(guess=3).act(np.zeros((2, 32), np.float32))
    array([3, 3])
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "AgentSpecError",
    "Eavesdropper",
    "Transmitter",
    "ConstantEavesdropper",
    "check_agent",
    "load_agent",
    "make_agent",
]


class AgentSpecError(ValueError):
    """An agent spec does not resolve, or what it names does not satisfy the protocol."""


@runtime_checkable
class Eavesdropper(Protocol):
    """Guesses the class of each intercepted transmission.

    ``act(obs)``: ``obs`` ``[n, obs_dim]`` float32 (NumPy, or a tensor if the agent has
    ``accepts_tensors = True``) -> ``[n]`` integer class guesses in ``[0, num_classes)``.
    Optional ``update(obs, labels)``: learn from labelled observations between episodes.
    """

    def act(self, obs: Any) -> Any: ...


@runtime_checkable
class Transmitter(Protocol):
    """Chooses a perturbation for each clean waveform (a privacy defence).

    ``act(obs)``: ``obs`` ``[n, 2k]`` (``[n, 2k + num_classes]`` with the label) float32 ->
    ``[n, 2k]`` float32 in ``[-1, 1]``, scaled by the env onto its PSR budget.
    Optional ``update(...)`` between episodes, as for :class:`Eavesdropper`.
    """

    def act(self, obs: Any) -> Any: ...


_REQUIRED = {Eavesdropper: ("act",), Transmitter: ("act",)}


class ConstantEavesdropper:
    """Always guesses the same class (a trivial baseline and doctest example)."""

    def __init__(self, guess: int = 0) -> None:
        self.guess = int(guess)

    def act(self, obs: Any) -> np.ndarray:
        return np.full(len(obs), self.guess, dtype=np.int64)


def check_agent(agent: Any, protocol: type = Eavesdropper) -> Any:
    """Return ``agent`` if it has the protocol's methods, else raise :class:`AgentSpecError`."""
    missing = [m for m in _REQUIRED[protocol] if not callable(getattr(agent, m, None))]
    if missing:
        raise AgentSpecError(
            f"{type(agent).__name__} does not satisfy the {protocol.__name__} protocol: "
            f"missing method(s) {', '.join(missing)} (see semgame.protocols.{protocol.__name__})"
        )
    return agent


def _import_file(path: Path) -> Any:
    name = f"semgame_agent_{path.stem}_{abs(hash(str(path))) % 10**8}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AgentSpecError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:
        del sys.modules[name]
        if isinstance(err, Exception):  # the agent file's own error, as one line
            raise AgentSpecError(f"cannot import {path}: {_one_line(err)}") from None
        raise
    return module


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: " + " ".join(str(err).split())


def load_agent(spec: str, protocol: type = Eavesdropper) -> Any:
    """Resolve ``"package.module:Class"`` or ``"path/to/file.py:Class"`` to a class or factory.

    The attribute may be dotted (``"mod:Outer.Inner"``). A class must define the protocol's
    methods (for a factory function, the check happens on its result in :func:`make_agent`).
    Raises :class:`AgentSpecError` naming the problem: malformed spec, missing file or module,
    missing attribute, or a class lacking the protocol's methods.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise AgentSpecError(
            f"agent spec must look like 'package.module:Class' or 'path/to/file.py:Class', got {spec!r}"
        )
    target, attr = spec.split(":")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise AgentSpecError(f"agent spec {spec!r}: file {path} not found")
        module = _import_file(path.resolve())
    else:
        try:
            module = importlib.import_module(target)
        except Exception as err:  # not found, or the module's own error at import
            raise AgentSpecError(f"agent spec {spec!r}: cannot import module {target!r} ({_one_line(err)})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AgentSpecError(f"agent spec {spec!r}: {target!r} has no attribute {part!r}")
        obj = getattr(obj, part)
    if inspect.isclass(obj):
        missing = [m for m in _REQUIRED[protocol] if not callable(getattr(obj, m, None))]
        if missing:
            raise AgentSpecError(
                f"agent spec {spec!r}: class {obj.__name__} does not satisfy the {protocol.__name__} protocol "
                f"(missing method(s) {', '.join(missing)}; see semgame.protocols.{protocol.__name__})"
            )
    elif not callable(obj):
        raise AgentSpecError(f"agent spec {spec!r}: {attr!r} is a {type(obj).__name__}, not a class or factory")
    return obj


def make_agent(spec: str, protocol: type = Eavesdropper, context: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """``load_agent(spec, protocol)(**kwargs)``, checked against the protocol.

    ``context``: arguments the caller knows (``obs_dim``, ``num_classes``, ``seed``, ``device``), passed
    only to a constructor that names them; ``kwargs`` (the user's own arguments) are always passed and win.
    """
    factory = load_agent(spec, protocol)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # (no signature to read: no context)
        params = {}
    named = {
        k: v for k, v in (context or {}).items() if k in params and params[k].kind != inspect.Parameter.VAR_KEYWORD
    }
    try:
        agent = factory(**{**named, **kwargs})
    except Exception as err:  # the agent's own constructor failed (e.g. it needs arguments)
        raise AgentSpecError(f"agent spec {spec!r}: building the agent failed ({_one_line(err)})") from None
    return check_agent(agent, protocol)
