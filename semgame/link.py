"""End-to-end links: transmitter -> channel -> receiver, for the legitimate pair and the eavesdropper.

:class:`SemanticLink` composes an encoder, a :class:`~semgame.channels.FadingChannel` and a
:class:`~semgame.models.Receiver`. :class:`NeuralEavesdropper` is an independent channel (its own
SNR and fading realisation) followed by a classifier. Both are built from a
:class:`~semgame.config.LinkConfig` with :func:`build_link` / :func:`build_eavesdropper`; the
config's ``arch`` picks the blocks (:mod:`semgame.models`), and the eavesdropper always gets the
same classifier design as the legitimate receiver, so it is never handicapped by a weaker one.

The channel always runs in float32/complex64: :class:`SemanticLink` and :class:`NeuralEavesdropper`
switch autocast off around it, so a bf16 autocast context (:func:`semgame.training.autocast`)
reaches only the neural blocks.

Defences (perturbation layers between encoder and channel, :mod:`semgame.privacy`) compose the
three parts themselves: ``link.encoder``, ``link.channel`` and ``link.receiver``.

Example:
    >>> import torch
    >>> from semgame.config import LinkConfig
    >>> cfg = LinkConfig(dataset="mnist", k=8)
    >>> link, eve = build_link(cfg), build_eavesdropper(cfg)
    >>> out = link(torch.rand(2, 1, 28, 28))
    >>> out.logits.shape, out.recon.shape, eve(out.x).shape
    (torch.Size([2, 10]), torch.Size([2, 1, 28, 28]), torch.Size([2, 10]))
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from semgame.channels import ChannelState, FadingChannel, SNRSpec
from semgame.config import LinkConfig
from semgame.data import dataset_info
from semgame.models import Receiver, make_classifier, make_encoder

__all__ = ["LinkOutput", "SemanticLink", "NeuralEavesdropper", "build_link", "build_eavesdropper", "make_channel"]


@dataclass
class LinkOutput:
    """What one pass through a link produces.

    ``x``: transmitted waveform ``[batch, k] complex64``; ``y``: what the receiver decodes
    (equalised under perfect CSI); ``state``: the channel realisation; ``logits``
    ``[batch, classes]``; ``recon`` ``[batch, C, H, W]``.
    """

    x: Tensor
    y: Tensor
    state: ChannelState
    logits: Tensor
    recon: Tensor


class SemanticLink(nn.Module):
    """Transmitter encoder, legitimate channel and multi-task legitimate receiver.

    Input: images ``[batch, C, H, W] float32`` in [0, 1]. Output: :class:`LinkOutput`.
    """

    def __init__(self, encoder: nn.Module, channel: FadingChannel, receiver: Receiver) -> None:
        super().__init__()
        self.encoder, self.channel, self.receiver = encoder, channel, receiver

    def forward(
        self,
        images: Tensor,
        snr_db: SNRSpec | None = None,
        generator: torch.Generator | None = None,
    ) -> LinkOutput:
        x = self.encoder(images)
        with fp32_channel(x):
            y, state = self.channel(x, snr_db=snr_db, generator=generator)
        logits, recon = self.receiver(y)
        return LinkOutput(x=x, y=y, state=state, logits=logits, recon=recon)


class NeuralEavesdropper(nn.Module):
    """An eavesdropper: its own fading channel and a classifier of what it receives.

    Input: the transmitted waveform ``[batch, k] complex64``. Output: logits ``[batch, classes]``.
    """

    def __init__(self, channel: FadingChannel, classifier: nn.Module) -> None:
        super().__init__()
        self.channel, self.classifier = channel, classifier

    def forward(self, x: Tensor, snr_db: SNRSpec | None = None, generator: torch.Generator | None = None) -> Tensor:
        with fp32_channel(x):
            y, _ = self.channel(x, snr_db=snr_db, generator=generator)
        return self.classifier(y)


def fp32_channel(x: Tensor) -> contextlib.AbstractContextManager:
    """Autocast switched off (on ``x``'s device) for the channel: it computes in complex64 always."""
    return torch.autocast(x.device.type, enabled=False)


def make_channel(cfg: LinkConfig, snr_db: float | None = None) -> FadingChannel:
    """The channel a config describes, at ``snr_db`` (default: the legitimate SNR)."""
    return FadingChannel(
        snr_db=cfg.snr_db if snr_db is None else snr_db,
        fading=cfg.fading,
        block=cfg.block,
        csi=cfg.csi,
        equalizer=cfg.equalizer,
    )


def build_link(cfg: LinkConfig) -> SemanticLink:
    """A freshly initialised :class:`SemanticLink` for a config (blocks of ``cfg.arch``)."""
    info = dataset_info(cfg.dataset)
    return SemanticLink(
        make_encoder(cfg.arch, info.shape, cfg.k, cfg.width),
        make_channel(cfg),
        Receiver(info.shape, cfg.k, info.num_classes, cfg.width, arch=cfg.arch),
    )


def build_eavesdropper(cfg: LinkConfig) -> NeuralEavesdropper:
    """A freshly initialised eavesdropper on its own channel at ``cfg.eve_snr`` (same CSI as legit).

    Its classifier is the legitimate receiver's design for ``cfg.arch`` and ``cfg.width``
    (:func:`semgame.models.make_classifier`): the eavesdropper is never handicapped by a weaker one.
    """
    info = dataset_info(cfg.dataset)
    classifier = make_classifier(cfg.arch, info.shape, cfg.k, info.num_classes, cfg.width)
    return NeuralEavesdropper(make_channel(cfg, cfg.eve_snr), classifier)
