"""The ``semgame`` command line.

* ``semgame train`` / ``semgame eval`` — a link and its eavesdropper (this module);
* ``semgame eval --fresh-eavesdroppers K``, ``semgame minmax``, ``semgame reproduce`` — the privacy
  game (:mod:`semgame.privacy.cli`);
* ``semgame play`` — a plug-in agent against a game env (:mod:`semgame.envs.play`).

Configuration comes from a TOML file (``--config``) and from flags, one per
:class:`~semgame.config.LinkConfig` field; flags win. Errors in input (unknown key, bad value or
flag, missing data or checkpoint, run folder in use, unwritable output: :mod:`semgame.errors`)
print one line ``semgame: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from semgame.bench.cli import register as register_bench
from semgame.config import MAX_THREADS, PRECISIONS, check_int, check_snr
from semgame.envs.play import add_play_parser
from semgame.flags import add_config_flags, config_from_args
from semgame.privacy.cli import add_eval_flags, check_eval_flags
from semgame.privacy.cli import register as register_privacy

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line, like every other semgame error.

    A value that starts like a negative number (``--train-snr-db -5,10``, ``-1e-3``) is a value, not an
    unknown option: Python 3.13's argparse rule, which 3.11's narrower pattern (``-5``, ``-.5`` only) lacks.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"-\.?\d")  # (sub-parsers are built with this class)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"semgame: error: {message} (see: {self.prog} --help)\n")


def _cmd_train(args: argparse.Namespace) -> int:
    from semgame.run import train_run

    cfg = config_from_args(args)
    metrics = train_run(cfg, args.run_dir, quiet=args.quiet)
    print(json.dumps(metrics["test"], indent=2))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from semgame.io import check_output_file
    from semgame.loader import load_run
    from semgame.run import load_split
    from semgame.training import evaluate, resolve_device

    for name in ("snr_db", "eve_snr_db"):
        if getattr(args, name) is not None:
            check_snr(name, getattr(args, name))
    check_int("threads", args.threads, high=MAX_THREADS)
    check_eval_flags(args)
    check_output_file(args.output)
    if args.fresh_eavesdroppers is not None:
        from semgame.privacy.cli import cmd_eval_fresh

        return cmd_eval_fresh(args)
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    cfg, link, eve = load_run(args.run_dir, device=device)
    if args.data_root is not None or args.test_limit is not None:
        cfg = cfg.replace(
            **{k: v for k, v in (("data_root", args.data_root), ("test_limit", args.test_limit)) if v is not None}
        )
    test = load_split(cfg, "test")  # (the test split is all it needs)
    result = evaluate(
        link,
        test,
        device=device,
        eve=eve,
        snr_db=args.snr_db,
        eve_snr_db=args.eve_snr_db,
        seed=cfg.seed,
        precision=args.precision,
    )
    result.update(
        snr_db=args.snr_db if args.snr_db is not None else cfg.snr_db,
        eve_snr_db=args.eve_snr_db if args.eve_snr_db is not None else cfg.eve_snr,
    )
    print(json.dumps(result, indent=2))
    if args.output:
        from semgame.io import write_json

        write_json(args.output, result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full ``semgame`` argument parser."""
    from semgame import __version__

    parser = _Parser(prog="semgame", description="Privacy-preserving semantic communications as an adversarial game.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a semantic link and an eavesdropper into a run folder")
    train.add_argument("--run-dir", type=Path, required=True, help="output folder (resumed if it holds a checkpoint)")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    add_config_flags(train)
    train.set_defaults(handler=_cmd_train)

    ev = sub.add_parser("eval", help="evaluate a trained run folder at any SNR")
    ev.add_argument("--run-dir", type=Path, required=True, help="run folder or checkpoint file")
    ev.add_argument("--snr-db", type=float, help="legitimate SNR (default: the run's)")
    ev.add_argument("--eve-snr-db", type=float, help="eavesdropper SNR (default: the run's)")
    ev.add_argument("--data-root", help="data folder (default: the run's, then $SEMGAME_DATA)")
    ev.add_argument("--test-limit", type=int, help="evaluate on a seeded subset of this size")
    ev.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ev.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for small models)")
    ev.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="bf16 autocast of the neural blocks, or fp32; auto: bf16 where the device computes it natively",
    )
    ev.add_argument("--output", type=Path, help="also write the metrics to this JSON file")
    add_eval_flags(ev)
    ev.set_defaults(handler=_cmd_eval)
    register_privacy(sub)
    add_play_parser(sub)
    register_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``semgame`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from semgame.errors import USER_ERRORS

    try:
        return args.handler(args)
    except USER_ERRORS as err:
        parser.exit(2, "semgame: error: " + " ".join(str(err).splitlines()) + "\n")
    except KeyboardInterrupt:
        parser.exit(130, "semgame: interrupted; rerun the same command to resume from the last checkpoint\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
