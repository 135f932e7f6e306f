"""Command-line pieces of the privacy game, plugged into :mod:`semgame.cli`.

* ``semgame eval --fresh-eavesdroppers K [--defence keyed --psr-db 10 --key 1234 |
  --defence rotation --key 1234]`` — honest leakage evaluation of a run folder (plain or min-max):
  K eavesdroppers trained from scratch. The defence is built from a config by
  :func:`semgame.privacy.defences.build_defence`, as in the game envs.
* ``semgame minmax --run-dir D [--init RUN] --lambda 1 --objective kl_uniform ...`` — min-max training.
* ``semgame reproduce --dataset mnist --profile quick --out reports/mnist`` — the main job.

Nothing here imports torch at module level (the parser must stay fast).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from semgame.config import ConfigError, check_int
from semgame.flags import add_config_flags
from semgame.privacy.keystream import cli_key

__all__ = ["add_eval_flags", "check_eval_flags", "cmd_eval_fresh", "register"]

_FRESH_EPOCHS = 5
"""Training epochs of each fresh eavesdropper unless ``--fresh-epochs`` says otherwise."""
_MINMAX_FLAGS = (
    ("lambda_", "--lambda", float),
    ("objective", "--objective", str),
    ("eve_steps", "--eve-steps", int),
    ("legit_steps", "--legit-steps", int),
    ("rounds", "--rounds", int),
    ("pretrain_epochs", "--pretrain-epochs", int),
    ("eve_pretrain_epochs", "--eve-pretrain-epochs", int),
    ("eve_lr", "--eve-lr", float),
    ("gate_snr_db", "--gate-snr-db", float),
    ("eve_snr_spread_db", "--eve-snr-spread-db", float),
)


def add_eval_flags(ev: argparse.ArgumentParser) -> None:
    """Flags of ``semgame eval`` for the fresh-eavesdropper evaluation."""
    g = ev.add_argument_group("honest leakage evaluation (issue #4)")
    g.add_argument(
        "--fresh-eavesdroppers",
        type=int,
        metavar="K",
        help="train K eavesdroppers from scratch on the (defended) transmissions and report mean/std/max",
    )
    g.add_argument(
        "--fresh-epochs", type=int, help=f"training epochs of each fresh eavesdropper (default {_FRESH_EPOCHS})"
    )
    g.add_argument(
        "--train-limit",
        type=int,
        help="recorded training transmissions for the fresh eavesdroppers (default: the run's)",
    )
    g.add_argument(
        "--defence",
        choices=("none", "keyed", "rotation", "adversarial"),
        help="defence applied on top of the run's link (default none; rotation: keyed unitary x -> U_n x, no power "
        "cost; adversarial: PGD per-sample cooperative against the run's own eavesdropper)",
    )
    g.add_argument("--psr-db", type=float, help="perturbation budget of the defence (dB)")
    g.add_argument(
        "--key",
        type=cli_key,
        help="secret of the keyed defences (keyed, rotation); an integer such as 1234 or 0x5EC2E7 is the integer key, "
        "as 'key = 1234' in a config file, anything else a string",
    )
    g.add_argument(
        "--power", choices=("add", "fixed"), help="keyed, adversarial: renormalise total power or not (default add)"
    )


_FRESH_ONLY_FLAGS = ("fresh_epochs", "train_limit", "defence", "psr_db", "key", "power")
"""Flags of ``semgame eval`` that only the fresh-eavesdropper evaluation reads."""


def check_eval_flags(args: argparse.Namespace) -> None:
    """Refuse fresh-eavesdropper flags without ``--fresh-eavesdroppers`` (plain ``semgame eval`` would ignore them)."""
    if args.fresh_eavesdroppers is None:
        given = [name for name in _FRESH_ONLY_FLAGS if getattr(args, name) is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ConfigError(f"{flags} only apply with --fresh-eavesdroppers K")


def cmd_eval_fresh(args: argparse.Namespace) -> int:
    """``semgame eval --fresh-eavesdroppers K``."""
    import torch

    from semgame.loader import is_minmax_run, load_run
    from semgame.privacy.defences import DefenceContext, NoDefence, build_defence, check_defence_config, encode
    from semgame.privacy.leakage import check_k, leakage_report, new_eavesdropper
    from semgame.run import load_data
    from semgame.seeds import UNDEFENDED_EVE, eve_seed
    from semgame.training import fit_eavesdropper, resolve_device

    check_k(args.fresh_eavesdroppers)
    epochs = _FRESH_EPOCHS if args.fresh_epochs is None else args.fresh_epochs
    check_int("fresh-epochs", epochs)
    kind = args.defence or "none"
    spec: dict[str, Any] = {"kind": kind}
    if kind == "none":
        if args.psr_db is not None or args.key is not None or args.power is not None:
            raise ConfigError("--psr-db/--key/--power need --defence keyed, rotation or adversarial")
    elif kind == "rotation":
        if args.psr_db is not None or args.power is not None:
            raise ConfigError("--defence rotation has no PSR budget (it costs no power); drop --psr-db/--power")
        if args.key is None:
            raise ConfigError("--defence rotation needs --key")
        spec["key"] = args.key
    else:
        if args.psr_db is None:
            raise ConfigError(f"--defence {kind} needs --psr-db")
        spec.update(psr_db=args.psr_db, power=args.power or "add")
        if kind == "keyed":
            spec["key"] = args.key
        elif args.key is not None:
            raise ConfigError("--key applies to --defence keyed")
    check_defence_config(spec)  # before anything is loaded
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    cfg, link, eve = load_run(args.run_dir, device=device)
    if kind == "rotation":
        from semgame.privacy.rotation import check_rotation_channel

        check_rotation_channel(fading=cfg.fading, block=cfg.block, csi=cfg.csi, equalizer=cfg.equalizer)
    link.requires_grad_(False)
    changes = {
        k: v
        for k, v in (("data_root", args.data_root), ("test_limit", args.test_limit), ("train_limit", args.train_limit))
        if v is not None
    }
    if changes:
        cfg = cfg.replace(**changes)
    snr = cfg.eve_snr if args.eve_snr_db is None else args.eve_snr_db
    if args.snr_db is not None:
        cfg = cfg.replace(snr_db=args.snr_db)
        link.channel.awgn.snr_db = args.snr_db
    train, test = load_data(cfg)
    tr, te = encode(link, train), encode(link, test)
    ctx = DefenceContext(link=link, surrogate=eve, fit_data=lambda: (tr.x, tr.labels), seed=cfg.seed)
    defence = build_defence(spec, ctx)
    und = new_eavesdropper(cfg, snr, eve_seed(cfg.seed, UNDEFENDED_EVE), device)
    fit_eavesdropper(
        und,
        lambda a, b: a,
        torch.utils.data.TensorDataset(tr.x, tr.labels),
        epochs=epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=eve_seed(cfg.seed, UNDEFENDED_EVE),
        device=device,
    )
    from semgame.privacy.leakage import defend, legit_metrics

    tx, nonces = defend(NoDefence(), te)
    undefended = legit_metrics(link, NoDefence(), te, tx, nonces, seed=cfg.seed)["legit_acc"]
    row = leakage_report(
        link,
        cfg,
        defence,
        tr,
        te,
        k=args.fresh_eavesdroppers,
        epochs=epochs,
        eve_snr_db=snr,
        in_loop_eve=eve,
        undefended_eve=und,
        undefended_legit_acc=undefended,
        seed=cfg.seed,
    )
    row["run_dir"] = str(args.run_dir)
    if is_minmax_run(args.run_dir):
        row["in_loop_eve_note"] = "the run's own eavesdropper (co-trained in a min-max run)"
    elif cfg.eve_epochs:
        row["in_loop_eve_note"] = "the run's own eavesdropper (trained against the frozen link by semgame train)"
    else:
        row["in_loop_eve_note"] = "the run's own eavesdropper, untrained (the run had eve_epochs = 0)"
    print(json.dumps(row, indent=2))
    if args.output:
        from semgame.io import write_json

        write_json(args.output, row)
    return 0


def _cmd_minmax(args: argparse.Namespace) -> int:
    import dataclasses

    from semgame.config import LinkConfig, from_dict, load_config_file
    from semgame.loader import run_config
    from semgame.privacy.minmax import INIT_SHAPE_KEYS, load_minmax_config, minmax_run

    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    mm_values = values.pop("minmax", {})
    if not isinstance(mm_values, dict):
        raise ConfigError("the [minmax] entry of the config file must be a table")
    for f in dataclasses.fields(LinkConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    if args.init is not None:  # the link's shape is the init run's unless a flag or the file sets it
        init = run_config(args.init)
        for key in INIT_SHAPE_KEYS:
            values.setdefault(key, getattr(init, key))
    cfg = from_dict(values, LinkConfig)
    flags = {field: getattr(args, "mm_" + field) for field, _, _ in _MINMAX_FLAGS}
    mm = load_minmax_config(mm_values, {field: v for field, v in flags.items() if v is not None})
    metrics = minmax_run(cfg, mm, args.run_dir, init=args.init, quiet=args.quiet)
    print(json.dumps(metrics["test"], indent=2))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from semgame.privacy.lab import get_profile
    from semgame.privacy.reproduce import reproduce

    get_profile(args.dataset, args.profile)
    path = reproduce(
        args.dataset,
        args.profile,
        args.out,
        seed=args.seed,
        data_root=args.data_root,
        device=args.device,
        quiet=args.quiet,
    )
    print(path.read_text())
    return 0


def register(sub: Any) -> None:
    """Add ``minmax`` and ``reproduce`` to the ``semgame`` sub-command parser."""
    mm = sub.add_parser("minmax", help="min-max training of a link against an in-loop eavesdropper (issue #4)")
    mm.add_argument("--run-dir", type=Path, required=True, help="output folder (resumed if it holds a checkpoint)")
    mm.add_argument("--init", type=Path, help="start from this trained run folder (skips link pre-training)")
    mm.add_argument("--quiet", action="store_true")
    g = mm.add_argument_group("game settings (also a [minmax] table in the TOML file)")
    for field, flag, typ in _MINMAX_FLAGS:
        g.add_argument(flag, dest="mm_" + field, type=typ, default=None)
    add_config_flags(mm)
    mm.set_defaults(handler=_cmd_minmax)

    rp = sub.add_parser(
        "reproduce", help="the main job: train -> min-max -> perturbations -> fresh eavesdroppers -> report"
    )
    rp.add_argument("--dataset", default="mnist", help="mnist or cifar10")
    rp.add_argument("--profile", default="quick", help="quick (CPU, minutes) or full (GPU)")
    rp.add_argument("--out", type=Path, default=None, help="report folder (default reports/<dataset>)")
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--data-root", help="data folder (default $SEMGAME_DATA)")
    rp.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    rp.add_argument("--quiet", action="store_true")
    rp.set_defaults(handler=_cmd_reproduce_default)


def _cmd_reproduce_default(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = Path("reports") / args.dataset
    return _cmd_reproduce(args)
