"""Paper claim 1: semantic accuracy and reconstruction quality improve with the latent dimension k.

For each k, trains a link (multi-task: classification + reconstruction) and an undefended
eavesdropper with the same channel statistics, over Rayleigh block fading + AWGN with perfect CSI
(MMSE) at one SNR, then writes to ``--out``:

    latent_dim.md    markdown table (one row per dataset and k)
    latent_dim.json  the same numbers plus configs and timings
    latent_dim.png   accuracy / PSNR vs k
    runs/<dataset>-k<k>/   each run folder (config, checkpoints, metrics, TensorBoard events)

Runs are resumed if their folder exists, so an interrupted sweep continues where it stopped
(and a finished run is only re-evaluated). ``run (s)`` is the wall time of the whole run
(training, per-epoch evaluation, eavesdropper), summed over resumptions; ``CPU (s)`` the CPU time
this process spent on it (data loading included), which does not grow when other jobs share the core.

Every k of a dataset gets the same budget (epochs, training-set size). MNIST uses the dense link;
CIFAR-10 the spatial one (``--arch`` overrides), whose k must fill whole 8 x 8 latent channels.

    SEMGAME_DATA=../shared/data python benchmarks/bench_latent_dim.py --dataset mnist --ks 4 8 16 32 64 \\
        --out reports/latent-dim
    SEMGAME_DATA=../shared/data python benchmarks/bench_latent_dim.py --dataset cifar10 --out reports/latent-dim-cifar
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from semgame.config import LinkConfig
from semgame.io import write_json, write_png, write_text
from semgame.run import train_run

DEFAULTS = {
    "mnist": dict(
        arch="dense",
        ks=[4, 8, 16, 32, 64],
        width=16,
        epochs=8,
        eve_epochs=3,
        recon_weight=1.0,
        augment=False,
        train_limit=None,
    ),
    "cifar10": dict(
        arch="spatial",
        ks=[64, 128, 256, 512],
        width=16,
        epochs=6,
        eve_epochs=1,
        recon_weight=50.0,
        augment=True,
        train_limit=25000,
    ),
}
COLUMNS = [
    "dataset",
    "arch",
    "k",
    "ratio",
    "legit_acc",
    "legit_psnr",
    "legit_ssim",
    "eve_acc",
    "chance",
    "s_per_epoch",
    "run_s",
    "cpu_s",
]


def _given(value, default):
    return default if value is None else value


def sweep(args: argparse.Namespace) -> list[dict]:
    rows = []
    for dataset in args.dataset:
        d = DEFAULTS[dataset]
        for k in args.ks or d["ks"]:
            cfg = LinkConfig(
                dataset=dataset,
                arch=_given(args.arch, d["arch"]),
                k=k,
                width=_given(args.width, d["width"]),
                snr_db=args.snr_db,
                epochs=_given(args.epochs, d["epochs"]),
                eve_epochs=_given(args.eve_epochs, d["eve_epochs"]),
                recon_weight=_given(args.recon_weight, d["recon_weight"]),
                augment=d["augment"],
                train_limit=_given(args.train_limit, d["train_limit"]),
                seed=args.seed,
                threads=args.threads,
                device=args.device,
                precision=args.precision,
            )
            run_dir = args.out / "runs" / f"{dataset}-k{k}"
            cpu0 = time.process_time()
            metrics = train_run(cfg, run_dir, quiet=True)
            t = metrics["test"]
            n_real = {"mnist": 784, "cifar10": 3072}[dataset]
            link_s = [h["seconds"] for h in metrics["history"] if h["phase"] == "link"]
            rows.append(
                {
                    "dataset": dataset,
                    "arch": cfg.arch,
                    "k": k,
                    "ratio": k / n_real,
                    **{c: t[c] for c in ("legit_acc", "legit_psnr", "legit_ssim", "eve_acc", "chance")},
                    "s_per_epoch": sum(link_s) / len(link_s),
                    "run_s": metrics["wall_seconds"],
                    "cpu_s": time.process_time() - cpu0,
                    "config": cfg.to_dict(),
                }
            )
            print(json.dumps({c: rows[-1][c] for c in COLUMNS}), flush=True)
    return rows


def table(rows: list[dict], snr_db: float) -> str:
    head = (
        "| dataset | arch | k (complex uses) | k/n | legit acc | PSNR (dB) | SSIM "
        "| eve acc (undefended, same SNR) | chance "
        "| s/epoch | run (s) | CPU (s) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['dataset']} | {r['arch']} | {r['k']} | {r['ratio']:.3f} | {r['legit_acc']:.4f} | "
        f"{r['legit_psnr']:.2f} | {r['legit_ssim']:.3f} | {r['eve_acc']:.4f} | {r['chance']:.2f} | "
        f"{r['s_per_epoch']:.1f} | {r['run_s']:.0f} | "
        f"{r['cpu_s']:.0f} |\n"
        for r in rows
    )
    return (
        f"Rayleigh block fading + AWGN, perfect CSI (MMSE), SNR {snr_db:g} dB for receiver and eavesdropper.\n\n"
        + head
        + body
    )


def plot(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for dataset in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == dataset]
        ks = [r["k"] for r in rs]
        axes[0].plot(ks, [r["legit_acc"] for r in rs], "o-", label=f"{dataset} legit")
        axes[0].plot(ks, [r["eve_acc"] for r in rs], "x--", label=f"{dataset} eavesdropper")
        axes[1].plot(ks, [r["legit_psnr"] for r in rs], "o-", label=dataset)
    for ax, ylabel in zip(axes, ("test accuracy", "PSNR (dB)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latent dimension k (complex channel uses)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    write_png(path, fig)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", nargs="+", choices=sorted(DEFAULTS), default=["mnist"])
    p.add_argument("--ks", nargs="+", type=int, help="latent dimensions (default per dataset)")
    p.add_argument("--snr-db", type=float, default=10.0)
    p.add_argument("--arch", choices=("dense", "spatial"), help="link architecture (default per dataset)")
    p.add_argument("--width", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--eve-epochs", type=int)
    p.add_argument("--recon-weight", type=float)
    p.add_argument("--train-limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--out", type=Path, default=Path("reports/latent-dim"))
    args = p.parse_args()
    rows = sweep(args)
    stem = args.out / "latent_dim"
    write_text(stem.with_suffix(".md"), table(rows, args.snr_db))
    write_json(stem.with_suffix(".json"), {"snr_db": args.snr_db, "seed": args.seed, "rows": rows})
    plot(rows, stem.with_suffix(".png"))
    print(table(rows, args.snr_db))


if __name__ == "__main__":
    main()
