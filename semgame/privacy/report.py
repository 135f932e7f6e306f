"""Privacy benchmark reports: ``report.md`` (markdown table), ``results.json`` and PNG plots.

:func:`write_report` takes the rows of a :class:`~semgame.privacy.lab.Lab` (columns
:data:`~semgame.privacy.leakage.COLUMNS`) and its ``meta()``; :func:`check_targets` states, against
fresh eavesdroppers, whether the privacy targets of issues #4 and #8 are met; :func:`ceiling_notes`
lists the rows whose fresh gap lies above their ceiling. The privacy-utility plot draws the ceiling
(the lowest eavesdropper accuracy any keyless encoder allows at each legitimate accuracy,
:func:`~semgame.privacy.ceiling.eve_floor`) for every eavesdropper SNR below the legitimate one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from semgame.io import write_json, write_png, write_text
from semgame.privacy.ceiling import eve_floor
from semgame.privacy.leakage import COLUMNS

__all__ = ["format_table", "write_report", "check_targets", "ceiling_notes"]

_CEILING_KEYS = ("ceiling_pts", "ceiling_pts_amax1", "fraction_of_ceiling")


def _fmt(v: Any, key: str = "") -> str:
    if v is None and key in _CEILING_KEYS:
        return "n/a"
    if isinstance(v, float) and not math.isnan(v) and key in ("eve_snr_db", "gap_fresh", "tx_power", *_CEILING_KEYS):
        if key == "eve_snr_db":
            return f"{v:g}"
        return f"{v:.2f}" if key in ("tx_power", "fraction_of_ceiling") else f"{v:.1f}"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4f}" if abs(v) <= 1.5 else f"{v:.2f}"
    return "–" if v is None else str(v)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table with :data:`~semgame.privacy.leakage.COLUMNS` (accuracies as fractions)."""
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, sep]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k), k) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], out: Path, kind: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    groups: dict[str, list[dict]] = {}
    for r in rows:
        g = r["defence"] if kind == "snr" else r.get("group", r.get("kind", ""))
        groups.setdefault(g, []).append(r)
    # privacy-utility: legit accuracy vs eavesdropper accuracy (fresh filled, in-loop hollow)
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, (g, rs) in enumerate(groups.items()):
        col = f"C{i % 10}"
        ax.plot([r["fresh_eve_mean"] for r in rs], [r["legit_acc"] for r in rs], "o-", color=col, label=f"{g} (fresh)")
        il = [(r["in_loop_eve_acc"], r["legit_acc"]) for r in rs if not math.isnan(r["in_loop_eve_acc"])]
        if il:
            ax.plot(*zip(*il), "o--", mfc="none", color=col, alpha=0.7, label=f"{g} (in-loop)")
    if rows:
        ax.axvline(rows[0]["chance"], color="grey", ls=":", label="chance")
        _plot_ceilings(ax, rows)
    ax.set_xlabel("eavesdropper accuracy")
    ax.set_ylabel("legitimate accuracy")
    ax.set_title("privacy-utility (filled: fresh eavesdroppers, hollow: in-loop)")
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    write_png(out / "privacy_utility.png", fig)
    plt.close(fig)
    files.append("privacy_utility.png")
    # sweep plot
    xkey = {"perturbation": "psr_db", "snr": "eve_offset_db", "minmax": "lambda_"}.get(kind)
    if xkey:
        fig, ax = plt.subplots(figsize=(7, 5))
        for i, (g, rs) in enumerate(groups.items()):
            rs = [r for r in rs if isinstance(r.get(xkey), (int, float))]
            if not rs:
                continue
            rs = sorted(rs, key=lambda r: r[xkey])
            xs = [r[xkey] for r in rs]
            col = f"C{i % 10}"
            ax.plot(xs, [r["fresh_eve_mean"] for r in rs], "o-", color=col, label=f"{g}: fresh eve")
            ax.plot(xs, [r["legit_acc"] for r in rs], "s:", color=col, label=f"{g}: legit")
            if any(not math.isnan(r["in_loop_eve_acc"]) for r in rs):
                ax.plot(xs, [r["in_loop_eve_acc"] for r in rs], "x--", color=col, alpha=0.6, label=f"{g}: in-loop eve")
        ax.set_xlabel(
            {"psr_db": "PSR (dB)", "eve_offset_db": "eavesdropper SNR - legitimate SNR (dB)", "lambda_": "lambda"}[xkey]
        )
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=6)
        fig.tight_layout()
        write_png(out / f"sweep_{xkey}.png", fig)
        plt.close(fig)
        files.append(f"sweep_{xkey}.png")
    return files


def _plot_ceilings(ax: Any, rows: list[dict[str, Any]]) -> None:
    """The ceiling curve ``(eve_floor(b), b)`` per eavesdropper SNR below the legitimate one: with the largest
    measured ``a_max`` of that SNR's rows (solid) and with ``a_max = 1`` (dotted)."""
    by_snr: dict[tuple[float, float], list[dict]] = {}
    for r in rows:
        if r.get("ceiling_pts") is not None:
            by_snr.setdefault((r["legit_snr_db"], r["eve_snr_db"]), []).append(r)
    for i, ((legit_snr, eve_snr), rs) in enumerate(sorted(by_snr.items())):
        c, ratio = rs[0]["chance"], 10.0 ** ((legit_snr - eve_snr) / 10.0)
        for a_max, style in ((max(r["a_max"] for r in rs), "-"), (1.0, ":")):
            bs = [c + (a_max - c) * j / 200 for j in range(1, 201)]
            ax.plot(
                [eve_floor(b, c, a_max, ratio) for b in bs],
                bs,
                style,
                color="k",
                lw=1.0,
                alpha=0.8 - 0.2 * i,
                label=f"ceiling, eve {eve_snr:g} dB, a_max={a_max:.3f}",
            )


def ceiling_notes(rows: list[dict[str, Any]]) -> str:
    """Markdown lines naming every row whose fresh gap lies above its ceiling (empty when none)."""
    flagged = [r for r in rows if r.get("ceiling_flag")]
    if not flagged:
        return ""
    lines = ["## Rows above their ceiling", ""]
    lines += [
        f"- {r['defence']} at eve {r['eve_snr_db']:g} dB: gap {r['gap_fresh']:.1f} pts vs ceiling "
        f"{_fmt(r['ceiling_pts'], 'ceiling_pts')} (a_max {r['a_max']:.4f}), "
        f"{_fmt(r['ceiling_pts_amax1'], 'ceiling_pts_amax1')} (a_max = 1): **{r['ceiling_flag']}**"
        for r in flagged
    ]
    return "\n".join(lines)


def write_report(
    out: str | Path, title: str, rows: list[dict[str, Any]], meta: dict[str, Any], kind: str = "", notes: str = ""
) -> Path:
    """``report.md`` + ``results.json`` + PNG plots in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plot(rows, out, kind) if rows else []
    write_json(out / "results.json", {"meta": meta, "rows": rows})
    lc, b = meta["link_config"], meta["budgets"]
    channel = "AWGN" if lc["fading"] == "none" else f"Rayleigh {'block' if lc['block'] else 'per-symbol'} fading"
    channel += f", {'perfect CSI (' + lc['equalizer'].upper() + ')' if lc['csi'] == 'perfect' else 'no CSI'}"
    model = b.get("fresh_model", "standard")
    fresh = (
        f"K={b['fresh_k']}, {b['fresh_epochs']} epochs each"
        if model == "standard"
        else f"K={b['fresh_k']} strong ones (CSI input, 3x512 MLP, at most {b['fresh_epochs']} epochs, early stopping)"
    )
    text = [
        f"# {title}",
        "",
        f"Regenerate: `{meta['command']}`",
        "",
        f"Dataset {meta['dataset']}, profile {meta['profile']}, seed {meta['seed']}, legitimate SNR "
        f"{lc['snr_db']:g} dB, {channel}. Fresh eavesdroppers: {fresh}, from scratch on recorded "
        f"defended training transmissions. Accuracies are fractions; wall time {meta['wall_seconds']:.0f} s.",
        "",
        "*ceiling*: the largest legit - eavesdropper gap any keyless encoder allows at this legitimate accuracy "
        "against a fully trained eavesdropper (`semgame.privacy.ceiling`), with a_max = the legitimate receiver's "
        "accuracy at 80 dB, and with a_max = 1; n/a where it does not apply (keyed defences, eavesdropper SNR >= "
        "legitimate SNR, per-symbol fading).",
        "",
        format_table(rows),
        "",
    ]
    for block in (notes, ceiling_notes(rows)):
        if block:
            text += [block, ""]
    text += [f"![{p}]({p})" for p in plots]
    write_text(out / "report.md", "\n".join(text) + "\n")
    return out / "report.md"


def check_targets(rows: list[dict[str, Any]], undefended: float) -> str:
    """Check the targets of issues #4 and #8 against fresh eavesdroppers (lines only for targets with rows)."""

    def keyless(r: dict) -> bool:
        return r["kind"] not in ("keyed", "rotation") and r["defence"] != "undefended"

    def best(pred, slack: float, score):
        cands = [r for r in rows if pred(r) and r["legit_acc"] >= undefended - slack]
        return max(cands, key=score, default=None)

    def describe(r: dict) -> str:
        frac = (
            "" if r.get("fraction_of_ceiling") is None else f", {100 * r['fraction_of_ceiling']:.0f} % of the ceiling"
        )
        return (
            f"{r['defence']} at eve {r['eve_snr_db']:g} dB — legit {r['legit_acc']:.4f} (undefended {undefended:.4f}), "
            f"fresh eve {r['fresh_eve_mean']:.4f} (gap {r['gap_fresh']:.1f} pts{frac}), "
            f"in-loop eve {_fmt(r['in_loop_eve_acc'])}"
        )

    def gap(r: dict) -> float:
        return r["legit_acc"] - r["fresh_eve_mean"]

    def frac(r: dict) -> float:
        return r.get("fraction_of_ceiling") or -1.0

    def far(r: dict) -> bool:  # the eavesdropper 10 dB (or more) worse, no key
        return r["eve_offset_db"] <= -10 and keyless(r)

    def gap30(r: dict) -> bool:
        return r["gap_fresh"] >= 30

    def rotation_ok(r: dict) -> bool:
        return (
            r["fresh_eve_mean"] <= r["chance"] + 0.03
            and abs(r["legit_acc"] - undefended) <= 0.003
            and abs(r["tx_power"] - 1.0) < 1e-9
        )

    def equal_snr(kind: str):
        return lambda r: r["eve_offset_db"] == 0 and r["kind"] == kind

    far_gap = "#4 (a) eve 10 dB worse, no key: fresh eve >= 30 pts below legit, legit within 3 pts"
    mask = "#4 (b) equal SNR, keyed mask: fresh eve >= 30 pts below legit, legit within 1 pt"
    block = "#8 block fading, eve 10 dB worse, no key: >= 85 % of the ceiling, legit within 3 pts"
    per_symbol = "#8 per-symbol fading, eve 10 dB worse, no key: fresh eve >= 30 pts below legit, legit within 3 pts"
    rotation = "#8 equal SNR, keyed rotation: fresh eve <= chance + 3 pts, legit within 0.3 pt, tx power 1.00"
    lines = ["## Targets (checked against fresh eavesdroppers)", ""]
    for name, pred, slack, score, ok in (
        (far_gap, far, 0.03, gap, gap30),
        (mask, equal_snr("keyed"), 0.01, gap, gap30),
        (block, lambda r: far(r) and r.get("block", True), 0.03, frac, lambda r: frac(r) >= 0.85),
        (per_symbol, lambda r: far(r) and not r.get("block", True), 0.03, gap, gap30),
        (rotation, equal_snr("rotation"), 1.0, lambda r: -r["fresh_eve_mean"], rotation_ok),
    ):
        if not any(pred(r) for r in rows):
            continue
        r = best(pred, slack, score)
        if r is None:
            lines.append(f"- {name}: **no configuration keeps legit within the slack**")
            continue
        lines.append(f"- {name}: {'**met**' if ok(r) else '**not met**'}; best: {describe(r)}")
    return "\n".join(lines)
