"""Where the time of one native vector env step goes (eavesdropper role, CPU, 1 thread).

    SEMGAME_DATA=../shared/data python benchmarks/profile_env_step.py --out reports/profile-env-step

For MNIST (the shipped link) it times, each as the mean over ``--seconds`` of repeats:

* a native env step at N = ``--envs`` (default 1024) without PSNR (the mean over steps: episodes
  are one transmission long, so every second step restarts them and draws the next transmissions),
  and one look-ahead pass (:meth:`~semgame.envs.game.SemComGame.eavesdropper_round`) per step that
  draws;
* the parts of that pass: both channels, the legitimate classifier alone, and a bare matmul of the
  classifier's hidden-layer shape (its GFLOP/s: what this core does at best);
* a single env step (Gymnasium's sync baseline runs N of them), without and with PSNR;
* the legitimate decoder per image, in chunks of 64 (the native env) and alone (the single env).

Each figure is the median of ``--repeats`` rounds that time every part in turn, so a change of
load hits all parts alike. These are the figures behind README section 3's explanation of the
N = 1024 ratios. Writes
``profile_env_step.{md,json}`` into ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

import semgame  # noqa: F401  (registers SemCom-*-v0)
from semgame.envs import SemComVectorEnv
from semgame.io import write_json, write_text


def seconds_per_call(f: Callable[[], Any], seconds: float) -> float:
    """Mean wall time of ``f()`` over at least ``seconds`` (after one warm-up call)."""
    f()
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        f()
        calls += 1
    return (time.perf_counter() - start) / calls


@torch.no_grad()
def profile(envs: int, seconds: float, env_kw: dict[str, Any]) -> dict[str, float]:
    """The timings (ms) of the module docstring, and the matmul's GFLOP/s."""
    venv = SemComVectorEnv(envs, "mnist", compute_psnr=False, **env_kw)
    venv.reset(seed=0)
    game, gen = venv.game, torch.Generator().manual_seed(0)
    actions = (torch.arange(envs) % game.num_classes).numpy()
    rows = venv.lookahead * envs
    x, _ = game.transmit(game.draw(rows, gen))
    y = game.both_channels(x, x, gen)[0]
    classifier, decoder = game.link.receiver.classifier, game.link.receiver.decoder
    hidden = [m for m in classifier.modules() if isinstance(m, torch.nn.Linear)][1]  # 256 x 256
    a, w = torch.randn(rows, hidden.in_features), torch.randn(hidden.in_features, hidden.out_features)
    matmul = seconds_per_call(lambda: a @ w, seconds)
    single = {
        psnr: gym.make("SemCom-MNIST-v0", compute_psnr=psnr, disable_env_checker=True, **env_kw) for psnr in (0, 1)
    }
    for env in single.values():
        env.reset(seed=0)
    ms = 1e3
    return {
        "native_step_ms": ms * seconds_per_call(lambda: venv.step(actions), seconds),
        "pass_per_step_ms": ms * seconds_per_call(lambda: game.eavesdropper_round(rows, gen), seconds) / venv.lookahead,
        "channels_ms": ms * seconds_per_call(lambda: game.both_channels(x, x, gen), seconds),
        "classifier_ms": ms * seconds_per_call(lambda: classifier(y), seconds),
        "matmul_ms": ms * matmul,
        "matmul_gflops": 2 * rows * hidden.in_features * hidden.out_features / matmul / 1e9,
        "single_step_ms": ms * seconds_per_call(lambda: _step(single[0]), seconds),
        "single_step_psnr_ms": ms * seconds_per_call(lambda: _step(single[1]), seconds),
        "decoder_chunk64_ms_per_image": ms * seconds_per_call(lambda: decoder(y[:64]), seconds) / 64,
        "decoder_alone_ms_per_image": ms * seconds_per_call(lambda: decoder(y[:1]), seconds),
        "rows_per_pass": rows,
    }


def _step(env: gym.Env) -> None:
    _, _, term, trunc, _ = env.step(0)
    if term or trunc:
        env.reset()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run it (command-line ``argv``); returns what it writes to ``profile_env_step.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--envs", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=1.0, help="minimum timing window per figure and round")
    p.add_argument("--repeats", type=int, default=3, help="rounds; each figure is their median")
    args = p.parse_args(argv)
    if args.envs < 1 or args.repeats < 1 or not args.seconds > 0:
        p.error(
            f"--envs and --repeats must be >= 1 and --seconds > 0, got {args.envs}, {args.repeats} and {args.seconds}"
        )
    return run(args, {})


def run(args: argparse.Namespace, env_kw: dict[str, Any]) -> dict[str, Any]:
    """Profile, write the report, print it; ``env_kw``: more env keywords (tests pass ``images=``)."""
    torch.set_num_threads(1)
    rounds = [profile(args.envs, args.seconds, env_kw) for _ in range(args.repeats)]
    t = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    n = args.envs
    text = "\n".join(
        [
            f"MNIST shipped link, eavesdropper role, N = {n}, no PSNR unless said; {platform.machine()} CPU, "
            f"1 torch thread, torch {torch.__version__}; each figure the median of {args.repeats} rounds, "
            f"each a mean over >= {args.seconds:g} s.",
            "",
            "| what | ms |",
            "|---|---|",
            f"| native step (N = {n}) | {t['native_step_ms']:.3f} |",
            f"| look-ahead pass, per step that draws ({t['rows_per_pass']} transmissions a pass) "
            f"| {t['pass_per_step_ms']:.3f} |",
            f"| both channels on {t['rows_per_pass']} transmissions | {t['channels_ms']:.3f} |",
            f"| legitimate classifier on {t['rows_per_pass']} waveforms | {t['classifier_ms']:.3f} |",
            f"| bare matmul of its hidden layer's shape ({t['matmul_gflops']:.1f} GFLOP/s) | {t['matmul_ms']:.3f} |",
            f"| single env step (the sync baseline runs N of them) | {t['single_step_ms']:.3f} |",
            f"| single env step with PSNR | {t['single_step_psnr_ms']:.3f} |",
            f"| decoder per image, chunks of 64 | {t['decoder_chunk64_ms_per_image']:.3f} |",
            f"| decoder, one image alone | {t['decoder_alone_ms_per_image']:.3f} |",
        ]
    )
    result = {"envs": n, "seconds": args.seconds, "repeats": args.repeats, "threads": 1, **t}
    result["platform"] = platform.platform()
    write_text(args.out / "profile_env_step.md", text + "\n")
    write_json(args.out / "profile_env_step.json", result)
    print(text)
    return result


if __name__ == "__main__":
    main()
