"""The semantic-communication privacy game as a two-player PettingZoo ``ParallelEnv``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from semgame.envs.game import SemComGame, seeded_torch_generator
from semgame.envs.semcom import check_box_actions, check_discrete_actions, check_reset_options

__all__ = ["SemComParallelEnv", "parallel_env"]

TX, EVE = "transmitter", "eavesdropper"


class SemComParallelEnv(ParallelEnv):
    """
    ## Description

    Both sides of the game learn at once: agent ``"transmitter"`` perturbs each image's waveform
    under a PSR budget, agent ``"eavesdropper"`` guesses the class of what it intercepts, and a
    frozen legitimate receiver decodes it. Both act in every step (simultaneous moves), so the
    transmissions are pipelined: in step ``t`` the transmitter sends transmission ``t`` while the
    eavesdropper guesses transmission ``t - 1``, which it observed at the end of step ``t - 1``.
    An episode of ``rounds`` transmissions therefore has ``rounds + 1`` steps: in the first the
    eavesdropper has nothing to guess (its observation is zeros, its action is ignored), in the
    last the transmitter has nothing to send (zeros, action ignored).

    ## Spaces

    * ``"transmitter"``: observation = clean waveform of the next image, ``2k`` floats
      (+ one-hot label with ``include_label``); action ``Box(-1, 1, (2k,), float32)`` scaled onto
      the ``psr_db`` budget exactly as in :class:`~semgame.envs.SemComEnv`.
    * ``"eavesdropper"``: observation = its received waveform of the last transmission, ``2k``
      floats (+ CSI with ``include_csi``); action ``Discrete(10)``.

    ## Rewards

    Paid in the step where a transmission's outcome is complete (the step after it was sent):
    eavesdropper ``1.0`` if its guess was right else ``0.0``; transmitter legitimate correctness
    minus eavesdropper correctness (``-1.0 / 0.0 / 1.0``). So the transmitter's reward for the
    perturbation chosen in step ``t`` arrives in step ``t + 1``. Each agent's ``info`` carries
    ``label``, ``legit_correct``, ``psnr``, ``eve_correct`` and ``transmission`` (1-based) of the
    transmission being scored (empty when nothing was scored).

    ## Episode End

    Both agents terminate after ``rounds + 1`` steps; nothing truncates.

    ## Arguments

    Those of :class:`~semgame.envs.SemComEnv` except ``role`` and ``eavesdropper`` (both roles are
    played by agents here): ``dataset``, ``rounds`` (default 4), ``split``, ``snr_db``,
    ``eve_snr_db``, ``psr_db``, ``include_csi``, ``include_label``, ``compute_psnr``, ``link``,
    ``defence`` (a layer after the transmitter agent's perturbation, e.g. a keyed mask that the
    legitimate receiver removes; see :class:`~semgame.envs.SemComEnv`), ``data_root``, ``images``,
    ``device``, ``render_mode`` (``None`` or ``"rgb_array"``).
    """

    metadata = {"name": "semcom_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(
        self, dataset: str = "mnist", *, rounds: int = 4, render_mode: str | None = None, **kwargs: Any
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        for bad in ("role", "eavesdropper"):
            if bad in kwargs:
                raise ValueError(f"{bad}= does not apply to the two-player game (both roles are agents)")
        # the transmitter role's game with a placeholder opponent: we only use its batched pieces
        self.game = SemComGame(dataset, "transmitter", rounds=rounds, eavesdropper=_NoOpponent(), **kwargs)
        self.rounds, self.render_mode = self.game.rounds, render_mode
        self.possible_agents = [TX, EVE]
        self.agents: list[str] = []
        k = self.game.k
        tx_low = np.full(self.game.tx_obs_dim, -np.inf, np.float32)
        tx_high = np.full(self.game.tx_obs_dim, np.inf, np.float32)
        tx_low[2 * k :], tx_high[2 * k :] = 0.0, 1.0
        self._obs_spaces = {
            TX: spaces.Box(tx_low, tx_high, dtype=np.float32),
            EVE: spaces.Box(-np.inf, np.inf, (self.game.eve_obs_dim,), np.float32),
        }
        self._act_spaces = {
            TX: spaces.Box(-1.0, 1.0, (2 * k,), np.float32),
            EVE: spaces.Discrete(self.game.num_classes),
        }
        self._gen: torch.Generator | None = None
        self._np_random: np.random.Generator | None = None

    def set_defence(self, defence: Any) -> None:
        """Replace the defence (a config, a Defence, a Transmitter policy or ``None``); call between episodes."""
        self.game.set_defence(defence)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _tx_obs(self) -> np.ndarray:
        if self._step >= self.rounds:
            return np.zeros(self.game.tx_obs_dim, np.float32)
        self._idx = self.game.draw(1, self._gen)
        return self.game.transmitter_obs(self._idx)[0].cpu().numpy()

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        check_reset_options(options)  # (no option is used)
        if seed is not None or self._gen is None:
            self._np_random, _ = seeding.np_random(seed)
            self._gen = seeded_torch_generator(self._np_random, self.game.device)
        self.game.prepare()
        self.agents = list(self.possible_agents)
        self._step = 0
        self._pending: dict[str, Any] | None = None
        self._obs = {TX: self._tx_obs(), EVE: np.zeros(self.game.eve_obs_dim, np.float32)}
        return {a: o.copy() for a, o in self._obs.items()}, {a: {} for a in self.agents}

    @torch.no_grad()
    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise ResetNeeded("Cannot call step() before calling reset() (or after the episode ended)")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"missing action(s) for agent(s) {missing}")
        game, gen = self.game, self._gen
        guess = int(check_discrete_actions(actions[EVE], game.num_classes, ()))
        perturbation = check_box_actions(actions[TX], (2 * game.k,))
        rewards = {TX: 0.0, EVE: 0.0}
        infos: dict[str, dict] = {TX: {}, EVE: {}}
        if self._pending is not None:  # score the transmission the eavesdropper just guessed
            p = self._pending
            eve_correct = guess == p["label"]
            rewards = {TX: float(p["legit_correct"]) - float(eve_correct), EVE: float(eve_correct)}
            scored = {**p, "eve_guess": guess, "eve_correct": eve_correct}
            infos = {TX: dict(scored), EVE: dict(scored)}
            self._pending = None
        eve_obs = np.zeros(game.eve_obs_dim, np.float32)
        if self._step < self.rounds:  # send the next transmission
            idx = self._idx
            x, nonces = game.transmit(idx, torch.from_numpy(perturbation).unsqueeze(0))
            legit = game.legit(x, idx, nonces, gen)
            eve_obs = game.eavesdropper_obs(x, gen)[0].cpu().numpy()
            self._pending = {
                "label": int(game.labels[idx][0]),
                "legit_correct": bool(legit.correct[0]),
                "legit_guess": int(legit.guess[0]),
                "transmission": self._step + 1,
            }
            if game.compute_psnr:  # (no NaN placeholder in infos)
                self._pending["psnr"] = float(legit.psnr[0])
        self._step += 1
        self._obs = {TX: self._tx_obs(), EVE: eve_obs}
        done = self._step > self.rounds
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        obs = {a: self._obs[a].copy() for a in self.agents}
        rewards = {a: rewards[a] for a in self.agents}
        infos = {a: infos[a] for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or getattr(self, "_idx", None) is None:
            return None
        return self.game.render_rgb(int(self._idx[0]))

    def close(self) -> None:
        pass


class _NoOpponent:
    def act(self, obs: Any) -> np.ndarray:  # pragma: no cover - never called
        raise RuntimeError("the parallel env's eavesdropper is an agent")


def parallel_env(dataset: str = "mnist", **kwargs: Any) -> SemComParallelEnv:
    """The two-player game as a PettingZoo ``ParallelEnv`` (see :class:`SemComParallelEnv`)."""
    return SemComParallelEnv(dataset, **kwargs)
