"""Shared command line of the privacy benchmarks (bench_minmax, bench_perturbation, bench_snr_asymmetry).

Every benchmark builds a :class:`semgame.privacy.lab.Lab` (one dataset, profile, seed, output
folder), adds its rows, and writes ``report.md`` + ``results.json`` + PNG plots + ``tb/`` (one
TensorBoard run with hparams per row) into ``--out``. ``--link-dir`` reuses a trained undefended
link (it is trained there first if missing), so several benchmarks can share one.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from semgame.privacy.lab import Lab, get_profile
from semgame.privacy.report import check_targets, write_report


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    p.add_argument("--quick", action="store_true", help="the quick (CPU) profile; default is the full (GPU) profile")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--link-dir", type=Path, help="trained undefended link to reuse (default: <out>/runs/link)")
    p.add_argument("--data-root", help="data folder (default $SEMGAME_DATA)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--fresh-k", type=int, help="override: fresh eavesdroppers per row")
    p.add_argument(
        "--fresh-epochs",
        type=int,
        help="override: epochs per fresh eavesdropper (the maximum with --fresh-model strong)",
    )
    p.add_argument(
        "--fresh-model",
        choices=("standard", "strong"),
        help="fresh eavesdroppers: the project's (default) or the strong one (CSI input, 3x512 MLP, early stopping)",
    )
    p.add_argument("--test-limit", type=int, help="override: test images")
    p.add_argument(
        "--train-limit", type=int, help="override: training images (the fresh eavesdroppers' recorded transmissions)"
    )
    return p


def run(args: argparse.Namespace, title: str, kind: str, body: Callable[[Lab], None], **overrides) -> Path:
    torch.set_num_threads(1)
    profile = "quick" if args.quick else "full"
    get_profile(args.dataset, profile)
    for name in ("fresh_k", "fresh_epochs", "fresh_model", "test_limit", "train_limit"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    lab = Lab(
        args.dataset,
        profile,
        args.out,
        seed=args.seed,
        data_root=args.data_root,
        device=args.device,
        link_dir=args.link_dir,
        **overrides,
    )
    lab.base()
    body(lab)
    cmd = "SEMGAME_DATA=../shared/data python " + " ".join(shlex.quote(a) for a in sys.argv)
    path = write_report(
        args.out, title, lab.rows, lab.meta(cmd), kind=kind, notes=check_targets(lab.rows, lab.undefended_legit_acc)
    )
    print(path.read_text())
    return path
