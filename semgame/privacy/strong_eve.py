"""A stronger eavesdropper for the honest evaluation: its own CSI as input, a normalised MLP, early stopping.

:class:`CSIEavesdropper` receives the transmission through its own channel (like
:class:`~semgame.link.NeuralEavesdropper`) and classifies the concatenation of the front-end output
``y`` (``2k`` reals, equalised under perfect CSI) and its per-symbol effective SNR
``10 log10(|h|^2 / N0) / 10`` (``k`` reals: its CSI), with ``depth`` hidden layers of ``hidden`` units,
each ``Linear -> LayerNorm -> ReLU``. :func:`~semgame.privacy.leakage.fresh_eavesdroppers` trains it with
``model="strong"``: up to ``epochs`` epochs (15 suggested) with early stopping on a held-out part of
its training transmissions.

Example:
    >>> import torch
    >>> from semgame.channels import FadingChannel
    >>> eve = CSIEavesdropper(FadingChannel(snr_db=0.0), k=8)
    >>> eve(torch.randn(4, 8, dtype=torch.complex64)).shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semgame.channels import FadingChannel, SNRSpec, complex_to_real

__all__ = ["CSIEavesdropper"]


class CSIEavesdropper(nn.Module):
    """Own channel, then an MLP on ``[y (2k reals), effective SNR per symbol (k)]``.

    Input: the transmitted waveform ``[batch, k] complex64``. Output: logits ``[batch, num_classes]``.
    """

    def __init__(
        self, channel: FadingChannel, k: int, num_classes: int = 10, hidden: int = 512, depth: int = 3
    ) -> None:
        super().__init__()
        self.channel = channel
        layers: list[nn.Module] = []
        width = 3 * k
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor, snr_db: SNRSpec | None = None, generator: torch.Generator | None = None) -> Tensor:
        y, state = self.channel(x, snr_db=snr_db, generator=generator)
        return self.mlp(torch.cat((complex_to_real(y), state.effective_snr_db() / 10.0), dim=-1))
