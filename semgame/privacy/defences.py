"""Defences as transmitter/receiver pairs acting on precomputed encoder waveforms.

A frozen legitimate link's encoder output ``x`` is computed once per data set (:func:`encode`);
a :class:`Defence` then turns ``x`` into what goes on the air (``transmit``) and tells the
legitimate receiver how to undo its side of it (``receive``, before the link's decoder heads).
Every transmission carries a public integer *nonce* (a counter): the keyed defence derives its mask
from it, the others ignore it.

* :class:`NoDefence` — the undefended link.
* :class:`KeyedDefence` — :class:`~semgame.privacy.keyed.KeyedPerturbation`, removed with the key.
* :class:`AdversarialDefence` — :class:`~semgame.privacy.perturbation.AdversarialPerturbation`;
  the legitimate receiver is unaware (its own weights) or fine-tuned on perturbed waveforms
  (:func:`finetune_receiver`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semgame.channels import ChannelState
from semgame.link import SemanticLink
from semgame.privacy.keyed import KeyedPerturbation
from semgame.privacy.perturbation import AdversarialPerturbation, psr_ratio
from semgame.seeds import Stream, seeded_generator

__all__ = ["Encoded", "encode", "Defence", "NoDefence", "KeyedDefence", "AdversarialDefence", "finetune_receiver"]


@dataclass
class Encoded:
    """Clean waveforms of a data set under a frozen encoder: ``x [N, k]``, ``labels [N]``, ``images``."""

    x: Tensor
    labels: Tensor
    images: Tensor

    def __len__(self) -> int:
        return len(self.labels)


@torch.no_grad()
def encode(link: SemanticLink, data: torch.utils.data.TensorDataset, batch_size: int = 1024) -> Encoded:
    """Run the (eval-mode) encoder over a ``TensorDataset(images, labels)`` once."""
    link.encoder.eval()
    images, labels = data.tensors
    dev = next(link.parameters()).device
    xs = [link.encoder(images[i : i + batch_size].to(dev)) for i in range(0, len(labels), batch_size)]
    return Encoded(torch.cat(xs), labels.to(dev), images)


class Defence:
    """Interface: ``transmit(x, labels, nonces) -> x_tx``; ``receive(link, y, state, nonces) -> y'``."""

    name = "none"
    kind = "none"
    psr_db: float | None = None

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        return x

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return y

    def receiver(self, link: SemanticLink) -> nn.Module:
        """The legitimate decoder heads used behind this defence."""
        return link.receiver

    @property
    def tx_power(self) -> float:
        """Average transmitted power relative to the undefended link: ``c^2 (1 + rho)`` with a
        perturbation (exact for keyed and FGM, an upper bound for PGD / universal), else 1."""
        pert = getattr(self, "pert", None)
        return 1.0 if pert is None else pert.c**2 * (1.0 + psr_ratio(pert.psr_db))

    def describe(self) -> dict:
        return {"defence": self.name, "kind": self.kind, "psr_db": self.psr_db, "tx_power": self.tx_power}


class NoDefence(Defence):
    """The undefended link."""


class KeyedDefence(Defence):
    """Keyed mask on the air, removed by the legitimate receiver with key + CSI."""

    kind = "keyed"

    def __init__(self, pert: KeyedPerturbation, name: str | None = None) -> None:
        self.pert = pert
        self.psr_db = pert.psr_db
        self.name = name or f"keyed PSR {pert.psr_db:+g} dB ({pert.power})"

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        return self.pert(x, nonces)

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return self.pert.remove(y, state, nonces, csi=link.channel.csi, equalizer=link.channel.equalizer)



class AdversarialDefence(Defence):
    """Adversarial perturbation; the receiver divides by the known power scale ``c``."""

    kind = "adversarial"

    def __init__(self, pert: AdversarialPerturbation, name: str | None = None, receiver: nn.Module | None = None) -> None:
        self.pert = pert
        self.psr_db = pert.psr_db
        self._receiver = receiver
        self.name = name or (f"{pert.method}-{pert.scope}-{pert.objective} PSR {pert.psr_db:+g} dB"
                             + (" (legit fine-tuned)" if receiver is not None else ""))

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        gen = seeded_generator(int(nonces[0]) if len(nonces) else 0, Stream.ADVERSARIAL_CRAFT, device=x.device)
        return self.pert(x, labels, gen)

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return y / self.pert.c

    def receiver(self, link: SemanticLink) -> nn.Module:
        return self._receiver if self._receiver is not None else link.receiver


    def describe(self) -> dict:
        d = super().describe()
        d.update(method=self.pert.method, scope=self.pert.scope, objective=self.pert.objective,
                 mu=self.pert.mu, legit_finetuned=self._receiver is not None)
        return d


def finetune_receiver(
    link: SemanticLink,
    x_tx: Tensor,
    enc: Encoded,
    defence: Defence,
    nonces: Tensor,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 128,
    recon_weight: float = 1.0,
    seed: int = 0,
) -> nn.Module:
    """A copy of the legitimate receiver fine-tuned on the defended waveforms ``x_tx`` of ``enc``.

    Loss: cross-entropy + ``recon_weight`` * MSE, through the legitimate channel (seeded). The
    link itself is left untouched.
    """
    receiver = copy.deepcopy(link.receiver)
    receiver.requires_grad_(True)
    receiver.train()
    opt = torch.optim.Adam(receiver.parameters(), lr=lr)
    dev = x_tx.device
    for epoch in range(epochs):
        order = torch.randperm(len(enc), generator=seeded_generator(seed, Stream.FINETUNE_SHUFFLE, epoch))
        noise = seeded_generator(seed, Stream.FINETUNE_NOISE, epoch, device=dev)
        for start in range(0, len(enc), batch_size):
            idx = order[start : start + batch_size]
            y, state = link.channel(x_tx[idx.to(dev)], generator=noise)
            y = defence.receive(link, y, state, nonces[idx])
            logits, recon = receiver(y)
            images = enc.images[idx].to(dev)
            loss = F.cross_entropy(logits, enc.labels[idx.to(dev)]) + recon_weight * F.mse_loss(recon, images)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    receiver.eval()
    receiver.requires_grad_(False)
    return receiver
