"""Smoke test of ``benchmarks/profile_env_step.py`` on synthetic images (tiny timing windows)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from helpers import import_benchmark

from semgame.data import synthetic_dataset


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("profile_env_step")


def test_writes_every_figure_it_returns(bench, tmp_path: Path) -> None:
    args = argparse.Namespace(out=tmp_path, envs=4, seconds=0.01, repeats=2)
    result = bench.run(args, {"images": synthetic_dataset("mnist", 32, seed=0)})
    assert json.loads((tmp_path / "profile_env_step.json").read_text()) == result
    assert result["rows_per_pass"] == 1024  # 4 envs drawn 256 steps ahead
    md = (tmp_path / "profile_env_step.md").read_text()
    for key in (
        "native_step_ms",
        "pass_per_step_ms",
        "classifier_ms",
        "single_step_psnr_ms",
        "decoder_alone_ms_per_image",
    ):
        assert f"| {result[key]:.3f} |" in md
    assert f"({result['matmul_gflops']:.1f} GFLOP/s)" in md and "median of 2 rounds" in md


@pytest.mark.parametrize("flags", [["--envs", "0"], ["--repeats", "0"], ["--seconds", "0"]])
def test_bad_flags_are_a_usage_error(bench, flags, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        bench.main(["--out", str(tmp_path), *flags])
    assert err.value.code == 2 and "must be >= 1 and --seconds > 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
