"""Tests for semgame.models and semgame.link: shapes, dtypes, power and gradient flow."""

from __future__ import annotations

import pytest
import torch

from semgame.channels import FadingChannel
from semgame.config import LinkConfig
from semgame.link import build_eavesdropper, build_link
from semgame.models import Encoder, LatentClassifier, ReconstructionDecoder, Receiver, count_parameters

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
    assert count_parameters(link) > 0 and count_parameters(eve) > 0
