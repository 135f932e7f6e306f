"""bf16 autocast vs fp32: training speed side by side, and MNIST accuracy over seeds.

1. **Speed.** Training images/s (``bench_threads.images_per_second``: forward + backward + Adam on
   random data, batch 128) of fp32 and bf16, alternated ``--repeats`` times in this one process, for
   the MNIST dense link (k = 32, width 16) and the CIFAR-10 spatial link (k = 256, width 16); the
   ratio is bf16 / fp32 of the medians.
2. **Accuracy.** ``semgame train`` runs (:func:`semgame.run.train_run`) of MNIST k = 32 (10 dB
   Rayleigh block fading, MMSE) in fp32 and in bf16 for each ``--seeds`` seed, with the same recipe
   (``--epochs``, ``--train-limit``, ``--batch-size``, ``--lr``); legitimate test accuracy per seed,
   the means and their difference in points.

Writes ``precision.md`` and ``precision.json`` into ``--out`` (run folders under ``runs/``).

    SEMGAME_DATA=../shared/data python benchmarks/bench_precision.py --out reports/precision
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path
from typing import Any

import torch
from bench_mnist_recipe import run_options, train_mnist
from bench_threads import images_per_second

from semgame.config import LinkConfig
from semgame.io import write_json, write_text
from semgame.training import resolve_device

SPEED_MODELS = {
    "mnist dense k32 w16": dict(dataset="mnist", k=32, width=16),
    "cifar10 spatial k256 w16": dict(dataset="cifar10", arch="spatial", k=256, width=16),
}


def speed(
    device: str, repeats: int, steps: int, models: dict[str, dict[str, Any]] = SPEED_MODELS
) -> list[dict[str, Any]]:
    """Median training images/s per precision, measured alternately in this process, and the ratio."""
    rows = []
    for name, kw in models.items():
        cfg = LinkConfig(device=device, **kw)
        got: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(repeats):
            for precision in got:
                got[precision].append(images_per_second(cfg, steps=steps, precision=precision))
        fp32, bf16 = statistics.median(got["fp32"]), statistics.median(got["bf16"])
        rows.append({"model": name, "fp32_img_s": fp32, "bf16_img_s": bf16, "ratio": bf16 / fp32, "samples": got})
        print(f"{name}: fp32 {fp32:,.0f} img/s, bf16 {bf16:,.0f} img/s, bf16/fp32 {bf16 / fp32:.2f}x", flush=True)
    return rows


def accuracy(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One MNIST run per seed and precision (seeds interleaved, so a load change hits both)."""
    rows = []
    for seed in args.seeds:
        for precision in ("fp32", "bf16"):
            recipe = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr}
            run_dir = args.out / "runs" / f"mnist-{precision}-s{seed}"
            row = train_mnist(run_dir, seed=seed, precision=precision, **run_options(args), **recipe)
            rows.append({"precision": precision, **row})
            print(f"seed {seed} {precision}: acc {row['legit_acc']:.4f} ({row['wall_s']:.0f} s)", flush=True)
    return rows


def report(
    speed_rows: list[dict[str, Any]], acc_rows: list[dict[str, Any]], args: argparse.Namespace, device: str
) -> str:
    lines = [
        f"Device {device} ({platform.processor() or platform.machine()}), 1 torch thread, torch {torch.__version__}.",
        "",
        "| model (training, batch 128) | fp32 img/s | bf16 img/s | bf16 / fp32 |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['fp32_img_s']:,.0f} | {r['bf16_img_s']:,.0f} | {r['ratio']:.2f}x |" for r in speed_rows
    ]
    if acc_rows:
        recipe = (
            f"MNIST k = 32, width 16, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr:g}, "
            f"train limit {args.train_limit or 'none'}, test limit {args.test_limit or 'none'}, "
            "10 dB Rayleigh block fading, MMSE"
        )
        lines += [
            "",
            f"Legitimate test accuracy ({recipe}):",
            "",
            "| seed | fp32 | bf16 | bf16 − fp32 (points) | fp32 run (s) | bf16 run (s) |",
            "|---|---|---|---|---|---|",
        ]
        by = {(r["seed"], r["precision"]): r for r in acc_rows}
        for seed in args.seeds:
            fp32, bf16 = by[seed, "fp32"], by[seed, "bf16"]
            lines.append(
                f"| {seed} | {fp32['legit_acc']:.4f} | {bf16['legit_acc']:.4f} | "
                f"{100 * (bf16['legit_acc'] - fp32['legit_acc']):+.2f} | {fp32['wall_s']:.0f} | {bf16['wall_s']:.0f} |"
            )
        m32, m16 = (statistics.mean(by[s, p]["legit_acc"] for s in args.seeds) for p in ("fp32", "bf16"))
        lines.append(f"| mean | {m32:.4f} | {m16:.4f} | {100 * (m16 - m32):+.2f} | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark (command-line ``argv``); returns what it writes to ``precision.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--repeats", type=int, default=3, help="alternations of fp32 and bf16 per model")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per measurement")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="accuracy runs (none: speed only)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--test-limit", type=int, help="test images (default: the whole test set)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--data-root")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    device = str(resolve_device(args.device))
    speed_rows = speed(device, args.repeats, args.steps)
    acc_rows = accuracy(args) if args.seeds else []
    text = report(speed_rows, acc_rows, args, device)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "precision.md", text)
    result = {
        "device": device,
        "platform": platform.platform(),
        "threads": 1,
        "speed": speed_rows,
        "accuracy": acc_rows,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    write_json(args.out / "precision.json", result)
    print(text)
    return result


if __name__ == "__main__":
    main()
