"""Write ``semgame/weights/metrics.md``: the test-set metrics of the shipped default links.

    python benchmarks/default_weights_metrics.py RUNS_DIR [METRICS_MD]

Called by ``make_default_weights.sh`` after its runs. A row is written from
``RUNS_DIR/default-<name>/metrics.json`` and the shipped ``semgame/weights/<name>.pt``; a link without
such a run (``SKIP_SPATIAL=1``, or a partial regeneration) keeps its row of the existing file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from semgame.envs.game import SHIPPED_LINKS, shipped_link
from semgame.io import write_text

NAMES = tuple(Path(file).stem for file in SHIPPED_LINKS.values())
"""The shipped files' stems (``semgame.envs.game.SHIPPED_LINKS``), also the run folders' ``default-<name>``."""
HEADER = [
    "# Test-set metrics of the shipped default links",
    "",
    "Written by `benchmarks/make_default_weights.sh` (10 dB legitimate and eavesdropper SNR).",
    "",
    "| file | legit acc | legit PSNR (dB) | legit SSIM | eavesdropper acc | stored floats (link + eve) |",
    "|---|---|---|---|---|---|",
]


def row(run: Path, weights: Path) -> str:
    """The table row of one shipped link from its run's ``metrics.json``."""
    m = json.loads((run / "metrics.json").read_text())["test"]
    state = torch.load(weights, weights_only=True)
    n = sum(v.numel() for part in ("link", "eve") for v in state[part].values() if v.is_floating_point())
    cells = (
        f"{m['legit_acc']:.4f}",
        f"{m['legit_psnr']:.2f}",
        f"{m['legit_ssim']:.3f}",
        f"{m['eve_acc']:.4f}",
        f"{n:,}",
    )
    return f"| {weights.name} | {' | '.join(cells)} |"


def main(argv: list[str]) -> str:
    runs = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else shipped_link("mnist").parent / "metrics.md"
    regenerated = {name for name in NAMES if (runs / f"default-{name}" / "metrics.json").is_file()}
    if not regenerated:
        raise SystemExit(f"no default-<name>/metrics.json under {runs} (names: {', '.join(NAMES)})")
    old = out.read_text().splitlines() if out.is_file() else []
    lines = list(HEADER)
    for name in NAMES:
        if name in regenerated:
            lines.append(row(runs / f"default-{name}", out.parent / f"{name}.pt"))
        else:
            lines += [line for line in old if line.startswith(f"| {name}.pt |")]
    text = "\n".join(lines) + "\n"
    write_text(out, text)
    return text


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python benchmarks/default_weights_metrics.py RUNS_DIR [METRICS_MD]")
    print(main(sys.argv[1:]), end="")
