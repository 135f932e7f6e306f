"""Agent protocols, the plug-in loader and the reference agents in agents/ (synthetic data only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from semgame.data import synthetic_dataset
from semgame.protocols import (
    AgentSpecError,
    ConstantEavesdropper,
    Eavesdropper,
    Transmitter,
    check_agent,
    load_agent,
    make_agent,
)

torch.set_num_threads(1)
AGENTS = Path(__file__).resolve().parent.parent / "agents"
OBS = np.random.default_rng(0).standard_normal((6, 32)).astype(np.float32)


def test_load_module_spec_and_protocol():
    cls = load_agent("semgame.protocols:ConstantEavesdropper")
    agent = cls(guess=4)
    assert isinstance(agent, Eavesdropper)
    assert agent.act(OBS).tolist() == [4] * 6


@pytest.mark.parametrize(
    "name, cls",
    [
        ("random_eavesdropper", "RandomEavesdropper"),
        ("majority_eavesdropper", "MajorityEavesdropper"),
        ("template_eavesdropper", "TemplateEavesdropper"),
        ("neural_eavesdropper", "NeuralSupervisedEavesdropper"),
        ("linear_eavesdropper", "LinearEavesdropper"),
    ],
)
def test_reference_agents_load_from_file_and_act(name, cls):
    agent = make_agent(f"{AGENTS / name}.py:{cls}")
    guesses = np.asarray(agent.act(OBS))
    assert guesses.shape == (6,) and guesses.dtype == np.int64
    # built the same way, an agent guesses the same (seeded), and each guesses by its own documented rule
    assert np.array_equal(np.asarray(make_agent(f"{AGENTS / name}.py:{cls}").act(OBS)), guesses)
    if cls == "MajorityEavesdropper":  # class 0 before any update
        assert guesses.tolist() == [0] * 6
    elif cls == "TemplateEavesdropper":  # the placeholder rule: strongest I/Q component, modulo the classes
        assert guesses.tolist() == (np.abs(OBS[:, : 2 * agent.k]).argmax(1) % agent.num_classes).tolist()
    elif cls != "RandomEavesdropper":  # the argmax of its own logits
        assert guesses.tolist() == agent.logits_model()(torch.from_numpy(OBS)).argmax(-1).tolist()
    else:  # another seed, other guesses
        other = make_agent(f"{AGENTS / name}.py:{cls}", seed=1).act(np.zeros((64, 32), np.float32))
        assert not np.array_equal(other, make_agent(f"{AGENTS / name}.py:{cls}").act(np.zeros((64, 32), np.float32)))


def test_sb3_agent_class_loads(monkeypatch):
    cls = load_agent(f"{AGENTS}/sb3_eavesdropper.py:SB3Eavesdropper")
    monkeypatch.delenv("SEMGAME_SB3_POLICY", raising=False)
    with pytest.raises(ValueError, match="needs model=, path= or"):
        cls()


@pytest.mark.parametrize(
    "spec, match",
    [
        ("no_colon", "must look like"),
        ("a:b:c", "must look like"),
        ("semgame.nonexistent_mod:X", "cannot import module"),
        ("semgame.protocols:Nope", "has no attribute 'Nope'"),
        ("semgame.protocols:__all__", "not a class or factory"),
        ("semgame.protocols:AgentSpecError", "does not satisfy the Eavesdropper protocol"),
        ("missing/dir/agent.py:Eve", "not found"),
    ],
)
def test_bad_specs_name_the_problem(spec, match):
    with pytest.raises(AgentSpecError, match=match):
        load_agent(spec)


def test_factory_result_is_checked(tmp_path):
    f = tmp_path / "my_agents.py"
    f.write_text(
        "def make():\n    return object()\n\nclass Defence:\n    def act(self, obs):\n        return obs[:, :32] * 0\n"
    )
    with pytest.raises(AgentSpecError, match="missing method"):
        make_agent(f"{f}:make")
    assert isinstance(make_agent(f"{f}:Defence", Transmitter), Transmitter)
    with pytest.raises(AgentSpecError):
        check_agent(42)


def test_majority_and_neural_agents_learn_between_episodes():
    from semgame.envs import SemComVectorEnv

    maj = make_agent(f"{AGENTS}/majority_eavesdropper.py:MajorityEavesdropper")
    maj.update(OBS, np.array([3, 3, 1, 3, 2, 0]))
    assert maj.act(OBS).tolist() == [3] * 6
    neural_cls = load_agent(f"{AGENTS}/neural_eavesdropper.py:NeuralSupervisedEavesdropper")
    mod = __import__(neural_cls.__module__)
    venv = SemComVectorEnv(256, "mnist", images=synthetic_dataset("mnist", 512, seed=2), compute_psnr=False)
    venv.reset(seed=0)
    x, y = mod.collect(venv, 4096)
    eve = neural_cls(obs_dim=x.shape[1], epochs=5)
    stats = eve.update(x, y)
    xt, yt = mod.collect(venv, 2048)
    acc = float((eve.act(xt).numpy() == yt).mean())
    assert stats["loss"] > 0 and acc > 0.5, acc
    linear = make_agent(f"{AGENTS}/linear_eavesdropper.py:LinearEavesdropper", obs_dim=x.shape[1], epochs=5)
    before = float((linear.act(xt).numpy() == yt).mean())
    linear.update(x, y)
    after = float((linear.act(xt).numpy() == yt).mean())
    assert after > max(before, 0.5), (before, after)


def test_rl_learners_continue_across_learn_calls_and_transmitter_weights_round_trip(tmp_path):
    from semgame.envs import SemComSB3VecEnv

    images = synthetic_dataset("mnist", 64, seed=2)
    eve_env = SemComSB3VecEnv(num_envs=32, dataset="mnist", rounds=1, images=images, compute_psnr=False)
    sb3 = load_agent(f"{AGENTS}/sb3_eavesdropper.py:A2CEavesdropper")
    mod = __import__(sb3.__module__)
    for cls in (mod.A2CEavesdropper, mod.DQNEavesdropper, mod.PPOEavesdropper):
        agent = cls(seed=0, **({"n_steps": 2, "batch_size": 64} if cls is mod.PPOEavesdropper else {}))
        agent.learn(eve_env, 64)
        model = agent.model
        agent.learn(eve_env, 64)  # the same model learns on
        assert agent.model is model and model.num_timesteps == 128, cls
        guesses = agent.act(OBS)
        assert guesses.shape == (6,) and guesses.dtype == np.int64
        assert tuple(agent.logits_model()(torch.from_numpy(OBS)).shape) == (6, 10)
    tx_cls = load_agent(f"{AGENTS}/sb3_transmitter.py:PPOTransmitter", Transmitter)
    tx = tx_cls(seed=0, n_steps=2, batch_size=64)
    tx_env = SemComSB3VecEnv(
        num_envs=32, dataset="mnist", role="transmitter", rounds=1, images=images, compute_psnr=False, psr_db=0.0
    )
    tx.learn(tx_env, 128)
    from semgame.io import load_checkpoint, save_checkpoint

    save_checkpoint(tx.state_dict(), tmp_path / "tx.pt")  # weights and shapes only
    again = tx_cls(seed=1).load_state_dict(load_checkpoint(tmp_path / "tx.pt"))  # torch.load(weights_only=True)
    a = tx.act(OBS)
    assert a.shape == (6, 32) and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(again.act(OBS), a)


def test_rl_agents_leave_no_sb3_folders_in_the_temp_dir(tmp_path, monkeypatch):
    # SB3 models without tensorboard_log make an empty SB3-<time> folder in the temp dir on every learn
    import tempfile

    from semgame.envs import SemComSB3VecEnv

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    images = synthetic_dataset("mnist", 64, seed=2)
    eve = load_agent(f"{AGENTS}/sb3_eavesdropper.py:A2CEavesdropper")(seed=0)
    eve_env = SemComSB3VecEnv(num_envs=32, dataset="mnist", rounds=1, images=images, compute_psnr=False)
    eve.learn(eve_env, 64)
    eve.learn(eve_env, 64)
    tx_cls = load_agent(f"{AGENTS}/sb3_transmitter.py:PPOTransmitter", Transmitter)
    tx_env = SemComSB3VecEnv(
        num_envs=32, dataset="mnist", role="transmitter", rounds=1, images=images, compute_psnr=False, psr_db=0.0
    )
    tx = tx_cls(seed=0, n_steps=2, batch_size=64)
    tx.learn(tx_env, 64)
    tx.learn(tx_env, 64)
    assert eve.model.num_timesteps == 128 and tx.model.num_timesteps == 128
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []


def test_custom_eavesdropper_as_opponent():
    import gymnasium as gym

    class Oracle:  # sees nothing useful: guesses 0
        def act(self, obs):
            return np.zeros(len(obs), dtype=np.int64)

    env = gym.make(
        "SemCom-MNIST-v0",
        role="transmitter",
        eavesdropper=Oracle(),
        rounds=2,
        images=synthetic_dataset("mnist", 32, seed=0),
    )
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
    assert info["eve_guess"] == 0
    env.unwrapped.set_eavesdropper(ConstantEavesdropper(5))
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
    assert info["eve_guess"] == 5


@pytest.mark.slow
def test_sb3_eavesdropper_saves_weights_only_and_loads_back(tmp_path, monkeypatch):
    import os

    if not os.environ.get("SEMGAME_DATA"):
        pytest.skip("the SB3 env needs real MNIST test images (SEMGAME_DATA)")
    module = load_agent(f"{AGENTS / 'sb3_eavesdropper.py'}:SB3Eavesdropper")
    sb3 = __import__(module.__module__)
    model = sb3.train("mnist", steps=1024, num_envs=64)
    path = sb3.save_policy(model, "mnist", tmp_path / "policy.pt")
    torch.load(path, weights_only=True)  # plain tensors and values: nothing to unpickle
    monkeypatch.setenv("SEMGAME_SB3_POLICY", str(path))
    agent = make_agent(f"{AGENTS / 'sb3_eavesdropper.py'}:SB3Eavesdropper")  # no arguments, as the CLI builds it
    np.testing.assert_array_equal(agent.act(OBS), module(model).act(OBS))
