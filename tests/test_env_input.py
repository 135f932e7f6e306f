"""Bad input to the game envs is a one-line ValueError (or ``ResetNeeded``), never a crash inside torch.

Covers what a crash hunt found: the ``images=`` argument (dtypes, NumPy, labels, NaN / inf, shapes),
opponent eavesdroppers and policy defences whose ``act`` returns non-numbers or out-of-range guesses,
the PettingZoo env stepped without a reset, non-dict ``reset`` options, a non-string dataset name and
an unhashable defence kind. Synthetic images and the shipped MNIST weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded

import semgame
from semgame.config import ConfigError
from semgame.data import synthetic_dataset
from semgame.envs import SemComVectorEnv

torch.set_num_threads(1)

ENV = "SemCom-MNIST-v0"


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return synthetic_dataset("mnist", 16, seed=1).tensors


def raises_one_line(call: Callable[[], Any], needle: str, error: type[Exception] = ValueError) -> None:
    """``call()`` raises ``error`` with a one-line message holding ``needle``."""
    with pytest.raises(error, match=re.escape(needle)) as exc:
        call()
    assert "\n" not in str(exc.value), exc.value


def trajectory(images, role: str = "eavesdropper", steps: int = 3) -> list:
    """Observations, rewards and infos of ``steps`` seeded steps with zero / class-0 actions."""
    env = gym.make(ENV, images=images, role=role, rounds=steps)
    obs, _ = env.reset(seed=0)
    out = [obs]
    action = 0 if role == "eavesdropper" else np.zeros(env.action_space.shape, np.float32)
    for _ in range(steps):
        obs, reward, _, _, info = env.step(action)
        assert np.isfinite(obs).all() and np.isfinite(info["psnr"])
        out += [obs, reward, info]
    return out


def same(a: list, b: list) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b, strict=True))


# -- images= ------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["eavesdropper", "transmitter"])
def test_images_in_any_float_dtype_uint8_or_numpy_play_as_float32(data, role):
    x, y = data
    u8 = (x * 255).round().to(torch.uint8)
    assert same(trajectory((x.double(), y), role), trajectory((x, y), role))
    assert same(trajectory((x.numpy(), y.numpy().astype(np.uint8)), role), trajectory((x, y), role))
    assert same(trajectory((u8, y), role), trajectory((u8.float() / 255, y), role))
    venv = SemComVectorEnv(2, "mnist", role=role, images=(u8.numpy(), y.numpy()))
    obs, _ = venv.reset(seed=0)
    assert obs.dtype == np.float32 and np.isfinite(obs).all()


def _bad_images(x: torch.Tensor, y: torch.Tensor) -> dict[str, tuple]:
    nan, inf = x.clone(), x.clone()
    nan[3, 0, 5, 5], inf[0, 0, 0, 0] = float("nan"), float("inf")
    return {
        "bare tensor": (x, "a pair (images [N, C, H, W], labels [N])"),
        "3-tuple": ((x, y, y), "got a tuple of 3"),
        "list images": ((x.tolist(), y), "images must be a torch tensor or a NumPy array"),
        "object labels": ((x, np.array([None] * len(y))), "labels must be a torch tensor or a NumPy array"),
        "nan": ((nan, y), "no NaN or inf"),
        "inf": ((inf, y), "no NaN or inf"),
        "above 1": ((x * 2 + 0.5, y), "in [0, 1]"),
        "int64 images": ((x.long(), y), "float in [0, 1] or uint8"),
        "wrong shape": ((x[:, 0], y), "images must have shape [N, 1, 28, 28]"),
        "2-D labels": ((x, y[:, None]), "need as many labels as images"),
        "short labels": ((x, y[:-1]), "need as many labels as images"),
        "float labels": ((x, y.float()), "labels must be integer classes in [0, 10)"),
        "label 42": ((x, torch.full_like(y, 42)), "labels must be integer classes in [0, 10)"),
        "label -1": ((x, torch.full_like(y, -1)), "labels must be integer classes in [0, 10)"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "bare tensor",
        "3-tuple",
        "list images",
        "object labels",
        "nan",
        "inf",
        "above 1",
        "int64 images",
        "wrong shape",
        "2-D labels",
        "short labels",
        "float labels",
        "label 42",
        "label -1",
    ],
)
def test_bad_images_are_one_line_value_errors_at_construction(data, case):
    images, needle = _bad_images(*data)[case]
    makers = (
        lambda: gym.make(ENV, images=images),
        lambda: gym.make(ENV, images=images, role="transmitter", include_label=True),
        lambda: SemComVectorEnv(2, "mnist", images=images),
        lambda: semgame.envs.parallel_env("mnist", images=images),
    )
    for make in makers:
        raises_one_line(make, needle)


# -- agents' outputs ----------------------------------------------------------------------------
class _Returns:
    """An agent whose ``act`` returns ``fn(n)`` for a batch of ``n`` observations."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def act(self, obs):
        return self.fn(len(obs))


NOT_NUMBERS = {
    "None": lambda n: None,
    "strings": lambda n: ["three"] * n,
    "objects": lambda n: np.array([object()] * n),
    "ragged": lambda n: [[1], [2, 3]] * n,
}
OUT_OF_RANGE = {"10": 10, "-1": -1, "255": 255}


@pytest.mark.parametrize("case", [*NOT_NUMBERS, *OUT_OF_RANGE])
def test_opponent_eavesdropper_output_is_checked(data, case):
    if case in NOT_NUMBERS:
        eve = _Returns(NOT_NUMBERS[case])
    else:
        eve = _Returns(lambda n, g=OUT_OF_RANGE[case]: np.full(n, g, np.uint8 if g == 255 else np.int64))
    env = gym.make(ENV, images=data, role="transmitter", eavesdropper=eve)
    env.reset(seed=0)
    expected = "eavesdropper _Returns.act must return {} integer class guesses in [0, 10), got"
    raises_one_line(lambda: env.step(np.zeros(env.action_space.shape, np.float32)), expected.format(1))
    venv = SemComVectorEnv(3, "mnist", role="transmitter", images=data, eavesdropper=eve)
    venv.reset(seed=0)
    raises_one_line(lambda: venv.step(np.zeros(venv.action_space.shape, np.float32)), expected.format(3))


POLICY = """
import numpy as np

class Nothing:
    def act(self, obs):
        return None
"""


@pytest.mark.parametrize("case", list(NOT_NUMBERS))
def test_policy_defence_output_that_is_not_numbers(data, case):
    env = gym.make(ENV, images=data, defence=_Returns(NOT_NUMBERS[case]))
    raises_one_line(
        lambda: env.reset(seed=0), "transmitter _Returns.act must return float perturbations of shape (1, 32), got"
    )


def test_policy_defence_config_output_that_is_not_numbers(data, tmp_path):
    (tmp_path / "nothing.py").write_text(POLICY)
    defence = {"kind": "policy", "agent": f"{tmp_path / 'nothing.py'}:Nothing", "psr_db": -10.0}
    venv = SemComVectorEnv(2, "mnist", images=data, defence=defence)
    needle = "transmitter Nothing.act must return float perturbations of shape (2, 32), got None"
    raises_one_line(lambda: venv.reset(seed=0), needle)


# -- episodes and reset options -----------------------------------------------------------------
def test_parallel_env_step_without_reset_raises_reset_needed(data):
    env = semgame.envs.parallel_env("mnist", images=data, rounds=1)
    actions = {"transmitter": np.zeros(32, np.float32), "eavesdropper": 0}
    with pytest.raises(ResetNeeded):
        env.step(actions)
    env.reset(seed=0)
    for _ in range(2):  # rounds + 1 steps end the episode
        env.step(actions)
    with pytest.raises(ResetNeeded):
        env.step(actions)


@pytest.mark.parametrize("options", [5, [1], "reset_mask"])
def test_reset_options_must_be_none_or_a_dict(data, options):
    envs = (
        gym.make(ENV, images=data),
        SemComVectorEnv(2, "mnist", images=data),
        semgame.envs.parallel_env("mnist", images=data),
    )
    for env in envs:
        needle = f"reset options must be None or a dict, got {type(options).__name__}"
        raises_one_line(lambda env=env: env.reset(seed=0, options=options), needle)
        env.reset(seed=0, options={})  # (still usable)


# -- names and kinds ----------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", [3, None, ["mnist"]])
def test_dataset_name_must_be_a_string(data, dataset):
    for make in (
        lambda: gym.make(ENV, dataset=dataset),
        lambda: SemComVectorEnv(2, dataset, images=data),
        lambda: semgame.envs.parallel_env(dataset, images=data),
    ):
        raises_one_line(make, "dataset must be a dataset name (a str, e.g. 'mnist'), got")


@pytest.mark.parametrize("kind", [["keyed"], {"keyed": 1}, {"keyed"}])
def test_defence_kind_must_be_a_registered_name(data, kind):
    needle = f"unknown defence kind {kind!r}; expected one of none, keyed"
    raises_one_line(lambda: gym.make(ENV, images=data, defence={"kind": kind, "psr_db": 10}), needle, ConfigError)
