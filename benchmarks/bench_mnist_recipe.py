"""MNIST link speed: today's training recipe vs a faster one, side by side in one run.

Both recipes train the MNIST dense link (k = 32, width 16, 10 dB Rayleigh block fading, MMSE) with
:func:`semgame.run.train_run` for every ``--seeds`` seed (``--today-seeds``: fewer seeds for today's
recipe when time is short), alternating recipe and seed in this one process (so a change of load on
the machine hits both alike):

* ``today``: ``semgame train --dataset mnist --k 32 --epochs 8`` (batch 128, Adam lr 2e-3, cosine);
* ``fast``: :data:`FAST`, 3 epochs on a one-cycle schedule peaking at lr 6e-3, trained at SNRs drawn
  uniformly from 0 to 10 dB per sample (tested at 10 dB like today's); override with ``--fast-epochs``,
  ``--fast-batch-size``, ``--fast-lr``, ``--fast-schedule``, ``--fast-train-snr-db``.

bf16 is not a candidate on a CPU without native bf16 (``bench_precision.py``: several times slower),
and larger batches do not raise this CPU's training throughput (memory-bound layers), so the speed-up
comes from fewer epochs; the one-cycle schedule and the 0 to 10 dB training SNRs (robustness in deep
fades, at a cost in PSNR) are what keep the accuracy.

The eavesdropper phase is left out of both (``eve_epochs = 0``): it is the same in both recipes and
does not decide the link's accuracy. Accuracy is reported twice: the run's own test evaluation
(``metrics.json``: one channel draw per test image, the same draws for every run of a seed) and the
mean over ``--eval-draws`` further passes over the test set with independent channel draws (seeds
``EVAL_SEED + r``), which cuts the channel's share of the evaluation noise. PSNR is the run's own.
Time is each run's wall time (link epochs and the test
evaluation after each, as ``metrics.json`` records it; data loading excluded), next to the process's
CPU time; the speed-up compares the seeds both recipes ran. Writes
``mnist_recipe.md`` / ``mnist_recipe.json`` into ``--out`` (run folders under ``runs/``).

    SEMGAME_DATA=../shared/data python benchmarks/bench_mnist_recipe.py --out reports/mnist-recipe
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from semgame.config import ConfigError, LinkConfig
from semgame.flags import parse_pair
from semgame.io import write_json, write_text
from semgame.loader import load_run
from semgame.run import load_data, train_run
from semgame.training import evaluate, resolve_device

TODAY = {"epochs": 8, "batch_size": 128, "lr": 2e-3, "schedule": "cosine"}
FAST = {"epochs": 3, "batch_size": 128, "lr": 6e-3, "schedule": "onecycle", "train_snr_db": (0.0, 10.0)}
EVAL_SEED = 1000
"""Seed of the first extra evaluation pass (pass ``r`` uses ``EVAL_SEED + r``; runs evaluate with their own seed)."""


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are not ``None`` (command-line overrides that were passed)."""
    return {k: v for k, v in values.items() if v is not None}


def recipes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    fast = given(
        epochs=args.fast_epochs,
        batch_size=args.fast_batch_size,
        lr=args.fast_lr,
        schedule=args.fast_schedule,
        train_snr_db=tuple(args.fast_train_snr_db) if args.fast_train_snr_db else None,
    )
    return {"today": TODAY, "fast": {**FAST, **fast}}


def flags(recipe: dict[str, Any]) -> str:
    """A recipe as the ``semgame train`` flags that set it."""

    def text(val: Any) -> str:
        if isinstance(val, tuple):
            return ",".join(f"{v:g}" for v in val)
        return f"{val:g}" if isinstance(val, float) else str(val)

    return " ".join(f"--{k.replace('_', '-')} {text(val)}" for k, val in recipe.items())


def accuracy_over_draws(run_dir: Path, draws: int, *, data_root: str | None = None, device: str = "cpu") -> float:
    """Test accuracy of a trained run's link, averaged over ``draws`` passes with independent channel draws
    (:func:`~semgame.training.evaluate` with seeds ``EVAL_SEED + r``)."""
    dev = resolve_device(device)
    cfg, link, _ = load_run(run_dir, device=dev)
    _, test = load_data(cfg.replace(data_root=data_root))
    return statistics.mean(evaluate(link, test, device=dev, seed=EVAL_SEED + r)["legit_acc"] for r in range(draws))


def train_mnist(run_dir: Path, *, seed: int, eval_draws: int = 0, **cfg: Any) -> dict[str, Any]:
    """Train the MNIST k = 32, width 16 link (no eavesdropper phase) with ``cfg``'s further
    :class:`~semgame.config.LinkConfig` fields in ``run_dir``; its test accuracy and PSNR, wall time
    (``metrics.json``) and this process's CPU time, and (``eval_draws > 0``) the test accuracy averaged
    over ``eval_draws`` passes with independent channel draws (:func:`accuracy_over_draws`, not timed)."""
    config = LinkConfig(dataset="mnist", k=32, width=16, eve_epochs=0, seed=seed, **cfg)
    cpu = time.process_time()
    m = train_run(config, run_dir, quiet=True)
    cpu = time.process_time() - cpu
    return {
        "seed": seed,
        "legit_acc": m["test"]["legit_acc"],
        "legit_acc_draws": (
            accuracy_over_draws(run_dir, eval_draws, data_root=config.data_root, device=config.device)
            if eval_draws
            else None
        ),
        "legit_psnr": m["test"]["legit_psnr"],
        "wall_s": m["wall_seconds"],
        "cpu_s": cpu,
        "config": config.to_dict(),
    }


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~semgame.config.LinkConfig` fields the MNIST benchmarks take from their command line."""
    return {
        "device": args.device,
        "train_limit": args.train_limit,
        "test_limit": args.test_limit,
        "data_root": args.data_root,
    }


def seeds_of(args: argparse.Namespace) -> dict[str, list[int]]:
    """The seeds each recipe runs: ``--seeds``, and ``--today-seeds`` for today's recipe when given."""
    return {"today": args.today_seeds if args.today_seeds is not None else args.seeds, "fast": args.seeds}


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (seed, recipe) run, recipes alternating within each seed."""
    rows = []
    seeds = seeds_of(args)
    for seed in sorted(set(seeds["today"]) | set(seeds["fast"])):
        for name, recipe in recipes(args).items():
            if seed not in seeds[name]:
                continue
            run_dir = args.out / "runs" / f"{name}-s{seed}"
            row = train_mnist(
                run_dir, seed=seed, eval_draws=args.eval_draws, precision=args.precision, **run_options(args), **recipe
            )
            rows.append({"recipe": name, **row})
            print(
                f"{name} seed {seed}: acc {row['legit_acc']:.4f} "
                f"({args.eval_draws} draws: {row['legit_acc_draws']:.4f}), "
                f"PSNR {row['legit_psnr']:.2f} dB, in {row['wall_s']:.0f} s",
                flush=True,
            )
    return rows


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The markdown table and the statistics: mean accuracy per recipe over its seeds, and the
    speed-up (mean wall and CPU time of ``today`` / ``fast``) over the seeds both recipes ran."""
    seeds = seeds_of(args)
    paired = sorted(set(seeds["today"]) & set(seeds["fast"]))
    by = {(r["recipe"], r["seed"]): r for r in rows}
    stats = {
        n: {
            "seeds": seeds[n],
            "acc_mean": statistics.mean(by[n, s]["legit_acc"] for s in seeds[n]),
            "acc_draws_mean": statistics.mean(by[n, s]["legit_acc_draws"] for s in seeds[n]),
            "psnr_mean": statistics.mean(by[n, s]["legit_psnr"] for s in seeds[n]),
            "wall_mean": statistics.mean(by[n, s]["wall_s"] for s in seeds[n]),
            "cpu_mean": statistics.mean(by[n, s]["cpu_s"] for s in seeds[n]),
        }
        for n in seeds
    }
    speedup = {
        t: statistics.mean(by["today", s][t] for s in paired) / statistics.mean(by["fast", s][t] for s in paired)
        for t in ("wall_s", "cpu_s")
    }
    all_seeds = sorted(set(seeds["today"]) | set(seeds["fast"]))
    r = args.eval_draws
    lines = [
        f"MNIST dense link, k = 32, width 16, tested at 10 dB Rayleigh block fading (MMSE); {platform.machine()} CPU, "
        f"1 torch thread, precision {args.precision}, torch {torch.__version__}; eavesdropper phase excluded. "
        f"acc: the run's test evaluation (1 channel draw per image); acc x{r}: mean of {r} further passes with "
        "independent channel draws.",
        "",
        "| recipe | flags | "
        + " | ".join(f"seed {s} acc / acc x{r} / PSNR dB / wall s" for s in all_seeds)
        + f" | mean acc | mean acc x{r} | mean PSNR (dB) | mean wall (s) | mean CPU (s) |",
        "|---|---|" + "---|" * len(all_seeds) + "---|---|---|---|---|",
    ]
    for n, recipe in recipes(args).items():
        cells = [
            f"{by[n, s]['legit_acc']:.4f} / {by[n, s]['legit_acc_draws']:.4f} / {by[n, s]['legit_psnr']:.2f} / "
            f"{by[n, s]['wall_s']:.0f}"
            if (n, s) in by
            else "not run"
            for s in all_seeds
        ]
        st = stats[n]
        lines.append(
            f"| {n} | `{flags(recipe)}` | "
            + " | ".join(cells)
            + f" | {st['acc_mean']:.5f} | {st['acc_draws_mean']:.5f} | {st['psnr_mean']:.2f} | {st['wall_mean']:.0f} "
            f"| {st['cpu_mean']:.0f} |"
        )
    f, t = stats["fast"], stats["today"]
    lines += [
        "",
        f"Speed-up of `fast` over `today` on the seeds both ran ({', '.join(map(str, paired))}): "
        f"**{speedup['wall_s']:.2f}x** wall time, {speedup['cpu_s']:.2f}x CPU time; mean accuracy "
        f"{f['acc_mean']:.5f} (x{r}: {f['acc_draws_mean']:.5f}; {len(seeds['fast'])} seeds) vs {t['acc_mean']:.5f} "
        f"(x{r}: {t['acc_draws_mean']:.5f}; {len(seeds['today'])} seeds); mean PSNR {f['psnr_mean']:.2f} vs "
        f"{t['psnr_mean']:.2f} dB.",
    ]
    return "\n".join(lines) + "\n", {"stats": stats, "speedup": speedup, "paired_seeds": paired}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark (command-line ``argv``); returns what it writes to ``mnist_recipe.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--today-seeds", type=int, nargs="+", help="seeds of today's recipe (default: --seeds)")
    p.add_argument("--fast-epochs", type=int)
    p.add_argument("--fast-batch-size", type=int)
    p.add_argument("--fast-lr", type=float)
    p.add_argument("--fast-schedule", choices=("cosine", "onecycle"))
    p.add_argument("--fast-train-snr-db", type=parse_pair, metavar="LO,HI")
    p.add_argument("--eval-draws", type=int, default=10, help="extra test passes with independent channel draws")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--train-limit", type=int, help="(smoke tests only) train on a subset")
    p.add_argument("--test-limit", type=int, help="(smoke tests only) test on a subset")
    p.add_argument("--data-root")
    args = p.parse_args(argv)
    if args.eval_draws < 1:
        p.error(f"--eval-draws must be >= 1, got {args.eval_draws}")
    for name, recipe in recipes(args).items():  # a bad override stops here, not after hours of the other recipe
        try:
            LinkConfig(dataset="mnist", k=32, width=16, **recipe)
        except ConfigError as err:
            p.error(f"{name} recipe: {err}")
    torch.set_num_threads(1)
    rows = measure(args)
    text, stats = summary(rows, args)
    result = {"rows": rows, **stats, "recipes": recipes(args), "threads": 1, "platform": platform.platform()}
    write_text(args.out / "mnist_recipe.md", text)
    write_json(args.out / "mnist_recipe.json", result)
    print(text)
    return result


if __name__ == "__main__":
    main()
