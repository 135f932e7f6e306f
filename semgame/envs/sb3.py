"""Adapter from the native :class:`~semgame.envs.SemComVectorEnv` to stable-baselines3's ``VecEnv``.

Example:
    >>> from stable_baselines3 import PPO
    >>> venv = SemComSB3VecEnv(num_envs=64, dataset="mnist")          # doctest: +SKIP
    >>> PPO("MlpPolicy", venv, n_steps=32).learn(10_000)                # doctest: +SKIP

The batch is stepped in one tensor operation (SAME_STEP autoreset, as SB3 expects). Each sub-env's
info is its step info (``label``, ``legit_correct``, ...); a finished episode's info is the info of its
last step plus ``terminal_observation`` and ``TimeLimit.truncated``. Episode statistics come from SB3's
own :class:`~stable_baselines3.common.vec_env.VecMonitor`, which :class:`SemComSB3VecEnv` is: finished
episodes carry ``episode = {"r", "l", "t"}``, so ``rollout/ep_rew_mean`` is logged and
``model.ep_info_buffer`` fills.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from semgame.envs.vector import SemComVectorEnv

__all__ = ["SemComSB3VecEnv", "quiet_logger"]


class _NativeVecEnv(VecEnv):
    """The native vector env behind SB3's ``VecEnv`` interface (NumPy arrays, list of per-env infos)."""

    def __init__(self, venv: SemComVectorEnv | None = None, **kwargs: Any) -> None:
        if venv is None:
            venv = SemComVectorEnv(**{**kwargs, "autoreset_mode": "same_step", "tensors": False})
        elif kwargs:
            raise ValueError("pass either venv= or SemComVectorEnv keyword arguments, not both")
        if venv.autoreset_mode.value != "SameStep" or venv.tensors:
            raise ValueError(
                "the SB3 adapter needs a SemComVectorEnv with autoreset_mode='same_step' and tensors=False"
            )
        self.native = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        options = self._options[0] or None
        if any(self._options) and any(o is not self._options[0] for o in self._options):
            raise ValueError("the native vector env takes one options dict for all sub-envs: call set_options(dict)")
        obs, _ = self.native.reset(seed=self._seeds[0], options=options)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, rew, term, trunc, info = self.native.step(self._actions)
        dones = term | trunc
        infos = _per_env(info, self.num_envs)
        if dones.any():
            final = _per_env(info["final_info"], self.num_envs)
            for i in np.flatnonzero(dones):
                infos[i] = {
                    **final[i],
                    "terminal_observation": info["final_obs"][i],
                    "TimeLimit.truncated": bool(trunc[i] and not term[i]),
                }
        return obs, rew.astype(np.float32), dones, infos

    def close(self) -> None:
        self.native.close()

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.native, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.native, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        result = getattr(self.native, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]


def _per_env(info: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (arrays with ``_key`` masks) as ``n`` per-env dicts of Python values."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        for i, (value, present) in enumerate(zip(values.tolist(), info["_" + key].tolist())):
            if present:
                out[i][key] = value
    return out


def quiet_logger() -> Logger:
    """An SB3 logger that writes nothing and creates no folder.

    SB3 models without ``tensorboard_log`` configure a logger on every ``learn`` call, and that logger
    makes an empty ``SB3-<timestamp>`` folder in the system temp dir each time. An agent that learns in
    rounds sets this one instead: ``model.set_logger(quiet_logger())``.
    """
    return Logger(folder=None, output_formats=[])


class SemComSB3VecEnv(VecMonitor):
    """A stable-baselines3 ``VecEnv`` over ``num_envs`` semgame sub-envs (CPU NumPy interface), with
    SB3's :class:`~stable_baselines3.common.vec_env.VecMonitor` episode statistics.

    Pass either an existing :class:`SemComVectorEnv` built with ``autoreset_mode="same_step"``
    (``venv=``) or the keyword arguments of :class:`SemComVectorEnv` to build one. ``set_options``
    applies to the next ``reset`` (one dict for all sub-envs, e.g. ``{"reset_mask": mask}``).
    The native env is ``.venv.native``.
    """

    def __init__(self, venv: SemComVectorEnv | None = None, **kwargs: Any) -> None:
        super().__init__(_NativeVecEnv(venv, **kwargs))
