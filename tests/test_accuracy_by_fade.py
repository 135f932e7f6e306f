"""benchmarks/accuracy_by_fade.py: its buckets follow the Rayleigh gain law and add up to the evaluation's accuracy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from helpers import import_benchmark, tiny_config

from semgame.loader import load_run
from semgame.run import load_data, train_run
from semgame.training import evaluate


@pytest.fixture(scope="module")
def fade():
    return import_benchmark("accuracy_by_fade")


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
    text = (tmp_path / "one" / "accuracy_by_fade.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}")) == one


def test_gain_shares_follow_the_rayleigh_law(fade, run_dir: Path, synthetic_root: Path, tmp_path) -> None:
    argv = ["--link", str(run_dir), "--out", str(tmp_path), "--data-root", str(synthetic_root)]
    result = fade.main([*argv, "--passes", "40"])
    n = result["transmissions"]
    assert n == 40 * 256
    for b in result["buckets"]:
        p = math.exp(-b["lo"]) - (0.0 if b["hi"] is None else math.exp(-b["hi"]))
        assert b["rayleigh_share"] == pytest.approx(p)
        assert abs(b["share"] - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-9, b
    md = (tmp_path / "accuracy_by_fade.md").read_text()
    assert md.count("\n| [") == len(fade.EDGES) - 1 and "| [1, inf) |" in md


@pytest.mark.parametrize(
    "case, needle",
    [
        ("missing link", "no such run folder or file, and not a shipped link"),
        ("zero passes", "--passes must be >= 1, got 0"),
        ("snr out of range", "--snr-db must be within [-100, 300] dB, got nan"),
        ("corrupt checkpoint", "checkpoint"),
        ("no data", "dataset 'mnist' (split 'test') not found"),
        ("out is a file", "cannot write"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(
    case, needle, fade, run_dir, synthetic_root, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SEMGAME_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached copy of the data either
    monkeypatch.setattr("torchvision.datasets.MNIST.__init__", _no_download)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out_file = tmp_path / "taken"
    out_file.write_text("keep")
    link, out, extra = str(run_dir), tmp_path / "out", ["--data-root", str(synthetic_root)]
    if case == "missing link":
        link = str(tmp_path / "nope")
    elif case == "zero passes":
        extra += ["--passes", "0"]
    elif case == "snr out of range":
        extra += ["--snr-db", "nan"]
    elif case == "corrupt checkpoint":
        link = str(bad)
    elif case == "no data":
        extra = ["--data-root", str(tmp_path / "empty")]
    else:
        out = out_file / "sub"
    with pytest.raises(SystemExit) as err:
        fade.main(["--link", link, "--out", str(out), "--passes", "1", *extra])
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert err.value.code == 2 and lines[0].startswith("usage: ") and errors == lines[-1:], lines
    assert needle in errors[0] and "Traceback" not in "\n".join(lines)
    assert not (tmp_path / "out").exists() and out_file.read_text() == "keep"


def _no_download(self, *args, **kwargs):
    raise RuntimeError("no network in tests")
