"""A short stable-baselines3 PPO run on the eavesdropper role beats chance on real MNIST.

Needs the real data (``SEMGAME_DATA``); skipped otherwise. About 10-40 s on a loaded 2-core CPU.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

from semgame.data import DataNotFoundError, load_dataset

torch.set_num_threads(1)
AGENTS = Path(__file__).resolve().parent.parent / "agents"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, AGENTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mnist():
    if not os.environ.get("SEMGAME_DATA"):
        pytest.skip("SEMGAME_DATA is not set: the PPO test needs real MNIST")
    try:
        load_dataset("mnist", "test", download=False)
    except DataNotFoundError as err:
        pytest.skip(f"real MNIST not found: {err}")


@pytest.mark.slow
def test_ppo_eavesdropper_beats_chance_on_mnist(mnist):
    ppo = _load("sb3_eavesdropper")
    rand = _load("random_eavesdropper")
    # train and evaluate on the test split: encoding it is 6x cheaper than the train split, and
    # this checks learning from the 1/0 reward, not generalisation (each step has fresh channel noise)
    model = ppo.train("mnist", steps=8192, num_envs=64, seed=0, split="test")
    acc = ppo.evaluate(ppo.SB3Eavesdropper(model), "mnist", n=2000, seed=1)
    chance = ppo.evaluate(rand.RandomEavesdropper(seed=0), "mnist", n=2000, seed=1)
    assert abs(chance - 0.1) < 0.03
    assert acc > 0.1 + 0.3, f"PPO eavesdropper accuracy {acc:.3f} is not clearly above chance (0.1)"
