"""Tests for the ``semgame`` command line: help, train/eval end to end, one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import assert_one_line_error, run_cli, snapshot, tiny_values

from semgame import data
from semgame.cli import main
from semgame.config import from_dict, load_config_file

torch.set_num_threads(1)


def write_toml(path: Path, values: dict[str, Any]) -> Path:
    from semgame.run import config_to_toml

    path.write_text(config_to_toml(values))
    return path


@pytest.fixture(scope="module")
def cli_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``semgame train --config tiny.toml --k 6 --run-dir ...`` once for the module."""
    base = tmp_path_factory.mktemp("cli")
    config = write_toml(base / "tiny.toml", tiny_values(synthetic_root, epochs=1, test_limit=128))
    run_dir = base / "run"
    argv = ["train", "--config", config, "--k", "6", "--snr-db", "12.5", "--run-dir", run_dir, "--quiet"]
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # pragma: no cover - failure path
        code = exc.code
    return {"code": code, "run_dir": run_dir, "config": config, "base": base}


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["eval", "--help"]])
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(argv, capsys)
    assert code == 0
    assert "usage: semgame" in out


def test_help_lists_commands_and_config_flags(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(["--help"], capsys)
    assert "train" in out and "eval" in out
    _, out, _ = run_cli(["train", "--help"], capsys)
    for flag in ("--config", "--run-dir", "--k", "--snr-db", "--dataset", "--device", "--threads", "--eve-snr-db"):
        assert flag in out, flag
    _, out, _ = run_cli(["eval", "--help"], capsys)
    for flag in ("--run-dir", "--snr-db", "--eve-snr-db", "--output"):
        assert flag in out, flag


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli([], capsys)
    assert_one_line_error(code, err, "required: command", "semgame --help")


def test_console_script_help() -> None:
    """The installed ``semgame`` script (else ``python -m semgame.cli``) runs in a fresh process."""
    script = Path(sys.executable).parent / "semgame"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "semgame.cli"]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "usage: semgame" in proc.stdout and "train" in proc.stdout and "eval" in proc.stdout


def test_python_m_semgame_and_version() -> None:
    """``python -m semgame`` is the ``semgame`` command; ``--version`` prints the version pyproject.toml declares."""
    import tomllib

    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
    proc = subprocess.run([sys.executable, "-m", "semgame", "--version"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, f"semgame {declared}\n"), proc.stderr
    proc = subprocess.run([sys.executable, "-m", "semgame", "eval"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.endswith(
        "semgame: error: the following arguments are required: --run-dir (see: semgame eval --help)\n"
    )


def test_train_with_config_file_and_flag_override(cli_run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run["code"] == 0
    run_dir = cli_run["run_dir"]
    for name in ("config.toml", "checkpoint.pt", "model.pt", "metrics.json"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tb").iterdir())
    cfg = from_dict(load_config_file(run_dir / "config.toml"))
    assert (cfg.k, cfg.snr_db, cfg.width, cfg.epochs) == (6, 12.5, 8, 1)  # flags win over the file
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["config"]["k"] == 6
    assert {"legit_acc", "legit_psnr", "legit_ssim", "eve_acc", "chance"} <= set(metrics["test"])


def test_train_prints_test_metrics_json(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        [
            "train",
            "--dataset",
            "mnist",
            "--k",
            "4",
            "--width",
            "4",
            "--epochs",
            "1",
            "--eve-epochs",
            "0",
            "--batch-size",
            "64",
            "--train-limit",
            "128",
            "--test-limit",
            "64",
            "--device",
            "cpu",
            "--data-root",
            synthetic_root,
            "--run-dir",
            tmp_path / "r",
        ],
        capsys,
    )
    assert code == 0, err
    assert "link epoch 1/1" in out  # progress line (not --quiet)
    printed = json.loads(out[out.index("{") :])
    assert set(printed) == {"legit_acc", "legit_psnr", "legit_ssim", "chance"}
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())["test"]
    assert printed == pytest.approx(saved)


def test_eval_prints_metrics_and_snr_changes_them(cli_run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = cli_run["run_dir"]
    code, out, err = run_cli(["eval", "--run-dir", run_dir, "--device", "cpu"], capsys)
    assert code == 0, err
    default = json.loads(out)
    assert {"legit_acc", "legit_psnr", "legit_ssim", "eve_acc"} <= set(default)
    assert default["snr_db"] == 12.5 and default["eve_snr_db"] == 12.5
    trained = json.loads((run_dir / "metrics.json").read_text())["test"]
    for key in ("legit_acc", "legit_psnr", "legit_ssim", "eve_acc"):
        assert default[key] == pytest.approx(trained[key], rel=1e-6, abs=1e-6), key

    out_file = cli_run["base"] / "eval-low.json"
    code, out, err = run_cli(
        [
            "eval",
            "--run-dir",
            run_dir,
            "--device",
            "cpu",
            "--snr-db",
            "-15",
            "--eve-snr-db",
            "30",
            "--output",
            out_file,
        ],
        capsys,
    )
    assert code == 0, err
    low = json.loads(out)
    assert low["snr_db"] == -15.0 and low["eve_snr_db"] == 30.0
    # 27.5 dB less signal at the legitimate receiver: fewer right labels and a noisier reconstruction;
    # 17.5 dB more at the eavesdropper: more right guesses (the evaluation's draws are seeded)
    assert low["legit_acc"] < default["legit_acc"] and low["legit_psnr"] < default["legit_psnr"]
    assert low["eve_acc"] > default["eve_acc"]
    assert json.loads(out_file.read_text()) == low

    # a checkpoint file works as --run-dir too: it holds the weights of model.pt
    small = []
    for source in (run_dir, run_dir / "checkpoint.pt"):
        code, out, err = run_cli(["eval", "--run-dir", source, "--device", "cpu", "--test-limit", "32"], capsys)
        assert code == 0, err
        small.append(json.loads(out))
    assert small[0] == small[1] and small[0] != default  # 32 test images, not the run's 128


def test_bad_config_file_key(synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('dataset = "mnist"\nlatent_dim = 8\n')
    code, _, err = run_cli(["train", "--config", config, "--run-dir", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "unknown config key", "'latent_dim'")
    assert not (tmp_path / "r").exists()


def test_missing_and_invalid_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", "--config", tmp_path / "nope.toml", "--run-dir", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "config file not found")
    bad = tmp_path / "bad.toml"
    bad.write_text("k = [\n")
    code, _, err = run_cli(["train", "--config", bad, "--run-dir", tmp_path / "r"], capsys)
    assert code == 2 and err.startswith("semgame: error: ") and "not valid TOML" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--k", "0"], ["k must be an integer in [1, 784], got 0"]),
        (["--k", "-2"], ["k must be an integer in [1, 784], got -2"]),
        (["--dataset", "cifar10", "--k", "3073"], ["k must be an integer in [1, 3072], got 3073"]),
        (["--snr-db", "nan"], ["snr_db must be a finite number, got nan"]),
        (["--snr-db", "inf"], ["snr_db must be a finite number, got inf"]),
        (["--eve-snr-db=-inf"], ["eve_snr_db must be a finite number, got -inf"]),
        (["--dataset", "imagenet"], ["unknown dataset 'imagenet'"]),
        (["--fading", "rician"], ["fading must be one of rayleigh, none; got 'rician'"]),
    ],
)
def test_train_bad_flag_values(
    flags: list[str], needles: list[str], synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["train", "--run-dir", tmp_path / "r", "--data-root", synthetic_root, *flags], capsys)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["train", "minmax"])
def test_values_that_start_like_negative_numbers_are_values(command: str) -> None:
    """``--train-snr-db -5,10`` is a range, not an unknown option (Python 3.11's argparse took it for one)."""
    from semgame.cli import build_parser

    args = build_parser().parse_args(
        [command, "--run-dir", "r", "--train-snr-db", "-5,10", "--lr", "-1e-3", "--snr-db", "-.5"]
    )
    assert (args.train_snr_db, args.lr, args.snr_db) == ([-5.0, 10.0], -1e-3, -0.5)


@pytest.mark.parametrize("command", ["eval", "eval-fresh", "play"])
@pytest.mark.parametrize("where", ["folder", "below a file"])
def test_an_output_file_that_cannot_be_written_is_refused_before_the_work(
    command: str, where: str, cli_run: dict[str, Any], synthetic_root: Path, tmp_path: Path, capsys
) -> None:
    """``--output`` a folder (or below a file) used to fail only after the evaluation or the games were done."""
    (tmp_path / "afile").write_text("x")
    output = tmp_path if where == "folder" else tmp_path / "afile" / "out.json"
    argv = {
        "eval": ["eval", "--run-dir", cli_run["run_dir"]],
        "eval-fresh": ["eval", "--run-dir", cli_run["run_dir"], "--fresh-eavesdroppers", 1],
        "play": ["play", "--agent", "semgame.protocols:Nope", "--data-root", synthetic_root],
    }[command]
    code, out, err = run_cli([*argv, "--output", output], capsys)
    assert_one_line_error(code, err, "--output", "is a folder" if where == "folder" else "afile is a file")
    assert out == ""


def test_bad_value_in_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("k = 0\nsnr_db = 10.0\n")
    code, _, err = run_cli(["train", "--config", config, "--run-dir", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "k must be an integer in [1, 784], got 0")
    assert not (tmp_path / "r").exists()


def test_unparsable_flag_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", "--run-dir", tmp_path / "r", "--k", "eight"], capsys)
    assert_one_line_error(code, err, "--k", "'eight'", "semgame train --help")


@pytest.mark.parametrize("flag", ["--snr-db", "--eve-snr-db"])
@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("nan", "finite"),
        ("inf", "finite"),
        ("-inf", "finite"),
        ("1e308", "must be in [-100, 300] dB"),
        ("-1000", "must be in [-100, 300] dB"),
        ("301", "must be in [-100, 300] dB"),
    ],
)
def test_eval_snr_not_finite_or_outside_the_channel_range(
    cli_run: dict[str, Any], flag: str, value: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["eval", "--run-dir", cli_run["run_dir"], "--device", "cpu", f"{flag}={value}"], capsys)
    assert_one_line_error(code, err, flag.lstrip("-").replace("-", "_"), needle)
    assert out == ""


def test_eval_needs_only_the_test_split(
    cli_run: dict[str, Any], synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    (tmp_path / "mnist").mkdir()
    shutil.copy(synthetic_root / "mnist" / "test.npz", tmp_path / "mnist" / "test.npz")
    argv = ["eval", "--run-dir", cli_run["run_dir"], "--device", "cpu"]
    code, out, err = run_cli([*argv, "--data-root", tmp_path], capsys)
    assert code == 0, err
    code, full, err = run_cli([*argv, "--data-root", synthetic_root], capsys)
    assert code == 0 and json.loads(out) == json.loads(full)


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--threads", "0"], ["threads must be an integer in [1, 1024], got 0"]),
        (["--test-limit", "0"], ["test_limit must be an integer >= 1, got 0"]),
    ],
)
def test_eval_bad_runtime_flags(
    cli_run: dict[str, Any], flags: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["eval", "--run-dir", cli_run["run_dir"], "--device", "cpu", *flags], capsys)
    assert_one_line_error(code, err, *needles)
    assert out == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_gpu(
    cli_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needle = "device 'cuda' requested but torch sees no CUDA GPU; use --device cpu or auto"
    code, _, err = run_cli(["eval", "--run-dir", cli_run["run_dir"], "--device", "cuda"], capsys)
    assert_one_line_error(code, err, needle)
    code, _, err = run_cli(["train", "--run-dir", tmp_path / "r", "--device", "cuda"], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "r").exists()


def test_eval_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["eval", "--run-dir", tmp_path / "does-not-exist", "--device", "cpu"], capsys)
    assert_one_line_error(code, err, "checkpoint not found", "does-not-exist")
    (tmp_path / "empty-run").mkdir()
    code, _, err = run_cli(["eval", "--run-dir", tmp_path / "empty-run", "--device", "cpu"], capsys)
    assert_one_line_error(code, err, "checkpoint not found")


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b""])
def test_eval_corrupt_checkpoint(
    cli_run: dict[str, Any], tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model.pt").write_bytes(content)
    code, _, err = run_cli(["eval", "--run-dir", run_dir, "--device", "cpu"], capsys)
    assert_one_line_error(code, err, "model.pt")
    # a truncated copy of a real checkpoint
    real = (cli_run["run_dir"] / "model.pt").read_bytes()
    (run_dir / "model.pt").write_bytes(real[: len(real) // 2])
    code, _, err = run_cli(["eval", "--run-dir", run_dir, "--device", "cpu"], capsys)
    assert_one_line_error(code, err, "model.pt")


def test_train_into_existing_run_with_other_config_is_refused(
    cli_run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = cli_run["run_dir"]
    before = snapshot(run_dir)
    code, _, err = run_cli(
        ["train", "--config", cli_run["config"], "--k", "7", "--run-dir", run_dir, "--quiet"], capsys
    )
    # the file leaves snr_db at its default 10, the run was trained at --snr-db 12.5: both differences named
    assert_one_line_error(code, err, f"{run_dir} holds a run with a different config (differs in: k, snr_db)")
    assert snapshot(run_dir) == before


def test_data_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import torchvision

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise OSError("network disabled in tests")

    empty = tmp_path / "empty-data"
    empty.mkdir()
    monkeypatch.setenv("SEMGAME_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for cls in ("MNIST", "CIFAR10", "FashionMNIST"):
        monkeypatch.setattr(torchvision.datasets, cls, no_network)
    data._load_cached.cache_clear()
    run_dir = tmp_path / "r"
    code, _, err = run_cli(["train", "--dataset", "mnist", "--k", "4", "--epochs", "1", "--run-dir", run_dir], capsys)
    assert code == 2, err
    first = err.splitlines()[0]
    assert first.startswith("semgame: error: dataset 'mnist'") and "not found" in first, err
    assert str(empty) in err and "SEMGAME_DATA" in err  # says where it looked and how to provide data
    assert "Traceback" not in err
    assert not run_dir.exists()
