"""``semgame reproduce``: train -> min-max -> perturbations -> fresh-eavesdropper evaluation -> report.

One :class:`~semgame.privacy.lab.Lab` with a profile of :data:`~semgame.privacy.lab.PROFILES`, the
rows of every defence, and one report folder written by :func:`~semgame.privacy.report.write_report`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from semgame.privacy.lab import Lab
from semgame.privacy.report import check_targets, write_report

__all__ = ["reproduce"]


def reproduce(
    dataset: str = "mnist",
    profile: str = "quick",
    out: str | Path = "reports/mnist",
    *,
    seed: int = 0,
    data_root: str | None = None,
    device: str = "auto",
    quiet: bool = False,
    **overrides: Any,
) -> Path:
    """The main job: train -> min-max -> perturbations -> fresh eavesdroppers -> one report folder, and a
    section from ``semgame bench`` (:func:`semgame.bench.runner.reproduce_section`) for MNIST.

    ``overrides`` replace :class:`Profile` fields (tests use tiny budgets; the bench section, which has
    its own budgets, is then skipped).
    """
    torch.set_num_threads(1)
    lab = Lab(dataset, profile, out, seed=seed, data_root=data_root, device=device, quiet=quiet, **overrides)
    p = lab.p
    lab.base()
    lab.undefended_rows()
    t = time.perf_counter()
    if profile == "quick":  # the game at eve -10 dB for every lambda, at equal SNR for the largest only
        lab.minmax_rows(offsets=(-10.0,))
        lab.minmax_rows(lambdas=(max(p.lambdas),), offsets=(0.0,))
    else:
        lab.minmax_rows(offsets=(-10.0, 0.0))
    lab.timings["minmax"] = time.perf_counter() - t
    t = time.perf_counter()
    lab.keyed_rows(offsets=(0.0,))
    lab.rotation_rows(offsets=(0.0, -10.0))
    lab.adversarial_rows(
        variants=(("pgd", "per_sample", "cooperative"), ("pgd", "universal", "cooperative")),
        offsets=(0.0, -10.0) if profile == "quick" else tuple(o for o in p.eve_offsets if o <= 0),
    )
    lab.adversarial_rows(
        variants=(("pgd", "per_sample", "cooperative"),), psrs=(max(p.adv_psrs),), offsets=(-10.0,), finetune=True
    )
    lab.keyed_rows(psrs=(max(p.keyed_psrs),), offsets=(-10.0,))
    lab.timings["perturbations"] = time.perf_counter() - t
    notes = check_targets(lab.rows, lab.undefended_legit_acc)
    if dataset == "mnist" and not overrides:
        from semgame.bench.runner import reproduce_section
        from semgame.training import resolve_device

        t = time.perf_counter()
        notes += "\n\n" + reproduce_section(
            Path(out) / "bench", seed=seed, data_root=data_root, device=resolve_device(device).type, say=lab.say
        )
        lab.timings["bench"] = time.perf_counter() - t
    cmd = f"semgame reproduce --dataset {dataset} --profile {profile} --seed {seed} --out {out}"
    return write_report(out, f"semgame reproduce: {dataset} ({profile})", lab.rows, lab.meta(cmd), kind="", notes=notes)
