"""Linear eavesdropper: softmax regression on the intercepted waveform, trained on labelled interceptions.

The simplest learning eavesdropper: ``p(class | obs) = softmax(W obs + b)``. If it already matches the
neural eavesdropper, the class is linearly readable from the waveform. Like the neural one it learns in
:meth:`update`, between steps, never inside ``env.step``: each call runs ``epochs`` passes of Adam
(cross-entropy) over the labelled interceptions it is given.

Hyper-parameters (defaults, not tuned to any test): Adam lr 1e-2, batch 256, 3 epochs per update, no
weight decay.

    python agents/linear_eavesdropper.py --dataset mnist --transmissions 65536 --tb runs/agents/linear-eve

TensorBoard (tags of :mod:`semgame.tags`, global step = labelled interceptions seen): ``eve/loss``,
``eve/acc`` (held-out test interceptions), ``perf/transmissions_per_s``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from semgame.config import check_int
from semgame.supervised import SupervisedEavesdropper


class LinearEavesdropper(SupervisedEavesdropper):
    """Softmax regression ``obs_dim -> num_classes``; ``update`` runs a few epochs of Adam."""

    def __init__(
        self,
        obs_dim: int = 32,
        num_classes: int = 10,
        lr: float = 1e-2,
        epochs: int = 3,
        batch_size: int = 256,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        check_int("obs_dim", obs_dim)
        check_int("num_classes", num_classes)
        super().__init__(
            lambda: nn.Linear(obs_dim, num_classes),
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            device=device,
        )


def main() -> None:
    from torch.utils.tensorboard import SummaryWriter

    from semgame import tags
    from semgame.envs import SemComVectorEnv

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "fashion_mnist"])
    p.add_argument("--transmissions", type=int, default=65_536, help="labelled interceptions to learn from")
    p.add_argument("--num-envs", type=int, default=256, help="interceptions per env step (and per update)")
    p.add_argument("--tb", default="runs/agents/linear-eve", help="TensorBoard folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    # same-step autoreset with one-transmission episodes: every step intercepts num_envs fresh transmissions
    train = SemComVectorEnv(
        args.num_envs, args.dataset, split="train", rounds=1, autoreset_mode="same_step", compute_psnr=False
    )
    test = SemComVectorEnv(10_000, args.dataset, split="test", compute_psnr=False)
    x_test, _ = test.reset(seed=args.seed + 1)
    y_test = test.step(np.zeros(10_000, np.int64))[4]["label"]
    eve = LinearEavesdropper(obs_dim=train.single_observation_space.shape[0], seed=args.seed)
    writer = SummaryWriter(args.tb)
    obs, _ = train.reset(seed=args.seed)
    seen, start = 0, time.perf_counter()
    while seen < args.transmissions:
        guess = eve.act(obs).numpy()
        next_obs, reward, _, _, info = train.step(guess)
        # one-transmission episodes end every step: their labels are in final_info (Gymnasium's layout)
        stats = eve.update(obs, info["final_info"]["label"])  # learns between steps, outside the env
        obs, seen = next_obs, seen + args.num_envs
        if seen % 8192 == 0:
            acc = float((eve.act(x_test).numpy() == y_test).mean())
            writer.add_scalar(tags.EVE_LOSS, stats["loss"], seen)
            writer.add_scalar(tags.EVE_ACC, acc, seen)
            writer.add_scalar(tags.EVE_REWARD, float(reward.mean()), seen)
            writer.add_scalar(tags.TRANSMISSIONS_PER_S, seen / (time.perf_counter() - start), seen)
            print(f"{seen:>8} interceptions: held-out accuracy {acc:.3f}")
    writer.close()


if __name__ == "__main__":
    main()
