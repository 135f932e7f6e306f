"""``semgame bench``: the config-driven benchmark grid (issue #7), plugged into :mod:`semgame.cli`.

    semgame bench --config benchmarks/configs/mnist-quick.toml --out reports/bench-mnist
    semgame bench --config benchmarks/configs/mnist-quick.toml --out reports/bench-mnist --jobs 2
    semgame bench --config ... --out ... --executor ray [--ray-address ADDR]
    tensorboard --logdir reports/bench-mnist

Every input is checked before any cell starts (one line ``semgame: error: ...``, exit 2); a crashed
cell is reported (exit 1) without stopping the others; rerunning the command skips finished cells.
Nothing here imports torch at module level (the parser must stay fast).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _cmd_bench(args: argparse.Namespace) -> int:
    from semgame.bench.config import load_bench_config
    from semgame.bench.runner import check_executor, run_bench
    from semgame.training import resolve_device

    check_executor(args.executor, args.jobs, args.ray_address)
    device = resolve_device(args.device)
    cfg = load_bench_config(args.config)
    command = "semgame " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("semgame") else ""
    summary = run_bench(
        cfg,
        args.out,
        executor=args.executor,
        jobs=args.jobs,
        ray_address=args.ray_address,
        device=device.type,
        command=command or f"semgame bench --config {args.config} --out {args.out}",
        say=(lambda *_: None) if args.quiet else print,
    )
    print(f"summary: {Path(args.out) / 'summary.md'}; TensorBoard: tensorboard --logdir {args.out}")
    if summary["failed"]:
        print(
            f"semgame bench: {len(summary['failed'])} cell(s) failed; rerun the command to retry them", file=sys.stderr
        )
        return 1
    return 0


def register(sub: Any) -> None:
    """Add ``bench`` to the ``semgame`` sub-command parser."""
    b = sub.add_parser("bench", help="benchmark grid: agents vs defences through the game env, TensorBoard + summary")
    b.add_argument("--config", type=Path, required=True, help="bench TOML file (see benchmarks/configs/)")
    b.add_argument("--out", type=Path, required=True, help="output folder and TensorBoard root (resumed if it exists)")
    b.add_argument("--executor", default="local", help="local (default) or ray")
    b.add_argument("--jobs", type=int, default=1, help="cells at a time (local: processes; ray: CPUs of a local Ray)")
    b.add_argument("--ray-address", help="address of an existing Ray cluster (default: start a local one)")
    b.add_argument(
        "--device",
        default="cpu",
        choices=("auto", "cpu", "cuda"),
        help="torch device of every cell (auto: cuda if any)",
    )
    b.add_argument("--quiet", action="store_true", help="no progress line per cell")
    b.set_defaults(handler=_cmd_bench)
