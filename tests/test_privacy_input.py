"""Bad input to the privacy commands and API: one-line errors before any work, nothing written or reused wrongly.

All on the session's ``tiny_link`` and synthetic data; every error is raised before anything trains.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch
from helpers import assert_one_line_error, snapshot

from semgame.config import ConfigError, load_config_file
from semgame.privacy.defences import NoDefence, finetune_receiver
from semgame.privacy.lab import PROFILES, Lab
from semgame.privacy.leakage import fit_early_stopping, fresh_eavesdroppers, leakage_report, new_eavesdropper
from semgame.privacy.perturbation import AdversarialPerturbation
from semgame.privacy.reproduce import reproduce

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- semgame eval
@pytest.mark.parametrize(
    "argv,flags",
    [
        (["--defence", "keyed", "--psr-db", "5", "--key", "k"], "--defence, --psr-db, --key"),
        (["--fresh-epochs", "3"], "--fresh-epochs"),
        (["--train-limit", "10"], "--train-limit"),
        (["--power", "fixed"], "--power"),
    ],
)
def test_fresh_eval_flags_without_fresh_eavesdroppers_are_refused(tiny_link, tmp_path, cli, argv, flags):
    """A plain ``semgame eval`` ignored them: an undefended result that looked like a defended one."""
    code, _, err = cli(["eval", "--run-dir", tiny_link[5], *argv, "--output", tmp_path / "e.json"])
    assert_one_line_error(code, err, f"{flags} only apply with --fresh-eavesdroppers K")
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("defence", [[], ["--defence", "none"], ["--defence", "rotation", "--key", "k"]])
def test_fresh_eval_power_needs_a_perturbation(tiny_link, cli, defence):
    code, _, err = cli(["eval", "--run-dir", tiny_link[5], "--fresh-eavesdroppers", 1, *defence, "--power", "fixed"])
    assert_one_line_error(code, err, "--power")


# ----------------------------------------------------------------------------- semgame minmax
def test_minmax_lambda_flag_overrides_the_config_files_lambda(tiny_link, tmp_path, cli):
    cfg, *_, run = tiny_link
    config = tmp_path / "game.toml"
    config.write_text("[minmax]\nlambda = 0.5\nrounds = 0\neve_pretrain_epochs = 0\n")
    argv = ["minmax", "--config", config, "--init", run, "--data-root", cfg.data_root, "--test-limit", 32, "--quiet"]
    code, _, err = cli([*argv, "--run-dir", tmp_path / "mm", "--lambda", 2])
    assert code == 0, err
    assert load_config_file(tmp_path / "mm" / "config.toml")["minmax"]["lambda_"] == 2.0


# ----------------------------------------------------------------------------- Lab / semgame reproduce
def test_lab_refuses_its_own_link_trained_with_other_settings(tiny_link, tmp_path):
    """``out/runs/link`` of another profile or seed was reused silently (its weights under this seed's name)."""
    cfg, *_, run = tiny_link
    own = tmp_path / "rep" / "runs" / "link"
    shutil.copytree(run, own)
    before = snapshot(tmp_path / "rep")
    lab = Lab("mnist", "quick", tmp_path / "rep", seed=1, data_root=cfg.data_root, quiet=True, width=4, k=8)
    with pytest.raises(ConfigError, match="different config"):
        lab.base()
    assert snapshot(tmp_path / "rep") == before
    # a link given as link_dir is reused as it is (its own architecture and channel)
    lab = Lab("mnist", "quick", tmp_path / "other", data_root=cfg.data_root, quiet=True, link_dir=run, test_limit=32)
    assert len(lab.base()[2]) == 32 and not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    "override,match",
    [
        (dict(fresh_k=0), "K must be an integer"),
        (dict(fresh_epochs=0), "fresh_epochs must be an integer >= 1"),
        (dict(lambdas=()), "lambdas must be a non-empty list"),
        (dict(lambdas=(float("nan"),)), "lambda must be a finite"),
        (dict(objective="mi"), "objective must be one of"),
        (dict(keyed_psrs=(30.0,)), "psr_db of a keyed perturbation"),
        (dict(adv_psrs=(5.0,)), "psr_db of a adversarial perturbation"),
        (dict(adv_steps=0), "adv_steps"),
        (dict(eve_offsets=(float("inf"),)), "eve_offsets must be finite"),
        (dict(minmax_train_limit=-1), "minmax_train_limit"),
        (dict(fresh_model="huge"), "fresh_model must be one of"),
    ],
)
def test_reproduce_checks_its_budgets_before_training(synthetic_root, tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        reproduce(
            "mnist", "quick", tmp_path / "rep", data_root=str(synthetic_root), device="cpu", quiet=True, **override
        )
    assert not (tmp_path / "rep").exists()
    for profiles in PROFILES.values():  # the shipped profiles pass the same checks
        for profile in profiles.values():
            dataclasses.replace(profile)


# ----------------------------------------------------------------------------- Python API
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lr=0.0), "lr must be > 0"),  # (was: silently the link's lr)
        (dict(lr=float("nan")), "lr must be a finite number"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),  # (was: silently the link's batch size)
        (dict(batch_size=-3), "batch_size must be an integer >= 1"),
        (dict(n_train=0), "training needs at least 1 waveform"),
        (dict(n_test=0), "test needs at least 1 waveform"),
        (dict(n_labels=10), "training: 512 waveforms but 10 labels"),
        (dict(n_train=1, model="strong"), "training needs at least 2 waveform"),
    ],
)
def test_fresh_eavesdroppers_bad_arguments(tiny_link, kwargs, match):
    kwargs = dict(kwargs)
    cfg, _, _, train, test, _ = tiny_link
    n_train, n_test = kwargs.pop("n_train", len(train)), kwargs.pop("n_test", len(test))
    labels = train.labels[: kwargs.pop("n_labels", n_train)]
    with pytest.raises(ConfigError, match=match):
        fresh_eavesdroppers(
            cfg, train.x[:n_train], labels, test.x[:n_test], test.labels[:n_test], k=1, epochs=1, **kwargs
        )


@pytest.mark.parametrize("limit", [-5, 0, 1.5])
def test_leakage_report_fresh_limit_must_be_a_positive_count(tiny_link, limit):
    """``fresh_limit=-5`` trained on all but the last 5 transmissions and reported ``fresh_eve_train_n = -5``."""
    cfg, link, _, train, test, _ = tiny_link
    with pytest.raises(ConfigError, match="fresh_limit must be an integer >= 1"):
        leakage_report(link, cfg, NoDefence(), train, test, k=1, epochs=1, fresh_limit=limit)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(max_epochs=0), "max_epochs must be an integer >= 1"),
        (dict(patience=0), "patience must be an integer >= 1"),
        (dict(holdout=1.0), r"holdout must be a fraction in \(0, 1\)"),
        (dict(n=1), "at least 2 waveform"),
    ],
)
def test_fit_early_stopping_bad_arguments(tiny_link, kwargs, match):
    kwargs = dict(kwargs)
    cfg, _, _, train, _, _ = tiny_link
    n = kwargs.pop("n", len(train))
    eve = new_eavesdropper(cfg, 0.0, 1, model="strong")
    args = {"max_epochs": 1, "lr": 1e-3, "batch_size": 32, "seed": 0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        fit_early_stopping(eve, train.x[:n], train.labels[:n], **args)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(epochs=0), "epochs must be an integer >= 1"),  # (was: a zero perturbation marked as fitted)
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(n=0), "needs at least 1 waveform"),  # (was: a zero perturbation marked as fitted)
        (dict(n_labels=5), "512 waveforms but 5 labels"),
    ],
)
def test_fit_universal_bad_arguments(tiny_link, kwargs, match):
    kwargs = dict(kwargs)
    _, _, eve, train, _, _ = tiny_link
    n = kwargs.pop("n", len(train))
    labels = train.labels[: kwargs.pop("n_labels", n)]
    pert = AdversarialPerturbation(eve, -10.0, scope="universal", objective="eve")
    with pytest.raises(ConfigError, match=match):
        pert.fit_universal(train.x[:n], labels, **kwargs)
    assert not pert.fitted


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(epochs=0), "epochs must be an integer >= 1"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(lr=-1.0), "lr must be > 0"),
        (dict(n=10), "10 waveforms but 256 labels"),
        (dict(n_nonces=10), "10 nonces for 256 waveforms"),
    ],
)
def test_finetune_receiver_bad_arguments(tiny_link, kwargs, match):
    kwargs = dict(kwargs)
    _, link, _, _, test, _ = tiny_link
    x = test.x[: kwargs.pop("n", len(test))]
    nonces = torch.arange(kwargs.pop("n_nonces", len(test)))
    with pytest.raises(ConfigError, match=match):
        finetune_receiver(link, x, test, NoDefence(), nonces, **kwargs)
