"""Template: copy this file, rename the class, fill in ``act`` (and ``update`` if it learns).

Plug it in with the loader (``semgame.protocols.load_agent("path/to/my_eve.py:MyEavesdropper")``), as
the opponent of the transmitter role (``gym.make("SemCom-MNIST-v0", role="transmitter",
eavesdropper=MyEavesdropper())`` or ``env.unwrapped.set_eavesdropper(...)``), or drive the
eavesdropper role yourself (``obs -> act -> env.step``).
"""

from __future__ import annotations

import numpy as np


class TemplateEavesdropper:
    """The only required method is ``act``; everything else is optional."""

    # Set to True to receive torch tensors on the env's device instead of NumPy arrays (GPU envs).
    accepts_tensors = False

    def __init__(self, num_classes: int = 10, k: int = 16) -> None:
        # k complex channel uses -> the first 2k observation features are the waveform (I, Q, I, Q, ...);
        # with include_csi=True the env appends Re h, Im h and the SNR in dB.
        self.num_classes, self.k = num_classes, k

    def act(self, obs: np.ndarray) -> np.ndarray:
        """``obs``: ``[n, obs_dim]`` float32, a batch of intercepted waveforms -> ``[n]`` int guesses."""
        waveform = obs[:, : 2 * self.k]
        # TODO: replace this placeholder rule with your classifier.
        return (np.abs(waveform).argmax(axis=1) % self.num_classes).astype(np.int64)

    def update(self, obs: np.ndarray, labels: np.ndarray) -> dict[str, float] | None:
        """Optional: learn from labelled interceptions. Called by *your* loop between episodes or
        rollouts (the env never calls it, so ``step`` stays deterministic). Return metrics or None."""
        return None
