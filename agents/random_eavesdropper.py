"""Random eavesdropper: guesses a class uniformly at random (the chance baseline, 1 / num_classes).

semgame play --agent agents/random_eavesdropper.py:RandomEavesdropper   # or any loader use
"""

from __future__ import annotations

import numpy as np

from semgame.config import MAX_SEED, check_int


class RandomEavesdropper:
    """Uniform random guesses from a seeded NumPy generator."""

    def __init__(self, num_classes: int = 10, seed: int = 0) -> None:
        self.num_classes = check_int("num_classes", num_classes)
        self.rng = np.random.default_rng(check_int("seed", seed, low=0, high=MAX_SEED))

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.num_classes, size=len(obs))


if __name__ == "__main__":
    from semgame.envs.play import play

    out = play("SemCom-MNIST-v0", RandomEavesdropper(), episodes=5120, compute_psnr=False)  # 20 steps of 256
    print(f"random eavesdropper accuracy: {out['reward']:.3f} (chance 0.1)")
