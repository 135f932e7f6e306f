"""bf16 autocast (``precision``): the neural blocks run in bf16, the channel and power stay float32; and
the one-cycle learning-rate schedule (``schedule``) of the fast MNIST recipe.

bf16 on a CPU without native support is slow, so these tests use tiny blocks and batches.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers import tiny_config

from semgame.cli import main
from semgame.config import ConfigError, LinkConfig
from semgame.link import build_eavesdropper, build_link
from semgame.run import RUNTIME_KEYS, load_data, train_run
from semgame.training import (
    autocast,
    encoder_transmit,
    evaluate,
    link_schedule,
    per_batch,
    resolve_precision,
    train_eavesdropper_epoch,
    train_link_epoch,
)

CPU = torch.device("cpu")
CASES = [("mnist", "dense", 16), ("cifar10", "spatial", 64)]


def _conv_dtypes(module: torch.nn.Module) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    for m in module.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize(("name", "arch", "k"), CASES)
def test_bf16_and_fp32_agree_on_a_fixed_batch(name: str, arch: str, k: int) -> None:
    torch.manual_seed(0)
    cfg = LinkConfig(dataset=name, arch=arch, k=k, width=4)
    link = build_link(cfg).eval()
    eve = build_eavesdropper(cfg).eval()
    images = torch.rand(6, *((1, 28, 28) if name == "mnist" else (3, 32, 32)))
    outs = {}
    for precision in ("fp32", "bf16"):
        dtypes = _conv_dtypes(link)
        with torch.no_grad(), autocast(precision, CPU):
            out = link(images, generator=torch.Generator().manual_seed(1))
            eve_logits = eve(out.x, generator=torch.Generator().manual_seed(2))
        assert set(dtypes) == {torch.bfloat16 if precision == "bf16" else torch.float32}, (
            "autocast must reach the neural blocks"
        )
        # the waveform and the channel stay complex64, with unit power per sample in either precision
        assert out.x.dtype == torch.complex64 and out.y.dtype == torch.complex64
        torch.testing.assert_close(out.x.abs().pow(2).mean(1), torch.ones(6), rtol=1e-5, atol=1e-5)
        assert out.state.h.dtype == torch.complex64 and out.state.noise_var.dtype == torch.float32
        outs[precision] = (out, eve_logits)
    (a, eve_a), (b, eve_b) = outs["fp32"], outs["bf16"]
    assert not torch.equal(a.logits, b.logits.float()), "bf16 must actually change the arithmetic"
    torch.testing.assert_close(b.x, a.x, rtol=0, atol=0.05)
    # same channel draws (the noise does not depend on the precision)
    torch.testing.assert_close(b.state.h, a.state.h, rtol=0, atol=0)
    torch.testing.assert_close(b.logits.float(), a.logits, rtol=0, atol=0.1)
    torch.testing.assert_close(b.recon.float(), a.recon, rtol=0, atol=0.03)
    torch.testing.assert_close(eve_b.float(), eve_a, rtol=0, atol=0.1)


def test_resolve_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    from semgame import training

    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(training, "_native_bf16", lambda device, native=native: native)
        assert resolve_precision("auto", "cpu") == expected
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, bf16"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="precision"):
        LinkConfig(precision="half")
    assert "precision" in RUNTIME_KEYS  # a run may resume under another precision


def test_bf16_training_and_evaluation_end_to_end(synthetic_root: Path) -> None:
    torch.manual_seed(0)
    cfg = LinkConfig(
        dataset="mnist",
        k=8,
        width=4,
        precision="bf16",
        train_limit=128,
        test_limit=64,
        batch_size=64,
        data_root=str(synthetic_root),
    )
    train, test = load_data(cfg)
    link, eve = build_link(cfg), build_eavesdropper(cfg)
    twin = copy.deepcopy(link)
    stats = train_link_epoch(link, train, torch.optim.Adam(link.parameters(), lr=cfg.lr), cfg, 0, CPU)
    assert stats["loss"] == pytest.approx(stats["ce"] + cfg.recon_weight * stats["mse"], rel=1e-6)
    # the same epoch in fp32 (same weights, data order and channel draws) reports nearly the same losses
    ref = train_link_epoch(
        twin, train, torch.optim.Adam(twin.parameters(), lr=cfg.lr), cfg.replace(precision="fp32"), 0, CPU
    )
    for key in ("loss", "ce", "mse"):
        assert stats[key] == pytest.approx(ref[key], rel=0.05), key
    before = [p.detach().clone() for p in eve.parameters()]
    eve_stats = train_eavesdropper_epoch(
        eve,
        encoder_transmit(link),
        train,
        torch.optim.Adam(eve.parameters()),
        batch_size=64,
        seed=0,
        epoch=0,
        device=CPU,
        precision="bf16",
    )
    assert torch.isfinite(torch.tensor(eve_stats["loss"]))
    assert any(not torch.equal(p, q) for p, q in zip(before, eve.parameters()))
    m16 = evaluate(link, test, device=CPU, eve=eve, precision="bf16")
    m32 = evaluate(link, test, device=CPU, eve=eve, precision="fp32")
    assert m16["legit_acc"] == pytest.approx(m32["legit_acc"], abs=0.1)
    assert m16["legit_psnr"] == pytest.approx(m32["legit_psnr"], abs=0.5)


def test_cli_precision_flags(synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    common = [
        "--dataset",
        "mnist",
        "--k",
        "8",
        "--width",
        "4",
        "--epochs",
        "1",
        "--eve-epochs",
        "1",
        "--train-limit",
        "128",
        "--test-limit",
        "64",
        "--data-root",
        str(synthetic_root),
        "--quiet",
    ]
    with pytest.raises(SystemExit) as info:
        main(["train", "--run-dir", str(run_dir), *common, "--precision", "half"])
    assert info.value.code == 2 and "precision must be one of auto, fp32, bf16" in capsys.readouterr().err
    assert not run_dir.exists()
    assert main(["train", "--run-dir", str(run_dir), *common, "--precision", "fp32"]) == 0
    capsys.readouterr()
    results = {}
    for precision in ("fp32", "bf16"):
        assert main(["eval", "--run-dir", str(run_dir), "--precision", precision]) == 0
        results[precision] = json.loads(capsys.readouterr().out)
    assert results["bf16"]["legit_acc"] == pytest.approx(results["fp32"]["legit_acc"], abs=0.1)
    assert results["bf16"]["legit_psnr"] == pytest.approx(results["fp32"]["legit_psnr"], abs=0.5)
    assert results["bf16"] != results["fp32"]  # the flag reaches the evaluation
    # a run resumes (here: is recognised as finished) under another precision: it is a runtime key
    assert main(["train", "--run-dir", str(run_dir), *common, "--precision", "bf16"]) == 0


def test_onecycle_schedule_steps_per_batch_and_resumes_exactly(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_config(
        synthetic_root, width=4, eve_epochs=0, lr=4e-3, schedule="onecycle", train_limit=256, test_limit=64
    )
    link = build_link(cfg)
    opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
    sched = link_schedule(opt, cfg, 256)
    assert per_batch(sched) and opt.param_groups[0]["lr"] == pytest.approx(cfg.lr / 25)
    lrs = []
    for epoch in range(2):
        train, _ = load_data(cfg)
        train_link_epoch(link, train, opt, cfg, epoch, CPU, schedule=sched)
        lrs.append(opt.param_groups[0]["lr"])
    assert sched.last_epoch == 8  # 2 epochs x 4 batches
    assert lrs[0] > lrs[1] and lrs[1] < cfg.lr / 100  # past the peak after epoch 1, annealed at the end
    cosine = link_schedule(opt, cfg.replace(schedule="cosine"), 256)
    assert not per_batch(cosine) and isinstance(cosine, torch.optim.lr_scheduler.CosineAnnealingLR)
    # a one-cycle run interrupted after epoch 1 ends with the weights of an uninterrupted one
    import semgame.run as run_mod

    full = train_run(cfg, tmp_path / "full", quiet=True)
    real, calls = run_mod.train_link_epoch, [0]

    def stop_second(*args: object, **kwargs: object) -> dict:
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_mod, "train_link_epoch", stop_second)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "resumed", quiet=True)
    monkeypatch.setattr(run_mod, "train_link_epoch", real)
    again = train_run(cfg, tmp_path / "resumed", quiet=True)
    assert again["test"] == full["test"]
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["link"]
    b = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)["link"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("batches", [1, 2, 3, 4, 5, 8])
def test_onecycle_schedule_runs_on_any_number_of_batches(batches: int) -> None:
    # torch's OneCycleLR divided 0 by 0 on its first step with 4 batches in all (warm-up of exactly one batch)
    cfg = LinkConfig(schedule="onecycle", epochs=1, batch_size=16, lr=2e-3)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = link_schedule(opt, cfg, 16 * batches)
    used = []
    for _ in range(batches):
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(0 < lr <= cfg.lr for lr in used), used
    if batches in (4, 8):  # (torch places the peak at batch 0.25 * batches - 1: whole here)
        assert used[0] == pytest.approx(cfg.lr / 25) and used[1] == pytest.approx(cfg.lr), used


def test_env_precision_reaches_the_receiver_only() -> None:
    import numpy as np

    from semgame.data import synthetic_dataset
    from semgame.envs import SemComVectorEnv

    images = synthetic_dataset("mnist", 64, seed=2)
    out = {}
    for precision in ("fp32", "bf16"):
        venv = SemComVectorEnv(16, "mnist", images=images, precision=precision)
        obs, _ = venv.reset(seed=0)
        step = venv.step(np.arange(16) % 10)
        out[precision] = (obs, step)
    (obs32, s32), (obs16, s16) = out["fp32"], out["bf16"]
    # the channel and the cached waveforms stay float32: observations are bit-identical
    assert np.array_equal(obs32, obs16) and np.array_equal(s32[0], s16[0])
    assert np.array_equal(s32[1], s16[1])  # the eavesdropper's reward does not involve the receiver
    assert not np.array_equal(s32[4]["psnr"], s16[4]["psnr"])  # the decoder ran in bf16
    np.testing.assert_allclose(s16[4]["psnr"], s32[4]["psnr"], atol=0.5)
    assert (s16[4]["legit_guess"] == s32[4]["legit_guess"]).mean() >= 0.9
    with pytest.raises(ValueError, match="precision must be one of"):
        SemComVectorEnv(4, "mnist", images=images, precision="fp16")
