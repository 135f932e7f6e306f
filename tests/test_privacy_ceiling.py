"""The physical ceiling of keyless privacy (issue #8): formula against Monte Carlo, and its n/a cases."""

from __future__ import annotations

import math
import re

import pytest
import torch

from semgame.privacy.ceiling import Ceiling, ceiling, eve_floor, gap_max, step_threshold

C, R = 0.1, 10.0
N = 2_000_000


@pytest.fixture(scope="module")
def exp_draws():
    return torch.empty(N, dtype=torch.float64).exponential_(generator=torch.Generator().manual_seed(0))


def mc_accuracies(a_of_s, rho_b: float, rho_e: float, x: torch.Tensor) -> tuple[float, float]:
    """Monte Carlo ``(E[A(rho_B X)], E[A(rho_E X)])`` with ``X ~ Exp(1)``."""
    return float(a_of_s(rho_b * x).mean()), float(a_of_s(rho_e * x).mean())


def test_worked_examples_of_the_issue():
    assert 100 * gap_max(0.94, C, 0.98, R) == pytest.approx(28.7, abs=0.05)
    assert 100 * gap_max(0.94, C, 0.99, R) == pytest.approx(34.1, abs=0.05)


@pytest.mark.parametrize("a_max,b", [(0.98, 0.94), (0.99, 0.90), (1.0, 0.6)])
def test_a_step_attains_the_ceiling(exp_draws, a_max, b):
    rho_b, rho_e = 10.0, 1.0
    t = 10 ** (step_threshold(b, C, a_max, 10.0) / 10)  # linear threshold of the optimal step
    step = lambda s: torch.where(s >= t, a_max, C)  # noqa: E731
    legit, eve = mc_accuracies(step, rho_b, rho_e, exp_draws)
    se = 3 * (a_max - C) / math.sqrt(N)  # 3 standard errors of a Bernoulli mean at worst
    assert legit == pytest.approx(b, abs=se)
    assert legit - eve == pytest.approx(gap_max(legit, C, a_max, rho_b / rho_e), abs=2 * se)
    assert eve == pytest.approx(eve_floor(legit, C, a_max, rho_b / rho_e), abs=2 * se)


@pytest.mark.parametrize("name", ["logistic", "two_steps", "linear_in_db"])
def test_other_monotone_curves_stay_strictly_below_the_ceiling(exp_draws, name):
    a_max = 0.985
    curves = {
        "logistic": lambda s: C + (a_max - C) * torch.sigmoid(3.0 * torch.log(s / 0.5)),
        "two_steps": lambda s: C + (a_max - C) * (0.5 * (s >= 0.1).double() + 0.5 * (s >= 2.0).double()),
        "linear_in_db": lambda s: C + (a_max - C) * ((10 * torch.log10(s) + 20) / 30).clamp(0, 1),
    }
    legit, eve = mc_accuracies(curves[name], 10.0, 1.0, exp_draws)
    bound = gap_max(legit, C, a_max, 10.0)
    assert legit - eve < bound - 0.01  # Jensen is strict off a single step; 0.01 >> Monte Carlo error


def test_ceiling_rows_and_not_applicable_cases():
    row = ceiling(0.94, C, 0.98, legit_snr_db=10.0, eve_snr_db=0.0)
    assert row.applicable and row.points == pytest.approx(100 * gap_max(0.94, C, 0.98, 10.0))
    assert row.fraction(row.points / 2) == pytest.approx(0.5)
    assert str(row) == "28.7"
    # a_max = 1 is the bound that needs no measurement, and it is higher
    loose = ceiling(0.94, C, 1.0, legit_snr_db=10.0, eve_snr_db=0.0).points
    assert (
        loose == pytest.approx(100 * ((0.94 - C) - (1.0 - C) * ((0.94 - C) / (1.0 - C)) ** 10)) and loose > row.points
    )
    # r = rho_B / rho_E comes from the SNR difference in dB: 7 dB apart is r = 10 ** 0.7
    r7 = 10**0.7
    expected = 100 * ((0.94 - C) - (0.98 - C) * ((0.94 - C) / (0.98 - C)) ** r7)
    assert ceiling(0.94, C, 0.98, legit_snr_db=12.0, eve_snr_db=5.0).points == pytest.approx(expected)
    # no fading: the trivial bound b - c
    assert ceiling(0.94, C, 0.98, legit_snr_db=10.0, eve_snr_db=0.0, fading="none").points == pytest.approx(84.0)
    cases = {
        "eavesdropper SNR >= legitimate SNR": dict(eve_snr_db=10.0),
        "keyed defence": dict(keyed=True),
        "per-symbol fading": dict(block=False),
        "perfect receiver CSI": dict(csi="none"),
    }
    for reason, kw in cases.items():
        c = ceiling(0.94, C, 0.98, **{"legit_snr_db": 10.0, "eve_snr_db": 0.0, **kw})
        assert c.points is None and not c.applicable and reason in c.reason
        assert str(c).startswith("n/a (") and c.fraction(10.0) is None
    assert "a_max underestimated" in ceiling(0.99, C, 0.98, legit_snr_db=10.0, eve_snr_db=0.0).reason
    below = ceiling(0.05, C, 0.98, legit_snr_db=10.0, eve_snr_db=0.0)
    assert below.points is None and "at or below chance" in below.reason
    stronger = ceiling(0.94, C, 0.98, legit_snr_db=10.0, eve_snr_db=20.0)
    assert stronger == Ceiling(None, "eavesdropper SNR >= legitimate SNR")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(legit_acc=1.2), "legit accuracy"),
        (dict(a_max=float("nan")), "a_max"),
        (dict(eve_snr_db=float("inf")), "eve_snr_db"),
        (dict(chance=-0.1), "chance"),
        (dict(legit_snr_db=1e300), "legit_snr_db"),  # (was: OverflowError)
        (dict(eve_snr_db=True), "eve_snr_db"),
    ],
)
def test_ceiling_bad_numbers_are_errors(kwargs, match):
    args = {"legit_acc": 0.94, "chance": C, "a_max": 0.98, "legit_snr_db": 10.0, "eve_snr_db": 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        ceiling(args.pop("legit_acc"), args.pop("chance"), args.pop("a_max"), **args)


@pytest.mark.parametrize(
    "snr,message",
    [
        (float("nan"), "legit_snr_db must be a finite number, got nan"),
        (float("inf"), "legit_snr_db must be a finite number, got inf"),
        (1e308, "legit_snr_db must be in [-100, 300] dB, got 1e+308"),
        (True, "legit_snr_db must be a finite number, got True"),
    ],
)
def test_step_threshold_refuses_a_bad_legit_snr(snr, message):
    """(was: NaN, inf or an OverflowError); the message of every SNR check in semgame"""
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        step_threshold(0.5, C, 0.9, snr)
    assert str(err.value) == message


def test_gap_max_refuses_r_below_one_and_b_outside_the_range():
    with pytest.raises(ValueError, match="r = rho_B / rho_E"):
        gap_max(0.9, C, 0.98, 0.5)
    with pytest.raises(ValueError, match="must lie in"):
        gap_max(0.99, C, 0.98, 10.0)
    assert gap_max(0.9, C, 0.98, 1.0) == pytest.approx(0.0)
