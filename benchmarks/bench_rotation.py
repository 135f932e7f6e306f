"""Keyed rotation: how close the fast structured transform is to Haar, and what it costs in throughput.

1. **Haar-likeness.** For inputs that are hardest for a structured transform (a one-hot waveform, a
   flat one) and a random one, ``n`` transmissions of the *same* waveform under ``n`` nonces give ``n``
   rotated waveforms ``U_n x``. For a Haar ``U`` they are uniform on the sphere whatever ``x`` is. Two
   statistics, each as a Kolmogorov-Smirnov distance (with its 0.001 critical value):
   ``|z_0|^2 / ||z||^2`` against its exact Haar law ``Beta(1, k - 1)``, and the largest
   ``|z_i|^2 / ||z||^2`` against the same statistic of ``n`` exactly Haar directions
   (``g / ||g||``, ``g ~ CN(0, I)``: the law of ``U x / ||x||`` for Haar ``U``; two-sample). Rows for
   ``R = 1, 2, 3`` rounds and for an independent Haar sample itself.
2. **Throughput.** Transmissions per second, 1 thread, batch 512, of the key stream + transform alone
   (rotation and the keyed mask, transmitter and receiver side), and of a whole legitimate
   transmission (encoder -> channel -> receiver heads, untrained weights) with and without the
   rotation, for MNIST (k = 16) and CIFAR-10 (k = 256): five interleaved pairs of measurements,
   medians and their ratio.

    python benchmarks/bench_rotation.py --out reports/bench-rotation
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from pathlib import Path

import torch

from semgame.channels import normalize_power
from semgame.config import LinkConfig
from semgame.io import write_json, write_text
from semgame.link import build_link
from semgame.privacy.keyed import KeyedPerturbation
from semgame.privacy.rotation import KeyedRotation, haar_ks_distance


def ks_two_sample(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov distance of two 1-d samples."""
    a, b = a.double().sort().values, b.double().sort().values
    grid = torch.cat([a, b])
    fa = torch.searchsorted(a, grid, right=True).double() / len(a)
    fb = torch.searchsorted(b, grid, right=True).double() / len(b)
    return float((fa - fb).abs().max())


def max_share(z: torch.Tensor) -> torch.Tensor:
    p = z.abs().square()
    return (p / p.sum(-1, keepdim=True)).max(-1).values


def haar_rows(k: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` Haar-random unit directions ``U e_0``: for Haar ``U`` exactly ``g / ||g||`` with ``g ~ CN(0, I_k)``
    (the first column of a Haar matrix; no ``k x k`` QR needed)."""
    g = torch.randn(n, k, dtype=torch.complex64, generator=torch.Generator().manual_seed(seed))
    return g / g.abs().square().sum(-1, keepdim=True).sqrt()


def haar_table(ks: list[int], n: int) -> list[dict]:
    rows = []
    crit1, crit2 = 1.95 / math.sqrt(n), 1.95 * math.sqrt(2 / n)
    for k in ks:
        ref = haar_rows(k, n, seed=1)
        inputs = {
            "one-hot": torch.zeros(1, k, dtype=torch.complex64),
            "flat": torch.ones(1, k, dtype=torch.complex64),
            "random": normalize_power(
                torch.randn(1, k, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
            ),
        }
        inputs["one-hot"][0, 0] = 1.0
        cases = {f"R={r}": KeyedRotation(key=b"bench", rounds=r) for r in (1, 2, 3)}
        for name, rot in cases.items():
            for xname, x in inputs.items():
                z = rot(x.expand(n, k).contiguous(), range(n))
                rows.append(
                    {
                        "k": k,
                        "transform": name,
                        "input": xname,
                        "ks_first": haar_ks_distance(z),
                        "ks_max": ks_two_sample(max_share(z), max_share(ref)),
                        "crit_first": crit1,
                        "crit_max": crit2,
                    }
                )
        z = haar_rows(k, n, seed=3)
        rows.append(
            {
                "k": k,
                "transform": "Haar (exact)",
                "input": "any",
                "ks_first": haar_ks_distance(z),
                "ks_max": ks_two_sample(max_share(z), max_share(ref)),
                "crit_first": crit1,
                "crit_max": crit2,
            }
        )
    return rows


def rate(fn, batch: int, min_seconds: float) -> float:
    """Calls of ``fn(i)`` (each ``batch`` transmissions) per second -> transmissions per second."""
    fn(0)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        fn(calls + 1)
        calls += 1
    return calls * batch / (time.perf_counter() - start)


@torch.no_grad()
def throughput_rows(dataset: str, k: int, width: int, batch: int, seconds: float) -> list[dict]:
    link = build_link(LinkConfig(dataset=dataset, k=k, width=width)).eval()
    shape = (1, 28, 28) if dataset == "mnist" else (3, 32, 32)
    images = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(0))
    x = link.encoder(images)
    rot, mask = KeyedRotation(key=b"bench"), KeyedPerturbation(10.0, key=b"bench")

    def nonces(i: int) -> torch.Tensor:
        return torch.arange(batch) + i * batch

    def plain(i: int) -> None:
        y, _ = link.channel(link.encoder(images))
        link.receiver(y)

    def rotated(i: int) -> None:
        n = nonces(i)
        y, state = link.channel(rot(link.encoder(images), n))
        link.receiver(rot.remove(y, state, n, csi="perfect", equalizer="mmse"))

    rows = [
        {"dataset": dataset, "k": k, "what": name, "tx_per_s": rate(fn, batch, seconds)}
        for name, fn in (
            ("rotation: key stream + U (tx)", lambda i: rot(x, nonces(i))),
            ("rotation: key stream + U and U^H (tx + rx)", lambda i: rot.unrotate(rot(x, nonces(i)), nonces(i))),
            ("keyed mask: key stream + mask (tx)", lambda i: mask(x, nonces(i))),
        )
    ]
    pairs = [(rate(plain, batch, seconds), rate(rotated, batch, seconds)) for _ in range(5)]  # interleaved
    a, b = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    rows.append({"dataset": dataset, "k": k, "what": "whole transmission, undefended", "tx_per_s": a})
    rows.append(
        {
            "dataset": dataset,
            "k": k,
            "what": "whole transmission, rotated (tx + rx)",
            "tx_per_s": b,
            "ratio_to_undefended": b / a,
        }
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=20000, help="transmissions per Haar statistic")
    p.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--seconds", type=float, default=3.0, help="minimum timing window per throughput figure")
    args = p.parse_args()
    torch.set_num_threads(1)
    haar = haar_table(args.ks, args.n)
    thr = [
        r
        for dataset, k, width in (("mnist", 16, 16), ("cifar10", 256, 32))
        for r in throughput_rows(dataset, k, width, args.batch, args.seconds)
    ]
    lines = [
        "# Keyed rotation: Haar-likeness and throughput",
        "",
        f"Regenerate: `python benchmarks/bench_rotation.py --out {args.out} --n {args.n}`; torch {torch.__version__}, "
        f"1 thread, {platform.processor() or platform.machine()}, other jobs sharing the CPU.",
        "",
        f"## Distance to Haar (n = {args.n} transmissions of one waveform; KS distances, "
        "reject above the 0.001 critical value)",
        "",
        "| k | transform | input | KS first coordinate vs Beta(1, k-1) | KS max share vs Haar "
        "| critical (first / max) |",
        "|---|---|---|---|---|---|",
    ]
    for r in haar:
        flag = lambda v, c: f"**{v:.4f}**" if v > c else f"{v:.4f}"  # noqa: E731
        lines.append(
            f"| {r['k']} | {r['transform']} | {r['input']} | {flag(r['ks_first'], r['crit_first'])} | "
            f"{flag(r['ks_max'], r['crit_max'])} | {r['crit_first']:.4f} / {r['crit_max']:.4f} |"
        )
    lines += [
        "",
        "Bold: distinguishable from Haar at level 0.001.",
        "",
        f"## Throughput (batch {args.batch}, 1 thread)",
        "",
        "| dataset | k | what | transmissions/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in thr:
        ratio = f"{r['ratio_to_undefended']:.2f}" if "ratio_to_undefended" in r else ""
        lines.append(f"| {r['dataset']} | {r['k']} | {r['what']} | {r['tx_per_s']:,.0f} | {ratio} |")
    text = "\n".join(lines) + "\n"
    write_text(args.out / "report.md", text)
    write_json(
        args.out / "results.json",
        {
            "haar": haar,
            "throughput": thr,
            "args": {k: str(v) for k, v in vars(args).items()},
            "torch": torch.__version__,
            "threads": 1,
        },
    )
    print(text)


if __name__ == "__main__":
    main()
