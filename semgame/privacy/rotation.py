"""Keyed rotation: a secret unitary transform per transmission, at no power cost.

The transmitter sends ``x_tx = U_n x`` where ``U_n`` is a ``k x k`` unitary matrix drawn, for the
transmission with public nonce ``n``, from a key stream (:class:`~semgame.privacy.keystream.KeyStream`,
AES-256-CTR) of the key shared with the legitimate receiver. ``||U_n x|| = ||x||``: the transmit power is
exactly that of the undefended link.

**Why it hides everything.** Encoders normalise every waveform to ``||x||^2 = k``. If ``U_n`` were Haar
distributed, ``U_n x`` would be uniform on that sphere *whatever x is*: an eavesdropper who lacks the key
sees a waveform independent of the image (perfect secrecy, whatever its SNR, CSI or training).

**The fast transform.** A dense Haar matrix costs ``O(k^3)`` to draw (QR) and ``O(k^2)`` to apply. Instead
``U_n = F D_R P_R ... F D_1 P_1``: ``R`` rounds (default 3) of a keyed permutation ``P_r``, keyed
diagonal phases ``D_r = diag(exp(i theta_r))`` (``theta`` uniform) and the unitary DFT ``F``
(``torch.fft.fft(norm="ortho")``): ``O(R k log k)`` per transmission, all batched. One round leaves
structure (a one-hot ``x`` maps to a flat-modulus vector); :func:`haar_ks_distance` measures how far the
distribution of ``U_n x`` is from Haar, and ``benchmarks/bench_rotation.py`` reports it for R = 1, 2, 3
against exact Haar directions.

**The legitimate receiver** applies ``U_n^H`` to its front-end output ``y = G(h) (h U_n x + n)``:

* *block fading* (one ``h`` per transmission; any CSI mode, ZF or MMSE): ``G(h) h`` is a scalar and
  commutes with ``U_n``, so ``U_n^H y = G(h) h x + G(h) U_n^H n``. Without noise this is exactly the
  undefended output; with noise it has exactly the undefended statistics (``U_n^H n ~ CN(0, N0 I)``).
  The undefended decoder needs no retraining.
* *per-symbol fading, MMSE*: ``G = diag(h* / (|h|^2 + N0))`` no longer commutes with ``U_n``.
  ``U_n^H G y_raw`` is still the linear MMSE estimate of ``x`` (for a white unit-power prior), but its
  error is spread over all symbols (covariance ``U_n^H diag(N0 / (|h|^2 + N0)) U_n``) instead of being
  per symbol, so the decoder sees a different distortion than it was trained on (measured in the
  README). Supported.
* *per-symbol fading, ZF or no CSI*: refused (:class:`UnsupportedChannelError`). Without CSI the
  receiver cannot undo a per-symbol channel before ``U_n^H``; with zero forcing ``U_n^H`` spreads the
  noise of deep fades (``E[1/|h|^2]`` is infinite under Rayleigh fading) over every symbol.

**Threat model.** The eavesdropper knows the encoder, this scheme and every nonce, not the key. Nonces
never repeat under a key: two transmissions with the same nonce share ``U_n``, which reveals their inner
product ``<x1, x2>`` and, with ``k`` known waveforms under one nonce, ``U_n`` itself.

Example:
    >>> rot = KeyedRotation(key=b"secret")
    >>> x = torch.randn(4, 16, dtype=torch.complex64)
    >>> tx = rot(x, [0, 1, 2, 3])
    >>> bool(torch.allclose(tx.abs().square().sum(-1), x.abs().square().sum(-1), rtol=1e-5))
    True
    >>> bool(torch.allclose(rot.unrotate(tx, [0, 1, 2, 3]), x, atol=1e-5))
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from semgame.channels import ChannelState
from semgame.config import ConfigError
from semgame.privacy.keystream import KeyStream, nonce_array

__all__ = ["KeyedRotation", "UnsupportedChannelError", "check_rotation_channel", "haar_ks_distance"]


class UnsupportedChannelError(ConfigError):
    """A defence was combined with a channel it cannot be removed from."""


def check_rotation_channel(*, fading: str, block: bool, csi: str, equalizer: str) -> None:
    """Raise :class:`UnsupportedChannelError` for the combinations the rotation cannot serve (module docstring)."""
    if fading == "rayleigh" and not block:
        if csi != "perfect":
            raise UnsupportedChannelError(
                "keyed rotation under per-symbol fading needs receiver CSI (csi='perfect') "
                "to undo the channel before U^H"
            )
        if equalizer != "mmse":
            raise UnsupportedChannelError(
                "keyed rotation under per-symbol fading needs equalizer='mmse' (zero forcing would spread the noise "
                "of deep fades over every symbol)"
            )


class KeyedRotation(nn.Module):
    """``x_tx = U_n x`` with a keyed, fast, structured unitary ``U_n`` per transmission (module docstring).

    Args:
        key: the shared secret (int, non-empty str or bytes); ``None`` is a
            :class:`~semgame.privacy.keystream.MissingKeyError`.
        rounds: ``R >= 1`` rounds of permutation, phases and DFT (default 3).

    Input of ``forward``: ``x [batch, k]`` complex64 and ``nonces [batch]`` (distinct integers).
    Output: ``x_tx [batch, k]`` complex64 with ``||x_tx_i|| = ||x_i||``.
    """

    psr_db = None
    power = "fixed"
    c = 1.0

    def __init__(self, key: object, rounds: int = 3) -> None:
        super().__init__()
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ConfigError(f"rotation rounds must be an integer >= 1, got {rounds!r}")
        self.rounds = rounds
        self._phases = KeyStream(key, "rotation/phases")
        self._perms = KeyStream(key, "rotation/permutations")

    def params(self, nonces: object, k: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """``(phasors complex64 [batch, R, k], permutations int64 [batch, R, k])`` of each transmission."""
        ns = nonce_array(nonces)
        theta = self._phases.uniform(ns, self.rounds * k).reshape(len(ns), self.rounds, k) * (2.0 * math.pi)
        phasors = torch.polar(torch.ones_like(theta), theta).to(torch.complex64).to(device)
        return phasors, self._perms.permutations(ns, self.rounds, k, device)

    def rotate(self, x: Tensor, nonces: object) -> Tensor:
        """``U_n x`` for each row of ``x [batch, k]`` complex."""
        phasors, perms = self._checked_params(x, nonces)
        z = x
        for r in range(self.rounds):
            z = torch.fft.fft(torch.gather(z, 1, perms[:, r]) * phasors[:, r], norm="ortho")
        return z

    def unrotate(self, y: Tensor, nonces: object) -> Tensor:
        """``U_n^H y`` for each row of ``y [batch, k]`` complex."""
        phasors, perms = self._checked_params(y, nonces)
        z = y
        for r in reversed(range(self.rounds)):
            z = torch.fft.ifft(z, norm="ortho") * phasors[:, r].conj()
            z = torch.empty_like(z).scatter_(1, perms[:, r], z)
        return z

    def _checked_params(self, x: Tensor, nonces: object) -> tuple[Tensor, Tensor]:
        if not isinstance(x, Tensor) or not x.is_complex() or x.dim() != 2:
            raise ConfigError(f"keyed rotation needs a complex [batch, k] waveform, got {getattr(x, 'shape', type(x))}")
        ns = nonce_array(nonces)
        if len(ns) != x.shape[0]:
            raise ConfigError(f"need one nonce per sample: {len(ns)} nonces for a batch of {x.shape[0]}")
        phasors, perms = self.params(ns, x.shape[1], x.device)
        return phasors.to(x.dtype), perms

    def forward(self, x: Tensor, nonces: object) -> Tensor:
        """``x_tx = U_n x``; ``nonces [batch]`` identify the transmissions."""
        return self.rotate(x, nonces)

    def remove(self, y: Tensor, state: ChannelState, nonces: object, *, csi: str, equalizer: str) -> Tensor:
        """``U_n^H y``: the legitimate receiver's key removal behind its equaliser (before its decoder).

        ``state.h`` tells block from per-symbol fading; unsupported combinations raise
        :class:`UnsupportedChannelError`.
        """
        per_symbol = y.shape[1] > 1 and not bool((state.h == state.h[:, :1]).all())
        check_rotation_channel(fading="rayleigh", block=not per_symbol, csi=csi, equalizer=equalizer)
        return self.unrotate(y, nonces)

    def extra_repr(self) -> str:
        return f"rounds={self.rounds}, key=<secret>"


def haar_ks_distance(z: Tensor) -> float:
    """Kolmogorov-Smirnov distance between ``|z_0|^2 / ||z||^2`` over the rows of ``z [n, k]`` and its
    distribution for a Haar-random direction, ``Beta(1, k - 1)`` (CDF ``1 - (1 - t)^(k - 1)``).

    For ``n`` i.i.d. Haar rows the distance is about ``0.87 / sqrt(n)`` (median), and above
    ``1.95 / sqrt(n)`` with probability 0.001.
    """
    n, k = z.shape
    t = (z[:, 0].abs().square() / z.abs().square().sum(-1)).double().sort().values
    cdf = 1.0 - (1.0 - t) ** (k - 1)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(i / n - cdf, cdf - (i - 1) / n).max())
