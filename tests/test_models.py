"""Tests for semgame.models and semgame.link: shapes, dtypes, power, gradient flow, both archs and old configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_config
from torch import nn

import semgame
from semgame.channels import FadingChannel, real_to_complex
from semgame.config import ConfigError, LinkConfig, from_dict
from semgame.io import save_checkpoint
from semgame.link import build_eavesdropper, build_link
from semgame.loader import load_run
from semgame.models import (
    Encoder,
    LatentClassifier,
    Receiver,
    ReconstructionDecoder,
    SpatialClassifier,
    SpatialDecoder,
    SpatialEncoder,
    _latent_map,
    count_parameters,
    latent_layout,
)
from semgame.run import results_config, train_run
from semgame.training import freeze

torch.set_num_threads(1)

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("k", [1, 8, 37])
def test_block_shapes_and_dtypes(name: str, k: int) -> None:
    torch.manual_seed(0)
    shape = SHAPES[name]
    images = torch.rand(3, *shape)
    enc = Encoder(shape, k, width=4)
    x = enc(images)
    assert x.shape == (3, k) and x.dtype == torch.complex64
    logits, recon = Receiver(shape, k, num_classes=10, width=4)(x)
    assert logits.shape == (3, 10) and logits.dtype == torch.float32
    assert recon.shape == (3, *shape) and recon.dtype == torch.float32
    assert recon.min() >= 0 and recon.max() <= 1
    assert LatentClassifier(k, 7)(x).shape == (3, 7)
    assert ReconstructionDecoder(shape, k, width=4)(x).shape == (3, *shape)


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("k", [2, 16, 64])
def test_encoder_output_has_unit_power_per_sample(name: str, k: int) -> None:
    torch.manual_seed(1)
    enc = Encoder(SHAPES[name], k, width=4)
    images = torch.rand(5, *SHAPES[name])
    images[0] = 0.0  # a constant image still gets unit power
    for mode in (enc.train, enc.eval):
        mode()
        power = enc(images).abs().pow(2).mean(dim=1)
        torch.testing.assert_close(power, torch.ones(5), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [0, -3])
def test_nonpositive_k_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        Encoder((1, 28, 28), k)


@pytest.mark.parametrize("block", [True, False])
def test_gradients_reach_encoder_through_fading_channel(block: bool) -> None:
    torch.manual_seed(2)
    shape, k = SHAPES["mnist"], 8
    enc, rx = Encoder(shape, k, width=4), Receiver(shape, k, width=4)
    channel = FadingChannel(snr_db=10.0, fading="rayleigh", block=block, csi="perfect")
    images, labels = torch.rand(6, *shape), torch.arange(6) % 10
    y, _ = channel(enc(images), generator=torch.Generator().manual_seed(0))
    logits, recon = rx(y)
    loss = torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.mse_loss(recon, images)
    loss.backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert enc.head.weight.grad.abs().sum() > 0
    assert enc.trunk[0][0].weight.grad.abs().sum() > 0  # first conv, furthest from the loss


@pytest.mark.parametrize("name", list(SHAPES))
def test_built_link_and_eavesdropper(name: str) -> None:
    torch.manual_seed(3)
    cfg = LinkConfig(dataset=name, k=12, width=4, eve_snr_db=0.0)
    link, eve = build_link(cfg), build_eavesdropper(cfg)
    out = link(torch.rand(4, *SHAPES[name]), generator=torch.Generator().manual_seed(0))
    assert out.x.shape == (4, 12) and out.x.dtype == torch.complex64
    assert out.y.shape == (4, 12)
    assert out.logits.shape == (4, 10) and out.recon.shape == (4, *SHAPES[name])
    assert eve(out.x).shape == (4, 10)
    assert eve.channel.awgn.snr_db == 0.0 and link.channel.awgn.snr_db == 10.0
    # the eavesdropper is the legitimate classifier's design behind its own channel (no parameters there)
    assert count_parameters(eve) == count_parameters(link.receiver.classifier)
    parts = (link.encoder, link.receiver.classifier, link.receiver.decoder)
    assert count_parameters(link) == sum(count_parameters(m) for m in parts)
    frozen = count_parameters(freeze(link.encoder))  # trainable parameters only
    assert frozen == 0 and count_parameters(link) == sum(count_parameters(m) for m in parts[1:])
    assert count_parameters(nn.Linear(3, 2)) == 8


# --------------------------------------------------------------------------- arch="spatial"

SPATIAL = [("cifar10", 64, 2, 8), ("cifar10", 256, 8, 8), ("mnist", 49, 2, 7)]


@pytest.mark.parametrize(("name", "k", "channels", "side"), SPATIAL)
def test_spatial_blocks_shapes_layout_and_power(name: str, k: int, channels: int, side: int) -> None:
    torch.manual_seed(4)
    shape = SHAPES[name]
    assert latent_layout("spatial", shape, k) == (channels, side)
    enc = SpatialEncoder(shape, k, width=4)
    assert enc.head.out_channels == channels
    images = torch.rand(5, *shape)
    images[0] = 0.0  # a constant image still gets unit power
    maps: list[torch.Tensor] = []
    enc.head.register_forward_hook(lambda mod, inp, out: maps.append(out.detach()))
    for mode in (enc.train, enc.eval):
        mode()
        maps.clear()
        x = enc(images)
        assert x.shape == (5, k) and x.dtype == torch.complex64
        torch.testing.assert_close(x.abs().pow(2).mean(dim=1), torch.ones(5), rtol=1e-5, atol=1e-5)
        # the waveform *is* the head's feature map (flattened, I/Q pairs), scaled per sample; the
        # receiver folds it back into the same map
        z = maps[0]
        assert z.shape == (5, channels, side, side)
        folded = _latent_map(x, channels, side)
        scale = z.flatten(1).norm(dim=1) / folded.flatten(1).norm(dim=1)
        torch.testing.assert_close(folded * scale[:, None, None, None], z, rtol=1e-4, atol=1e-5)
    rx = Receiver(shape, k, num_classes=10, width=4, arch="spatial")
    logits, recon = rx(x)
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert recon.shape == (5, *shape) and recon.dtype == torch.float32 and recon.is_contiguous()
    assert recon.min() >= 0 and recon.max() <= 1
    assert isinstance(rx.classifier, SpatialClassifier) and isinstance(rx.decoder, SpatialDecoder)


def test_spatial_receiver_sees_the_spatial_structure() -> None:
    # a perturbation of one latent position changes the decoded image mostly near that position
    torch.manual_seed(5)
    shape, k = SHAPES["cifar10"], 256
    dec = SpatialDecoder(shape, k, width=4).eval()
    y = torch.randn(1, k, dtype=torch.complex64)
    bumped = _latent_map(y, 8, 8).clone()
    bumped[0, :, 0, 0] += 5.0  # top-left latent pixel, all channels
    y2 = real_to_complex(bumped.reshape(1, -1))
    diff = (dec(y2) - dec(y)).abs().sum(1)[0]  # [32, 32]
    assert diff[:8, :8].sum() > 10 * diff[16:, 16:].sum()


@pytest.mark.parametrize(("name", "k"), [("cifar10", 100), ("cifar10", 16), ("mnist", 32)])
def test_spatial_k_that_does_not_fill_the_map_is_a_clear_config_error(name: str, k: int) -> None:
    with pytest.raises(ConfigError, match=r"multiple of (32|49)") as info:
        LinkConfig(dataset=name, arch="spatial", k=k)
    assert "\n" not in str(info.value) and f"k={k}" in str(info.value)
    with pytest.raises(ValueError, match="multiple of"):
        SpatialEncoder(SHAPES[name], k)
    with pytest.raises(ConfigError, match="arch must be one of dense, spatial"):
        LinkConfig(arch="conv")
    LinkConfig(dataset=name, k=k)  # any k is fine for the dense arch


@pytest.mark.parametrize(
    ("arch", "name", "k"), [("dense", "cifar10", 32), ("spatial", "cifar10", 64), ("spatial", "mnist", 49)]
)
def test_eavesdropper_gets_the_legitimate_classifier_design(arch: str, name: str, k: int) -> None:
    cfg = LinkConfig(dataset=name, arch=arch, k=k, width=4)
    link, eve = build_link(cfg), build_eavesdropper(cfg)
    legit_cls = link.receiver.classifier
    assert type(eve.classifier) is type(legit_cls)
    assert [p.shape for p in eve.classifier.parameters()] == [p.shape for p in legit_cls.parameters()]
    expected = {
        "dense": (Encoder, LatentClassifier, ReconstructionDecoder),
        "spatial": (SpatialEncoder, SpatialClassifier, SpatialDecoder),
    }[arch]
    assert (type(link.encoder), type(legit_cls), type(link.receiver.decoder)) == expected
    out = link(torch.rand(3, *SHAPES[name]), generator=torch.Generator().manual_seed(0))
    assert eve(out.x).shape == (3, 10)


def test_gradients_reach_spatial_encoder_through_fading_channel() -> None:
    torch.manual_seed(6)
    cfg = LinkConfig(dataset="cifar10", arch="spatial", k=64, width=4)
    link = build_link(cfg)
    images, labels = torch.rand(4, 3, 32, 32), torch.arange(4)
    out = link(images, generator=torch.Generator().manual_seed(0))
    (torch.nn.functional.cross_entropy(out.logits, labels) + torch.nn.functional.mse_loss(out.recon, images)).backward()
    first = link.encoder.trunk[0].weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


# --------------------------------------------------------------------------- backward compatibility


def test_config_without_new_fields_is_the_dense_arch() -> None:
    # written before `arch`, `precision`, `schedule` and `recon_loss` existed
    old = {"dataset": "cifar10", "k": 32, "width": 16, "epochs": 3}
    cfg = from_dict(old)
    assert cfg.arch == "dense" and cfg.precision == "auto" and cfg.schedule == "cosine" and cfg.recon_loss == "mse"
    assert isinstance(build_link(cfg).encoder, Encoder)


@pytest.mark.parametrize("name", ["mnist", "cifar10", "fashion_mnist"])
def test_shipped_default_weights_load_as_dense(name: str) -> None:
    # (written before `arch` existed: their configs have no such key)
    cfg, link, eve = load_run(Path(semgame.__file__).parent / "weights" / f"{name}.pt")
    assert cfg.arch == "dense" and isinstance(link.encoder, Encoder) and isinstance(eve.classifier, LatentClassifier)


def test_checkpoint_written_before_arch_existed_still_resumes(synthetic_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_root, width=4, epochs=1, eve_epochs=0, train_limit=64, test_limit=64)
    run_dir = tmp_path / "run"
    train_run(cfg, run_dir, quiet=True)
    # make it look like a run checkpointed (unfinished) by a semgame without `arch` / `precision`
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    for key in ("arch", "precision", "schedule", "recon_loss"):
        ckpt["config"].pop(key)
        ckpt["results_config"].pop(key, None)
    save_checkpoint(ckpt, run_dir / "checkpoint.pt")
    (run_dir / "metrics.json").unlink()
    (run_dir / "model.pt").unlink()
    metrics = train_run(cfg, run_dir, quiet=True)  # resumes: no "different config" error
    assert [h["phase"] for h in metrics["history"]] == ["link"]
    # a spatial run is a different run: its results config names the arch
    assert "arch" not in results_config(cfg) and results_config(cfg.replace(arch="spatial", k=49))["arch"] == "spatial"
    with pytest.raises(ConfigError, match="different config"):
        train_run(cfg.replace(arch="spatial", k=49), run_dir, quiet=True)


def test_shipped_spatial_alternative_loads_as_spatial() -> None:
    from semgame.envs import shipped_link

    cfg, link, eve = load_run(shipped_link("cifar10-spatial"))
    assert (cfg.dataset, cfg.arch, cfg.k) == ("cifar10", "spatial", 256)
    assert isinstance(link.encoder, SpatialEncoder) and isinstance(eve.classifier, SpatialClassifier)
    assert all(t.dtype == torch.float32 for t in link.state_dict().values() if t.is_floating_point())
    with pytest.raises(ValueError, match="no shipped link named 'cifar10-big'"):
        shipped_link("cifar10-big")
