"""Gymnasium / PettingZoo environments of the semantic-communication privacy game.

``import semgame`` registers (without loading any weights or data):

* ``SemCom-MNIST-v0``, ``SemCom-CIFAR-v0``, ``SemCom-FashionMNIST-v0``: :class:`SemComEnv`
  (single agent, ``role="eavesdropper"`` or ``"transmitter"``), with
  :class:`SemComVectorEnv` as ``vector_entry_point``;

and provides :func:`parallel_env` (PettingZoo ``ParallelEnv``) and :class:`SemComSB3VecEnv`
(stable-baselines3 ``VecEnv``). Classes are imported lazily on first use.

Example:
    >>> import gymnasium as gym
    >>> import semgame
    >>> env = gym.make("SemCom-MNIST-v0", role="eavesdropper", rounds=8)        # doctest: +SKIP
    >>> venv = gym.make_vec("SemCom-MNIST-v0", num_envs=256,
    ...                     vectorization_mode="vector_entry_point")            # doctest: +SKIP
    >>> game = semgame.parallel_env("mnist", rounds=8)                            # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ENV_IDS",
    "register_envs",
    "parallel_env",
    "SemComEnv",
    "SemComVectorEnv",
    "SemComParallelEnv",
    "SemComSB3VecEnv",
    "SemComGame",
    "shipped_link",
]

ENV_IDS = {"SemCom-MNIST-v0": "mnist", "SemCom-CIFAR-v0": "cifar10", "SemCom-FashionMNIST-v0": "fashion_mnist"}
_LAZY = {
    "SemComEnv": "semgame.envs.semcom",
    "SemComVectorEnv": "semgame.envs.vector",
    "SemComParallelEnv": "semgame.envs.parallel",
    "SemComSB3VecEnv": "semgame.envs.sb3",
    "SemComGame": "semgame.envs.game",
    "shipped_link": "semgame.envs.game",
}


def register_envs() -> None:
    """Register the ``SemCom-*-v0`` ids with Gymnasium (idempotent; loads nothing heavy)."""
    from gymnasium.envs.registration import register, registry

    for env_id, dataset in ENV_IDS.items():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point="semgame.envs.semcom:SemComEnv",
                vector_entry_point="semgame.envs.vector:SemComVectorEnv",
                kwargs={"dataset": dataset},
            )


def parallel_env(dataset: str = "mnist", **kwargs: Any) -> Any:
    """The two-player game as a PettingZoo ``ParallelEnv`` (see :class:`~semgame.envs.parallel.SemComParallelEnv`)."""
    from semgame.envs.parallel import SemComParallelEnv

    return SemComParallelEnv(dataset, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'semgame.envs' has no attribute {name!r}")
