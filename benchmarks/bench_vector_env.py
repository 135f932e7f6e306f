"""Benchmark the native batched vector env against Gymnasium's sync vector env, and its throughput.

    SEMGAME_DATA=/path/to/data python benchmarks/bench_vector_env.py --out reports/bench_vector_env

1. Native ``SemComVectorEnv`` (``make_vec(..., vectorization_mode="vector_entry_point")``) vs
   ``make_vec(..., vectorization_mode="sync")`` at N = 64 and N = 1024, same env config
   (eavesdropper role; MNIST, CIFAR-10 and, when shipped, the ``cifar10-spatial`` link), CPU, 1 torch
   thread: steps/s and the ratio. Two configs: the default (``compute_psnr=True``: the legitimate
   decoder runs every step for ``info["psnr"]``) and ``compute_psnr=False``.
   The native env is timed before and after the sync one (mean of the two), so a change of load
   during the run hits both sides alike.
   Episodes are one transmission long and autoreset is Gymnasium's default (next step) on both
   sides, so every second step restarts the episodes: a step here is not a transmission.
2. Transmissions/s played by the native env (:func:`transmissions_per_s`, timed in same-step
   autoreset mode, where a step plays one per sub-env) on CPU, 1 thread, MNIST and CIFAR-10 (the
   shipped default links, and the shipped ``cifar10-spatial`` alternative), both roles (the
   transmitter role also runs the opponent eavesdropper, ``--opponent`` to plug one in).
3. The same on CUDA when a GPU is available (``tensors=True``: no host copies), else "no GPU".

``--precision`` is the envs' ``precision`` (autocast of the legitimate receiver and the link's own
eavesdropper; ``auto`` is fp32 on a CPU without native bf16).

Writes ``bench_vector_env.md`` and ``bench_vector_env.json`` into ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import semgame  # noqa: F401  (registers SemCom-*-v0)
from semgame.envs import shipped_link
from semgame.io import write_json, write_text
from semgame.protocols import load_agent

IDS = {"mnist": "SemCom-MNIST-v0", "cifar10": "SemCom-CIFAR-v0"}


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":  # ("cuda:0" too)
        torch.cuda.synchronize()


def steps_per_cycle(venv: Any) -> int:
    """Steps after which the work of ``venv.step`` repeats, once warmed up.

    An episode of R rounds takes R + 1 steps in next-step autoreset mode (the last one only restarts
    it, and the step that ends it draws nothing) and R in same-step mode. A native env serves its
    look-ahead passes of ``lookahead`` transmissions per sub-env, one per episode round, so its work
    repeats every ``lookahead`` episodes; a sync env's every episode.
    """
    env = venv.unwrapped
    game = env.game if hasattr(env, "game") else env.envs[0].unwrapped.game
    next_step = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP) == AutoresetMode.NEXT_STEP
    return getattr(env, "lookahead", 1) * (game.rounds + 1 if next_step else game.rounds)


def time_steps(venv: Any, actions: Any, min_seconds: float, min_steps: int, device: str = "cpu") -> float:
    """Steps per second of ``venv.step(actions)``.

    Steps differ in cost: a native env draws transmissions ahead in passes (growing to full size
    after a reset), and in next-step mode a step that restarts episodes plays none. So the env is
    warmed up to full passes and timed over a whole number of :func:`steps_per_cycle`: any such
    window holds the same work, wherever it starts.
    """
    cycle = steps_per_cycle(venv)
    for _ in range(2 * cycle + 2):
        venv.step(actions)
    _sync(device)
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < min_seconds or steps % cycle:
        venv.step(actions)
        steps += 1
    _sync(device)
    return steps / (time.perf_counter() - start)


def actions_for(venv: Any, n: int, device: str = "cpu", tensors: bool = False) -> Any:
    space = venv.single_action_space
    if isinstance(space, gym.spaces.Discrete):
        a = np.arange(n) % space.n
    else:
        a = np.random.default_rng(0).uniform(-1, 1, (n, *space.shape)).astype(np.float32)
    return torch.as_tensor(a, device=device) if tensors else a


def native(
    dataset: str,
    n: int,
    role: str,
    psnr: bool,
    device: str = "cpu",
    opponent: Any = None,
    min_seconds: float = 2.0,
    min_steps: int = 5,
    **env_kw: Any,
) -> float:
    """Steps/s of the native vector env (``env_kw``: more env keywords, e.g. ``images=``, ``link=``)."""
    kw: dict[str, Any] = dict(role=role, compute_psnr=psnr, device=device, tensors=device != "cpu", **env_kw)
    if role == "transmitter" and opponent is not None:
        kw["eavesdropper"] = opponent
    venv = gym.make_vec(IDS[dataset], num_envs=n, vectorization_mode="vector_entry_point", **kw)
    venv.reset(seed=0)
    return time_steps(venv, actions_for(venv, n, device, kw["tensors"]), min_seconds, min_steps, device)


def transmissions_per_s(dataset: str, n: int, role: str, psnr: bool, **kw: Any) -> float:
    """Transmissions the native vector env plays per second (``kw`` as in :func:`native`).

    Timed in same-step autoreset mode, where every step plays one transmission per sub-env. In
    next-step mode (the default) a step that restarts episodes plays none: with the one-round
    episodes used here, every second step, so ``steps/s * n`` would count twice the transmissions.
    """
    return n * native(dataset, n, role, psnr, autoreset_mode="same_step", **kw)


def sync(dataset: str, n: int, psnr: bool, min_seconds: float, min_steps: int = 3, **env_kw: Any) -> float:
    """Steps/s of ``gymnasium.make_vec(..., vectorization_mode="sync")`` (CPU; ``env_kw`` as in :func:`native`)."""
    venv = gym.make_vec(IDS[dataset], num_envs=n, vectorization_mode="sync", compute_psnr=psnr, **env_kw)
    venv.reset(seed=0)
    return time_steps(venv, actions_for(venv, n), min_seconds, min_steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for bench_vector_env.md / .json")
    p.add_argument("--seconds", type=float, default=2.0, help="minimum timing window per measurement")
    p.add_argument(
        "--opponent",
        help="eavesdropper spec for the transmitter-role rows, e.g. agents/random_eavesdropper.py:RandomEavesdropper",
    )
    p.add_argument("--gpu-envs", type=int, default=65536, help="batch size of the GPU rows")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = p.parse_args()
    kw = dict(precision=args.precision)
    torch.set_num_threads(1)
    opponent = load_agent(args.opponent)() if args.opponent else None
    results: dict[str, Any] = {
        "platform": platform.platform(),
        "torch": torch.__version__,
        "threads": 1,
        "precision": args.precision,
        "cpu_vs_sync": [],
        "throughput": [],
    }
    links = {"mnist": ("mnist", None), "cifar10": ("cifar10", None)}
    if shipped_link("cifar10-spatial").is_file():
        links["cifar10 (spatial link)"] = ("cifar10", shipped_link("cifar10-spatial"))
    lines = [
        "## Native vector env vs gymnasium sync vector env (eavesdropper role, CPU, 1 thread)",
        "",
        "| dataset | N | compute_psnr | native steps/s | sync steps/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, (ds, link) in links.items():
        for psnr in (True, False):
            for n in (64, 1024):
                env_kw = dict(link=link, min_seconds=args.seconds, **kw)
                before = native(ds, n, "eavesdropper", psnr, **env_kw)
                syn = sync(ds, n, psnr, **env_kw)
                nat = (before + native(ds, n, "eavesdropper", psnr, **env_kw)) / 2
                row = {
                    "dataset": name,
                    "n": n,
                    "compute_psnr": psnr,
                    "native_steps_s": nat,
                    "sync_steps_s": syn,
                    "ratio": nat / syn,
                }
                results["cpu_vs_sync"].append(row)
                lines.append(f"| {name} | {n} | {psnr} | {nat:,.1f} | {syn:,.2f} | {nat / syn:,.1f}x |")
                print(lines[-1], flush=True)
    lines += [
        "",
        "## Transmissions/s of the native vector env",
        "",
        'Transmissions played per second, timed with `autoreset_mode="same_step"`, '
        "where every step plays one per sub-env.",
        "",
        "| device | dataset | role | N | compute_psnr | transmissions/s |",
        "|---|---|---|---|---|---|",
    ]
    configs = [
        ("cpu", name, role, 1024, psnr)
        for name in links
        for role in ("eavesdropper", "transmitter")
        for psnr in (True, False)
    ]
    if torch.cuda.is_available():
        configs += [
            ("cuda", name, role, args.gpu_envs, psnr)
            for name in links
            for role in ("eavesdropper", "transmitter")
            for psnr in (True, False)
        ]
        results["gpu"] = torch.cuda.get_device_name(0)
    else:
        results["gpu"] = None
    for device, name, role, n, psnr in configs:
        ds, link = links[name]
        tps = transmissions_per_s(
            ds, n, role, psnr, device=device, opponent=opponent, min_seconds=args.seconds, link=link, **kw
        )
        results["throughput"].append(
            {"device": device, "dataset": name, "role": role, "n": n, "compute_psnr": psnr, "transmissions_s": tps}
        )
        lines.append(f"| {device} | {name} | {role} | {n} | {psnr} | {tps:,.0f} |")
        print(lines[-1], flush=True)
    if results["gpu"] is None:
        lines += ["", "GPU: no GPU (torch.cuda.is_available() is False)"]
        print("no GPU")
    else:
        lines += ["", f"GPU: {results['gpu']}"]
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "bench_vector_env.md", "\n".join(lines) + "\n")
    write_json(args.out / "bench_vector_env.json", results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
