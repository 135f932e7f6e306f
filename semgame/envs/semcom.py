"""The semantic-communication privacy game as a single-agent Gymnasium environment."""

from __future__ import annotations

import reprlib
from typing import Any

import numpy as np
import torch
from gymnasium import Env, spaces
from gymnasium.error import ResetNeeded

from semgame.envs.game import SemComGame, seeded_torch_generator

__all__ = [
    "SemComEnv",
    "observation_space",
    "action_space",
    "check_discrete_actions",
    "check_box_actions",
    "check_reset_options",
    "preview",
]


def observation_space(game: SemComGame) -> spaces.Box:
    """Observation space of a role: unbounded floats, except the one-hot label (in [0, 1])."""
    if game.role == "eavesdropper":
        return spaces.Box(-np.inf, np.inf, (game.eve_obs_dim,), np.float32)
    low = np.full(game.tx_obs_dim, -np.inf, np.float32)
    high = np.full(game.tx_obs_dim, np.inf, np.float32)
    low[2 * game.k :], high[2 * game.k :] = 0.0, 1.0
    return spaces.Box(low, high, dtype=np.float32)


def action_space(game: SemComGame) -> spaces.Space:
    """``Discrete(num_classes)`` for the eavesdropper, ``Box([-1, 1]^(2k), float32)`` for the transmitter."""
    if game.role == "eavesdropper":
        return spaces.Discrete(game.num_classes)
    return spaces.Box(-1.0, 1.0, (2 * game.k,), np.float32)


def preview(values: Any, limit: int = 4) -> str:
    """The first ``limit`` entries of an array, on one line: ``[0.5, nan, 2.0, ...] (4096 values)``.

    >>> preview(np.array([0.5, np.nan, 2.0, 7.0, 9.0]))
    '[0.5, nan, 2.0, 7.0, ...] (5 values)'
    """
    flat = np.asarray(values).ravel()
    shown = ", ".join(reprlib.repr(v) for v in flat[:limit].tolist())
    return f"[{shown}, ...] ({flat.size} values)" if flat.size > limit else f"[{shown}]"


def _as_array(action: Any) -> np.ndarray:
    """An action as a NumPy array, or a one-line ``ValueError`` for what NumPy cannot make one of."""
    if isinstance(action, torch.Tensor):
        t = action.detach().cpu()
        if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
            t = t.float()
        try:
            return t.numpy()
        except TypeError:
            raise ValueError(f"action tensor of dtype {action.dtype} is not supported; use int64 or float32") from None
    try:
        return np.asarray(action)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"action must be an array of numbers, got {reprlib.repr(action)}") from None


def check_discrete_actions(action: Any, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Validate integer class guesses of ``shape`` in ``[0, n)``; returns an int64 array."""
    arr = _as_array(action)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"action must be integer class guesses in [0, {n}) (Discrete({n})), got dtype {arr.dtype}: {preview(arr)}"
        )
    if arr.shape != shape:
        raise ValueError(f"action must have shape {shape} for Discrete({n}), got shape {arr.shape}")
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise ValueError(f"action outside the action space Discrete({n}): {preview(arr[bad])} not in [0, {n})")
    return arr.astype(np.int64, copy=False)


def check_box_actions(action: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Validate float perturbations of ``shape`` in [-1, 1] (no NaN or inf); returns a float32 array."""
    arr = _as_array(action)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"action must be a float array in [-1, 1] of shape {shape}, got dtype {arr.dtype}: {preview(arr)}"
        )
    if arr.shape != shape:
        raise ValueError(f"action must have shape {shape}, got shape {arr.shape}")
    bad = ~((arr >= -1.0) & (arr <= 1.0))  # NaN fails both comparisons
    if bad.any():
        raise ValueError(f"action outside the action space [-1, 1] (NaN and inf included): {preview(arr[bad])}")
    return arr.astype(np.float32, copy=False)


def check_reset_options(options: Any) -> dict[str, Any]:
    """``reset``'s ``options``: ``None`` (returned as ``{}``) or a dict, else a one-line ``ValueError``."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(f"reset options must be None or a dict, got {type(options).__name__}: {reprlib.repr(options)}")
    return options


class SemComEnv(Env):
    """
    ## Description

    A transmitter sends images over a wireless channel as *semantic* waveforms (a neural encoder's
    ``k`` complex symbols); a legitimate receiver decodes the class and reconstructs the image,
    while an eavesdropper on its own channel tries to infer the class. This env lets you play one
    side of that game: the **eavesdropper** (guess the class from what you intercept) or the
    **transmitter** (perturb the waveform, under a power budget, so the legitimate receiver still
    succeeds and the eavesdropper fails). The link (encoder, receivers) is pretrained and frozen:
    by default the small weights shipped in ``semgame/weights/``.

    Each episode is ``rounds`` transmissions of images drawn uniformly (with replacement) from the
    chosen ``split``; one ``step`` is one transmission.

    ## Action Space

    * ``role="eavesdropper"``: ``Discrete(10)``, the guessed class.
    * ``role="transmitter"``: ``Box(-1, 1, (2k,), float32)``, a perturbation ``a`` (I/Q interleaved)
      added to the clean waveform ``x`` as ``x + a * sqrt(10^(psr_db/10) * P_x / 2)``, ``P_x`` the
      sample's mean symbol power (:class:`~semgame.privacy.perturbation.PSRBudget`). The
      perturbation-to-signal power ratio ``mean|delta|^2 / P_x`` is thus at most ``psr_db`` dB
      (reached when every ``|a_i| = 1``); ``a = 0`` sends ``x``. A policy learnt here becomes a
      defence of the eavesdropper role with ``defence=policy``.

    Actions outside the space, of the wrong shape or dtype, or with NaN or inf raise a one-line
    ``ValueError`` that shows the first few offending values.

    ## Observation Space

    ``Box(float32)``:

    * eavesdropper: the eavesdropper's received waveform, ``2k`` floats (I/Q interleaved, as
      :func:`semgame.channels.complex_to_real`; equalised when the link's CSI is ``"perfect"``);
      with ``include_csi=True`` followed by its channel state: ``Re h, Im h`` (one coefficient for
      block fading, ``k`` otherwise) and the SNR in dB.
    * transmitter: the clean transmitted waveform, ``2k`` floats; with ``include_label=True``
      followed by the one-hot class (10 floats in [0, 1]).

    ## Rewards

    * eavesdropper: ``1.0`` for a correct guess, else ``0.0`` (chance: 0.1).
    * transmitter: legitimate receiver correct (1/0) minus the opponent eavesdropper correct (1/0),
      in ``{-1.0, 0.0, 1.0}``.

    Rewards are Python floats.

    ## Starting State

    ``reset`` draws the first image and returns the first observation; ``info`` has ``round = 0``.

    ## Episode End

    ``terminated=True`` after ``rounds`` steps; the env never truncates (``truncated=False``).

    ## Info

    ``step`` returns ``label`` (true class), ``legit_correct`` (bool), ``psnr`` (dB, the legitimate
    reconstruction; absent with ``compute_psnr=False``), ``legit_guess`` and ``round`` (1-based index
    of the transmission just played); the transmitter role adds ``eve_guess`` and ``eve_correct``.
    Observations, rewards and info values are always finite.

    ## Arguments

    * ``dataset``: ``"mnist"``, ``"cifar10"`` or ``"fashion_mnist"`` (set by the registered ids).
    * ``role``: ``"eavesdropper"`` (default) or ``"transmitter"``.
    * ``rounds``: transmissions per episode (default 1).
    * ``split``: image split, ``"test"`` (default) or ``"train"``.
    * ``snr_db`` / ``eve_snr_db``: legitimate / eavesdropper SNR in dB (a float, or a ``(lo, hi)``
      range drawn per transmission); default: the link's training config.
    * ``psr_db``: transmitter perturbation budget in dB (default -10).
    * ``include_csi``: append the eavesdropper's channel state to the eavesdropper's observation
      (the agent's in role ``"eavesdropper"``, the opponent's in role ``"transmitter"``).
    * ``include_label``: append the one-hot label to the transmitter's observation (the agent's in
      role ``"transmitter"``, that of a Transmitter policy object given as ``defence``).
    * ``compute_psnr``: run the legitimate decoder for ``info["psnr"]`` (default True; False is faster).
    * ``precision``: ``"fp32"``, ``"bf16"`` or ``"auto"`` (default): autocast of the legitimate receiver
      and of the link's own eavesdropper (:func:`semgame.training.resolve_precision`; the channel and the
      cached waveforms stay float32).
    * ``link``: ``None`` (shipped weights), a path to a ``model.pt`` / run folder from
      ``semgame train``, a :class:`~semgame.link.SemanticLink`, or ``semgame.loader.load_run``'s tuple.
    * ``eavesdropper``: the opponent of role ``"transmitter"``: any
      :class:`~semgame.protocols.Eavesdropper` or a :class:`~semgame.link.NeuralEavesdropper`;
      default: the eavesdropper trained with the link. Swap it between episodes with
      :meth:`set_eavesdropper`.
    * ``defence``: the privacy defence between the transmitter and both channels
      (:mod:`semgame.privacy.defences`, the same interface as the offline evaluation): ``None``
      (undefended, default); a config such as ``{"kind": "keyed", "psr_db": 10}``,
      ``{"kind": "adversarial", "psr_db": -10, "method": "pgd", "scope": "per_sample"}`` (crafted
      against the eavesdropper saved with the link, which must have been trained: the shipped
      weights, ``semgame train --eve-epochs N`` with N > 0, or a min-max run; a universal one is
      fitted on this env's images, which loads them at construction) or
      ``{"kind": "policy", "agent": "file.py:Class", "psr_db": -10}``;
      a :class:`~semgame.privacy.defences.Defence` object; or any
      :class:`~semgame.protocols.Transmitter` policy object, whose ``act`` maps the clean waveform
      [+ one-hot label with ``include_label``] to a ``[-1, 1]^(2k)`` perturbation applied under
      ``psr_db`` as in the transmitter role. The legitimate receiver applies the defence's receiver
      hook (keyed removal) before decoding; the eavesdropper gets no hook. In role
      ``"transmitter"`` the defence sits after your perturbation. Each transmission carries a fresh
      public nonce from the defence object's counter (never reused, not even after a seeded
      ``reset``: a keyed env replays images and channel draws, never a mask). Swap it between
      episodes with :meth:`set_defence`. A min-max-trained link is a defence too: pass it as ``link``.
    * ``data_root``: data folder (default ``$SEMGAME_DATA``, then the link config's ``data_root``;
      see :func:`semgame.data.load_dataset`, whose error says where it looked when nothing is found).
    * ``images``: a ``TensorDataset`` or a pair ``(images, labels)`` of torch tensors or NumPy arrays,
      used instead of the split (e.g. :func:`semgame.data.synthetic_dataset` for tests): images
      ``[N, C, H, W]`` of the dataset's shape, float (any float dtype, converted to float32), finite
      and in [0, 1], or uint8 (converted to float32 / 255, as torchvision's ``ToTensor``); labels
      1-D integer classes (``[0, 10)``), one per image. Checked at construction
      (:func:`~semgame.envs.game.as_image_set`: a one-line ``ValueError`` says what is wrong).
    * ``device``: torch device (``"cpu"`` default).
    * ``render_mode``: ``None`` or ``"rgb_array"`` (the image being transmitted).

    Nothing is trained inside ``step``: given the ``reset`` seed and the actions, trajectories are
    deterministic. Data are loaded and encoded once, on the first ``reset``.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self, dataset: str = "mnist", role: str = "eavesdropper", *, render_mode: str | None = None, **kwargs: Any
    ) -> None:
        # (every other keyword argument is the game's: see "Arguments" above and semgame.envs.game.SemComGame)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.game = SemComGame(dataset, role, **kwargs)
        self.role, self.rounds, self.render_mode = role, self.game.rounds, render_mode
        self.observation_space = observation_space(self.game)
        self.action_space = action_space(self.game)
        self._gen: torch.Generator | None = None
        self._idx: torch.Tensor | None = None
        self._x: torch.Tensor | None = None
        self._nonces: torch.Tensor | None = None
        self._obs: np.ndarray | None = None
        self._round = 0
        self._done = True

    def set_eavesdropper(self, agent: Any) -> None:
        """Replace the opponent of role ``"transmitter"`` (call between episodes, e.g. after refitting it)."""
        self.game.set_eavesdropper(agent)

    def set_defence(self, defence: Any) -> None:
        """Replace the defence (a config, a Defence, a Transmitter policy or ``None``); call between episodes."""
        self.game.set_defence(defence)

    def _observe(self) -> np.ndarray:
        game = self.game
        self._idx = game.draw(1, self._gen)
        if self.role == "eavesdropper":
            self._x, self._nonces = game.transmit(self._idx)
            obs = game.eavesdropper_obs(self._x, self._gen)
        else:
            obs = game.transmitter_obs(self._idx)
        return obs[0].cpu().numpy().astype(np.float32, copy=False)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        check_reset_options(options)  # (no option is used)
        super().reset(seed=seed)
        if seed is not None or self._gen is None:
            self._gen = seeded_torch_generator(self.np_random, self.game.device)
        self.game.prepare()
        self._round, self._done = 0, False
        self._obs = self._observe()
        return self._obs.copy(), {"round": 0}

    @torch.no_grad()
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done or self._idx is None:
            raise ResetNeeded("Cannot call env.step() before calling env.reset() (or after the episode ended)")
        game, idx, gen = self.game, self._idx, self._gen
        label = int(game.labels[idx][0])
        if self.role == "eavesdropper":
            guess = int(check_discrete_actions(action, game.num_classes, ()))
            legit = game.legit(self._x, idx, self._nonces, gen)
            reward = float(guess == label)
            info: dict[str, Any] = {}
        else:
            a = check_box_actions(action, (2 * game.k,))
            x, nonces = game.transmit(idx, torch.from_numpy(a).unsqueeze(0))
            legit = game.legit(x, idx, nonces, gen)
            eve_guess = int(game.opponent_guess(game.eavesdropper_obs(x, gen))[0])
            reward = float(bool(legit.correct[0])) - float(eve_guess == label)
            info = {"eve_guess": eve_guess, "eve_correct": eve_guess == label}
        self._round += 1
        info.update(
            label=label, legit_correct=bool(legit.correct[0]), legit_guess=int(legit.guess[0]), round=self._round
        )
        if game.compute_psnr:
            info["psnr"] = float(legit.psnr[0])
        terminated = self._round >= self.rounds
        if terminated:
            self._done = True
        else:
            self._obs = self._observe()
        return self._obs.copy(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._idx is None:
            return None
        return self.game.render_rgb(int(self._idx[0]))
