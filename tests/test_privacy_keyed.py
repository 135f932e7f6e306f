"""Keyed rotation and the AES-CTR key stream (issue #8): unitarity, exact removal, key/nonce dependence,
Haar-likeness, reproducibility across processes, bad input, and a fresh eavesdropper at chance."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from helpers import assert_one_line_error, tiny_config

from semgame.channels import FadingChannel, normalize_power
from semgame.config import ConfigError
from semgame.privacy.keyed import KeyedPerturbation
from semgame.privacy.keystream import KeyStream, MissingKeyError, NonceError
from semgame.privacy.rotation import KeyedRotation, UnsupportedChannelError, haar_ks_distance
from semgame.seeds import seeded_generator

torch.set_num_threads(1)


def waveforms(n: int, k: int, seed: int = 0) -> torch.Tensor:
    return normalize_power(torch.randn(n, k, dtype=torch.complex64, generator=torch.Generator().manual_seed(seed)))


# ----------------------------------------------------------------------------- key stream
def test_keystream_is_aes_ctr_of_the_derived_key():
    ks = KeyStream("my key", "mask")
    aes_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"semgame keystream v1 | mask").derive(
        b"my key"
    )
    for n in (0, 7, (1 << 40) + 3, (1 << 96) - 1):
        ref = Cipher(algorithms.AES(aes_key), modes.CTR(n.to_bytes(12, "big") + bytes(4))).encryptor().update(bytes(77))
        assert ks.bytes([n], 77).tobytes() == ref
    # purposes separate the streams of one key
    assert ks.bytes([3], 32).tobytes() != KeyStream("my key", "rotation/phases").bytes([3], 32).tobytes()


def test_keystream_is_reproducible_across_processes():
    code = (
        "from semgame.privacy.keystream import KeyStream;"
        "print(KeyStream(0x5EC2E7, 'rotation/phases').bytes([0, 5, 1 << 40], 48).tobytes().hex())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == KeyStream(0x5EC2E7, "rotation/phases").bytes([0, 5, 1 << 40], 48).tobytes().hex()


def test_keystream_numbers_have_the_stated_distributions():
    ks = KeyStream(b"k", "t")
    z = ks.complex_normal(list(range(4000)), 16)  # 64k CN(0,1) draws
    assert z.dtype == torch.complex64
    assert float(z.abs().square().mean()) == pytest.approx(1.0, abs=0.02)
    assert float(z.real.var()) == pytest.approx(0.5, abs=0.015) and float(z.imag.var()) == pytest.approx(0.5, abs=0.015)
    assert abs(float((z.real * z.imag).mean())) < 0.01
    p = ks.permutations(list(range(2000)), 2, 8)
    assert torch.equal(p.sort(-1).values, torch.arange(8).expand(2000, 2, 8))
    # every position takes every value about equally often (uniform permutations)
    counts = torch.zeros(8, 8)
    counts.index_put_((torch.arange(8).expand(4000, 8).reshape(-1), p.reshape(-1)), torch.ones(32000), accumulate=True)
    assert float((counts / 500 - 1).abs().max()) < 0.25


@pytest.mark.parametrize(
    "key,match",
    [(None, "needs a secret key"), ("", "must not be empty"), (b"", "must not be empty"), (1.5, "int, str or bytes")],
)
def test_missing_or_empty_key_is_an_error(key, match):
    with pytest.raises(MissingKeyError, match=match):
        KeyedRotation(key=key)
    with pytest.raises(MissingKeyError, match=match):
        KeyedPerturbation(10.0, key=key)


@pytest.mark.parametrize("defence", [KeyedRotation(key=1), KeyedPerturbation(10.0, key=1)])
def test_a_nonce_reused_inside_one_call_is_an_error(defence):
    x = waveforms(3, 8)
    with pytest.raises(NonceError, match="nonce 4 is used twice in one call"):
        defence(x, [4, 5, 4])
    for bad in ([-1, 2, 3], [0.5, 1, 2], torch.tensor([0.0, 1.0, 2.0])):
        with pytest.raises(NonceError, match="integer"):
            defence(x, bad)
    with pytest.raises(ConfigError, match="one nonce per sample"):
        defence(x, [0, 1])


# ----------------------------------------------------------------------------- rotation
@pytest.mark.parametrize("k", [1, 16, 24, 256])
def test_rotation_preserves_the_norm_and_is_undone_by_its_inverse(k):
    rot = KeyedRotation(key="secret")
    x = waveforms(64, k)
    nonces = torch.arange(64) + 1000
    tx = rot(x, nonces)
    assert (tx.abs().square().sum(-1) - x.abs().square().sum(-1)).abs().max() < 1e-5 * k
    assert (rot.unrotate(tx, nonces) - x).abs().max() < 1e-5
    if k > 1:
        assert (tx - x).abs().mean() > 0.5  # it does move the waveform


def test_a_different_key_or_nonce_gives_an_unrelated_transform():
    k, n = 32, 2000
    x = waveforms(1, k).expand(n, k).contiguous()
    nonces = list(range(n))
    base = KeyedRotation(key=1)(x, nonces)

    def mean_sq_overlap(other: torch.Tensor) -> float:  # E|<u, v>|^2 / k^2; 1/k for independent directions
        return float(((base.conj() * other).sum(-1).abs().square() / k**2).mean())

    assert mean_sq_overlap(KeyedRotation(key=1)(x, nonces)) == pytest.approx(1.0)  # same key and nonce: same U
    for other in (KeyedRotation(key=2)(x, nonces), KeyedRotation(key=1)(x, [m + n for m in nonces])):
        assert mean_sq_overlap(other) == pytest.approx(1 / k, rel=0.15)
    # a transmission's transform does not depend on what else is in the batch
    assert torch.equal(KeyedRotation(key=1)(x[:1], [17]), base[17:18])


def test_three_rounds_are_indistinguishable_from_haar_one_round_is_not():
    k, n = 16, 8000
    one_hot = torch.zeros(n, k, dtype=torch.complex64)
    one_hot[:, 3] = 1.0  # the hardest input: a single active symbol
    crit = 1.95 / math.sqrt(n)  # KS critical value at level 0.001
    assert haar_ks_distance(KeyedRotation(key=9, rounds=3)(one_hot, range(n))) < crit
    assert haar_ks_distance(KeyedRotation(key=9, rounds=1)(one_hot, range(n))) > 0.5  # flat modulus: far from Haar
    q, _ = torch.linalg.qr(torch.randn(n, k, k, dtype=torch.complex64, generator=torch.Generator().manual_seed(0)))
    assert haar_ks_distance(q[:, :, 0]) < crit  # the statistic itself accepts true Haar columns


@pytest.mark.parametrize("csi,equalizer", [("perfect", "mmse"), ("perfect", "zf"), ("none", "mmse")])
def test_block_fading_removal_without_noise_equals_the_undefended_output(csi, equalizer):
    ch = FadingChannel(snr_db=250.0, block=True, csi=csi, equalizer=equalizer)
    rot, x, nonces = KeyedRotation(key="k"), waveforms(32, 16), list(range(32))
    y0, _ = ch(x, generator=seeded_generator(0, 1))
    y1, state = ch(rot(x, nonces), generator=seeded_generator(0, 1))
    assert (rot.remove(y1, state, nonces, csi=csi, equalizer=equalizer) - y0).abs().max() < 1e-4
    wrong = KeyedRotation(key="other").remove(y1, state, nonces, csi=csi, equalizer=equalizer)
    assert (wrong - y0).abs().mean() > 0.5


@pytest.mark.parametrize("equalizer", ["mmse", "zf"])
def test_block_fading_removal_with_noise_keeps_the_undefended_statistics(equalizer):
    """Residual ``y' - A x`` after removal: same per-symbol variance, white, as undefended (n = 20k draws)."""
    n, k, snr = 20000, 8, 5.0
    ch = FadingChannel(snr_db=snr, block=True, equalizer=equalizer)
    rot, x = KeyedRotation(key="k"), waveforms(n, k)
    nonces = list(range(n))
    y0, s0 = ch(x, generator=seeded_generator(0, 1))
    y1, s1 = ch(rot(x, nonces), generator=seeded_generator(0, 2))
    res = []
    for y, s in ((y0, s0), (rot.remove(y1, s1, nonces, csi="perfect", equalizer=equalizer), s1)):
        gain = s.h.abs().square()
        a = torch.ones_like(gain) if equalizer == "zf" else gain / (gain + s.noise_var[:, None])
        r = y - a * x
        if equalizer == "zf":  # heavy-tailed 1/|h|: normalise by the known per-sample noise level
            r = r * s.h.abs() / s.noise_var[:, None].sqrt()
        res.append(r)
    cov0, cov1 = (r.T @ r.conj() / n for r in res)
    assert torch.allclose(cov1.diagonal().real, cov0.diagonal().real, rtol=0.06)
    off = cov1 - torch.diag(cov1.diagonal())
    assert float(off.abs().max()) < 0.05 * float(cov1.diagonal().real.mean())  # white: U^H n ~ CN(0, N0 I)


def test_per_symbol_fading_needs_mmse_and_csi():
    rot, x, nonces = KeyedRotation(key="k"), waveforms(16, 8), list(range(16))
    for csi, eq in (("perfect", "zf"), ("none", "mmse")):
        ch = FadingChannel(snr_db=10.0, block=False, csi=csi, equalizer=eq)
        y, state = ch(rot(x, nonces), generator=seeded_generator(0, 1))
        with pytest.raises(UnsupportedChannelError, match="per-symbol fading"):
            rot.remove(y, state, nonces, csi=csi, equalizer=eq)
    # MMSE: U^H after per-symbol MMSE is the linear MMSE estimate; exact when the noise vanishes
    ch = FadingChannel(snr_db=250.0, block=False, equalizer="mmse")
    y, state = ch(rot(x, nonces), generator=seeded_generator(0, 1))
    assert (rot.remove(y, state, nonces, csi="perfect", equalizer="mmse") - x).abs().max() < 1e-3


# ----------------------------------------------------------------------------- end to end on synthetic data
def test_fresh_eavesdroppers_are_at_chance_against_rotation_and_legit_is_unchanged(leakage_pair, tiny_link):
    from semgame.privacy.defences import build_defence

    base, rot = leakage_pair(build_defence({"kind": "rotation", "key": "s3cret"}), k=2, epochs=3)
    n = len(tiny_link[4])  # test transmissions
    assert base["fresh_eve_mean"] > 0.6  # the synthetic classes are easy to eavesdrop on undefended
    chance_sd = math.sqrt(0.1 * 0.9 / n)
    assert rot["fresh_eve_max"] < 0.1 + 4 * chance_sd and rot["transfer_eve_acc"] < 0.1 + 4 * chance_sd
    # legit: noiseless (a_max, at 80 dB) exactly as undefended; at 10 dB within the noise of 256 transmissions
    assert rot["a_max"] == pytest.approx(base["a_max"], abs=1e-9) and base["a_max"] > 0.9
    p = base["legit_acc"]
    assert abs(rot["legit_acc"] - p) <= 3 * math.sqrt(2 * max(p * (1 - p), 0.01) / n), (rot["legit_acc"], p)
    assert rot["tx_power"] == 1.0 and rot["kind"] == "rotation"
    assert rot["ceiling_pts"] is None and "keyed" in rot["ceiling_note"]  # equal SNR, keyed: n/a


def test_rotation_plugs_into_the_vector_env(tiny_link):
    """Inside the native vector env the legitimate receiver undoes the rotation: legit accuracy as undefended."""
    from semgame.data import synthetic_dataset
    from semgame.envs import SemComVectorEnv

    images = synthetic_dataset("mnist", 256, seed=1)
    accs = {}
    for name, defence in (("none", None), ("rotation", {"kind": "rotation", "key": 5})):
        env = SemComVectorEnv(256, "mnist", images=images, link=tiny_link[5], defence=defence)
        env.reset(seed=0)
        _, _, _, _, info = env.step(torch.zeros(256, dtype=torch.int64))
        accs[name] = float(torch.as_tensor(info["legit_correct"], dtype=torch.float32).mean())
    assert accs["none"] > 0.6 and abs(accs["rotation"] - accs["none"]) <= 0.04


@pytest.mark.parametrize("extra,needle", [([], "needs --key"), (["--key", "k", "--psr-db", "3"], "no PSR budget")])
def test_eval_rotation_cli_errors(tiny_link, cli, extra, needle):
    code, _, err = cli(["eval", "--run-dir", tiny_link[5], "--fresh-eavesdroppers", 1, "--defence", "rotation", *extra])
    assert_one_line_error(code, err, needle)


def test_eval_rotation_refuses_per_symbol_zero_forcing(synthetic_root, tmp_path, cli):
    from semgame.run import train_run

    cfg = tiny_config(
        synthetic_root, k=4, width=4, epochs=1, eve_epochs=0, train_limit=64, test_limit=32, block=False, equalizer="zf"
    )
    train_run(cfg, tmp_path / "ps", quiet=True)
    code, _, err = cli(
        ["eval", "--run-dir", tmp_path / "ps", "--fresh-eavesdroppers", 1, "--defence", "rotation", "--key", "k"]
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "per-symbol fading needs equalizer='mmse'" in lines[0], err


@pytest.mark.parametrize(
    "text",
    [
        "1234",
        "-5",
        "+7",
        "0",
        "0x5EC2E7",
        "0xdead_beef",
        "1_000",
        "0o17",
        "0b101",
        "007",
        "1__0",
        "_1",
        "0x",
        "12a",
        "1.5",
        "my-secret",
        "true",
        "1e3",
        " 12",
        "12 # c",
    ],
)
def test_a_cli_key_is_the_key_a_toml_config_gives(text):
    """``--key 1234`` is the key of ``key = 1234`` in a config file (an int: the string "1234" would give another
    key stream); a string key is the text itself, as ``key = "..."``."""
    import tomllib

    from semgame.privacy.keystream import cli_key

    try:
        toml = tomllib.loads(f"key = {text}")["key"]
    except tomllib.TOMLDecodeError:
        toml = None
    expected = toml if type(toml) is int and text.strip() == text and "#" not in text else text
    assert cli_key(text) == expected and type(cli_key(text)) is type(expected)


def test_eval_key_flag_reads_integers_as_a_config_does(tiny_link):
    from semgame.cli import build_parser
    from semgame.privacy.defences import DEMO_KEY
    from semgame.privacy.keystream import key_bytes

    base = ["eval", "--run-dir", str(tiny_link[5]), "--fresh-eavesdroppers", "1", "--defence", "rotation", "--key"]
    args = build_parser().parse_args([*base, "0x5EC2E7"])
    assert args.key == DEMO_KEY and isinstance(args.key, int)  # the benchmarks' demo key, reachable from the CLI
    assert build_parser().parse_args([*base, "my-secret"]).key == "my-secret"
    assert key_bytes(1234) != key_bytes("1234")  # why it matters: one written key, two streams before
