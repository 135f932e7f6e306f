"""End-to-end check of the reproduction pipeline (``semgame reproduce``) on synthetic data, tiny budgets."""

from __future__ import annotations

import json

import pytest
import torch

from semgame.privacy.leakage import COLUMNS
from semgame.privacy.reproduce import reproduce

torch.set_num_threads(1)

#: Tiny budgets (profile overrides) for the end-to-end runs on synthetic data.
TINY = {
    "link_epochs": 1,
    "train_limit": 256,
    "test_limit": 128,
    "minmax_train_limit": 128,
    "minmax_rounds": 1,
    "lambdas": (1.0,),
    "fresh_k": 2,
    "fresh_epochs": 1,
    "keyed_psrs": (10.0,),
    "adv_psrs": (-10.0,),
    "adv_steps": 2,
    "eve_offsets": (0.0, -10.0),
    "width": 4,
    "k": 8,
}


def test_reproduce_writes_one_report_folder(synthetic_root, tmp_path):
    out = tmp_path / "rep"
    report = reproduce("mnist", "quick", out, data_root=str(synthetic_root), device="cpu", quiet=True, **TINY)
    text = report.read_text()
    for _, header in COLUMNS:
        assert header in text
    assert "Regenerate: `semgame reproduce --dataset mnist --profile quick --seed 0" in text
    assert "## Targets (checked against fresh eavesdroppers)" in text
    results = json.loads((out / "results.json").read_text())
    kinds = {r["kind"] for r in results["rows"]}
    assert {"none", "keyed", "adversarial", "rotation"} <= kinds
    for r in results["rows"]:  # the ceiling: a number below the legitimate SNR for keyless rows, else n/a
        applies = (
            r["eve_snr_db"] < r["legit_snr_db"]
            and r["kind"] not in ("keyed", "rotation")
            and r["legit_acc"] > r["chance"]
        )
        assert (r["ceiling_pts_amax1"] is not None) == applies, r["defence"]
        if r["ceiling_pts"] is None:
            assert r["ceiling_note"] and f"| {r['defence']} |" in text
    assert any(r["defence"].startswith("min-max") for r in results["rows"])
    for r in results["rows"]:  # the summary columns are the statistics of the K fresh accuracies
        accs = r["fresh_eve_accs"]
        assert len(accs) == 2 and r["fresh_eve_mean"] == pytest.approx(sum(accs) / 2)
        assert r["fresh_eve_max"] == max(accs) and all(abs(a * 128 - round(a * 128)) < 1e-9 for a in accs)
    assert results["meta"]["seed"] == 0 and results["meta"]["budgets"]["fresh_k"] == 2
    assert (out / "privacy_utility.png").stat().st_size > 1000
    tb_runs = sorted(p.name for p in (out / "tb").iterdir())
    assert len(tb_runs) == len(results["rows"])
    # rerunning reuses the trained link and min-max runs (resumable), and rewrites the report
    reproduce("mnist", "quick", out, data_root=str(synthetic_root), device="cpu", quiet=True, **TINY)
    again = json.loads((out / "results.json").read_text())
    assert [r["legit_acc"] for r in again["rows"]] == [r["legit_acc"] for r in results["rows"]]


def test_minmax_rows_with_post_game_receiver_finetune(synthetic_root, tmp_path):
    from semgame.privacy.lab import Lab

    lab = Lab(
        "mnist", "quick", tmp_path, data_root=str(synthetic_root), device="cpu", quiet=True, **{**TINY, "fresh_k": 1}
    )
    lab.minmax_rows(lambdas=(0.5,), offsets=(-10.0,), legit_finetune_epochs=1)
    (row,) = lab.rows
    assert row["defence"].endswith("legit rx fine-tuned 1 ep") and row["eve_snr_db"] == 0.0
    assert row["lambda_"] == 0.5
    # the in-loop column is the min-max run's own eavesdropper, on the row's test transmissions at its SNR
    # (fine-tuning the legitimate receiver leaves the encoder, hence the waveforms, unchanged)
    from semgame.loader import load_run
    from semgame.privacy.defences import NoDefence, encode
    from semgame.privacy.leakage import TEST_NONCE_OFFSET, defend, eve_accuracy
    from semgame.run import load_data

    _, link, eve = load_run(row["run"])
    test = encode(link, load_data(lab.cfg)[1])
    x_tx, _ = defend(NoDefence(), test, nonce_offset=TEST_NONCE_OFFSET)
    assert row["in_loop_eve_acc"] == eve_accuracy(eve, x_tx, test.labels, seed=lab.seed, snr_db=0.0)
