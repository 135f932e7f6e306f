"""How many torch CPU threads should training use? Times training steps at 1..N threads.

Measures images per second of full link training steps (encoder -> Rayleigh channel -> receiver,
forward + backward + Adam) on random data for the default MNIST and CIFAR-10 models, for each
thread count, and prints a markdown table with the ratio to 1 thread. Run it on an otherwise idle
machine, and once more while something else runs, to see the collapse of multi-threading under load.

    python benchmarks/bench_threads.py --threads 1 2 --out reports/threads.md

:func:`images_per_second` is also the training-speed probe of ``bench_precision.py`` and
``gpu_check.py`` (any arch, precision and device).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from semgame.config import LinkConfig
from semgame.data import dataset_info
from semgame.io import write_text
from semgame.link import build_link
from semgame.training import autocast, resolve_device


def images_per_second(
    cfg: LinkConfig, *, threads: int = 1, batch: int = 128, steps: int = 20, precision: str = "fp32"
) -> float:
    """Training images per second of ``cfg``'s link (random data, two warm-up steps, ``cfg.device``)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = resolve_device(cfg.device)
    link = build_link(cfg).to(device)
    opt = torch.optim.Adam(link.parameters(), lr=1e-3)
    images = torch.rand(batch, *dataset_info(cfg.dataset).shape, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    amp = autocast(precision, device)
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with amp:
            out = link(images)
        loss = F.cross_entropy(out.logits.float(), labels) + F.mse_loss(out.recon.float(), images)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


MODELS = (
    LinkConfig(dataset="mnist", k=32, width=16, device="cpu"),
    LinkConfig(dataset="cifar10", k=256, width=32, device="cpu"),
    LinkConfig(dataset="cifar10", arch="spatial", k=256, width=16, device="cpu"),
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    rows = ["| model | threads | images/s | vs 1 thread |", "|---|---|---|---|"]
    for cfg in MODELS:
        base = None
        for t in args.threads:
            ips = images_per_second(cfg, threads=t, batch=args.batch, steps=args.steps)
            base = base or ips
            rows.append(
                f"| {cfg.dataset} {cfg.arch} width {cfg.width}, k {cfg.k} | {t} | {ips:,.0f} | {ips / base:.2f}x |"
            )
            print(rows[-1], flush=True)
    text = f"batch {args.batch}, {args.steps} timed steps, fp32, torch {torch.__version__}\n\n" + "\n".join(rows) + "\n"
    print(text)
    if args.out:
        write_text(args.out, text)


if __name__ == "__main__":
    main()
