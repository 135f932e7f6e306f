"""benchmarks/gpu_check.py in its CI-sized CPU mode writes every field of every section."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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
        "tf32",
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


def test_shell_wrapper_runs_the_repo_venv_where_it_runs_else_python3(tmp_path: Path) -> None:
    """A GPU machine gets the repo without a working .venv (it is not copied, or points at an interpreter that
    is not there) and may have no ``python``: its own ``python3`` runs the check then."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "gpu_check.sh", tmp_path / "benchmarks")
    (tmp_path / "bin").mkdir()
    for exe, name in ((tmp_path / "bin" / "python3", "python3"), (tmp_path / "fake-venv-python", "venv")):
        exe.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        exe.chmod(0o755)

    def interpreter() -> list[str]:
        done = subprocess.run(
            ["bash", "benchmarks/gpu_check.sh", "--tiny"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert interpreter() == ["python3", "benchmarks/gpu_check.py", "--tiny"]
    venv = tmp_path / ".venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.symlink_to(tmp_path / "no-such-interpreter")  # a .venv made on another machine
    assert interpreter() == ["python3", "benchmarks/gpu_check.py", "--tiny"]
    venv.unlink()
    venv.symlink_to(tmp_path / "fake-venv-python")
    assert interpreter() == ["venv", "benchmarks/gpu_check.py", "--tiny"]


def fake_measurements(
    monkeypatch: pytest.MonkeyPatch,
    gpu_check: ModuleType,
    fail_at: int,
    error: BaseException,
    before: Callable[[], None] | None = None,
) -> None:
    """``transmissions_per_s`` of the env section: 1,000 per sub-env, except that call ``fail_at`` calls ``before``
    and raises ``error``."""
    calls = []

    def transmissions_per_s(dataset: str, n: int, *args, **kw) -> float:
        calls.append(dataset)
        if len(calls) == fail_at:
            if before is not None:
                before()
            raise error
        return 1000.0 * n

    monkeypatch.setattr(gpu_check, "transmissions_per_s", transmissions_per_s)


def test_a_failing_measurement_costs_only_its_own_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An out-of-memory at one N (a GPU's failure) leaves the other rows of the section in the JSON and report."""
    gpu_check = import_benchmark("gpu_check")
    fake_measurements(monkeypatch, gpu_check, 2, RuntimeError("CUDA out of memory. Tried to allocate 12 GiB"))
    path = gpu_check.main(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--sections", "env"])
    env = json.loads(path.read_text())["sections"]["env"]
    assert env["status"] == "failed"
    assert env["errors"] == [
        "env mnist eavesdropper N=8 psnr=True: RuntimeError: CUDA out of memory. Tried to allocate 12 GiB"
    ]
    assert len(env["rows"]) == 7 and (env["rows"][0]["dataset"], env["rows"][0]["compute_psnr"]) == ("mnist", False)
    assert all(r["transmissions_s"] == 8000.0 for r in env["rows"])
    md = path.with_suffix(".md").read_text()
    assert md.count("| 8,000 |") == 7 and "`env`: failed: 1 measurement(s) failed" in md


def test_a_stopped_run_keeps_what_it_measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gpu_check.sh's time limit (SIGINT) in the middle of a section: the rows measured before it are saved, and
    were on disk before it came (a run killed outright keeps them too)."""
    gpu_check = import_benchmark("gpu_check")
    on_disk = []
    fake_measurements(
        monkeypatch,
        gpu_check,
        3,
        KeyboardInterrupt(),
        lambda: on_disk.extend(json.loads(p.read_text())["sections"]["env"] for p in tmp_path.glob("*.json")),
    )
    with pytest.raises(KeyboardInterrupt):
        gpu_check.main(["--device", "cpu", "--tiny", "--out", str(tmp_path), "--sections", "env", "sync"])
    (path,) = tmp_path.glob("*.json")
    sections = json.loads(path.read_text())["sections"]
    assert list(sections) == ["env"] and sections["env"]["status"] == "interrupted"
    assert [e["status"] for e in on_disk] == ["running"] and on_disk[0]["rows"] == sections["env"]["rows"]
    assert [(r["role"], r["compute_psnr"]) for r in sections["env"]["rows"]] == [
        ("eavesdropper", False),
        ("eavesdropper", True),
    ]
    assert path.with_suffix(".md").read_text().count("| 8,000 |") == 2


def test_report_of_a_cuda_run_that_stopped_part_way() -> None:
    """The report says what fp32 means on CUDA (TF32 convolutions by default), and shows a section that measured
    nothing and the epochs of a stopped CIFAR-10 run."""
    gpu_check = import_benchmark("gpu_check")
    epoch = {"epoch": 1, "seconds": 3.5, "legit_acc": 0.5, "legit_psnr": 20.0}
    md = gpu_check.markdown(
        {
            "device": "cuda",
            "device_name": "NVIDIA-H200",
            "torch": "2.11.0",
            "cuda": "13.0",
            "precision": "auto",
            "precision_resolved": "bf16",
            "tf32": {"cudnn": True, "matmul": "highest"},
            "tiny": False,
            "command": "bash benchmarks/gpu_check.sh",
            "seconds": 470.0,
            "sections": {
                "sync": {"status": "failed", "rows": [], "images": "real test set", "error": "2 measurement(s) failed"},
                "cifar80": {
                    "status": "interrupted",
                    "reason": "time limit",
                    "data": "real",
                    "precision": "bf16",
                    "seconds_to_80": None,
                    "history": [epoch],
                },
            },
        }
    )
    for needle in (
        "fp32 on CUDA: convolutions in TF32 True (cuDNN), matrix products at float32 precision `highest`.",
        "80 % not reached: 0.5000 after 1 epochs (4 s)\n\n| epoch | seconds | legit acc | PSNR (dB) |",
        "| 1 | 3.5 | 0.5000 | 20.00 |",
        "* `sync`: failed: 2 measurement(s) failed\n* `cifar80`: interrupted: time limit\n",
    ):
        assert needle in md, needle


def test_merge_joins_the_checks_of_the_first_and_the_last_call(tiny_check: tuple[dict, str], tmp_path: Path) -> None:
    """gpu_prepare.sh's calls check every section but ``cifar80`` at once and ``cifar80`` last; the two results
    join into the one a single check would have written, in one report; a later check's section wins."""
    gpu_check = import_benchmark("gpu_check")
    whole, whole_md = tiny_check
    first = {**whole, "sections": {k: v for k, v in whole["sections"].items() if k != "cifar80"}}
    first["sections"]["bench"] = {"status": "failed", "error": "stale"}  # replaced by the later check's
    last = {
        **whole,
        "sections": {k: whole["sections"][k] for k in ("cifar80", "bench")},
        "command": "bash benchmarks/gpu_check.sh --sections cifar80 bench",
        "seconds": 7.0,
    }
    paths = [tmp_path / "first" / "r.json", tmp_path / "last" / "r.json"]
    for path, result in zip(paths, (first, last), strict=True):
        path.parent.mkdir()
        path.write_text(json.dumps(result))
    out = gpu_check.main(["--merge", *map(str, paths), "--out", str(tmp_path / "gpu")])
    merged = json.loads(out.read_text())
    assert out == tmp_path / "gpu" / f"{whole['device_name']}.json"
    assert merged["sections"] == whole["sections"]
    assert merged["command"] == f"{whole['command']}; then bash benchmarks/gpu_check.sh --sections cifar80 bench"
    assert merged["seconds"] == pytest.approx(whole["seconds"] + 7.0)
    md = out.with_suffix(".md").read_text()
    head, tables = md.split("## Native vector env", 1)
    assert tables == whole_md.split("## Native vector env", 1)[1]  # every table and target, as one check wrote them
    assert f"Command: `{merged['command']}`. Total {merged['seconds']:.0f} s." in head
    # merging into the folder of an input replaces that input, read first
    again = gpu_check.main(["--merge", str(out), str(paths[1]), "--out", str(out.parent)])
    assert json.loads(again.read_text())["sections"] == whole["sections"]


def test_merge_refuses_results_it_cannot_join(tiny_check: tuple[dict, str], tmp_path: Path) -> None:
    gpu_check = import_benchmark("gpu_check")
    whole, _ = tiny_check
    good, other, broken = tmp_path / "good.json", tmp_path / "other.json", tmp_path / "broken.json"
    good.write_text(json.dumps(whole))
    other.write_text(json.dumps({**whole, "torch": "2.11.0"}))
    broken.write_text('{"sections": {}')
    for paths, message in (
        ([good, other], f"gpu_check: cannot merge {other}: its torch '2.11.0' differs from {whole['torch']!r}"),
        ([good, broken], f"gpu_check: cannot merge {broken}: JSONDecodeError: Expecting ',' delimiter"),
        ([good, tmp_path / "none.json"], f"gpu_check: cannot merge {tmp_path / 'none.json'}: FileNotFoundError"),
    ):
        with pytest.raises(SystemExit) as err:
            gpu_check.main(["--merge", *map(str, paths), "--out", str(tmp_path / "gpu")])
        assert str(err.value).startswith(message), err.value
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SystemExit, match="no 'sections'"):
        gpu_check.main(["--merge", str(tmp_path / "list.json")])
    assert not (tmp_path / "gpu").exists()


def test_bench_cell_runs_in_a_fresh_folder_on_the_given_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``semgame bench`` skips the cells it finds finished in its ``--out``: a second check must not report the
    first one's cell again. ``--data-root`` reaches the subprocess (run in the repo root) in full-size runs too."""
    gpu_check = import_benchmark("gpu_check")
    seen = []

    def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
        out = Path(cmd[cmd.index("--out") + 1])
        seen.append(((out / "summary.json").exists(), kw["cwd"], kw["env"]["SEMGAME_DATA"]))
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps({"run": len(seen)}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(gpu_check.subprocess, "run", run)
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(tiny=False, data_root="data", bench_timeout=60.0, out=str(tmp_path / "gpu"))
    for expected in (1, 2):
        got = {"status": "running"}
        gpu_check.section_bench(args, "cuda", got, lambda: None)
        assert got["status"] == "done" and got["summary"] == {"run": expected}
    assert seen == [(False, gpu_check.ROOT, str(tmp_path / "data"))] * 2


def test_cifar_recipe_is_the_shipped_spatial_link() -> None:
    """The time-to-80 % section trains the link of README section 1, the one shipped as ``cifar10-spatial``."""
    from semgame.envs import shipped_link
    from semgame.loader import load_run

    gpu_check = import_benchmark("gpu_check")
    cfg, _, _ = load_run(shipped_link("cifar10-spatial"))
    shipped = cfg.to_dict()
    assert {key: shipped[key] for key in gpu_check.CIFAR_RECIPE} == gpu_check.CIFAR_RECIPE
    assert cfg.epochs == gpu_check.CIFAR_EPOCHS


FAKE_PYTHON = """#!/usr/bin/env bash
# stands in for the interpreter gpu_check.sh runs: records its arguments and data folder
printf '%s\\n' "$@" > "$RECORD"
echo "SEMGAME_DATA=$SEMGAME_DATA" >> "$RECORD"
"""


def _device_call(parts: Path, tmp_path: Path, step: str) -> subprocess.CompletedProcess:
    """One `run` call of gpu_device.sh on the GPU machine, carrying the parts under ``parts``."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "GPU_PARTS": str(parts),
        "GPU_STAGE": str(tmp_path / "stage"),
        "GPU_SITE": str(tmp_path / "site"),
        "OUT": str(tmp_path / "out"),
        "PYTHON": str(fake),
        "RECORD": str(tmp_path / "record.txt"),
    }
    cmd = ["bash", str(ROOT / "benchmarks" / "gpu_device.sh"), step]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def test_device_side_joins_the_carried_parts_checks_them_and_runs_the_check(tmp_path: Path) -> None:
    """gpu_prepare.sh's parts, carried one `run` call each: the data is joined and verified, a file that
    is missing or fails its SHA-256 is left out, and gpu_check.sh runs on the staged folder."""
    import hashlib

    files = {"mnist/test.npz": b"mnist", "cifar10/train.npz": b"abcdef", "cifar10/test.npz": b"never carried"}
    sums = "".join(f"{hashlib.sha256(b).hexdigest()}  {name}\n" for name, b in files.items())
    calls = [
        {"d1/SHA256SUMS": sums.encode(), "d1/mnist/test.npz": b"mnist"},
        {"d2/cifar10/train.npz.part-aa": b"abc"},
        {"d3/cifar10/train.npz.part-ab": b"def"},
    ]
    stage = tmp_path / "stage"
    for i, carried in enumerate(calls):
        parts = tmp_path / f"call{i}"
        for name, content in carried.items():
            (parts / name).parent.mkdir(parents=True, exist_ok=True)
            (parts / name).write_bytes(content)
        step = "check" if i == len(calls) - 1 else "stage"
        if i == 1:  # a check before the last part: the partial CIFAR set is left out, not used
            result = _device_call(parts, tmp_path, "check")
            assert result.returncode == 0, result.stderr
            assert "cifar10/train.npz missing or incomplete" in result.stderr
            assert not (stage / "cifar10" / "train.npz").exists()
        result = _device_call(parts, tmp_path, step)
        assert result.returncode == 0, result.stderr
    assert (stage / "cifar10" / "train.npz").read_bytes() == b"abcdef"
    assert (stage / "mnist" / "test.npz").read_bytes() == b"mnist"
    assert not (stage / "cifar10" / "test.npz").exists() and "cifar10/test.npz missing" in result.stderr
    record = (tmp_path / "record.txt").read_text().splitlines()
    assert record == ["benchmarks/gpu_check.py", "--out", str(tmp_path / "out"), f"SEMGAME_DATA={stage}"]


def test_device_side_refuses_an_unknown_step(tmp_path: Path) -> None:
    result = _device_call(tmp_path, tmp_path, "go")
    assert result.returncode == 2 and "usage: gpu_device.sh stage|check" in result.stderr


def test_device_side_check_on_a_machine_without_the_wheels_says_so(tmp_path: Path) -> None:
    """A machine that went back between calls is fresh: `check` stops in one line instead of a traceback."""
    env = {"PATH": "/usr/bin:/bin", "GPU_PARTS": str(tmp_path), "GPU_STAGE": str(tmp_path / "stage"), "PYTHON": "false"}
    env |= {"GPU_SITE": str(tmp_path / "site"), "OUT": str(tmp_path / "out")}
    cmd = ["bash", str(ROOT / "benchmarks" / "gpu_device.sh"), "check"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 3 and "run the stage calls first" in result.stderr
    assert not (tmp_path / "out").exists()
