"""benchmarks/accuracy_by_fade.py: its buckets follow the Rayleigh gain law and add up to the evaluation's accuracy."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from helpers import tiny_config

from semgame.loader import load_run
from semgame.run import load_data, train_run
from semgame.training import evaluate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fade():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import accuracy_by_fade
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return accuracy_by_fade


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    folder = tmp_path_factory.mktemp("fade") / "run"
    train_run(tiny_config(synthetic_root, eve_epochs=0), folder, quiet=True)
    return folder


def test_pass_zero_is_the_evaluation_and_buckets_add_up(fade, run_dir: Path, synthetic_root: Path, tmp_path) -> None:
    argv = ["--link", str(run_dir), "--out", str(tmp_path / "one"), "--data-root", str(synthetic_root)]
    one = fade.main([*argv, "--passes", "1", "--seed", "3"])
    cfg, link, _ = load_run(run_dir)
    _, test = load_data(cfg)
    assert one["transmissions"] == len(test) == 256
    assert one["acc"] == pytest.approx(evaluate(link, test, device=torch.device("cpu"), seed=3)["legit_acc"])
    rows = one["buckets"]
    assert sum(b["share"] for b in rows) == pytest.approx(1.0)
    assert sum(b["share"] * b["acc"] for b in rows if b["acc"] is not None) == pytest.approx(one["acc"])
    assert sum(b["error_share"] for b in rows) == pytest.approx(1.0)
    assert json.loads((tmp_path / "one" / "accuracy_by_fade.json").read_text()) == one


def test_gain_shares_follow_the_rayleigh_law(fade, run_dir: Path, synthetic_root: Path, tmp_path) -> None:
    argv = ["--link", str(run_dir), "--out", str(tmp_path), "--data-root", str(synthetic_root)]
    result = fade.main([*argv, "--passes", "40"])
    n = result["transmissions"]
    assert n == 40 * 256
    for b in result["buckets"]:
        p = math.exp(-b["lo"]) - math.exp(-b["hi"])
        assert b["rayleigh_share"] == pytest.approx(p)
        assert abs(b["share"] - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-9, b
    md = (tmp_path / "accuracy_by_fade.md").read_text()
    assert md.count("\n| [") == len(fade.EDGES) - 1 and "| [1, inf) |" in md


def test_unknown_link_and_zero_passes_are_usage_errors(fade, tmp_path, capsys) -> None:
    for argv, needle in (
        (["--link", str(tmp_path / "nope")], "no such run folder or file, and not a shipped link"),
        (["--link", "mnist", "--passes", "0"], "--passes must be >= 1, got 0"),
    ):
        with pytest.raises(SystemExit) as err:
            fade.main([*argv, "--out", str(tmp_path / "out")])
        assert err.value.code == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
