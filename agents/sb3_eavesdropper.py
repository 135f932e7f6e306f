"""A stable-baselines3 PPO eavesdropper: reinforcement learning from the 1/0 reward alone.

Unlike the supervised eavesdropper it never sees a label, only whether its guess was right.
Trained on the native batched env through :class:`semgame.envs.SemComSB3VecEnv`:

    python agents/sb3_eavesdropper.py --dataset mnist --steps 200000 --out runs/agents/ppo-eve

TensorBoard (``--out``/tb): SB3's own ``rollout/ep_rew_mean`` (= guess accuracy) and ``train/*`` losses,
plus semgame's ``eve/acc`` (:mod:`semgame.tags`) on held-out interceptions at the end, at step = the
transmissions played. Only the policy's weights are saved (``policy.pt``, read back with
``torch.load(weights_only=True)``; SB3's own ``.zip`` would be unpickled on load), and
:class:`SB3Eavesdropper` rebuilds the policy around them:

    semgame play --agent agents/sb3_eavesdropper.py:SB3Eavesdropper   # reads $SEMGAME_SB3_POLICY
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


FORMAT = "semgame-sb3-policy-v1"


def save_policy(model, dataset: str, path: str | Path) -> Path:
    """Atomically save the PPO policy's weights (no pickled objects) for :func:`load_policy`."""
    from semgame.io import save_checkpoint

    return save_checkpoint({"format": FORMAT, "dataset": dataset, "policy": model.policy.state_dict()}, path)


def load_policy(path: str | Path):
    """A PPO model for the dataset's eavesdropper role with the weights saved by :func:`save_policy`."""
    from stable_baselines3 import PPO

    from semgame.envs import SemComSB3VecEnv
    from semgame.io import CheckpointError, load_checkpoint

    state = load_checkpoint(path)
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path} is not an SB3 eavesdropper policy (format {state['format']!r})")
    venv = SemComSB3VecEnv(num_envs=1, dataset=state["dataset"], rounds=1, compute_psnr=False)
    model = PPO("MlpPolicy", venv, device="cpu")
    model.policy.load_state_dict(state["policy"])
    return model


class SB3Eavesdropper:
    """A trained SB3 model as an Eavesdropper: ``model=``, or the ``policy.pt`` at ``path`` /
    ``$SEMGAME_SB3_POLICY`` written by this script."""

    def __init__(self, model=None, path: str | None = None, deterministic: bool = True) -> None:
        if model is None:
            path = path or os.environ.get("SEMGAME_SB3_POLICY")
            if path is None:
                raise ValueError("SB3Eavesdropper needs model=, path= or $SEMGAME_SB3_POLICY (a policy.pt saved by this script)")
            model = load_policy(path)
        self.model, self.deterministic = model, deterministic

    def act(self, obs: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(np.asarray(obs, dtype=np.float32), deterministic=self.deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(len(obs))


def train(dataset: str = "mnist", steps: int = 100_000, num_envs: int = 64, seed: int = 0,
          tb: str | None = None, split: str = "train"):
    """Train PPO on the eavesdropper role; returns the SB3 model."""
    import torch
    from stable_baselines3 import PPO

    from semgame.envs import SemComSB3VecEnv

    torch.set_num_threads(1)
    venv = SemComSB3VecEnv(num_envs=num_envs, dataset=dataset, split=split, rounds=1, compute_psnr=False)
    venv.seed(seed)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=256, n_epochs=4, learning_rate=1e-3, gamma=0.0,
                ent_coef=0.0, seed=seed, device="cpu", tensorboard_log=tb, verbose=0)
    return model.learn(steps, tb_log_name="ppo")


def evaluate(agent, dataset: str = "mnist", n: int = 10_000, seed: int = 1) -> float:
    """Accuracy of an Eavesdropper on ``n`` fresh test-split interceptions."""
    from semgame.envs import SemComVectorEnv

    venv = SemComVectorEnv(1000, dataset, split="test", compute_psnr=False)
    obs, _ = venv.reset(seed=seed)
    hits = []
    for _ in range(max(n // 1000, 1)):
        obs, rew, _, _, info = venv.step(agent.act(obs))
        hits.append(rew[info["_label"]])
        obs, _ = venv.reset()
    return float(np.concatenate(hits).mean())


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "fashion_mnist"])
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--out", default="runs/agents/ppo-eve")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    out = Path(args.out)
    model = train(args.dataset, args.steps, seed=args.seed, tb=str(out / "tb"))
    save_policy(model, args.dataset, out / "policy.pt")
    acc = evaluate(SB3Eavesdropper(model), args.dataset)
    from torch.utils.tensorboard import SummaryWriter

    from semgame.tags import EVE_ACC

    with SummaryWriter(str(out / "tb" / "ppo_1")) as w:
        w.add_scalar(EVE_ACC, acc, args.steps)
    print(f"PPO eavesdropper test accuracy {acc:.3f} (chance 0.1); saved {out / 'policy.pt'}")
