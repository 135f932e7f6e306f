"""Majority eavesdropper: always guesses the most frequent class seen in its updates.

It ignores the waveform entirely, so its accuracy is the prior of the majority class: the bar any
real eavesdropper must clear. ``update(obs, labels)`` is called between episodes (never in ``step``).
"""

from __future__ import annotations

import numpy as np


class MajorityEavesdropper:
    """Counts labels seen through :meth:`update`; guesses the most frequent one (class 0 before any)."""

    def __init__(self, num_classes: int = 10) -> None:
        self.counts = np.zeros(num_classes, dtype=np.int64)

    def update(self, obs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        self.counts += np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(self.counts))
        return {"majority_class": float(self.counts.argmax())}

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.full(len(obs), int(self.counts.argmax()), dtype=np.int64)


if __name__ == "__main__":
    from semgame.envs.play import play

    out = play(
        "SemCom-MNIST-v0", MajorityEavesdropper(), episodes=5120, compute_psnr=False, learn=True
    )  # 20 steps of 256
    print(f"majority eavesdropper accuracy: {out['reward']:.3f} (chance 0.1)")
