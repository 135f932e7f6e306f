"""SIGKILL ``semgame train`` and ``semgame minmax`` at random moments, re-run, and count bit-identical results.

    python benchmarks/bench_kill.py --kills 10 --out reports/bench-kill

For each command a reference run goes uninterrupted. Then each trial starts the same command in a new
run folder and kills it with ``SIGKILL``: half of the trials at a random time (uniform over the
reference run's wall time, process start included), half inside a random atomic file write of the
run (config, checkpoint, model or metrics), at a random stage: half-way through the temporary file,
just before its rename, or just after. A kill that lands after the process ended is drawn again.
After the kill no file in the run folder may be corrupt (``semgame.runloop.check_run_folder``; the
temporary file and the dead process's lock are allowed: the next start clears them); the same
command is then run again to the end, and the folder must be whole and give results bit-identical to
the reference (``semgame.runloop.run_differences``: weights, optimiser states, ``metrics.json`` but
wall-clock fields, TensorBoard scalars but ``perf/*``).

Every command runs in a fresh ``python`` process, exactly like the ``semgame`` console script
(``semgame.cli.main``). The data are a small seeded subset of ``$SEMGAME_DATA``'s MNIST (``--data-root``)
so that a run lasts a few seconds; ``tests/test_crash.py`` runs the same trials on synthetic data in
forked processes (fast enough for CI).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STAGES = ("mid-write", "before-rename", "after-rename")
RUN_FLAGS = {
    "train": "",
    "minmax": (
        '\n[minmax]\nlambda_ = 0.5\nobjective = "kl_uniform"\nrounds = 2\npretrain_epochs = 1\n'
        "eve_pretrain_epochs = 1\n"
    ),
}


def write_configs(folder: Path, data_root: str, train_limit: int, test_limit: int) -> dict[str, Path]:
    """The TOML config of each command: a small MNIST link (k 8, width 8), 2 + 1 epochs (train) or
    1 + 1 pre-training epochs and 2 game rounds (minmax)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = (
        f'dataset = "mnist"\nk = 8\nwidth = 8\nepochs = 2\neve_epochs = 1\nbatch_size = 64\n'
        f'train_limit = {train_limit}\ntest_limit = {test_limit}\ndevice = "cpu"\nthreads = 1\n'
        f"data_root = {json.dumps(str(data_root))}\n"
    )
    out = {}
    for command, extra in RUN_FLAGS.items():
        out[command] = folder / f"{command}.toml"
        out[command].write_text(base + extra)
    return out


def argv(command: str, config: Path, run_dir: Path) -> list[str]:
    return [command, "--config", str(config), "--run-dir", str(run_dir), "--quiet"]


# ----------------------------------------------------------------------------- the killed process
def install_kill_hook(write: int, stage: str, count_file: str | None = None) -> None:
    """Make this process SIGKILL itself inside its ``write``-th (0-based) call of ``semgame.io.atomic_write``
    at ``stage``; with ``count_file``, only append one line per call to it instead."""
    import semgame.io as sio

    real_write, real_replace, calls = sio.atomic_write, os.replace, itertools.count()

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def atomic_write(path: Any, write_fn: Callable[[Any], None], mode: str = "wb") -> Path:
        i = next(calls)
        if count_file is not None:
            with open(count_file, "a") as fh:
                fh.write(f"{path}\n")
        if count_file is not None or i != write:
            return real_write(path, write_fn, mode)
        if stage == "mid-write":

            def half(fh: Any) -> None:
                write_fn(fh)
                fh.flush()
                fh.truncate(fh.tell() // 2)
                fh.flush()
                os.fsync(fh.fileno())
                die()

            return real_write(path, half, mode)

        def replace(src: Any, dst: Any) -> None:
            if stage == "after-rename":
                real_replace(src, dst)
            die()

        os.replace = replace
        return real_write(path, write_fn, mode)

    sio.atomic_write = atomic_write


def child(args: Sequence[str], hook: dict[str, Any] | None) -> int:
    """What a killed process runs: ``semgame`` with ``args``, after installing ``hook`` (if any)."""
    import torch

    torch.set_num_threads(1)
    if hook:
        install_kill_hook(**hook)
    from semgame.cli import main

    try:
        return main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def run_subprocess(
    args: Sequence[str], hook: dict[str, Any] | None = None, kill_after: float | None = None, timeout: float = 600
) -> tuple[str, float]:
    """Run ``semgame args`` in a fresh Python process; ``("killed" | "exit N", seconds)``."""
    start = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps({"args": list(args), "hook": hook})],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        if kill_after is not None:
            try:
                proc.wait(kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=timeout)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(
            f"semgame {' '.join(args)} failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}"
        )
    return ("killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}"), time.perf_counter() - start


Runner = Callable[..., tuple[str, float]]


# ----------------------------------------------------------------------------------------- trials
def count_writes(runner: Runner, command: str, config: Path, folder: Path) -> int:
    """Atomic writes of an uninterrupted run of ``command`` (counted in a throw-away folder)."""
    count_file = folder / f"{command}-writes.txt"
    count_file.unlink(missing_ok=True)
    runner(
        argv(command, config, folder / f"{command}-count"),
        hook={"write": -1, "stage": "", "count_file": str(count_file)},
    )
    return len(count_file.read_text().splitlines())


def kill(
    runner: Runner, args: list[str], run_dir: Path, kind: str, rng: random.Random, seconds: float, writes: int
) -> tuple[str, dict[str, Any]]:
    """Run ``args`` into a fresh ``run_dir`` and kill it: after a time drawn in ``[0, seconds)`` (``kind``
    "time") or inside a drawn atomic write (``kind`` "write"); returns the outcome and where it was killed.

    A timed kill that lands after the process ended is drawn again (5 tries), in a new folder, within
    the time that last run took: the machine's load may have changed since ``seconds`` was measured.
    """
    for _ in range(5):
        shutil.rmtree(run_dir, ignore_errors=True)
        if kind == "time":
            where: dict[str, Any] = {"after_s": round(rng.uniform(0, seconds), 3)}
            outcome, took = runner(args, kill_after=where["after_s"])
            seconds = min(seconds, took)
        else:
            where = {"write": rng.randrange(writes), "stage": rng.choice(STAGES)}
            outcome, _ = runner(args, hook=where)
        if outcome == "killed":
            break
    return outcome, where


def trial(
    runner: Runner,
    command: str,
    config: Path,
    run_dir: Path,
    ref_dir: Path,
    kind: str,
    rng: random.Random,
    seconds: float,
    writes: int,
) -> dict[str, Any]:
    """One kill (``kind`` "time" or "write"), the checks after it, the re-run and the comparison."""
    from semgame.runloop import check_run_folder, run_differences

    args = argv(command, config, run_dir)
    outcome, where = kill(runner, args, run_dir, kind, rng, seconds, writes)
    reached = _progress(run_dir)
    # what a killed process may leave: its temporary file and its lock (both cleared by the next start)
    after_kill = (
        [p for p in check_run_folder(run_dir) if "left-over temporary file" not in p] if run_dir.exists() else []
    )
    rerun, _ = runner(args)
    problems = check_run_folder(run_dir)
    diffs = run_differences(ref_dir, run_dir) if rerun == "exit 0" else ["the re-run failed"]
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    ok = outcome == "killed" and not after_kill and rerun == "exit 0" and not problems and not diffs and not leftovers
    return {
        "command": command,
        "kind": kind,
        **where,
        "killed": outcome == "killed",
        "reached": reached,
        "corrupt_after_kill": after_kill,
        "rerun": rerun,
        "problems": problems,
        "differences": diffs,
        "leftovers": leftovers,
        "bit_identical": ok,
    }


def _progress(run_dir: Path) -> str:
    """How far a killed run got: the epochs of its checkpoint, or what exists of the folder."""
    from semgame.io import CheckpointError, load_checkpoint

    if not run_dir.exists():
        return "nothing written"
    try:
        state = load_checkpoint(run_dir / "checkpoint.pt")
    except CheckpointError:
        return "no checkpoint yet"
    done = "finished" if (run_dir / "metrics.json").exists() else "checkpoint"
    return f"{done} {state['counters']}"


def kill_trials(
    runner: Runner,
    configs: dict[str, Path],
    folder: Path,
    kills: int,
    seed: int,
    say: Callable[[str], None] = lambda s: None,
) -> list[dict[str, Any]]:
    """``kills`` trials per command (alternately a timed kill and a kill inside a write)."""
    rng = random.Random(seed)
    rows = []
    for command, config in configs.items():
        ref = folder / f"{command}-reference"
        outcome, seconds = runner(argv(command, config, ref))
        assert outcome == "exit 0", outcome
        writes = count_writes(runner, command, config, folder)
        say(f"{command}: reference run {seconds:.1f} s, {writes} atomic writes")
        for i in range(kills):
            row = trial(
                runner,
                command,
                config,
                folder / f"{command}-kill{i}",
                ref,
                ("time", "write")[i % 2],
                rng,
                seconds,
                writes,
            )
            rows.append(row)
            where = f"after {row['after_s']} s" if row["kind"] == "time" else f"write {row['write']} {row['stage']}"
            verdict = "bit-identical" if row["bit_identical"] else "DIFFERENT " + json.dumps(row)
            say(f"  kill {i + 1}/{kills} ({where}; reached: {row['reached']}): {verdict}")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=10, help="kills per command (default 10)")
    p.add_argument("--data-root", default=os.environ.get("SEMGAME_DATA"), help="data folder (default $SEMGAME_DATA)")
    p.add_argument("--train-limit", type=int, default=2048)
    p.add_argument("--test-limit", type=int, default=512)
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--out", type=Path, default=Path("reports/bench-kill"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        spec = json.loads(args.child)
        sys.exit(child(spec["args"], spec["hook"]))
    if not args.data_root:
        p.error("needs --data-root or $SEMGAME_DATA (a folder with mnist/)")
    from semgame.io import write_json

    configs = write_configs(args.out / "configs", args.data_root, args.train_limit, args.test_limit)
    start = time.perf_counter()
    rows = kill_trials(
        run_subprocess, configs, args.out / "runs", args.kills, args.seed, say=lambda s: print(s, flush=True)
    )
    ok = sum(r["bit_identical"] for r in rows)
    summary = {
        "bit_identical": ok,
        "trials": len(rows),
        "kills_per_command": args.kills,
        "seed": args.seed,
        "train_limit": args.train_limit,
        "test_limit": args.test_limit,
        "seconds": time.perf_counter() - start,
        "command": " ".join(sys.argv),
    }
    write_json(args.out / "results.json", {"summary": summary, "trials": rows})
    print(f"SIGKILL resumes bit-identical: {ok}/{len(rows)} (results: {args.out / 'results.json'})")
    sys.exit(0 if ok == len(rows) else 1)


if __name__ == "__main__":
    main()
