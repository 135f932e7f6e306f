"""The GPU check of issue #10: every figure of one device into ``<out>/<device-name>.{md,json}``.

    bash benchmarks/gpu_check.sh                       # a GPU machine: about 8 minutes on one H200
    bash benchmarks/gpu_check.sh --device cpu --tiny   # CI-sized dry run (tests/test_gpu_check.py)

On the lent GPU machine (the `device` tool: a bare image whose python3 has torch but not gymnasium,
stable-baselines3, ...; at most 64 MiB carried per call), run ``benchmarks/gpu_prepare.sh`` here first:
it packs the wheels and the data into parts and prints the ``run`` calls: the first runs every section but
``cifar80`` (``benchmarks/gpu_device.sh check``: this script with ``--out "$OUT"`` on the staged data), the
last ``cifar80`` once the CIFAR-10 training set is all there; ``--merge`` then joins the two results here.

Sections (written to the JSON and MD after every measurement; one that fails records its error and the
others still run, so a time-out, a kill, an out-of-memory or a missing data set loses only its own figures):

1. ``env``: native vector env transmissions/s (played ones: same-step autoreset, as
   ``bench_vector_env.transmissions_per_s``), MNIST and CIFAR-10, both roles,
   N in {1,024; 16,384; 65,536}, ``compute_psnr`` on and off (``--tiny``: N = 8).
2. ``sync``: Gymnasium's sync vector env at N = 64 (CPU, its own device) beside the native env at
   N = 64 on the checked device, MNIST eavesdropper role, both ``compute_psnr`` settings: steps/s, ratio
   (``--tiny``: N = 8).
3. ``train``: training images/s, fp32 vs bf16 autocast, MNIST dense and CIFAR-10 spatial links.
4. ``cifar80``: the CIFAR-10 spatial k = 256 link of README section 1 (:data:`CIFAR_RECIPE`: width 16,
   augment, batch 128, PSNR loss at weight 0.09, one-cycle to lr 4e-3 over ``--cifar-epochs``, default
   48 as on the project's CPU), trained with ``semgame train``'s link phase until its test accuracy
   reaches 80 % or ``--cifar-max-seconds`` pass: seconds to 80 % (training and the evaluation after
   each epoch). Needs the real CIFAR-10
   training set (``--data-root`` / ``$SEMGAME_DATA``); ``--tiny`` runs one epoch on synthetic data.
5. ``bench``: one cell of the benchmark grid on the device through ``semgame bench``
   (``benchmarks/configs/gpu-cell.toml``: the supervised eavesdropper against the undefended MNIST
   link; ``--tiny``: the same cell with CI-sized budgets), in a fresh temporary folder: its summary goes
   into the JSON, and ``<out>`` holds the two files alone.

Images for sections 1-2 are the real test sets when they can be found, else synthetic ones (the
throughput does not depend on the pictures; the JSON says which were used).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from bench_precision import SPEED_MODELS
from bench_threads import images_per_second
from bench_vector_env import native, sync, transmissions_per_s

from semgame.config import LinkConfig
from semgame.data import DataNotFoundError, load_dataset, synthetic_dataset
from semgame.io import write_json, write_text
from semgame.link import build_link
from semgame.run import link_phase
from semgame.training import link_schedule, resolve_device, resolve_precision

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("env", "sync", "train", "cifar80", "bench")
DATASETS = ("mnist", "cifar10")
ROLES = ("eavesdropper", "transmitter")
CIFAR_RECIPE = dict(
    dataset="cifar10",
    arch="spatial",
    k=256,
    width=16,
    augment=True,
    batch_size=128,
    schedule="onecycle",
    lr=4e-3,
    recon_loss="psnr",
    recon_weight=0.09,
)
CIFAR_EPOCHS = 48
"""The CIFAR-10 k = 256 link of README section 1, shipped as ``cifar10-spatial``: its recipe and epochs
(``--cifar-epochs`` sets the one-cycle length)."""
TARGETS = {"mnist_tx_s": 1e7, "cifar80_s": 120.0}
"""GPU targets of issue #10 (one H200): MNIST transmissions/s without PSNR, seconds to 80 % on CIFAR-10."""


def device_name(device: torch.device) -> str:
    """File-name-safe device name: ``NVIDIA-H200``, ``cpu-x86_64``."""
    raw = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu-{platform.machine()}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-")


def env_images(dataset: str, n: int, data_root: str | None, tiny: bool) -> tuple[Any, str]:
    """The test split (real if found and not ``tiny``) as ``(images, labels)``, and where it came from."""
    if not tiny:
        try:
            return load_dataset(dataset, "test", root=data_root, download=False).tensors, "real test set"
        except DataNotFoundError:
            pass
    return synthetic_dataset(dataset, n, seed=0).tensors, f"synthetic ({n} images)"


def timing_kw(args: argparse.Namespace, dev: str, images: Any) -> dict[str, Any]:
    """Keywords of :func:`bench_vector_env.native` for this check's device, timing and precision settings."""
    return dict(device=dev, min_seconds=args.seconds, min_steps=args.min_steps, images=images, precision=args.precision)


Save = Callable[[], None]
"""Writes the result as it stands (``<out>/<device-name>.{md,json}``)."""


def one_line(err: BaseException) -> str:
    """``Type: message``, the first line only."""
    return f"{type(err).__name__}: {err}".splitlines()[0]


@contextlib.contextmanager
def measurement(got: dict[str, Any], save: Save, what: str) -> Iterator[None]:
    """One measurement of a section (it appends its row to ``got["rows"]``), saved as soon as it ends: one
    that fails (a CUDA out-of-memory at the largest N, say) costs only its own row, its error kept in
    ``got["errors"]``; the section then counts as failed."""
    try:
        yield
    except Exception as err:
        got.setdefault("errors", []).append(f"{what}: {one_line(err)}")
        print(f"{what} failed: {one_line(err)}", flush=True)
    save()


def section_env(args: argparse.Namespace, dev: str, got: dict[str, Any], save: Save) -> None:
    got.update(rows=[], images={})
    for ds in DATASETS:
        images, got["images"][ds] = env_images(ds, 256, args.data_root, args.tiny)
        for role in ROLES:
            for n in args.env_sizes:
                for psnr in (False, True):
                    with measurement(got, save, f"env {ds} {role} N={n} psnr={psnr}"):
                        tps = transmissions_per_s(ds, n, role, psnr, **timing_kw(args, dev, images))
                        got["rows"].append(
                            {
                                "dataset": ds,
                                "role": role,
                                "n": n,
                                "compute_psnr": psnr,
                                "steps_s": tps / n,
                                "transmissions_s": tps,
                            }
                        )
                        print(f"env {ds} {role} N={n} psnr={psnr}: {tps:,.0f} transmissions/s", flush=True)


def section_sync(args: argparse.Namespace, dev: str, got: dict[str, Any], save: Save) -> None:
    images, source = env_images("mnist", 256, args.data_root, args.tiny)
    got.update(rows=[], images=source, sync_device="cpu")
    n = args.sync_n
    for psnr in (False, True):
        with measurement(got, save, f"sync N={n} psnr={psnr}"):
            nat = native("mnist", n, "eavesdropper", psnr, **timing_kw(args, dev, images))
            syn = sync("mnist", n, psnr, args.seconds, min_steps=args.min_steps, images=images)
            got["rows"].append(
                {"n": n, "compute_psnr": psnr, "native_steps_s": nat, "sync_steps_s": syn, "ratio": nat / syn}
            )
            print(
                f"sync N={n} psnr={psnr}: native {nat:,.1f} steps/s, sync {syn:,.2f} steps/s, {nat / syn:,.1f}x",
                flush=True,
            )


def section_train(args: argparse.Namespace, dev: str, got: dict[str, Any], save: Save) -> None:
    got["rows"] = []
    for name, kw in SPEED_MODELS.items():
        with measurement(got, save, f"train {name}"):
            cfg = LinkConfig(device=dev, **kw)
            ips = {
                p: images_per_second(cfg, steps=args.train_steps, batch=args.train_batch, precision=p)
                for p in ("fp32", "bf16")
            }
            got["rows"].append(
                {
                    "model": name,
                    "batch": args.train_batch,
                    "fp32_img_s": ips["fp32"],
                    "bf16_img_s": ips["bf16"],
                    "ratio": ips["bf16"] / ips["fp32"],
                }
            )
            print(f"train {name}: fp32 {ips['fp32']:,.0f} img/s, bf16 {ips['bf16']:,.0f} img/s", flush=True)


def section_cifar80(args: argparse.Namespace, dev: str, got: dict[str, Any], save: Save) -> None:
    device = torch.device(dev)
    if args.tiny:
        train, test = synthetic_dataset("cifar10", 256, seed=0), synthetic_dataset("cifar10", 128, seed=1)
        epochs, source = 1, "synthetic (tiny)"
    else:
        try:
            train = load_dataset("cifar10", "train", root=args.data_root, download=False)
            test = load_dataset("cifar10", "test", root=args.data_root, download=False)
        except DataNotFoundError as err:
            got.update(status="skipped", reason=f"no CIFAR-10 data: {err}".splitlines()[0])
            return
        epochs, source = args.cifar_epochs, "real"
    cfg = LinkConfig(**CIFAR_RECIPE, epochs=epochs, device=dev, precision=args.precision, seed=0)
    got.update(
        data=source,
        precision=resolve_precision(cfg.precision, device),
        config=cfg.to_dict(),
        seconds_to_80=None,
        history=[],
    )
    torch.manual_seed(cfg.seed)
    link = build_link(cfg).to(device)
    opt = torch.optim.Adam(link.parameters(), lr=cfg.lr)
    phase = link_phase("link", epochs, link, opt, cfg, train, test, device, sched=link_schedule(opt, cfg, len(train)))
    elapsed = 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        m = phase.run_epoch(epoch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.perf_counter() - start
        got["history"].append({**m, "epoch": epoch + 1, "seconds": elapsed})
        print(
            f"cifar80 epoch {epoch + 1}: acc {m['legit_acc']:.4f} psnr {m['legit_psnr']:.2f} dB at {elapsed:.1f} s",
            flush=True,
        )
        if m["legit_acc"] >= 0.8:
            got["seconds_to_80"] = elapsed
        save()
        if got["seconds_to_80"] is not None or elapsed > args.cifar_max_seconds:
            break


def section_bench(args: argparse.Namespace, dev: str, got: dict[str, Any], save: Save) -> None:
    """One cell of ``semgame bench``'s grid on the device (``benchmarks/configs/gpu-cell.toml``; ``--tiny``:
    the same cell with CI-sized budgets), as a subprocess with a time limit, in a fresh temporary folder
    (``semgame bench`` skips the cells it finds finished in its ``--out``: an earlier run's would be reported
    again); its summary goes into the result."""
    config = ROOT / "benchmarks" / "configs" / "gpu-cell.toml"
    env = dict(os.environ)
    if args.data_root:  # the bench's data folder: $SEMGAME_DATA, absolute (the subprocess runs in the repo root)
        env["SEMGAME_DATA"] = str(Path(args.data_root).resolve())
    with tempfile.TemporaryDirectory(prefix="gpu-check-bench-") as tmp:
        if args.tiny:  # the same cell, budgets cut down
            text = config.read_text()
            for key, value in (
                ("transmissions", 512),
                ("eval_every", 256),
                ("eval_size", 128),
                ("num_envs", 64),
                ("fresh_k", 0),
            ):
                text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
            config = write_text(Path(tmp) / "gpu-cell-tiny.toml", text)
        out = Path(tmp) / "bench"
        cmd = [
            sys.executable,
            "-m",
            "semgame.cli",
            "bench",
            "--config",
            str(config),
            "--device",
            dev,
            "--out",
            str(out),
            "--quiet",
        ]
        start = time.perf_counter()
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.bench_timeout, cwd=ROOT, env=env, check=False
        )
        summary = out / "summary.json"
        got.update(
            status="done" if done.returncode == 0 else "failed",
            command=" ".join(cmd),
            returncode=done.returncode,
            seconds=time.perf_counter() - start,
            summary=json.loads(summary.read_text()) if summary.is_file() else None,
            output_tail=(done.stdout + done.stderr)[-3000:],
        )


RUNNERS: dict[str, Callable[[argparse.Namespace, str, dict[str, Any], Save], None]] = {
    "env": section_env,
    "sync": section_sync,
    "train": section_train,
    "cifar80": section_cifar80,
    "bench": section_bench,
}


def verdict(ok: bool) -> str:
    """``met`` or ``not met``."""
    return "met" if ok else "not met"


def table(title: str, columns: list[str], rows: list[str], intro: str | None = None) -> list[str]:
    """Markdown lines of a section: ``## title``, the ``intro`` line if any, a table of ``columns``
    and ``rows``, a blank line."""
    head = [f"## {title}", "", *([intro, ""] if intro else [])]
    return [*head, "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns), *rows, ""]


def markdown(result: dict[str, Any]) -> str:
    """The report of a result dict (what the JSON holds)."""
    s = result["sections"]
    lines = [
        f"# GPU check: {result['device_name']}",
        "",
        f"Device `{result['device']}` ({result['device_name']}), torch {result['torch']}, CUDA {result['cuda']}, "
        f"precision `{result['precision']}` -> {result['precision_resolved']}, tiny: {result['tiny']}. "
        + (
            f"fp32 on CUDA: convolutions in TF32 {result['tf32']['cudnn']} (cuDNN), matrix products at float32 "
            f"precision `{result['tf32']['matmul']}`. "
            if result["device"] != "cpu"
            else ""
        )
        + f"Command: `{result['command']}`. Total {result['seconds']:.0f} s.",
        "",
    ]
    env = s.get("env", {})
    if "rows" in env:
        images = ", ".join(f"{k}: {env['images'][k]}" for k in DATASETS if k in env["images"])  # (JSON sorts keys)
        lines += table(
            f"Native vector env, transmissions/s (images: {images})",
            ["dataset", "role", "N", "compute_psnr", "transmissions/s"],
            [
                f"| {r['dataset']} | {r['role']} | {r['n']:,} | {r['compute_psnr']} | {r['transmissions_s']:,.0f} |"
                for r in env["rows"]
            ],
        )
    sy = s.get("sync", {})
    if sy.get("rows"):
        lines += table(
            f"Native env on the device vs gymnasium sync vector env on the CPU (MNIST, eavesdropper, "
            f"N = {sy['rows'][0]['n']}, {sy['images']})",
            ["compute_psnr", "native steps/s", "sync steps/s", "ratio"],
            [
                f"| {r['compute_psnr']} | {r['native_steps_s']:,.1f} | {r['sync_steps_s']:,.2f} | {r['ratio']:,.1f}x |"
                for r in sy["rows"]
            ],
        )
    tr = s.get("train", {})
    if "rows" in tr:
        lines += table(
            "Training images/s, fp32 vs bf16 autocast",
            ["model", "batch", "fp32", "bf16", "bf16 / fp32"],
            [
                f"| {r['model']} | {r['batch']} | {r['fp32_img_s']:,.0f} | {r['bf16_img_s']:,.0f} | {r['ratio']:.2f}x |"
                for r in tr["rows"]
            ],
        )
    c80 = s.get("cifar80", {})
    if c80.get("history"):  # (also the epochs of a run that was stopped)
        reached = c80["seconds_to_80"]
        last = c80["history"][-1]
        lines += table(
            f"CIFAR-10 spatial k = 256 link to 80 % ({c80['data']} data, {c80['precision']})",
            ["epoch", "seconds", "legit acc", "PSNR (dB)"],
            [
                f"| {h['epoch']} | {h['seconds']:.1f} | {h['legit_acc']:.4f} | {h['legit_psnr']:.2f} |"
                for h in c80["history"]
            ],
            intro=f"Seconds to 80 %: **{reached:.1f}**"
            if reached is not None
            else f"80 % not reached: {last['legit_acc']:.4f} after {last['epoch']} epochs ({last['seconds']:.0f} s)",
        )
    bench = s.get("bench", {})
    if bench.get("status") == "done" and bench.get("summary"):
        timings = bench["summary"].get("timings", {})
        rows = []
        for r in bench["summary"].get("eve_rows", []):
            tps = timings.get(f"{r['dataset']}/{r['defence']}/{r['agent']}/eve{r['eve_snr_db']:g}dB", {}).get(
                "transmissions_per_s", []
            )
            rows.append(
                f"| {r['dataset']} | {r['defence']} | {r['agent']} | {r['transmissions']:,} | "
                f"{r['final_eve_acc_mean']:.4f} | "
                f"{r['legit_acc']:.4f} | {max(tps):,.0f} |"
                if tps
                else "| - |"
            )
        lines += table(
            f"One `semgame bench` cell on `{result['device']}` ({bench['seconds']:.0f} s with start-up)",
            ["dataset", "defence", "agent", "transmissions", "final eve acc", "legit acc", "transmissions/s"],
            rows,
        )
    lines += ["## Sections not completed", ""]
    lines += [
        f"* `{name}`: {sec.get('status')}: {sec.get('reason') or sec.get('error', '')}".rstrip()
        for name, sec in s.items()
        if sec.get("status") not in (None, "done")
    ] or ["(none)"]
    lines += ["", "## Targets of issue #10 (one H200)", ""]
    mnist = [r["transmissions_s"] for r in env.get("rows", []) if r["dataset"] == "mnist" and not r["compute_psnr"]]
    best = max(mnist) if mnist else None
    na = "n/a (tiny or CPU run)" if result["tiny"] or result["device"] == "cpu" else None
    lines.append(
        f"* MNIST >= 1e7 transmissions/s without PSNR: best {best:,.0f}: {na or verdict(best >= TARGETS['mnist_tx_s'])}"
        if best is not None
        else "* MNIST >= 1e7 transmissions/s without PSNR: not measured"
    )
    if c80.get("status") == "done":
        reached = c80["seconds_to_80"]
        lines.append(
            f"* CIFAR-10 link to 80 % in <= 2 minutes: {f'{reached:.1f} s' if reached is not None else 'not reached'}: "
            f"{na or verdict(reached is not None and reached <= TARGETS['cifar80_s'])}"
        )
    else:
        lines.append("* CIFAR-10 link to 80 % in <= 2 minutes: not measured")
    return "\n".join(lines) + "\n"


SAME_RUN = ("device", "device_name", "torch", "cuda", "precision", "precision_resolved", "tf32", "tiny")
"""What the results of one device's checks share, so that :func:`merge` can join them."""


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result from checks of some sections each on one device, in order: a later check's section
    replaces an earlier one's; seconds add up and the commands are listed in order.

    gpu_prepare.sh's calls check the sections that need only the first call's data at once, and CIFAR-10's
    training run once the last part is there: a machine lost in between costs only the later sections.
    A file that cannot be read, or a result of another device, torch or mode, is a one-line
    :class:`SystemExit`.
    """
    results = []
    for path in paths:
        try:
            result = json.loads(Path(path).read_text())
            if not isinstance(result, dict) or not isinstance(result.get("sections"), dict):
                raise ValueError("not a gpu_check result (no 'sections')")
            missing = [k for k in (*SAME_RUN, "command", "seconds") if k not in result]
            if missing:
                raise ValueError(f"not a gpu_check result (no {', '.join(map(repr, missing))})")
        except (OSError, ValueError) as err:
            raise SystemExit(f"gpu_check: cannot merge {path}: {one_line(err)}") from None
        if results:
            for key in SAME_RUN:
                if result[key] != results[0][key]:
                    raise SystemExit(
                        f"gpu_check: cannot merge {path}: its {key} {result[key]!r} differs from "
                        f"{results[0][key]!r} in {paths[0]}"
                    )
        results.append(result)
    merged = {**results[0], "sections": {}}
    for result in results:
        merged["sections"].update(result["sections"])
    merged["command"] = "; then ".join(r["command"] for r in results)
    merged["seconds"] = sum(r["seconds"] for r in results)
    return merged


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--tiny", action="store_true", help="CI-sized run: tiny N, synthetic data, a few steps")
    p.add_argument("--out", default="benchmarks/results/gpu", help="folder of <device-name>.md/.json")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16"), help="for the env and the CIFAR-10 run"
    )
    p.add_argument("--data-root", help="data folder (default $SEMGAME_DATA)")
    p.add_argument(
        "--cifar-epochs", type=int, default=CIFAR_EPOCHS, help="one-cycle length of the CIFAR-10 run (stops at 80 %%)"
    )
    p.add_argument("--cifar-max-seconds", type=float, default=200.0, help="stop the CIFAR-10 run after this long")
    p.add_argument("--bench-timeout", type=float, default=120.0, help="seconds for the semgame bench cell")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="measure nothing: join these results of one device (a later file's sections win) into --out",
    )
    args = p.parse_args(argv)
    if args.merge:
        result = merge(args.merge)
        md = markdown(result)  # (before writing: an input may be the file it replaces)
        path = write_json(Path(args.out) / f"{result['device_name']}.json", result)
        write_text(path.with_suffix(".md"), md)
        print(md)
        return path
    device = resolve_device(args.device)
    dev = str(device)
    args.env_sizes = [8] if args.tiny else [1024, 16384, 65536]
    args.sync_n = 8 if args.tiny else 64
    args.seconds, args.min_steps = (0.0, 2) if args.tiny else (1.0, 5)
    # (200 steps: at a few milliseconds per step on a GPU, 20 would time a window of only tens of milliseconds)
    args.train_steps, args.train_batch = (1, 4) if args.tiny else (200, 128)
    torch.set_num_threads(1)  # the CPU side (sync baseline, host work) as in every CPU figure of the README
    name = device_name(device)
    out = Path(args.out)
    result: dict[str, Any] = {
        "device": dev,
        "device_name": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "precision": args.precision,
        "precision_resolved": resolve_precision(args.precision, device),
        # what "fp32" means on CUDA: by default cuDNN runs float32 convolutions in TF32, matrix products not
        "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.get_float32_matmul_precision()},
        "tiny": args.tiny,
        "command": "bash benchmarks/gpu_check.sh " + " ".join(argv if argv is not None else sys.argv[1:]),
        "platform": platform.platform(),
        "sections": {},
        "seconds": 0.0,
    }
    start = time.perf_counter()

    def save() -> None:
        result["seconds"] = time.perf_counter() - start
        write_json(out / f"{name}.json", result)
        write_text(out / f"{name}.md", markdown(result))

    for section in args.sections:
        t0 = time.perf_counter()
        # filled in by the section as it measures and saved after each measurement: a section that fails,
        # or is stopped by gpu_check.sh's time limit (or killed), keeps the figures it had
        got: dict[str, Any] = {"status": "running"}
        result["sections"][section] = got
        try:
            RUNNERS[section](args, dev, got, save)
            if got["status"] == "running":
                errors = got.get("errors", [])
                got.update(
                    {"status": "failed", "error": f"{len(errors)} measurement(s) failed; first: {errors[0]}"}
                    if errors
                    else {"status": "done"}
                )
        except KeyboardInterrupt:  # gpu_check.sh's time limit: keep what was measured
            got.update(status="interrupted", reason="time limit", seconds=time.perf_counter() - t0)
            save()
            raise
        except Exception as err:  # a failing section must not cost the others their figures
            got.update(status="failed", error=one_line(err), traceback=traceback.format_exc()[-3000:])
            print(f"section {section} failed: {got['error']}", flush=True)
        got["seconds"] = time.perf_counter() - t0
        save()
    print((out / f"{name}.md").read_text())
    return out / f"{name}.json"


if __name__ == "__main__":
    main()
