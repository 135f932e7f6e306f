"""The summary of a bench grid: ``summary.md`` (tables), ``summary.json`` and PNG plots.

* **Eavesdroppers** (one row per dataset / defence / agent / eavesdropper SNR, mean ± std over seeds):
  final held-out accuracy; transmissions needed to reach 50 % and 90 % of the reference (supervised)
  eavesdropper's final accuracy under the same defence (the first evaluation at or above it; "never"
  when no seed gets there, "n/s seeds" when only some do); legitimate accuracy and PSNR on the held-out
  set; wall time per cell (each mean ± std over seeds).
* **Defences** (fresh-eavesdropper verdicts): legitimate accuracy and PSNR, the in-loop eavesdropper
  (the one the defence was crafted or learnt against), fresh eavesdroppers (mean ± std over seeds and
  the ``fresh_k`` eavesdroppers of each), transmit power.
* **Games**: each side's held-out accuracy per round and the final in-loop vs fresh verdict.
* ``eve_acc_<dataset>_eve<snr>dB.png``: eavesdropper accuracy against intercepted transmissions (log
  x), one panel per defence, one line per agent with a band (min-max over seeds), chance dashed and the
  fresh eavesdroppers' mean dotted.

Timings (``wall_s``, ``perf/*``) are kept apart from the results (``timings``), so two runs of the same
grid on different executors have equal ``eve_rows`` / ``defence_rows`` / ``game_rows``.
"""

from __future__ import annotations

import math
import platform
import statistics
from pathlib import Path
from typing import Any

from semgame import tags
from semgame.bench.cells import Cell
from semgame.bench.config import BenchConfig
from semgame.io import write_json, write_png, write_text

__all__ = ["reach", "reach_text", "write_summary"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.pstdev(values)


def _pm(values: list[float], fmt: str = "{:.3f}") -> str:
    m, s = _mean_std(values)
    return "–" if math.isnan(m) else f"{fmt.format(m)} ± {fmt.format(s)}"


def reach(points: list[dict], threshold: float) -> int | None:
    """Transmissions at the first evaluation with eavesdropper accuracy >= ``threshold`` (None: never)."""
    return next((int(p["step"]) for p in points if p[tags.EVE_ACC] >= threshold), None)


def reach_text(steps: list[int | None]) -> str:
    got = [s for s in steps if s is not None]
    if not got:
        return "never"
    m, s = _mean_std([float(x) for x in got])
    text = f"{m:,.0f} ± {s:,.0f}" if len(steps) > 1 else f"{m:,.0f}"
    return text if len(got) == len(steps) else f"{text} ({len(got)}/{len(steps)} seeds)"


def _groups(cells: list[Cell], records: dict[str, dict], kind: str, key) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for c in cells:
        if c.kind == kind and c.id in records:
            out.setdefault(key(c.params), []).append(records[c.id])
    return out


def _eve_rows(cfg: BenchConfig, cells: list[Cell], records: dict) -> tuple[list[dict], dict]:
    groups = _groups(
        cells, records, "eve", lambda p: (p["dataset"], p["defence"]["name"], p["agent"]["name"], p["eve_snr_db"])
    )
    ref = cfg.reference
    rows, timings = [], {}
    for (ds, defence, agent, snr), recs in groups.items():
        finals = [r["result"]["final_eve_acc"] for r in recs]
        row = {
            "dataset": ds,
            "defence": defence,
            "agent": agent,
            "eve_snr_db": snr,
            "seeds": [r["params"]["seed"] for r in recs],
            "final_eve_acc_mean": _mean_std(finals)[0],
            "final_eve_acc_std": _mean_std(finals)[1],
            "final_eve_acc": finals,
            "legit_acc": _mean_std([r["result"]["legit_acc"] for r in recs])[0],
            "legit_psnr": _mean_std([r["result"]["legit_psnr"] for r in recs])[0],
            "legit_accs": [r["result"]["legit_acc"] for r in recs],
            "legit_psnrs": [r["result"]["legit_psnr"] for r in recs],
            "chance": recs[0]["result"]["chance"],
            "transmissions": recs[0]["result"]["transmissions"],
        }
        ref_recs = groups.get((ds, defence, ref.name, snr)) if ref else None
        if ref_recs:
            ref_final = _mean_std([r["result"]["final_eve_acc"] for r in ref_recs])[0]
            row["reference_final_eve_acc"] = ref_final
            for frac in (0.5, 0.9):
                row[f"reach_{int(frac * 100)}"] = [reach(r["result"]["points"], frac * ref_final) for r in recs]
        rows.append(row)
        timings["/".join([ds, defence, agent, f"eve{snr:g}dB"])] = {
            "wall_s": [r["result"]["wall_s"] for r in recs],
            "transmissions_per_s": [
                statistics.fmean([p[tags.TRANSMISSIONS_PER_S] for p in r["result"]["points"]]) for r in recs
            ],
        }
    return rows, timings


def _defence_rows(cells: list[Cell], records: dict) -> list[dict]:
    groups = _groups(cells, records, "defence", lambda p: (p["dataset"], p["defence"]["name"], p["eve_snr_db"]))
    rows = []
    for (ds, defence, snr), recs in groups.items():
        vs = [r["result"]["row"] for r in recs if r["result"]["row"] is not None]
        if not vs:
            continue
        fresh = [a for v in vs for a in v["fresh_eve_accs"]]
        rows.append(
            {
                "dataset": ds,
                "defence": defence,
                "eve_snr_db": snr,
                "kind": vs[0]["kind"],
                "psr_db": vs[0]["psr_db"],
                "legit_acc": _mean_std([v["legit_acc"] for v in vs])[0],
                "legit_psnr": _mean_std([v["legit_psnr"] for v in vs])[0],
                "in_loop_eve_acc": _mean_std([v["in_loop_eve_acc"] for v in vs])[0],
                "transfer_eve_acc": _mean_std([v["transfer_eve_acc"] for v in vs])[0],
                "fresh_eve_mean": _mean_std(fresh)[0],
                "fresh_eve_std": _mean_std(fresh)[1],
                "fresh_eve_accs": fresh,
                "fresh_k": len(vs[0]["fresh_eve_accs"]),
                "seeds": [r["params"]["seed"] for r in recs],
                "tx_power": vs[0]["tx_power"],
            }
        )
    return rows


def _game_rows(cells: list[Cell], records: dict) -> list[dict]:
    groups = _groups(cells, records, "game", lambda p: (p["dataset"], p["game"]["name"], p["eve_snr_db"]))
    rows = []
    for (ds, game, snr), recs in groups.items():
        n_rounds = len(recs[0]["result"]["rounds"])
        per_round = []
        for i in range(n_rounds):
            rs = [r["result"]["rounds"][i] for r in recs]
            per_round.append({k: _mean_std([x[k] for x in rs])[0] for k in rs[0] if k != "round"} | {"round": i + 1})
        fresh = [a for r in recs for a in r["result"]["verdict"]["fresh_eve_accs"]]
        rows.append(
            {
                "dataset": ds,
                "game": game,
                "eve_snr_db": snr,
                "seeds": [r["params"]["seed"] for r in recs],
                "rounds": per_round,
                "in_loop_eve_acc": _mean_std([r["result"]["in_loop_eve_acc"] for r in recs])[0],
                "fresh_eve_mean": _mean_std(fresh)[0],
                "fresh_eve_std": _mean_std(fresh)[1],
                "legit_acc": _mean_std([r["result"]["legit_acc"] for r in recs])[0],
                "transmitter": _relative(recs[0]["params"]["game"]["transmitter"]),
                "eavesdropper": _relative(recs[0]["params"]["game"]["eavesdropper"]),
            }
        )
    return rows


def _show(spec: Any) -> str:
    """An agent spec or config as written for people: file paths relative to the current directory."""
    if not isinstance(spec, str) or ":" not in spec:
        return str(spec)
    target, attr = spec.rsplit(":", 1)
    path = Path(target)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        target = str(path.relative_to(Path.cwd()))
    return f"{target}:{attr}"


def _relative(obj: Any) -> Any:
    """``obj`` with agent specs and paths under the current directory written relative to it."""
    if isinstance(obj, dict):
        return {k: _relative(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_relative(v) for v in obj]
    if isinstance(obj, str) and obj.startswith(str(Path.cwd()) + "/"):
        return _show(obj) if ":" in obj else str(Path(obj).relative_to(Path.cwd()))
    return obj


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _plot(cfg: BenchConfig, cells: list[Cell], records: dict, defence_rows: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = []
    fresh = {(r["dataset"], r["defence"], r["eve_snr_db"]): r["fresh_eve_mean"] for r in defence_rows}
    for ds in cfg.datasets:
        for snr in cfg.eve_snr_db:
            n = len(cfg.defences)
            cols = min(n, 3)
            fig, axes = plt.subplots(
                (n + cols - 1) // cols,
                cols,
                figsize=(5 * cols, 3.8 * ((n + cols - 1) // cols)),
                squeeze=False,
                sharey=True,
            )
            drawn = False
            for ax, d in zip(axes.flat, cfg.defences):
                chance = None
                for i, a in enumerate(cfg.agents):
                    curves = [
                        records[c.id]["result"]
                        for c in cells
                        if c.kind == "eve"
                        and c.id in records
                        and (
                            c.params["dataset"],
                            c.params["defence"]["name"],
                            c.params["agent"]["name"],
                            c.params["eve_snr_db"],
                        )
                        == (ds, d.name, a.name, snr)
                    ]
                    if not curves:
                        continue
                    chance = curves[0]["chance"]
                    length = min(len(r["points"]) for r in curves)
                    x = np.array([p["step"] for p in curves[0]["points"][:length]])
                    y = np.array([[p[tags.EVE_ACC] for p in r["points"][:length]] for r in curves])
                    ax.plot(x, y.mean(0), color=f"C{i % 10}", label=a.name)
                    if len(curves) > 1:
                        ax.fill_between(x, y.min(0), y.max(0), color=f"C{i % 10}", alpha=0.2)
                    drawn = True
                if chance is not None:
                    ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
                if not math.isnan(fresh.get((ds, d.name, snr), math.nan)):
                    ax.axhline(fresh[(ds, d.name, snr)], color="black", ls=":", lw=1, label=f"fresh (K={cfg.fresh_k})")
                ax.set_xscale("log")
                ax.set_title(d.name)
                ax.set_xlabel("intercepted transmissions")
                ax.grid(alpha=0.3)
            for ax in axes.flat[n:]:
                ax.set_visible(False)
            axes[0, 0].set_ylabel("eavesdropper accuracy (held-out)")
            if drawn:
                axes[0, 0].legend(fontsize=7, loc="best")
            fig.suptitle(
                f"{ds}, eavesdropper SNR {snr:g} dB: accuracy vs intercepted transmissions "
                f"(band: min-max over {len(cfg.seeds)} seeds)",
                fontsize=10,
            )
            fig.tight_layout()
            if drawn:
                name = f"eve_acc_{ds}_eve{snr:g}dB.png"
                write_png(out / name, fig)
                files.append(name)
            plt.close(fig)
    return files


def schedule(cfg: BenchConfig) -> str:
    """When eavesdroppers are evaluated, in words ("after 256, 512, 1,024 and then every 2,048")."""
    early, t = [], cfg.eval_first
    while t and t < cfg.eval_every:
        early.append(f"{t:,}")
        t *= 2
    return (f"after {', '.join(early)} and then " if early else "") + f"every {cfg.eval_every:,}"


def _markdown(
    cfg: BenchConfig,
    eve_rows: list[dict],
    timings: dict,
    defence_rows: list[dict],
    game_rows: list[dict],
    failed: dict[str, str],
    plots: list[str],
    meta: dict,
) -> str:
    ref = cfg.reference
    lines = [
        "# semgame bench",
        "",
        f"Command: `{meta['command']}`" if meta.get("command") else "",
        "",
        (
            f"Grid: datasets {list(cfg.datasets)}, eavesdropper SNR {list(cfg.eve_snr_db)} dB, "
            f"seeds {list(cfg.seeds)}; "
            f"{cfg.transmissions:,} intercepted transmissions per eavesdropper, evaluated {schedule(cfg)} on "
            f"{cfg.eval_size:,} held-out defended test transmissions; fresh eavesdroppers: K={cfg.fresh_k}, "
            f"{cfg.fresh_epochs} epochs on {cfg.fresh_limit:,} recorded defended training transmissions. Executor "
            f"{meta['executor']}, device {meta['device']}, torch threads 1, {meta['machine']}. Accuracies are "
            "fractions; mean ± std over seeds."
        ),
        "",
        "## Eavesdroppers",
        "",
    ]
    ref_txt = f" of the reference `{ref.name}`" if ref else ""
    lines += [
        (
            f"| dataset | defence | agent | eve SNR (dB) | final eve acc | to 50 %{ref_txt} | to 90 %{ref_txt} | "
            "legit acc | "
            "legit PSNR (dB) | wall (s) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in eve_rows:
        t = timings["/".join([r["dataset"], r["defence"], r["agent"], f"eve{r['eve_snr_db']:g}dB"])]
        lines.append(
            f"| {r['dataset']} | {r['defence']} | {r['agent']} | {r['eve_snr_db']:g} | {_pm(r['final_eve_acc'])} | "
            f"{reach_text(r['reach_50']) if 'reach_50' in r else '–'} | "
            f"{reach_text(r['reach_90']) if 'reach_90' in r else '–'} | {_pm(r['legit_accs'])} | "
            f"{_pm(r['legit_psnrs'], '{:.2f}')} | {_pm(t['wall_s'], '{:.0f}')} |"
        )
    if defence_rows:
        lines += [
            "",
            "## Defences, judged by fresh eavesdroppers",
            "",
            "| dataset | defence | eve SNR (dB) | legit acc | legit PSNR (dB) | in-loop eve | fresh eve mean ± std "
            "| tx power |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in defence_rows:
            lines.append(
                f"| {r['dataset']} | {r['defence']} | {r['eve_snr_db']:g} | {_fmt(r['legit_acc'])} | "
                f"{_fmt(r['legit_psnr'], 2)} | {_fmt(r['in_loop_eve_acc'])} | {_fmt(r['fresh_eve_mean'])} ± "
                f"{_fmt(r['fresh_eve_std'])} | {r['tx_power']:.2f} |"
            )
        lines += [
            "",
            (
                "*in-loop*: the eavesdropper the defence was crafted or learnt against (the link's own); *fresh*: "
                "trained from scratch against the frozen defence."
            ),
        ]
    for g in game_rows:
        lines += [
            "",
            f"## Game `{g['game']}` ({g['dataset']}, eve SNR {g['eve_snr_db']:g} dB, seeds {g['seeds']})",
            "",
            f"Transmitter `{g['transmitter']}` vs eavesdropper `{g['eavesdropper']}`.",
            "",
            "| round | eve acc after eve adapts | eve acc after tx adapts | legit acc | tx reward |",
            "|---|---|---|---|---|",
        ]
        for r in g["rounds"]:
            lines.append(
                f"| {r['round']} | {_fmt(r['eve_acc_after_eve'])} | {_fmt(r['eve_acc_after_tx'])} | "
                f"{_fmt(r['legit_acc'])} | {_fmt(r['tx_reward'])} |"
            )
        lines += [
            "",
            (
                f"Verdict: in-loop eavesdropper {_fmt(g['in_loop_eve_acc'])}, fresh eavesdroppers "
                f"{_fmt(g['fresh_eve_mean'])} ± {_fmt(g['fresh_eve_std'])}, legit {_fmt(g['legit_acc'])}."
            ),
        ]
    if failed:
        lines += ["", "## Failed cells (rerun the command to retry them)", ""]
        lines += [f"- `{cid}`: {err}" for cid, err in sorted(failed.items())]
    lines += [""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_summary(
    cfg: BenchConfig, cells: list[Cell], records: dict[str, dict], failed: dict[str, str], out: Path, meta: dict
) -> dict:
    """Write ``summary.md``, ``summary.json`` and the plots into ``out``; returns the summary dict."""
    import torch

    meta = {
        **meta,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {_cpus()} CPU core(s) available to the process",
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    eve_rows, timings = _eve_rows(cfg, cells, records)
    defence_rows = _defence_rows(cells, records)
    game_rows = _game_rows(cells, records)
    plots = _plot(cfg, cells, records, defence_rows, out)
    summary = {
        "config": _relative(cfg.to_dict()),
        "eve_rows": eve_rows,
        "defence_rows": defence_rows,
        "game_rows": game_rows,
        "failed": failed,
        "finished": sorted(records),
        "plots": plots,
        "timings": timings,
        "meta": meta,
    }
    write_json(out / "summary.json", summary)
    write_text(out / "summary.md", _markdown(cfg, eve_rows, timings, defence_rows, game_rows, failed, plots, meta))
    return summary


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
