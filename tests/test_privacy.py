"""Tests for the privacy game (issue #4): perturbation layers, keyed removal, fresh eavesdroppers,
min-max training and its resume, CLI errors. All on tiny models and synthetic data (seconds)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_one_line_error

from semgame.channels import normalize_power
from semgame.config import ConfigError, LinkConfig
from semgame.link import build_eavesdropper, build_link
from semgame.privacy.defences import AdversarialDefence, KeyedDefence, NoDefence
from semgame.privacy.keyed import KeyedPerturbation, MissingKeyError
from semgame.privacy.leakage import (
    check_k,
    defend,
    eve_accuracy,
    fresh_eavesdroppers,
    legit_metrics,
    new_eavesdropper,
)
from semgame.privacy.minmax import MinMaxConfig, leakage_term, minmax_run
from semgame.privacy.perturbation import AdversarialPerturbation, check_psr, measured_psr_db
from semgame.seeds import seeded_generator

torch.set_num_threads(1)

CFG = LinkConfig(dataset="mnist", k=8, width=4)


def waveforms(n: int = 16, k: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return normalize_power(torch.randn(n, k, dtype=torch.complex64, generator=g))


# ----------------------------------------------------------------------------- keyed perturbation
@pytest.mark.parametrize("psr", [-20.0, 0.0, 10.0])
def test_keyed_mask_meets_psr_exactly_and_is_key_and_nonce_dependent(psr):
    kp = KeyedPerturbation(psr, key=1234)
    x = waveforms()
    nonces = list(range(100, 116))
    x_tx = kp(x, nonces)
    assert torch.allclose(measured_psr_db(x_tx - x, x), torch.full((16,), psr), atol=1e-3)
    assert torch.equal(kp.mask(nonces, 8), KeyedPerturbation(psr, key=1234).mask(nonces, 8))  # reproducible
    assert not torch.allclose(kp.mask(nonces, 8), KeyedPerturbation(psr, key=1235).mask(nonces, 8))
    assert not torch.allclose(kp.mask(nonces, 8), kp.mask([n + 1000 for n in nonces], 8))
    # a transmission's mask does not depend on what else is in the batch
    assert torch.equal(kp.mask([105], 8)[0], kp.mask(nonces, 8)[5])


@pytest.mark.parametrize("csi,equalizer", [("perfect", "mmse"), ("perfect", "zf"), ("none", "mmse")])
@pytest.mark.parametrize("power", ["add", "fixed"])
def test_keyed_removal_is_exact_without_noise(csi, equalizer, power):
    link = build_link(CFG.replace(csi=csi, equalizer=equalizer))
    kp = KeyedPerturbation(10.0, key="secret", power=power)
    x, nonces = waveforms(), list(range(16))
    y_tx, state = link.channel(kp(x, nonces), snr_db=250.0, generator=seeded_generator(0, 1))
    y_clean = kp.remove(y_tx, state, nonces, csi=csi, equalizer=equalizer)
    expected = x if csi == "perfect" else state.h * x
    assert (y_clean - expected).abs().max() < 1e-4


@pytest.mark.parametrize("csi,equalizer", [("perfect", "mmse"), ("perfect", "zf"), ("none", "mmse")])
def test_keyed_removal_with_noise_gives_the_undefended_output(csi, equalizer):
    link = build_link(CFG.replace(csi=csi, equalizer=equalizer))
    kp = KeyedPerturbation(10.0, key=7)
    x, nonces = waveforms(), list(range(16))
    y0, _ = link.channel(x, snr_db=5.0, generator=seeded_generator(0, 1))
    y1, state = link.channel(kp(x, nonces), snr_db=5.0, generator=seeded_generator(0, 1))
    assert (kp.remove(y1, state, nonces, csi=csi, equalizer=equalizer) - y0).abs().max() < 1e-4
    # without the right key the mask stays in
    wrong = KeyedPerturbation(10.0, key=8).remove(y1, state, nonces, csi=csi, equalizer=equalizer)
    assert (wrong - y0).abs().mean() > 0.5


def test_keyed_without_key_is_an_error():
    with pytest.raises(MissingKeyError, match="needs a secret key"):
        KeyedPerturbation(10.0, key=None)
    with pytest.raises(ConfigError, match="key must not be empty"):
        KeyedPerturbation(10.0, key="")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 25.0, -50.0, "3"])
def test_keyed_psr_out_of_range(bad):
    with pytest.raises(ConfigError, match="psr_db"):
        KeyedPerturbation(bad, key=1)


# ----------------------------------------------------------------------------- adversarial perturbation
@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    return build_link(CFG), build_eavesdropper(CFG)


@pytest.mark.parametrize("psr", [-30.0, -10.0, 0.0])
def test_fgm_uses_the_whole_budget_and_pgd_stays_in_the_ball(tiny_models, psr):
    link, eve = tiny_models
    x, labels = waveforms(), torch.arange(16) % 10
    fgm = AdversarialPerturbation(eve, psr, method="fgm")
    assert torch.allclose(measured_psr_db(fgm.perturbation(x, labels), x), torch.full((16,), psr), atol=1e-3)
    for objective in ("eve", "cooperative"):
        pgd = AdversarialPerturbation(eve, psr, method="pgd", steps=4, objective=objective, legit=link, mu=0.5)
        assert (measured_psr_db(pgd.perturbation(x, labels, seeded_generator(0, 2)), x) <= psr + 1e-3).all()


def test_pgd_raises_the_surrogate_loss_and_leaves_models_untouched(tiny_models):
    link, eve = tiny_models
    before = [p.clone() for p in eve.parameters()]
    x, labels = waveforms(64), torch.arange(64) % 10
    pgd = AdversarialPerturbation(eve, -5.0, method="pgd", steps=8, eot=4)
    zero = torch.zeros(64, 16)
    p = pgd.craft(x, labels, seeded_generator(0, 3))
    from semgame.channels import complex_to_real

    torch.manual_seed(1)
    clean = float(pgd.loss(x, zero, labels).detach())
    torch.manual_seed(1)
    attacked = float(pgd.loss(x, complex_to_real(p), labels).detach())
    assert attacked > clean
    assert all(torch.equal(a, b) for a, b in zip(before, eve.parameters()))
    assert all(q.requires_grad for q in eve.parameters())


def test_universal_perturbation_is_input_independent_and_in_the_ball(tiny_models):
    link, eve = tiny_models
    xs, labels = waveforms(128, seed=1), torch.arange(128) % 10
    uni = AdversarialPerturbation(eve, -10.0, scope="universal", objective="cooperative", legit=link)
    with pytest.raises(ConfigError, match="fit_universal"):
        uni(xs)
    uni.fit_universal(xs, labels, epochs=1, batch_size=32)
    p = uni(xs) - xs
    assert torch.allclose(p, p[:1].expand_as(p))
    assert (measured_psr_db(p, xs) <= -10.0 + 1e-3).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(psr_db=1.0), "psr_db"),
        (dict(psr_db=float("nan")), "psr_db"),
        (dict(psr_db=-10.0, mu=-1.0), "mu must be >= 0"),
        (dict(psr_db=-10.0, mu=float("inf")), "mu must be a finite"),
        (dict(psr_db=-10.0, objective="cooperative"), "needs the legitimate link"),
        (dict(psr_db=-10.0, method="cw"), "method"),
        (dict(psr_db=-10.0, steps=0), "steps"),
    ],
)
def test_adversarial_bad_input(tiny_models, kwargs, match):
    _, eve = tiny_models
    with pytest.raises(ConfigError, match=match):
        AdversarialPerturbation(eve, **kwargs)


def test_check_psr_ranges():
    assert check_psr(0.0) == 0.0 and check_psr(15.0, "keyed") == 15.0
    with pytest.raises(ConfigError, match=r"\[-40, 0\] dB"):
        check_psr(0.5)


# ----------------------------------------------------------------------------- leakage evaluation
def test_fresh_eavesdroppers_train_from_scratch(tiny_link):
    cfg, link, eve, tr, te, _ = tiny_link
    # the initial weights of fresh eavesdropper j are those of a new eavesdropper with its seed
    a, b = new_eavesdropper(cfg, 10.0, 5), new_eavesdropper(cfg, 10.0, 5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), eve.parameters()))
    untrained = eve_accuracy(new_eavesdropper(cfg, 10.0, 0), te.x, te.labels)
    res = fresh_eavesdroppers(cfg, tr.x, tr.labels, te.x, te.labels, k=2, epochs=3, seed=0)
    assert len(res["accs"]) == 2 and res["seeds"] == [0, 1]
    assert res["max"] == max(res["accs"]) and res["mean"] == pytest.approx(sum(res["accs"]) / 2)
    assert res["std"] == pytest.approx(abs(res["accs"][0] - res["accs"][1]) / 2)  # population std of two
    assert res["mean"] > max(untrained, 0.3)  # it learned (synthetic classes are easy)
    # deterministic given the seed, and independent of the global RNG
    torch.manual_seed(123)
    again = fresh_eavesdroppers(cfg, tr.x, tr.labels, te.x, te.labels, k=2, epochs=3, seed=0)
    assert again["accs"] == res["accs"]


def test_leakage_report_columns_and_keyed_legit_unchanged(leakage_pair, tiny_link):
    cfg, link, eve, tr, te, _ = tiny_link
    base, keyed = leakage_pair(KeyedDefence(KeyedPerturbation(10.0, key=3)), k=1, epochs=1)
    for row in (base, keyed):
        assert row["chance"] == pytest.approx(0.1)
        # one fresh eavesdropper: its accuracy is the mean and the max, with no spread
        assert row["fresh_eve_accs"] == [row["fresh_eve_mean"]] and row["fresh_eve_max"] == row["fresh_eve_mean"]
        assert row["fresh_eve_std"] == 0.0 and row["fresh_eve_train_n"] == len(tr)
        assert row["gap_fresh"] == pytest.approx(100 * (row["legit_acc"] - row["fresh_eve_mean"]))
    # the undefended row's legit metrics are those of the clean waveforms, its transfer eavesdropper's
    # accuracy that of tiny_link's eavesdropper on them (same seed, at the eavesdropper's SNR)
    assert {k: base[k] for k in ("legit_acc", "legit_psnr")} == legit_metrics(
        link, NoDefence(), te, te.x, torch.arange(len(te))
    )
    assert base["transfer_eve_acc"] == eve_accuracy(eve, te.x, te.labels, snr_db=cfg.eve_snr)
    assert math.isnan(base["undefended_legit_acc"]) and keyed["undefended_legit_acc"] == base["legit_acc"]
    # the mask (10 dB above the signal) blinds the eavesdropper trained on undefended waveforms
    assert keyed["transfer_eve_acc"] < base["transfer_eve_acc"] - 0.2
    # add-power keyed removal: the legitimate receiver decodes exactly what it did undefended
    assert keyed["legit_acc"] == pytest.approx(base["legit_acc"])
    assert keyed["legit_psnr"] == pytest.approx(base["legit_psnr"], abs=1e-3)
    assert keyed["psr_measured_db"] == pytest.approx(10.0, abs=1e-3)
    assert keyed["tx_power"] == pytest.approx(11.0)
    assert math.isnan(base["in_loop_eve_acc"])


def test_strong_fresh_eavesdroppers_stop_early_and_keep_their_best_weights(tiny_link):
    from semgame.privacy.leakage import _accuracy, fit_early_stopping
    from semgame.seeds import Stream

    cfg, link, eve, tr, te, _ = tiny_link
    res = fresh_eavesdroppers(cfg, tr.x, tr.labels, te.x, te.labels, k=1, epochs=4, seed=0, model="strong")
    assert res["model"] == "strong" and 1 <= res["epochs_run"][0] <= 4 and res["mean"] > 0.5
    strong = new_eavesdropper(cfg, 10.0, 3, model="strong")
    out = fit_early_stopping(strong, tr.x, tr.labels, max_epochs=40, lr=1e-3, batch_size=64, seed=3, patience=1)
    assert out["epochs_run"] < 40 and out["best_epoch"] == out["epochs_run"] - 1  # stopped one epoch after its best
    # the returned weights are the best epoch's: its held-out accuracy, re-measured
    order = torch.randperm(len(tr), generator=seeded_generator(3, Stream.HOLDOUT_SPLIT))[: round(0.1 * len(tr))]
    again = _accuracy(strong, tr.x[order], tr.labels[order], seeded_generator(3, Stream.HOLDOUT_NOISE))
    assert again == out["holdout_acc"]
    with pytest.raises(ConfigError, match="fresh eavesdropper model"):
        new_eavesdropper(cfg, 10.0, 0, model="kernel")


def test_adversarial_defence_with_labels_roundtrip(tiny_link):
    cfg, link, eve, tr, te, _ = tiny_link
    d = AdversarialDefence(AdversarialPerturbation(eve, -10.0, method="fgm"))
    tx, nonces = defend(d, te)
    assert tx.shape == te.x.shape
    # FGM spends the whole -10 dB budget on every transmission, and the unaware legitimate receiver
    # decodes the perturbed waveforms (not the clean ones): its metrics are those of a NoDefence on them
    assert torch.allclose(measured_psr_db(tx - te.x, te.x), torch.full((len(te),), -10.0), atol=1e-3)
    m = legit_metrics(link, d, te, tx, nonces)
    assert m == legit_metrics(link, NoDefence(), te, tx, nonces)
    assert m != legit_metrics(link, NoDefence(), te, te.x, nonces)


def test_check_k():
    assert check_k(1) == 1 and check_k(777) == 777
    for bad in (0, -1, 1.5, True, 778):  # (778 fresh eavesdroppers: the last one gets the surrogate's seed)
        with pytest.raises(ConfigError, match=r"K must be an integer in \[1, 777\]"):
            check_k(bad)


# ----------------------------------------------------------------------------- min-max
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lambda_=-0.1), "lambda must be >= 0"),
        (dict(lambda_=float("nan")), "lambda must be a finite"),
        (dict(lambda_=float("inf")), "lambda must be a finite"),
        (dict(eve_steps=0), "eve_steps must be an integer >= 1"),
        (dict(legit_steps=0), "legit_steps"),
        (dict(objective="mi"), "objective must be one of"),
        (dict(eve_lr=0.0), "eve_lr"),
        (dict(gate_snr_db=float("nan")), "gate_snr_db"),
        (dict(eve_snr_spread_db=-1.0), "eve_snr_spread_db"),
    ],
)
def test_minmax_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MinMaxConfig(**kwargs)


def test_minmax_table_with_both_lambda_spellings_is_refused():
    from semgame.privacy.minmax import load_minmax_config

    assert load_minmax_config({"lambda": 0.5}).lambda_ == 0.5
    with pytest.raises(ConfigError, match="both lambda and lambda_"):
        load_minmax_config({"lambda": 0.5, "lambda_": 2.0})


def test_leakage_terms():
    logits = torch.zeros(4, 10)
    labels = torch.arange(4)
    assert float(leakage_term(logits, labels, "kl_uniform")) == pytest.approx(0.0, abs=1e-6)
    assert float(leakage_term(logits, labels, "neg_ce")) == pytest.approx(-math.log(10), abs=1e-5)
    peaked = torch.zeros(4, 10)
    peaked[:, 0] = 10.0
    # KL(uniform || softmax): -log 10 - mean_i log p_i, with log p_0 = 10 - lse and log p_i = -lse otherwise
    lse = math.log(math.exp(10.0) + 9.0)
    kl = -math.log(10) - (10.0 - 10 * lse) / 10
    assert float(leakage_term(peaked, labels, "kl_uniform")) == pytest.approx(kl, rel=1e-5)
    # -CE: only label 0 (the first row) is the peaked class
    assert float(leakage_term(peaked, labels, "neg_ce")) == pytest.approx(((10.0 - lse) - 3 * lse) / 4, rel=1e-5)


def test_leakage_term_weights_and_sample_snr():
    from semgame.channels import ChannelState
    from semgame.privacy.minmax import sample_snr_db

    peaked = torch.zeros(4, 10)
    peaked[:, 0] = 10.0
    labels = torch.arange(4)
    full = leakage_term(peaked, labels, "kl_uniform")
    w = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert float(leakage_term(peaked, labels, "kl_uniform", w)) == pytest.approx(float(full) / 2)  # mean over the batch
    assert float(leakage_term(peaked, labels, "neg_ce", torch.zeros(4))) == 0.0
    h = torch.tensor([[2.0 + 0j, 2.0 + 0j], [1.0 + 0j, 0j]])
    st = ChannelState(h=h, noise_var=torch.tensor([0.1, 1.0]), snr_db=torch.tensor([10.0, 0.0]))
    assert sample_snr_db(st).tolist() == pytest.approx([10 * math.log10(40.0), 10 * math.log10(0.5)])


@pytest.mark.parametrize("gate,zero", [(200.0, "task"), (-200.0, "leak")])
def test_minmax_gate_selects_transmissions_by_effective_snr(gate, zero):
    """A gate above every SNR drops the whole legit task loss; below every SNR, the whole leakage."""
    from torch.utils.data import TensorDataset

    from semgame.data import synthetic_dataset
    from semgame.privacy.minmax import minmax_epoch

    torch.manual_seed(0)
    link, eve = build_link(CFG), build_eavesdropper(CFG)
    data = TensorDataset(*synthetic_dataset("mnist", 64, seed=0).tensors)
    opts = (torch.optim.Adam(link.parameters()), torch.optim.Adam(eve.parameters()))
    stats = minmax_epoch(
        link,
        eve,
        data,
        *opts,
        CFG.replace(batch_size=32),
        MinMaxConfig(lambda_=1.0, gate_snr_db=gate),
        0,
        torch.device("cpu"),
    )
    other = "leak" if zero == "task" else "task"
    assert stats[zero] == 0.0 and abs(stats[other]) > 1e-3


def _state(run, name="model.pt"):
    from semgame.io import load_checkpoint

    return load_checkpoint(run / name)


@pytest.mark.parametrize(
    ("target", "at_call", "done"),
    [
        ("semgame.run:train_eavesdropper_epoch", 1, {"pretrain": 1, "eve_pretrain": 0, "minmax": 0}),
        ("semgame.privacy.minmax:minmax_epoch", 2, {"pretrain": 1, "eve_pretrain": 1, "minmax": 1}),
    ],
)
def test_minmax_resume_equals_uninterrupted(synthetic_root, tmp_path, monkeypatch, target, at_call, done):
    import sys

    from semgame import tags
    from semgame.runloop import without_timings

    cfg = LinkConfig(
        dataset="mnist", k=8, width=4, batch_size=64, train_limit=256, test_limit=128, data_root=str(synthetic_root)
    )
    mm = MinMaxConfig(
        lambda_=0.5, objective="kl_uniform", rounds=2, pretrain_epochs=1, eve_pretrain_epochs=1, eve_steps=2
    )
    full = minmax_run(cfg, mm, tmp_path / "full", quiet=True)
    assert [h["phase"] for h in full["history"]] == ["pretrain", "eve_pretrain", "minmax", "minmax"]
    module, name = target.split(":")
    real, calls = getattr(sys.modules[module], name), []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(sys.modules[module], name, interrupted)
        with pytest.raises(KeyboardInterrupt):
            minmax_run(cfg, mm, tmp_path / "cut", quiet=True)
    assert _state(tmp_path / "cut", "checkpoint.pt")["counters"] == done
    resumed = minmax_run(cfg, mm, tmp_path / "cut", quiet=True)
    assert without_timings(resumed) == without_timings(full)  # no epoch repeated or lost, same metrics
    a, b = _state(tmp_path / "full"), _state(tmp_path / "cut")
    for part in ("link", "eve"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    # TensorBoard: the scheme's tags at images-seen steps (256 per epoch), identical after the resume
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def scalars(run):
        acc = EventAccumulator(str(run / "tb"))
        acc.Reload()
        return {
            t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"] if not t.startswith("perf/")
        }

    tb = scalars(tmp_path / "full")
    assert [s for s, _ in tb[tags.MINMAX_LEAKAGE]] == [768, 1024]
    assert [s for s, _ in tb[tags.EVE_ACC]] == [512, 768, 1024]
    assert [v for _, v in tb[tags.MINMAX_LEAKAGE]] == pytest.approx([h["leak"] for h in full["history"][2:]])
    assert tb == scalars(tmp_path / "cut")
    # a different config in the same folder is refused
    with pytest.raises(ConfigError, match="different config"):
        minmax_run(cfg, MinMaxConfig(lambda_=1.0, rounds=2), tmp_path / "full", quiet=True)


def test_minmax_cli_and_fresh_eval_cli(tiny_link, tiny_link_flags, tmp_path, cli):
    cfg, *_, run = tiny_link
    code, out, err = cli(
        [
            "minmax",
            "--run-dir",
            tmp_path / "mm",
            "--init",
            run,
            "--lambda",
            "1",
            "--rounds",
            "1",
            "--objective",
            "neg_ce",
            *tiny_link_flags,
            "--data-root",
            cfg.data_root,
            "--eve-snr-db",
            "0",
            "--quiet",
        ],
    )
    assert code == 0, err
    code, out, err = cli(
        [
            "eval",
            "--run-dir",
            tmp_path / "mm",
            "--fresh-eavesdroppers",
            "2",
            "--fresh-epochs",
            "1",
            "--defence",
            "keyed",
            "--psr-db",
            "5",
            "--key",
            "abc",
            "--output",
            tmp_path / "e.json",
        ],
    )
    assert code == 0, err
    import json

    row = json.loads((tmp_path / "e.json").read_text())
    assert len(row["fresh_eve_accs"]) == 2 and row["eve_snr_db"] == 0.0 and row["psr_db"] == 5.0
    assert "min-max" in row["in_loop_eve_note"]
    # the note follows the run: a plain training run's eavesdropper was not co-trained in a game
    from semgame.loader import is_minmax_run

    assert is_minmax_run(tmp_path / "mm") and is_minmax_run(tmp_path / "mm" / "model.pt")
    assert not is_minmax_run(run) and not is_minmax_run(run / "model.pt")


def test_minmax_cli_takes_the_link_shape_from_init(tiny_link, tmp_path, cli):
    cfg, *_, run = tiny_link  # k = 8, width = 4: neither is the LinkConfig default
    game = ["minmax", "--init", run, "--rounds", "1", "--data-root", cfg.data_root, "--train-limit", "128", "--quiet"]
    code, _, err = cli([*game, "--run-dir", tmp_path / "mm"])
    assert code == 0, err
    played = torch.load(tmp_path / "mm" / "model.pt", weights_only=True)["config"]
    assert (played["dataset"], played["arch"], played["k"], played["width"]) == ("mnist", "dense", 8, 4)
    # a shape that is given and differs is still refused in one line, before anything is written
    code, _, err = cli([*game, "--run-dir", tmp_path / "k16", "--k", "16"])
    assert_one_line_error(code, err, "init run")
    assert not (tmp_path / "k16").exists()


def test_fresh_eval_notes_how_the_runs_own_eavesdropper_was_trained(tiny_link, tmp_path, cli):
    import json

    from semgame.run import train_run

    untrained = tmp_path / "no-eve"
    train_run(tiny_link[0].replace(epochs=1, eve_epochs=0), untrained, quiet=True)
    notes = {}
    for name, run in (("trained", tiny_link[5]), ("untrained", untrained)):
        out = tmp_path / f"{name}.json"
        code, _, err = cli(["eval", "--run-dir", run, "--fresh-eavesdroppers", 1, "--fresh-epochs", 1, "--output", out])
        assert code == 0, err
        notes[name] = json.loads(out.read_text())["in_loop_eve_note"]
    assert "semgame train" in notes["trained"] and "min-max" not in notes["trained"]
    assert "untrained" in notes["untrained"] and "eve_epochs = 0" in notes["untrained"]


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--fresh-eavesdroppers", "0"], "K must be an integer in [1, 777]"),
        (["--fresh-eavesdroppers", "2", "--defence", "keyed", "--psr-db", "5"], "needs a secret key"),
        (["--fresh-eavesdroppers", "2", "--defence", "keyed", "--psr-db", "30", "--key", "k"], "psr_db"),
        (["--fresh-eavesdroppers", "2", "--defence", "keyed", "--key", "k"], "needs --psr-db"),
    ],
)
def test_fresh_eval_cli_errors(tiny_link, cli, argv, needle):
    *_, run = tiny_link
    code, _, err = cli(["eval", "--run-dir", run, *argv])
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--lambda", "-1"], "lambda must be >= 0"),
        (["--lambda", "nan"], "lambda must be a finite"),
        (["--eve-steps", "0"], "eve_steps"),
        (["--gate-snr-db", "inf"], "gate_snr_db must be a finite number"),
        (["--eve-snr-spread-db", "-2"], "eve_snr_spread_db must be a finite number >= 0"),
        (["--eve-snr-spread-db", "1000"], "eve_snr_db -/+ eve_snr_spread_db must be in [-100, 300] dB"),
        (["--eve-snr-db", "250", "--eve-snr-spread-db", "60"], "eve_snr_db -/+ eve_snr_spread_db must be in"),
        (["--eve-lr", "1e300"], "eve_lr must be <="),
    ],
)
def test_minmax_cli_errors(tmp_path, cli, argv, needle):
    code, _, err = cli(["minmax", "--run-dir", tmp_path / "x", *argv])
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "x").exists()


def test_reproduce_cli_bad_profile(cli, tmp_path):
    code, _, err = cli(["reproduce", "--dataset", "mnist", "--profile", "huge", "--out", tmp_path])
    assert_one_line_error(code, err, "profile must be one of")
