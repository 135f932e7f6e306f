"""benchmarks/bench_mnist_recipe.py on tiny synthetic data: both recipes, their table and statistics."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
from helpers import import_benchmark

from semgame.loader import load_run
from semgame.run import load_data
from semgame.training import evaluate


@pytest.fixture(scope="module")
def bench():
    return import_benchmark("bench_mnist_recipe")


def test_table_statistics_and_extra_draws(bench, synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["--out", str(out), "--seeds", "0", "1", "--today-seeds", "0", "--eval-draws", "2"]
    argv += ["--train-limit", "64", "--test-limit", "48", "--data-root", str(synthetic_root), "--fast-epochs", "1"]
    result = bench.main(argv)
    assert json.loads((out / "mnist_recipe.json").read_text())["speedup"] == result["speedup"]
    rows = {(r["recipe"], r["seed"]): r for r in result["rows"]}
    assert set(rows) == {("today", 0), ("fast", 0), ("fast", 1)}
    assert rows["fast", 0]["config"]["train_snr_db"] == [0.0, 10.0] and rows["fast", 0]["config"]["epochs"] == 1
    assert rows["today", 0]["config"]["train_snr_db"] is None and rows["today", 0]["config"]["epochs"] == 8
    # the extra draws: the mean over independent evaluation seeds of the saved link, not the run's own evaluation
    for (name, seed), row in rows.items():
        cfg, link, _ = load_run(out / "runs" / f"{name}-s{seed}")
        _, test = load_data(cfg)
        draws = [
            evaluate(link, test, device=torch.device("cpu"), seed=bench.EVAL_SEED + r)["legit_acc"] for r in (0, 1)
        ]
        assert row["legit_acc_draws"] == pytest.approx(statistics.mean(draws))
        own = evaluate(link, test, device=torch.device("cpu"), seed=seed)
        assert row["legit_acc"] == pytest.approx(own["legit_acc"]) and row["legit_psnr"] == pytest.approx(
            own["legit_psnr"]
        )
    # means per recipe over its own seeds; the speed-up over the seed both ran (0)
    fast = result["stats"]["fast"]
    assert fast["acc_draws_mean"] == pytest.approx(
        (rows["fast", 0]["legit_acc_draws"] + rows["fast", 1]["legit_acc_draws"]) / 2
    )
    assert fast["psnr_mean"] == pytest.approx((rows["fast", 0]["legit_psnr"] + rows["fast", 1]["legit_psnr"]) / 2)
    assert result["paired_seeds"] == [0]
    assert result["speedup"]["wall_s"] == pytest.approx(rows["today", 0]["wall_s"] / rows["fast", 0]["wall_s"])
    md = (out / "mnist_recipe.md").read_text()
    assert "`--epochs 1 --batch-size 128 --lr 0.006 --schedule onecycle --train-snr-db 0,10`" in md
    assert "`--epochs 8 --batch-size 128 --lr 0.002 --schedule cosine`" in md
    assert md.count("not run") == 1  # today's seed 1
    assert f"{fast['acc_draws_mean']:.5f}" in md and f"{result['speedup']['wall_s']:.2f}x" in md


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--eval-draws", "0"], "--eval-draws must be >= 1, got 0"),
        (["--fast-train-snr-db", "10,0"], "fast recipe: train_snr_db"),
        (["--fast-train-snr-db", "5"], "expected LO,HI"),
        (["--fast-lr", "-1"], "fast recipe: lr"),
    ],
)
def test_bad_flags_are_a_usage_error_before_any_run(bench, flags, needle, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        bench.main(["--out", str(tmp_path), *flags])
    assert err.value.code == 2 and needle in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
