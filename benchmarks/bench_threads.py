"""How many torch CPU threads should training use? Times training steps at 1..N threads.

Measures images per second of full link training steps (encoder -> Rayleigh channel -> receiver,
forward + backward + Adam) on random data for the default MNIST and CIFAR-10 models, for each
thread count, and prints a markdown table with the ratio to 1 thread. Run it on an otherwise idle
machine, and once more while something else runs, to see the collapse of multi-threading under load.

    python benchmarks/bench_threads.py --threads 1 2 --out reports/threads.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from semgame.config import LinkConfig
from semgame.io import write_text
from semgame.link import build_link


def images_per_second(dataset: str, width: int, k: int, threads: int, batch: int, steps: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = LinkConfig(dataset=dataset, k=k, width=width)
    link = build_link(cfg)
    opt = torch.optim.Adam(link.parameters(), lr=1e-3)
    shape = (1, 28, 28) if dataset == "mnist" else (3, 32, 32)
    images, labels = torch.rand(batch, *shape), torch.randint(0, 10, (batch,))
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            start = time.perf_counter()
        out = link(images)
        loss = F.cross_entropy(out.logits, labels) + F.mse_loss(out.recon, images)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    rows = ["| model | threads | images/s | vs 1 thread |", "|---|---|---|---|"]
    for dataset, width, k in (("mnist", 16, 32), ("cifar10", 32, 256)):
        base = None
        for t in args.threads:
            ips = images_per_second(dataset, width, k, t, args.batch, args.steps)
            base = base or ips
            rows.append(f"| {dataset} width {width}, k {k} | {t} | {ips:,.0f} | {ips / base:.2f}x |")
            print(rows[-1], flush=True)
    text = f"batch {args.batch}, {args.steps} timed steps, torch {torch.__version__}\n\n" + "\n".join(rows) + "\n"
    print(text)
    if args.out:
        write_text(args.out, text)


if __name__ == "__main__":
    main()
