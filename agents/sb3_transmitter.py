"""An RL-adapted transmitter: stable-baselines3 PPO learning a perturbation under the PSR budget.

It plays the env's ``role="transmitter"``: it observes the clean waveform (``2k`` floats, I/Q), outputs
``a in [-1, 1]^(2k)`` that the env scales onto the PSR budget ``psr_db`` (the same
:class:`~semgame.privacy.perturbation.PSRBudget` path as every other perturbation), and is paid
``legit correct - eavesdropper correct`` against an opponent eavesdropper (by default the link's own).
One transmission per episode, so ``gamma = 0``. Once learnt it is a defence like any other:
``gym.make("SemCom-MNIST-v0", defence=PPOTransmitter(...), psr_db=...)``, and ``semgame bench`` judges it
with fresh eavesdroppers.

    python agents/sb3_transmitter.py --dataset mnist --psr-db 0 --steps 65536 --out runs/agents/ppo-tx

Hyper-parameters (chosen once, not tuned to any test): MlpPolicy (64-64 tanh, state-independent
Gaussian, initial std 1, actions clipped to the box), lr 3e-4, ``gamma = 0``, 16 steps per env per
rollout, batch 256, 4 epochs, no entropy bonus.

Only weights are saved (:meth:`PPOTransmitter.state_dict`, plain tensors and numbers; read back with
``torch.load(weights_only=True)``): nothing is unpickled. TensorBoard (``--out``/tb): SB3's
``rollout/ep_rew_mean`` (= legit - eavesdropper accuracy) and ``train/*``; ``tx/reward``, ``legit/acc``,
``eve/acc`` (the opponent, held-out) and ``perf/transmissions_per_s`` from :mod:`semgame.tags`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from semgame.envs.sb3 import SB3Agent

FORMAT = "semgame-sb3-transmitter-v1"
HYPER = {"n_steps": 16, "batch_size": 256, "n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.0, "ent_coef": 0.0}
"""PPO keyword arguments (overridable with constructor keywords)."""


class PPOTransmitter(SB3Agent):
    """A learning transmitter policy (a :class:`~semgame.protocols.Transmitter` once it has a model).

    ``learn(venv, transmissions)``, ``state_dict()`` / ``load_state_dict(state)``: see
    :class:`semgame.envs.sb3.SB3Agent`.
    """

    algo = "ppo"
    defaults = HYPER
    format = FORMAT
    discrete = False  # Box(-1, 1, (2k,)) actions

    def act(self, obs) -> np.ndarray:
        """``[n, obs_dim]`` clean waveforms -> ``[n, 2k]`` perturbations in [-1, 1] (the policy's mean)."""
        return np.clip(np.asarray(self.predict(obs), dtype=np.float32), -1.0, 1.0)


def main() -> None:
    import torch

    from semgame import tags
    from semgame.envs import SemComSB3VecEnv, SemComVectorEnv
    from semgame.io import save_checkpoint

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "fashion_mnist"])
    p.add_argument("--psr-db", type=float, default=0.0, help="perturbation budget (dB)")
    p.add_argument("--steps", type=int, default=65_536, help="transmissions to learn from")
    p.add_argument("--out", default="runs/agents/ppo-tx")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    venv = SemComSB3VecEnv(
        num_envs=256,
        dataset=args.dataset,
        role="transmitter",
        split="train",
        rounds=1,
        psr_db=args.psr_db,
        compute_psnr=False,
    )
    venv.seed(args.seed)
    tx = PPOTransmitter(seed=args.seed)
    start = time.perf_counter()
    tx.learn(venv, args.steps)
    sps = args.steps / (time.perf_counter() - start)
    save_checkpoint(tx.state_dict(), out / "policy.pt")
    # judge it on held-out test transmissions against the opponent it learnt against
    test = SemComVectorEnv(5000, args.dataset, role="transmitter", split="test", psr_db=args.psr_db, compute_psnr=False)
    obs, _ = test.reset(seed=args.seed + 1)
    _, reward, _, _, info = test.step(tx.act(obs))
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tb")) as w:
        for tag, value in (
            (tags.TX_REWARD, reward.mean()),
            (tags.LEGIT_ACC, info["legit_correct"].mean()),
            (tags.EVE_ACC, info["eve_correct"].mean()),
            (tags.TRANSMISSIONS_PER_S, sps),
        ):
            w.add_scalar(tag, float(value), args.steps)
    print(
        f"PPO transmitter at PSR {args.psr_db:+g} dB: legit {info['legit_correct'].mean():.3f}, in-loop eavesdropper "
        f"{info['eve_correct'].mean():.3f} ({sps:,.0f} transmissions/s); saved {out / 'policy.pt'}. "
        "Judge it with fresh "
        "eavesdroppers: semgame bench"
    )


if __name__ == "__main__":
    main()
