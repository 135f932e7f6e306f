"""The privacy benchmark workbench: one trained link, its encodings and table rows per defence.

:class:`Lab` holds one dataset / profile / seed and an output folder, trains (or resumes, or reuses
with ``link_dir``) the undefended link once, and produces table rows (see
:data:`~semgame.privacy.leakage.COLUMNS`) for min-max runs, perturbation defences and
eavesdropper-SNR sweeps, each judged by fresh eavesdroppers; every row also gets a TensorBoard run
under ``tb/`` with its hparams. :data:`PROFILES` are its budgets. ``semgame reproduce``
(:mod:`semgame.privacy.reproduce`) and the ``benchmarks/bench_*.py`` scripts drive it and write
their reports with :mod:`semgame.privacy.report`.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from semgame.config import ConfigError, LinkConfig, check_int
from semgame.loader import load_run
from semgame.privacy.defences import (
    DEMO_KEY,
    AdversarialDefence,
    Defence,
    DefenceContext,
    Encoded,
    NoDefence,
    build_defence,
    encode,
    finetune_receiver,
)
from semgame.privacy.leakage import COLUMNS, FRESH_MODELS, check_k, defend, leakage_report, new_eavesdropper
from semgame.privacy.minmax import MinMaxConfig, minmax_run
from semgame.privacy.perturbation import check_psr
from semgame.run import load_data, train_run
from semgame.runloop import TEST_TAGS
from semgame.seeds import SURROGATE_EVE, UNDEFENDED_EVE, eve_seed
from semgame.training import fit_eavesdropper

__all__ = ["KEY", "LINK_KEYS", "Profile", "PROFILES", "get_profile", "Lab"]

KEY = DEMO_KEY  # the demo key of the keyed defence (a real system would draw it at random)


def _check_offset(offset: object) -> None:
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset):
        raise ConfigError(f"eve_offsets must be finite numbers (dB), got {offset!r}")


@dataclass(frozen=True)
class Profile:
    """Budgets of one reproduction profile (see :data:`PROFILES`)."""

    link_epochs: int
    train_limit: int | None
    test_limit: int | None
    fresh_k: int
    fresh_epochs: int
    minmax_rounds: int
    minmax_train_limit: int | None
    lambdas: tuple[float, ...]
    objective: str
    keyed_psrs: tuple[float, ...]
    adv_psrs: tuple[float, ...]
    adv_steps: int
    finetune_epochs: int
    eve_offsets: tuple[float, ...]
    width: int = 16
    k: int = 16
    recon_weight: float = 1.0
    fresh_model: str = "standard"

    def __post_init__(self) -> None:
        """Check the budgets that :class:`~semgame.config.LinkConfig` does not, before anything is trained."""
        check_k(self.fresh_k)
        for name in ("fresh_epochs", "adv_steps", "finetune_epochs"):
            check_int(name, getattr(self, name))
        check_int("minmax_rounds", self.minmax_rounds, low=0)
        if self.minmax_train_limit is not None:
            check_int("minmax_train_limit", self.minmax_train_limit)
        if self.fresh_model not in FRESH_MODELS:
            raise ConfigError(f"fresh_model must be one of {', '.join(FRESH_MODELS)}; got {self.fresh_model!r}")
        for name, check in (
            ("lambdas", lambda v: MinMaxConfig(lambda_=v, objective=self.objective)),
            ("keyed_psrs", lambda v: check_psr(v, "keyed")),
            ("adv_psrs", lambda v: check_psr(v, "adversarial")),
            ("eve_offsets", _check_offset),
        ):
            values = getattr(self, name)
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"{name} must be a non-empty list of numbers, got {values!r}")
            for v in values:
                check(v)


_FULL = Profile(
    link_epochs=10,
    train_limit=None,
    test_limit=None,
    fresh_k=5,
    fresh_epochs=10,
    minmax_rounds=5,
    minmax_train_limit=None,
    lambdas=(0.0, 0.1, 0.3, 1.0, 3.0),
    objective="kl_uniform",
    keyed_psrs=(-10.0, 0.0, 5.0, 10.0, 15.0),
    adv_psrs=(-30.0, -20.0, -10.0, 0.0),
    adv_steps=10,
    finetune_epochs=3,
    eve_offsets=(-10.0, -5.0, 0.0, 5.0, 10.0),
)
"""The ``full`` (GPU) budgets of MNIST; CIFAR-10's differ only in its link."""

PROFILES: dict[str, dict[str, Profile]] = {
    "mnist": {
        "quick": Profile(
            link_epochs=3,
            train_limit=30000,
            test_limit=5000,
            fresh_k=3,
            fresh_epochs=3,
            minmax_rounds=2,
            minmax_train_limit=10000,
            lambdas=(0.1, 0.3, 1.0),
            objective="kl_uniform",
            keyed_psrs=(0.0, 5.0, 10.0),
            adv_psrs=(-20.0, -10.0),
            adv_steps=5,
            finetune_epochs=1,
            eve_offsets=(-10.0, 0.0),
        ),
        "full": _FULL,
    },
    "cifar10": {
        "quick": Profile(
            link_epochs=1,
            train_limit=5000,
            test_limit=1000,
            fresh_k=2,
            fresh_epochs=2,
            minmax_rounds=1,
            minmax_train_limit=2000,
            lambdas=(1.0,),
            objective="kl_uniform",
            keyed_psrs=(10.0,),
            adv_psrs=(-10.0,),
            adv_steps=3,
            finetune_epochs=1,
            eve_offsets=(-10.0, 0.0),
            recon_weight=20.0,
        ),
        "full": dataclasses.replace(_FULL, link_epochs=30, minmax_rounds=10, width=32, k=64, recon_weight=20.0),
    },
}


LINK_KEYS = ("arch", "k", "width", "fading", "block", "csi", "equalizer", "recon_weight", "augment")
"""Config keys taken from a reused link (``link_dir``) rather than from the profile."""


def get_profile(dataset: str, profile: str) -> Profile:
    if dataset not in PROFILES:
        raise ConfigError(f"reproduce supports datasets {', '.join(PROFILES)}; got {dataset!r}")
    if profile not in PROFILES[dataset]:
        raise ConfigError(f"profile must be one of {', '.join(PROFILES[dataset])}; got {profile!r}")
    return PROFILES[dataset][profile]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")


class Lab:
    """One dataset, profile, seed and output folder; caches the trained link, encodings and eavesdroppers.

    ``device`` applies to the training runs (undefended link, min-max games: ``cfg.device``); the
    evaluation stages (encoding, perturbations, fresh eavesdroppers) load the frozen links on the CPU.
    """

    def __init__(
        self,
        dataset: str,
        profile: str | Profile,
        out: str | Path,
        *,
        seed: int = 0,
        snr_db: float = 10.0,
        data_root: str | None = None,
        device: str = "auto",
        quiet: bool = False,
        link_dir: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        self.profile_name = profile if isinstance(profile, str) else "custom"
        self.p = get_profile(dataset, profile) if isinstance(profile, str) else profile
        if overrides:
            self.p = dataclasses.replace(self.p, **overrides)
        self.out = Path(out)
        self.own_link = link_dir is None  # out/runs/link, trained with the profile (else a reused link)
        self.link_dir = Path(link_dir) if link_dir is not None else self.out / "runs" / "link"
        self.seed = seed
        self.quiet = quiet
        self.cfg = LinkConfig(
            dataset=dataset,
            k=self.p.k,
            width=self.p.width,
            snr_db=snr_db,
            epochs=self.p.link_epochs,
            recon_weight=self.p.recon_weight,
            eve_epochs=0,
            train_limit=self.p.train_limit,
            test_limit=self.p.test_limit,
            seed=seed,
            data_root=data_root,
            device=device,
            threads=1,
        )
        self._cache: dict[Any, Any] = {}
        self.rows: list[dict[str, Any]] = []
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}

    def say(self, *a: Any) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:7.1f} s]", *a, flush=True)

    # ------------------------------------------------------------------ the undefended link
    def base(self) -> tuple[Any, Encoded, Encoded]:
        """Train (or resume / reuse) the undefended link in ``out/runs/link``; encode train and test once.

        A link of ``out/runs/link`` trained with another profile or seed is a :class:`ConfigError`.
        """
        if "base" not in self._cache:
            t = time.perf_counter()
            run = self.link_dir
            if not (run / "model.pt").exists():
                self.say(f"training the undefended link ({self.p.link_epochs} epochs) in {run}")
                train_run(self.cfg, run, quiet=self.quiet)
            elif self.own_link:  # finished: train_run only checks that it was trained with this profile and seed
                train_run(self.cfg, run, quiet=True)
            link_cfg, link, _ = load_run(run)
            if link_cfg.dataset != self.cfg.dataset:
                raise ConfigError(f"link in {run} is for {link_cfg.dataset!r}, not {self.cfg.dataset!r}")
            # a reused link brings its own architecture and channel; budgets and seeds stay the profile's
            self.cfg = self.cfg.replace(**{key: getattr(link_cfg, key) for key in LINK_KEYS})
            link.requires_grad_(False)
            train, test = load_data(self.cfg)
            tr, te = encode(link, train), encode(link, test)
            self._cache["base"] = (link, tr, te)
            self.timings["link"] = time.perf_counter() - t
            legit = self.row_for(NoDefence(), self.cfg.snr_db, label="undefended", fresh=False)
            self._cache["undefended_legit_acc"] = legit["legit_acc"]
        return self._cache["base"]

    @property
    def undefended_legit_acc(self) -> float:
        self.base()
        return self._cache["undefended_legit_acc"]

    def _trained_eve(self, tag: str, x: torch.Tensor, labels: torch.Tensor, snr: float, seed: int):
        key = (tag, snr, seed)
        if key not in self._cache:
            eve = new_eavesdropper(self.cfg, snr, seed)
            fit_eavesdropper(
                eve,
                lambda a, b: a,
                TensorDataset(x, labels),
                epochs=self.p.fresh_epochs,
                lr=self.cfg.lr,
                batch_size=self.cfg.batch_size,
                seed=seed,
                device=x.device,
            )
            eve.requires_grad_(False)
            self._cache[key] = eve.eval()
        return self._cache[key]

    def undefended_eve(self, snr: float):
        """An eavesdropper trained on the undefended link's waveforms (the transfer column)."""
        _, tr, _ = self.base()
        return self._trained_eve("undefended", tr.x, tr.labels, snr, eve_seed(self.seed, UNDEFENDED_EVE))

    def surrogate(self, snr: float):
        """The transmitter's own surrogate eavesdropper (separate seed from every evaluated one)."""
        _, tr, _ = self.base()
        return self._trained_eve("surrogate", tr.x, tr.labels, snr, eve_seed(self.seed, SURROGATE_EVE))

    # ------------------------------------------------------------------ rows
    def row_for(
        self,
        defence: Defence,
        eve_snr: float,
        *,
        label: str | None = None,
        group: str = "",
        link=None,
        train: Encoded | None = None,
        test: Encoded | None = None,
        in_loop=None,
        fresh: bool = True,
        extra: dict | None = None,
    ) -> dict[str, Any]:
        base_link, btr, bte = self._cache["base"]
        link = link or base_link
        train, test = train or btr, test or bte
        t = time.perf_counter()
        if fresh:
            row = leakage_report(
                link,
                self.cfg,
                defence,
                train,
                test,
                k=self.p.fresh_k,
                epochs=self.p.fresh_epochs,
                eve_snr_db=eve_snr,
                in_loop_eve=in_loop,
                undefended_eve=self.undefended_eve(eve_snr),
                undefended_legit_acc=self._cache.get("undefended_legit_acc"),
                seed=self.seed,
                model=self.p.fresh_model,
            )
        else:
            from semgame.privacy.leakage import legit_metrics

            tx, nonces = defend(defence, test, nonce_offset=1 << 40)
            return legit_metrics(link, defence, test, tx, nonces, seed=self.seed)
        if label:
            row["defence"] = label
        row.update(
            group=group or row["kind"],
            eve_offset_db=eve_snr - self.cfg.snr_db,
            seconds=time.perf_counter() - t,
            **(extra or {}),
        )
        self.rows.append(row)
        ceiling = row["ceiling_pts"] if row["ceiling_pts"] is None else round(row["ceiling_pts"], 1)
        self.say(
            f"{row['defence']} @ eve {eve_snr:g} dB: legit {row['legit_acc']:.4f} psnr {row['legit_psnr']:.2f} | "
            f"in-loop {row['in_loop_eve_acc']:.4f} transfer {row['transfer_eve_acc']:.4f} fresh "
            f"{row['fresh_eve_mean']:.4f}±{row['fresh_eve_std']:.4f} (max {row['fresh_eve_max']:.4f}) | gap "
            f"{row['gap_fresh']:.1f} ceiling {ceiling} "
            f"(a_max {row['a_max']:.4f}) [{row['seconds']:.1f} s]"
        )
        self._tb(row)
        return row

    def _tb(self, row: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        name = _slug(f"{len(self.rows):02d}_{row['defence']}_eve{row['eve_snr_db']:g}dB")
        hp = {
            k: (v if isinstance(v, (int, float, str, bool)) and v is not None else str(v))
            for k, v in row.items()
            if k
            in (
                "defence",
                "kind",
                "psr_db",
                "eve_snr_db",
                "lambda_",
                "objective",
                "method",
                "scope",
                "mu",
                "legit_finetuned",
                "power",
                "tx_power",
            )
        }
        metrics = {
            f"hparam/{TEST_TAGS.get(k, k)}": float(row[k])
            for k, _ in COLUMNS
            if k != "defence"
            and isinstance(row.get(k), (int, float))
            and not (isinstance(row[k], float) and math.isnan(row[k]))
        }
        with SummaryWriter(str(self.out / "tb" / name)) as w:
            w.add_hparams(hp, metrics, run_name=".")

    def undefended_rows(self, offsets: Iterable[float] | None = None) -> None:
        self.base()
        for off in self.p.eve_offsets if offsets is None else offsets:
            self.row_for(NoDefence(), self.cfg.snr_db + off, label="undefended", group="undefended")

    def minmax_rows(
        self,
        lambdas: Iterable[float] | None = None,
        offsets: Iterable[float] | None = None,
        objective: str | None = None,
        legit_finetune_epochs: int = 0,
        **options: Any,
    ) -> None:
        """Min-max from the trained link, for each lambda and eavesdropper SNR offset.

        ``legit_finetune_epochs > 0``: after the game, the encoder is frozen (so the waveforms every
        eavesdropper sees are unchanged) and the legitimate receiver alone is fine-tuned on its tasks.
        ``options``: further :class:`~semgame.privacy.minmax.MinMaxConfig` fields (e.g. ``gate_snr_db``,
        ``eve_snr_spread_db``, ``rounds``), named in the run folder and the row label.
        """
        self.base()
        obj = objective or self.p.objective
        options = {"rounds": self.p.minmax_rounds, "eve_pretrain_epochs": 1, **options}
        extras = {k: v for k, v in options.items() if k not in ("rounds", "eve_pretrain_epochs") and v is not None}
        tag = "".join(f"_{k}{v:g}" if isinstance(v, float) else f"_{k}{v}" for k, v in sorted(extras.items()))
        for off in self.p.eve_offsets if offsets is None else offsets:
            snr = self.cfg.snr_db + off
            for lam in self.p.lambdas if lambdas is None else lambdas:
                t = time.perf_counter()
                mm = MinMaxConfig(lambda_=float(lam), objective=obj, **options)
                mcfg = self.cfg.replace(eve_snr_db=snr, train_limit=self.p.minmax_train_limit or self.p.train_limit)
                run = self.out / "runs" / _slug(f"minmax_{obj}_lam{lam:g}_eve{snr:g}dB{tag}")
                self.say(f"min-max {obj} lambda={lam:g} eve {snr:g} dB {extras or ''} -> {run}")
                minmax_run(mcfg, mm, run, init=self.link_dir, quiet=True)
                _, link, eve = load_run(run)
                link.requires_grad_(False)
                train, test = load_data(self.cfg)
                tr, te = encode(link, train), encode(link, test)
                opts = "".join(
                    f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}" for k, v in sorted(extras.items())
                )
                label = f"min-max {obj} λ={lam:g}{opts}"
                if legit_finetune_epochs:
                    tx, nonces = defend(NoDefence(), tr)
                    link.receiver = finetune_receiver(
                        link,
                        tx,
                        tr,
                        NoDefence(),
                        nonces,
                        epochs=legit_finetune_epochs,
                        seed=self.seed,
                        recon_weight=self.cfg.recon_weight,
                        recon_loss=self.cfg.recon_loss,
                    )
                    label += f" + legit rx fine-tuned {legit_finetune_epochs} ep"
                self.row_for(
                    NoDefence(),
                    snr,
                    label=label,
                    group=f"min-max{opts} (eve {off:+g} dB)",
                    link=link,
                    train=tr,
                    test=te,
                    in_loop=eve.eval(),
                    extra={
                        "lambda_": float(lam),
                        "objective": obj,
                        "rounds": mm.rounds,
                        "run": str(run),
                        "minmax": mm.to_dict(),
                        "seconds_minmax": time.perf_counter() - t,
                    },
                )

    def keyed_rows(
        self, psrs: Iterable[float] | None = None, offsets: Iterable[float] = (0.0,), power: str = "add"
    ) -> None:
        self.base()
        for off in offsets:
            for psr in self.p.keyed_psrs if psrs is None else psrs:
                d = build_defence({"kind": "keyed", "psr_db": float(psr), "key": KEY, "power": power})
                self.row_for(d, self.cfg.snr_db + off, group=f"keyed {power} (eve {off:+g} dB)", extra={"power": power})

    def rotation_rows(self, offsets: Iterable[float] = (0.0,), rounds: int = 3) -> None:
        """Keyed rotation (:class:`~semgame.privacy.rotation.KeyedRotation`, demo key) at each eavesdropper SNR
        offset."""
        self.base()
        for off in offsets:
            d = build_defence({"kind": "rotation", "key": KEY, "rounds": rounds})
            self.row_for(d, self.cfg.snr_db + off, group="keyed rotation", extra={"power": "fixed"})

    def adversarial_rows(
        self,
        variants: Iterable[tuple[str, str, str]] | None = None,
        psrs: Iterable[float] | None = None,
        offsets: Iterable[float] = (0.0,),
        mu: float = 1.0,
        finetune: bool = False,
    ) -> None:
        """Adversarial perturbations ``(method, scope, objective)`` against the transmitter's surrogate."""
        link, tr, _ = self.base()
        variants = variants or (
            ("fgm", "per_sample", "eve"),
            ("pgd", "per_sample", "eve"),
            ("pgd", "per_sample", "cooperative"),
            ("pgd", "universal", "cooperative"),
        )
        for off in offsets:
            snr = self.cfg.snr_db + off
            sur = self.surrogate(snr)
            ctx = DefenceContext(link=link, surrogate=sur, fit_data=lambda: (tr.x, tr.labels), seed=self.seed)
            for method, scope, objective in variants:
                for psr in self.p.adv_psrs if psrs is None else psrs:
                    d = build_defence(
                        {
                            "kind": "adversarial",
                            "psr_db": float(psr),
                            "method": method,
                            "scope": scope,
                            "objective": objective,
                            "mu": float(mu),
                            "steps": self.p.adv_steps,
                        },
                        ctx,
                    )
                    pert = d.pert
                    if finetune:
                        tx, nonces = defend(d, tr)
                        rec = finetune_receiver(
                            link,
                            tx,
                            tr,
                            d,
                            nonces,
                            epochs=self.p.finetune_epochs,
                            seed=self.seed,
                            recon_weight=self.cfg.recon_weight,
                            recon_loss=self.cfg.recon_loss,
                        )
                        d = AdversarialDefence(pert, receiver=rec)
                    self.row_for(
                        d,
                        snr,
                        in_loop=sur,
                        group=f"{method}-{scope}-{objective}{' +ft' if finetune else ''} (eve {off:+g} dB)",
                    )

    # ------------------------------------------------------------------ output
    def meta(self, command: str) -> dict[str, Any]:
        return {
            "command": command,
            "dataset": self.cfg.dataset,
            "profile": self.profile_name,
            "budgets": dataclasses.asdict(self.p),
            "link_config": self.cfg.to_dict(),
            "link_dir": str(self.link_dir),
            "seed": self.seed,
            "keyed_key": KEY,
            "undefended_legit_acc": self._cache.get("undefended_legit_acc"),
            "wall_seconds": time.perf_counter() - self.t0,
            "timings": self.timings,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
