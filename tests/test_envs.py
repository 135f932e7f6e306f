"""Game environments (issue 3): registration, checkers, determinism, bad input, vector + SB3 + PettingZoo.

Everything here runs on small synthetic image sets injected with ``images=`` and the shipped default
weights, so no real data is needed (the PPO-on-MNIST test lives in ``test_envs_ppo.py``).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gym_check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import semgame
from semgame.data import synthetic_dataset
from semgame.envs import ENV_IDS, SemComEnv, SemComSB3VecEnv, SemComVectorEnv

torch.set_num_threads(1)

ROLES = ("eavesdropper", "transmitter")


@pytest.fixture(scope="module")
def synth():
    """A small synthetic image set per dataset (real shapes, learnable classes)."""
    return {ds: synthetic_dataset(ds, 64, seed=1) for ds in ENV_IDS.values()}


def make(env_id="SemCom-MNIST-v0", synth=None, **kw):
    return gym.make(env_id, images=synth[ENV_IDS[env_id]], **kw)


def rollout(env, seed, steps, action_seed=0):
    """Observations, rewards and infos of ``steps`` steps with seeded random actions."""
    env.action_space.seed(action_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        out += [obs, rew, term, info]
        if term or trunc:
            obs, _ = env.reset()
            out.append(obs)
    return out


def same(a, b):
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


# -- registration -------------------------------------------------------------------------------
def test_ids_registered_with_vector_entry_point():
    for env_id in ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.vector_entry_point == "semgame.envs.vector:SemComVectorEnv"


def test_make_with_module_prefix_from_clean_interpreter():
    code = (
        "import gymnasium as gym, sys\n"
        "env = gym.make('semgame:SemCom-CIFAR-v0')\n"
        "assert env.observation_space.shape == (2 * env.unwrapped.game.k,), env.observation_space\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


def test_import_semgame_loads_no_weights_or_data():
    code = (
        "import semgame, sys; print(sorted(m for m in sys.modules if m.startswith('semgame.envs.') "
        "or m in ('semgame.run', 'stable_baselines3', 'pettingzoo')))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout


def test_shipped_weights_small_and_safe():
    from semgame.envs.game import default_weights_path

    for ds in ENV_IDS.values():
        path = default_weights_path(ds)
        assert path.is_file() and path.stat().st_size < 2_000_000, path
        state = torch.load(path, weights_only=True)
        assert state["format"] == "semgame-model-v1" and state["config"]["dataset"] == ds


# -- checkers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", list(ENV_IDS))
@pytest.mark.parametrize("role", ROLES)
def test_gymnasium_and_sb3_check_env(env_id, role, synth):
    kw = {"include_label": True} if role == "transmitter" else {"include_csi": True}
    env = make(env_id, synth, role=role, rounds=3, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded Box observations are intended
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=False)
    one = make(env_id, synth, role=role, rounds=1)
    one.reset(seed=0)
    _, reward, term, trunc, info = one.step(one.action_space.sample())
    assert type(reward) is float and term is True and trunc is False
    assert {"label", "legit_correct", "psnr", "round"} <= set(info)


def test_spaces_and_reward_ranges(synth):
    env = make("SemCom-MNIST-v0", synth, rounds=5, include_csi=True)
    k = env.unwrapped.game.k
    assert env.action_space == gym.spaces.Discrete(10)
    assert env.observation_space.shape == (2 * k + 3,) and env.observation_space.dtype == np.float32
    obs, _ = env.reset(seed=0)
    rewards = []
    for t in range(5):
        obs, r, term, _, info = env.step(info_label := 0)
        rewards.append(r)
        assert r == float(info["label"] == info_label)
        assert term == (t == 4)
    tx = make("SemCom-MNIST-v0", synth, role="transmitter", rounds=2, include_label=True)
    assert tx.action_space == gym.spaces.Box(-1, 1, (2 * k,), np.float32)
    obs, _ = tx.reset(seed=0)
    assert obs.shape == (2 * k + 10,) and obs[2 * k :].sum() == 1.0
    _, r, *_, info = tx.step(np.zeros(2 * k, np.float32))
    assert r == float(info["legit_correct"]) - float(info["eve_correct"]) and r in (-1.0, 0.0, 1.0)


# -- determinism --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_same_seed_same_trajectory(role, synth):
    a = rollout(make("SemCom-MNIST-v0", synth, role=role, rounds=3), seed=7, steps=10)
    b = rollout(make("SemCom-MNIST-v0", synth, role=role, rounds=3), seed=7, steps=10)
    c = rollout(make("SemCom-MNIST-v0", synth, role=role, rounds=3), seed=8, steps=10)
    assert all(same(x, y) for x, y in zip(a, b))
    assert not all(same(x, y) for x, y in zip(a, c))


def test_perturbation_respects_psr_budget(synth):
    from semgame.envs.game import SemComGame

    game = SemComGame("mnist", "transmitter", psr_db=-6.0, images=synth["mnist"])
    game.prepare()
    idx = torch.arange(8)
    corner = torch.sign(torch.randn(8, 2 * game.k))
    for a, full in ((corner, True), (corner * torch.rand(8, 1), False)):
        delta = game.perturb(idx, a) - game.x[idx]
        ratio_db = 10 * torch.log10(delta.abs().square().mean(-1) / game.x[idx].abs().square().mean(-1))
        assert (ratio_db <= -6.0 + 1e-4).all()
        if full:
            assert torch.allclose(ratio_db, torch.full_like(ratio_db, -6.0), atol=1e-4)
    assert torch.equal(game.perturb(idx, torch.zeros(8, 2 * game.k)), game.x[idx])


# -- bad input ----------------------------------------------------------------------------------
def test_bad_actions_raise_clear_errors(synth):
    eve = make("SemCom-MNIST-v0", synth).unwrapped
    with pytest.raises(ResetNeeded):
        eve.step(0)
    with pytest.raises(ResetNeeded):
        make("SemCom-MNIST-v0", synth).step(0)  # through gymnasium's OrderEnforcing
    eve.reset(seed=0)
    for bad, match in (
        (10, "outside"),
        (-1, "outside"),
        (2.0, "integer"),
        (True, "integer"),
        (np.array([1, 2]), "shape"),
    ):
        with pytest.raises(ValueError, match=match):
            eve.step(bad)
    tx = make("SemCom-MNIST-v0", synth, role="transmitter").unwrapped
    tx.reset(seed=0)
    k2 = 2 * tx.game.k
    a = np.zeros(k2, np.float32)
    for bad, match in (
        (a + 1.5, "outside"),
        (np.full(k2, np.nan, np.float32), "NaN"),
        (np.zeros(k2 + 1, np.float32), "shape"),
        (np.zeros(k2, np.int64), "dtype"),
        (3, "dtype"),
    ):
        with pytest.raises(ValueError, match=match):
            tx.step(bad)


def test_bad_constructor_arguments(synth):
    with pytest.raises(ValueError, match="unknown role"):
        SemComEnv(role="referee", images=synth["mnist"])
    with pytest.raises(ValueError, match="unknown dataset"):
        SemComEnv(dataset="imagenet")
    with pytest.raises(ValueError, match="rounds"):
        SemComEnv(rounds=0)
    with pytest.raises(ValueError, match="include_label"):
        SemComEnv(include_label=True)
    with pytest.raises(ValueError, match="trained on 'mnist'"):
        SemComEnv(dataset="cifar10", link=semgame.envs.game.default_weights_path("mnist"))
    with pytest.raises(ValueError, match="render_mode"):
        SemComEnv(render_mode="human")
    with pytest.raises(ValueError, match="images must have shape"):
        SemComEnv(dataset="cifar10", images=synth["mnist"]).reset()


def test_missing_data_gives_data_module_error(tmp_path, monkeypatch):
    import functools

    from semgame.data import DataNotFoundError, load_dataset

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("semgame.envs.game.load_dataset", functools.partial(load_dataset, download=False))
    env = SemComEnv(data_root=str(tmp_path))
    with pytest.raises(DataNotFoundError, match="mnist"):
        env.reset()


# -- opponents ----------------------------------------------------------------------------------
def test_set_eavesdropper_between_episodes(synth):
    from semgame.protocols import AgentSpecError, ConstantEavesdropper

    env = make("SemCom-MNIST-v0", synth, role="transmitter", rounds=4)
    env.unwrapped.set_eavesdropper(ConstantEavesdropper(guess=3))
    env.reset(seed=0)
    for _ in range(4):
        _, r, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
        assert info["eve_guess"] == 3 and info["eve_correct"] == (info["label"] == 3)
        assert r == float(info["legit_correct"]) - float(info["eve_correct"])
    with pytest.raises(AgentSpecError, match="act"):
        env.unwrapped.set_eavesdropper(object())


class _ZeroDefence:
    def act(self, obs):
        return np.zeros((len(obs), 32), np.float32)


class _BadDefence:
    def act(self, obs):
        return np.full((len(obs), 32), 2.0, np.float32)


def test_plugged_transmitter_in_eavesdropper_role(synth):
    # a zero perturbation sends the clean waveform: same trajectory as the undefended env
    a = rollout(make("SemCom-MNIST-v0", synth, rounds=3, defence=_ZeroDefence()), seed=5, steps=6)
    b = rollout(make("SemCom-MNIST-v0", synth, rounds=3), seed=5, steps=6)
    assert all(same(x, y) for x, y in zip(a, b))
    env = make("SemCom-MNIST-v0", synth, rounds=3, psr_db=10.0)
    clean, _ = env.reset(seed=5)
    env.unwrapped.set_defence(_BadDefence())
    with pytest.raises(ValueError, match="outside"):
        env.reset(seed=5)
    venv = SemComVectorEnv(8, "mnist", images=synth["mnist"], defence=_ZeroDefence(), include_label=True)
    obs0, _ = venv.reset(seed=0)
    venv.set_defence(None)
    obs1, _ = venv.reset(seed=0)
    assert np.array_equal(obs0, obs1)


def test_link_object_and_checkpoint_path(synth):
    from semgame.envs.game import default_weights_path
    from semgame.loader import load_run

    path = default_weights_path("mnist")
    cfg, link, eve = load_run(path)
    a = rollout(SemComEnv(link=str(path), images=synth["mnist"], rounds=2), seed=3, steps=4)
    b = rollout(SemComEnv(link=(cfg, link, eve), images=synth["mnist"], rounds=2), seed=3, steps=4)
    assert all(same(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="opponent"):
        SemComEnv(role="transmitter", link=link)
    # training the link further after an env was built must not serve stale cached waveforms
    obs_before, _ = SemComEnv(link=link, images=synth["mnist"]).reset(seed=0)
    with torch.no_grad():
        link.encoder.head.bias.add_(1.0)
    obs_after, _ = SemComEnv(link=link, images=synth["mnist"]).reset(seed=0)
    assert not np.allclose(obs_before, obs_after)
    SemComEnv(role="transmitter", link=link, eavesdropper=eve, images=synth["mnist"]).reset(seed=0)


def test_render_rgb_array(synth):
    env = make("SemCom-CIFAR-v0", synth, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8
    # the frame is the image being transmitted: one of the set's images, whose label the step then scores
    images, labels = synth["cifar10"].tensors
    pixels = (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    match = [i for i in range(len(pixels)) if np.array_equal(pixels[i], frame)]
    assert len(match) == 1
    _, _, _, _, info = env.step(0)
    assert info["label"] == int(labels[match[0]])


# -- native vector env ------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_make_vec_vector_entry_point(role, synth):
    venv = gym.make_vec(
        "SemCom-CIFAR-v0",
        num_envs=8,
        vectorization_mode="vector_entry_point",
        role=role,
        rounds=2,
        images=synth["cifar10"],
    )
    assert isinstance(venv, SemComVectorEnv) and isinstance(venv, gym.vector.VectorEnv)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, _ = venv.reset(seed=0)
    assert obs.shape == venv.observation_space.shape and obs.dtype == np.float32
    venv.action_space.seed(0)
    terms = []
    for t in range(6):
        obs, rew, term, trunc, info = venv.step(venv.action_space.sample())
        assert obs in venv.observation_space and rew.shape == (8,) and not trunc.any()
        terms.append(bool(term.all()))
        if t % 3 == 2:  # the autoreset step: nothing played (no step info, only the reset's round 0), reward 0
            assert "label" not in info and (rew == 0).all() and info["_round"].all() and not info["round"].any()
        else:
            assert info["_label"].all()
    assert terms == [False, True, False, False, True, False]


def test_vector_env_deterministic_and_matches_reward_rule(synth):
    def run(seed):
        venv = SemComVectorEnv(16, "mnist", rounds=3, images=synth["mnist"])
        obs, _ = venv.reset(seed=seed)
        out = [obs]
        for _ in range(5):
            a = np.arange(16) % 10
            obs, rew, term, _, info = venv.step(a)
            played = info.get("_label", np.zeros(16, bool))
            if played.any():
                assert np.array_equal(rew[played], (info["label"][played] == a[played]).astype(float))
            assert (rew[~played] == 0).all()
            out += [obs, rew, term]
        return out

    a, b, c = run(0), run(0), run(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_vector_env_same_step_and_bad_actions(synth):
    venv = SemComVectorEnv(4, "mnist", role="transmitter", rounds=2, autoreset_mode="same_step", images=synth["mnist"])
    obs, _ = venv.reset(seed=0)
    k2 = 2 * venv.game.k
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, k2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        venv.step(np.full((4, k2), np.nan, np.float32))
    with pytest.raises(ValueError, match="outside"):
        venv.step(np.full((4, k2), 2.0, np.float32))
    venv.step(np.zeros((4, k2), np.float32))
    obs2, _, term, _, info = venv.step(np.zeros((4, k2), np.float32))
    assert term.all() and info["_final_obs"].all() and info["final_obs"][0].shape == (k2,)
    eve = SemComVectorEnv(4, "mnist", images=synth["mnist"])
    with pytest.raises(ResetNeeded):
        eve.step(np.zeros(4, np.int64))
    eve.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        eve.step(np.array([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="integer"):
        eve.step(np.zeros(4, np.float32))


def test_vector_env_tensors_mode(synth):
    venv = SemComVectorEnv(4, "mnist", tensors=True, images=synth["mnist"])
    ref = SemComVectorEnv(4, "mnist", images=synth["mnist"])  # the same env handing out NumPy arrays
    obs, _ = venv.reset(seed=0)
    ref_obs, _ = ref.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.dtype == torch.float32
    assert np.array_equal(obs.numpy(), ref_obs)
    action = np.array([0, 1, 2, 3])
    obs, rew, term, trunc, info = venv.step(torch.as_tensor(action))
    ref_obs, ref_rew, ref_term, _, ref_info = ref.step(action)
    assert isinstance(rew, torch.Tensor) and rew.shape == (4,) and term.dtype == torch.bool
    assert np.array_equal(obs.numpy(), ref_obs) and np.array_equal(term.numpy(), ref_term)
    assert np.array_equal(info["label"].numpy(), ref_info["label"])
    assert np.array_equal(rew.numpy(), (ref_info["label"] == action).astype(np.float64)) and np.array_equal(
        rew.numpy(), ref_rew
    )


def test_sync_vector_env_works_too(synth):
    venv = gym.make_vec("SemCom-MNIST-v0", num_envs=3, vectorization_mode="sync", images=synth["mnist"])
    obs, _ = venv.reset(seed=0)
    action = np.array([0, 1, 2])
    obs, rew, term, _, info = venv.step(action)
    assert obs.shape == (3, 2 * 16) and rew.shape == (3,)
    # the eavesdropper's reward rule, sub-env by sub-env: 1 for the right label, else 0
    assert info["_label"].all() and np.array_equal(rew, (info["label"] == action).astype(float))


# -- SB3 adapter --------------------------------------------------------------------------------
def test_sb3_vecenv_adapter(synth):
    from stable_baselines3 import PPO

    from semgame.envs.sb3 import quiet_logger

    venv = SemComSB3VecEnv(num_envs=8, dataset="mnist", rounds=2, images=synth["mnist"])
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (8, 32)
    _, rew, dones, infos = venv.step(np.zeros(8, np.int64))
    assert not dones.any() and rew.dtype == np.float32
    assert [i["round"] for i in infos] == [1] * 8 and rew.tolist() == [float(i["label"] == 0) for i in infos]
    _, rew2, dones, infos = venv.step(np.zeros(8, np.int64))
    assert dones.all() and infos[0]["terminal_observation"].shape == (32,)
    assert [i["round"] for i in infos] == [2] * 8  # the info of the episode's last step
    # episode statistics come from SB3's VecMonitor: return = sum of the episode's rewards
    assert [i["episode"]["l"] for i in infos] == [2] * 8
    assert [i["episode"]["r"] for i in infos] == pytest.approx((rew + rew2).tolist())
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.set_logger(quiet_logger())  # (no SB3-<time> folder in the temp dir)
    model.learn(128)
    assert model.num_timesteps == 128
    assert len(model.ep_info_buffer) == 128 // 2  # every 2-round episode of the 8 x 16 steps
    assert {e["l"] for e in model.ep_info_buffer} == {2} and {e["r"] for e in model.ep_info_buffer} <= {0.0, 1.0, 2.0}


def test_sb3_vecenv_set_options_apply_to_the_next_reset(synth):
    venv = SemComSB3VecEnv(num_envs=4, dataset="mnist", images=synth["mnist"])
    venv.seed(0)
    first = venv.reset()
    mask = np.array([True, False, True, False])
    venv.set_options({"reset_mask": mask})
    partial = venv.reset()
    assert np.array_equal(partial[~mask], first[~mask]) and not np.array_equal(partial[mask], first[mask])
    again = venv.reset()  # options are used once, as SB3 documents
    assert not np.array_equal(again[~mask], partial[~mask])
    venv.set_options([{"reset_mask": mask}, {}, {}, {}])
    with pytest.raises(ValueError, match="one options dict"):
        venv.reset()


# -- PettingZoo -----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_pettingzoo_api_and_seed(env_id, synth):
    ds = ENV_IDS[env_id]
    kw = dict(rounds=3, images=synth[ds])
    parallel_api_test(semgame.parallel_env(ds, include_csi=True, include_label=True, **kw), num_cycles=20)
    parallel_seed_test(lambda: semgame.parallel_env(ds, **kw), num_cycles=20)


def test_pettingzoo_pipeline_rewards(synth):
    env = semgame.parallel_env("mnist", rounds=2, images=synth["mnist"])
    obs, infos = env.reset(seed=0)
    assert env.agents == ["transmitter", "eavesdropper"] and not obs["eavesdropper"].any()
    zero = np.zeros(32, np.float32)
    _, rew, term, _, info = env.step({"transmitter": zero, "eavesdropper": 0})
    assert rew == {"transmitter": 0.0, "eavesdropper": 0.0} and info["eavesdropper"] == {}
    for step in (2, 3):
        obs, rew, term, _, info = env.step({"transmitter": zero, "eavesdropper": 3})
        i = info["eavesdropper"]
        assert i["transmission"] == step - 1 and rew["eavesdropper"] == float(i["label"] == 3)
        assert rew["transmitter"] == float(i["legit_correct"]) - rew["eavesdropper"]
    assert all(term.values()) and env.agents == []
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        env.step({"transmitter": zero, "eavesdropper": 12})


# -- semgame play ---------------------------------------------------------------------------------
def test_play_function_and_cli_errors(synth, capsys):
    from semgame.cli import main
    from semgame.envs.play import play
    from semgame.protocols import ConstantEavesdropper

    # with the same seed every constant guess sees the same transmissions: each one's label is
    # exactly one class, so the ten accuracies add up to 1 (and the legitimate outcome is the same);
    # rounds=1 ends every episode at every step, so the outcomes come from info["final_info"]
    outs = [
        play("SemCom-MNIST-v0", ConstantEavesdropper(c), episodes=64, num_envs=32, rounds=1, images=synth["mnist"])
        for c in range(10)
    ]
    assert {(o["episodes"], o["transmissions"]) for o in outs} == {(64, 64)}
    assert sum(o["reward"] for o in outs) == pytest.approx(1.0)
    assert all(o["eve_acc"] == o["reward"] for o in outs)
    assert len({(o["legit_acc"], o["psnr"]) for o in outs}) == 1 and outs[0]["psnr"] > 3.0
    two = play("SemCom-MNIST-v0", ConstantEavesdropper(0), episodes=64, num_envs=32, rounds=2, images=synth["mnist"])
    assert (two["episodes"], two["transmissions"], two["rounds"]) == (64, 128, 2) and two["psnr"] > 3.0

    # learn=True: a label learner updates from every intercepted transmission, between steps
    class Counting:
        def __init__(self) -> None:
            self.labels: list[int] = []

        def act(self, obs):
            return np.zeros(len(obs), np.int64)

        def update(self, obs, labels):
            assert len(obs) == len(labels) == 32
            self.labels += list(labels)

    for learn in (False, True):
        agent = Counting()
        out = play("SemCom-MNIST-v0", agent, episodes=64, num_envs=32, rounds=1, images=synth["mnist"], learn=learn)
        assert len(agent.labels) == (64 if learn else 0)
    assert out["reward"] == pytest.approx(np.mean(np.asarray(agent.labels) == 0))  # the labels it was scored on
    with pytest.raises(SystemExit) as exc:
        main(["play", "--agent", "semgame.protocols:Nope"])
    assert exc.value.code == 2 and "has no attribute 'Nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["play", "--agent", "semgame.protocols:ConstantEavesdropper", "--opponent", "x:Y"])
    assert exc.value.code == 2 and "--opponent" in capsys.readouterr().err


def test_vector_env_reset_mask(synth):
    venv = SemComVectorEnv(4, "mnist", rounds=1, images=synth["mnist"])
    obs, _ = venv.reset(seed=0)
    _, _, term, _, _ = venv.step(np.zeros(4, np.int64))
    assert term.all()
    obs2, _ = venv.reset(options={"reset_mask": np.array([True, False, True, False])})
    assert term.all()  # arrays handed out earlier are not modified by the partial reset
    _, _, _, _, info = venv.step(np.zeros(4, np.int64))
    assert info["_label"].tolist() == [True, False, True, False]  # sub-envs 1, 3 autoreset now


@pytest.mark.parametrize("lookahead", [None, 3, 1])
def test_vector_env_draws_ahead_in_doubling_passes_and_plays_what_it_showed(synth, lookahead):
    """Each step scores the transmission whose observation the agent acted on, drawn ahead in passes of
    1, 2, 4, ... steps of all sub-envs (at most ``lookahead``) by the game's own round: replayed here."""
    from gymnasium.utils import seeding

    from semgame.envs.game import seeded_torch_generator

    n, steps = 4, 12
    venv = SemComVectorEnv(n, "mnist", rounds=1, autoreset_mode="same_step", images=synth["mnist"], lookahead=lookahead)
    cap = venv.lookahead
    assert cap == (1024 // n if lookahead is None else lookahead)
    obs, _ = venv.reset(seed=5)
    game, gen = venv.game, seeded_torch_generator(seeding.np_random(5)[0], venv.device)
    rows, expected = 1, []  # (obs, label, legit_correct, psnr) of every transmission in drawing order
    while len(expected) < steps + 1:
        idx, eve_obs, legit = game.eavesdropper_round(rows * n, gen)
        for r in range(rows):
            part = slice(r * n, (r + 1) * n)
            expected.append((eve_obs[part], game.labels[idx][part], legit.correct[part], legit.psnr[part]))
        rows = min(2 * rows, cap)
    for t in range(steps):
        want_obs, label, correct, psnr = expected[t]
        assert np.array_equal(obs, want_obs.numpy())
        obs, rew, _, _, info = venv.step(np.arange(n) % 10)
        info = info["final_info"]  # (one round per episode: every step ends one)
        assert np.array_equal(info["label"], label.numpy()) and np.array_equal(info["legit_correct"], correct.numpy())
        assert np.allclose(info["psnr"], psnr.numpy()) and np.array_equal(rew, (info["label"] == np.arange(n) % 10))


@pytest.mark.parametrize("lookahead", [None, 1])
def test_vector_env_next_step_mode_draws_only_transmissions_it_plays(synth, lookahead):
    """Next-step autoreset with one-round episodes: the steps that end the episodes draw nothing (every
    sub-env keeps showing its last observation), the steps that restart them draw one transmission
    each, so the played transmissions are consecutive in the game's drawing order."""
    from gymnasium.utils import seeding

    from semgame.envs.game import seeded_torch_generator

    n, episodes = 4, 5
    venv = SemComVectorEnv(n, "mnist", rounds=1, images=synth["mnist"], lookahead=lookahead)
    obs, _ = venv.reset(seed=3)
    game, gen = venv.game, seeded_torch_generator(seeding.np_random(3)[0], venv.device)
    rows, drawn = 1, []
    while len(drawn) < episodes:
        _, eve_obs, legit = game.eavesdropper_round(rows * n, gen)
        drawn += [(eve_obs[r * n : (r + 1) * n], legit.label[r * n : (r + 1) * n]) for r in range(rows)]
        rows = min(2 * rows, venv.lookahead)
    guess = np.arange(n) % 10
    for want_obs, label in drawn[:episodes]:
        assert np.array_equal(obs, want_obs.numpy())
        last, rew, term, _, info = venv.step(guess)
        assert term.all() and np.array_equal(last, obs) and np.array_equal(info["label"], label.numpy())
        assert np.array_equal(rew, (label.numpy() == guess).astype(np.float64))
        obs, rew, term, _, info = venv.step(guess)  # the restart: reward 0, round 0, no step keys
        assert not term.any() and not rew.any() and info["round"].tolist() == [0] * n and "label" not in info


def test_vector_env_transmitter_steps_that_only_restart_play_nothing(synth):
    class Counting:
        def __init__(self):
            self.batches = 0

        def act(self, obs):
            self.batches += 1
            return np.zeros(len(obs), np.int64)

    eve = Counting()
    venv = SemComVectorEnv(4, "mnist", role="transmitter", rounds=1, eavesdropper=eve, images=synth["mnist"])
    venv.reset(seed=0)
    nonces = []
    for t in range(6):
        _, rew, term, _, info = venv.step(np.zeros((4, 2 * venv.game.k), np.float32))
        nonces.append(venv.game.defence.nonce_counter)
        assert term.all() == (t % 2 == 0) and ("eve_guess" in info) == (t % 2 == 0)
        if t % 2:
            assert not rew.any()
    assert eve.batches == 3 and nonces == [4, 4, 8, 8, 12, 12]


def test_vector_env_drops_what_it_drew_ahead_when_the_defence_changes(synth):
    # one-round episodes in next-step mode: a transmission at the reset and at every second step
    venv = SemComVectorEnv(4, "mnist", images=synth["mnist"], defence={"kind": "keyed", "psr_db": 10.0})
    old = venv.game.defence
    venv.reset(seed=0)
    for _ in range(8):
        venv.step(np.zeros(4, np.int64))
    sent = old.nonce_counter
    assert sent == (1 + 2 + 4) * 4  # 5 transmissions per sub-env used, drawn in passes of 1, 2 and 4
    venv.game.set_defence({"kind": "keyed", "psr_db": 10.0})  # (on the game: the env notices too)
    new = venv.game.defence
    venv.step(np.zeros(4, np.int64))  # scores what was drawn under the old defence; draws nothing
    assert old.nonce_counter == sent and new.nonce_counter == 0
    venv.step(np.zeros(4, np.int64))  # restarts every sub-env: one step's worth, then doubling again
    assert new.nonce_counter == 4
    venv.set_defence(None)
    venv.step(np.zeros(4, np.int64))
    venv.step(np.zeros(4, np.int64))
    assert new.nonce_counter == 4

    class Policy:  # a transmitter policy may be learning: never drawn ahead
        def __init__(self):
            self.batches = []

        def act(self, obs):
            self.batches.append(len(obs))
            return np.zeros_like(obs)

    policy = Policy()
    venv.set_defence(policy)
    venv.reset(seed=0)
    for _ in range(5):
        venv.step(np.zeros(4, np.int64))
    assert policy.batches == [4] * 3  # at the reset and at steps 2 and 4, where the episodes restart


@pytest.mark.parametrize("bad", [0, -2, True, 1.5, "4"])
def test_vector_env_bad_lookahead(synth, bad):
    with pytest.raises(ValueError, match="lookahead must be None or an integer >= 1"):
        SemComVectorEnv(4, "mnist", images=synth["mnist"], lookahead=bad)


def test_sb3_make_vec_env_with_module_prefixed_id(synth):
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("semgame:SemCom-MNIST-v0", n_envs=2, seed=0, env_kwargs={"images": synth["mnist"], "rounds": 2})
    obs = venv.reset()
    obs, rew, dones, infos = venv.step(np.array([1, 2]))
    assert obs.shape == (2, 32) and rew.shape == (2,)
    assert rew.tolist() == [float(infos[0]["label"] == 1), float(infos[1]["label"] == 2)] and not dones.any()
    # the eavesdropper's reward rule over a few more steps (episodes of 2 rounds, SB3's autoreset)
    for t in range(8):
        guess = np.array([infos[0]["label"], t % 10])
        _, rew, dones, infos = venv.step(guess)
        assert rew.tolist() == [float(i["label"] == g) for i, g in zip(infos, guess)]
        assert dones.tolist() == [t % 2 == 0] * 2
