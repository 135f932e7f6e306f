"""``semgame bench`` config checks that used to pass up front and fail inside every cell: each is now a
one-line error before any cell starts (the ranges are those the cells enforce)."""

from __future__ import annotations

import pytest
from helpers import assert_one_line_error, run_cli
from test_bench import AGENTS, smoke_toml

POLICY = f'''
[[defences]]
name = "ppo-tx"
kind = "policy"
agent = "{AGENTS}/sb3_transmitter.py:PPOTransmitter"
psr_db = 0.0
train_transmissions = 128
'''

RL_GAME = f'''
[[games]]
name = "rl-game"
transmitter = "{AGENTS}/sb3_transmitter.py:PPOTransmitter"
eavesdropper = "{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"
psr_db = 0.0
'''

PGD_GAME = f'''
[[games]]
name = "pgd-game"
transmitter = {{ kind = "adversarial", psr_db = 0.0, steps = 2 }}
eavesdropper = "{AGENTS}/linear_eavesdropper.py:LinearEavesdropper"
'''


@pytest.mark.parametrize(
    "extra, edit, needle",
    [
        # the channels' SNR range (semgame.channels.SNR_DB_RANGE)
        ("", {"eve_snr_db = [10.0]": "eve_snr_db = [10.0, 400.0]"}, "eve_snr_db must be in [-100, 300] dB, got 400.0"),
        ("", {"eve_snr_db = [10.0]": "eve_snr_db = [-101]"}, "eve_snr_db must be in [-100, 300] dB, got -101"),
        # a learning transmitter's budget: the env's transmitter-role PSR range
        (RL_GAME, {"psr_db = 0.0\n": "psr_db = 100.0\n"}, "game 'rl-game': psr_db"),
        (RL_GAME, {"psr_db = 0.0\n": "psr_db = -41\n"}, "[-40, 20] dB, got -41"),
        (PGD_GAME, {"steps = 2 }": "steps = 2 }\npsr_db = 21.0"}, "game 'pgd-game': psr_db"),
        (POLICY, {"psr_db = 0.0\ntrain": "psr_db = 100.0\ntrain"}, "defence 'ppo-tx': psr_db"),
        # an adversarial transmitter needs the eavesdropper's white-box model
        (
            PGD_GAME,
            {"linear_eavesdropper.py:Linear": "random_eavesdropper.py:Random"},
            "RandomEavesdropper has no logits_model()",
        ),
        # nothing is silently ignored: an adversarial table takes no transmitter_args
        (PGD_GAME, {"steps = 2 }": "steps = 2 }\ntransmitter_args = { lr = 1.0 }"}, "transmitter_args apply to"),
        # boolean keys are TOML booleans, not truthy values
        ("", {"reference = true": 'reference = "false"'}, "agent 'supervised': reference must be true or false"),
        ("", {"reference = true": "reference = 1"}, "reference must be true or false"),
        (POLICY, {"psr_db = 0.0\n": 'psr_db = 0.0\ninclude_label = "false"\n'}, "'ppo-tx': include_label must be"),
        # seeds seed NumPy's legacy generator (SB3 agents): at most 2**32 - 1
        ("", {"seeds = [0]": "seeds = [4294967296]"}, "seeds must be an integer in [0, 4294967295]"),
        ("", {'data_root = "': 'data_root = 5\n# "'}, "data_root must be a string"),
        # fresh eavesdroppers' seeds stay below the surrogate's seat (semgame.seeds.MAX_FRESH_EVES)
        ("", {"fresh_k = 1": "fresh_k = 778"}, "fresh_k must be at most 777, got 778"),
    ],
)
def test_out_of_range_values_stop_before_any_cell(extra, edit, needle, synthetic_root, tmp_path, capsys):
    text = smoke_toml(synthetic_root, extra)
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new, 1)
    (tmp_path / "bad.toml").write_text(text)
    code, _, err = run_cli(["bench", "--config", tmp_path / "bad.toml", "--out", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "out").exists()
