"""Differentiable wireless channel models: AWGN, Rayleigh fading, equalisation.

Conventions
-----------
* **Waveform.** The transmitted waveform is a ``torch.complex64`` tensor of
  shape ``[batch, k]``: ``k`` complex channel uses per sample. Encoders emit
  ``2k`` reals, converted with :func:`real_to_complex` (adjacent ``(I, Q)``
  pairs) and back with :func:`complex_to_real`.
* **Power.** :func:`normalize_power` gives unit average power per complex
  symbol *per sample*: ``mean_k |x|^2 == 1`` for every sample (not over the
  batch).
* **SNR.** ``snr_db`` is Es/N0 per complex symbol with unit signal power, so the
  noise variance is ``N0 = 10 ** (-snr_db / 10)`` and the noise is
  ``CN(0, N0)`` (real and imaginary parts each of variance ``N0 / 2``).
  An SNR is given as an :data:`SNRSpec`: a float (same for all samples), a
  scalar or ``[batch]`` tensor (per sample), or a ``(lo, hi)`` tuple (uniform
  per sample in dB).
* **Fading.** Rayleigh fading ``h ~ CN(0, 1)`` is complex (``E|h|^2 = 1``).
  Block fading draws one ``h`` per sample and repeats it along ``k``.
* **Randomness.** Every random draw takes an optional ``generator``
  (a ``torch.Generator`` on the input's device); with a seeded generator the
  outputs are reproducible. :class:`FadingChannel` draws in a fixed order:
  fading, then the SNR range, then the noise.
* Everything is batched and differentiable with respect to the input waveform.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TypeAlias

import torch
from torch import Generator, Tensor, nn

__all__ = [
    "SNRSpec",
    "real_to_complex",
    "complex_to_real",
    "normalize_power",
    "sample_snr_db",
    "snr_db_to_noise_var",
    "ChannelState",
    "AWGN",
    "RayleighFading",
    "equalize",
    "FadingChannel",
    "SNR_DB_RANGE",
]

SNRSpec: TypeAlias = float | Tensor | tuple[float, float]

FADINGS = ("rayleigh", "none")
CSIS = ("perfect", "none")
EQUALIZERS = ("zf", "mmse")
SNR_DB_RANGE = (-100.0, 300.0)
"""Valid SNRs in dB: the noise power 10^(-SNR/10) stays a normal float32 (300 dB is noise-free in
practice), and at -100 dB received values (~1e5) stay finite through the receivers."""


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")


def _check_waveform(x: Tensor) -> None:
    if not isinstance(x, Tensor) or not x.is_complex():
        kind = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(
            f"channel input must be a complex tensor [batch, k], got {kind}; "
            "use real_to_complex() to convert 2k reals to k complex symbols"
        )
    if x.dim() != 2:
        raise ValueError(f"channel input must have shape [batch, k], got {tuple(x.shape)}")


def _check_snr_spec(snr_db: SNRSpec) -> None:
    """Validate an SNR spec independently of the batch size: finite and within :data:`SNR_DB_RANGE`."""
    lo_ok, hi_ok = SNR_DB_RANGE
    if isinstance(snr_db, Tensor):
        if snr_db.is_complex() or snr_db.dtype == torch.bool:
            raise ValueError(f"snr_db tensor must be real, got dtype {snr_db.dtype}")
        if bool(((snr_db >= lo_ok) & (snr_db <= hi_ok)).all()):  # one host sync; NaN fails both comparisons
            return
        bad = (~torch.isfinite(snr_db)).sum().item()
        if bad:
            raise ValueError(f"snr_db must be finite, got {bad} non-finite value(s) (NaN/inf)")
        values = [snr_db.min().item(), snr_db.max().item()]
    elif isinstance(snr_db, tuple):
        if len(snr_db) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in snr_db):
            raise ValueError(f"snr_db range must be (lo, hi) numbers, got {snr_db!r}")
        lo, hi = (float(v) for v in snr_db)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"snr_db range must be finite, got {snr_db}")
        if lo > hi:
            raise ValueError(f"snr_db range needs lo <= hi, got {snr_db}")
        values = [lo, hi]
    elif isinstance(snr_db, numbers.Real) and not isinstance(snr_db, bool):
        if not math.isfinite(snr_db):
            raise ValueError(f"snr_db must be finite, got {snr_db}")
        values = [float(snr_db)]
    else:
        raise TypeError(f"snr_db must be a float, a tensor or a (lo, hi) tuple, got {type(snr_db).__name__}")
    if any(not lo_ok <= v <= hi_ok for v in values):
        raise ValueError(f"snr_db must be within [{lo_ok:g}, {hi_ok:g}] dB, got {snr_db!r}")


def real_to_complex(z: Tensor) -> Tensor:
    """Map ``[batch, 2k]`` reals to ``[batch, k]`` complex64 symbols.

    Adjacent reals form ``(I, Q)`` pairs, i.e. the result equals
    ``view_as_complex(z.view(batch, k, 2))``; non-contiguous input is fine.

    >>> real_to_complex(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    tensor([[1.+2.j, 3.+4.j]])
    """
    if z.is_complex() or not z.is_floating_point():
        raise TypeError(f"real_to_complex expects a real floating tensor, got {z.dtype}")
    if z.dim() == 0 or z.shape[-1] % 2:
        raise ValueError(f"real_to_complex needs an even last dimension (I, Q pairs), got shape {tuple(z.shape)}")
    z = z.to(torch.float32)
    return torch.complex(z[..., 0::2], z[..., 1::2])


def complex_to_real(x: Tensor) -> Tensor:
    """Inverse of :func:`real_to_complex`: ``[batch, k]`` complex -> ``[batch, 2k]`` float32.

    >>> complex_to_real(torch.tensor([[1 + 2j, 3 + 4j]]))
    tensor([[1., 2., 3., 4.]])
    """
    if not x.is_complex():
        raise TypeError(f"complex_to_real expects a complex tensor, got {x.dtype}")
    # (Re, Im) pairs are the memory layout of complex64: a view, then one copy (never an alias of x)
    return torch.view_as_real(x.to(torch.complex64).resolve_conj()).flatten(-2).clone()


def normalize_power(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each sample of ``x: [batch, k]`` complex to unit average symbol power.

    >>> y = normalize_power(torch.tensor([[3 + 4j, 0j], [1j, 1j]]))
    >>> y.abs().square().mean(dim=-1)
    tensor([1.0000, 1.0000])
    """
    if not x.is_complex():
        raise TypeError(f"normalize_power expects a complex tensor, got {x.dtype}")
    power = (x.real.square() + x.imag.square()).mean(dim=-1, keepdim=True)
    return x / torch.sqrt(power + eps)


def sample_snr_db(
    snr_db: SNRSpec,
    batch: int,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Expand an SNR spec to a per-sample ``[batch]`` float32 tensor (dB).

    A float fills the batch; a scalar tensor is broadcast and a ``[batch]``
    tensor is used as is; ``(lo, hi)`` draws ``U(lo, hi)`` per sample (one
    ``torch.rand`` call with ``generator``).

    >>> sample_snr_db(5.0, 3)
    tensor([5., 5., 5.])
    >>> g = torch.Generator().manual_seed(0)
    >>> s = sample_snr_db((0.0, 20.0), 4, generator=g)
    >>> bool(((s >= 0) & (s <= 20)).all())
    True
    """
    _check_snr_spec(snr_db)
    if isinstance(snr_db, Tensor):
        if snr_db.numel() == 1:
            return snr_db.reshape(1).to(device=device, dtype=torch.float32).repeat(batch)
        if snr_db.shape != (batch,):
            raise ValueError(f"snr_db tensor must be a scalar or of shape [{batch}], got {tuple(snr_db.shape)}")
        return snr_db.to(device=device, dtype=torch.float32)
    if isinstance(snr_db, tuple):
        lo, hi = (float(v) for v in snr_db)
        u = torch.rand(batch, generator=generator, device=device)
        return lo + (hi - lo) * u
    return torch.full((batch,), float(snr_db), device=device)


def snr_db_to_noise_var(snr_db: Tensor) -> Tensor:
    """Noise variance ``N0 = 10 ** (-snr_db / 10)`` for unit signal power.

    >>> snr_db_to_noise_var(torch.tensor([0.0, 10.0]))
    tensor([1.0000, 0.1000])
    """
    return torch.pow(10.0, -snr_db / 10.0)


@dataclass
class ChannelState:
    """What a channel realisation looked like (true values, for receivers and tests).

    Attributes:
        h: ``[batch, k]`` complex64 fading coefficient per symbol (block
            fading repeats one value along ``k``; all ones for pure AWGN).
        noise_var: ``[batch]`` float32, N0 per sample.
        snr_db: ``[batch]`` float32, Es/N0 per sample in dB.
    """

    h: Tensor
    noise_var: Tensor
    snr_db: Tensor

    def effective_snr_db(self) -> Tensor:
        """Per-symbol received SNR ``10 log10(|h|^2 / N0)``, shape ``[batch, k]``."""
        gain = self.h.real.square() + self.h.imag.square()
        return 10.0 * torch.log10(gain / self.noise_var.unsqueeze(-1))


ChannelOutput: TypeAlias = tuple[Tensor, ChannelState]
"""What a channel block returns: the received waveform ``[batch, k]`` complex64 and its :class:`ChannelState`."""


class AWGN(nn.Module):
    """Additive white Gaussian noise: ``y = x + n`` with ``n ~ CN(0, N0)``.

    Args:
        snr_db: default :data:`SNRSpec`, overridable per call.

    Input:
        x: ``[batch, k]`` complex64 (assumed unit average power).
        snr_db: optional :data:`SNRSpec` overriding the default.
        generator: optional ``torch.Generator`` (SNR range draw, then noise).

    Output:
        y: ``[batch, k]`` complex64, and the :class:`ChannelState` (``h`` all ones).

    >>> x = normalize_power(torch.randn(4, 8, dtype=torch.complex64))
    >>> y, state = AWGN(snr_db=10.0)(x)
    >>> y.shape, state.noise_var.shape
    (torch.Size([4, 8]), torch.Size([4]))
    """

    def __init__(self, snr_db: SNRSpec = 10.0) -> None:
        super().__init__()
        _check_snr_spec(snr_db)
        self.snr_db = snr_db

    def forward(self, x: Tensor, snr_db: SNRSpec | None = None, generator: Generator | None = None) -> ChannelOutput:
        _check_waveform(x)
        y, noise_var, snr = self.add_noise(x, snr_db, generator)
        return y, ChannelState(h=_unit_gain(x), noise_var=noise_var, snr_db=snr)

    def add_noise(
        self, x: Tensor, snr_db: SNRSpec | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(x + n, N0 [batch], SNR dB [batch])``: the noise alone (``forward`` adds the state)."""
        snr = sample_snr_db(self.snr_db if snr_db is None else snr_db, x.shape[0], device=x.device, generator=generator)
        noise_var = snr_db_to_noise_var(snr)
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        return x + noise * noise_var.sqrt().unsqueeze(-1), noise_var, snr

    def extra_repr(self) -> str:
        return f"snr_db={self.snr_db}"


class RayleighFading(nn.Module):
    """Multiply by complex Rayleigh fading ``h ~ CN(0, 1)``.

    Args:
        block: ``True`` draws one ``h`` per sample, repeated along ``k``;
            ``False`` draws an i.i.d. ``h`` per symbol.

    Input:
        x: ``[batch, k]`` complex64.
        generator: optional ``torch.Generator``.

    Output:
        ``(h * x, h)``, both ``[batch, k]`` complex64.

    >>> x = torch.ones(2, 3, dtype=torch.complex64)
    >>> y, h = RayleighFading(block=True)(x)
    >>> bool((h == h[:, :1]).all())
    True
    """

    def __init__(self, block: bool = True) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        _check_waveform(x)
        h = self.draw(x, generator)
        return h * x, h.expand(x.shape)

    def draw(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The coefficients for ``x: [batch, k]``: ``[batch, 1]`` (block) or ``[batch, k]``, complex64."""
        batch, k = x.shape
        return torch.randn(
            (batch, 1) if self.block else (batch, k), dtype=torch.complex64, device=x.device, generator=generator
        )

    def extra_repr(self) -> str:
        return f"block={self.block}"


def _unit_gain(x: Tensor) -> Tensor:
    """``h = 1`` for every symbol of ``x``: a zero-copy ``[batch, k]`` complex64 view."""
    return torch.ones((), dtype=torch.complex64, device=x.device).expand(x.shape)


def equalize(y: Tensor, h: Tensor, noise_var: Tensor, method: str = "zf") -> Tensor:
    """Equalise ``y = h x + n`` with known ``h``.

    ``"zf"``: ``y / h``; ``"mmse"``: ``conj(h) y / (|h|^2 + N0)`` (unit signal
    power assumed). ``y: [batch, k]`` complex, ``h`` of the same shape or ``[batch, 1]``
    (block fading); ``noise_var: [batch]`` (or a scalar) is broadcast over ``k``.

    >>> h = torch.full((1, 2), 2 + 0j)
    >>> x = torch.tensor([[1 + 1j, -1j]])
    >>> torch.allclose(equalize(h * x, h, torch.tensor([0.0]), "zf"), x)
    True
    >>> equalize(h * x, h, torch.tensor([1.0]), "mmse")  # 4 / (4 + 1) shrinkage
    tensor([[0.8000+0.8000j, 0.0000-0.8000j]])
    """
    _check_choice("equalizer", method, EQUALIZERS)
    if method == "zf":
        return y / h
    if noise_var.dim() == 1:
        noise_var = noise_var.unsqueeze(-1)
    gain = h.real.square() + h.imag.square()
    return h.conj() * y / (gain + noise_var)


class FadingChannel(nn.Module):
    """Rayleigh (or no) fading + AWGN + receiver CSI handling.

    ``y_raw = h x + n``. With ``csi="perfect"`` the output is
    ``equalize(y_raw, h, N0, equalizer)``; with ``csi="none"`` it is ``y_raw``.
    The returned state always carries the true ``h``. Random draws use the
    generator in this fixed order: fading, SNR range, noise.

    Args:
        snr_db: default :data:`SNRSpec`, overridable per call.
        fading: ``"rayleigh"`` or ``"none"`` (``h = 1``).
        block: block fading (one ``h`` per sample) or i.i.d. per symbol;
            ignored when ``fading="none"``.
        csi: ``"perfect"`` (equalise with the true ``h``) or ``"none"``.
        equalizer: ``"mmse"`` or ``"zf"``, used when ``csi="perfect"``.

    Input:
        x: ``[batch, k]`` complex64 (assumed unit average power).
        snr_db: optional :data:`SNRSpec` overriding the default.
        generator: optional ``torch.Generator``.

    Output:
        y: ``[batch, k]`` complex64, and the :class:`ChannelState`.

    >>> ch = FadingChannel(snr_db=(0.0, 20.0), equalizer="zf")
    >>> x = normalize_power(torch.randn(4, 8, dtype=torch.complex64))
    >>> y, state = ch(x, generator=torch.Generator().manual_seed(0))
    >>> y.shape, state.h.shape, state.snr_db.shape
    (torch.Size([4, 8]), torch.Size([4, 8]), torch.Size([4]))
    """

    def __init__(
        self,
        snr_db: SNRSpec = 10.0,
        fading: str = "rayleigh",
        block: bool = True,
        csi: str = "perfect",
        equalizer: str = "mmse",
    ) -> None:
        super().__init__()
        _check_choice("fading", fading, FADINGS)
        _check_choice("csi", csi, CSIS)
        _check_choice("equalizer", equalizer, EQUALIZERS)
        self.fading = fading
        self.block = block
        self.csi = csi
        self.equalizer = equalizer
        self.rayleigh = RayleighFading(block) if fading == "rayleigh" else None
        self.awgn = AWGN(snr_db)

    def forward(self, x: Tensor, snr_db: SNRSpec | None = None, generator: Generator | None = None) -> ChannelOutput:
        _check_waveform(x)
        # block fading keeps h as [batch, 1] for the arithmetic (the same numbers as a repeated h) and
        # hands out a zero-copy [batch, k] view of it in the state
        h = _unit_gain(x) if self.rayleigh is None else self.rayleigh.draw(x, generator)
        y, noise_var, snr = self.awgn.add_noise(x if self.rayleigh is None else h * x, snr_db, generator)
        if self.csi == "perfect":
            y = equalize(y, h, noise_var, self.equalizer)
        return y, ChannelState(h=h.expand(x.shape), noise_var=noise_var, snr_db=snr)

    def extra_repr(self) -> str:
        return (
            f"snr_db={self.awgn.snr_db}, fading={self.fading!r}, block={self.block}, "
            f"csi={self.csi!r}, equalizer={self.equalizer!r}"
        )
