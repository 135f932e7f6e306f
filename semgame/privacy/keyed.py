"""Keyed perturbation: a secret shared by transmitter and legitimate receiver.

The transmitter adds a pseudo-random mask derived from a secret ``key`` and a public per-transmission
counter (the *nonce*); the legitimate receiver regenerates the same mask and removes it with its
channel state information; an eavesdropper knows the nonce and the scheme, but not the key.

**Mask.** For nonce ``n`` the mask is ``p = sqrt(rho) * normalize_power(g)`` with ``g ~ CN(0, I)``
drawn from the AES-256-CTR key stream of ``(key, n)`` (:class:`~semgame.privacy.keystream.KeyStream`,
purpose ``"mask"``), so every sample of the transmission has ``||p||^2 = rho * k`` exactly
(``PSR = 10 log10 rho`` dB, per sample). A batch sample is one transmission with its own nonce
(``[batch]`` nonces for a batch); a nonce must never repeat under a key (a repeated nonce repeats the
mask: the difference of the two transmissions is then mask-free).

**Transmission.** ``x_tx = c (x + p)`` (:class:`~semgame.privacy.perturbation.PSRBudget`) with ``c = 1`` (``power="add"``, default) or
``c = 1 / sqrt(1 + rho)`` (``power="fixed"``), see :mod:`semgame.privacy.perturbation`.

**Removal.** The legitimate channel gives ``y_raw = h x_tx + n``. The receiver knows ``h`` (its CSI),
``c`` and ``p``. Whatever linear per-symbol processing ``y = G(h) y_raw`` the channel's receiver
front-end applies, the mask reaches the decoder as ``G(h) h c p``, so

    ``y_clean = (y - A c p) / c``,  with ``A = G(h) h`` =
    ``h`` (no CSI, raw output), ``1`` (zero forcing), ``|h|^2 / (|h|^2 + N0)`` (MMSE).

With ``power="add"`` this returns *exactly* the undefended front-end output ``G(h) (h x + n)`` for
the same fading and noise draw (up to float rounding), so the legitimate receiver needs no
retraining. With ``power="fixed"`` it returns ``A x + G n / c``: the noise is ``1 + rho`` times
stronger than undefended. The eavesdropper cannot cancel ``p``; for it the mask is extra noise of
power ``rho`` relative to the signal (after its own equaliser).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semgame.channels import ChannelState
from semgame.config import ConfigError
from semgame.privacy.keystream import KeyStream, MissingKeyError, nonce_array
from semgame.privacy.perturbation import POWER_MODES, PSRBudget, check_psr

__all__ = ["KeyedPerturbation", "MissingKeyError", "mask_gain"]


def mask_gain(state: ChannelState, csi: str, equalizer: str) -> Tensor:
    """``A = G(h) h``: the complex gain with which a transmitted component reaches the decoder."""
    h = state.h
    if csi == "none":
        return h
    if equalizer == "zf":
        return torch.ones_like(h)
    gain = h.real.square() + h.imag.square()
    return (gain / (gain + state.noise_var.unsqueeze(-1))).to(h.dtype)


class KeyedPerturbation(nn.Module):
    """Key-derived additive mask, removable by the key holder (see the module docstring).

    Args:
        psr_db: budget in dB within :data:`~semgame.privacy.perturbation.PSR_RANGE_KEYED`.
        key: the shared secret (int, str or bytes). ``None`` is refused.
        power: ``"add"`` (default) or ``"fixed"``.
    """

    def __init__(self, psr_db: float, key: int | str | bytes | None, power: str = "add") -> None:
        super().__init__()
        self.psr_db = check_psr(psr_db, "keyed")
        self._stream = KeyStream(key, "mask")
        if power not in POWER_MODES:
            raise ConfigError(f"power must be one of {', '.join(POWER_MODES)}; got {power!r}")
        self.power = power
        self.budget = PSRBudget(self.psr_db, power)
        self.c = self.budget.c

    def mask(self, nonces: Tensor | list[int] | int, k: int, device: torch.device | str = "cpu") -> Tensor:
        """Masks ``p [len(nonces), k] complex64``, one transmission (row) per nonce; ``||p_i||^2 = rho k``.

        Nonces are public integers in ``[0, 2**96)``, never reused under a key (a counter); a nonce
        repeated within one call is a :class:`~semgame.privacy.keystream.NonceError`.
        """
        return self.budget.unit(self._stream.complex_normal(nonces, k, device))

    def forward(self, x: Tensor, nonces: Tensor | list[int]) -> Tensor:
        """``x_tx = c (x + p)``; ``nonces [batch]`` identify the transmissions."""
        nonces = nonce_array(nonces)
        if len(nonces) != x.shape[0]:
            raise ConfigError(f"need one nonce per sample: {len(nonces)} nonces for a batch of {x.shape[0]}")
        return self.budget.send(x, self.mask(nonces, x.shape[1], x.device))

    def remove(self, y: Tensor, state: ChannelState, nonces: Tensor | list[int], *, csi: str, equalizer: str) -> Tensor:
        """``(y - A c p) / c``: the legitimate receiver's key removal (before its decoder)."""
        p = self.mask(nonces, y.shape[1], y.device)
        return (y - mask_gain(state, csi, equalizer) * (self.c * p)) / self.c

    def extra_repr(self) -> str:
        return f"psr_db={self.psr_db}, power={self.power!r}, key=<secret>"
