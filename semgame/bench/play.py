"""Agents playing through the native vector env: construction, metering, held-out evaluation, learning.

* :class:`HeldOut` is a fixed set of defended test transmissions (observations, labels, legitimate
  accuracy and PSNR) on which an eavesdropper is evaluated.
* :class:`Meter` counts transmissions, accumulates the in-play reward and, every ``every``
  transmissions, evaluates and logs one TensorBoard point (tags of :mod:`semgame.tags`, global step =
  transmissions).
* :class:`EavesdropperTrainer` lets an eavesdropper learn from ``n`` more intercepted transmissions:
  agents with ``learn(venv, n)`` learn from the reward through an SB3 ``VecEnv`` (RL); agents with
  ``update(obs, labels)`` are stepped here and learn from the labels after every step (supervised);
  agents with neither only act.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnvWrapper

from semgame import tags
from semgame.envs import SemComSB3VecEnv, SemComVectorEnv
from semgame.envs.play import _played
from semgame.privacy.defences import Defence

__all__ = [
    "EavesdropperTrainer",
    "HeldOut",
    "HeldOutSet",
    "Meter",
    "MeteredVecEnv",
    "ReplayStore",
    "ReplayedDefence",
    "eve_accuracy",
]


def _guesses(agent: Any, obs: Any) -> np.ndarray:
    if getattr(agent, "accepts_tensors", False) and not isinstance(obs, torch.Tensor):
        obs = torch.from_numpy(np.asarray(obs))
    out = agent.act(obs)
    return (out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)).reshape(-1)


@dataclass
class HeldOut:
    """Fixed defended test transmissions: eavesdropper observations ``obs [E, obs_dim]``, ``labels [E]``,
    the legitimate receiver's accuracy and mean PSNR on them, and (transmitter role) the opponent's
    accuracy ``eve_acc`` and the mean reward ``tx_reward``."""

    obs: np.ndarray
    labels: np.ndarray
    legit_acc: float
    legit_psnr: float
    eve_acc: float = float("nan")
    tx_reward: float = float("nan")


class HeldOutSet:
    """``size`` test-split transmissions, the same ones every time :meth:`play` is called (the env is
    reset with ``seed``): role eavesdropper (under the env's defence), or role transmitter with a
    Transmitter policy against the env's opponent eavesdropper (``eavesdropper=`` in ``env_kwargs``).
    """

    def __init__(self, size: int, seed: int, *, role: str = "eavesdropper", **env_kwargs: Any) -> None:
        # (one step per play: nothing to draw ahead)
        self.venv = SemComVectorEnv(size, role=role, split="test", rounds=1, lookahead=1, **env_kwargs)
        self.seed, self.size = seed, size

    def play(self, transmitter: Any = None) -> HeldOut:
        obs, _ = self.venv.reset(seed=self.seed)
        if self.venv.role == "eavesdropper":
            _, _, _, _, info = self.venv.step(np.zeros(self.size, np.int64))
            return HeldOut(obs, info["label"], float(info["legit_correct"].mean()), float(np.nanmean(info["psnr"])))
        action = transmitter.act(obs)
        action = action.detach().cpu().numpy() if isinstance(action, torch.Tensor) else np.asarray(action)
        _, reward, _, _, info = self.venv.step(action.astype(np.float32))
        return HeldOut(
            obs,
            info["label"],
            float(info["legit_correct"].mean()),
            float(np.nanmean(info["psnr"])),
            eve_acc=float(info["eve_correct"].mean()),
            tx_reward=float(reward.mean()),
        )


class ReplayStore:
    """Defended batches kept by :class:`ReplayedDefence`: ``(x, labels, nonces, x_tx)`` by first nonce, up to
    ``keep`` per nonce (agents that seed the env differently intercept different streams) and ``max_bytes``
    in all (later batches are not kept)."""

    def __init__(self, keep: int = 4, max_bytes: int = 256 << 20) -> None:
        self.entries: dict[tuple[int, int], list[tuple[torch.Tensor, ...]]] = {}
        self.keep, self.max_bytes, self.bytes = keep, max_bytes, 0

    def find(self, key: tuple[int, int], inputs: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
        for kept in self.entries.get(key, ()):
            if all(torch.equal(a, b) for a, b in zip(kept, inputs)):
                return kept[-1]
        return None

    def add(self, key: tuple[int, int], inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        size = sum(t.element_size() * t.nelement() for t in (*inputs, out))
        kept = self.entries.setdefault(key, [])
        if len(kept) >= self.keep or self.bytes + size > self.max_bytes:
            return
        kept.append((*inputs, out))
        self.bytes += size


class ReplayedDefence(Defence):
    """``inner`` with its transmit side replayed from a :class:`ReplayStore`: the same inputs (waveforms,
    labels and nonces, compared exactly) get the kept output instead of a new crafting. For a deterministic
    transmit side (every registered defence) the results are those of ``inner``; it pays where crafting is
    costly (per-sample FGM/PGD) and the same transmissions come back, as in the eavesdropper cells of one
    bench group. Nonces are this object's own (from 0)."""

    def __init__(self, inner: Defence, store: ReplayStore) -> None:
        self.inner, self.store = inner, store
        self.name, self.kind, self.psr_db, self.budget = inner.name, inner.kind, inner.psr_db, inner.budget

    def transmit(self, x: torch.Tensor, labels: torch.Tensor, nonces: torch.Tensor) -> torch.Tensor:
        if not len(nonces):
            return self.inner.transmit(x, labels, nonces)
        key, inputs = (int(nonces[0]), len(nonces)), (x, labels, nonces)
        out = self.store.find(key, inputs)
        if out is None:
            out = self.inner.transmit(x, labels, nonces)
            self.store.add(key, inputs, out)
        return out

    def receive(self, link: Any, y: torch.Tensor, state: Any, nonces: torch.Tensor) -> torch.Tensor:
        return self.inner.receive(link, y, state, nonces)

    def receiver(self, link: Any) -> torch.nn.Module:
        return self.inner.receiver(link)

    def describe(self) -> dict:
        return self.inner.describe()


def eve_accuracy(agent: Any, held: HeldOut) -> float:
    """Accuracy of an eavesdropper on held-out observations."""
    return float((_guesses(agent, held.obs) == held.labels).mean())


class Meter:
    """Counts transmissions; every ``every`` of them calls ``evaluate() -> {tag: value}`` and logs it
    (with ``first < every``, also after ``first``, ``2 first``, ``4 first``, ... transmissions below
    ``every``: early points for log-x plots).

    Logged per point (global step = transmissions so far, offset by ``start``): the evaluation's tags,
    the mean in-play reward since the last point under ``reward_tag`` and
    ``perf/transmissions_per_s`` (played transmissions per second of wall time, evaluation excluded).
    ``points`` keeps every logged point; ``t`` and ``reward_sum`` count everything since construction.
    """

    def __init__(
        self,
        writer: Any,
        evaluate: Callable[[], dict[str, float]],
        every: int,
        *,
        reward_tag: str,
        start: int = 0,
        first: int | None = None,
    ) -> None:
        self.writer, self.evaluate, self.every, self.reward_tag = writer, evaluate, every, reward_tag
        self.t, self.start, self.reward_sum = 0, start, 0.0
        self.next = min(first or every, every)
        self.points: list[dict[str, float]] = []
        self._reward, self._n, self._clock = 0.0, 0, time.perf_counter()

    def add(self, n: int, reward_sum: float) -> None:
        """Record ``n`` played transmissions whose rewards sum to ``reward_sum``."""
        self.t += n
        self.reward_sum += reward_sum
        self._reward += reward_sum
        self._n += n
        if self.t >= self.next:
            self.log()
            while self.next <= self.t:
                self.next = self.next * 2 if self.next * 2 <= self.every else (self.next // self.every + 1) * self.every

    @property
    def mean_reward(self) -> float:
        """Mean in-play reward of every transmission counted so far."""
        return self.reward_sum / self.t if self.t else float("nan")

    def log(self) -> None:
        """Evaluate now and write one point."""
        played = time.perf_counter() - self._clock
        point = dict(self.evaluate())
        if self._n:
            point[self.reward_tag] = self._reward / self._n
        point[tags.TRANSMISSIONS_PER_S] = self._n / played if played > 0 else float("nan")
        step = self.start + self.t
        for tag, value in point.items():
            self.writer.add_scalar(tag, value, step)
        self.points.append({"step": step, **point})
        self._reward, self._n = 0.0, 0
        self._clock = time.perf_counter()  # the evaluation's time is not counted as playing time


class MeteredVecEnv(VecEnvWrapper):
    """An SB3 ``VecEnv`` that reports every step's transmissions and rewards to a :class:`Meter`."""

    def __init__(self, venv: Any, meter: Meter) -> None:
        super().__init__(venv)
        self.meter = meter

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_wait(self) -> tuple:
        obs, rew, dones, infos = self.venv.step_wait()
        self.meter.add(self.num_envs, float(rew.sum()))
        return obs, rew, dones, infos


class EavesdropperTrainer:
    """Lets an eavesdropper learn from intercepted transmissions of a native vector env (see module doc).

    ``venv``: a :class:`~semgame.envs.SemComVectorEnv` in the eavesdropper role with
    ``autoreset_mode="same_step"`` and ``rounds=1`` (every step intercepts ``num_envs`` fresh
    transmissions). Calls continue where the last one stopped (same env state, same agent).
    """

    def __init__(self, agent: Any, venv: SemComVectorEnv, seed: int) -> None:
        self.agent, self.venv, self.seed = agent, venv, seed
        self.sb3 = SemComSB3VecEnv(venv=venv) if callable(getattr(agent, "learn", None)) else None
        if self.sb3 is not None:
            self.sb3.seed(seed)
        self.obs: Any = None

    def run(self, transmissions: int, meter: Meter) -> None:
        """Learn from ``transmissions`` more intercepted transmissions, reporting to ``meter``."""
        if self.sb3 is not None:
            self.agent.learn(MeteredVecEnv(self.sb3, meter), transmissions)
            return
        if self.obs is None:
            self.obs, _ = self.venv.reset(seed=self.seed)
        update = getattr(self.agent, "update", None)
        done = 0
        while done < transmissions:
            obs = self.obs
            next_obs, reward, _, _, info = self.venv.step(_guesses(self.agent, obs))
            if callable(update):
                update(obs, _played(info, "label"))  # learns between steps, outside the env
            self.obs = next_obs
            done += self.venv.num_envs
            meter.add(self.venv.num_envs, float(reward.sum()))
