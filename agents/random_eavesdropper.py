"""Random eavesdropper: guesses a class uniformly at random (the chance baseline, 1 / num_classes).

semgame play --agent agents/random_eavesdropper.py:RandomEavesdropper   # or any loader use
"""

from __future__ import annotations

import numpy as np


class RandomEavesdropper:
    """Uniform random guesses from a seeded NumPy generator."""

    def __init__(self, num_classes: int = 10, seed: int = 0) -> None:
        self.num_classes = num_classes
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.num_classes, size=len(obs))


if __name__ == "__main__":
    import gymnasium as gym

    import semgame  # noqa: F401  (registers the envs)

    venv = gym.make_vec(
        "SemCom-MNIST-v0",
        num_envs=256,
        vectorization_mode="vector_entry_point",
        compute_psnr=False,
        autoreset_mode="same_step",
    )  # every step: 256 fresh transmissions
    obs, _ = venv.reset(seed=0)
    agent, rewards = RandomEavesdropper(), []
    for _ in range(20):
        obs, rew, term, trunc, info = venv.step(agent.act(obs))
        rewards.append(rew.mean())
    print(f"random eavesdropper accuracy: {np.mean(rewards):.3f} (chance 0.1)")
