"""``semgame bench`` (issue #7): a smoke grid on tiny synthetic data, TensorBoard read-back (files and a
real server), resumption, a crashing cell, and every bad input stopping before any cell starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, run_cli
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from semgame import tags
from semgame.cli import main

torch.set_num_threads(1)
AGENTS = Path(__file__).resolve().parent.parent / "agents"
SCALARS = (tags.EVE_ACC, tags.EVE_REWARD, tags.LEGIT_ACC, tags.LEGIT_PSNR, tags.TRANSMISSIONS_PER_S)
EVE_RUNS = [f"mnist/{d}/{a}/eve10dB/seed0" for d in ("undefended", "keyed10") for a in ("supervised", "ppo")]


def smoke_toml(data_root: Path, extra: str = "") -> str:
    """2 defences x 2 agents x 1 seed, tiny budgets (512 intercepted transmissions per cell)."""
    return f'''
datasets = ["mnist"]
eve_snr_db = [10.0]
seeds = [0]
transmissions = 512
eval_every = 128
eval_first = 64
eval_size = 128
num_envs = 64
fresh_k = 1
fresh_epochs = 1
fresh_limit = 128
data_root = "{data_root}"

[[defences]]
name = "undefended"
kind = "none"

[[defences]]
name = "keyed10"
kind = "keyed"
psr_db = 10.0

[[agents]]
name = "supervised"
agent = "{AGENTS}/neural_eavesdropper.py:NeuralSupervisedEavesdropper"
reference = true

[[agents]]
name = "ppo"
agent = "{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"
args = {{ n_steps = 2, batch_size = 64 }}
{extra}'''


@pytest.fixture(scope="module")
def smoke(synthetic_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    config = root / "smoke.toml"
    config.write_text(smoke_toml(synthetic_root))
    out = root / "out"
    code = main(["bench", "--config", str(config), "--out", str(out), "--quiet"])
    assert code == 0
    return config, out


def test_smoke_grid_runs_tags_and_summary(smoke):
    _, out = smoke
    for run in EVE_RUNS:
        acc = EventAccumulator(str(out / run))
        acc.Reload()
        assert set(SCALARS) <= set(acc.Tags()["scalars"]), run
        steps = [e.step for e in acc.Scalars(tags.EVE_ACC)]
        assert steps == [64, 128, 256, 384, 512]  # global step = intercepted transmissions (first point early)
        assert acc.Scalars(tags.LEGIT_ACC)[0].value == acc.Scalars(tags.LEGIT_ACC)[-1].value  # fixed held-out set
        # the event files hold what the cell measured (its result file, written by the executor)
        record = json.loads((out / "cells" / f"eve/{run}.json").read_text())
        measured = [pt[tags.EVE_ACC] for pt in record["result"]["points"]]
        assert [e.value for e in acc.Scalars(tags.EVE_ACC)] == pytest.approx(measured, abs=1e-6)
    summary = json.loads((out / "summary.json").read_text())
    got = {(r["defence"], r["agent"]) for r in summary["eve_rows"]}
    assert got == {(d, a) for d in ("undefended", "keyed10") for a in ("supervised", "ppo")}
    assert {r["defence"] for r in summary["defence_rows"]} == {"undefended", "keyed10"} and not summary["failed"]
    # keyed removal at the legitimate receiver: same legit accuracy as undefended on the same held-out draws
    legit = {r["defence"]: r["legit_acc"] for r in summary["eve_rows"]}
    assert legit["keyed10"] == legit["undefended"]
    # the supervised eavesdropper learns the undefended synthetic waveforms; the keyed mask holds it down
    final = {(r["defence"], r["agent"]): r["final_eve_acc_mean"] for r in summary["eve_rows"]}
    assert final[("undefended", "supervised")] > 0.5 > final[("keyed10", "supervised")], final
    table = (out / "summary.md").read_text()
    for r in summary["eve_rows"]:  # one row per cell: mean ± std over the (one) seed
        row = next(line for line in table.splitlines() if line.startswith(f"| mnist | {r['defence']} | {r['agent']} |"))
        assert row.startswith(f"| mnist | {r['defence']} | {r['agent']} | 10 | {r['final_eve_acc_mean']:.3f} ± 0.000 |")
        assert f"| {r['legit_acc']:.3f} ± 0.000 | {r['legit_psnr']:.2f} ± 0.00 |" in row, row
    assert "eve_acc_mnist_eve10dB.png" in summary["plots"] and (out / "eve_acc_mnist_eve10dB.png").stat().st_size > 1000
    # the hparams plugin holds the grid axes of every run
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    for run in EVE_RUNS:
        starts = [
            plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content).session_start_info
            for f in (out / run).glob("events.out.tfevents.*")
            for ev in EventFileLoader(str(f)).Load()
            for v in ev.summary.value
            if v.tag == "_hparams_/session_start_info"
        ]
        assert len(starts) == 1
        hp = starts[0].hparams
        assert {k: hp[k].string_value for k in ("dataset", "defence", "agent")} == dict(
            zip(("dataset", "defence", "agent"), run.split("/")[:3])
        )
        assert hp["eve_snr_db"].number_value == 10.0 and hp["seed"].number_value == 0


def test_second_invocation_skips_finished_cells(smoke, capsys):
    config, out = smoke
    events = sorted((out / EVE_RUNS[0]).glob("events.out.tfevents.*"))
    before = [p.stat().st_mtime_ns for p in events]
    code, stdout, _ = run_cli(["bench", "--config", config, "--out", out], capsys)
    assert code == 0 and "6 cells, 6 already finished, 0 to run" in stdout
    assert [p.stat().st_mtime_ns for p in sorted((out / EVE_RUNS[0]).glob("events.out.tfevents.*"))] == before


def test_tensorboard_server_lists_every_run_and_tag(smoke):
    _, out = smoke
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(out), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url, deadline = None, time.time() + 60
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            url = match.group(1) if match else None
        assert url, "tensorboard did not print its address"
        runs = json.loads(urllib.request.urlopen(f"{url}/data/runs", timeout=30).read())
        for _ in range(30):  # the first scan of the log folder may still be running
            if set(EVE_RUNS) <= set(runs):
                break
            time.sleep(1)
            runs = json.loads(urllib.request.urlopen(f"{url}/data/runs", timeout=30).read())
        assert set(EVE_RUNS) <= set(runs), runs
        scalar_tags = json.loads(urllib.request.urlopen(f"{url}/data/plugin/scalars/tags", timeout=30).read())
        for run in EVE_RUNS:
            assert set(SCALARS) <= set(scalar_tags[run]), (run, scalar_tags.get(run))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


CRASHY = """
import numpy as np

class Crashy:
    def act(self, obs):
        return np.zeros(len(obs), np.int64)

    def update(self, obs, labels):
        raise RuntimeError("boom in update")
"""


def test_crashing_cell_is_reported_and_the_others_finish(synthetic_root, tmp_path, capsys):
    (tmp_path / "crashy.py").write_text(CRASHY)
    cfg = smoke_toml(synthetic_root).replace(
        f'{AGENTS}/sb3_eavesdropper.py:PPOEavesdropper"\nargs = {{ n_steps = 2, batch_size = 64 }}',
        f'{tmp_path}/crashy.py:Crashy"',
    )
    (tmp_path / "c.toml").write_text(cfg)
    code, stdout, err = run_cli(["bench", "--config", tmp_path / "c.toml", "--out", tmp_path / "out"], capsys)
    assert code == 1 and "2 cell(s) failed" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sorted(summary["failed"]) == [f"eve/mnist/{d}/ppo/eve10dB/seed0" for d in ("keyed10", "undefended")]
    assert all("boom in update" in e for e in summary["failed"].values())
    assert len(summary["eve_rows"]) == 2 and "Failed cells" in (tmp_path / "out" / "summary.md").read_text()
    assert (tmp_path / "out" / "cells" / "eve/mnist/undefended/ppo/eve10dB/seed0.error.json").is_file()
    code, stdout, _ = run_cli(["bench", "--config", tmp_path / "c.toml", "--out", tmp_path / "out"], capsys)
    assert code == 1 and "4 already finished, 2 to run" in stdout  # failed cells are retried, finished ones kept


@pytest.mark.parametrize(
    "edit, flags, needle",
    [
        ({"NeuralSupervisedEavesdropper": "Nope"}, [], "has no attribute 'Nope'"),
        ({"neural_eavesdropper.py": "nope.py"}, [], "nope.py not found"),
        ({"reference = true": "reference = true\nargs = { hiden = 3 }"}, [], "takes no argument(s) hiden"),
        ({'kind = "keyed"': 'kind = "shield"'}, [], "unknown defence kind 'shield'"),
        ({'datasets = ["mnist"]': 'datasets = ["imagenet"]'}, [], "unknown dataset 'imagenet'"),
        ({"seeds = [0]": "seeds = []"}, [], "grid axis seeds is empty"),
        ({"eve_snr_db = [10.0]": "eve_snr_db = []"}, [], "grid axis eve_snr_db is empty"),
        ({}, ["--executor", "slurm"], "unknown executor 'slurm'"),
        ({}, ["--jobs", "0"], "jobs must be an integer >= 1"),
        ({}, ["--ray-address", "auto"], "--ray-address applies to --executor ray"),
    ],
)
def test_bad_input_is_one_line_error_before_any_cell(edit, flags, needle, synthetic_root, tmp_path, capsys):
    text = smoke_toml(synthetic_root)
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new, 1)
    (tmp_path / "bad.toml").write_text(text)
    code, _, err = run_cli(["bench", "--config", tmp_path / "bad.toml", "--out", tmp_path / "out", *flags], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_missing_data_and_a_file_as_output_folder_stop_before_any_cell(tmp_path, capsys, monkeypatch):
    import torchvision

    from semgame import data

    def no_network(*args, **kwargs):
        raise OSError("network disabled in tests")

    for cls in ("MNIST", "CIFAR10", "FashionMNIST"):
        monkeypatch.setattr(torchvision.datasets, cls, no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data._load_cached.cache_clear()
    (tmp_path / "empty").mkdir()
    (tmp_path / "c.toml").write_text(smoke_toml(tmp_path / "empty"))
    code, _, err = run_cli(["bench", "--config", tmp_path / "c.toml", "--out", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "dataset 'mnist' (split 'train') not found", str(tmp_path / "empty"))
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").write_text("a file")
    code, _, err = run_cli(["bench", "--config", tmp_path / "c.toml", "--out", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "is a file")
    assert (tmp_path / "out").read_text() == "a file"


def test_cuda_without_gpu_and_ray_without_ray(synthetic_root, tmp_path, capsys, monkeypatch):
    (tmp_path / "ok.toml").write_text(smoke_toml(synthetic_root))
    if not torch.cuda.is_available():
        code, _, err = run_cli(
            ["bench", "--config", tmp_path / "ok.toml", "--out", tmp_path / "o", "--device", "cuda"], capsys
        )
        assert_one_line_error(code, err, "no CUDA GPU")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, _, err = run_cli(
        ["bench", "--config", tmp_path / "ok.toml", "--out", tmp_path / "o", "--executor", "ray"], capsys
    )
    assert_one_line_error(code, err, 'pip install "semgame[ray]"')
    assert not (tmp_path / "o").exists()


def results(summary: dict) -> dict:
    """What must not depend on the executor (timings and the command line excluded)."""
    return {k: summary[k] for k in ("eve_rows", "defence_rows", "game_rows", "failed", "finished")}


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_two_worker_executors_give_the_sequential_summary(executor, smoke, tmp_path, capsys, monkeypatch):
    """``--jobs 2``: a pool of 2 processes, or a local Ray instance with 2 CPUs (shut down at the end)."""
    if executor == "ray":
        pytest.importorskip("ray")
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    config, sequential_out = smoke
    code, _, err = run_cli(
        ["bench", "--config", config, "--out", tmp_path / "o", "--executor", executor, "--jobs", 2, "--quiet"], capsys
    )
    assert code == 0, err
    sequential = json.loads((sequential_out / "summary.json").read_text())
    parallel = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (parallel["meta"]["executor"], parallel["meta"]["jobs"]) == (executor, 2) and len(
        sequential["eve_rows"]
    ) == 4
    assert results(parallel) == results(sequential)
    if executor == "ray":
        import ray

        assert not ray.is_initialized()  # the executor shut down the instance it started


@pytest.mark.parametrize("name", ["mnist-quick", "cifar10", "full-gpu"])
def test_shipped_profiles_validate(name):
    from semgame.bench.cells import plan
    from semgame.bench.config import load_bench_config

    cfg = load_bench_config(Path(__file__).resolve().parent.parent / "benchmarks" / "configs" / f"{name}.toml")
    assert cfg.reference is not None and cfg.reference.name == "supervised"
    cells = plan(cfg)
    n = len(cfg.datasets) * len(cfg.eve_snr_db) * len(cfg.seeds)
    assert len(cells) == n * (len(cfg.defences) * (1 + len(cfg.agents)) + len(cfg.games))


def test_cells_of_a_group_share_work_and_give_the_results_of_cells_run_alone(synthetic_root, monkeypatch):
    """Later eavesdropper cells of a (defence, seed) group reuse the held-out set and the adversarial crafting
    of the transmissions they intercept again, with bit-identical results."""
    import tomllib

    from semgame.bench import cells as cells_mod
    from semgame.bench.config import bench_config
    from semgame.privacy.defences import AdversarialDefence

    text = smoke_toml(synthetic_root).replace(
        'kind = "keyed"\npsr_db = 10.0', 'kind = "adversarial"\npsr_db = 0.0\nsteps = 2'
    )
    text += f'\n[[agents]]\nname = "linear"\nagent = "{AGENTS}/linear_eavesdropper.py:LinearEavesdropper"\n'
    eve = [
        c.to_dict() for c in cells_mod.plan(bench_config(tomllib.loads(text))) if c.id.startswith("eve/mnist/keyed10")
    ]
    assert [c["params"]["agent"]["name"] for c in eve] == ["supervised", "ppo", "linear"]
    crafted, craft = [], AdversarialDefence.transmit
    monkeypatch.setattr(AdversarialDefence, "transmit", lambda self, *a: crafted.append(1) or craft(self, *a))

    def measured(res: dict) -> list[dict]:
        assert res["status"] == "ok", res.get("traceback")
        return [{k: v for k, v in pt.items() if k != tags.TRANSMISSIONS_PER_S} for pt in res["result"]["points"]]

    cells_mod._Group.current = None
    together, calls = [], []
    for cell in eve:
        crafted.clear()
        together.append(measured(cells_mod.run_cell(cell)))
        calls.append(len(crafted))
    # ppo seeds its env itself (another stream); linear intercepts what supervised did: nothing crafted
    assert calls[0] > calls[1] > calls[2] == 0, calls
    alone = []
    for cell in eve:
        cells_mod._Group.current = None
        alone.append(measured(cells_mod.run_cell(cell)))
    assert together == alone


def test_plot_draws_seed_means_bands_chance_and_fresh_lines(synthetic_root, monkeypatch):
    import tomllib

    from semgame.bench import summary as summary_mod
    from semgame.bench.cells import plan
    from semgame.bench.config import bench_config

    cfg = bench_config(tomllib.loads(smoke_toml(synthetic_root).replace("seeds = [0]", "seeds = [0, 1]")))
    cells = plan(cfg)
    steps = [64, 128, 256]
    accs = {0: [0.2, 0.5, 0.9], 1: [0.4, 0.7, 0.8]}  # per seed (every agent and defence alike)
    records = {
        c.id: {
            "result": {
                "chance": 0.1,
                "points": [{"step": s, tags.EVE_ACC: a} for s, a in zip(steps, accs[c.params["seed"]])],
            }
        }
        for c in cells
        if c.kind == "eve"
    }
    fresh = [{"dataset": "mnist", "defence": "keyed10", "eve_snr_db": 10.0, "fresh_eve_mean": 0.33}]
    figures = []
    monkeypatch.setattr(summary_mod, "write_png", lambda path, fig: figures.append((path.name, fig)))
    assert summary_mod._plot(cfg, cells, records, fresh, Path("unused")) == ["eve_acc_mnist_eve10dB.png"]
    ((name, fig),) = figures
    for ax, defence in zip(fig.axes, ("undefended", "keyed10")):
        assert ax.get_title() == defence and ax.get_xscale() == "log"
        lines = {line.get_label(): line for line in ax.get_lines()}
        for agent in ("supervised", "ppo"):
            assert list(lines[agent].get_xdata()) == steps
            assert list(lines[agent].get_ydata()) == pytest.approx([0.3, 0.6, 0.85])  # mean over the seeds
        assert list(lines["chance"].get_ydata()) == [0.1, 0.1] and lines["chance"].get_linestyle() == "--"
        assert ("fresh (K=1)" in lines) == (defence == "keyed10")
        bands = [c.get_paths()[0].vertices[:, 1] for c in ax.collections]  # one min-max band per agent
        assert len(bands) == 2 and all(min(b) == pytest.approx(0.2) and max(b) == pytest.approx(0.9) for b in bands)


def test_replayed_defence_serves_only_exactly_equal_inputs_within_its_budget():
    from semgame.bench.play import ReplayedDefence, ReplayStore
    from semgame.privacy.defences import Defence

    class Counting(Defence):
        calls = 0

        def transmit(self, x, labels, nonces):
            Counting.calls += 1
            return x * 2

    x, labels, nonces = torch.ones(4, 3, dtype=torch.complex64), torch.arange(4), torch.arange(4)
    store = ReplayStore(keep=2)
    replayed = ReplayedDefence(Counting(), store)
    assert torch.equal(replayed.transmit(x, labels, nonces), x * 2) and Counting.calls == 1
    assert torch.equal(replayed.transmit(x.clone(), labels.clone(), nonces.clone()), x * 2) and Counting.calls == 1
    other = x.clone()
    other[3, 2] += 1e-6  # one value differs: crafted anew, and kept next to the first
    assert torch.equal(replayed.transmit(other, labels, nonces), other * 2) and Counting.calls == 2
    assert torch.equal(replayed.transmit(x, labels, nonces + 1), x * 2) and Counting.calls == 3  # other nonces
    assert torch.equal(replayed.transmit(other, labels, nonces), other * 2) and Counting.calls == 3
    full = ReplayedDefence(Counting(), ReplayStore(max_bytes=store.bytes // 3 - 1))  # less than one batch
    full.transmit(x, labels, nonces)
    full.transmit(x, labels, nonces)
    assert Counting.calls == 5 and not full.store.bytes


def test_killed_run_keeps_finished_cells_and_resumes_to_the_same_summary(smoke, tmp_path, capsys):
    import os
    import signal

    config, done = smoke
    out = tmp_path / "out"
    # (its temp folder goes under tmp_path: SIGKILL leaves no chance to remove it)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "semgame.cli", "bench", "--config", str(config), "--out", str(out), "--quiet"], env=env
    )
    try:
        deadline = time.time() + 300
        while not list((out / "cells").rglob("seed0.json")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # right after the first cell's result file appeared
    finally:
        proc.wait(timeout=60)
    kept = {p: p.read_bytes() for p in (out / "cells").rglob("*.json")}
    assert kept and not (out / "summary.json").exists()
    for data in kept.values():  # whole result files, each with its TensorBoard run written before it
        record = json.loads(data)
        runs = {record["run"], record["run"].replace("/transmitter/", "/fresh/")}  # (a defence cell's verdict run)
        assert record["status"] == "ok" and any(list((out / r).glob("events.out.tfevents.*")) for r in runs)
    code, stdout, err = run_cli(["bench", "--config", config, "--out", out], capsys)
    assert code == 0, err
    assert f"6 cells, {len(kept)} already finished, {6 - len(kept)} to run" in stdout
    assert all(path.read_bytes() == data for path, data in kept.items())  # not re-run
    resumed = json.loads((out / "summary.json").read_text())
    assert results(resumed) == results(json.loads((done / "summary.json").read_text()))
