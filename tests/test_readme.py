"""README.md stays true: its Python examples run, and CI runs the test command it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    text = README.read_text()
    setup = text.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", setup, flags=re.S)
    assert len(commands) == 2 and all(len(c.strip().splitlines()) == 1 for c in commands)
    assert "<!-- test-command -->" in setup and "pytest" in commands[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci


def _needs_real_data(code: str) -> bool:
    return "SemCom-" in code or "parallel_env" in code


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(i, marks=[pytest.mark.slow] if _needs_real_data(code) else [])  # they play and learn on real MNIST
        for i, code in enumerate(python_blocks())
    ],
)
def test_readme_python_example_runs(index: int, tmp_path: Path) -> None:
    """Each ```python block runs as written in a fresh interpreter (env examples need real images)."""
    code = python_blocks()[index]
    env = dict(os.environ, TMPDIR=str(tmp_path))  # (SB3's learn() leaves an empty SB3-<time> folder in the temp dir)
    if _needs_real_data(code):
        if not env.get("SEMGAME_DATA"):
            pytest.skip("environment examples need SEMGAME_DATA (real test images)")
        env["SEMGAME_DATA"] = str(Path(env["SEMGAME_DATA"]).resolve())  # the script runs in tmp_path
    script = tmp_path / "example.py"
    script.write_text("import torch\ntorch.set_num_threads(1)\n" + code)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
