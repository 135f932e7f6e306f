"""benchmarks/bench_vector_env.py times a whole number of cycles, in which every window holds the same work."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from helpers import import_benchmark

import semgame  # noqa: F401  (registers SemCom-*-v0)
from semgame.data import synthetic_dataset

IMAGES = synthetic_dataset("mnist", 64, seed=0).tensors


def _native(n: int, **kw):
    return gym.make_vec("SemCom-MNIST-v0", num_envs=n, vectorization_mode="vector_entry_point", images=IMAGES, **kw)


@pytest.mark.parametrize(
    "kw, cycle",
    [
        ({}, 256 * 2),  # lookahead 1024 // 4 transmissions, one-round episodes of two steps
        ({"autoreset_mode": "same_step"}, 256),
        ({"lookahead": 3, "rounds": 2}, 3 * 3),
        ({"lookahead": 3, "rounds": 2, "autoreset_mode": "same_step"}, 3 * 2),
    ],
)
def test_steps_per_cycle_of_the_native_env(kw, cycle):
    assert import_benchmark("bench_vector_env").steps_per_cycle(_native(4, **kw)) == cycle


def test_steps_per_cycle_of_the_sync_env():
    bench = import_benchmark("bench_vector_env")
    for rounds, cycle in ((1, 2), (3, 4)):
        venv = gym.make_vec("SemCom-MNIST-v0", num_envs=2, vectorization_mode="sync", images=IMAGES, rounds=rounds)
        assert bench.steps_per_cycle(venv) == cycle


@pytest.mark.parametrize(
    "kw, played_per_step",
    [
        ({"lookahead": 3, "rounds": 2}, 2 / 3),  # next step: two transmissions, then an autoreset step
        ({"lookahead": 2, "autoreset_mode": "same_step"}, 1),  # same step: a transmission every step
    ],
)
def test_every_window_of_one_cycle_draws_the_same_transmissions(kw, played_per_step):
    """After the warm-up, every window of ``steps_per_cycle`` steps draws as many transmissions (and so
    holds the same work), whatever step it starts at; a window one step shorter does not. That work is
    what the sub-envs play in the window: no transmission is drawn and then thrown away."""
    venv = _native(4, **kw)
    cycle = import_benchmark("bench_vector_env").steps_per_cycle(venv)
    game, drawn = venv.unwrapped.game, []
    round_ = game.eavesdropper_round

    def counting(n, gen):
        drawn[-1] += n
        return round_(n, gen)

    game.eavesdropper_round = counting
    drawn.append(0)  # (the reset's)
    venv.reset(seed=0)
    for _ in range(2 * cycle + 2 + 3 * cycle):
        drawn.append(0)
        venv.step(np.zeros(4, np.int64))
    per_step = np.array(drawn[1 + 2 * cycle + 2 :])
    windows = {int(per_step[i : i + cycle].sum()) for i in range(len(per_step) - cycle + 1)}
    shorter = {int(per_step[i : i + cycle - 1].sum()) for i in range(len(per_step) - cycle + 2)}
    assert windows == {round(4 * cycle * played_per_step)} and len(shorter) > 1, (windows, cycle)
