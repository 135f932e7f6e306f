"""Majority eavesdropper: always guesses the most frequent class seen in its updates.

It ignores the waveform entirely, so its accuracy is the prior of the majority class: the bar any
real eavesdropper must clear. ``update(obs, labels)`` is called between episodes (never in ``step``).
"""

from __future__ import annotations

import numpy as np

from semgame.config import check_int


class MajorityEavesdropper:
    """Counts labels seen through :meth:`update`; guesses the most frequent one (class 0 before any)."""

    def __init__(self, num_classes: int = 10) -> None:
        self.counts = np.zeros(check_int("num_classes", num_classes), dtype=np.int64)

    def update(self, obs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.counts)):
            raise ValueError(f"labels must be classes in [0, {len(self.counts)}), got {labels.min()}..{labels.max()}")
        self.counts += np.bincount(labels, minlength=len(self.counts))
        return {"majority_class": float(self.counts.argmax())}

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.full(len(obs), int(self.counts.argmax()), dtype=np.int64)


if __name__ == "__main__":
    from semgame.envs.play import play

    out = play(
        "SemCom-MNIST-v0", MajorityEavesdropper(), episodes=5120, compute_psnr=False, learn=True
    )  # 20 steps of 256
    print(f"majority eavesdropper accuracy: {out['reward']:.3f} (chance 0.1)")
