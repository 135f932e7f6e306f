"""Helpers shared by the test modules: ``from helpers import run_cli, assert_one_line_error, tiny_config``.

* :func:`run_cli` runs ``semgame ARGV`` in-process and returns ``(exit status, stdout, stderr)``;
* :func:`assert_one_line_error` checks the bad-input contract (exit 2, one ``semgame: error: ...`` line);
* :func:`snapshot`: bytes and modification time of every file below a folder (to show nothing was written);
* :func:`tiny_values` / :func:`tiny_config` / :func:`tiny_flags`: the tiny training configuration the tests train on
  (``synthetic_root`` data, k 8, width 8, 2 + 1 epochs), as config values, a :class:`LinkConfig` or CLI flags;
* :func:`import_benchmark`: a script of ``benchmarks/`` as a module (they import each other by file name).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from semgame.cli import main
from semgame.config import LinkConfig

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def import_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, with ``benchmarks/`` on ``sys.path`` only while it imports."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def run_cli(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``semgame argv`` in-process (arguments turned into strings): (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    """Exit status 2 and exactly one stderr line ``semgame: error: ...`` holding every needle."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("semgame: error: "), err
    for needle in needles:
        assert needle in lines[0], err


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime (ns) of every file below ``folder``."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def tiny_values(root: Path, **changes: Any) -> dict[str, Any]:
    """The tiny training configuration's values (a config file's keys) on the data root ``root``."""
    values = dict(
        dataset="mnist",
        k=8,
        width=8,
        epochs=2,
        eve_epochs=1,
        batch_size=64,
        lr=3e-3,
        device="cpu",
        threads=1,
        seed=0,
        data_root=str(root),
    )
    return {**values, **changes}


def tiny_config(root: Path, **changes: Any) -> LinkConfig:
    """:func:`tiny_values` as a :class:`LinkConfig`."""
    return LinkConfig(**tiny_values(root, **changes))


def tiny_flags(root: Path, **changes: Any) -> list[str]:
    """:func:`tiny_values` as ``semgame train`` flags (``--batch-size 64 ...``)."""
    return [
        s for key, value in tiny_values(root, **changes).items() for s in (f"--{key.replace('_', '-')}", str(value))
    ]
