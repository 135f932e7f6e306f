"""The ``semgame bench`` config: the grid, the budgets, the defences, the agents and the games (TOML).

Example (``benchmarks/configs/mnist-quick.toml`` is the full quick profile)::

    datasets = ["mnist"]            # grid axes
    eve_snr_db = [10.0]
    seeds = [0, 1, 2]
    transmissions = 65536           # intercepted transmissions per eavesdropper cell
    eval_every = 2048               # M: evaluate on the held-out set every M transmissions,
    eval_first = 256                # and after 256, 512, 1024 (early points for log-x plots)
    eval_size = 5000                # held-out defended test transmissions
    num_envs = 256                  # transmissions per env step

    [[defences]]
    name = "keyed+10dB"
    kind = "keyed"                  # any defence config of semgame.privacy.defences
    psr_db = 10.0

    [[defences]]
    name = "ppo-tx-0dB"             # a learned transmitter: trained first, then attacked
    kind = "policy"
    agent = "agents/sb3_transmitter.py:PPOTransmitter"
    psr_db = 0.0
    train_transmissions = 65536

    [[agents]]
    name = "supervised"
    agent = "agents/neural_eavesdropper.py:NeuralSupervisedEavesdropper"
    reference = true                # the 50 % / 90 % columns are relative to its final accuracy

    [[games]]                       # alternating play
    name = "ppo-vs-ppo"
    transmitter = "agents/sb3_transmitter.py:PPOTransmitter"
    eavesdropper = "agents/sb3_eavesdropper.py:PPOEavesdropper"
    psr_db = 0.0
    rounds = 3

Besides its defence keys a ``[[defences]]`` entry may carry ``link`` (a min-max-trained link: the link
*is* the defence) and, for ``kind = "policy"``, ``train_transmissions`` (learn the policy against the
link's eavesdropper before judging it). File specs (``path/to/file.py:Class``) and ``link`` paths are
resolved against the current directory, then against the repository the config lives in (two folders
above it). Everything is validated by :func:`load_bench_config` before any cell starts, with the ranges
the cells enforce (eve SNRs within :data:`~semgame.channels.SNR_DB_RANGE`, seeds up to
:data:`~semgame.config.MAX_SEED`, a learning transmitter's ``psr_db`` within the env's PSR range; boolean
keys are TOML booleans): one-line :class:`~semgame.config.ConfigError` otherwise. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semgame.config import ConfigError, load_config_file

__all__ = ["AgentSpec", "BenchConfig", "DefenceSpec", "GameSpec", "bench_config", "load_bench_config"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")
_BUDGETS = (
    "transmissions",
    "eval_every",
    "eval_first",
    "eval_size",
    "num_envs",
    "fresh_k",
    "fresh_epochs",
    "fresh_limit",
)
_TOP = {*_BUDGETS, "datasets", "eve_snr_db", "seeds", "links", "data_root", "defences", "agents", "games"}
_AGENT_KEYS = {"name", "agent", "args", "reference"}
TRANSMITTER_RUN, FRESH_RUN = "transmitter", "fresh"
"""The agent part of a defence cell's TensorBoard run names (:func:`semgame.bench.cells.run_name`): its learned
transmitter's and its fresh eavesdroppers'. An agent of either name would share, and on storing its cell
delete, the defence cell's runs, so these names are reserved."""
_GAME_KEYS = {
    "name",
    "transmitter",
    "eavesdropper",
    "transmitter_args",
    "eavesdropper_args",
    "psr_db",
    "rounds",
    "eve_transmissions",
    "tx_transmissions",
}


@dataclass(frozen=True)
class AgentSpec:
    """An eavesdropper agent of the grid: ``name``, ``agent`` spec, constructor ``args``, ``reference``."""

    name: str
    agent: str
    args: dict = field(default_factory=dict)
    reference: bool = False


@dataclass(frozen=True)
class DefenceSpec:
    """A defence of the grid: its ``name``, the defence ``config`` (for
    :func:`~semgame.privacy.defences.build_defence`), an optional ``link`` and ``train_transmissions``."""

    name: str
    config: dict
    link: str | None = None
    train_transmissions: int | None = None

    @property
    def learned(self) -> bool:
        return self.train_transmissions is not None


@dataclass(frozen=True)
class GameSpec:
    """An alternating game: ``transmitter`` (a learning Transmitter spec, or an adversarial defence config
    re-crafted each round against the current eavesdropper), ``eavesdropper`` spec, budgets per round."""

    name: str
    transmitter: str | dict
    eavesdropper: str
    psr_db: float = 0.0
    rounds: int = 3
    eve_transmissions: int = 16384
    tx_transmissions: int = 16384
    transmitter_args: dict = field(default_factory=dict)
    eavesdropper_args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BenchConfig:
    """A validated bench config (see the module docstring)."""

    datasets: tuple[str, ...]
    eve_snr_db: tuple[float, ...]
    seeds: tuple[int, ...]
    defences: tuple[DefenceSpec, ...]
    agents: tuple[AgentSpec, ...]
    games: tuple[GameSpec, ...] = ()
    transmissions: int = 65536
    eval_every: int = 2048
    eval_first: int | None = None  # eavesdropper cells also evaluate after eval_first * 2^i < eval_every transmissions
    eval_size: int = 5000
    num_envs: int = 256
    fresh_k: int = 3  # 0: no fresh-eavesdropper verdicts (defence cells only train learned transmitters)
    fresh_epochs: int = 3
    fresh_limit: int = 20000
    links: dict = field(default_factory=dict)
    data_root: str | None = None

    @property
    def reference(self) -> AgentSpec | None:
        """The reference (supervised) eavesdropper of the 50 % / 90 % columns, if any."""
        return next((a for a in self.agents if a.reference), None)

    def select(
        self,
        *,
        agents: tuple[str, ...] | None = None,
        defences: tuple[str, ...] | None = None,
        seeds: tuple[int, ...] | None = None,
        games: tuple[str, ...] | None = None,
    ) -> BenchConfig:
        """A sub-grid (names must exist)."""

        def pick(items, names, what):
            if names is None:
                return items
            unknown = set(names) - {i.name for i in items}
            if unknown:
                raise ConfigError(f"no {what} named {', '.join(sorted(unknown))}")
            return tuple(i for i in items if i.name in names)

        out = dataclasses.replace(
            self,
            agents=pick(self.agents, agents, "agent"),
            defences=pick(self.defences, defences, "defence"),
            games=pick(self.games, games, "game"),
            seeds=tuple(seeds) if seeds is not None else self.seeds,
        )
        return _check_axes(out)

    def replace(self, **changes: Any) -> BenchConfig:
        """A copy with some budgets changed (``transmissions``, ``fresh_k``, ``data_root``, ``links``, ...)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    """A TOML boolean (``"false"`` or ``0`` would be coerced by truthiness)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false (a TOML boolean), got {value!r}")
    return value


def _psr(what: str, value: Any) -> float:
    """A learning transmitter's budget ``psr_db``: the env's transmitter-role range, the widest semgame
    defends with (:data:`~semgame.privacy.perturbation.PSR_RANGE_KEYED`, checked by ``check_psr``)."""
    from semgame.privacy.perturbation import PSR_RANGE_KEYED, check_psr

    try:
        return check_psr(value, "policy")
    except ConfigError:
        lo, hi = PSR_RANGE_KEYED
        raise ConfigError(
            f"{what}: psr_db (a learning transmitter's budget) must be a finite number in [{lo:g}, {hi:g}] dB, "
            f"got {value!r}"
        ) from None


def _defence(what: str, config: Any) -> dict:
    """``check_defence_config`` naming ``what``; the defence kind's boolean keys must be TOML booleans."""
    from semgame.privacy.defences import DEFENCES, check_defence_config

    try:
        cfg = check_defence_config(config)
    except ConfigError as err:
        raise ConfigError(f"{what}: {err}") from None
    for key, default in DEFENCES[cfg["kind"]].keys.items():
        if isinstance(default, bool) and key in config:
            _bool(f"{what}: {key}", config[key])
    return cfg


def _list(name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    if not value:
        raise ConfigError(f"grid axis {name} is empty")
    return value


def _name(what: str, value: Any, seen: set[str]) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"{what} name must be a non-empty string of letters, digits and ._+=- , got {value!r}")
    if value in seen:
        raise ConfigError(f"duplicate {what} name {value!r}")
    seen.add(value)
    return value


def _resolve(path: str, base: Path | None) -> str:
    """A path that exists relative to the current directory or to ``base`` (absolute if found)."""
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute() or base is None:
        return str(p.resolve()) if p.exists() else str(p)
    q = base / p
    return str(q.resolve()) if q.exists() else str(p)


def _resolve_spec(spec: Any, base: Path | None, what: str) -> str:
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ConfigError(
            f"{what}: agent spec must look like 'package.module:Class' or 'path/to/file.py:Class', got {spec!r}"
        )
    target, attr = spec.split(":")
    if target.endswith(".py") or "/" in target:
        target = _resolve(target, base)
    return f"{target}:{attr}"


def _load(
    spec: str, protocol: str, what: str, needs: tuple[str, ...] = (), args: dict | None = None, why: str = ""
) -> None:
    """Check that an agent spec loads (class or factory), takes ``args`` and (a class) has the methods it
    ``needs`` (``why``: what needs them), naming the problem in one line."""
    import inspect

    from semgame.protocols import Eavesdropper, Transmitter, load_agent

    try:
        obj = load_agent(spec, Eavesdropper if protocol == "eavesdropper" else Transmitter)
    except ValueError as err:
        raise ConfigError(f"{what}: {err}") from None
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # (no signature to check against)
        params = {}
    if params and not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(args or {}) - set(params))
        if unknown:
            raise ConfigError(
                f"{what}: {spec} takes no argument(s) {', '.join(unknown)}; it takes {', '.join(params) or 'none'}"
            )
    missing = [m for m in needs if isinstance(obj, type) and not callable(getattr(obj, m, None))]
    if missing:
        raise ConfigError(f"{what}: {spec} has no {', '.join(m + '()' for m in missing)} ({why})")


def _table(what: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a table, got {value!r}")
    return value


def _check_axes(cfg: BenchConfig) -> BenchConfig:
    for name in ("datasets", "eve_snr_db", "seeds", "defences", "agents"):
        if not getattr(cfg, name):
            raise ConfigError(f"grid axis {name} is empty")
    return cfg


def bench_config(values: dict[str, Any], base: Path | None = None) -> BenchConfig:
    """Validate a config dict (what the TOML file holds) into a :class:`BenchConfig`."""
    from semgame.config import MAX_SEED, check_int, check_snr
    from semgame.data import dataset_info
    from semgame.seeds import MAX_FRESH_EVES

    unknown = sorted(set(values) - _TOP)
    if unknown:
        raise ConfigError(f"unknown bench config key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP))}")
    for axis in ("datasets", "eve_snr_db", "seeds", "defences", "agents"):
        if axis not in values:
            raise ConfigError(f"the bench config needs {axis} (a grid axis)")
    datasets = []
    for d in _list("datasets", values["datasets"]):
        try:
            datasets.append(dataset_info(d).name if isinstance(d, str) else dataset_info(str(d)).name)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    snrs = tuple(check_snr("eve_snr_db", v) for v in _list("eve_snr_db", values["eve_snr_db"]))
    # (agents seed NumPy's legacy generator: at most MAX_SEED)
    seeds = tuple(check_int("seeds", v, 0, MAX_SEED) for v in _list("seeds", values["seeds"]))
    budgets = {k: _int(k, values[k], 0 if k == "fresh_k" else 1) for k in _BUDGETS if k in values}
    if budgets.get("fresh_k", 0) > MAX_FRESH_EVES:  # (their seeds would reach the fixed seats)
        raise ConfigError(f"fresh_k must be at most {MAX_FRESH_EVES}, got {budgets['fresh_k']}")
    links = _table("links", values.get("links", {}))
    for ds, path in links.items():
        if ds not in datasets:
            raise ConfigError(f"links: {ds!r} is not one of the datasets {datasets}")
        links[ds] = _resolve(str(path), base)
        if not Path(links[ds]).exists():
            raise ConfigError(f"links: {path} not found")
    names: set[str] = set()
    defences = []
    for entry in _list("defences", values["defences"]):
        entry = dict(_table("a [[defences]] entry", entry))
        name = _name("defence", entry.get("name"), names)
        link = entry.pop("link", None)
        train = entry.pop("train_transmissions", None)
        if link is not None:
            link = _resolve(str(link), base)
            if not Path(link).exists():
                raise ConfigError(f"defence {name!r}: link {link} not found")
        if entry.get("kind") == "policy" and isinstance(entry.get("agent"), str):
            entry["agent"] = _resolve_spec(entry["agent"], base, f"defence {name!r}")
        if train is not None:
            if entry.get("kind") != "policy":
                raise ConfigError(
                    f"defence {name!r}: train_transmissions applies to kind 'policy' (a learning transmitter)"
                )
            _int(f"defence {name!r}: train_transmissions", train)
            if entry.get("psr_db") is None:
                raise ConfigError(f"defence {name!r}: a learned transmitter needs psr_db")
            _psr(f"defence {name!r}", entry["psr_db"])  # (it learns in the env's transmitter role)
        _defence(f"defence {name!r}", entry)
        if entry.get("kind") == "policy":
            needs = ("learn", "state_dict", "load_state_dict") if train is not None else ()
            why = "a learning transmitter needs learn, state_dict and load_state_dict"
            _load(entry["agent"], "transmitter", f"defence {name!r}", needs, entry.get("args"), why)
        defences.append(DefenceSpec(name, entry, link, train))
    names = set()
    agents = []
    for entry in _list("agents", values["agents"]):
        entry = _table("an [[agents]] entry", entry)
        bad = sorted(set(entry) - _AGENT_KEYS)
        if bad:
            raise ConfigError(
                f"agent entry: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(_AGENT_KEYS))}"
            )
        name = _name("agent", entry.get("name"), names)
        if name in (TRANSMITTER_RUN, FRESH_RUN):
            raise ConfigError(f"agent name {name!r} is reserved (it names defence cells' TensorBoard runs)")
        spec = _resolve_spec(entry.get("agent"), base, f"agent {name!r}")
        args = dict(_table(f"agent {name!r}: args", entry.get("args", {})))
        _load(spec, "eavesdropper", f"agent {name!r}", args=args)
        agents.append(AgentSpec(name, spec, args, _bool(f"agent {name!r}: reference", entry.get("reference", False))))
    if sum(a.reference for a in agents) > 1:
        raise ConfigError("at most one agent may be the reference (reference = true)")
    names = set()
    games = []
    for entry in values.get("games", []):
        entry = _table("a [[games]] entry", entry)
        bad = sorted(set(entry) - _GAME_KEYS)
        if bad:
            raise ConfigError(f"game entry: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(_GAME_KEYS))}")
        name = _name("game", entry.get("name"), names)
        what = f"game {name!r}"
        if name in {d.name for d in defences}:
            raise ConfigError(f"{what}: a game and a defence share the name (both name TensorBoard runs)")
        tx_args = dict(_table(f"{what}: transmitter_args", entry.get("transmitter_args", {})))
        eve_args = dict(_table(f"{what}: eavesdropper_args", entry.get("eavesdropper_args", {})))
        tx = entry.get("transmitter")
        gradient = isinstance(tx, dict)
        if gradient:
            if _defence(f"{what}: transmitter", tx)["kind"] != "adversarial":
                raise ConfigError(f"{what}: a transmitter table must be an adversarial defence (re-crafted each round)")
            if tx_args:  # (it would be ignored: the table is the transmitter's whole config)
                raise ConfigError(f"{what}: transmitter_args apply to a transmitter agent, not to an adversarial table")
        else:
            tx = _resolve_spec(tx, base, what)
            _load(tx, "transmitter", what, ("learn",), tx_args, "a learning transmitter needs learn")
        eve = _resolve_spec(entry.get("eavesdropper"), base, what)
        needs = ("logits_model",) if gradient else ()
        _load(eve, "eavesdropper", what, needs, eve_args, "an adversarial transmitter is crafted white-box against it")
        kw = {
            k: _int(f"{what}: {k}", entry[k]) for k in ("rounds", "eve_transmissions", "tx_transmissions") if k in entry
        }
        if "psr_db" in entry:
            kw["psr_db"] = _psr(what, entry["psr_db"])
        games.append(
            GameSpec(
                name,
                tx,
                eve,
                transmitter_args=tx_args,
                eavesdropper_args=eve_args,
                **kw,
            )
        )
    if games and budgets.get("fresh_k", BenchConfig.fresh_k) == 0:
        raise ConfigError("games end with a fresh-eavesdropper verdict: fresh_k must be >= 1")
    data_root = values.get("data_root")
    if data_root is not None and not isinstance(data_root, str):
        raise ConfigError(f"data_root must be a string (a folder), got {data_root!r}")
    return _check_axes(
        BenchConfig(
            tuple(datasets),
            snrs,
            seeds,
            tuple(defences),
            tuple(agents),
            tuple(games),
            links=links,
            data_root=data_root,
            **budgets,
        )
    )


def load_bench_config(path: str | Path) -> BenchConfig:
    """Read and validate a bench TOML file (paths in it are also resolved against its repository)."""
    path = Path(path)
    return bench_config(load_config_file(path), base=path.resolve().parent.parent.parent)
