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

from semgame.envs.game import SemComGame, seeded_torch_generator
from semgame.envs.semcom import action_space, check_box_actions, check_discrete_actions, observation_space, preview

__all__ = ["SemComVectorEnv"]

_MODES = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}
_INFO_DTYPES = {torch.int64: np.int64, torch.bool: np.bool_, torch.float32: np.float64}


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

    ## Arguments

    ``num_envs``, ``autoreset_mode``, ``tensors`` (return torch tensors on ``device`` and accept
    tensor actions instead of NumPy arrays: no host copies on GPU) and every keyword argument of
    :class:`~semgame.envs.SemComEnv` except ``render_mode``, ``defence`` included: every step sends
    ``num_envs`` transmissions through the defence as one batch, with ``num_envs`` fresh nonces
    (also for sub-envs whose result is discarded by an autoreset), and the legitimate receiver
    applies its receiver hook batched.

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
        device: str = "cpu",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
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
        self._gen: torch.Generator | None = None
        self._idx = torch.zeros(n, dtype=torch.int64, device=dev)
        self._obs: Tensor | None = None
        self._x: Tensor | None = None  # waveform on the air for each sub-env's pending transmission
        self._nonces: Tensor | None = None  # and its nonce
        self._round = torch.zeros(n, dtype=torch.int64, device=dev)
        self._autoreset = torch.zeros(n, dtype=torch.bool, device=dev)

    def set_eavesdropper(self, agent: Any) -> None:
        """Replace the opponent of role ``"transmitter"`` for every sub-env (between rollouts)."""
        self.game.set_eavesdropper(agent)

    def set_defence(self, defence: Any) -> None:
        """Replace the defence of every sub-env (a config, a Defence, a Transmitter policy or ``None``);
        call between rollouts."""
        self.game.set_defence(defence)

    # -- helpers --------------------------------------------------------------------------------
    def _draw(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        game = self.game
        idx = game.draw(self.num_envs, self._gen)
        if self.role == "eavesdropper":
            x, nonces = game.transmit(idx)
            return idx, game.eavesdropper_obs(x, self._gen), x, nonces
        return idx, game.transmitter_obs(idx), None, None

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
        if seed is not None or self._gen is None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
            self._gen = seeded_torch_generator(self._np_random, self.device)
        self.game.prepare()
        mask = (options or {}).get("reset_mask")
        idx, obs, x, nonces = self._draw()
        if mask is None or self._obs is None:
            self._idx, self._obs, self._x, self._nonces = idx, obs, x, nonces
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
            self._idx = torch.where(m, idx, self._idx)
            self._obs = torch.where(m.unsqueeze(-1), obs, self._obs)
            if x is not None:
                self._x = torch.where(m.unsqueeze(-1), x, self._x)
                self._nonces = torch.where(m, nonces, self._nonces)
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
        idx, labels = self._idx, game.labels[self._idx]
        # one transmission for every sub-env (results of resetting sub-envs are discarded), and the
        # next one drawn for all; both channels run as one batched pass
        new_idx = game.draw(n, gen)
        new_x = new_nonces = None
        if self.role == "eavesdropper":
            new_x, new_nonces = game.transmit(new_idx)
            y_legit, legit_state, y_eve, eve_state = game.both_channels(self._x, new_x, gen)
            legit = game.receive(y_legit, legit_state, idx, self._nonces)
            new_obs = game.eve_features(y_eve, eve_state)
            reward = (a == labels).float()
            extra: dict[str, Tensor] = {}
        else:
            x, nonces = game.transmit(idx, a)
            y_legit, legit_state, y_eve, eve_state = game.both_channels(x, x, gen)
            legit = game.receive(y_legit, legit_state, idx, nonces)
            eve_guess = game.opponent_guess(game.eve_features(y_eve, eve_state))
            eve_correct = eve_guess == labels
            reward = legit.correct.float() - eve_correct.float()
            extra = {"eve_guess": eve_guess, "eve_correct": eve_correct}
            new_obs = game.transmitter_obs(new_idx)
        if bool(resetting.any()):  # (host syncs here are cheaper than the masked ops they skip)
            reward = torch.where(play, reward, torch.zeros_like(reward))
            self._round = torch.where(play, self._round + 1, torch.zeros_like(self._round))
            terminated = play & (self._round >= game.rounds)
        else:
            self._round = self._round + 1
            terminated = self._round >= game.rounds
        any_terminated = bool(terminated.any())
        values = {
            "label": labels,
            "legit_correct": legit.correct,
            "legit_guess": legit.guess,
            **({"psnr": legit.psnr} if game.compute_psnr else {}),
            "round": self._round,
            **extra,
        }
        old_obs = self._obs
        if self.autoreset_mode == AutoresetMode.NEXT_STEP and not any_terminated:
            self._idx, self._obs, self._x, self._nonces = new_idx, new_obs, new_x, new_nonces
            self._autoreset = terminated
        elif self.autoreset_mode == AutoresetMode.NEXT_STEP:
            keep = terminated  # a terminated sub-env shows its last observation until the next step
            self._idx = torch.where(keep, idx, new_idx)
            self._obs = torch.where(keep.unsqueeze(-1), old_obs, new_obs)
            if new_x is not None:
                self._x = torch.where(keep.unsqueeze(-1), self._x, new_x)
                self._nonces = torch.where(keep, self._nonces, new_nonces)
            self._autoreset = terminated
        else:  # SAME_STEP: terminated sub-envs restart now
            self._idx, self._obs, self._x, self._nonces = new_idx, new_obs, new_x, new_nonces
            if any_terminated:
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
