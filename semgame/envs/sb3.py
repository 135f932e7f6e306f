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

:class:`SB3Agent` is the base of the stable-baselines3 agents in ``agents/`` (``sb3_eavesdropper.py``,
``sb3_transmitter.py``): argument checks, learning in rounds, weights-only ``state_dict``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from semgame.config import MAX_SEED, check_int, check_lr
from semgame.envs.vector import SemComVectorEnv

__all__ = ["SB3Agent", "SemComSB3VecEnv", "algorithm", "quiet_logger"]

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}


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


def algorithm(name: str) -> type[BaseAlgorithm]:
    """The SB3 algorithm class for ``"ppo"``, ``"a2c"`` or ``"dqn"``."""
    if name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {', '.join(ALGORITHMS)}; got {name!r}")
    return ALGORITHMS[name]


def _check_hyper(algo: str, hyper: dict[str, Any]) -> dict[str, Any]:
    """``hyper`` if it holds keyword arguments of the SB3 algorithm with valid values, else a one-line ValueError."""
    cls = algorithm(algo)
    allowed = set(inspect.signature(cls).parameters) - {"policy", "env", "seed", "device"}
    unknown = sorted(set(hyper) - allowed)
    if unknown:
        raise ValueError(f"{cls.__name__} takes no keyword argument(s) {', '.join(unknown)}")
    if "learning_rate" in hyper and not callable(hyper["learning_rate"]):  # (SB3 also takes a schedule)
        check_lr("learning_rate", hyper["learning_rate"])
    for key in ("n_steps", "batch_size", "n_epochs", "buffer_size", "target_update_interval"):
        if key in hyper:
            check_int(key, hyper[key])
    gamma = hyper.get("gamma", 0.0)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}")
    return hyper


class SB3Agent:
    """A stable-baselines3 model as a semgame agent (the base of the SB3 agents in ``agents/``).

    A subclass sets ``algo`` (``"ppo"``, ``"a2c"``, ``"dqn"``), ``defaults`` (its keyword arguments of the
    algorithm, which ``hyper`` overrides), ``format`` (the tag of its :meth:`state_dict`) and ``discrete``
    (``Discrete`` actions, else ``Box(-1, 1)``), and defines ``act`` on :meth:`predict`. The model is built,
    seeded with ``seed`` on ``device``, by the first :meth:`learn`, or wrapped from ``model=``. Bad arguments
    raise a one-line ``ValueError`` here, not inside SB3 at the first :meth:`learn`.
    """

    algo = "ppo"
    defaults: dict[str, Any] = {}
    format = "semgame-sb3-agent"
    discrete = True
    deterministic = True

    def __init__(self, seed: int = 0, device: str = "cpu", model: BaseAlgorithm | None = None, **hyper: Any) -> None:
        check_int("seed", seed, low=0, high=MAX_SEED)
        if device != "auto":  # (SB3 itself falls back to the CPU where CUDA is missing)
            try:
                torch.device(device)
            except (RuntimeError, TypeError):
                raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from None
        if model is not None:
            names = {cls: name for name, cls in ALGORITHMS.items()}
            if type(model) not in names:
                raise ValueError(
                    f"model must be an SB3 {', '.join(c.__name__ for c in names)}; got {type(model).__name__}"
                )
            self.algo = names[type(model)]
        self.seed, self.device, self.model = seed, device, model
        self.hyper = _check_hyper(self.algo, {**self.defaults, **hyper})

    def _build(self, venv: VecEnv) -> BaseAlgorithm:
        """A fresh model on ``venv`` that logs nothing (and leaves no ``SB3-<time>`` folder in the temp dir)."""
        cls = algorithm(self.algo)
        model = cls("MlpPolicy", venv, seed=self.seed, device=self.device, verbose=0, **self.hyper)
        model.set_logger(quiet_logger())
        return model

    def learn(self, venv: VecEnv, transmissions: int) -> None:
        """Learn from ``transmissions`` more transmissions of an SB3 ``VecEnv``. The same model learns on; for a
        ``venv`` with another number of sub-envs than the last one, it is rebuilt around the current weights."""
        check_int("transmissions", transmissions, low=0)
        if self.model is None or self.model.n_envs != venv.num_envs:
            old, self.model = self.model, self._build(venv)
            if old is not None:
                self.model.policy.load_state_dict(old.policy.state_dict())
                self.model.num_timesteps = old.num_timesteps
        else:
            self.model.set_env(venv)
        self.model.learn(transmissions, reset_num_timesteps=False)

    def trained_model(self) -> BaseAlgorithm:
        """The SB3 model, or a one-line ``ValueError`` before :meth:`learn` or :meth:`load_state_dict`."""
        if self.model is None:
            raise ValueError(f"{type(self).__name__} has no policy yet: call learn() or load_state_dict() first")
        return self.model

    def predict(self, obs: Any) -> np.ndarray:
        """The policy's actions for a batch ``obs [n, obs_dim]`` (greedy unless ``deterministic`` is False)."""
        actions, _ = self.trained_model().predict(np.asarray(obs, dtype=np.float32), deterministic=self.deterministic)
        return actions

    def state_dict(self) -> dict[str, Any]:
        """The policy's weights and the spaces' sizes, nothing pickled (save it with ``torch.save`` or
        :func:`semgame.io.save_checkpoint`, read it back with ``torch.load(weights_only=True)``)."""
        model = self.trained_model()
        space = model.action_space
        return {
            "format": self.format,
            "algo": self.algo,
            "obs_dim": model.observation_space.shape[0],
            "act_dim": int(space.n) if self.discrete else space.shape[0],
            "policy": model.policy.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> SB3Agent:
        """Rebuild the policy from :meth:`state_dict` (no env or data needed); returns ``self``."""
        tag = state.get("format") if isinstance(state, dict) else None
        if tag != self.format:
            raise ValueError(f"not a {type(self).__name__} state (format {tag!r}, expected {self.format!r})")
        if state.get("algo", self.algo) != self.algo:
            raise ValueError(f"a {state['algo']} state does not load into {type(self).__name__} ({self.algo})")
        obs = gym.spaces.Box(-np.inf, np.inf, (state["obs_dim"],), np.float32)
        act = gym.spaces.Discrete(state["act_dim"]) if self.discrete else gym.spaces.Box(-1.0, 1.0, (state["act_dim"],))
        stub = type("Spaces", (gym.Env,), {"observation_space": obs, "action_space": act})
        with warnings.catch_warnings():  # (a one-env stub that only carries the spaces: no rollout-size advice)
            warnings.simplefilter("ignore", UserWarning)
            self.model = self._build(DummyVecEnv([stub]))
        self.model.policy.load_state_dict(state["policy"])
        return self
