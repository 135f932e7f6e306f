"""Adapter from the native :class:`~semgame.envs.SemComVectorEnv` to stable-baselines3's ``VecEnv``.

Example:
    >>> from stable_baselines3 import PPO
    >>> venv = SemComSB3VecEnv(num_envs=64, dataset="mnist")          # doctest: +SKIP
    >>> PPO("MlpPolicy", venv, n_steps=32).learn(10_000)                # doctest: +SKIP

The batch is stepped in one tensor operation (SAME_STEP autoreset, as SB3 expects); each finished
episode's info carries ``terminal_observation`` and, like SB3's ``Monitor``, ``episode`` =
``{"r": return, "l": length, "t": seconds}``, so ``rollout/ep_rew_mean`` is logged.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from semgame.envs.vector import SemComVectorEnv

__all__ = ["SemComSB3VecEnv"]


class SemComSB3VecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` over ``num_envs`` semgame sub-envs (CPU NumPy interface).

    Pass either an existing :class:`SemComVectorEnv` built with ``autoreset_mode="same_step"``
    (``venv=``) or the keyword arguments of :class:`SemComVectorEnv` to build one.
    """

    def __init__(self, venv: SemComVectorEnv | None = None, **kwargs: Any) -> None:
        if venv is None:
            venv = SemComVectorEnv(**{**kwargs, "autoreset_mode": "same_step", "tensors": False})
        elif kwargs:
            raise ValueError("pass either venv= or SemComVectorEnv keyword arguments, not both")
        if venv.autoreset_mode.value != "SameStep" or venv.tensors:
            raise ValueError("the SB3 adapter needs a SemComVectorEnv with autoreset_mode='same_step' and tensors=False")
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._t0 = time.time()

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        obs, _ = self.venv.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0
        self._lengths[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, rew, term, trunc, info = self.venv.step(self._actions)
        dones = term | trunc
        self._returns += rew
        self._lengths += 1
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i] = dict(info["final_info"][i])
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
            infos[i]["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]),
                                   "t": round(time.time() - self._t0, 6)}
            self._returns[i], self._lengths[i] = 0.0, 0
        return obs, rew.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]
