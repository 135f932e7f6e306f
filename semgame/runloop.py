"""The one resumable run loop behind ``semgame train`` and ``semgame minmax``.

A run trains a sequence of :class:`Phase` objects (e.g. the link, then its eavesdropper), each a number
of epochs, in a run folder. :func:`run_phases` does, in one place, what every run needs:

* **a lock** (:class:`RunLock`, ``fcntl.flock`` on ``run_dir/.lock``): a second process on the same
  folder is refused with :class:`RunLockedError`, so the results of two processes never interleave;
  the OS releases the lock when its holder dies, so a crashed run never leaves a stale one;
* **resume**: ``checkpoint.pt`` is read back when present (a different results config is a
  :class:`~semgame.config.ConfigError` and touches nothing; so are, as one-line errors, a checkpoint that
  does not fit the run, results without a checkpoint and a folder where a file belongs); a finished run
  returns its ``metrics.json``; temporary files and half-written TensorBoard records of a killed process
  are cleared;
* **a checkpoint after every epoch**, written atomically (:mod:`semgame.io`): the state dicts of every
  module, optimiser and scheduler, the epochs done per phase, the history and the wall time;
* **TensorBoard** with the tags of :mod:`semgame.tags`: the global step is the number of training images
  seen (every phase counted, across resumptions), ``perf/samples_per_s`` is each epoch's throughput,
  events are flushed before every checkpoint and ``purge_step`` drops, on resume, whatever was logged
  after the last checkpoint; hyper-parameters go to the HPARAMS plugin at step ``images seen + 1``;
* at the end **hparams, model.pt, metrics.json**, in that order (``metrics.json`` last: its presence
  marks a finished run).

Seeding is the phases' part of the contract: an epoch function draws every random number from
:func:`semgame.seeds.seeded_generator` streams keyed by the seed, the phase and the epoch, so a resumed
run repeats exactly what an uninterrupted one does.

**What "bit-identical" covers.** A run interrupted at any moment (even by ``SIGKILL``, even inside a
checkpoint write) and re-run ends with the same weights in ``model.pt`` and ``checkpoint.pt``, the same
TensorBoard scalars except ``perf/*``, and the same ``metrics.json`` except its wall-clock entries
(:data:`TIMING_KEYS`, removed by :func:`without_timings`): :func:`run_differences` lists what differs,
:func:`check_run_folder` what is not whole (``benchmarks/bench_kill.py`` runs both after real kills).

Example:
    >>> without_timings({"test": {"legit_acc": 0.9}, "history": [{"epoch": 1, "seconds": 2.5}], "wall_seconds": 3.0})
    {'test': {'legit_acc': 0.9}, 'history': [{'epoch': 1}]}
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semgame.config import ConfigError
from semgame.io import (
    CheckpointError,
    OutputError,
    load_checkpoint,
    remove_temp_files,
    save_checkpoint,
    write_json,
    write_text,
)
from semgame.loader import MODEL_FORMAT
from semgame.tags import EVE_ACC, LEGIT_ACC, LEGIT_PSNR, LEGIT_SSIM, SAMPLES_PER_S

__all__ = [
    "Phase",
    "Plan",
    "RunLock",
    "RunLockedError",
    "run_phases",
    "repair_event_files",
    "wait_for_a_later_event_file_name",
    "check_run_folder",
    "run_differences",
    "without_timings",
    "TIMING_KEYS",
    "TEST_TAGS",
]

TIMING_KEYS = frozenset({"seconds", "wall_seconds", "seconds_per_epoch", "finished"})
"""Entries of ``metrics.json`` (at any depth) that hold wall-clock measurements, not results."""

TEST_TAGS = {"legit_acc": LEGIT_ACC, "legit_psnr": LEGIT_PSNR, "legit_ssim": LEGIT_SSIM, "eve_acc": EVE_ACC}
"""TensorBoard tags of the test metrics of :func:`semgame.training.evaluate`."""

_LOCK_NAME = ".lock"
_RESULTS = ("model.pt", "metrics.json")
_RUN_FILES = ("config.toml", "checkpoint.pt", *_RESULTS)


class RunLockedError(RuntimeError):
    """Another live process holds the run folder."""


class RunLock:
    """Exclusive use of a run folder for one process, as a context manager.

    Creates ``run_dir`` if needed and takes ``fcntl.flock`` on ``run_dir/.lock`` (which holds the
    holder's pid, for the message; ``flag``: the option that names the folder, for the message too). The
    lock dies with its process, so no lock is ever stale. On exit the lock file is removed, and so are
    ``run_dir`` and the parents this lock created, if nothing was written in them.
    Raises :class:`RunLockedError` when a live process holds the folder, :class:`~semgame.io.OutputError`
    when the folder cannot be written.
    """

    def __init__(self, run_dir: str | Path, flag: str = "--run-dir") -> None:
        self.run_dir, self.flag = Path(run_dir), flag
        self._fd: int | None = None
        self._created: list[Path] = []  # the folders this lock made, innermost first

    def __enter__(self) -> RunLock:
        path = self.run_dir / _LOCK_NAME
        try:
            self._created = [p for p in (self.run_dir, *self.run_dir.parents) if not p.exists()]
            self.run_dir.mkdir(parents=True, exist_ok=True)
            while True:  # the file may be removed by its previous holder between open and flock: retry
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.read(fd, 32).decode(errors="replace").strip()
                    os.close(fd)
                    pid = f" (pid {holder})" if holder.isdigit() else ""
                    raise RunLockedError(
                        f"run folder {self.run_dir} is in use by another semgame process{pid}; wait for it to "
                        f"finish or use another {self.flag}"
                    ) from None
                try:
                    if os.fstat(fd).st_ino == os.stat(path).st_ino:
                        break
                except FileNotFoundError:
                    pass
                os.close(fd)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as err:
            if isinstance(err, RunLockedError):
                raise
            raise OutputError(f"cannot use run folder {self.run_dir}: {err.strerror or err}", err.errno) from None
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is None:
            return
        (self.run_dir / _LOCK_NAME).unlink(missing_ok=True)  # still holding the lock: nobody else has it
        os.close(self._fd)
        self._fd = None
        for folder in self._created:  # removed while empty: a failed first run leaves no empty folders behind
            try:
                folder.rmdir()
            except OSError:
                break


def _whole_records(data: bytes) -> int:
    """Length of the prefix of a TFRecord stream (``uint64 length, uint32 crc, data, uint32 crc`` per
    record) made of whole records."""
    pos = 0
    while pos + 12 <= len(data):
        end = pos + 12 + int.from_bytes(data[pos : pos + 8], "little") + 4
        if end > len(data):
            break
        pos = end
    return pos


def repair_event_files(tb_dir: str | Path) -> list[Path]:
    """Cut TensorBoard event files back to their last whole record (a killed writer may leave half a record).

    Returns the files that were cut. Call it only while no process writes there.
    """
    cut = []
    for path in sorted(Path(tb_dir).glob("events.out.tfevents.*")):
        whole = _whole_records(path.read_bytes())
        if whole < path.stat().st_size:
            with path.open("r+b") as fh:
                fh.truncate(whole)
            cut.append(path)
    return cut


def wait_for_a_later_event_file_name(tb_dir: str | Path) -> None:
    """Sleep (at most a second) until an event file created now sorts after every event file in ``tb_dir``.

    TensorBoard reads a folder's event files in name order, and a name starts with its creation second,
    then host, process id and a per-process counter (``...tfevents.<second>.<host>.<pid>.<n>``). A run
    resumed within the second its last writer was opened, in the same process (a counter passing 9 to 10)
    or another one (a smaller pid), would get a name that sorts first, and its events would be dropped
    as out of order. Names from a clock that ran backwards by more than a second are left alone.
    """
    fields = [p.name.split(".")[3] for p in Path(tb_dir).glob("events.out.tfevents.*.*")]
    seconds = [int(f) for f in fields if f.isdigit()]
    delay = max(seconds, default=0) + 1 - time.time()
    if 0 < delay <= 1:
        time.sleep(delay)


def check_run_folder(run_dir: str | Path) -> list[str]:
    """What is wrong with the files of a run folder, one line each (empty: every file is whole).

    Checkpoints must load (:func:`~semgame.io.load_checkpoint`), JSON and TOML files parse, TensorBoard
    event files consist of whole records; anything else (e.g. a temporary file of a killed writer) is
    reported, except the lock file.
    """
    from semgame.config import load_config_file

    problems = []
    for path in sorted(p for p in Path(run_dir).rglob("*") if p.is_file()):
        try:
            if path.name == _LOCK_NAME:
                continue
            if path.name.startswith("."):
                problems.append(f"{path}: left-over temporary file")
            elif path.suffix == ".pt":
                load_checkpoint(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".toml":
                load_config_file(path)
            elif path.name.startswith("events.out.tfevents."):
                if _whole_records(path.read_bytes()) < path.stat().st_size:
                    problems.append(f"{path}: ends in half a record")
            else:
                problems.append(f"{path}: not a file a run writes")
        except (CheckpointError, ConfigError, ValueError) as err:
            problems.append(f"{path}: {err}")
    return problems


def _same(a: Any, b: Any) -> bool:
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a if k not in TIMING_KEYS)
        )
    if isinstance(a, (list, tuple)):
        return isinstance(b, type(a)) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def run_differences(a: str | Path, b: str | Path) -> list[str]:
    """How two finished run folders differ in results, one line each (empty: bit-identical).

    Compared: every entry of ``model.pt`` and ``checkpoint.pt`` (weights, optimiser and scheduler
    states bit for bit), ``metrics.json`` without :data:`TIMING_KEYS`, and every TensorBoard scalar
    but ``perf/*`` (steps and values).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    a, b = Path(a), Path(b)
    diffs = []
    for name in ("model.pt", "checkpoint.pt"):
        sa, sb = load_checkpoint(a / name), load_checkpoint(b / name)
        diffs += [
            f"{name}: {k}"
            for k in sorted(set(sa) | set(sb))
            if k not in TIMING_KEYS and not _same(sa.get(k), sb.get(k))
        ]
    ma, mb = (without_timings(json.loads((d / "metrics.json").read_text())) for d in (a, b))
    diffs += [f"metrics.json: {k}" for k in sorted(set(ma) | set(mb)) if ma.get(k) != mb.get(k)]
    scalars = []
    for d in (a, b):
        acc = EventAccumulator(str(d / "tb"))
        acc.Reload()
        scalars.append(
            {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"] if not t.startswith("perf/")}
        )
    diffs += [
        f"tensorboard: {t}" for t in sorted(set(scalars[0]) | set(scalars[1])) if scalars[0].get(t) != scalars[1].get(t)
    ]
    return diffs


def without_timings(obj: Any) -> Any:
    """``obj`` (e.g. the content of ``metrics.json``) without :data:`TIMING_KEYS`, at any depth."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Phase:
    """``epochs`` epochs of one kind of training, ``samples`` training images each.

    ``run_epoch(epoch)`` trains epoch ``epoch`` (0-based within the phase) and returns its history
    record: floats, with the training time in ``"seconds"``. ``tags`` maps record keys to the
    TensorBoard tags they are logged as. ``name`` keys the phase in checkpoints and history.
    """

    name: str
    label: str
    epochs: int
    samples: int
    run_epoch: Callable[[int], dict[str, float]]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Plan:
    """What a run trains, built by :func:`run_phases`'s ``setup`` once the run folder is locked.

    ``state``: every object with ``state_dict`` / ``load_state_dict`` that a checkpoint must hold
    (modules, optimisers, schedulers), by name; ``model``: the names of ``state`` that go to
    ``model.pt``; ``final()``: the final test metrics; ``device``: where it runs (for ``metrics.json``).
    """

    phases: Sequence[Phase]
    state: Mapping[str, Any]
    model: Sequence[str]
    final: Callable[[], dict[str, float]]
    device: str


def _diff(saved: Any, wanted: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        return [
            d for k in sorted(set(saved) | set(wanted)) for d in _diff(saved.get(k), wanted.get(k), f"{prefix}{k}.")
        ]
    return [] if saved == wanted else [prefix.rstrip(".")]


def _hparam_value(v: Any) -> Any:
    return v if isinstance(v, (bool, int, float, str)) else str(v)


def _log_hparams(writer: Any, hparams: Mapping[str, Any], final: Mapping[str, float], step: int) -> None:
    """What ``SummaryWriter.add_hparams`` writes, but into this run's own event file at ``step``."""
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    metrics = {f"hparam/{TEST_TAGS[k]}": v for k, v in final.items() if k in TEST_TAGS}
    for summary in hparams_summary({k: _hparam_value(v) for k, v in hparams.items()}, metrics):
        writer.file_writer.add_summary(summary, step)
    for tag, value in metrics.items():
        writer.add_scalar(tag, value, step)


def _check_run_files(run_dir: Path) -> None:
    """Refuse, before anything is written, a run folder whose files a run could not write or would overwrite:
    a folder where a file belongs (or the reverse), or results (``model.pt``, ``metrics.json``) without the
    ``checkpoint.pt`` they were made from."""
    for name in _RUN_FILES:
        if (run_dir / name).exists() and not (run_dir / name).is_file():
            raise OutputError(f"{run_dir / name} is not a file; move it away or use a new --run-dir")
    if (run_dir / "tb").exists() and not (run_dir / "tb").is_dir():
        raise OutputError(f"{run_dir / 'tb'} is not a folder; move it away or use a new --run-dir")
    results = [name for name in _RESULTS if (run_dir / name).exists()]
    if results and not (run_dir / "checkpoint.pt").exists():
        raise CheckpointError(
            f"{run_dir} holds results ({', '.join(results)}) but no checkpoint.pt; they are left untouched: "
            "use a new --run-dir"
        )


def _read_metrics(path: Path) -> dict[str, Any]:
    """The content of a finished run's ``metrics.json``; :class:`~semgame.io.CheckpointError` if it is not one."""
    metrics, why = None, ""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        why = f": {err}"
    if not isinstance(metrics, dict) or not isinstance(metrics.get("test"), dict):
        raise CheckpointError(
            f"{path} is not a run's metrics (a JSON object with 'test'){why}; delete it to recompute it from "
            "checkpoint.pt"
        )
    return metrics


def _resume(state: dict[str, Any], plan: Plan, ckpt_path: Path) -> tuple[dict[str, int], list[dict], float]:
    """Load a checkpoint's states into ``plan``; returns its epochs done per phase, history and wall time.

    A checkpoint whose entries do not fit the plan (missing, mis-typed or mis-shaped) is a
    :class:`~semgame.io.CheckpointError`; nothing has been written then.
    """
    counters = state["counters"]
    if not isinstance(counters, dict) or set(counters) != {p.name for p in plan.phases}:
        raise CheckpointError(
            f"{ckpt_path} was written by an older semgame; finish that run with it or use a new --run-dir"
        )
    try:
        if not all(type(v) is int for v in counters.values()) or not isinstance(state["history"], list):
            raise TypeError("bad counters or history")
        for name, obj in plan.state.items():
            obj.load_state_dict(state[name])
        return dict(counters), state["history"], float(state["wall_seconds"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        detail = (str(err).splitlines() or [""])[0]
        raise CheckpointError(
            f"{ckpt_path} does not fit this run ({type(err).__name__}: {detail}); move it away or use a new --run-dir"
        ) from None


def run_phases(
    run_dir: str | Path,
    *,
    fmt: str,
    meta: Mapping[str, Any],
    results_config: Mapping[str, Any],
    config_toml: str,
    hparams: Mapping[str, Any],
    setup: Callable[[dict[str, Any] | None], Plan],
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``setup(state).phases`` in ``run_dir``, resuming from its checkpoint; returns ``metrics.json``'s content.

    ``fmt``: the checkpoint's ``format``; ``meta``: entries copied into ``checkpoint.pt``, ``model.pt``
    and ``metrics.json`` (the config, ...); ``results_config``: what a checkpoint must match to be
    resumed; ``config_toml``: the text of ``config.toml``; ``hparams``: flat hyper-parameters for
    TensorBoard; ``setup(state)``: loads data and builds models (``state``: the checkpoint being
    resumed, or ``None``) and returns the :class:`Plan`.
    """
    run_dir = Path(run_dir)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    ckpt_path, metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.json"
    with RunLock(run_dir):
        _check_run_files(run_dir)
        state = load_checkpoint(ckpt_path) if ckpt_path.exists() else None
        if state is not None:
            if state["format"] != fmt:
                raise ConfigError(f"{run_dir} holds a {state['format']!r} run, not a {fmt!r} one; use a new --run-dir")
            if "counters" not in state or "results_config" not in state:
                raise CheckpointError(
                    f"{ckpt_path} was written by an older semgame; finish that run with it or use a new --run-dir"
                )
            diff = _diff(state["results_config"], dict(results_config))
            if diff:
                raise ConfigError(
                    f"{run_dir} holds a run with a different config (differs in: {', '.join(diff)}); "
                    "use a new --run-dir"
                )
            if metrics_path.is_file():
                say(f"{run_dir} has finished already; its metrics:")
                return _read_metrics(metrics_path)
        plan = setup(state)
        done = {p.name: 0 for p in plan.phases}
        history: list[dict[str, Any]] = []
        wall_before = 0.0
        if state is not None:
            done, history, wall_before = _resume(state, plan, ckpt_path)
            say(f"resuming {run_dir}: " + ", ".join(f"{p.name} {done[p.name]}/{p.epochs}" for p in plan.phases))
        else:
            write_text(run_dir / "config.toml", config_toml)
        remove_temp_files(run_dir)
        repair_event_files(run_dir / "tb")
        t0 = time.perf_counter()
        samples = sum(done[p.name] * p.samples for p in plan.phases)

        def checkpoint() -> None:
            save_checkpoint(
                {
                    "format": fmt,
                    **meta,
                    "results_config": dict(results_config),
                    "counters": dict(done),
                    "history": history,
                    "wall_seconds": wall_before + time.perf_counter() - t0,
                    **{name: obj.state_dict() for name, obj in plan.state.items()},
                },
                ckpt_path,
            )

        from torch.utils.tensorboard import SummaryWriter

        # everything up to `samples` is checkpointed; anything a killed process logged after it is dropped
        wait_for_a_later_event_file_name(run_dir / "tb")
        writer = SummaryWriter(str(run_dir / "tb"), purge_step=samples + 1)
        try:
            for phase in plan.phases:
                while done[phase.name] < phase.epochs:
                    record = phase.run_epoch(done[phase.name])
                    bad = [f"{k} = {v}" for k, v in record.items() if not math.isfinite(v)]
                    if bad:  # nothing of this epoch is kept: the checkpoint stays at the epoch before
                        raise ConfigError(
                            f"training diverged in {phase.label} {done[phase.name] + 1}: {', '.join(bad)}; "
                            f"{run_dir} keeps the epoch before (try a lower lr or recon_weight)"
                        )
                    done[phase.name] += 1
                    samples += phase.samples
                    history.append({"phase": phase.name, "epoch": done[phase.name], **record})
                    for key, tag in phase.tags.items():
                        writer.add_scalar(tag, record[key], samples)
                    writer.add_scalar(SAMPLES_PER_S, phase.samples / max(record["seconds"], 1e-9), samples)
                    say(
                        f"{phase.label} {done[phase.name]}/{phase.epochs}: "
                        + " ".join(f"{tag} {record[key]:.4f}" for key, tag in phase.tags.items())
                        + f" ({record['seconds']:.1f} s)"
                    )
                    writer.flush()
                    checkpoint()
            if not ckpt_path.exists():  # a run of zero epochs: its folder is guarded like any other
                checkpoint()
            final = plan.final()
            _log_hparams(writer, hparams, final, samples + 1)
            writer.flush()
            save_checkpoint(
                {"format": MODEL_FORMAT, **meta, **{k: plan.state[k].state_dict() for k in plan.model}},
                run_dir / "model.pt",
            )
            seconds = {p.name: [h["seconds"] for h in history if h["phase"] == p.name] for p in plan.phases}
            metrics = {
                **meta,
                "test": final,
                "history": history,
                "samples_seen": samples,
                "seconds_per_epoch": {k: sum(v) / len(v) for k, v in seconds.items() if v},
                "wall_seconds": wall_before + time.perf_counter() - t0,
                "device": plan.device,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            write_json(metrics_path, metrics)
        finally:
            writer.close()
    return metrics
