"""The one defence interface (issue #7, section 1) inside the game envs and offline.

Every defence kind of :mod:`semgame.privacy.defences` plugs into the single, native vector and
PettingZoo envs through ``defence=``; keyed removal happens at the legitimate receiver inside the env;
nonces are never reused; bad configs give one-line errors. Synthetic images, shipped MNIST weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import semgame
from semgame.config import ConfigError
from semgame.data import synthetic_dataset
from semgame.envs import SemComEnv, SemComVectorEnv
from semgame.privacy.defences import (
    DEFENCES,
    DefenceContext,
    KeyedDefence,
    NoDefence,
    PolicyDefence,
    build_defence,
    check_defence_config,
)
from semgame.privacy.keyed import KeyedPerturbation
from semgame.privacy.perturbation import measured_psr_db

torch.set_num_threads(1)

POLICY = '''
import numpy as np

class Corner:
    """Every action at +1: the whole PSR budget."""
    def act(self, obs):
        return np.ones((len(obs), 32), np.float32)
'''


@pytest.fixture(scope="module")
def images():
    return synthetic_dataset("mnist", 64, seed=1)


@pytest.fixture(scope="module")
def policy_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("agents") / "corner.py"
    path.write_text(POLICY)
    return f"{path}:Corner"


def configs(policy_spec):
    return {
        "none": {"kind": "none"},
        "keyed": {"kind": "keyed", "psr_db": 10.0},
        "fgm": {"kind": "adversarial", "psr_db": -10.0, "method": "fgm", "objective": "eve"},
        "pgd-universal": {"kind": "adversarial", "psr_db": -10.0, "scope": "universal", "steps": 2},
        "policy": {"kind": "policy", "agent": policy_spec, "psr_db": -6.0},
    }


KINDS = ("none", "keyed", "fgm", "pgd-universal", "policy")


def vector_rollout(images, defence, seed=0, steps=3, n=32, role="eavesdropper"):
    venv = SemComVectorEnv(n, "mnist", role=role, rounds=2, images=images, defence=defence)
    obs, _ = venv.reset(seed=seed)
    out = {"obs": [obs], "legit_guess": [], "psnr": [], "played": []}
    for t in range(steps):
        a = np.full(n, t % 10) if role == "eavesdropper" else np.zeros((n, 32), np.float32)
        obs, _, _, _, info = venv.step(a)
        out["obs"].append(obs)
        # (Gymnasium's vector info: a key no sub-env has this step, e.g. on an autoreset step, is absent)
        out["legit_guess"].append(info.get("legit_guess", np.zeros(n, np.int64)))
        out["psnr"].append(info.get("psnr", np.zeros(n)))
        out["played"].append(info.get("_label", np.zeros(n, bool)))
    return venv, {k: np.stack(v) for k, v in out.items()}


# -- keyed removal at the legitimate receiver, inside the env ----------------------------------------
def test_keyed_removal_in_vector_env_leaves_legit_as_undefended(images):
    _, base = vector_rollout(images, None)
    venv, keyed = vector_rollout(images, {"kind": "keyed", "psr_db": 10.0})
    assert np.array_equal(base["played"], keyed["played"])
    assert np.array_equal(base["legit_guess"], keyed["legit_guess"])  # the receiver decodes as if undefended
    np.testing.assert_allclose(keyed["psnr"], base["psnr"], atol=1e-3)
    assert not np.allclose(base["obs"], keyed["obs"], atol=0.5)  # the eavesdropper sees the mask
    # a receiver that skips the hook (no key) decodes something else
    venv.game.defence.receive = lambda link, y, state, nonces: y
    venv.reset(seed=0)
    _, _, _, _, info = venv.step(np.zeros(32, np.int64))
    assert (info["legit_guess"] == base["legit_guess"][0]).mean() < 0.8


def test_keyed_removal_in_single_and_pettingzoo_env(images):
    def single(defence):
        env = SemComEnv(rounds=6, images=images, defence=defence)
        env.reset(seed=3)
        return [env.step(0)[4] for _ in range(6)]

    base, keyed = single(None), single({"kind": "keyed", "psr_db": 10.0})
    assert [i["legit_guess"] for i in base] == [i["legit_guess"] for i in keyed]
    np.testing.assert_allclose([i["psnr"] for i in keyed], [i["psnr"] for i in base], atol=1e-3)

    def game(defence):
        env = semgame.parallel_env("mnist", rounds=5, images=images, defence=defence)
        env.reset(seed=1)
        infos, eve_obs = [], []
        while env.agents:
            obs, _, _, _, info = env.step({"transmitter": np.zeros(32, np.float32), "eavesdropper": 0})
            infos.append(info["eavesdropper"])
            eve_obs.append(obs.get("eavesdropper", np.zeros(32)))
        return infos, np.stack(eve_obs)

    (bi, bo), (ki, ko) = game(None), game({"kind": "keyed", "psr_db": 10.0})
    assert [i.get("legit_guess") for i in bi] == [i.get("legit_guess") for i in ki]
    assert not np.allclose(bo, ko, atol=0.5)


def test_keyed_after_the_transmitter_agents_perturbation(images):
    a = np.random.default_rng(0).uniform(-1, 1, (16, 32)).astype(np.float32)
    outs = []
    for defence in (None, {"kind": "keyed", "psr_db": 10.0}):
        venv = SemComVectorEnv(16, "mnist", role="transmitter", rounds=1, images=images, defence=defence, psr_db=-3.0)
        venv.reset(seed=4)
        outs.append(venv.step(a)[4])
    assert np.array_equal(outs[0]["legit_guess"], outs[1]["legit_guess"])
    np.testing.assert_allclose(outs[0]["psnr"], outs[1]["psnr"], atol=1e-3)


# -- every kind in every env ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_each_defence_kind_in_single_vector_and_pettingzoo(kind, images, policy_spec):
    cfg = configs(policy_spec)[kind]
    _, base = vector_rollout(images, None)
    venv, out = vector_rollout(images, cfg)
    assert np.array_equal(out["played"], base["played"])
    changed = not np.allclose(out["obs"], base["obs"])
    assert changed == (kind != "none")
    # what goes on the air respects the defence's budget
    game = venv.game
    idx = torch.arange(16)
    x_tx, _ = game.transmit(idx)
    psr = measured_psr_db(x_tx - game.x[idx], game.x[idx])
    budget = {"none": None, "keyed": 10.0, "fgm": -10.0, "pgd-universal": -10.0, "policy": -6.0}[kind]
    if budget is None:
        assert torch.equal(x_tx, game.x[idx])
    elif kind in ("keyed", "fgm", "policy"):  # the whole budget
        assert torch.allclose(psr, torch.full_like(psr, budget), atol=1e-3)
    else:
        assert (psr <= budget + 1e-3).all() and (psr > budget - 10).all()
    assert game.defence.kind == {"fgm": "adversarial", "pgd-universal": "adversarial"}.get(kind, kind)
    # the single env and the PettingZoo game put it on the air too: the eavesdropper's observations change
    single, parallel = {}, {}
    for name, d in (("base", None), ("defended", cfg)):
        env = SemComEnv(rounds=2, images=images, defence=d)
        obs, _ = env.reset(seed=0)
        nxt, reward, _, _, info = env.step(1)
        assert reward == float(info["label"] == 1)
        single[name] = np.concatenate([obs, nxt])
        pz = semgame.parallel_env("mnist", rounds=2, images=images, defence=d)
        pz.reset(seed=0)
        seen = []
        while pz.agents:
            obs, rew, _, _, info = pz.step({"transmitter": np.zeros(32, np.float32), "eavesdropper": 2})
            seen.append(obs["eavesdropper"])
        assert rew["eavesdropper"] == float(info["eavesdropper"]["label"] == 2)
        parallel[name] = np.concatenate(seen)
    assert (not np.allclose(single["defended"], single["base"])) == (kind != "none")
    assert (not np.allclose(parallel["defended"], parallel["base"])) == (kind != "none")


def test_policy_object_as_defence_and_set_defence(images):
    class Half:
        def act(self, obs):
            return np.full((len(obs), 32), 0.5, np.float32)

    env = SemComEnv(rounds=1, images=images, defence=Half(), psr_db=-3.0)
    assert isinstance(env.game.defence, PolicyDefence) and env.game.defence.psr_db == -3.0
    env.reset(seed=0)
    idx = torch.arange(16)

    def on_air_psr():
        x_tx, _ = env.game.transmit(idx)
        return x_tx, measured_psr_db(x_tx - env.game.x[idx], env.game.x[idx])

    # every action at 0.5: a quarter of the -3 dB budget's power, -3 + 20 log10(0.5) dB
    _, psr = on_air_psr()
    assert torch.allclose(psr, torch.full_like(psr, -3.0 + 20 * np.log10(0.5)), atol=1e-3)
    env.set_defence({"kind": "keyed", "psr_db": 5.0})
    assert isinstance(env.game.defence, KeyedDefence)
    _, psr = on_air_psr()
    assert torch.allclose(psr, torch.full_like(psr, 5.0), atol=1e-3)
    env.set_defence(None)
    assert isinstance(env.game.defence, NoDefence)
    x_tx, _ = on_air_psr()
    assert torch.equal(x_tx, env.game.x[idx])


# -- nonces ----------------------------------------------------------------------------------------
def test_nonces_are_fresh_per_transmission_and_never_reused(images):
    venv = SemComVectorEnv(8, "mnist", rounds=2, images=images, defence={"kind": "keyed", "psr_db": 10.0})
    defence, seen = venv.game.defence, []
    transmit = defence.transmit
    defence.transmit = lambda x, labels, nonces: (seen.append(nonces.clone()), transmit(x, labels, nonces))[1]
    venv.reset(seed=0)
    for _ in range(4):
        venv.step(np.zeros(8, np.int64))
    obs_a, _ = venv.reset(seed=0)  # a seeded reset replays images and channels, not nonces
    allnonces = torch.cat(seen)
    # one nonce per transmission, counted on, never reused (also for transmissions drawn ahead)
    assert allnonces.tolist() == list(range(len(allnonces))) and len(allnonces) >= 6 * 8
    # two envs built from the same config and seed are identical (each defence counts from 0)
    other = SemComVectorEnv(8, "mnist", rounds=2, images=images, defence={"kind": "keyed", "psr_db": 10.0})
    obs_b, _ = other.reset(seed=0)
    obs_c, _ = SemComVectorEnv(8, "mnist", rounds=2, images=images, defence={"kind": "keyed", "psr_db": 10.0}).reset(
        seed=0
    )
    assert np.array_equal(obs_b, obs_c) and not np.allclose(obs_a, obs_b)
    # a defence object shared by two envs numbers their transmissions together
    shared = build_defence({"kind": "keyed", "psr_db": 10.0})
    for _ in range(2):
        SemComVectorEnv(8, "mnist", images=images, defence=shared).reset(seed=0)
    assert shared.nonce_counter == 16


def test_env_and_offline_defence_send_the_same_waveforms(images):
    venv = SemComVectorEnv(8, "mnist", images=images, defence={"kind": "keyed", "psr_db": 10.0, "key": "k"})
    venv.reset(seed=0)
    game = venv.game
    idx = torch.arange(5)
    x_env, nonces = game.transmit(idx)
    offline = KeyedPerturbation(10.0, key="k")(game.x[idx], nonces)
    assert torch.equal(x_env, offline) and nonces.tolist() == list(range(8, 13))


# -- bad configs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cfg, needle",
    [
        ({"kind": "shield"}, "unknown defence kind 'shield'"),
        ({"psr_db": 3}, "unknown defence kind None"),
        ({"kind": "keyed"}, "defence 'keyed' needs psr_db"),
        ({"kind": "keyed", "psr_db": 10, "psrdb": 3}, "unknown key(s) psrdb"),
        ({"kind": "keyed", "psr_db": 40}, "psr_db of a keyed perturbation must be in"),
        ({"kind": "keyed", "psr_db": 10, "key": ""}, "key must not be empty"),
        ({"kind": "keyed", "psr_db": 10, "power": "max"}, "power must be one of add, fixed"),
        ({"kind": "adversarial", "psr_db": 5}, "psr_db of a adversarial perturbation"),
        ({"kind": "adversarial", "psr_db": -10, "method": "cw"}, "method must be one of fgm, pgd"),
        ({"kind": "adversarial", "psr_db": -10, "steps": 0}, "steps must be an integer >= 1"),
        ({"kind": "policy", "agent": "semgame.protocols:Nope"}, "has no attribute 'Nope'"),
        ({"kind": "policy"}, "defence 'policy' needs agent"),
        ({"kind": "none", "name": ""}, "name must be a non-empty string"),
        ("keyed", "must be a table"),
    ],
)
def test_bad_defence_configs_are_one_line_errors(cfg, needle, images):
    with pytest.raises(ConfigError) as exc:
        check_defence_config(cfg) if isinstance(cfg, str) else SemComVectorEnv(4, "mnist", images=images, defence=cfg)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg, msg


@pytest.mark.parametrize("psr_db", [21.0, -41.0, 200.0])
def test_policy_defence_budget_is_the_env_transmitter_roles_range(psr_db, policy_spec, images):
    """A policy's actions are scaled onto psr_db as in the envs' transmitter role, so the same range holds."""
    with pytest.raises(ConfigError, match=r"psr_db of a policy perturbation must be in \[-40, 20\] dB"):
        check_defence_config({"kind": "policy", "agent": policy_spec, "psr_db": psr_db})
    with pytest.raises(ConfigError, match=r"must be in \[-40, 20\] dB"):
        SemComVectorEnv(4, "mnist", images=images, defence={"kind": "policy", "agent": policy_spec, "psr_db": psr_db})
    with pytest.raises(ConfigError, match=r"must be in \[-40, 20\] dB"):
        PolicyDefence(type("P", (), {"act": lambda self, obs: obs})(), psr_db)
    assert PolicyDefence(type("P", (), {"act": lambda self, obs: obs})(), 20.0).psr_db == 20.0


def test_build_defence_without_context_and_registry():
    assert set(DEFENCES) >= {"none", "keyed", "adversarial", "policy"}
    with pytest.raises(ConfigError, match="surrogate eavesdropper"):
        build_defence({"kind": "adversarial", "psr_db": -10})
    with pytest.raises(ConfigError, match="needs a PSR budget"):
        build_defence(type("P", (), {"act": lambda self, obs: obs})())
    with pytest.raises(ConfigError, match="must be None, a config"):
        build_defence(42, DefenceContext())
    assert build_defence({"kind": "keyed", "psr_db": 10, "name": "k10"}).name == "k10"
