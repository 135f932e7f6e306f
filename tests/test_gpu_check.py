"""benchmarks/gpu_check.py in its CI-sized CPU mode writes every field of every section."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import import_benchmark

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_check(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("gpu")
    gpu_check = import_benchmark("gpu_check")
    path = gpu_check.main(["--device", "cpu", "--tiny", "--out", str(out), "--data-root", str(synthetic_root)])
    assert path.parent == out and path.name.startswith("cpu-") and path.suffix == ".json"
    return json.loads(path.read_text()), path.with_suffix(".md").read_text()


def test_every_section_and_field(tiny_check: tuple[dict, str]) -> None:
    result, md = tiny_check
    assert set(result) >= {
        "device",
        "device_name",
        "torch",
        "cuda",
        "precision",
        "precision_resolved",
        "tiny",
        "command",
        "platform",
        "sections",
        "seconds",
    }
    s = result["sections"]
    assert set(s) == {"env", "sync", "train", "cifar80", "bench"}
    for name in ("env", "sync", "train", "cifar80", "bench"):
        assert s[name]["status"] == "done", (
            name,
            s[name].get("error"),
            s[name].get("traceback"),
            s[name].get("output_tail"),
        )
    # env: every dataset x role x N x PSNR setting, with positive throughputs
    keys = {(r["dataset"], r["role"], r["n"], r["compute_psnr"]) for r in s["env"]["rows"]}
    assert keys == {
        (d, r, n, p)
        for d in ("mnist", "cifar10")
        for r in ("eavesdropper", "transmitter")
        for n in (8,)
        for p in (False, True)
    }
    for r in s["env"]["rows"]:
        assert r["transmissions_s"] == pytest.approx(r["steps_s"] * r["n"]) and r["steps_s"] > 0
    assert [(r["n"], r["compute_psnr"]) for r in s["sync"]["rows"]] == [(8, False), (8, True)]
    for r in s["sync"]["rows"]:
        assert r["ratio"] == pytest.approx(r["native_steps_s"] / r["sync_steps_s"]) and r["sync_steps_s"] > 0
    assert {r["model"] for r in s["train"]["rows"]} == {"mnist dense k32 w16", "cifar10 spatial k256 w16"}
    for r in s["train"]["rows"]:
        assert (
            r["fp32_img_s"] > 0
            and r["bf16_img_s"] > 0
            and r["ratio"] == pytest.approx(r["bf16_img_s"] / r["fp32_img_s"])
        )
    c80 = s["cifar80"]
    assert c80["config"]["arch"] == "spatial" and c80["config"]["k"] == 256 and len(c80["history"]) == 1
    assert set(c80["history"][0]) >= {"epoch", "seconds", "legit_acc", "legit_psnr"} and "seconds_to_80" in c80
    # one semgame bench cell: the supervised eavesdropper against the undefended link
    (row,) = s["bench"]["summary"]["eve_rows"]
    assert (row["agent"], row["defence"], row["transmissions"]) == ("supervised", "undefended", 512)
    assert s["bench"]["summary"]["finished"] and not s["bench"]["summary"]["failed"]
    # the report shows every section and both targets
    for needle in (
        "## Native vector env",
        "## Native env on the device vs gymnasium sync",
        "## Training images/s",
        "## CIFAR-10 spatial k = 256 link",
        "## One `semgame bench` cell",
        "MNIST >= 1e7 transmissions/s",
        "CIFAR-10 link to 80 %",
    ):
        assert needle in md, needle


def test_shell_wrapper_forwards_to_the_python_helper_from_the_repo_root(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--tiny"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHON": "echo", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["benchmarks/gpu_check.py", "--device", "cpu", "--tiny"]
    script = (ROOT / "benchmarks" / "gpu_check.sh").read_text()
    assert "timeout" in script and "${GPU_CHECK_TIMEOUT:-470}" in script  # stops within the 8-minute budget


def test_cifar_recipe_is_the_shipped_spatial_link() -> None:
    """The time-to-80 % section trains the link of README section 1, the one shipped as ``cifar10-spatial``."""
    from semgame.envs import shipped_link
    from semgame.loader import load_run

    gpu_check = import_benchmark("gpu_check")
    cfg, _, _ = load_run(shipped_link("cifar10-spatial"))
    shipped = cfg.to_dict()
    assert {key: shipped[key] for key in gpu_check.CIFAR_RECIPE} == gpu_check.CIFAR_RECIPE
    assert cfg.epochs == gpu_check.CIFAR_EPOCHS
