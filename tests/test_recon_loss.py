"""The reconstruction term of the link loss (``recon_loss``: mean squared error or minus the per-image PSNR)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_config

from semgame.config import ConfigError, from_dict
from semgame.link import build_link
from semgame.metrics import psnr
from semgame.privacy.defences import NoDefence, encode, finetune_receiver
from semgame.privacy.minmax import task_loss
from semgame.run import load_data, results_config, train_run
from semgame.seeds import Stream, seeded_generator
from semgame.training import recon_term, train_link_epoch

CPU = torch.device("cpu")


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(6, 3, 8, 8, generator=g)
    recon = (images + 0.05 * torch.randn(6, 3, 8, 8, generator=g) * torch.arange(1, 7).view(6, 1, 1, 1)).clamp(0, 1)
    return recon, images


def test_recon_term_values() -> None:
    recon, images = _pair()
    assert torch.equal(recon_term(recon, images), F.mse_loss(recon, images))  # the mse path is unchanged, bit for bit
    per_mse = recon_term(recon, images, "mse", reduction="none")
    torch.testing.assert_close(per_mse, ((recon - images) ** 2).mean(dim=(1, 2, 3)))
    per_psnr = recon_term(recon, images, "psnr", reduction="none")
    torch.testing.assert_close(per_psnr, -10 * torch.log10(1 / per_mse))
    assert torch.equal(per_psnr, -psnr(recon, images))
    torch.testing.assert_close(recon_term(recon, images, "psnr"), per_psnr.mean())
    # the images differ in error, so mean(-PSNR) is not -PSNR(mean MSE)
    assert abs(float(recon_term(recon, images, "psnr")) + 10 * torch.log10(1 / per_mse.mean()).item()) > 0.1


def test_recon_term_rejects_unknown_kinds() -> None:
    recon, images = _pair()
    with pytest.raises(ConfigError, match="recon_loss must be one of mse, psnr; got 'l1'"):
        recon_term(recon, images, "l1")
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'none'"):
        recon_term(recon, images, "mse", reduction="sum")


def test_config_validates_recon_loss_and_old_configs_mean_mse(synthetic_root: Path) -> None:
    with pytest.raises(ConfigError, match="recon_loss must be one of mse, psnr; got 'MSE'"):
        tiny_config(synthetic_root, recon_loss="MSE")
    assert from_dict({"dataset": "mnist", "k": 8}).recon_loss == "mse"
    cfg = tiny_config(synthetic_root)
    # a run written before the key existed resumes: "mse" is left out of what a checkpoint must match
    assert "recon_loss" not in results_config(cfg)
    assert results_config(cfg.replace(recon_loss="psnr"))["recon_loss"] == "psnr"


def test_train_link_epoch_minimises_ce_plus_weighted_minus_psnr(synthetic_root: Path) -> None:
    cfg = tiny_config(synthetic_root, recon_loss="psnr", recon_weight=0.3, train_limit=64, batch_size=64)
    train, _ = load_data(cfg)
    link = build_link(cfg)
    twin = copy.deepcopy(link)
    stats = train_link_epoch(link, train, torch.optim.Adam(link.parameters(), lr=cfg.lr), cfg, 0, CPU)
    # one batch: replay its forward pass on the untrained twin with the same data order and channel draws
    order = torch.randperm(64, generator=seeded_generator(cfg.seed, Stream.LINK_SHUFFLE, 0))
    images, labels = (t[order] for t in train.tensors)
    twin.train()
    with torch.no_grad():
        out = twin(images, snr_db=cfg.snr_db, generator=seeded_generator(cfg.seed, Stream.LINK_NOISE, 0))
    minus_psnr = float(-psnr(out.recon, images).mean())
    assert stats["ce"] == pytest.approx(float(F.cross_entropy(out.logits, labels)), rel=1e-5)
    assert stats["mse"] == pytest.approx(float(F.mse_loss(out.recon, images)), rel=1e-5)  # still logged as MSE
    assert stats["loss"] == pytest.approx(stats["ce"] + 0.3 * minus_psnr, rel=1e-5)
    assert stats["loss"] != pytest.approx(stats["ce"] + 0.3 * stats["mse"], rel=1e-3)


def test_minmax_task_loss_follows_recon_loss() -> None:
    recon, images = _pair()
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(6)
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    ce = F.cross_entropy(logits, labels, reduction="none")
    # the mse losses are the expressions used before recon_loss existed, bit for bit
    assert torch.equal(
        task_loss(logits, recon, images, labels, 2.0), F.cross_entropy(logits, labels) + 2.0 * F.mse_loss(recon, images)
    )
    old_weighted = ((ce + 2.0 * (recon - images).square().flatten(1).mean(1)) * weight).mean()
    assert torch.equal(task_loss(logits, recon, images, labels, 2.0, weight), old_weighted)
    torch.testing.assert_close(
        task_loss(logits, recon, images, labels, 0.1, weight, "psnr"),
        ((ce - 0.1 * psnr(recon, images)) * weight).mean(),
    )
    torch.testing.assert_close(
        task_loss(logits, recon, images, labels, 0.1, None, "psnr"), ce.mean() - 0.1 * psnr(recon, images).mean()
    )


def test_finetune_receiver_uses_its_recon_loss(synthetic_root: Path) -> None:
    cfg = tiny_config(synthetic_root, train_limit=64)
    train, _ = load_data(cfg)
    link = build_link(cfg)
    enc = encode(link, train)
    nonces = torch.arange(len(enc))

    def tuned(**kw: object) -> list[torch.Tensor]:
        rx = finetune_receiver(link, enc.x, enc, NoDefence(), nonces, recon_weight=0.5, seed=3, **kw)
        return [p.detach().clone() for p in rx.parameters()]

    mse, default, minus_psnr = tuned(recon_loss="mse"), tuned(), tuned(recon_loss="psnr")
    assert all(torch.equal(a, b) for a, b in zip(mse, default))
    assert not all(torch.allclose(a, b) for a, b in zip(mse, minus_psnr))


def test_train_run_with_psnr_loss_records_it_and_resumes(synthetic_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_root, recon_loss="psnr", recon_weight=0.05, epochs=1, eve_epochs=0, train_limit=64)
    metrics = train_run(cfg, tmp_path / "run", quiet=True)
    assert metrics["config"]["recon_loss"] == "psnr"
    assert 'recon_loss = "psnr"' in (tmp_path / "run" / "config.toml").read_text()
    with pytest.raises(ConfigError, match="different config"):
        train_run(cfg.replace(recon_loss="mse"), tmp_path / "run", quiet=True)
