"""The native vector env speaks exactly Gymnasium's vector conventions: parity with ``make_vec(..., "sync")``.

For the same seed and actions, in both autoreset modes and both roles, the native env
(``vectorization_mode="vector_entry_point"``) and Gymnasium's own sync vector env over the single env
return the same ``info`` keys, dtypes, shapes and ``_key`` masks (``final_obs`` / ``final_info``
included), the same terminations and truncations, and obey the same definitions where values are
defined to be equal: reward 0 on an autoreset step, reward = the role's rule applied to the step's
info, the observation of a terminating step (next-step mode) and ``final_obs`` (same-step mode) are
the observation the agent acted on, and ``round`` counts transmissions. Observations and labels
themselves differ: the native env draws one seeded stream for the whole batch, the sync env one per
sub-env (documented in :class:`~semgame.envs.SemComVectorEnv`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from semgame.data import synthetic_dataset

torch.set_num_threads(1)
N, STEPS = 4, 7


@pytest.fixture(scope="module")
def images():
    return synthetic_dataset("mnist", 64, seed=3)


def structure(info: dict) -> dict:
    """Keys, dtypes, shapes and masks of a vector info (recursively), with object arrays by their None pattern."""
    out = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = structure(value)
        elif value.dtype == object:
            out[key] = (
                "object",
                tuple(v is None for v in value),
                {(v.dtype.str, v.shape) for v in value if v is not None},
            )
        elif key.startswith("_"):
            out[key] = ("mask", value.dtype.str, value.tolist())
        else:
            out[key] = (value.dtype.str, value.shape)
    return out


def played(info: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Value of ``key`` for the transmission each sub-env played this step, and which sub-envs played one."""
    value, mask = info.get(key, np.zeros(N)), info.get("_" + key, np.zeros(N, bool))
    if "final_info" in info:
        fin = info["final_info"]
        value, mask = np.where(fin["_" + key], fin[key], value), mask | fin["_" + key]
    return value, mask


def check_definitions(mode: str, role: str, action, prev_obs, obs, rew, term, info, before_round) -> None:
    label, did_play = played(info, "label")
    if role == "eavesdropper":
        expected = np.where(did_play, (label == action).astype(float), 0.0)
    else:
        legit, eve = played(info, "legit_correct")[0], played(info, "eve_correct")[0]
        expected = np.where(did_play, legit.astype(float) - eve.astype(float), 0.0)
    np.testing.assert_array_equal(rew, expected)
    # round: the transmission's index where it played (0 where a sub-env restarted instead)
    rounds, _ = played(info, "round")
    np.testing.assert_array_equal(rounds[did_play], before_round[did_play] + 1)
    if mode == "next_step":
        np.testing.assert_array_equal(obs[term], prev_obs[term])  # a terminating sub-env shows what it acted on
    else:
        assert term.any() == ("final_obs" in info)
        for i in np.flatnonzero(term):
            np.testing.assert_array_equal(info["final_obs"][i], prev_obs[i])


@pytest.mark.parametrize("role", ["eavesdropper", "transmitter"])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_native_vector_env_matches_sync_vector_env(images, role, mode, rounds):
    kw = dict(role=role, rounds=rounds, images=images)
    native = gym.make_vec(
        "SemCom-MNIST-v0", num_envs=N, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kw
    )
    autoreset = {"next_step": gym.vector.AutoresetMode.NEXT_STEP, "same_step": gym.vector.AutoresetMode.SAME_STEP}[mode]
    sync = gym.make_vec(
        "SemCom-MNIST-v0", num_envs=N, vectorization_mode="sync", vector_kwargs={"autoreset_mode": autoreset}, **kw
    )
    assert native.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"] == autoreset
    assert native.single_observation_space == sync.single_observation_space
    assert native.observation_space == sync.observation_space and native.action_space == sync.action_space
    native.action_space.seed(0)
    (obs_n, info_n), (obs_s, info_s) = native.reset(seed=0), sync.reset(seed=0)
    assert structure(info_n) == structure(info_s)
    assert obs_n.dtype == obs_s.dtype and obs_n.shape == obs_s.shape
    np.testing.assert_array_equal(info_n["round"], info_s["round"])
    saw_end = saw_autoreset = False
    for _ in range(STEPS):
        action = native.action_space.sample()
        (obs_n2, rew_n, term_n, trunc_n, step_n), (obs_s2, rew_s, term_s, trunc_s, step_s) = (
            native.step(action),
            sync.step(action),
        )
        check_definitions(mode, role, action, obs_n, obs_n2, rew_n, term_n, step_n, info_n["round"])
        check_definitions(mode, role, action, obs_s, obs_s2, rew_s, term_s, step_s, info_s["round"])
        assert structure(step_n) == structure(step_s)
        assert (rew_n.dtype, rew_n.shape, obs_n2.dtype, obs_n2.shape) == (
            rew_s.dtype,
            rew_s.shape,
            obs_s2.dtype,
            obs_s2.shape,
        )
        np.testing.assert_array_equal(term_n, term_s)
        np.testing.assert_array_equal(trunc_n, trunc_s)
        np.testing.assert_array_equal(step_n["round"], step_s["round"])
        saw_end |= bool(term_n.any())
        saw_autoreset |= mode == "next_step" and not step_n.get("_label", np.zeros(N, bool)).all()
        obs_n, obs_s, info_n, info_s = obs_n2, obs_s2, step_n, step_s
    assert saw_end and (saw_autoreset or mode == "same_step" or rounds > STEPS)
