"""The semantic-communication game as a native, torch-batched Gymnasium ``VectorEnv``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from semgame.envs.game import Legit, SemComGame, seeded_torch_generator
from semgame.envs.semcom import (
    action_space,
    check_box_actions,
    check_discrete_actions,
    check_reset_options,
    observation_space,
    preview,
)
from semgame.privacy.defences import PolicyDefence

__all__ = ["SemComVectorEnv"]

_MODES = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}
_INFO_DTYPES = {torch.int64: np.int64, torch.bool: np.bool_, torch.float32: np.float64}
_AHEAD_TRANSMISSIONS = 1024  # the eavesdropper role draws ahead until a batch holds about this many


def _where(mask: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``torch.where`` with a ``[n]`` mask over ``[n, ...]`` tensors."""
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


class SemComVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` copies of :class:`~semgame.envs.SemComEnv` stepped together: every step plays
    one transmission for each sub-env as a handful of batched tensor operations (channel draws,
    the legitimate receiver and, for the transmitter role, the opponent eavesdropper) on
    ``device`` (``"cpu"`` or ``"cuda"``). Spaces, rewards, info keys and episode ends are those of
    :class:`~semgame.envs.SemComEnv`, batched: observations ``[num_envs, obs_dim]`` float32,
    actions ``[num_envs]`` integers (eavesdropper) or ``[num_envs, 2k]`` float32 (transmitter).

    Obtain it with ``gymnasium.make_vec("SemCom-MNIST-v0", num_envs=N,
    vectorization_mode="vector_entry_point", device="cpu")`` or construct it directly.

    ## Autoreset

    ``autoreset_mode="next_step"`` (Gymnasium's default, ``metadata["autoreset_mode"]``): the step
    after a sub-env terminates resets it, ignores its action and returns reward 0 with the new
    first observation. ``"same_step"``: a terminating sub-env is reset in the same step; its last
    observation is in ``info["final_obs"]`` (an object array, ``None`` elsewhere) and the info of
    that last step in ``info["final_info"]`` (a dict of arrays like ``info`` itself), both masked by
    ``info["_final_obs"]`` / ``info["_final_info"]``; the SB3 adapter
    :class:`~semgame.envs.SemComSB3VecEnv` uses this mode. ``reset(options={"reset_mask": mask})``
    (a bool array) resets only the masked sub-envs (``next_step`` mode).

    ## Info

    Exactly the layout of Gymnasium's sync / async vector envs: ``info[key]`` holds one value per
    sub-env, ``info["_" + key]`` says which sub-envs have it, masked-out entries are 0, and a key that
    no sub-env has is absent. A sub-env
    has the step keys ``label`` (int64), ``legit_correct`` (bool), ``legit_guess`` (int64), ``psnr``
    (float64; only with ``compute_psnr=True``) and, for the transmitter, ``eve_guess`` (int64) and
    ``eve_correct`` (bool) when it played a transmission this step and did not restart in it; ``round``
    (int64) is always there: the transmission's 1-based index, or 0 for a sub-env that (re)started
    (its reset info). With
    ``tensors=True`` the same keys hold tensors on ``device`` and ``final_obs`` is a
    ``[num_envs, obs_dim]`` tensor (zero where masked out).

    ## Drawing ahead

    In the eavesdropper role no action changes a transmission, so the env draws them ahead: one
    batched pass plays whole transmissions (both channels, the legitimate receiver, the defence), up
    to ``lookahead`` per sub-env, and the steps that draw hand them out (one per sub-env; a step in
    which every sub-env ends its episode draws none). The pass grows from one step's worth after each
    full reset, doubling per pass, so a reset followed by a few steps wastes
    little. It is what makes small ``num_envs`` fast (per-op overhead is paid once per pass); results
    are the same game, reproducible under a seed. Models are frozen while an env runs, as everywhere
    in semgame: a full ``reset()``, ``set_defence`` (also on ``game``) and a new generator drop what
    was drawn ahead, and a :class:`~semgame.privacy.defences.PolicyDefence` (a policy that may be
    learning) is never drawn ahead. ``lookahead=1`` draws each step's own transmissions.

    ## Arguments

    ``num_envs``, ``autoreset_mode``, ``tensors`` (return torch tensors on ``device`` and accept
    tensor actions instead of NumPy arrays: no host copies on GPU), ``lookahead`` (transmissions per
    sub-env drawn ahead at most, eavesdropper role; default: as many as make a pass of about 1,024
    transmissions) and
    every keyword argument of
    :class:`~semgame.envs.SemComEnv` except ``render_mode``, ``defence`` included: the transmissions
    of a step (of a pass, when drawn ahead) go through the defence as one batch, with a fresh nonce
    each (also for sub-envs whose result is discarded by an autoreset, and for drawn-ahead ones that
    a reset drops), and the legitimate receiver applies its receiver hook batched.

    Work is batched across sub-envs, so some of it is discarded: a step in which some sub-envs
    restart plays their pending transmissions too, and a step in which some (next-step mode) end
    their episodes draws new transmissions for them too. A step in which *all* sub-envs restart
    plays nothing, and one in which all of them end draws nothing; with episodes of equal length
    started together (the usual case), nothing is discarded.

    Seeding: ``reset(seed=s)`` seeds one generator for the whole batch, so a native vector env is
    reproducible under a seed but does not replay sub-env ``i`` of a sync vector env seeded ``s + i``.
    """

    def __init__(
        self,
        num_envs: int = 1,
        dataset: str = "mnist",
        role: str = "eavesdropper",
        *,
        autoreset_mode: str | AutoresetMode = "next_step",
        tensors: bool = False,
        lookahead: int | None = None,
        device: str = "cpu",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if lookahead is not None and (
            isinstance(lookahead, bool) or not isinstance(lookahead, (int, np.integer)) or lookahead < 1
        ):
            raise ValueError(f"lookahead must be None or an integer >= 1, got {lookahead!r}")
        if render_mode is not None:
            raise ValueError("the native vector env does not render; use gymnasium.make(...) for rgb_array frames")
        mode = _MODES.get(autoreset_mode) if isinstance(autoreset_mode, str) else autoreset_mode
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be 'next_step' or 'same_step', got {autoreset_mode!r}")
        self.game = SemComGame(dataset, role, device=device, **kwargs)
        self.num_envs, self.role, self.tensors = int(num_envs), role, bool(tensors)
        self.device, self.autoreset_mode = self.game.device, mode
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self.render_mode = None
        self.single_observation_space = observation_space(self.game)
        self.single_action_space = action_space(self.game)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        n, dev = self.num_envs, self.device
        self.lookahead = int(lookahead) if lookahead is not None else max(1, _AHEAD_TRANSMISSIONS // n)
        self._gen: torch.Generator | None = None
        self._obs: Tensor | None = None
        # each sub-env's pending transmission: its observation and what the step will need of it
        self._now: dict[str, Tensor] = {}
        self._ahead: dict[str, Tensor] = {}  # transmissions drawn ahead, [rows, num_envs, ...]
        self._ahead_row, self._ahead_rows, self._ahead_defence = 0, 1, None
        self._round = torch.zeros(n, dtype=torch.int64, device=dev)
        self._autoreset = torch.zeros(n, dtype=torch.bool, device=dev)

    def set_eavesdropper(self, agent: Any) -> None:
        """Replace the opponent of role ``"transmitter"`` for every sub-env (between rollouts)."""
        self.game.set_eavesdropper(agent)

    def set_defence(self, defence: Any) -> None:
        """Replace the defence of every sub-env (a config, a Defence, a Transmitter policy or ``None``);
        call between rollouts."""
        self.game.set_defence(defence)
        self._drop_ahead()

    # -- helpers --------------------------------------------------------------------------------
    def _draw(self) -> dict[str, Tensor]:
        """A fresh transmission for every sub-env: ``obs`` and, by role, ``idx`` (transmitter) or the
        whole outcome (eavesdropper: ``label``, ``legit_correct``, ``legit_guess`` [, ``psnr``])."""
        game, n = self.game, self.num_envs
        if self.role == "transmitter":
            idx = game.draw(n, self._gen)
            return {"obs": game.transmitter_obs(idx), "idx": idx}
        if game.defence is not self._ahead_defence:
            self._drop_ahead()
        if self._ahead_row == len(self._ahead.get("obs", ())):
            live = isinstance(game.defence, PolicyDefence)
            rows = 1 if live else min(self._ahead_rows, self.lookahead)
            _, obs, legit = game.eavesdropper_round(rows * n, self._gen)
            drawn = {"obs": obs, **self._outcome(legit)}
            self._ahead = {key: t.view(rows, n, *t.shape[1:]) for key, t in drawn.items()}
            self._ahead_row, self._ahead_rows, self._ahead_defence = 0, 2 * rows, game.defence
        row = {key: t[self._ahead_row] for key, t in self._ahead.items()}
        self._ahead_row += 1
        return row

    def _outcome(self, legit: Legit) -> dict[str, Tensor]:
        """The step info of played transmissions: ``label``, ``legit_correct``, ``legit_guess`` [, ``psnr``]."""
        out = {"label": legit.label, "legit_correct": legit.correct, "legit_guess": legit.guess}
        if self.game.compute_psnr:
            out["psnr"] = legit.psnr
        return out

    def _drop_ahead(self) -> None:
        self._ahead, self._ahead_row, self._ahead_rows, self._ahead_defence = {}, 0, 1, self.game.defence

    def _out(self, t: Tensor) -> Any:
        return t if self.tensors else t.cpu().numpy()

    def _actions(self, actions: Any) -> Tensor:
        """Validate a batch of actions (NumPy on the host; tensors on the device, one host sync) as
        one-line ValueErrors that show the first few offending values."""
        n, game = self.num_envs, self.game
        if not isinstance(actions, Tensor):
            if self.role == "eavesdropper":
                arr = check_discrete_actions(actions, game.num_classes, (n,))
            else:
                arr = check_box_actions(actions, (n, 2 * game.k))
            return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device)
        a = actions.detach().to(self.device)
        if self.role == "eavesdropper":
            c = game.num_classes
            if a.dtype == torch.bool or a.dtype.is_floating_point or a.dtype.is_complex:
                raise ValueError(f"actions must be integer class guesses in [0, {c}), got dtype {a.dtype}")
            if tuple(a.shape) != (n,):
                raise ValueError(f"actions must have shape ({n},) for {n} envs, got {tuple(a.shape)}")
            bad = (a < 0) | (a >= c)
            if bool(bad.any()):
                raise ValueError(f"actions outside the action space Discrete({c}): {preview(a[bad].cpu())}")
            return a.long()
        if not a.dtype.is_floating_point:
            raise ValueError(f"actions must be float perturbations in [-1, 1], got dtype {a.dtype}")
        if tuple(a.shape) != (n, 2 * game.k):
            raise ValueError(f"actions must have shape ({n}, {2 * game.k}), got {tuple(a.shape)}")
        bad = ~((a >= -1) & (a <= 1))  # NaN fails both comparisons
        if bool(bad.any()):
            raise ValueError(
                f"actions outside the action space [-1, 1] (NaN and inf included): {preview(a[bad].float().cpu())}"
            )
        return a.float()

    # -- API ------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        mask = check_reset_options(options).get("reset_mask")
        if seed is not None or self._gen is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
            self._gen = seeded_torch_generator(self._np_random, self.device)
        if seed is not None or mask is None or self._obs is None:
            self._drop_ahead()
        self.game.prepare()
        if mask is None or self._obs is None:
            self._now = self._draw()
            self._obs = self._now["obs"]
            self._round = torch.zeros_like(self._round)
            self._autoreset = torch.zeros_like(self._autoreset)
            m = torch.ones_like(self._autoreset)
        else:
            arr = np.asarray(mask.cpu() if isinstance(mask, Tensor) else mask)
            if arr.shape != (self.num_envs,) or arr.dtype != np.bool_:
                raise ValueError(
                    f"reset_mask must be a bool array of shape ({self.num_envs},), got {arr.dtype} {arr.shape}"
                )
            m = torch.from_numpy(arr).to(self.device)
            fresh = self._draw()
            self._now = {key: _where(m, fresh[key], now) for key, now in self._now.items()}
            self._obs = self._now["obs"]
            # (not in place: arrays returned earlier may share memory with these tensors)
            self._round = torch.where(m, torch.zeros_like(self._round), self._round)
            self._autoreset = self._autoreset & ~m
        # the reset info of every sub-env that was reset: {"round": 0}, as a sync vector env batches it
        return self._out(self._obs.clone()), self._info({"round": torch.zeros_like(self._round)}, m)

    @torch.no_grad()
    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict]:
        if self._obs is None:
            raise ResetNeeded("Cannot call step() before calling reset()")
        game, gen, n = self.game, self._gen, self.num_envs
        a = self._actions(actions)
        resetting = self._autoreset
        play = ~resetting
        now = self._now
        # (host syncs such as these are cheaper than the masked ops and the work they skip)
        any_reset = bool(resetting.any())
        all_reset = any_reset and bool(resetting.all())
        # every sub-env's pending transmission is played, unless all of them restart in this step (the
        # results of restarting sub-envs are discarded)
        if all_reset:
            reward, values = torch.zeros(n, device=self.device), {}
        elif self.role == "eavesdropper":  # (played when drawn: the action only scores it)
            reward = (a == now["label"]).float()
            values = {key: t for key, t in now.items() if key != "obs"}
        else:  # both channels run as one batched pass
            idx = now["idx"]
            x, nonces = game.transmit(idx, a)
            y_legit, legit_state, y_eve, eve_state = game.both_channels(x, x, gen)
            legit = game.receive(y_legit, legit_state, idx, nonces)
            eve_guess = game.opponent_guess(game.eve_features(y_eve, eve_state))
            eve_correct = eve_guess == legit.label
            reward = legit.correct.float() - eve_correct.float()
            values = {**self._outcome(legit), "eve_guess": eve_guess, "eve_correct": eve_correct}
        if any_reset:
            reward = torch.where(play, reward, torch.zeros_like(reward))
            self._round = torch.where(play, self._round + 1, torch.zeros_like(self._round))
            terminated = play & (self._round >= game.rounds)
        else:
            self._round = self._round + 1
            terminated = self._round >= game.rounds
        any_terminated = bool(terminated.any())
        values["round"] = self._round
        old_obs = self._obs
        # the next transmission of every sub-env that goes on; in next-step mode a terminated sub-env
        # keeps its transmission (and shows its observation) until the next step restarts it, so when
        # all of them terminate nothing is drawn now
        keep = self.autoreset_mode == AutoresetMode.NEXT_STEP and any_terminated
        if keep and bool(terminated.all()):
            self._now = now
        elif keep:
            self._now = {key: _where(terminated, now[key], fresh) for key, fresh in self._draw().items()}
        else:
            self._now = self._draw()
        self._obs = self._now["obs"]
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._autoreset = terminated
        elif any_terminated:  # SAME_STEP: terminated sub-envs restart now
            self._round = torch.where(terminated, torch.zeros_like(self._round), self._round)
        # Gymnasium's layout: a sub-env's step info where it played and did not restart this step, its
        # reset info (round 0) where it restarted, and (same-step mode) the info of the step that ended
        # its episode in final_info, each key with a `_key` mask and zeros where the mask is False
        ended = terminated if self.autoreset_mode == AutoresetMode.SAME_STEP else torch.zeros_like(terminated)
        info = self._info(values, play & ~ended)
        info["round"] = self._out(torch.where(play & ~ended, self._round, torch.zeros_like(self._round)))
        info["_round"] = self._out(torch.ones_like(play))
        if any_terminated and self.autoreset_mode == AutoresetMode.SAME_STEP:
            mask = self._out(terminated)
            if self.tensors:
                final_obs: Any = torch.where(terminated.unsqueeze(-1), old_obs, torch.zeros_like(old_obs))
            else:
                final_obs = np.full(n, None, dtype=object)
                old = old_obs.cpu().numpy()
                for i in np.flatnonzero(mask):
                    final_obs[i] = old[i]
            info.update(
                final_obs=final_obs, _final_obs=mask, final_info=self._info(values, terminated), _final_info=mask
            )
        truncated = torch.zeros(n, dtype=torch.bool, device=self.device)
        rew = reward if self.tensors else reward.cpu().numpy().astype(np.float64)
        return self._out(self._obs.clone()), rew, self._out(terminated), self._out(truncated), info

    def _info(self, values: dict[str, Tensor], mask: Tensor) -> dict[str, Any]:
        """``values`` as Gymnasium vector info: ``info[key]`` (zero where ``mask`` is False) and ``info["_" + key]``.

        NumPy dtypes are those a sync vector env gets from the single env's Python values: int64, bool, float64.
        Like Gymnasium, no key at all when no sub-env has it.
        """
        out: dict[str, Any] = {}
        if not bool(mask.any()):
            return out
        m = self._out(mask)
        every = bool(mask.all())  # the usual step: no zeros to put in
        for key, val in values.items():
            if not every:
                val = torch.where(mask, val, torch.zeros_like(val))
            out[key] = val if self.tensors else val.cpu().numpy().astype(_INFO_DTYPES[val.dtype])
            out["_" + key] = m
        return out

    def close_extras(self, **kwargs: Any) -> None:
        self._obs = None
