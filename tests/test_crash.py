"""Crash safety of run folders: SIGKILL at random moments, the run-folder lock, disk full, read-only folders.

The kill test runs the trials of ``benchmarks/bench_kill.py`` (the same harness, the same checks) on a
tiny synthetic config, in processes forked from this one (a fresh interpreter per command would cost
seconds of imports): ``semgame train`` and ``semgame minmax`` are each killed with SIGKILL 10 times,
half at a random time and half inside a random atomic write (half-way through the temporary file,
before or after its rename); every killed folder is whole, and the re-run of the same command ends
bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import assert_one_line_error, run_cli, snapshot, tiny_config, tiny_flags

from semgame.io import OutputError, load_checkpoint
from semgame.run import train_run
from semgame.runloop import RunLock, RunLockedError, check_run_folder, run_differences

torch.set_num_threads(1)
BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_kill.py"


def _bench_kill() -> Any:
    spec = importlib.util.spec_from_file_location("bench_kill", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_kill = _bench_kill()


def run_forked(
    args: list[str], hook: dict[str, Any] | None = None, kill_after: float | None = None, timeout: float = 120
) -> tuple[str, float]:
    """``bench_kill.child(args, hook)`` in a forked process, SIGKILLed after ``kill_after`` s if still running."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = bench_kill.child(args, hook)
        finally:
            os._exit(code)
    deadline = start + (kill_after if kill_after is not None else timeout)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        assert kill_after is not None or hook, "the process was killed without being asked to"
        return "killed", seconds
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"semgame {' '.join(args)} exited with {code}"
    return f"exit {code}", seconds


@pytest.fixture(scope="module")
def configs(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The kill configs on synthetic data; one in-process run first, so that forked children start warm
    (modules imported, data cached) and each run takes about a second."""
    folder = tmp_path_factory.mktemp("kill-configs")
    configs = bench_kill.write_configs(folder, str(synthetic_root), 64, 32)
    for command, config in configs.items():
        assert bench_kill.child(bench_kill.argv(command, config, folder / f"warm-{command}"), None) == 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: F401

    return configs


@pytest.mark.parametrize("command", ["train", "minmax"])
def test_sigkill_at_random_moments_resumes_bit_identical(
    configs: dict[str, Path], tmp_path: Path, command: str
) -> None:
    rows = bench_kill.kill_trials(run_forked, {command: configs[command]}, tmp_path, kills=10, seed=1)
    assert len(rows) == 10 and all(r["killed"] for r in rows)
    assert {r.get("stage") for r in rows if r["kind"] == "write"} - {None} <= set(bench_kill.STAGES)
    bad = [r for r in rows if not r["bit_identical"]]
    assert not bad, json.dumps(bad, indent=1, default=str)


def test_a_timed_kill_that_missed_is_drawn_again_within_the_time_the_run_took(tmp_path: Path) -> None:
    """The reference run took 10 s, but the machine got faster and a run now ends after 1 s: the redraws
    must come from [0, 1 s), or all five can miss (the case of a reference timed under load)."""
    calls = []

    def runner(args: list[str], kill_after: float | None = None, hook: Any = None) -> tuple[str, float]:
        calls.append(kill_after)
        return ("killed", kill_after) if kill_after < 1.0 else ("exit 0", 1.0)

    def draws(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [rng.random() for _ in range(2)]

    # a seed whose first two draws would both miss if drawn again from [0, 10 s)
    seed = next(s for s in range(1000) if all(0.1 <= u < 0.999 for u in draws(s)))
    outcome, where = bench_kill.kill(runner, [], tmp_path / "run", "time", random.Random(seed), 10.0, 0)
    assert outcome == "killed" and calls[0] >= 1.0 and len(calls) == 2 and where["after_s"] < 1.0


# ------------------------------------------------------------------------------------ the lock
LIMITS = {"train_limit": 256, "test_limit": 64}
"""Data limits of the tiny config these tests train (``helpers.tiny_config(root, **LIMITS)``)."""


def test_second_process_on_a_run_folder_is_refused(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    train_run(
        tiny_config(synthetic_root, **LIMITS, epochs=1, eve_epochs=0), tmp_path / "other", quiet=True
    )  # warm caches
    (from_child, to_parent), (from_parent, to_child) = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the holder: takes the lock, says so, waits to be told to go
        with RunLock(run_dir):
            os.write(to_parent, b"locked")
            os.read(from_parent, 1)
        os._exit(0)
    assert os.read(from_child, 6) == b"locked"
    before = snapshot(run_dir)
    with pytest.raises(RunLockedError, match=f"in use by another semgame process \\(pid {pid}\\)"):
        train_run(tiny_config(synthetic_root, **LIMITS), run_dir, quiet=True)
    code, _, err = run_cli(["train", "--run-dir", run_dir, "--data-root", synthetic_root, "--epochs", "1"], capsys)
    assert_one_line_error(code, err, "semgame: error: run folder", "in use")
    assert snapshot(run_dir) == before  # the refused processes wrote nothing
    os.write(to_child, b"x")
    assert os.waitpid(pid, 0)[1] == 0
    train_run(tiny_config(synthetic_root, **LIMITS), run_dir, quiet=True)  # the holder is gone: the folder is free
    assert not (run_dir / ".lock").exists()


def test_lock_of_a_killed_process_is_not_stale(synthetic_root: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - dies holding the lock
        RunLock(run_dir).__enter__()
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    assert (run_dir / ".lock").read_text().strip() == str(pid)  # left behind, but no longer locked
    metrics = train_run(tiny_config(synthetic_root, **LIMITS, epochs=1, eve_epochs=0), run_dir, quiet=True)
    # the run went ahead: its one link epoch trained, and the lock released
    assert [(h["phase"], h["epoch"]) for h in metrics["history"]] == [("link", 1)]
    assert metrics["samples_seen"] == LIMITS["train_limit"] and not (run_dir / ".lock").exists()


# ----------------------------------------------------------------------- disk full, read-only
def _interrupted_run(root: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A run stopped after its first epoch; returns the bytes of its checkpoint."""
    import semgame.run as run_mod

    real, calls = run_mod.train_link_epoch, []

    def stop_at_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(run_mod, "train_link_epoch", stop_at_second)
        with pytest.raises(KeyboardInterrupt):
            train_run(tiny_config(root, **LIMITS), run_dir, quiet=True)
    return (run_dir / "checkpoint.pt").read_bytes()


def test_disk_full_is_a_clear_error_and_keeps_the_checkpoint(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import semgame.io as sio

    run_dir = tmp_path / "run"
    before = _interrupted_run(synthetic_root, run_dir, monkeypatch)
    real_save = sio.torch.save

    def disk_full(obj: Any, fh: Any) -> None:  # what a full disk does: half the bytes, then ENOSPC
        real_save(obj, fh)
        fh.truncate(fh.tell() // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(sio.torch, "save", disk_full)
        with pytest.raises(
            OutputError, match=re.escape("checkpoint.pt: No space left on device (its previous version is intact)")
        ):
            train_run(tiny_config(synthetic_root, **LIMITS), run_dir, quiet=True)
        code, _, err = run_cli(
            ["train", "--run-dir", run_dir, *tiny_flags(synthetic_root, **LIMITS), "--quiet"], capsys
        )
    assert_one_line_error(code, err, "No space left on device")
    assert (run_dir / "checkpoint.pt").read_bytes() == before and load_checkpoint(run_dir / "checkpoint.pt")
    assert check_run_folder(run_dir) == [] and not (run_dir / ".lock").exists()
    # with space again, the same command finishes as if nothing had happened
    train_run(tiny_config(synthetic_root, **LIMITS), run_dir, quiet=True)
    train_run(tiny_config(synthetic_root, **LIMITS), tmp_path / "reference", quiet=True)
    assert run_differences(tmp_path / "reference", run_dir) == []


def _can_write_read_only() -> bool:
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"semgame-ro-probe-{os.getpid()}"
    probe.mkdir(mode=0o555)
    try:
        (probe / "x").touch()
        return True
    except PermissionError:
        return False
    finally:
        (probe / "x").unlink(missing_ok=True)
        probe.rmdir()


def test_read_only_run_folder_is_a_clear_error(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    before = _interrupted_run(synthetic_root, run_dir, monkeypatch)
    cmd = [
        sys.executable,
        "-m",
        "semgame.cli",
        "train",
        "--run-dir",
        str(run_dir),
        *tiny_flags(synthetic_root, **LIMITS),
        "--quiet",
    ]
    if _can_write_read_only():  # root: run the command without the capability that ignores permissions
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    for p in (run_dir, *run_dir.rglob("*")):
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])),
        }
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    finally:
        for p in (run_dir, *run_dir.rglob("*")):
            p.chmod(0o755 if p.is_dir() else 0o644)
    err = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(err) == 1, res.stderr
    assert err[0] == f"semgame: error: cannot use run folder {run_dir}: Permission denied"
    assert (run_dir / "checkpoint.pt").read_bytes() == before
