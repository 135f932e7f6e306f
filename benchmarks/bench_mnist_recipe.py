"""MNIST link speed: today's training recipe vs a faster one, side by side in one run.

Both recipes train the MNIST dense link (k = 32, width 16, 10 dB Rayleigh block fading, MMSE) with
:func:`semgame.run.train_run` for every ``--seeds`` seed, alternating recipe and seed in this one
process (so a change of load on the machine hits both alike):

* ``today``: ``semgame train --dataset mnist --k 32 --epochs 8`` (batch 128, Adam lr 2e-3, cosine);
* ``fast``: :data:`FAST`, 3 epochs on a one-cycle schedule peaking at lr 4e-3 (override with
  ``--fast-epochs``, ``--fast-batch-size``, ``--fast-lr``, ``--fast-schedule``).

bf16 is not a candidate on a CPU without native bf16 (``bench_precision.py``: several times slower),
and larger batches do not raise this CPU's training throughput (memory-bound layers), so the speed-up
comes from fewer epochs; the one-cycle schedule is what keeps the accuracy.

The eavesdropper phase is left out of both (``eve_epochs = 0``): it is the same in both recipes and
does not decide the link's accuracy. Time is each run's wall time (link epochs and the test
evaluation after each, as ``metrics.json`` records it; data loading excluded). Writes
``mnist_recipe.md`` / ``mnist_recipe.json`` into ``--out`` (run folders under ``runs/``).

    SEMGAME_DATA=../shared/data python benchmarks/bench_mnist_recipe.py --out reports/mnist-recipe
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path
from typing import Any

import torch

from semgame.config import LinkConfig
from semgame.io import write_json, write_text
from semgame.run import train_run

TODAY = {"epochs": 8, "batch_size": 128, "lr": 2e-3, "schedule": "cosine"}
FAST = {"epochs": 3, "batch_size": 128, "lr": 4e-3, "schedule": "onecycle"}


def recipes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    fast = {
        **FAST,
        **{
            k: v
            for k, v in (
                ("epochs", args.fast_epochs),
                ("batch_size", args.fast_batch_size),
                ("lr", args.fast_lr),
                ("schedule", args.fast_schedule),
            )
            if v is not None
        },
    }
    return {"today": TODAY, "fast": fast}


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for seed in args.seeds:
        for name, recipe in recipes(args).items():
            cfg = LinkConfig(
                dataset="mnist",
                k=32,
                width=16,
                eve_epochs=0,
                seed=seed,
                device=args.device,
                precision=args.precision,
                train_limit=args.train_limit,
                test_limit=args.test_limit,
                data_root=args.data_root,
                **recipe,
            )
            m = train_run(cfg, args.out / "runs" / f"{name}-s{seed}", quiet=True)
            rows.append(
                {
                    "recipe": name,
                    "seed": seed,
                    "legit_acc": m["test"]["legit_acc"],
                    "legit_psnr": m["test"]["legit_psnr"],
                    "wall_s": m["wall_seconds"],
                    "config": cfg.to_dict(),
                }
            )
            print(f"{name} seed {seed}: acc {rows[-1]['legit_acc']:.4f} in {rows[-1]['wall_s']:.0f} s", flush=True)
    return rows


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    names = list(recipes(args))
    stats = {
        n: {
            "acc_mean": statistics.mean(r["legit_acc"] for r in rows if r["recipe"] == n),
            "wall_mean": statistics.mean(r["wall_s"] for r in rows if r["recipe"] == n),
        }
        for n in names
    }
    speedup = stats["today"]["wall_mean"] / stats["fast"]["wall_mean"]
    lines = [
        f"MNIST dense link, k = 32, width 16, 10 dB Rayleigh block fading (MMSE); {platform.machine()} CPU, "
        f"1 torch thread, precision {args.precision}, torch {torch.__version__}; eavesdropper phase excluded.",
        "",
        (
            "| recipe | epochs | batch | lr | schedule | "
            + " | ".join(f"seed {s} acc / s" for s in args.seeds)
            + " | mean acc | mean wall (s) |"
        ),
        "|---|---|---|---|---|" + "---|" * len(args.seeds) + "---|---|",
    ]
    for n, recipe in recipes(args).items():
        cells = [
            f"{r['legit_acc']:.4f} / {r['wall_s']:.0f}"
            for s in args.seeds
            for r in rows
            if r["recipe"] == n and r["seed"] == s
        ]
        lines.append(
            f"| {n} | {recipe['epochs']} | {recipe['batch_size']} | {recipe['lr']:g} | {recipe['schedule']} | "
            + " | ".join(cells)
            + f" | {stats[n]['acc_mean']:.4f} | {stats[n]['wall_mean']:.0f} |"
        )
    lines += [
        "",
        f"Speed-up of `fast` over `today` (mean wall time): **{speedup:.2f}x**; "
        f"mean accuracy {stats['fast']['acc_mean']:.4f} vs {stats['today']['acc_mean']:.4f}.",
    ]
    return "\n".join(lines) + "\n", {"stats": stats, "speedup": speedup}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--fast-epochs", type=int)
    p.add_argument("--fast-batch-size", type=int)
    p.add_argument("--fast-lr", type=float)
    p.add_argument("--fast-schedule", choices=("cosine", "onecycle"))
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--train-limit", type=int, help="(smoke tests only) train on a subset")
    p.add_argument("--test-limit", type=int, help="(smoke tests only) test on a subset")
    p.add_argument("--data-root")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = measure(args)
    text, stats = summary(rows, args)
    write_text(args.out / "mnist_recipe.md", text)
    write_json(
        args.out / "mnist_recipe.json",
        {"rows": rows, **stats, "recipes": recipes(args), "threads": 1, "platform": platform.platform()},
    )
    print(text)


if __name__ == "__main__":
    main()
