"""Neural supervised eavesdropper: an MLP trained with cross-entropy on labelled interceptions.

The eavesdropper of a real attack records transmissions and later learns their labels (a leaked
training set); here the labels come from ``info["label"]``. Training happens in :meth:`update`,
between episodes, never inside ``env.step``: each call runs ``epochs`` passes of Adam over the
interceptions it is given (``semgame bench`` calls it after every vector-env step, so its curve is
leakage against the eavesdropper's labelled-data budget).

Hyper-parameters (defaults, not tuned to any test): MLP ``obs_dim -> 256 -> 256 -> classes``, ReLU,
Adam lr 2e-3, batch 256, 3 epochs per update.

    python agents/neural_eavesdropper.py --dataset mnist --samples 50000 --tb runs/agents/neural-eve

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


class NeuralSupervisedEavesdropper(SupervisedEavesdropper):
    """MLP ``obs_dim -> hidden -> hidden -> num_classes``; ``update`` runs a few epochs of Adam."""

    def __init__(
        self,
        obs_dim: int = 32,
        num_classes: int = 10,
        hidden: int = 256,
        lr: float = 2e-3,
        epochs: int = 3,
        batch_size: int = 256,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        for name, size in (("obs_dim", obs_dim), ("num_classes", num_classes), ("hidden", hidden)):
            check_int(name, size)

        def build() -> nn.Module:
            return nn.Sequential(
                nn.Linear(obs_dim, hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Linear(hidden, num_classes),
            )

        super().__init__(build, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, device=device)


def collect(venv, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled interceptions from a native vector env in the eavesdropper role."""
    xs, ys = [], []
    obs, _ = venv.reset()
    while sum(map(len, ys)) < n:
        guess = np.zeros(venv.num_envs, dtype=np.int64)  # the guess does not change what is intercepted
        nxt, _, _, _, info = venv.step(guess)
        if "label" in info:  # (absent on a step where every sub-env restarts)
            xs.append(obs[info["_label"]])
            ys.append(info["label"][info["_label"]])
        obs = nxt
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def main() -> None:
    import gymnasium as gym
    from torch.utils.tensorboard import SummaryWriter

    import semgame  # noqa: F401
    from semgame import tags

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "fashion_mnist"])
    p.add_argument("--samples", type=int, default=50_000, help="labelled interceptions per update")
    p.add_argument("--updates", type=int, default=3)
    p.add_argument("--tb", default="runs/agents/neural-eve", help="TensorBoard folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    env_id = {"mnist": "SemCom-MNIST-v0", "cifar10": "SemCom-CIFAR-v0", "fashion_mnist": "SemCom-FashionMNIST-v0"}[
        args.dataset
    ]
    train_env = gym.make_vec(
        env_id, num_envs=1024, vectorization_mode="vector_entry_point", split="train", compute_psnr=False
    )
    test_env = gym.make_vec(
        env_id, num_envs=1024, vectorization_mode="vector_entry_point", split="test", compute_psnr=False
    )
    train_env.reset(seed=args.seed)
    test_env.reset(seed=args.seed + 1)
    eve = NeuralSupervisedEavesdropper(obs_dim=train_env.single_observation_space.shape[0], seed=args.seed)
    writer = SummaryWriter(args.tb)
    x_test, y_test = collect(test_env, 10_000)
    for step in range(1, args.updates + 1):
        start = time.perf_counter()
        stats = eve.update(*collect(train_env, args.samples))
        sps = args.samples / (time.perf_counter() - start)
        test_acc = float((eve.act(x_test).numpy() == y_test).mean())
        seen = step * args.samples
        writer.add_scalar(tags.EVE_LOSS, stats["loss"], seen)
        writer.add_scalar(tags.EVE_ACC, test_acc, seen)
        writer.add_scalar(tags.TRANSMISSIONS_PER_S, sps, seen)
        print(
            f"update {step}: loss {stats['loss']:.3f} train acc {stats['train_acc']:.3f} test acc {test_acc:.3f} "
            f"({sps:,.0f} transmissions/s)"
        )
    writer.close()


if __name__ == "__main__":
    main()
