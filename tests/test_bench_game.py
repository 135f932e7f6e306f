"""Alternating play in ``semgame bench``: both sides logged every round, a fresh-eavesdropper verdict at
the end (tiny synthetic data)."""

from __future__ import annotations

import json
import math

import pytest
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
name = "ppo-tx-vs-supervised"
transmitter = "{AGENTS}/sb3_transmitter.py:PPOTransmitter"
transmitter_args = {{ n_steps = 2, batch_size = 64 }}
eavesdropper = "{AGENTS}/neural_eavesdropper.py:NeuralSupervisedEavesdropper"
rounds = 2
eve_transmissions = 256
tx_transmissions = 256

[[games]]
name = "pgd-vs-ppo"
transmitter = {{ kind = "adversarial", psr_db = 0.0, steps = 2 }}
eavesdropper = "{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"
eavesdropper_args = {{ n_steps = 2, batch_size = 64 }}
rounds = 2
eve_transmissions = 256

[[games]]
name = "pgd-vs-linear"
transmitter = {{ kind = "adversarial", psr_db = 0.0, steps = 2 }}
eavesdropper = "{AGENTS}/linear_eavesdropper.py:LinearEavesdropper"
rounds = 2
eve_transmissions = 256
'''


LEARNED = f'''
[[defences]]
name = "ppo-tx"
kind = "policy"
agent = "{AGENTS}/sb3_transmitter.py:PPOTransmitter"
args = {{ n_steps = 2, batch_size = 64 }}
psr_db = 0.0
train_transmissions = 256
'''


def test_alternating_play_logs_both_sides_and_ends_with_a_fresh_verdict(synthetic_root, tmp_path):
    text = smoke_toml(synthetic_root, GAME)
    text = text.replace('[[defences]]\nname = "keyed10"\nkind = "keyed"\npsr_db = 10.0\n', "")
    text = text.split('[[agents]]\nname = "ppo"')[0] + GAME + LEARNED  # two defences, one agent, four games
    (tmp_path / "g.toml").write_text(text)
    out = tmp_path / "out"
    assert main(["bench", "--config", str(tmp_path / "g.toml"), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    games = {g["game"]: g for g in summary["game_rows"]}
    # the three pairings (RL vs RL, RL transmitter vs supervised, PGD vs RL) and PGD vs a linear eavesdropper
    assert set(games) == {"rl-vs-rl", "ppo-tx-vs-supervised", "pgd-vs-ppo", "pgd-vs-linear"}
    for name, g in games.items():
        assert [r["round"] for r in g["rounds"]] == [1, 2]
        record = json.loads((out / "cells" / f"game/mnist/{name}/game/eve10dB/seed0.json").read_text())
        verdict = record["result"]["verdict"]
        assert len(verdict["fresh_eve_accs"]) == 1 and g["fresh_eve_mean"] == verdict["fresh_eve_accs"][0]  # K = 1
        # both sides measured after each side's phase of both rounds, logged at the transmissions played so far
        acc = EventAccumulator(str(out / f"mnist/{name}/game/eve10dB/seed0"))
        acc.Reload()
        eve = acc.Scalars(tags.EVE_ACC)
        expected = [x for r in g["rounds"] for x in (r["eve_acc_after_eve"], r["eve_acc_after_tx"])]
        assert [e.value for e in eve] == pytest.approx(expected, abs=1e-6)
        assert [e.step for e in eve] == sorted(e.step for e in eve)
        assert len(acc.Scalars(tags.EVE_REWARD)) == 2 and len(acc.Scalars(tags.LEGIT_ACC)) == 4
    rl = games["rl-vs-rl"]["rounds"]
    assert [r["transmissions"] for r in rl] == [512, 1024]  # both sides' budgets, every round
    acc = EventAccumulator(str(out / "mnist/rl-vs-rl/game/eve10dB/seed0"))
    acc.Reload()
    assert [e.step for e in acc.Scalars(tags.TX_REWARD)] == [512, 1024]
    assert [e.value for e in acc.Scalars(tags.TX_REWARD)] == pytest.approx([r["tx_reward"] for r in rl], abs=1e-6)
    # a gradient transmitter re-crafted against the round's eavesdropper does fool it right after
    pgd = games["pgd-vs-linear"]["rounds"]
    assert pgd[0]["eve_acc_after_tx"] < pgd[0]["eve_acc_after_eve"]
    assert "Verdict: in-loop eavesdropper" in (out / "summary.md").read_text()
    # a learned transmitter: trained in its defence cell, its weights handed to the eavesdropper cell that attacks it
    assert (out / "mnist/ppo-tx/transmitter/eve10dB/seed0/policy.pt").is_file()
    acc = EventAccumulator(str(out / "mnist/ppo-tx/transmitter/eve10dB/seed0"))
    acc.Reload()
    assert {tags.TX_REWARD, tags.LEGIT_ACC, tags.EVE_ACC} <= set(acc.Tags()["scalars"])
    record = json.loads((out / "cells/eve/mnist/ppo-tx/supervised/eve10dB/seed0.json").read_text())
    assert record["result"]["defence"]["kind"] == "policy" and record["result"]["defence"]["psr_db"] == 0.0
    rows = {r["defence"]: r for r in summary["defence_rows"]}
    assert rows["ppo-tx"]["kind"] == "policy" and math.isnan(rows["undefended"]["in_loop_eve_acc"])
    # the in-loop eavesdropper of a learned transmitter is the opponent it learnt against: the link's own
    assert rows["ppo-tx"]["in_loop_eve_acc"] == rows["ppo-tx"]["transfer_eve_acc"]
