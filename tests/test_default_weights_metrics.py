"""benchmarks/default_weights_metrics.py: rows from regenerated runs, the other rows kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import import_benchmark

WEIGHTS = Path(__file__).resolve().parent.parent / "semgame" / "weights"


def test_regenerated_row_written_and_others_kept(tmp_path: Path) -> None:
    script = import_benchmark("default_weights_metrics")
    out = tmp_path / "weights" / "metrics.md"
    out.parent.mkdir()
    shutil.copy(WEIGHTS / "mnist.pt", out.parent / "mnist.pt")
    old_rows = {name: f"| {name}.pt | old {name} |" for name in script.NAMES}
    out.write_text("\n".join(["# an older table", *old_rows.values()]) + "\n")
    run = tmp_path / "runs" / "default-mnist"
    run.mkdir(parents=True)
    test = {"legit_acc": 0.91234, "legit_psnr": 17.256, "legit_ssim": 0.5, "eve_acc": 0.4321, "chance": 0.1}
    (run / "metrics.json").write_text(json.dumps({"test": test}))

    text = script.main([str(tmp_path / "runs"), str(out)])

    assert out.read_text() == text
    lines = text.splitlines()
    assert lines[: len(script.HEADER)] == script.HEADER
    state = torch.load(WEIGHTS / "mnist.pt", weights_only=True)
    floats = sum(v.numel() for part in ("link", "eve") for v in state[part].values() if v.is_floating_point())
    rows = lines[len(script.HEADER) :]
    assert rows == [f"| mnist.pt | 0.9123 | 17.26 | 0.500 | 0.4321 | {floats:,} |"] + [
        old_rows[name] for name in script.NAMES[1:]
    ]


def test_committed_table_has_every_shipped_file() -> None:
    script = import_benchmark("default_weights_metrics")
    text = (WEIGHTS / "metrics.md").read_text()
    for name in script.NAMES:
        assert (WEIGHTS / f"{name}.pt").is_file() and sum(
            line.startswith(f"| {name}.pt |") for line in text.splitlines()
        ) == 1


def test_a_runs_folder_without_runs_is_refused_and_nothing_written(tmp_path: Path) -> None:
    script = import_benchmark("default_weights_metrics")
    out = tmp_path / "metrics.md"
    out.write_text("kept\n")
    with pytest.raises(SystemExit, match=r"no default-<name>/metrics\.json under"):
        script.main([str(tmp_path / "no-such-runs"), str(out)])
    assert out.read_text() == "kept\n"
