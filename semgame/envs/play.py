"""``semgame play``: pit a plug-in agent against a game env and report its score.

    semgame play --env SemCom-MNIST-v0 --agent agents/random_eavesdropper.py:RandomEavesdropper
    semgame play --env SemCom-MNIST-v0 --role transmitter --agent my_defence.py:Defence \\
        --opponent agents/majority_eavesdropper.py:MajorityEavesdropper --psr-db -10

Agents are built from ``package.module:Class`` or ``path/to/file.py:Class`` specs
(:func:`semgame.protocols.make_agent`), given the command's ``--seed`` and ``--device`` where their
constructor names ``seed`` and ``device``, and act on batches from the native vector env. Prints JSON:
mean reward, legitimate accuracy, mean PSNR and (transmitter role) the eavesdropper's accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_play_parser", "play"]


def play(
    env_id: str,
    agent: Any,
    *,
    role: str = "eavesdropper",
    episodes: int = 1000,
    num_envs: int = 256,
    seed: int = 0,
    learn: bool = False,
    **env_kwargs: Any,
) -> dict[str, float]:
    """Play ``episodes`` episodes (rounded up to whole batches of ``num_envs``) and average the outcome.

    ``learn=True`` (eavesdropper role): after every step the agent's ``update(obs, labels)`` learns from
    the transmissions it just intercepted, outside the env (an agent that learns from labels).
    """
    import gymnasium as gym

    from semgame.config import MAX_SEED, check_int

    check_int("episodes", episodes)
    check_int("num_envs", num_envs)
    check_int("seed", seed, low=0, high=MAX_SEED)
    venv = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        role=role,
        autoreset_mode="same_step",
        **env_kwargs,
    )
    obs, _ = venv.reset(seed=seed)
    sums = {"reward": 0.0, "legit_acc": 0.0, "psnr": 0.0, "eve_acc": 0.0}
    transmissions = finished = 0
    update = getattr(agent, "update", None) if learn and role == "eavesdropper" else None
    while finished < episodes:
        last = obs
        obs, rew, term, trunc, info = venv.step(agent.act(obs))
        if update is not None:
            update(last, _played(info, "label"))
        sums["reward"] += float(rew.sum())
        sums["legit_acc"] += float(_played(info, "legit_correct").sum())
        sums["psnr"] += float(_played(info, "psnr").sum()) if venv.game.compute_psnr else 0.0
        sums["eve_acc"] += float(_played(info, "eve_correct").sum()) if role == "transmitter" else float(rew.sum())
        transmissions += num_envs
        finished += int((term | trunc).sum())
    out: dict[str, Any] = {k: v / transmissions for k, v in sums.items()}
    if not venv.game.compute_psnr:
        out["psnr"] = None
    out.update(
        env=env_id,
        role=role,
        episodes=finished,
        transmissions=transmissions,
        rounds=venv.game.rounds,
        psr_db=venv.game.psr_db,
    )
    return out


def _played(info: dict[str, Any], key: str) -> Any:
    """``info[key]`` of the transmission every sub-env just played (same-step autoreset: a sub-env whose
    episode ended reports it in ``final_info``, as Gymnasium's vector envs do)."""
    import numpy as np

    if "final_info" not in info:
        return info[key]
    if key not in info:  # every episode ended
        return info["final_info"][key]
    return np.where(info["_final_info"], info["final_info"][key], info[key])


def _cmd_play(args: argparse.Namespace) -> int:
    import torch

    from semgame.config import MAX_THREADS, ConfigError, check_int
    from semgame.io import check_output_file
    from semgame.protocols import AgentSpecError, Eavesdropper, Transmitter, make_agent

    check_int("threads", args.threads, high=MAX_THREADS)
    check_output_file(args.output)
    torch.set_num_threads(args.threads)
    try:
        protocol = Eavesdropper if args.role == "eavesdropper" else Transmitter
        context = {"seed": args.seed, "device": args.device}  # (for constructors that name them)
        agent = make_agent(args.agent, protocol, context)
        kw: dict[str, Any] = {
            "rounds": args.rounds,
            "split": args.split,
            "device": args.device,
            "psr_db": args.psr_db,
            "compute_psnr": not args.no_psnr,
        }
        for key in ("snr_db", "eve_snr_db", "link", "data_root"):
            if getattr(args, key) is not None:
                kw[key] = str(getattr(args, key)) if key == "link" else getattr(args, key)
        if args.opponent:
            if args.role != "transmitter":
                raise ConfigError("--opponent is the eavesdropper facing --role transmitter")
            kw["eavesdropper"] = make_agent(args.opponent, Eavesdropper, context)
        result = play(
            args.env, agent, role=args.role, episodes=args.episodes, num_envs=args.num_envs, seed=args.seed, **kw
        )
    except (AgentSpecError, ValueError, TypeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(str(err)) from None
    except Exception as err:  # gymnasium's registry errors (unknown id)
        if type(err).__module__.startswith("gymnasium"):
            raise ConfigError(str(err)) from None
        raise
    print(json.dumps(result, indent=2))
    if args.output:
        from semgame.io import write_json

        write_json(args.output, result)
    return 0


def add_play_parser(sub: Any) -> None:
    """Add the ``play`` subcommand to the ``semgame`` subparsers."""
    p = sub.add_parser("play", help="play a plug-in agent in a SemCom-*-v0 game env and print its score")
    p.add_argument("--env", default="SemCom-MNIST-v0", help="registered env id (default SemCom-MNIST-v0)")
    p.add_argument("--role", default="eavesdropper", choices=("eavesdropper", "transmitter"))
    p.add_argument("--agent", required=True, help="'package.module:Class' or 'path/to/file.py:Class' playing --role")
    p.add_argument("--opponent", help="eavesdropper spec facing --role transmitter (default: the link's eavesdropper)")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=1, help="transmissions per episode")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--snr-db", type=float)
    p.add_argument("--eve-snr-db", type=float)
    p.add_argument("--psr-db", type=float, default=-10.0, help="transmitter perturbation budget (dB)")
    p.add_argument("--link", type=Path, help="model.pt or run folder (default: shipped weights)")
    p.add_argument("--data-root", help="data folder (default $SEMGAME_DATA)")
    p.add_argument("--no-psnr", action="store_true", help="skip the legitimate decoder (faster)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, help="also write the result to this JSON file")
    p.set_defaults(handler=_cmd_play)
