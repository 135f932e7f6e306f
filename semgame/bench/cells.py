"""The cells of a bench grid and how one cell runs (in any process: local, a pool worker or a Ray task).

Three kinds of cell, each seeded, self-contained (plain JSON parameters in, a result dict and files
out) and therefore identical whichever executor runs it:

* **defence** ``(dataset, defence, eve SNR, seed)``: builds the defence (a learned transmitter is
  trained first, against the link's eavesdropper), and judges it offline with ``fresh_k`` fresh
  eavesdroppers (:func:`semgame.privacy.leakage.leakage_report`): legitimate accuracy / PSNR, in-loop
  and fresh eavesdropper accuracy, transmit power.
* **eve** ``(dataset, defence, agent, eve SNR, seed)``: the agent plays through the native vector env
  under the defence for ``transmissions`` intercepted transmissions and is evaluated every
  ``eval_every`` of them on a fixed held-out set of ``eval_size`` defended test transmissions.
* **game** ``(dataset, game, eve SNR, seed)``: alternating play (:mod:`semgame.bench.alternating`).

A cell writes TensorBoard runs into a temporary folder and returns their files with the result, so a
Ray worker on another machine loses nothing; the executor writes them into the output folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semgame.bench.config import FRESH_RUN, TRANSMITTER_RUN, BenchConfig

__all__ = [
    "SEED_FRESH_SUBSET",
    "SEED_HELD_OUT",
    "SEED_TRAIN_ENV",
    "Cell",
    "check_data",
    "plan",
    "run_cell",
    "run_name",
]

SEED_HELD_OUT = 11
"""Seat (``seed * 1000 + seat``) of the held-out set's env seed: the same for every agent of a group."""
SEED_TRAIN_ENV = 12
"""Seat of the training env's seed."""
SEED_FRESH_SUBSET = 13
"""Seat of the seeded subset of training transmissions given to fresh eavesdroppers."""
SEED_TX_ENV = 14
"""Seat of a learning transmitter's env seed."""


def _seat(seed: int, seat: int) -> int:
    return seed * 1000 + seat


def run_name(dataset: str, defence: str, agent: str, snr: float, seed: int) -> str:
    """TensorBoard run name (a folder under the output root): ``<dataset>/<defence>/<agent>/eve<snr>dB/seed<k>``."""
    return f"{dataset}/{defence}/{agent}/eve{snr:g}dB/seed{seed}"


@dataclass
class Cell:
    """One unit of work: ``kind``, ``id`` (also its result file's name), TensorBoard ``run``, JSON
    ``params`` and, for eve cells of a learned defence, the id of the defence cell it ``needs``."""

    kind: str
    id: str
    run: str
    params: dict
    needs: str | None = None
    inputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "run": self.run,
            "params": self.params,
            "needs": self.needs,
            "inputs": self.inputs,
        }


def _common(cfg: BenchConfig, dataset: str, snr: float, seed: int) -> dict:
    return {
        "dataset": dataset,
        "eve_snr_db": snr,
        "seed": seed,
        "link": cfg.links.get(dataset),
        "data_root": cfg.data_root,
        "num_envs": cfg.num_envs,
        "eval_every": cfg.eval_every,
        "eval_size": cfg.eval_size,
        "fresh_k": cfg.fresh_k,
        "fresh_epochs": cfg.fresh_epochs,
        "fresh_limit": cfg.fresh_limit,
    }


def plan(cfg: BenchConfig) -> list[Cell]:
    """Every cell of the grid, defence cells first."""
    defence_cells, eve_cells, game_cells = [], [], []
    for ds in cfg.datasets:
        for snr in cfg.eve_snr_db:
            for seed in cfg.seeds:
                base = _common(cfg, ds, snr, seed)
                for d in cfg.defences:
                    dp = {**base, "defence": dataclasses.asdict(d)}
                    if d.link is not None:
                        dp["link"] = d.link
                    did = f"defence/{run_name(ds, d.name, FRESH_RUN, snr, seed)}"
                    if d.learned or cfg.fresh_k > 0:  # fresh_k = 0: no verdicts, only learned transmitters
                        defence_cells.append(Cell("defence", did, run_name(ds, d.name, TRANSMITTER_RUN, snr, seed), dp))
                    for a in cfg.agents:
                        ep = {
                            **dp,
                            "agent": {"name": a.name, "agent": a.agent, "args": a.args},
                            "transmissions": cfg.transmissions,
                            "eval_first": cfg.eval_first,
                        }
                        eve_cells.append(
                            Cell(
                                "eve",
                                f"eve/{run_name(ds, d.name, a.name, snr, seed)}",
                                run_name(ds, d.name, a.name, snr, seed),
                                ep,
                                needs=did if d.learned else None,
                            )
                        )
                for g in cfg.games:
                    gp = {**base, "game": dataclasses.asdict(g)}
                    gid = f"game/{run_name(ds, g.name, 'game', snr, seed)}"
                    game_cells.append(Cell("game", gid, run_name(ds, g.name, "game", snr, seed), gp))
    return defence_cells + eve_cells + game_cells


def check_data(cfg: BenchConfig) -> None:
    """Before any cell starts: every link of the grid loads and every data split its cells read is found
    (one-line :class:`~semgame.data.DataNotFoundError`, :class:`~semgame.io.CheckpointError` or
    :class:`ConfigError` otherwise)."""
    from semgame.config import ConfigError
    from semgame.envs.game import SemComGame

    links = {(ds, cfg.links.get(ds)) for ds in cfg.datasets}
    links |= {(ds, d.link) for ds in cfg.datasets for d in cfg.defences if d.link is not None}
    for ds, link in sorted(links, key=str):
        for split in ("train", "test"):
            try:
                SemComGame(ds, split=split, link=link, data_root=cfg.data_root).load_split()
            except ConfigError:
                raise
            except ValueError as err:
                raise ConfigError(f"dataset {ds!r}, link {link or 'shipped'}: {err}") from None


# ----------------------------------------------------------------------------------------- running
def run_cell(cell: dict, device: str = "cpu") -> dict:
    """Run one cell (a :meth:`Cell.to_dict`); never raises: ``{"id", "status": "ok"|"error", "result",
    "files": {relative path: bytes}, "error", "traceback", "seconds"}``."""
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="semgame-bench-") as tmp:
        try:
            runner = {"defence": _defence_cell, "eve": _eve_cell, "game": _game_cell}[cell["kind"]]
            result, files = runner(cell["params"], cell.get("inputs") or {}, device, Path(tmp), cell["run"])
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(tmp))] = path.read_bytes()
            out = {"status": "ok", "result": result, "files": files}
        except Exception as err:
            out = {
                "status": "error",
                "error": f"{type(err).__name__}: {err}".splitlines()[0],
                "traceback": traceback.format_exc(),
                "files": {},
            }
    out.update(id=cell["id"], seconds=time.perf_counter() - start)
    return out


def _writer(tmp: Path, run: str):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(tmp / run))


def _hparams(writer: Any, p: dict, agent: str, metrics: dict[str, float]) -> None:
    d = p["defence"]
    hp = {
        "dataset": p["dataset"],
        "defence": d["name"],
        "defence_kind": d["config"]["kind"],
        "agent": agent,
        "eve_snr_db": float(p["eve_snr_db"]),
        "seed": int(p["seed"]),
        "psr_db": float(d["config"].get("psr_db")) if d["config"].get("psr_db") is not None else float("nan"),
    }
    writer.add_hparams(hp, {f"hparam/{k}": v for k, v in metrics.items() if not math.isnan(v)}, run_name=".")


def _env_kwargs(p: dict, device: str) -> dict:
    return {
        "dataset": p["dataset"],
        "eve_snr_db": p["eve_snr_db"],
        "link": p["link"],
        "data_root": p["data_root"],
        "device": device,
    }


def _train_env(p: dict, device: str, **kw: Any):
    from semgame.envs import SemComVectorEnv

    return SemComVectorEnv(
        p["num_envs"],
        split="train",
        rounds=1,
        autoreset_mode="same_step",
        compute_psnr=False,
        **_env_kwargs(p, device),
        **kw,
    )


def trainee(p: dict, spec: str, args: dict, device: str, seed_seat: int = SEED_TRAIN_ENV):
    """An eavesdropper agent from ``spec`` and the trainer that lets it learn on its training env."""
    from semgame.bench.play import EavesdropperTrainer
    from semgame.protocols import make_agent

    venv = _train_env(p, device)
    game = venv.game
    context = {"obs_dim": game.eve_obs_dim, "num_classes": game.num_classes, "seed": p["seed"], "device": device}
    agent = make_agent(spec, context=context, **args)
    return agent, EavesdropperTrainer(agent, venv, _seat(p["seed"], seed_seat))


def _learned_transmitter(d: dict, seed: int, device: str):
    from semgame.protocols import Transmitter, make_agent

    cfg = d["config"]
    return make_agent(cfg["agent"], Transmitter, context={"seed": seed, "device": device}, **cfg.get("args", {}))


def _defence(p: dict, game: Any, inputs: dict, device: str):
    """The cell's defence, built in ``game`` (a learned transmitter from the defence cell's weights)."""
    import torch

    d = p["defence"]
    if d["train_transmissions"] is None:
        game.set_defence(d["config"])
        game.defence.name = d["name"]
        return game.defence
    tx = _learned_transmitter(d, p["seed"], device)
    tx.load_state_dict(torch.load(io.BytesIO(inputs["policy.pt"]), map_location=device, weights_only=True))
    return _use_transmitter(game, d, tx)


def _use_transmitter(game: Any, d: dict, tx: Any):
    """A learned transmitter policy as ``game``'s defence (scaled onto its config's ``psr_db``)."""
    from semgame.privacy.defences import PolicyDefence

    cfg = d["config"]
    game.set_defence(
        PolicyDefence(
            tx,
            cfg["psr_db"],
            include_label=bool(cfg.get("include_label", False)),
            num_classes=game.num_classes,
            name=d["name"],
        )
    )
    return game.defence


def _encoded(game: Any, limit: int | None = None, seed: int = 0):
    import torch

    from semgame.privacy.defences import Encoded

    game.prepare()
    if limit is None or limit >= len(game.x):
        return Encoded(game.x, game.labels, game.images)
    idx = torch.randperm(len(game.x), generator=torch.Generator().manual_seed(seed))[:limit].to(game.x.device)
    return Encoded(game.x[idx], game.labels[idx], game.images[idx])


def verdict(p: dict, defence: Any, train_game: Any, in_loop: Any = None) -> dict:
    """``fresh_k`` fresh eavesdroppers judge a frozen defence (:func:`~semgame.privacy.leakage.leakage_report`)."""
    from semgame.envs.game import SemComGame
    from semgame.privacy.leakage import leakage_report

    if train_game.cfg is None:
        raise ValueError("fresh eavesdroppers need the link's config: pass link as a run folder or model.pt")
    test_game = SemComGame(
        p["dataset"], split="test", link=p["link"], data_root=p["data_root"], device=train_game.device
    )
    seed = p["seed"]
    row = leakage_report(
        train_game.link,
        train_game.cfg,
        defence,
        _encoded(train_game, p["fresh_limit"], _seat(seed, SEED_FRESH_SUBSET)),
        _encoded(test_game),
        k=p["fresh_k"],
        epochs=p["fresh_epochs"],
        eve_snr_db=p["eve_snr_db"],
        in_loop_eve=in_loop,
        undefended_eve=train_game.surrogate,
        seed=seed,
    )
    return {k: v for k, v in row.items() if isinstance(v, (int, float, str, bool, list)) or v is None}


def _defence_cell(p: dict, inputs: dict, device: str, tmp: Path, run: str) -> tuple[dict, dict]:
    import torch

    from semgame import tags
    from semgame.bench.play import HeldOutSet, Meter, MeteredVecEnv
    from semgame.envs import SemComSB3VecEnv

    d, seed, files = p["defence"], p["seed"], {}
    start = time.perf_counter()
    venv = _train_env(p, device)
    game = venv.game
    curve: list[dict] = []
    if d["train_transmissions"] is not None:  # a learning transmitter: learn against the link's eavesdropper
        cfg = d["config"]
        tx = _learned_transmitter(d, seed, device)
        tx_env = _train_env(
            p, device, role="transmitter", psr_db=cfg["psr_db"], include_label=bool(cfg.get("include_label", False))
        )
        held = HeldOutSet(
            p["eval_size"],
            _seat(seed, SEED_HELD_OUT),
            role="transmitter",
            psr_db=cfg["psr_db"],
            include_label=bool(cfg.get("include_label", False)),
            **_env_kwargs(p, device),
        )

        def evaluate() -> dict[str, float]:
            h = held.play(transmitter=tx)
            return {tags.LEGIT_ACC: h.legit_acc, tags.LEGIT_PSNR: h.legit_psnr, tags.EVE_ACC: h.eve_acc}

        sb3 = SemComSB3VecEnv(venv=tx_env)
        sb3.seed(_seat(seed, SEED_TX_ENV))
        with _writer(tmp, run) as writer:
            meter = Meter(writer, evaluate, p["eval_every"], reward_tag=tags.TX_REWARD)
            tx.learn(MeteredVecEnv(sb3, meter), d["train_transmissions"])
            if not meter.points or meter.points[-1]["step"] < meter.t:
                meter.log()
        curve = meter.points
        buf = io.BytesIO()
        torch.save(tx.state_dict(), buf)
        files[f"{run}/policy.pt"] = buf.getvalue()
        defence = _use_transmitter(game, d, tx)
    else:
        defence = _defence(p, game, inputs, device)
    if p["fresh_k"] == 0:
        return {"row": None, "curve": curve, "wall_s": time.perf_counter() - start}, files
    # the in-loop eavesdropper: the one the defence was crafted / learnt against (the link's own)
    in_loop = game.surrogate if d["config"]["kind"] == "adversarial" or d["train_transmissions"] is not None else None
    row = verdict(p, defence, game, in_loop=in_loop)
    with _writer(tmp, run.replace("/transmitter/", "/fresh/")) as writer:
        step = min(p["fresh_limit"], len(game.x))
        for tag, key in (
            (tags.EVE_ACC, "fresh_eve_mean"),
            (tags.LEGIT_ACC, "legit_acc"),
            (tags.LEGIT_PSNR, "legit_psnr"),
        ):
            writer.add_scalar(tag, row[key], step)
        _hparams(
            writer,
            p,
            FRESH_RUN,
            {tags.EVE_ACC: row["fresh_eve_mean"], tags.LEGIT_ACC: row["legit_acc"], tags.LEGIT_PSNR: row["legit_psnr"]},
        )
    return {"row": row, "curve": curve, "wall_s": time.perf_counter() - start}, files


class _Group:
    """What every eavesdropper cell of one (dataset, defence, eve SNR, seed) group computes identically,
    kept in the process for the group's next cell (plan order runs a group's cells one after the other):

    * the held-out set and the defence's nonce counter after it was played;
    * ``sent``: the defended transmissions of a costly transmit side (per-sample adversarial crafting),
      replayed by :class:`~semgame.bench.play.ReplayedDefence`: the env's draws do not depend on what
      the agent does, so agents that seed the env alike intercept the same transmissions.

    Results are bit-identical to computing everything in every cell.
    """

    current: _Group | None = None

    def __init__(self, key: str) -> None:
        from semgame.bench.play import ReplayStore

        self.key, self.held, self.nonces, self.sent = key, None, 0, ReplayStore()

    @classmethod
    def of(cls, p: dict, inputs: dict, device: str) -> _Group:
        keep = {k: p[k] for k in ("dataset", "eve_snr_db", "seed", "link", "data_root", "eval_size", "defence")}
        policy = hashlib.sha256(inputs.get("policy.pt", b"")).hexdigest()
        key = json.dumps([keep, policy, device], sort_keys=True)
        if cls.current is None or cls.current.key != key:
            cls.current = cls(key)
        return cls.current


def _eve_cell(p: dict, inputs: dict, device: str, tmp: Path, run: str) -> tuple[dict, dict]:
    from semgame import tags
    from semgame.bench.play import HeldOutSet, Meter, ReplayedDefence, eve_accuracy

    seed, a = p["seed"], p["agent"]
    start = time.perf_counter()
    agent, trainer = trainee(p, a["agent"], a["args"], device)
    venv = trainer.venv
    defence = _defence(p, venv.game, inputs, device)
    group = _Group.of(p, inputs, device)
    if defence.kind == "adversarial":  # (crafting dominates these cells)
        defence = ReplayedDefence(defence, group.sent)
        venv.set_defence(defence)
    if group.held is None:
        held_set = HeldOutSet(p["eval_size"], _seat(seed, SEED_HELD_OUT), defence=defence, **_env_kwargs(p, device))
        group.held, group.nonces = held_set.play(), defence.nonce_counter
    else:  # the same held-out transmissions; training continues the nonces where they would be
        defence.nonce_counter = group.nonces
    held = group.held

    def evaluate() -> dict[str, float]:
        return {
            tags.EVE_ACC: eve_accuracy(agent, held),
            tags.LEGIT_ACC: held.legit_acc,
            tags.LEGIT_PSNR: held.legit_psnr,
        }

    with _writer(tmp, run) as writer:
        meter = Meter(writer, evaluate, p["eval_every"], reward_tag=tags.EVE_REWARD, first=p["eval_first"])
        trainer.run(p["transmissions"], meter)
        if not meter.points or meter.points[-1]["step"] < meter.t:
            meter.log()
        final = meter.points[-1]
        _hparams(
            writer,
            p,
            a["name"],
            {tags.EVE_ACC: final[tags.EVE_ACC], tags.LEGIT_ACC: held.legit_acc, tags.LEGIT_PSNR: held.legit_psnr},
        )
    result = {
        "points": meter.points,
        "final_eve_acc": final[tags.EVE_ACC],
        "legit_acc": held.legit_acc,
        "legit_psnr": held.legit_psnr,
        "chance": 1.0 / venv.game.num_classes,
        "transmissions": meter.t,
        "defence": defence.describe(),
        "wall_s": time.perf_counter() - start,
    }
    return result, {}


def _game_cell(p: dict, inputs: dict, device: str, tmp: Path, run: str) -> tuple[dict, dict]:
    from semgame.bench.alternating import alternate

    with _writer(tmp, run) as writer:
        result = alternate(p, device, writer)
    return result, {}
