"""Tests for semgame.config: defaults, every kind of bad value, TOML files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from semgame.config import ConfigError, LinkConfig, from_dict, load_config_file
from semgame.run import config_to_toml


def test_defaults_are_valid() -> None:
    cfg = LinkConfig()
    # the defaults the README documents: block Rayleigh fading, perfect CSI with MMSE, the dense link,
    # a cosine schedule on the MSE reconstruction term, automatic precision, one thread
    documented = dict(fading="rayleigh", block=True, csi="perfect", equalizer="mmse", arch="dense")
    documented |= dict(schedule="cosine", recon_loss="mse", precision="auto", device="auto", threads=1)
    assert {key: getattr(cfg, key) for key in documented} == documented
    assert cfg.dataset == "mnist" and cfg.eve_snr_db is None and cfg.train_snr_db is None
    assert cfg.eve_snr == cfg.snr_db  # no eavesdropper SNR: the legitimate one
    assert cfg.replace(snr_db=-7.5).eve_snr == -7.5 and cfg.replace(eve_snr_db=3.0).eve_snr == 3.0
    assert from_dict({}) == cfg
    assert from_dict(cfg.to_dict()) == cfg


def test_replace_and_eve_snr() -> None:
    cfg = LinkConfig(dataset="cifar10", k=64).replace(snr_db=3.0, eve_snr_db=-2.0, train_snr_db=[0, 20])
    assert (cfg.dataset, cfg.k, cfg.snr_db, cfg.eve_snr) == ("cifar10", 64, 3.0, -2.0)
    assert cfg.train_snr_db == (0.0, 20.0)
    assert cfg.to_dict()["train_snr_db"] == [0.0, 20.0]


def _one_line_error(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(values)
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    return msg


KNOWN_KEYS = "known keys: arch, augment, batch_size, block, csi, data_root, dataset, device, epochs, equalizer"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"dataset": "imagenet"}, "unknown dataset 'imagenet'; choose one of: mnist, cifar10, fashion_mnist"),
        ({"dataset": ""}, "unknown dataset ''; choose one of: mnist, cifar10, fashion_mnist"),
        ({"dataset": 5}, "dataset must be a name (string), got 5"),
        # 1 <= k <= the 28 * 28 values of an MNIST image
        ({"k": 0}, "k must be an integer in [1, 784], got 0"),
        ({"k": -4}, "k must be an integer in [1, 784], got -4"),
        ({"k": 785}, "k must be an integer in [1, 784], got 785"),
        ({"k": 2.5}, "k must be an integer in [1, 784], got 2.5"),
        ({"k": "8"}, "k must be an integer in [1, 784], got '8'"),
        ({"k": True}, "k must be an integer in [1, 784], got True"),
        ({"dataset": "cifar10", "k": 3073}, "k must be an integer in [1, 3072], got 3073"),  # 3 * 32 * 32
        ({"snr_db": math.nan}, "snr_db must be a finite number, got nan"),
        ({"snr_db": math.inf}, "snr_db must be a finite number, got inf"),
        ({"snr_db": -math.inf}, "snr_db must be a finite number, got -inf"),
        ({"snr_db": "10"}, "snr_db must be a finite number, got '10'"),
        ({"snr_db": 301.0}, "snr_db must be in [-100, 300] dB, got 301.0"),
        ({"eve_snr_db": math.nan}, "eve_snr_db must be a finite number, got nan"),
        ({"eve_snr_db": -100.5}, "eve_snr_db must be in [-100, 300] dB, got -100.5"),
        ({"train_snr_db": [0.0, math.inf]}, "train_snr_db must be a finite number, got inf"),
        ({"train_snr_db": [20.0, 0.0]}, "train_snr_db must satisfy lo <= hi, got (20.0, 0.0)"),
        ({"train_snr_db": [1.0]}, "train_snr_db must be a pair [lo, hi], got (1.0,)"),
        ({"lr": 0.0}, "lr must be > 0, got 0.0"),
        ({"lr": math.nan}, "lr must be a finite number, got nan"),
        ({"lr": 1e39}, "lr must be <= 3.403e+38 (the largest float32), got 1e+39"),
        ({"data_root": 5}, "data_root must be a folder path (string), got 5"),
        ({"recon_weight": -1.0}, "recon_weight must be >= 0, got -1.0"),
        ({"width": 0}, "width must be an integer in [1, 256], got 0"),
        ({"epochs": -1}, "epochs must be an integer >= 0, got -1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"test_limit": 0}, "test_limit must be an integer >= 1, got 0"),
        ({"fading": "rician"}, "fading must be one of rayleigh, none; got 'rician'"),
        ({"csi": "partial"}, "csi must be one of perfect, none; got 'partial'"),
        ({"equalizer": "ml"}, "equalizer must be one of zf, mmse; got 'ml'"),
        ({"device": "tpu"}, "device must be one of auto, cpu, cuda; got 'tpu'"),
        ({"threads": 0}, "threads must be an integer in [1, 1024], got 0"),
        ({"kk": 8}, f"unknown config key(s) 'kk'; {KNOWN_KEYS}"),
        ({"snr": 10.0, "k": 4}, f"unknown config key(s) 'snr'; {KNOWN_KEYS}"),
    ],
)
def test_bad_values_raise_one_line_config_error(values: dict[str, Any], expected: str) -> None:
    """The message names the key, the allowed values (or range) and the value that was given."""
    msg = _one_line_error(values)
    assert msg.startswith(expected), msg


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ConfigError, match="k must be"):
        LinkConfig(k=0)
    with pytest.raises(ConfigError, match="snr_db must be a finite number"):
        LinkConfig(snr_db=float("nan"))
    with pytest.raises(ConfigError, match="unknown dataset"):
        LinkConfig().replace(dataset="svhn")


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    "cfg",
    [
        LinkConfig(),
        LinkConfig(
            dataset="cifar10",
            k=256,
            width=32,
            snr_db=-3.5,
            eve_snr_db=0.25,
            train_snr_db=(0.0, 20.0),
            fading="none",
            block=False,
            csi="none",
            equalizer="zf",
            epochs=0,
            eve_epochs=3,
            batch_size=7,
            lr=1e-4,
            recon_weight=0.0,
            train_limit=100,
            test_limit=50,
            seed=123,
            device="cpu",
            threads=2,
            data_root="/some/where with spaces",
        ),
    ],
)
def test_toml_round_trip(cfg: LinkConfig, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_to_toml(cfg.to_dict()))
    values = load_config_file(path)
    assert from_dict(values) == cfg


def test_toml_round_trip_of_awkward_strings(tmp_path: Path) -> None:
    # a data root is any path the user has: quotes and backslashes must survive the config file
    cfg = LinkConfig(data_root='C:\\data\\"semgame" dir')
    path = tmp_path / "config.toml"
    path.write_text(config_to_toml(cfg.to_dict()))
    assert from_dict(load_config_file(path)) == cfg


def test_unknown_key_in_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('dataset = "mnist"\nk = 8\nsnr_dB = 5.0\n')
    values = load_config_file(path)
    with pytest.raises(ConfigError) as info:
        from_dict(values)
    msg = str(info.value)
    assert "unknown config key" in msg and "'snr_dB'" in msg and "\n" not in msg


def test_bad_value_in_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("k = 0\n")
    with pytest.raises(ConfigError, match=r"k must be an integer in \[1, 784\], got 0"):
        from_dict(load_config_file(path))
    path.write_text("snr_db = nan\n")  # TOML has nan and inf literals
    with pytest.raises(ConfigError, match="snr_db must be a finite number"):
        from_dict(load_config_file(path))
    path.write_text("snr_db = -inf\n")
    with pytest.raises(ConfigError, match="snr_db must be a finite number"):
        from_dict(load_config_file(path))


def test_missing_and_invalid_toml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(tmp_path / "nope.toml")
    path = tmp_path / "broken.toml"
    path.write_text("k = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(path)
