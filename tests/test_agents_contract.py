"""The reference agents' contract as a user who copies them meets it: one-line errors for bad arguments,
a clear error before training, ``state_dict`` round trips, learning on in another env (synthetic data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error

from semgame.data import synthetic_dataset
from semgame.protocols import Eavesdropper, Transmitter, load_agent

torch.set_num_threads(1)
AGENTS = Path(__file__).resolve().parent.parent / "agents"
OBS = np.random.default_rng(0).standard_normal((6, 32)).astype(np.float32)
IMAGES = synthetic_dataset("mnist", 64, seed=2)
SB3_EVES = ("PPOEavesdropper", "A2CEavesdropper", "DQNEavesdropper")
SMALL = {"PPOEavesdropper": {"n_steps": 2, "batch_size": 64}, "DQNEavesdropper": {"learning_starts": 32}}


def _cls(spec: str):
    """The class of ``"<file in agents/>:<Class>"``."""
    file, name = spec.split(":")
    return load_agent(f"{AGENTS / file}.py:{name}", Transmitter if "transmitter" in file else Eavesdropper)


def _venv(num_envs: int = 32, **kw):
    from semgame.envs import SemComSB3VecEnv

    return SemComSB3VecEnv(num_envs=num_envs, dataset="mnist", rounds=1, images=IMAGES, compute_psnr=False, **kw)


def _tx_venv(num_envs: int = 32):
    return _venv(num_envs, role="transmitter", psr_db=0.0)


@pytest.fixture(autouse=True)
def _no_sb3_folders(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # (SB3 must not leave SB3-<time> folders anywhere)


@pytest.mark.parametrize(
    "spec, kwargs, match",
    [
        ("sb3_eavesdropper:PPOEavesdropper", {"learning_rate": -1e-3}, "learning_rate must be > 0"),
        ("sb3_eavesdropper:A2CEavesdropper", {"n_step": 4}, "A2C takes no keyword argument"),
        ("sb3_eavesdropper:DQNEavesdropper", {"seed": -1}, "seed must be an integer"),
        ("sb3_eavesdropper:PPOEavesdropper", {"device": "gpu"}, "device must be"),
        ("sb3_eavesdropper:DQNEavesdropper", {"batch_size": 0}, "batch_size must be an integer >= 1"),
        ("sb3_transmitter:PPOTransmitter", {"n_steps": 0}, "n_steps must be an integer >= 1"),
        ("sb3_transmitter:PPOTransmitter", {"learning_rate": "fast"}, "learning_rate must be a finite number"),
        ("sb3_transmitter:PPOTransmitter", {"gamma": 2.0}, "gamma must be a number in"),
        ("linear_eavesdropper:LinearEavesdropper", {"obs_dim": 0}, "obs_dim must be an integer >= 1"),
        ("neural_eavesdropper:NeuralSupervisedEavesdropper", {"hidden": 0}, "hidden must be an integer >= 1"),
        ("neural_eavesdropper:NeuralSupervisedEavesdropper", {"num_classes": 2.5}, "num_classes must be an integer"),
        ("random_eavesdropper:RandomEavesdropper", {"num_classes": 0}, "num_classes must be an integer >= 1"),
        ("random_eavesdropper:RandomEavesdropper", {"seed": -1}, "seed must be an integer"),
        ("majority_eavesdropper:MajorityEavesdropper", {"num_classes": -1}, "num_classes must be an integer >= 1"),
        ("linear_eavesdropper:LinearEavesdropper", {"lr": 0.0}, "lr must be > 0"),
        ("neural_eavesdropper:NeuralSupervisedEavesdropper", {"epochs": 0}, "epochs must be an integer >= 1"),
        ("neural_eavesdropper:NeuralSupervisedEavesdropper", {"batch_size": 0}, "batch_size must be an integer >= 1"),
        ("linear_eavesdropper:LinearEavesdropper", {"seed": -1}, "seed must be an integer"),
        ("linear_eavesdropper:LinearEavesdropper", {"device": "gpu"}, "device must be"),
    ],
)
def test_bad_constructor_arguments_are_one_line_errors_at_construction(spec, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        _cls(spec)(**kwargs)
    assert "\n" not in str(err.value)


def test_majority_update_rejects_labels_outside_its_classes():
    maj = _cls("majority_eavesdropper:MajorityEavesdropper")(num_classes=4)
    with pytest.raises(ValueError, match=r"labels must be classes in \[0, 4\), got 0..7"):
        maj.update(OBS[:3], np.array([0, 7, 1]))
    assert maj.counts.tolist() == [0, 0, 0, 0]  # nothing counted


@pytest.mark.parametrize(
    "obs, labels, match",
    [
        (OBS[:0], np.zeros(0, np.int64), "n >= 1"),
        (OBS[:3], np.array([0, 1]), "labels"),
        (OBS[0], np.array([0]), "obs"),
        (OBS[:3], np.array([0, 10, 1]), r"labels must be classes in \[0, 10\), got 0..10"),
        (OBS[:3], np.array([0, -1, 1]), r"labels must be classes in \[0, 10\), got -1..1"),
    ],
)
def test_supervised_update_rejects_bad_interceptions_and_learns_nothing(obs, labels, match):
    eve = _cls("linear_eavesdropper:LinearEavesdropper")(obs_dim=32)
    before = [p.clone() for p in eve.net.parameters()]
    with pytest.raises(ValueError, match=match) as err:
        eve.update(obs, labels)
    assert "\n" not in str(err.value)
    assert all(torch.equal(a, b) for a, b in zip(before, eve.net.parameters(), strict=True))


@pytest.mark.parametrize("spec", [f"sb3_eavesdropper:{n}" for n in SB3_EVES] + ["sb3_transmitter:PPOTransmitter"])
def test_untrained_sb3_agents_say_so(spec):
    agent = _cls(spec)()
    for method in (lambda: agent.act(OBS), agent.state_dict):
        with pytest.raises(ValueError, match="has no policy yet: call learn"):
            method()


def test_semgame_play_with_an_untrained_sb3_agent_is_a_one_line_error(cli, synthetic_root):
    spec = f"{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"
    args = ["--episodes", 8, "--num-envs", 8, "--no-psnr", "--data-root", synthetic_root]
    code, _, err = cli(["play", "--agent", spec, *args])
    assert_one_line_error(code, err, "PPOEavesdropper has no policy yet")


@pytest.mark.parametrize("name", SB3_EVES)
def test_sb3_eavesdropper_state_dict_round_trip_restores_its_guesses(name, tmp_path):
    cls = _cls(f"sb3_eavesdropper:{name}")
    agent = cls(seed=0, **SMALL.get(name, {}))
    venv = _venv()
    agent.learn(venv, 64)
    torch.save(agent.state_dict(), tmp_path / "eve.pt")
    again = cls(seed=1, **SMALL.get(name, {})).load_state_dict(torch.load(tmp_path / "eve.pt", weights_only=True))
    np.testing.assert_array_equal(again.act(OBS), agent.act(OBS))
    np.testing.assert_array_equal(again.act(OBS[:1]), agent.act(OBS[:1]))
    assert again.act(OBS[:1]).shape == (1,) and again.act(OBS).dtype == np.int64
    torch.testing.assert_close(again.logits_model()(torch.from_numpy(OBS)), agent.logits_model()(torch.from_numpy(OBS)))
    again.learn(venv, 64)  # a loaded agent learns on (weights only: its step count starts afresh)
    assert again.model.num_timesteps == 64


def test_an_sb3_agent_subclass_without_a_learning_rate_takes_sb3s():
    """SB3Agent is the base users subclass: ``defaults`` without ``learning_rate`` (SB3 has its own) builds and
    learns (it was refused as 'learning_rate must be a finite number, got None')."""
    from semgame.envs.sb3 import SB3Agent

    class Eve(SB3Agent):
        algo, defaults = "a2c", {}

        def act(self, obs):
            return np.asarray(self.predict(obs), dtype=np.int64)

    eve = Eve(seed=0)
    eve.learn(_venv(8), 16)
    assert eve.model.learning_rate == 7e-4 and eve.act(OBS).shape == (6,)  # A2C's own default
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        Eve(learning_rate=0.0)


def test_sb3_agents_learn_on_in_a_venv_with_another_number_of_sub_envs():
    tx = _cls("sb3_transmitter:PPOTransmitter")(seed=0, n_steps=2, batch_size=32)
    tx.learn(_tx_venv(32), 64)
    loaded = _cls("sb3_transmitter:PPOTransmitter")(n_steps=2, batch_size=32).load_state_dict(tx.state_dict())
    loaded.learn(_tx_venv(32), 64)  # the loaded policy (a one-env stub model) learns on 32 sub-envs
    assert loaded.model.num_timesteps == 64
    eve = _cls("sb3_eavesdropper:A2CEavesdropper")(seed=0)
    eve.learn(_venv(32), 64)
    before = eve.act(OBS)
    eve.learn(_venv(16), 32)  # same weights, carried over to the model for 16 sub-envs
    assert eve.model.num_timesteps == 96 and eve.model.n_envs == 16
    assert before.shape == eve.act(OBS).shape == (6,)


def test_sb3_eavesdropper_round_trips_through_its_policy_file(tmp_path, monkeypatch):
    import semgame.envs.game

    sb3 = sys.modules[_cls("sb3_eavesdropper:DQNEavesdropper").__module__]
    eve = sb3.DQNEavesdropper(seed=0, learning_starts=32)
    eve.learn(_venv(), 64)
    path = sb3.save_policy(eve.model, "mnist", tmp_path / "policy.pt")

    def no_data(*args, **kwargs):
        raise AssertionError("rebuilding a saved policy must read no dataset")

    monkeypatch.setattr(semgame.envs.game, "load_dataset", no_data)
    monkeypatch.setenv("SEMGAME_SB3_POLICY", str(path))
    np.testing.assert_array_equal(sb3.SB3Eavesdropper().act(OBS), eve.act(OBS))


RECORDER = '''
import json
from pathlib import Path

import numpy as np


class Recorder:
    """Needs seed and device (no defaults) and writes down what it was given."""

    def __init__(self, seed, device):
        Path(__file__).with_suffix(".json").write_text(json.dumps({"seed": seed, "device": device}))

    def act(self, obs):
        return np.zeros(len(obs), np.int64)
'''


def test_semgame_play_gives_an_agent_the_seed_and_device_it_names(cli, synthetic_root, tmp_path):
    agent = tmp_path / "recorder.py"
    agent.write_text(RECORDER)
    args = ["--episodes", 4, "--num-envs", 4, "--no-psnr", "--data-root", synthetic_root, "--seed", 7]
    code, _, err = cli(["play", "--agent", f"{agent}:Recorder", *args])
    assert code == 0, err
    assert json.loads(agent.with_suffix(".json").read_text()) == {"seed": 7, "device": "cpu"}
