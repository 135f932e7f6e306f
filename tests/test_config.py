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
    assert cfg.dataset == "mnist" and cfg.k > 0 and math.isfinite(cfg.snr_db)
    assert cfg.eve_snr == cfg.snr_db
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


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"dataset": "imagenet"}, ["imagenet", "mnist"]),
        ({"dataset": ""}, ["dataset"]),
        ({"dataset": 5}, ["dataset"]),
        ({"k": 0}, ["k"]),
        ({"k": -4}, ["k"]),
        ({"k": 2.5}, ["k"]),
        ({"k": "8"}, ["k"]),
        ({"k": True}, ["k"]),
        ({"snr_db": math.nan}, ["snr_db", "finite"]),
        ({"snr_db": math.inf}, ["snr_db", "finite"]),
        ({"snr_db": -math.inf}, ["snr_db", "finite"]),
        ({"snr_db": "10"}, ["snr_db"]),
        ({"eve_snr_db": math.nan}, ["eve_snr_db", "finite"]),
        ({"train_snr_db": [0.0, math.inf]}, ["train_snr_db", "finite"]),
        ({"train_snr_db": [20.0, 0.0]}, ["train_snr_db"]),
        ({"train_snr_db": [1.0]}, ["train_snr_db"]),
        ({"lr": 0.0}, ["lr"]),
        ({"lr": math.nan}, ["lr"]),
        ({"lr": 1e39}, ["lr", "largest float32"]),
        ({"data_root": 5}, ["data_root", "string"]),
        ({"recon_weight": -1.0}, ["recon_weight"]),
        ({"width": 0}, ["width"]),
        ({"epochs": -1}, ["epochs"]),
        ({"batch_size": 0}, ["batch_size"]),
        ({"test_limit": 0}, ["test_limit"]),
        ({"fading": "rician"}, ["fading", "rician"]),
        ({"csi": "partial"}, ["csi"]),
        ({"equalizer": "ml"}, ["equalizer"]),
        ({"device": "tpu"}, ["device"]),
        ({"threads": 0}, ["threads"]),
        ({"kk": 8}, ["unknown", "'kk'"]),
        ({"snr": 10.0, "k": 4}, ["unknown", "'snr'"]),
    ],
)
def test_bad_values_raise_one_line_config_error(values: dict[str, Any], names: list[str]) -> None:
    msg = _one_line_error(values)
    for name in names:
        assert name in msg, msg


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
