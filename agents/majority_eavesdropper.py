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
    import gymnasium as gym

    import semgame  # noqa: F401

    venv = gym.make_vec(
        "SemCom-MNIST-v0",
        num_envs=256,
        vectorization_mode="vector_entry_point",
        compute_psnr=False,
        autoreset_mode="same_step",
    )  # every step: 256 fresh transmissions
    obs, _ = venv.reset(seed=0)
    agent, rewards = MajorityEavesdropper(), []
    for _ in range(20):
        prev = obs
        obs, rew, term, trunc, info = venv.step(agent.act(prev))
        rewards.append(rew.mean())
        agent.update(prev, info["final_info"]["label"])  # 1-round episodes: each step's info is their final_info
    print(f"majority eavesdropper accuracy: {np.mean(rewards[1:]):.3f} (chance 0.1)")
