"""Tests for semgame.channels."""

import doctest
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semgame import channels
from semgame.channels import (
    AWGN,
    ChannelState,
    FadingChannel,
    RayleighFading,
    complex_to_real,
    equalize,
    normalize_power,
    real_to_complex,
    sample_snr_db,
    snr_db_to_noise_var,
)

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unit_waveform(batch: int, k: int, seed: int = 0) -> torch.Tensor:
    return normalize_power(torch.randn(batch, k, dtype=torch.complex64, generator=gen(seed)))


def power(x: torch.Tensor, dim=None) -> torch.Tensor:
    p = x.real.double().square() + x.imag.double().square()
    return p.mean() if dim is None else p.mean(dim=dim)


def test_doctests() -> None:
    result = doctest.testmod(channels, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --- conversions and power -------------------------------------------------


def test_real_to_complex_pairs_adjacent_reals() -> None:
    z = torch.arange(8.0).reshape(2, 4)
    expected = torch.tensor([[0 + 1j, 2 + 3j], [4 + 5j, 6 + 7j]], dtype=torch.complex64)
    x = real_to_complex(z)
    assert x.dtype == torch.complex64
    torch.testing.assert_close(x, expected)
    torch.testing.assert_close(x, torch.view_as_complex(z.view(2, 2, 2)))


def test_real_to_complex_non_contiguous() -> None:
    z = torch.randn(6, 3, generator=gen()).t()  # [3, 6], non-contiguous
    assert not z.is_contiguous()
    torch.testing.assert_close(real_to_complex(z), torch.complex(z[:, 0::2], z[:, 1::2]))
    odd_offset = torch.randn(1, 9, generator=gen())[:, 1:]
    torch.testing.assert_close(complex_to_real(real_to_complex(odd_offset)), odd_offset)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 5), k=st.integers(1, 16), seed=st.integers(0, 2**16))
def test_real_complex_round_trip(batch: int, k: int, seed: int) -> None:
    z = torch.randn(batch, 2 * k, generator=gen(seed))
    r = complex_to_real(real_to_complex(z))
    assert r.dtype == torch.float32 and r.shape == z.shape
    torch.testing.assert_close(r, z)
    x = torch.randn(batch, k, dtype=torch.complex64, generator=gen(seed))
    torch.testing.assert_close(real_to_complex(complex_to_real(x)), x)


def test_normalize_power_is_per_sample() -> None:
    x = torch.randn(3, 64, dtype=torch.complex64, generator=gen())
    x = x * torch.tensor([[10.0], [1.0], [0.1]])
    y = normalize_power(x)
    torch.testing.assert_close(power(y, dim=-1), torch.ones(3, dtype=torch.float64))
    # Direction within each sample is unchanged.
    torch.testing.assert_close(y / y.abs(), x / x.abs())


def test_normalize_power_zero_input_is_finite() -> None:
    y = normalize_power(torch.zeros(2, 4, dtype=torch.complex64))
    assert torch.isfinite(torch.view_as_real(y)).all()
    assert torch.equal(y, torch.zeros(2, 4, dtype=torch.complex64))  # nothing to scale: silence stays silence
    # a silent sample next to a loud one: each is scaled on its own
    x = torch.stack([torch.zeros(4, dtype=torch.complex64), torch.full((4,), 3 + 4j, dtype=torch.complex64)])
    torch.testing.assert_close(normalize_power(x), torch.stack([x[0], x[1] / 5]))


# --- SNR handling -------------------------------------------------------------


def test_snr_db_to_noise_var() -> None:
    snr = torch.tensor([-10.0, 0.0, 3.0, 20.0])
    torch.testing.assert_close(snr_db_to_noise_var(snr), 10 ** (-snr / 10))


def test_sample_snr_db_float_and_tensor() -> None:
    torch.testing.assert_close(sample_snr_db(7.0, 4), torch.full((4,), 7.0))
    torch.testing.assert_close(sample_snr_db(torch.tensor(3.0), 2), torch.tensor([3.0, 3.0]))
    per_sample = torch.tensor([0.0, 5.0, 10.0], dtype=torch.float64)
    out = sample_snr_db(per_sample, 3)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, per_sample.float())


def test_sample_snr_db_range_is_uniform() -> None:
    s = sample_snr_db((2.0, 12.0), 20000, generator=gen())
    assert s.shape == (20000,) and s.dtype == torch.float32
    assert s.min() >= 2.0 and s.max() <= 12.0
    assert abs(s.mean().item() - 7.0) < 0.1
    assert abs(s.var().item() - 100 / 12) < 0.2
    torch.testing.assert_close(sample_snr_db((5.0, 5.0), 3, generator=gen()), torch.full((3,), 5.0))


@pytest.mark.parametrize(
    "spec, match",
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (torch.tensor([0.0, float("nan"), 1.0]), "finite"),
        ((0.0, float("inf")), "finite"),
        ((10.0, 0.0), "lo <= hi"),
        ((1.0, 2.0, 3.0), r"\(lo, hi\)"),
        (torch.zeros(2), r"shape \[3\]"),
        (torch.zeros(3, 1), r"shape \[3\]"),
    ],
)
def test_sample_snr_db_rejects_bad_specs(spec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_snr_db(spec, 3)


def test_sample_snr_db_rejects_bad_type() -> None:
    with pytest.raises(TypeError, match="snr_db"):
        sample_snr_db("10", 3)


# --- AWGN -------------------------------------------------------------------


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_awgn_measured_snr(snr_db: float) -> None:
    x = unit_waveform(1000, 1000)  # 1e6 symbols
    y, state = AWGN(snr_db)(x, generator=gen(1))
    noise = y - x
    measured = 10 * math.log10(power(x).item() / power(noise).item())
    assert abs(measured - snr_db) < 0.1
    # Real and imaginary noise parts each carry half the noise power.
    torch.testing.assert_close(
        noise.real.double().var() / noise.imag.double().var(),
        torch.tensor(1.0, dtype=torch.float64),
        atol=0.01,
        rtol=0,
    )
    assert state.h.shape == x.shape and (state.h == 1).all()
    torch.testing.assert_close(state.noise_var, torch.full((1000,), 10 ** (-snr_db / 10)))


def test_awgn_per_sample_snr_tensor() -> None:
    snr = torch.tensor([0.0, 10.0, 20.0, 30.0])
    x = unit_waveform(4, 100_000)
    y, state = AWGN()(x, snr_db=snr, generator=gen(1))
    torch.testing.assert_close(state.snr_db, snr)
    torch.testing.assert_close(state.noise_var, 10 ** (-snr / 10))
    measured = power(y - x, dim=-1).float()
    torch.testing.assert_close(measured, state.noise_var, rtol=0.03, atol=0)


def test_awgn_snr_range_gives_per_sample_noise_var() -> None:
    x = unit_waveform(64, 20_000)
    y, state = AWGN(snr_db=(-5.0, 25.0))(x, generator=gen(2))
    assert state.snr_db.min() >= -5.0 and state.snr_db.max() <= 25.0
    assert state.snr_db.unique().numel() == 64
    torch.testing.assert_close(state.noise_var, 10 ** (-state.snr_db / 10))
    measured = power(y - x, dim=-1).float()
    torch.testing.assert_close(measured, state.noise_var, rtol=0.05, atol=0)


# --- fading -----------------------------------------------------------------


def test_rayleigh_statistics_per_symbol() -> None:
    x = torch.ones(1000, 1000, dtype=torch.complex64)
    y, h = RayleighFading(block=False)(x, generator=gen())
    assert h.dtype == torch.complex64 and h.shape == x.shape
    torch.testing.assert_close(y, h)
    assert abs(power(h).item() - 1.0) < 0.01
    assert abs(h.real.double().var().item() - 0.5) < 0.005
    assert abs(h.imag.double().var().item() - 0.5) < 0.005
    assert abs(h.real.mean().item()) < 0.005 and abs(h.imag.mean().item()) < 0.005
    assert h[0].real.unique().numel() > 1


def test_rayleigh_block_constant_along_k() -> None:
    x = unit_waveform(500, 16)
    y, h = RayleighFading(block=True)(x, generator=gen())
    assert (h == h[:, :1]).all()
    assert h[:, 0].real.unique().numel() == 500
    torch.testing.assert_close(y, h * x)


def test_channel_state_effective_snr() -> None:
    h = torch.tensor([[1 + 0j, 0 + 2j]])
    state = ChannelState(h=h, noise_var=torch.tensor([0.1]), snr_db=torch.tensor([10.0]))
    expected = torch.tensor([[10.0, 10.0 + 10 * math.log10(4)]])
    torch.testing.assert_close(state.effective_snr_db(), expected)


# --- equalisation -------------------------------------------------------------


def test_equalize_closed_forms() -> None:
    g = gen()
    y = torch.randn(8, 5, dtype=torch.complex64, generator=g)
    h = torch.randn(8, 5, dtype=torch.complex64, generator=g)
    n0 = torch.rand(8, generator=g)
    torch.testing.assert_close(equalize(y, h, n0, "zf"), y / h)
    mmse = torch.conj(h) * y / (h.abs() ** 2 + n0[:, None])
    torch.testing.assert_close(equalize(y, h, n0, "mmse"), mmse)


def test_zf_noise_free_recovers_input() -> None:
    x = unit_waveform(16, 32)
    hx, h = RayleighFading(block=False)(x, generator=gen())
    torch.testing.assert_close(equalize(hx, h, torch.zeros(16), "zf"), x)


@pytest.mark.parametrize("kwargs", [dict(block=True), dict(block=False), dict(fading="none")])
@pytest.mark.parametrize("snr", [15.0, (0.0, 20.0)])
def test_fading_channel_csi_modes_match_closed_forms(kwargs: dict, snr) -> None:
    x = unit_waveform(8, 12)
    y_raw, state = FadingChannel(snr, csi="none", **kwargs)(x, generator=gen(3))
    for eq in ("zf", "mmse"):
        y, state_eq = FadingChannel(snr, csi="perfect", equalizer=eq, **kwargs)(x, generator=gen(3))
        torch.testing.assert_close(state_eq.h, state.h)
        torch.testing.assert_close(state_eq.noise_var, state.noise_var)
        torch.testing.assert_close(y, equalize(y_raw, state.h, state.noise_var, eq))


def test_fading_channel_without_fading_is_awgn() -> None:
    x = unit_waveform(8, 12)
    y_awgn, _ = AWGN(5.0)(x, generator=gen(4))
    y, state = FadingChannel(5.0, fading="none", csi="none")(x, generator=gen(4))
    torch.testing.assert_close(y, y_awgn)
    assert (state.h == 1).all()


def test_fading_channel_generator_call_order() -> None:
    """Documented order: fading draw, then SNR range draw, then noise."""
    batch, k, lo, hi = 6, 10, 0.0, 20.0
    x = unit_waveform(batch, k)
    y, state = FadingChannel((lo, hi), csi="none")(x, generator=gen(5))
    g = gen(5)
    h = torch.randn(batch, 1, dtype=torch.complex64, generator=g).expand(batch, k)
    snr = lo + (hi - lo) * torch.rand(batch, generator=g)
    n = torch.randn(batch, k, dtype=torch.complex64, generator=g)
    torch.testing.assert_close(state.h, h)
    torch.testing.assert_close(state.snr_db, snr)
    torch.testing.assert_close(y, h * x + n * (10 ** (-snr / 20))[:, None])


# --- reproducibility and gradients -----------------------------------------


@pytest.mark.parametrize("block", [True, False])
def test_seeded_generator_reproducible(block: bool) -> None:
    ch = FadingChannel(snr_db=(0.0, 20.0), block=block)
    x = unit_waveform(4, 16)
    y1, s1 = ch(x, generator=gen(7))
    y2, s2 = ch(x, generator=gen(7))
    y3, s3 = ch(x, generator=gen(8))
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(s1.h, s2.h)
    torch.testing.assert_close(s1.snr_db, s2.snr_db)
    assert not torch.allclose(y1, y3)
    assert not torch.allclose(s1.snr_db, s3.snr_db)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(csi="perfect", equalizer="mmse"),
        dict(csi="perfect", equalizer="zf"),
        dict(csi="none"),
        dict(fading="none", csi="perfect"),
    ],
)
def test_gradients_flow_to_input(kwargs: dict) -> None:
    z = torch.randn(4, 32, generator=gen(), requires_grad=True)
    x = normalize_power(real_to_complex(z))
    y, _ = FadingChannel(snr_db=(0.0, 10.0), **kwargs)(x, generator=gen(1))
    complex_to_real(y).square().sum().backward()
    assert torch.isfinite(z.grad).all()
    assert (z.grad != 0).any()


# --- argument validation ------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(fading="rician"), "'rician'.*'rayleigh'"),
        (dict(csi="partial"), "'partial'.*'perfect'"),
        (dict(equalizer="lmmse"), "'lmmse'.*'mmse'"),
        (dict(snr_db=float("nan")), "finite"),
        (dict(snr_db=(5.0, 1.0)), "lo <= hi"),
    ],
)
def test_fading_channel_rejects_bad_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FadingChannel(**kwargs)


def test_awgn_rejects_bad_snr() -> None:
    with pytest.raises(ValueError, match="finite"):
        AWGN(float("-inf"))
    with pytest.raises(ValueError, match="finite"):
        AWGN()(unit_waveform(2, 4), snr_db=float("nan"))


def test_equalize_rejects_unknown_method() -> None:
    h = torch.ones(1, 2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="'foo'"):
        equalize(h, h, torch.zeros(1), "foo")


def test_real_to_complex_rejects_odd_last_dim() -> None:
    with pytest.raises(ValueError, match="even"):
        real_to_complex(torch.zeros(2, 5))


@pytest.mark.parametrize("channel", [AWGN(), RayleighFading(), FadingChannel()], ids=lambda c: type(c).__name__)
def test_channels_reject_real_input(channel) -> None:
    with pytest.raises(TypeError, match="complex"):
        channel(torch.zeros(2, 8))


def test_channels_reject_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\[batch, k\]"):
        FadingChannel()(torch.zeros(8, dtype=torch.complex64))


def test_extra_repr_names_settings() -> None:
    r = repr(FadingChannel(snr_db=(0.0, 5.0), csi="none", equalizer="zf"))
    assert "snr_db=(0.0, 5.0)" in r and "csi='none'" in r and "equalizer='zf'" in r
