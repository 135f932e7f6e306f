"""Cooperative perturbation layers between the encoder and the channel.

A perturbation layer maps the encoder's waveform ``x: [batch, k] complex64`` (unit average power per
symbol, per sample) to what goes on the air, ``x_tx = c * (x + p)``.

**Budget.** The budget is a perturbation-to-signal ratio ``PSR = ||p||^2 / ||x||^2`` in dB, per
sample. Because ``||x||^2 = k`` for every sample, the budget is the L2 ball
``||p||_2 <= eps = sqrt(k * 10 ** (PSR / 10))``. FGM and the keyed mask use the whole budget
(``PSR`` met exactly); PGD and the universal perturbation stay inside the ball.

**Power.** ``power="add"`` (the default) does *not* renormalise: ``c = 1``, the transmitter spends
``1 + rho`` (``rho = 10 ** (PSR / 10)``) times the undefended power, and the legitimate signal
component keeps exactly its undefended SNR. This matches how the adversarial-perturbation
literature states budgets (perturbation relative to an unchanged signal), and it makes key removal
exact. ``power="fixed"`` renormalises the *average* total power back to one with the deterministic
factor ``c = 1 / sqrt(1 + rho)`` (signal and perturbation are uncorrelated on average); the
receiver knows ``c``, but the signal component then loses ``10 log10(1 + rho)`` dB of SNR. Tables
report the total transmit power (``tx_power``) so the two can be compared honestly.
A per-sample exact renormalisation is not offered: it would make the scale depend on ``x``, which
the keyed receiver cannot know.

**One code path.** :class:`PSRBudget` is the only place where a perturbation is scaled onto a
budget and written onto a waveform (``c * (x + p)``): the keyed mask
(:class:`~semgame.privacy.keyed.KeyedPerturbation`, full budget for a unit-power signal, independent of
``x`` so the key holder can regenerate it), adversarial perturbations (:class:`AdversarialPerturbation`,
the L2 ball of radius ``sqrt(rho) ||x||``) and the game envs' transmitter actions (a box
``a in [-1, 1]^(2k)``, each real coordinate scaled by ``sqrt(rho P_x / 2)``, ``P_x`` the sample's mean
symbol power, so ``||p||^2 <= rho ||x||^2`` with equality at the corners) all use it.

Adversarial perturbations (:class:`AdversarialPerturbation`) are crafted against a *surrogate*
eavesdropper that the transmitter trains itself on its own (clean) waveforms. Objectives:

* ``"eve"``: maximise ``CE(surrogate(channel_e(x_tx)), label)``;
* ``"cooperative"``: maximise ``CE_surrogate - mu * CE_legit``, where ``CE_legit`` is the
  legitimate classifier's loss through the legitimate channel (the transmitter knows the
  legitimate decoder).

Methods: ``"fgm"`` (one L2-normalised gradient step to the ball's surface) and ``"pgd"``
(``steps`` normalised steps of size ``2.5 eps / steps``, each projected onto the ball). Scope:
``"per_sample"`` (crafted for each transmission; the transmitter knows its own label) or
``"universal"`` (one input-independent ``p`` fitted on training data with :meth:`fit_universal`).
Gradients average ``eot`` random channel draws (expectation over transformation).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semgame.channels import complex_to_real, normalize_power, real_to_complex
from semgame.config import ConfigError, check_int

__all__ = [
    "PSR_RANGE_ADVERSARIAL",
    "PSR_RANGE_KEYED",
    "POWER_MODES",
    "check_psr",
    "check_mu",
    "check_waveforms",
    "psr_ratio",
    "power_scale",
    "measured_psr_db",
    "project_l2",
    "PSRBudget",
    "AdversarialPerturbation",
]

PSR_RANGE_ADVERSARIAL = (-40.0, 0.0)
"""Valid PSR (dB) of an adversarial perturbation: at most as strong as the signal."""
PSR_RANGE_KEYED = (-40.0, 20.0)
"""Valid PSR (dB) of a keyed perturbation: it is removed by the legitimate receiver, so it may
exceed the signal (PSR > 0 dB is what hurts a retrained eavesdropper); above 20 dB float32
cancellation error starts to matter."""
POWER_MODES = ("add", "fixed")
METHODS = ("fgm", "pgd")
SCOPES = ("per_sample", "universal")
OBJECTIVES = ("eve", "cooperative")


def _finite_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_psr(psr_db: object, kind: str = "adversarial") -> float:
    """Validate a PSR in dB for ``kind`` ``"adversarial"``, ``"keyed"`` or ``"policy"`` (a Transmitter
    policy's actions: the envs' transmitter-role range, :data:`PSR_RANGE_KEYED`); one-line :class:`ConfigError`."""
    lo, hi = PSR_RANGE_ADVERSARIAL if kind == "adversarial" else PSR_RANGE_KEYED
    value = _finite_number("psr_db", psr_db)
    if not lo <= value <= hi:
        raise ConfigError(f"psr_db of a {kind} perturbation must be in [{lo:g}, {hi:g}] dB, got {value:g}")
    return value


def check_mu(mu: object) -> float:
    """Validate the cooperative weight ``mu`` (finite, >= 0)."""
    value = _finite_number("mu", mu)
    if value < 0:
        raise ConfigError(f"mu must be >= 0, got {value:g}")
    return value


def check_waveforms(name: str, x: Tensor, labels: Tensor, low: int = 1) -> None:
    """At least ``low`` waveforms ``x [N, ...]``, one label each (one-line :class:`ConfigError` naming ``name``)."""
    if len(x) != len(labels):
        raise ConfigError(f"{name}: {len(x)} waveforms but {len(labels)} labels")
    if len(labels) < low:
        raise ConfigError(f"{name} needs at least {low} waveform(s), got {len(labels)}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def psr_ratio(psr_db: float) -> float:
    """``rho = 10 ** (psr_db / 10)``."""
    return 10.0 ** (psr_db / 10.0)


def power_scale(psr_db: float, power: str) -> float:
    """The amplitude factor ``c`` applied to ``x + p`` (1 for ``"add"``, ``1/sqrt(1+rho)`` for ``"fixed"``)."""
    _choice("power", power, POWER_MODES)
    return 1.0 if power == "add" else 1.0 / math.sqrt(1.0 + psr_ratio(psr_db))


@dataclass(frozen=True)
class PSRBudget:
    """A perturbation-to-signal budget ``psr_db`` and power mode: the one path that scales a perturbation
    onto a budget and writes it onto a waveform (see the module docstring).

    Waveforms ``x`` and perturbations ``p`` are complex ``[batch, k]``; real perturbations are
    ``[batch, 2k]`` float32, I/Q interleaved (:func:`~semgame.channels.complex_to_real`).

    Example:
        >>> b = PSRBudget(-10.0)
        >>> x = normalize_power(torch.randn(4, 8, dtype=torch.complex64))
        >>> p = b.box(torch.ones(4, 16), x)                 # a corner of the box: the whole budget
        >>> bool(torch.allclose(measured_psr_db(p, x), torch.full((4,), -10.0), atol=1e-4))
        True
    """

    psr_db: float
    power: str = "add"

    def __post_init__(self) -> None:
        object.__setattr__(self, "psr_db", _finite_number("psr_db", self.psr_db))
        _choice("power", self.power, POWER_MODES)

    @property
    def rho(self) -> float:
        """``10 ** (psr_db / 10)``."""
        return psr_ratio(self.psr_db)

    @property
    def c(self) -> float:
        """The amplitude factor applied to ``x + p`` (:func:`power_scale`)."""
        return power_scale(self.psr_db, self.power)

    @property
    def tx_power(self) -> float:
        """Average transmit power relative to the undefended link at the full budget: ``c^2 (1 + rho)``."""
        return self.c**2 * (1.0 + self.rho)

    def radius(self, x: Tensor) -> Tensor:
        """Per-sample L2 radius ``sqrt(rho) * ||x||``, ``[batch, 1]`` (adversarial perturbations)."""
        return math.sqrt(psr_ratio(self.psr_db)) * x.abs().square().sum(-1, keepdim=True).sqrt()

    def nominal_radius(self, k: int) -> float:
        """``sqrt(rho * k)``: the radius for a unit-power waveform of ``k`` symbols (``||x||^2 = k``)."""
        return math.sqrt(psr_ratio(self.psr_db) * k)

    def unit(self, g: Tensor) -> Tensor:
        """``g`` rescaled to the whole budget of a unit-power waveform: ``sqrt(rho) * normalize_power(g)``,
        independent of ``x`` (what a key holder can regenerate)."""
        return normalize_power(g) * psr_ratio(self.psr_db) ** 0.5

    def box(self, a: Tensor, x: Tensor) -> Tensor:
        """A box action ``a [batch, 2k]`` in [-1, 1] (I/Q) as the complex perturbation
        ``a * sqrt(rho * P_x / 2)``, ``P_x`` the sample's mean symbol power; ``a = 0`` gives ``p = 0``."""
        p_x = (x.real.square() + x.imag.square()).mean(-1, keepdim=True)
        scale = torch.sqrt(p_x * 10.0 ** (self.psr_db / 10.0) / 2.0)
        return real_to_complex(a.to(x.device, torch.float32)) * scale

    def send(self, x: Tensor, p: Tensor) -> Tensor:
        """What goes on the air: ``c * (x + p)``."""
        c = self.c
        return x + p if c == 1.0 else c * (x + p)


def measured_psr_db(p: Tensor, x: Tensor) -> Tensor:
    """Per-sample ``10 log10(||p||^2 / ||x||^2)`` of complex ``[batch, k]`` tensors."""
    pp = p.abs().square().sum(-1)
    xx = x.abs().square().sum(-1)
    return 10.0 * torch.log10(pp / xx)


def project_l2(p: Tensor, eps: float | Tensor) -> Tensor:
    """Project real ``[batch, d]`` (or ``[d]``) vectors onto the L2 ball of radius ``eps``."""
    norm = p.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return p * torch.clamp(eps / norm, max=1.0)


def _normalise(g: Tensor) -> Tensor:
    return g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class AdversarialPerturbation(nn.Module):
    """Adversarial perturbation against a surrogate eavesdropper (see the module docstring).

    Args:
        surrogate: a trained :class:`~semgame.link.NeuralEavesdropper` (the transmitter's own model
            of the eavesdropper, including its assumed channel/SNR); frozen here.
        psr_db: budget in dB, within :data:`PSR_RANGE_ADVERSARIAL`.
        method: ``"fgm"`` or ``"pgd"``; scope: ``"per_sample"`` or ``"universal"``.
        objective: ``"eve"`` or ``"cooperative"`` (needs ``legit``: a link whose ``channel`` and
            ``receiver.classifier`` are used, frozen) with weight ``mu >= 0``.
        steps: PGD iterations; eot: channel draws averaged per gradient; power: ``"add"``/``"fixed"``.

    Input: ``x [batch, k] complex64``, ``labels [batch]`` (per-sample scope). Output: ``x_tx``.
    """

    def __init__(
        self,
        surrogate: nn.Module,
        psr_db: float,
        *,
        method: str = "pgd",
        scope: str = "per_sample",
        objective: str = "eve",
        legit: nn.Module | None = None,
        mu: float = 1.0,
        steps: int = 10,
        eot: int = 1,
        power: str = "add",
    ) -> None:
        super().__init__()
        self.psr_db = check_psr(psr_db, "adversarial")
        self.method = _choice("method", method, METHODS)
        self.scope = _choice("scope", scope, SCOPES)
        self.objective = _choice("objective", objective, OBJECTIVES)
        self.mu = check_mu(mu)
        self.power = _choice("power", power, POWER_MODES)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
        if isinstance(eot, bool) or not isinstance(eot, int) or eot < 1:
            raise ConfigError(f"eot must be an integer >= 1, got {eot!r}")
        if objective == "cooperative" and legit is None:
            raise ConfigError("the cooperative objective needs the legitimate link (legit=...)")
        self.steps, self.eot = steps, eot
        self.budget = PSRBudget(self.psr_db, power)
        # Not registered as sub-modules: they belong to someone else and stay frozen here.
        self._surrogate = [surrogate]
        self._legit = [legit]
        self.c = self.budget.c
        self.register_buffer("universal", torch.zeros(0))
        self.fitted = False

    @property
    def surrogate(self) -> nn.Module:
        return self._surrogate[0]

    def eps(self, x: Tensor) -> Tensor:
        """Per-sample L2 radius ``sqrt(rho) * ||x||`` (``[batch, 1]``, real representation)."""
        return self.budget.radius(x)

    def loss(self, x: Tensor, p_real: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Summed per-sample objective to *maximise* for waveform ``x`` and real perturbation ``p_real``.

        Channel draws come from ``generator`` (global RNG when ``None``)."""
        x_tx = self.budget.send(x, real_to_complex(p_real))
        total = x.new_zeros((), dtype=torch.float32)
        for _ in range(self.eot):
            total = total + F.cross_entropy(self.surrogate(x_tx, generator=generator), labels, reduction="sum")
            if self.objective == "cooperative":
                legit = self._legit[0]
                y, _ = legit.channel(x_tx, generator=generator)
                total = total - self.mu * F.cross_entropy(
                    legit.receiver.classifier(y / self.c), labels, reduction="sum"
                )
        return total / self.eot

    def _grad(self, x: Tensor, p_real: Tensor, labels: Tensor, generator: torch.Generator | None) -> Tensor:
        p_real = p_real.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.loss(x, p_real, labels, generator), p_real)
        return grad

    def _with_frozen(self, fn):
        mods = [m for m in (self.surrogate, self._legit[0]) if m is not None]
        modes = [m.training for m in mods]
        flags = [[p.requires_grad for p in m.parameters()] for m in mods]
        for m in mods:
            m.eval()
            m.requires_grad_(False)
        try:
            return fn()
        finally:
            for m, mode, fl in zip(mods, modes, flags):
                m.train(mode)
                for p, f in zip(m.parameters(), fl):
                    p.requires_grad_(f)

    def craft(self, x: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The per-sample perturbation ``p [batch, k] complex64`` (before the power scale ``c``)."""
        x = x.detach()
        eps = self.eps(x)

        def run() -> Tensor:
            if self.method == "fgm":
                return eps * _normalise(self._grad(x, torch.zeros_like(complex_to_real(x)), labels, generator))
            p = project_l2(torch.randn(complex_to_real(x).shape, generator=generator, device=x.device), eps * 0.5)
            alpha = 2.5 * eps / self.steps
            for _ in range(self.steps):
                p = project_l2(p + alpha * _normalise(self._grad(x, p, labels, generator)), eps)
            return p

        return real_to_complex(self._with_frozen(run).detach())

    def fit_universal(
        self, xs: Tensor, labels: Tensor, *, epochs: int = 1, batch_size: int = 256, seed: int = 0
    ) -> AdversarialPerturbation:
        """Fit the universal perturbation on training waveforms ``xs [N, k]`` (projected gradient ascent)."""
        if self.scope != "universal":
            raise ConfigError("fit_universal() is for scope='universal'")
        check_int("fit_universal epochs", epochs)
        check_int("fit_universal batch_size", batch_size)
        check_waveforms("fit_universal", xs, labels)
        gen = torch.Generator().manual_seed(seed)  # batch order (a CPU generator, as randperm needs)
        # the surrogate's channel draws need a generator on the waveforms' device
        noise = gen if xs.device.type == "cpu" else torch.Generator(device=xs.device).manual_seed(seed)
        d = 2 * xs.shape[1]
        eps = self.budget.nominal_radius(xs.shape[1])  # ||x||^2 = k for unit-power samples
        delta = torch.zeros(d, device=xs.device)
        n_steps = max(1, epochs * -(-len(xs) // batch_size))
        step = 0

        def run() -> Tensor:
            nonlocal delta, step
            for _ in range(epochs):
                order = torch.randperm(len(xs), generator=gen)
                for start in range(0, len(xs), batch_size):
                    idx = order[start : start + batch_size].to(xs.device)
                    xb, yb = xs[idx], labels[idx]
                    g = self._grad(xb, delta.expand(len(idx), d), yb, noise).sum(0)
                    alpha = eps * 0.5 * (1 - step / n_steps) + eps * 0.02
                    delta = project_l2(delta + alpha * _normalise(g), eps)
                    step += 1
            return delta

        self.universal = self._with_frozen(run).detach()
        self.fitted = True
        return self

    def perturbation(self, x: Tensor, labels: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
        """``p`` for a batch (per-sample crafting, or the fitted universal vector broadcast)."""
        if self.scope == "universal":
            if not self.fitted:
                raise ConfigError("universal perturbation used before fit_universal()")
            return real_to_complex(self.universal.expand(x.shape[0], -1))
        if labels is None:
            raise ConfigError("a per-sample adversarial perturbation needs the labels of the transmitted samples")
        return self.craft(x, labels, generator)

    def forward(self, x: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return self.budget.send(x, self.perturbation(x, labels, generator))

    def extra_repr(self) -> str:
        return (
            f"psr_db={self.psr_db}, method={self.method!r}, scope={self.scope!r}, "
            f"objective={self.objective!r}, mu={self.mu}, steps={self.steps}, power={self.power!r}"
        )
