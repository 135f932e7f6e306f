"""Alternating play in ``semgame bench``: both sides logged every round, a fresh-eavesdropper verdict at
the end (tiny synthetic data)."""

from __future__ import annotations

import json

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_bench import AGENTS, smoke_toml

from semgame import tags
from semgame.cli import main

torch.set_num_threads(1)


GAME = f'''
[[games]]
name = "rl-vs-rl"
transmitter = "{AGENTS}/sb3_transmitter.py:PPOTransmitter"
transmitter_args = {{ n_steps = 2, batch_size = 64 }}
eavesdropper = "{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"
eavesdropper_args = {{ n_steps = 2, batch_size = 64 }}
psr_db = 0.0
rounds = 2
eve_transmissions = 256
tx_transmissions = 256

[[games]]
name = "pgd-vs-linear"
transmitter = {{ kind = "adversarial", psr_db = 0.0, steps = 2 }}
eavesdropper = "{AGENTS}/linear_eavesdropper.py:LinearEavesdropper"
rounds = 2
eve_transmissions = 256
'''


def test_alternating_play_logs_both_sides_and_ends_with_a_fresh_verdict(synthetic_root, tmp_path):
    text = smoke_toml(synthetic_root, GAME)
    text = text.replace('[[defences]]\nname = "keyed10"\nkind = "keyed"\npsr_db = 10.0\n', "")
    text = text.split('[[agents]]\nname = "ppo"')[0] + GAME  # one defence, one agent, two games
    (tmp_path / "g.toml").write_text(text)
    out = tmp_path / "out"
    assert main(["bench", "--config", str(tmp_path / "g.toml"), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    games = {g["game"]: g for g in summary["game_rows"]}
    assert set(games) == {"rl-vs-rl", "pgd-vs-linear"}
    for name, g in games.items():
        assert [r["round"] for r in g["rounds"]] == [1, 2]
        for r in g["rounds"]:
            assert 0.0 <= r["eve_acc_after_eve"] <= 1.0 and 0.0 <= r["eve_acc_after_tx"] <= 1.0
        assert g["fresh_eve_std"] == 0.0 and 0.0 < g["fresh_eve_mean"] <= 1.0  # K = 1 fresh eavesdropper
        acc = EventAccumulator(str(out / f"mnist/{name}/game/eve10dB/seed0"))
        acc.Reload()
        eve_steps = [e.step for e in acc.Scalars(tags.EVE_ACC)]
        assert len(eve_steps) == 4 and eve_steps == sorted(eve_steps)  # after each side's phase, both rounds
        assert len(acc.Scalars(tags.EVE_REWARD)) == 2 and len(acc.Scalars(tags.LEGIT_ACC)) == 4
    rl = games["rl-vs-rl"]["rounds"]
    assert [r["transmissions"] for r in rl] == [512, 1024]  # both sides' budgets, every round
    assert all(-1.0 <= r["tx_reward"] <= 1.0 for r in rl)
    acc = EventAccumulator(str(out / "mnist/rl-vs-rl/game/eve10dB/seed0"))
    acc.Reload()
    assert [e.step for e in acc.Scalars(tags.TX_REWARD)] == [512, 1024]
    # a gradient transmitter re-crafted against the round's eavesdropper does fool it right after
    pgd = games["pgd-vs-linear"]["rounds"]
    assert pgd[0]["eve_acc_after_tx"] < pgd[0]["eve_acc_after_eve"]
    assert "Verdict: in-loop eavesdropper" in (out / "summary.md").read_text()
