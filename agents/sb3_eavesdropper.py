"""stable-baselines3 eavesdroppers (PPO, A2C, DQN): reinforcement learning from the 1/0 reward alone.

Unlike the supervised eavesdroppers they never see a label, only whether each guess was right. Each
transmission is a one-step episode, so the task is a contextual bandit: ``gamma = 0`` (no future to
discount). They learn on the native batched env through :class:`semgame.envs.SemComSB3VecEnv`
(``learn(venv, transmissions)``; ``semgame bench`` hands them the env it meters):

    python agents/sb3_eavesdropper.py --algo ppo --dataset mnist --steps 200000 --out runs/agents/ppo-eve

Hyper-parameters (:data:`HYPER`; chosen once for a 32-feature, 10-action bandit, not tuned to any
test): MlpPolicy (64-64 tanh), lr 1e-3, ``gamma = 0``; PPO: 16 steps per env per rollout, batch 256,
4 epochs, no entropy bonus (the settings of the first PPO demo); A2C: 1 step per env per update, no entropy bonus;
DQN: replay 100k, batch 256, one gradient step per env step, target update every step (256
transmissions), epsilon 1 -> 0.02 over the first 30 % of the budget, learning starts after 1,000.

TensorBoard (``--out``/tb): SB3's ``rollout/ep_rew_mean`` (= guess accuracy) and ``train/*`` losses, and
``eve/acc`` (held-out test interceptions) + ``perf/transmissions_per_s`` from :mod:`semgame.tags`.
Only the policy's weights are saved (``policy.pt``, read back with ``torch.load(weights_only=True)``;
SB3's own ``.zip`` would be unpickled on load), and :class:`SB3Eavesdropper` rebuilds the policy around
them:

    semgame play --agent agents/sb3_eavesdropper.py:SB3Eavesdropper   # reads $SEMGAME_SB3_POLICY
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from semgame.envs.sb3 import SB3Agent, algorithm

FORMAT = "semgame-sb3-policy-v2"

HYPER = {
    "ppo": {"n_steps": 16, "batch_size": 256, "n_epochs": 4, "learning_rate": 1e-3, "gamma": 0.0, "ent_coef": 0.0},
    "a2c": {"n_steps": 1, "learning_rate": 1e-3, "gamma": 0.0, "ent_coef": 0.0},
    "dqn": {
        "learning_rate": 1e-3,
        "gamma": 0.0,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "batch_size": 256,
        "train_freq": 1,
        "gradient_steps": 1,
        "target_update_interval": 1,
        "exploration_fraction": 0.3,
        "exploration_final_eps": 0.02,
    },
}
"""SB3 keyword arguments per algorithm (overridable with constructor keywords)."""


class PPOEavesdropper(SB3Agent):
    """A learning SB3 eavesdropper (:data:`HYPER`); ``act`` is the greedy action of the current policy.

    ``learn(venv, transmissions)``, ``state_dict()`` / ``load_state_dict(state)``: see
    :class:`semgame.envs.sb3.SB3Agent`.
    """

    algo = "ppo"
    format = FORMAT

    @property
    def defaults(self) -> dict:
        return HYPER[self.algo]

    def act(self, obs) -> np.ndarray:
        """``[n, obs_dim]`` intercepted waveforms -> ``[n]`` int64 class guesses."""
        return np.asarray(self.predict(obs), dtype=np.int64).reshape(len(obs))

    def logits_model(self):
        """A module mapping observations to class scores (policy logits; Q-values for DQN): white-box
        access, e.g. for a PGD transmitter."""
        from torch import nn

        policy, dqn = self.trained_model().policy, self.algo == "dqn"

        class Scores(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.policy = policy

            def forward(self, obs):
                return self.policy.q_net(obs) if dqn else self.policy.get_distribution(obs).distribution.logits

        return Scores()


class A2CEavesdropper(PPOEavesdropper):
    """A2C from the 1/0 reward (:data:`HYPER`)."""

    algo = "a2c"


class DQNEavesdropper(PPOEavesdropper):
    """DQN from the 1/0 reward (:data:`HYPER`)."""

    algo = "dqn"


LEARNERS = {"ppo": PPOEavesdropper, "a2c": A2CEavesdropper, "dqn": DQNEavesdropper}


def save_policy(model, dataset: str, path: str | Path) -> Path:
    """Atomically save the policy's weights (no pickled objects) for :func:`load_policy`."""
    from semgame.io import save_checkpoint

    return save_checkpoint({**SB3Eavesdropper(model).state_dict(), "dataset": dataset}, path)


def load_policy(path: str | Path):
    """The SB3 model saved by :func:`save_policy`, rebuilt around its weights."""
    from semgame.io import CheckpointError, load_checkpoint

    state = load_checkpoint(path)
    if state.get("format") == "semgame-sb3-policy-v1":  # (an older file: the sizes come from its dataset's env)
        from semgame.envs import SemComSB3VecEnv

        venv = SemComSB3VecEnv(num_envs=1, dataset=state["dataset"], rounds=1, compute_psnr=False)
        sizes = {"obs_dim": venv.observation_space.shape[0], "act_dim": int(venv.action_space.n)}
        state = {"algo": "ppo", **state, **sizes, "format": FORMAT}
    if state.get("format") != FORMAT or state.get("algo") not in LEARNERS:
        raise CheckpointError(
            f"{path} is not an SB3 eavesdropper policy of this script (format {state.get('format')!r})"
        )
    return LEARNERS[state["algo"]]().load_state_dict(state).model


class SB3Eavesdropper(PPOEavesdropper):
    """A trained SB3 model as an Eavesdropper: ``model=``, or the ``policy.pt`` at ``path`` /
    ``$SEMGAME_SB3_POLICY`` written by this script."""

    def __init__(self, model=None, path: str | None = None, deterministic: bool = True) -> None:
        if model is None:
            path = path or os.environ.get("SEMGAME_SB3_POLICY")
            if path is None:
                raise ValueError(
                    "SB3Eavesdropper needs model=, path= or $SEMGAME_SB3_POLICY (a policy.pt saved by this script)"
                )
            model = load_policy(path)
        super().__init__(model=model)
        self.deterministic = deterministic


def train(
    dataset: str = "mnist",
    steps: int = 100_000,
    num_envs: int = 64,
    seed: int = 0,
    tb: str | None = None,
    split: str = "train",
    algo: str = "ppo",
):
    """Train an SB3 eavesdropper on the eavesdropper role; returns the SB3 model."""
    import torch

    from semgame.envs import SemComSB3VecEnv

    torch.set_num_threads(1)
    venv = SemComSB3VecEnv(num_envs=num_envs, dataset=dataset, split=split, rounds=1, compute_psnr=False)
    venv.seed(seed)
    model = algorithm(algo)("MlpPolicy", venv, seed=seed, device="cpu", tensorboard_log=tb, verbose=0, **HYPER[algo])
    if tb is None:
        from semgame.envs.sb3 import quiet_logger

        model.set_logger(quiet_logger())
    return model.learn(steps, tb_log_name=algo)


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
    p.add_argument("--algo", default="ppo", choices=sorted(HYPER))
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "fashion_mnist"])
    p.add_argument("--steps", type=int, default=200_000, help="intercepted transmissions to learn from")
    p.add_argument("--out", default="runs/agents/ppo-eve")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    out = Path(args.out)
    start = time.perf_counter()
    model = train(args.dataset, args.steps, num_envs=256, seed=args.seed, tb=str(out / "tb"), algo=args.algo)
    sps = args.steps / (time.perf_counter() - start)
    save_policy(model, args.dataset, out / "policy.pt")
    acc = evaluate(SB3Eavesdropper(model), args.dataset)
    from torch.utils.tensorboard import SummaryWriter

    from semgame import tags

    with SummaryWriter(str(out / "tb" / f"{args.algo}_1")) as w:
        w.add_scalar(tags.EVE_ACC, acc, args.steps)
        w.add_scalar(tags.TRANSMISSIONS_PER_S, sps, args.steps)
    print(
        f"{args.algo.upper()} eavesdropper test accuracy {acc:.3f} (chance 0.1), {sps:,.0f} transmissions/s; "
        f"saved {out / 'policy.pt'}"
    )
