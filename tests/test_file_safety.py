"""File safety: bad or foreign files in run folders, data roots and bench output folders give one-line errors
and lose nothing; atomic writes are durable; a bench output folder is locked like a run folder.

One tiny training run (synthetic data, about a second) is shared by the module; each test works on a copy.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import snapshot, tiny_config

from semgame.bench.cells import Cell
from semgame.bench.config import bench_config
from semgame.bench.runner import _finished, cell_path, run_bench
from semgame.config import ConfigError
from semgame.data import CorruptDataError, _load_cached, load_dataset
from semgame.io import CheckpointError, OutputError, load_checkpoint, save_checkpoint, write_text
from semgame.loader import load_run
from semgame.run import train_run
from semgame.runloop import RunLock, RunLockedError

torch.set_num_threads(1)
AGENT = f"{Path(__file__).resolve().parent.parent / 'agents'}/neural_eavesdropper.py:NeuralSupervisedEavesdropper"


@pytest.fixture(scope="module")
def finished(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run folder (do not modify: copy it with ``copy_run``)."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    return run_dir


def copy_run(finished: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "run"))


# --------------------------------------------------------------------------- run folders


@pytest.mark.parametrize("content", ["{truncated", "[1, 2]", '{"history": []}'])
def test_a_finished_run_with_bad_metrics_is_a_one_line_error_and_recovers(
    finished: Path, synthetic_root: Path, tmp_path: Path, content: str
) -> None:
    run_dir = copy_run(finished, tmp_path)
    (run_dir / "metrics.json").write_text(content)
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError, match=r"metrics\.json is not a run's metrics.*delete it") as info:
        train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    assert "\n" not in str(info.value) and snapshot(run_dir) == before
    (run_dir / "metrics.json").unlink()  # as the message says: recomputed from the checkpoint
    metrics = train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    assert metrics["test"] == json.loads((finished / "metrics.json").read_text())["test"]


def _drop(key: str) -> Any:
    return lambda state: state.pop(key)


def _reshape_first_weight(state: dict) -> None:
    first = next(iter(state["link"]))
    state["link"][first] = torch.zeros(3)


def _text_counter(state: dict) -> None:
    state["counters"] = {name: str(n) for name, n in state["counters"].items()}


@pytest.mark.parametrize(
    "damage, needle",
    [
        (_drop("history"), "KeyError: 'history'"),
        (_drop("link_opt"), "KeyError: 'link_opt'"),
        (_reshape_first_weight, "RuntimeError: Error(s) in loading state_dict"),
        (_text_counter, "TypeError: bad counters"),
    ],
)
def test_a_checkpoint_that_does_not_fit_the_run_is_a_checkpoint_error(
    finished: Path, synthetic_root: Path, tmp_path: Path, damage: Any, needle: str
) -> None:
    run_dir = copy_run(finished, tmp_path)
    (run_dir / "metrics.json").unlink()  # an interrupted run, to be resumed
    state = load_checkpoint(run_dir / "checkpoint.pt")
    damage(state)
    save_checkpoint(state, run_dir / "checkpoint.pt")
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError, match="does not fit this run") as info:
        train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert snapshot(run_dir) == before


def test_results_without_a_checkpoint_are_not_overwritten(finished: Path, synthetic_root: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path)
    (run_dir / "checkpoint.pt").unlink()
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError, match=re.escape("holds results (model.pt, metrics.json) but no checkpoint.pt")):
        train_run(tiny_config(synthetic_root, seed=1), run_dir, quiet=True)
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("name", ["metrics.json", "model.pt", "config.toml", "checkpoint.pt", "tb"])
def test_a_folder_where_a_file_belongs_stops_before_anything_is_written(
    synthetic_root: Path, tmp_path: Path, name: str
) -> None:
    run_dir = tmp_path / "run"
    if name == "tb":  # (the reverse: a file where the TensorBoard folder belongs)
        write_text(run_dir / "tb", "not a folder\n")
    else:
        (run_dir / name).mkdir(parents=True)
    with pytest.raises(OutputError, match=f"{run_dir / name} is not a (file|folder)"):
        train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    assert sorted(p.name for p in run_dir.iterdir()) == [name]


def test_load_run_of_mistyped_weights_is_a_checkpoint_error(finished: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished, tmp_path)
    state = load_checkpoint(run_dir / "model.pt")
    state["link"] = 5
    save_checkpoint(state, run_dir / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt does not match its config: Expected state_dict"):
        load_run(run_dir)


def test_unreadable_checkpoint_and_a_folder_are_named_as_such(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .* \(it is a folder\)"):
        load_checkpoint(tmp_path)

    def denied(path: Any, *args: Any, **kwargs: Any) -> Any:  # (the tests run as root: chmod would not stop it)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(CheckpointError, match=r"^cannot read checkpoint .*model\.pt: Permission denied$"):
        load_checkpoint(finished / "model.pt")


def test_atomic_write_syncs_the_file_and_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_text(tmp_path / "a.txt", "x\n")
    assert synced == ["file", "folder"]


# --------------------------------------------------------------------------- data files


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _load_mnist(root: Path) -> None:
    _load_cached.cache_clear()
    load_dataset("mnist", "train", root=root, download=False)


def test_npz_whose_header_claims_a_huge_array_is_corrupt_data(tmp_path: Path) -> None:
    import zipfile

    (tmp_path / "mnist").mkdir()
    with zipfile.ZipFile(tmp_path / "mnist" / "train.npz", "w") as z:
        z.writestr("x.npy", _npy_header((10**12, 28, 28)) + bytes(64))  # far more than any memory
        z.writestr("y.npy", _npy_header((3,)) + bytes(3))
    with pytest.raises(CorruptDataError, match=r"train\.npz: Unable to allocate"):
        _load_mnist(tmp_path)


@pytest.mark.parametrize(
    "dims, needle",
    [
        ((0,) * 255, "maximum supported dimension"),  # more dimensions than NumPy allows
        ((65536,) * 4, "0 data bytes, header says shape"),  # 2**64 elements: a 64-bit product wraps to 0
    ],
)
def test_idx_header_of_impossible_shape_is_corrupt_data(tmp_path: Path, dims: tuple[int, ...], needle: str) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    header = b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header)
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + bytes(3))
    with pytest.raises(CorruptDataError, match=needle):
        _load_mnist(tmp_path)


# --------------------------------------------------------------------------- bench output folders


def _defence_cell(learned: bool) -> Cell:
    params = {"dataset": "mnist", "defence": {"name": "d", "train_transmissions": 64 if learned else None}}
    return Cell("defence", "defence/mnist/d/fresh/eve10dB/seed0", "mnist/d/transmitter/eve10dB/seed0", params)


def _record(cell: Cell) -> dict:
    return {"id": cell.id, "kind": cell.kind, "run": cell.run, "params": cell.params, "result": {}, "status": "ok"}


@pytest.mark.parametrize(
    "content",
    ["[]", '"ok"', "null", json.dumps({"params": _defence_cell(False).params}), "{}"],
)
def test_a_cell_result_file_that_is_not_a_record_is_run_again(tmp_path: Path, content: str) -> None:
    cell = _defence_cell(learned=False)
    write_text(cell_path(tmp_path, cell.id), content)
    assert _finished(tmp_path, cell) is None
    write_text(cell_path(tmp_path, cell.id), json.dumps(_record(cell)))
    assert _finished(tmp_path, cell) == _record(cell)


def test_a_learned_defence_cell_without_its_policy_is_run_again(tmp_path: Path) -> None:
    cell = _defence_cell(learned=True)
    write_text(cell_path(tmp_path, cell.id), json.dumps(_record(cell)))
    assert _finished(tmp_path, cell) is None  # (its eavesdropper cells could not load the transmitter)
    save_checkpoint({"format": "policy"}, tmp_path / cell.run / "policy.pt")
    assert _finished(tmp_path, cell) == _record(cell)


def _bench_values(data_root: Path, agent: str = "supervised") -> dict:
    return {
        "datasets": ["mnist"],
        "eve_snr_db": [10.0],
        "seeds": [0],
        "data_root": str(data_root),
        "defences": [{"name": "undefended", "kind": "none"}],
        "agents": [{"name": agent, "agent": AGENT}],
    }


@pytest.mark.parametrize("agent", ["transmitter", "fresh"])
def test_an_agent_may_not_take_the_name_of_a_defence_cells_runs(synthetic_root: Path, agent: str) -> None:
    with pytest.raises(ConfigError, match=f"agent name '{agent}' is reserved"):
        bench_config(_bench_values(synthetic_root, agent))


def test_a_bench_output_folder_in_use_is_refused_untouched(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import semgame.bench.runner as runner

    monkeypatch.setattr(runner, "plan", lambda cfg: [])  # (no cell would run anyway)
    out = tmp_path / "out"
    write_text(out / "summary.md", "another bench's summary\n")
    with RunLock(out, flag="--out"):
        before = snapshot(out)
        with pytest.raises(RunLockedError, match=f"{out} is in use by another semgame process.*another --out$"):
            run_bench(bench_config(_bench_values(synthetic_root)), out, say=lambda *_: None)
        assert snapshot(out) == before
    run_bench(bench_config(_bench_values(synthetic_root)), out, say=lambda *_: None)  # free again
    assert (out / "summary.json").is_file() and not (out / ".lock").exists()
