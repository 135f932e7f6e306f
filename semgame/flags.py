"""Command-line flags for config dataclasses, shared by every ``semgame`` sub-command.

:func:`add_config_flags` gives a parser ``--config FILE.toml`` and one ``--field-name`` flag per
field of a config dataclass (:class:`~semgame.config.LinkConfig` by default); :func:`config_from_args`
merges the TOML file with the flags that were given (flags win) and validates the result.
Nothing here imports torch (the parser must stay fast).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semgame.config import LinkConfig, from_dict, load_config_file

__all__ = ["add_config_flags", "config_from_args", "parse_pair"]


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def parse_pair(text: str) -> list[float]:
    """``"LO,HI"`` -> ``[lo, hi]``: the argparse type of range flags such as ``--train-snr-db 0,20``."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (e.g. 0,20), got {text!r}") from None
    return [lo, hi]


def _flag_type(annotation: str) -> Callable[[str], Any]:
    """Parser for a dataclass field annotation (a string, as ``from __future__ import annotations`` leaves it)."""
    base = annotation.replace(" | None", "")
    return {"int": int, "float": float, "str": str, "bool": _parse_bool, "tuple[float, float]": parse_pair}[base]


def add_config_flags(parser: argparse.ArgumentParser, cls: type = LinkConfig) -> None:
    """Add ``--config`` and one ``--field-name`` flag per dataclass field (default: unset)."""
    parser.add_argument("--config", type=Path, help="TOML file with config keys (flags override it)")
    group = parser.add_argument_group("config keys (also valid in the TOML file)")
    for f in dataclasses.fields(cls):
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_flag_type(str(f.type)),
            default=None,
            metavar=f.name.upper(),
            help=f"default: {f.default!r}",
        )


def config_from_args(args: argparse.Namespace, cls: type = LinkConfig) -> Any:
    """Merge the TOML file (if any) with the flags that were given, and validate."""
    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    for f in dataclasses.fields(cls):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    return from_dict(values, cls)
