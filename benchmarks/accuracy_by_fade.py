"""Legitimate accuracy of a trained link by fading gain: is it fading-limited or classifier-limited?

Passes the test set ``--passes`` times through the link at its own SNR (or ``--snr-db``) and sorts
every transmission by its channel gain ``g`` (the mean of ``|h|^2`` over the k symbols: the block gain
under block fading, whose Rayleigh law is ``P(g < t) = 1 - exp(-t)``). For each gain bucket it reports
the share of transmissions, their accuracy and their share of all errors. A link whose accuracy is
already short of a target at ``g >= 1`` (effective SNR at or above the nominal one) is limited by its
classifier, not by deep fades.

Pass ``r`` draws the channel from the generator :func:`semgame.training.evaluate` uses with seed
``--seed + r`` (same batches of 512), so pass 0 repeats ``evaluate(link, test, seed=--seed)``.

    SEMGAME_DATA=../shared/data python benchmarks/accuracy_by_fade.py --link cifar10-spatial --passes 5 \\
        --out reports/fade-cifar10-spatial
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from semgame.channels import SNR_DB_RANGE
from semgame.data import load_dataset
from semgame.envs.game import SHIPPED_LINKS, shipped_link
from semgame.errors import USER_ERRORS
from semgame.io import write_json, write_text
from semgame.loader import load_run
from semgame.seeds import Stream, seeded_generator
from semgame.training import batches

EDGES = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, math.inf)
"""Bucket edges of the channel gain ``g`` (``g = 0.1`` is an effective SNR 10 dB under the nominal one)."""


@torch.no_grad()
def measure(link: torch.nn.Module, test: Any, *, passes: int, seed: int, snr_db: float | None) -> tuple[Any, Any]:
    """``(gain [passes * N], correct [passes * N])`` over ``passes`` passes through the test set."""
    link.eval()
    gains, correct = [], []
    for r in range(passes):
        noise = seeded_generator(seed + r, Stream.EVAL_LEGIT_NOISE)
        for images, labels in batches(test, 512):
            out = link(images, snr_db=snr_db, generator=noise)
            gains.append(out.state.h.abs().square().mean(-1))
            correct.append(out.logits.argmax(-1) == labels)
    return torch.cat(gains), torch.cat(correct)


def buckets(gain: torch.Tensor, correct: torch.Tensor, rayleigh_block: bool) -> list[dict[str, Any]]:
    """One row per gain bucket of :data:`EDGES`: share, accuracy, share of errors [, Rayleigh share]."""
    errors = max(int((~correct).sum()), 1)
    rows = []
    for lo, hi in itertools.pairwise(EDGES):
        m = (gain >= lo) & (gain < hi)
        n = int(m.sum())
        row = {
            "lo": lo,
            "hi": hi if hi < math.inf else None,  # None: no upper edge (JSON has no infinity)
            "share": n / len(gain),
            "acc": float(correct[m].float().mean()) if n else None,
            "error_share": int((~correct & m).sum()) / errors,
        }
        if rayleigh_block:
            row["rayleigh_share"] = math.exp(-lo) - math.exp(-hi)
        rows.append(row)
    return rows


def table(result: dict[str, Any]) -> str:
    """The markdown report of :func:`run`'s result."""
    rows = result["buckets"]
    rayleigh = "rayleigh_share" in rows[0]
    lines = [
        f"Link `{result['link']}` ({result['dataset']}, k = {result['k']}), {result['passes']} passes over "
        f"{result['test_images']:,} test images at {result['snr_db']:g} dB ({result['transmissions']:,} "
        f"transmissions), channel seeds {result['seed']}..{result['seed'] + result['passes'] - 1}; "
        f"accuracy {result['acc']:.4f}. Machine: {platform.machine()} CPU.",
        "",
        "| gain g = mean abs(h)^2 | share | "
        + ("Rayleigh share | " if rayleigh else "")
        + "accuracy | share of errors |",
        "|---|---|" + ("---|" if rayleigh else "") + "---|---|",
    ]
    for b in rows:
        acc = f"{b['acc']:.4f}" if b["acc"] is not None else "—"
        ray = f"{b['rayleigh_share']:.4f} | " if rayleigh else ""
        hi = "inf" if b["hi"] is None else f"{b['hi']:g}"
        lines.append(f"| [{b['lo']:g}, {hi}) | {b['share']:.4f} | {ray}{acc} | {b['error_share']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run it (command-line ``argv``); returns what it writes to ``accuracy_by_fade.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--link", required=True, help=f"a run folder, a model.pt, or a shipped link: {', '.join(SHIPPED_LINKS)}"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr-db", type=float, help="legitimate SNR (default: the link's own)")
    p.add_argument("--data-root", help="data folder (default $SEMGAME_DATA)")
    p.add_argument("--test-limit", type=int, help="(smoke tests only) a subset of the test set")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.passes < 1:
        p.error(f"--passes must be >= 1, got {args.passes}")
    lo, hi = SNR_DB_RANGE
    if args.snr_db is not None and not lo <= args.snr_db <= hi:  # NaN fails both
        p.error(f"--snr-db must be within [{lo:g}, {hi:g}] dB, got {args.snr_db}")
    path = shipped_link(args.link) if args.link in SHIPPED_LINKS else Path(args.link)
    if not path.exists():
        p.error(
            f"--link {args.link!r}: no such run folder or file, and not a shipped link ({', '.join(SHIPPED_LINKS)})"
        )
    torch.set_num_threads(args.threads)
    try:
        result = run(args, path)
        text = table(result)
        write_text(args.out / "accuracy_by_fade.md", text)
        write_json(args.out / "accuracy_by_fade.json", result)
    except USER_ERRORS as err:  # a bad checkpoint, missing data, an unwritable --out: one line, as `semgame` says it
        p.error(" ".join(str(err).splitlines()))
    print(text)
    return result


def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Load the link and the test set, measure, and bucket."""
    cfg, link, _ = load_run(path)
    test = load_dataset(cfg.dataset, "test", root=args.data_root)
    if args.test_limit is not None:
        test = TensorDataset(*(t[: args.test_limit] for t in test.tensors))
    gain, correct = measure(link, test, passes=args.passes, seed=args.seed, snr_db=args.snr_db)
    return {
        "link": args.link,
        "dataset": cfg.dataset,
        "k": cfg.k,
        "snr_db": cfg.snr_db if args.snr_db is None else args.snr_db,
        "passes": args.passes,
        "seed": args.seed,
        "test_images": len(test),
        "transmissions": len(gain),
        "acc": float(correct.float().mean()),
        "buckets": buckets(gain, correct, rayleigh_block=cfg.fading == "rayleigh" and cfg.block),
        "platform": platform.platform(),
    }


if __name__ == "__main__":
    main()
