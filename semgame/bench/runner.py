"""Running a bench grid: executors, resumption and the output folder.

:func:`run_bench` plans the cells (:func:`semgame.bench.cells.plan`), skips those whose result file
already exists with the same parameters, runs the rest (defence cells first: learned transmitters are
needed by the eavesdroppers that attack them) and writes the summary (:mod:`semgame.bench.summary`).

Executors: ``"local"`` (in this process with ``jobs=1``, else a pool of ``jobs`` spawned processes)
and ``"ray"`` (each cell a Ray task on a local Ray instance or the cluster at ``ray_address``). Cells
are seeded, so the results are the same whichever executor runs them.

Output folder (also the TensorBoard root)::

    <out>/<dataset>/<defence>/<agent>/eve<snr>dB/seed<k>/   TensorBoard runs (agent "transmitter": a
                                                            learned transmitter's training, "fresh": the
                                                            fresh-eavesdropper verdict, "game": a game)
    <out>/cells/<kind>/.../seed<k>.json                     one result per finished cell (atomic)
    <out>/cells/<kind>/.../seed<k>.error.json               a failed cell (retried on the next run)
    <out>/summary.md, summary.json, eve_acc_*.png           the summary

Nothing written by finished cells is lost when a later cell fails or the command is killed: each
cell's files are written atomically as soon as it finishes, its result file last.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from semgame.bench.cells import Cell, check_data, plan, run_cell
from semgame.bench.config import BenchConfig
from semgame.config import ConfigError
from semgame.io import atomic_write, write_json
from semgame.runloop import RunLock

__all__ = ["EXECUTORS", "QUICK_CONFIG", "cell_path", "check_executor", "reproduce_section", "run_bench"]

EXECUTORS = ("local", "ray")
QUICK_CONFIG = Path(__file__).resolve().parents[2] / "benchmarks" / "configs" / "mnist-quick.toml"
"""The quick MNIST profile (in a source checkout or editable install)."""


def check_executor(executor: str, jobs: int = 1, ray_address: str | None = None) -> None:
    """One-line :class:`ConfigError` for an unknown executor, a bad ``jobs``, a Ray address without the Ray
    executor or Ray missing."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    if ray_address is not None and executor != "ray":
        raise ConfigError("--ray-address applies to --executor ray")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError('the ray executor needs Ray: pip install "semgame[ray]"') from None


def cell_path(out: Path, cell_id: str, error: bool = False) -> Path:
    return out / "cells" / f"{cell_id}{'.error' if error else ''}.json"


def _normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _finished(out: Path, cell: Cell) -> dict | None:
    """The result record of a cell finished with the same parameters; None (run it again) if there is none or
    it is not whole: not a JSON object of the cell, or a learned transmitter's ``policy.pt`` is missing."""
    path = cell_path(out, cell.id)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(record, dict)
        or record.get("status") != "ok"
        or record.get("run") != cell.run
        or not isinstance(record.get("result"), dict)
        or record.get("params") != _normal(cell.params)
    ):
        return None
    if cell.kind == "defence" and cell.params["defence"]["train_transmissions"] is not None:
        return record if (out / cell.run / "policy.pt").is_file() else None
    return record


def _store(out: Path, cell: Cell, res: dict) -> dict:
    """Write a finished cell's files, then its result file (the marker of completion)."""
    err_path = cell_path(out, cell.id, error=True)
    if res["status"] != "ok":
        write_json(
            err_path, {"id": cell.id, "params": cell.params, "error": res["error"], "traceback": res["traceback"]}
        )
        return res
    for run_dir in {(out / name).parent for name in res["files"]}:
        for old in run_dir.glob("events.out.tfevents.*") if run_dir.is_dir() else ():
            old.unlink()  # a cell re-run with new parameters replaces its runs
    for name, data in sorted(res["files"].items()):
        atomic_write(out / name, lambda fh, data=data: fh.write(data))
    record = {
        "id": cell.id,
        "kind": cell.kind,
        "run": cell.run,
        "params": cell.params,
        "result": res["result"],
        "seconds": res["seconds"],
        "status": "ok",
    }
    write_json(cell_path(out, cell.id), record)
    err_path.unlink(missing_ok=True)
    return record


class _Executor:
    """Runs batches of cells: in this process, in a pool of spawned processes, or as Ray tasks. Workers
    (and a Ray instance this executor starts) live as long as the ``with`` block."""

    def __init__(self, kind: str, jobs: int, device: str, ray_address: str | None) -> None:
        self.kind, self.jobs, self.device, self.ray_address = kind, jobs, device, ray_address
        self.pool: Any = None
        self.started_ray = False

    def __enter__(self) -> _Executor:
        if self.kind == "ray":
            import ray

            if not ray.is_initialized():
                if self.ray_address:
                    ray.init(address=self.ray_address)
                else:
                    ray.init(num_cpus=self.jobs, include_dashboard=False)
                self.started_ray = True
            self.task = ray.remote(num_cpus=1, num_gpus=1 if self.device == "cuda" else 0)(run_cell)
        elif self.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
        if self.started_ray:
            import ray

            ray.shutdown()

    def run(self, cells: list[Cell]) -> Iterator[dict]:
        """Results of ``cells`` in the order they finish."""
        if self.kind == "ray":
            import ray

            pending = [self.task.remote(cell.to_dict(), self.device) for cell in cells]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        elif self.pool is not None:
            from concurrent.futures import as_completed

            for fut in as_completed([self.pool.submit(run_cell, cell.to_dict(), self.device) for cell in cells]):
                yield fut.result()
        else:
            for cell in cells:
                yield run_cell(cell.to_dict(), self.device)


def run_bench(
    cfg: BenchConfig,
    out: str | Path,
    *,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    device: str = "cpu",
    command: str = "",
    say: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) the grid of ``cfg`` into ``out`` and write the summary; returns the summary dict
    (``failed`` lists the cells that crashed; they are retried on the next run). Another process running a
    bench in ``out`` is a :class:`~semgame.runloop.RunLockedError`."""
    check_executor(executor, jobs, ray_address)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {out} is a file")
    check_data(cfg)
    with RunLock(out, flag="--out"):  # (a second bench on the same folder is refused)
        return _run_locked(cfg, out, executor, jobs, ray_address, device, command, say)


def _run_locked(
    cfg: BenchConfig,
    out: Path,
    executor: str,
    jobs: int,
    ray_address: str | None,
    device: str,
    command: str,
    say: Callable[[str], None],
) -> dict:
    from semgame.bench.summary import write_summary

    cells = plan(cfg)
    records: dict[str, dict] = {}
    for cell in cells:
        rec = _finished(out, cell)
        if rec is not None:
            records[cell.id] = rec
    todo = [c for c in cells if c.id not in records]
    say(
        f"semgame bench: {len(cells)} cells, {len(cells) - len(todo)} already finished, {len(todo)} to run "
        f"({executor}{f', {jobs} jobs' if jobs > 1 else ''})"
    )
    failed: dict[str, str] = {}
    start = time.perf_counter()
    with _Executor(executor, jobs, device, ray_address) as pool:
        for phase in (("defence",), ("eve", "game")):
            _run_phase(pool, [c for c in todo if c.kind in phase], out, records, failed, say)
    return write_summary(
        cfg,
        cells,
        records,
        failed,
        out,
        {
            "command": command,
            "executor": executor,
            "jobs": jobs,
            "device": device,
            "run_seconds": time.perf_counter() - start,
        },
    )


def _run_phase(
    pool: _Executor, cells: list[Cell], out: Path, records: dict, failed: dict, say: Callable[[str], None]
) -> None:
    batch = []
    for cell in cells:
        if cell.needs is not None:
            if cell.needs in failed or cell.needs not in records:
                failed[cell.id] = f"its defence cell {cell.needs} failed"
                continue
            cell.inputs = {"policy.pt": (out / records[cell.needs]["run"] / "policy.pt").read_bytes()}
        batch.append(cell)
    by_id = {c.id: c for c in batch}
    for res in pool.run(batch):
        cell = by_id[res["id"]]
        if res["status"] == "ok":
            records[cell.id] = _store(out, cell, res)
            say(f"  done   {cell.id} ({res['seconds']:.1f} s)")
        else:
            _store(out, cell, res)
            failed[cell.id] = res["error"]
            say(f"  FAILED {cell.id}: {res['error']}")


def reproduce_section(
    out: str | Path,
    *,
    seed: int = 0,
    data_root: str | None = None,
    device: str = "cpu",
    transmissions: int = 32768,
    say: Callable[[str], None] = print,
) -> str:
    """The ``semgame reproduce`` section: supervised vs PPO eavesdroppers under each defence of the quick
    MNIST profile (its link: the shipped weights, whose eavesdropper is the adversarial defence's
    surrogate), one seed, ``transmissions`` intercepted transmissions each (learned transmitters learn
    from as many), no fresh-eavesdropper verdicts (the main job's tables have them), into ``out``.
    Returns markdown."""
    from semgame.bench.config import load_bench_config
    from semgame.bench.summary import reach_text, schedule

    if not QUICK_CONFIG.is_file():
        return f"*The benchmark section needs {QUICK_CONFIG} (a source checkout); skipped.*"
    cfg = load_bench_config(QUICK_CONFIG).select(agents=("supervised", "ppo"), seeds=(seed,), games=())
    defences = tuple(
        d if not d.learned else dataclasses.replace(d, train_transmissions=transmissions) for d in cfg.defences
    )
    cfg = cfg.replace(transmissions=transmissions, fresh_k=0, data_root=data_root, defences=defences)
    out = Path(out)
    summary = run_bench(
        cfg,
        out,
        device=device,
        say=say,
        command="semgame reproduce (bench section: quick profile, agents supervised + ppo)",
    )
    lines = [
        "## Eavesdroppers through the game env (`semgame bench`, quick profile)",
        "",
        (
            "Supervised vs PPO eavesdropper (RL from the 1/0 reward alone) under each defence of "
            "`benchmarks/configs/mnist-quick.toml` (its link: the shipped MNIST weights, not this job's), "
            f"seed {seed}, {transmissions:,} intercepted transmissions each, evaluated {schedule(cfg)} on "
            f"{cfg.eval_size:,} held-out defended test transmissions. For the supervised eavesdropper the curve "
            "is leakage against its labelled-data budget. "
            f"TensorBoard: `tensorboard --logdir {out}`."
        ),
        "",
        "| defence | agent | final eve acc | to 90 % of supervised | legit acc |",
        "|---|---|---|---|---|",
    ]
    for r in summary["eve_rows"]:
        lines.append(
            f"| {r['defence']} | {r['agent']} | {r['final_eve_acc_mean']:.3f} | "
            f"{reach_text(r['reach_90']) if 'reach_90' in r else '–'} | {r['legit_acc']:.3f} |"
        )
    if summary["failed"]:
        lines += ["", "Failed cells: " + ", ".join(f"`{c}` ({e})" for c, e in sorted(summary["failed"].items()))]
    lines += [""] + [f"![{p}]({out.name}/{p})" for p in summary["plots"]]
    return "\n".join(lines)
