"""The physical ceiling of keyless privacy: the largest legit-minus-eavesdropper gap any encoder can open.

**Setting.** Block Rayleigh fading (one ``h ~ CN(0, 1)`` per transmission), no CSI at the transmitter,
perfect CSI at both receivers, mean SNRs ``rho_B`` (legitimate) and ``rho_E`` (eavesdropper), linear.
A receiver at mean SNR ``rho`` sees the waveform at effective SNR ``rho X`` with ``X = |h|^2 ~ Exp(1)``.
For a given encoder let ``A(s)`` be the best accuracy any receiver reaches at effective SNR ``s``:
non-decreasing (a lower SNR can be simulated by adding noise), ``c <= A <= a_max`` (chance, noiseless).

**Bound.** With ``r = rho_B / rho_E > 1`` and legitimate accuracy ``b``::

    gap_max(b) = (b - c) - (a_max - c) * ((b - c) / (a_max - c)) ** r

*Proof.* Write ``A(s) = c + (a_max - c) P(T <= s)`` for a random threshold ``T`` in ``[0, inf]`` (any
non-decreasing ``A`` with values in ``[c, a_max]`` is a mixture of steps). With ``U = exp(-T / rho_B)``,
``P(rho X >= T) = exp(-T / rho)`` gives ``E[A(rho_B X)] = c + (a_max - c) E[U]`` and
``E[A(rho_E X)] = c + (a_max - c) E[U^r]``. ``u -> u^r`` is convex for ``r >= 1``, so by Jensen
``E[U^r] >= E[U]^r``, with equality for a single step. The legitimate receiver reaches
``b <= E[A(rho_B X)]`` and a fully trained eavesdropper ``E[A(rho_E X)]``; both sides are increasing in
``E[U]``, so the eavesdropper's accuracy is at least ``c + (a_max - c) ((b - c)/(a_max - c))^r`` and the gap
at most ``gap_max(b)``. A single step at ``t = -rho_B ln((b - c)/(a_max - c))`` attains it.

The bound does not hold for keyed schemes (the key is an advantage the eavesdropper lacks), for
per-symbol fading (time diversity, no single effective SNR) or without receiver CSI; an eavesdropper
at least as strong as the legitimate receiver (``rho_E >= rho_B``) leaves no keyless gap. In those cases
:func:`ceiling` returns a :class:`Ceiling` that is *not applicable* (``points is None``), never a number.
Without fading (AWGN) the bound is the trivial ``b - c``.

A row whose fresh-eavesdropper gap lies *above* the ceiling means the fresh eavesdroppers did not reach
``E[A(rho_E X)]``: they are under-trained (or, against the ceiling with a measured ``a_max``, that
``a_max`` is underestimated; the ``a_max = 1`` ceiling has no such caveat).

Example:
    >>> round(100 * gap_max(0.94, 0.1, 0.98, 10.0), 1)
    28.7
    >>> print(ceiling(0.94, 0.1, 0.98, legit_snr_db=10.0, eve_snr_db=0.0))
    28.7
    >>> print(ceiling(0.94, 0.1, 0.98, legit_snr_db=10.0, eve_snr_db=10.0))
    n/a (eavesdropper SNR >= legitimate SNR)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from semgame.config import check_snr

__all__ = ["Ceiling", "gap_max", "step_threshold", "eve_floor", "ceiling"]


@dataclass(frozen=True)
class Ceiling:
    """The ceiling of one table row: ``points`` (a float, percentage points) or not applicable.

    ``points is None`` means *not applicable* and ``reason`` says why; ``str()`` gives ``"28.7"`` or
    ``"n/a (<reason>)"``.
    """

    points: float | None
    reason: str = ""

    @property
    def applicable(self) -> bool:
        return self.points is not None

    def fraction(self, gap_points: float) -> float | None:
        """``gap_points / points`` (``None`` when not applicable or the ceiling is 0)."""
        if self.points is None or self.points <= 0:
            return None
        return gap_points / self.points

    def __str__(self) -> str:
        return f"{self.points:.1f}" if self.points is not None else f"n/a ({self.reason})"


def _check_fractions(b: float, chance: float, a_max: float) -> None:
    for name, v in (("legit accuracy", b), ("chance", chance), ("a_max", a_max)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")


def _check_accuracies(b: float, chance: float, a_max: float) -> None:
    _check_fractions(b, chance, a_max)
    if not chance < a_max:
        raise ValueError(f"a_max ({a_max}) must be above chance ({chance})")
    if not chance <= b <= a_max:
        raise ValueError(f"legit accuracy {b} must lie in [chance, a_max] = [{chance}, {a_max}]")


def gap_max(b: float, chance: float, a_max: float, r: float) -> float:
    """The ceiling as an accuracy difference (fraction, not points) for SNR ratio ``r = rho_B / rho_E``.

    Needs ``r >= 1`` and ``chance <= b <= a_max`` (else ``ValueError``; :func:`ceiling` turns those cases
    into a not-applicable :class:`Ceiling`).
    """
    _check_accuracies(b, chance, a_max)
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r < 1:
        raise ValueError(f"the SNR ratio r = rho_B / rho_E must be a finite number >= 1, got {r!r}")
    return (b - chance) - (a_max - chance) * ((b - chance) / (a_max - chance)) ** r


def eve_floor(b: float, chance: float, a_max: float, r: float) -> float:
    """The lowest accuracy a fully trained eavesdropper can be held to at legitimate accuracy ``b``."""
    return b - gap_max(b, chance, a_max, r)


def step_threshold(b: float, chance: float, a_max: float, legit_snr_db: float) -> float:
    """Effective SNR (dB) of the step ``A(s)`` that attains the ceiling at legitimate accuracy ``b``.

    ``t = -rho_B ln((b - c)/(a_max - c))``; needs ``chance < b < a_max``.
    """
    _check_accuracies(b, chance, a_max)
    check_snr("legit_snr_db", legit_snr_db)
    if not chance < b < a_max:
        raise ValueError(f"a step threshold needs chance < b < a_max, got b={b}")
    t = -(10.0 ** (legit_snr_db / 10.0)) * math.log((b - chance) / (a_max - chance))
    return 10.0 * math.log10(t)


def ceiling(
    legit_acc: float,
    chance: float,
    a_max: float,
    *,
    legit_snr_db: float,
    eve_snr_db: float,
    fading: str = "rayleigh",
    block: bool = True,
    csi: str = "perfect",
    keyed: bool = False,
) -> Ceiling:
    """The ceiling (percentage points) for one table row, or a not-applicable :class:`Ceiling`.

    ``a_max``: the link's noiseless accuracy (measured, or 1.0 for the bound that needs no
    measurement). Invalid numbers (accuracies outside [0, 1], SNRs outside
    :data:`~semgame.channels.SNR_DB_RANGE`) are a ``ValueError``.
    """
    check_snr("legit_snr_db", legit_snr_db)
    check_snr("eve_snr_db", eve_snr_db)
    _check_fractions(legit_acc, chance, a_max)
    if keyed:
        return Ceiling(None, "keyed defence: the ceiling bounds keyless schemes")
    if eve_snr_db >= legit_snr_db:
        return Ceiling(None, "eavesdropper SNR >= legitimate SNR")
    if csi != "perfect":
        return Ceiling(None, "the ceiling assumes perfect receiver CSI")
    if legit_acc <= chance:
        return Ceiling(None, "legit accuracy at or below chance")
    if legit_acc > a_max:
        return Ceiling(None, f"legit accuracy above a_max = {a_max:.4f} (a_max underestimated)")
    if fading == "none":
        return Ceiling(100.0 * (legit_acc - chance))
    if fading != "rayleigh":
        raise ValueError(f"unknown fading {fading!r}")
    if not block:
        return Ceiling(None, "per-symbol fading: no single effective SNR")
    r = 10.0 ** ((legit_snr_db - eve_snr_db) / 10.0)
    return Ceiling(100.0 * gap_max(legit_acc, chance, a_max, r))
