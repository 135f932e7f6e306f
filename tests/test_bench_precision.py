"""benchmarks/bench_precision.py on tiny synthetic data: speed ratios and fp32/bf16 accuracy rows."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from helpers import import_benchmark


def test_speed_and_accuracy_rows(synthetic_root: Path, tmp_path: Path) -> None:
    bench_precision = import_benchmark("bench_precision")
    out = tmp_path / "out"
    argv = ["--out", str(out), "--repeats", "1", "--steps", "1", "--seeds", "0", "1", "--epochs", "1"]
    result = bench_precision.main(
        [*argv, "--train-limit", "64", "--test-limit", "32", "--data-root", str(synthetic_root)]
    )
    assert json.loads((out / "precision.json").read_text()) == json.loads(json.dumps(result))
    assert [r["model"] for r in result["speed"]] == list(bench_precision.SPEED_MODELS)
    for row in result["speed"]:  # medians of the alternated samples, and their ratio
        assert len(row["samples"]["fp32"]) == len(row["samples"]["bf16"]) == 1
        assert row["fp32_img_s"] == pytest.approx(statistics.median(row["samples"]["fp32"]))
        assert row["ratio"] == pytest.approx(row["bf16_img_s"] / row["fp32_img_s"])
    runs = {(r["seed"], r["precision"]): r for r in result["accuracy"]}
    assert set(runs) == {(s, p) for s in (0, 1) for p in ("fp32", "bf16")}
    assert all(r["config"]["precision"] == p and r["config"]["epochs"] == 1 for (_, p), r in runs.items())
    md = (out / "precision.md").read_text()
    diff = 100 * statistics.mean(runs[s, "bf16"]["legit_acc"] - runs[s, "fp32"]["legit_acc"] for s in (0, 1))
    mean32 = statistics.mean(runs[s, "fp32"]["legit_acc"] for s in (0, 1))
    assert f"| mean | {mean32:.4f} |" in md and f"{diff:+.2f} | | |" in md
