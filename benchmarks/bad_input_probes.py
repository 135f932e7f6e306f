"""The known bad-input probes of issue #9, tried as a new user would: how many get a clean error?

    SEMGAME_DATA=../shared/data python benchmarks/bad_input_probes.py

Clean means: the ``semgame`` command exits with status 2 and prints exactly one line
``semgame: error: ...`` (no traceback, no advice to unpickle); an API call raises one of the error types
of :mod:`semgame.errors` (or the envs' ``ValueError`` / ``ResetNeeded``) with a one-line message, from
semgame's own code. ``tests/test_fuzz.py`` goes beyond these with generated cases.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)


def cli(*argv: str) -> tuple[int, str]:
    """``semgame argv`` in this process: (exit status, stderr)."""
    from semgame.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def clean_cli(*argv: str) -> tuple[bool, str]:
    code, err = cli(*argv)
    lines = err.strip().splitlines()
    ok = code == 2 and len(lines) == 1 and lines[0].startswith("semgame: error: ") and "weights_only" not in err
    return ok, err.strip()


def clean_api(call: Callable[[], object]) -> tuple[bool, str]:
    from gymnasium.error import ResetNeeded

    import semgame
    from semgame.errors import USER_ERRORS

    try:
        call()
    except (*USER_ERRORS, ValueError, ResetNeeded) as err:
        raiser = Path(traceback.extract_tb(err.__traceback__)[-1].filename).resolve()
        own = raiser.is_relative_to(Path(semgame.__file__).resolve().parent)
        return own and "\n" not in str(err), f"{type(err).__name__}: {err}"
    return False, "no error"


def main() -> None:
    data = os.environ.get("SEMGAME_DATA")
    if not data:
        sys.exit("set SEMGAME_DATA to a folder with mnist/ (the probes train a tiny run on it)")
    with tempfile.TemporaryDirectory(prefix="semgame-probes-") as tmp:
        probe_all(data, Path(tmp))


def probe_all(data: str, tmp: Path) -> None:
    """Every probe, with its scratch files (run folders, bad files) in ``tmp``."""
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # no dataset from the download cache: only the folders given
    run = tmp / "run"
    tiny = [
        "--dataset",
        "mnist",
        "--k",
        "8",
        "--width",
        "8",
        "--epochs",
        "1",
        "--eve-epochs",
        "1",
        "--train-limit",
        "256",
        "--test-limit",
        "128",
        "--device",
        "cpu",
        "--data-root",
        data,
    ]
    assert cli("train", "--run-dir", str(run), "--quiet", *tiny)[0] == 0
    (tmp / "bad.toml").write_text("k = [\n")
    (tmp / "unknown.toml").write_text("latent_dim = 8\n")
    (tmp / "binary.toml").write_bytes(b"\x80\x81\x00")
    (tmp / "corrupt").mkdir()
    (tmp / "corrupt" / "model.pt").write_bytes(os.urandom(4096))
    (tmp / "empty").mkdir()
    (tmp / "broken_agent.py").write_text("def (:\n")
    agent = "semgame.protocols:ConstantEavesdropper"
    play = ["play", "--agent", agent, "--data-root", data]

    from semgame.data import synthetic_dataset
    from semgame.envs import SemComEnv, SemComVectorEnv
    from semgame.runloop import RunLock

    images = synthetic_dataset("mnist", 32, seed=0)
    eve_env = SemComVectorEnv(512, images=images)
    eve_env.reset(seed=0)
    tx_env = SemComVectorEnv(64, role="transmitter", images=images)
    tx_env.reset(seed=0)

    def second_process() -> tuple[bool, str]:
        with RunLock(tmp / "locked"):
            return clean_cli("train", "--run-dir", str(tmp / "locked"), *tiny)

    def read_only() -> tuple[bool, str]:
        folder = tmp / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            if os.access(folder, os.W_OK):  # root ignores permissions: take the folder away instead
                return clean_cli("train", "--run-dir", str(Path("/proc/semgame-probe")), *tiny)
            return clean_cli("train", "--run-dir", str(folder / "run"), *tiny)
        finally:
            folder.chmod(0o755)

    probes: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("semgame (no command)", lambda: clean_cli()),
        ("train --k 0", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--k", "0")),
        ("train --k eight", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--k", "eight")),
        ("train --snr-db nan", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--snr-db", "nan")),
        ("train --dataset imagenet", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--dataset", "imagenet")),
        ("train --config missing.toml", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--config", "x.toml")),
        (
            "train --config invalid TOML",
            lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--config", str(tmp / "bad.toml")),
        ),
        (
            "train --config unknown key",
            lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--config", str(tmp / "unknown.toml")),
        ),
        (
            "train --config binary file",
            lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--config", str(tmp / "binary.toml")),
        ),
        (
            "train without data",
            lambda: clean_cli(
                "train", "--run-dir", str(tmp / "r1"), "--dataset", "cifar10", "--data-root", str(tmp / "empty")
            ),
        ),
        (
            "train into a run of another config",
            lambda: clean_cli("train", "--run-dir", str(run), *tiny[:-2], "--k", "4"),
        ),
        ("train --device cuda (no GPU)", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--device", "cuda")),
        ("train --threads 0", lambda: clean_cli("train", "--run-dir", str(tmp / "r1"), "--threads", "0")),
        ("eval --run-dir missing", lambda: clean_cli("eval", "--run-dir", str(tmp / "missing"))),
        ("eval corrupt model.pt", lambda: clean_cli("eval", "--run-dir", str(tmp / "corrupt"))),
        ("eval --snr-db inf", lambda: clean_cli("eval", "--run-dir", str(run), "--snr-db", "inf")),
        ("eval --threads 0", lambda: clean_cli("eval", "--run-dir", str(run), "--threads", "0")),
        ("eval --test-limit 0", lambda: clean_cli("eval", "--run-dir", str(run), "--test-limit", "0")),
        (
            "eval --fresh-eavesdroppers 0",
            lambda: clean_cli("eval", "--run-dir", str(run), "--fresh-eavesdroppers", "0"),
        ),
        (
            "eval --defence keyed without --psr-db",
            lambda: clean_cli("eval", "--run-dir", str(run), "--fresh-eavesdroppers", "1", "--defence", "keyed"),
        ),
        ("minmax --lambda -1", lambda: clean_cli("minmax", "--run-dir", str(tmp / "m1"), "--lambda", "-1")),
        ("minmax --objective mi", lambda: clean_cli("minmax", "--run-dir", str(tmp / "m1"), "--objective", "mi")),
        ("reproduce --profile huge", lambda: clean_cli("reproduce", "--profile", "huge", "--out", str(tmp / "rep"))),
        ("play --episodes 0", lambda: clean_cli(*play, "--episodes", "0")),
        ("play --episodes -1", lambda: clean_cli(*play, "--episodes", "-1")),
        ("play --threads 0", lambda: clean_cli(*play, "--threads", "0")),
        ("play --agent nonexistent:X", lambda: clean_cli("play", "--agent", "nonexistent_module:X")),
        ("play --agent broken file", lambda: clean_cli("play", "--agent", f"{tmp / 'broken_agent.py'}:Eve")),
        ("play --env Nope-v0", lambda: clean_cli(*play, "--env", "Nope-v0")),
        ("a second process on a run folder", second_process),
        ("a run folder that cannot be written", read_only),
        ("float actions on the native vector env", lambda: clean_api(lambda: eve_env.step(np.full(512, 0.5)))),
        (
            "NaN actions on the native vector env",
            lambda: clean_api(lambda: tx_env.step(np.full((64, 32), np.nan, np.float32))),
        ),
        ("gym.make(role='referee')", lambda: clean_api(lambda: SemComEnv(role="referee", images=images))),
        ("env.step() before reset()", lambda: clean_api(lambda: SemComEnv(images=images).step(0))),
    ]
    clean = 0
    for name, probe in probes:
        ok, message = probe()
        clean += ok
        print(f"{'clean' if ok else 'NOT CLEAN':9}  {name}: {message[:150]}")
    print(f"{clean}/{len(probes)} probes clean")


if __name__ == "__main__":
    main()
