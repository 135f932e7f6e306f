"""Defences: the one interface of the privacy game, shared by the offline evaluation and the game envs.

A defence is a layer between the transmitter's encoder and the channel, plus a hook at the
legitimate receiver::

    x_tx = defence.transmit(x, labels, nonces)        # x [n, k] complex64 -> what goes on the air
    y    = defence.receive(link, y, state, nonces)    # legitimate receiver, after its channel front-end
    logits, recon = defence.receiver(link)(y)         # the legitimate decoder heads behind the defence

The eavesdropper gets no hook: it decodes what its own channel delivers. The offline benchmarks
(:mod:`semgame.privacy.leakage`, :mod:`semgame.privacy.lab`, ``semgame eval --defence``) call these on
precomputed encoder waveforms (:func:`encode`); the game envs (:class:`~semgame.envs.SemComEnv`, the
native :class:`~semgame.envs.SemComVectorEnv`, the PettingZoo game) call them on every transmission
(``defence=``), so keyed removal happens at the legitimate receiver inside the env.

**Nonces.** Every transmission carries a public integer *nonce*. The offline evaluation numbers its
transmissions explicitly (training transmission ``i`` -> ``i``, test transmission ``i`` ->
``TEST_NONCE_OFFSET + i``). In the envs each :class:`Defence` object numbers the transmissions it
sends with its own counter (:meth:`Defence.next_nonces`: starting at 0 for a new object, advanced by
every transmission, never reset, not even by a seeded ``reset``), so a defence never reuses a nonce,
also across envs that share the object (e.g. a training env and a held-out evaluation env). Two envs
built from the same config and seed are identical; one env reset twice with the same seed replays its
images and channel draws but not a keyed mask.

**Config.** :func:`build_defence` turns a config into a defence: ``None`` or ``{kind = "none"}``
(undefended), ``{kind = "keyed", psr_db = 10, key = "...", power = "add"}``,
``{kind = "rotation", key = "...", rounds = 3}``,
``{kind = "adversarial", psr_db = -10, method = "pgd", scope = "per_sample", objective = "cooperative"}``,
``{kind = "policy", agent = "path/to/file.py:Class", psr_db = -10}`` (any
:class:`~semgame.protocols.Transmitter` policy; a policy *object* works too), or a ready
:class:`Defence` object. :data:`DEFENCES` lists the kinds and their keys. A min-max-trained link is
not a layer: it is the link itself, so pass it as the envs' ``link=`` (a ``link`` key of a defence in
``semgame bench`` configs).

* :class:`NoDefence` — the undefended link.
* :class:`KeyedDefence` — :class:`~semgame.privacy.keyed.KeyedPerturbation`, removed with the key.
* :class:`RotationDefence` — :class:`~semgame.privacy.rotation.KeyedRotation` (``x_tx = U_n x``, no power
  cost), undone with ``U_n^H`` by the key holder.
* :class:`AdversarialDefence` — :class:`~semgame.privacy.perturbation.AdversarialPerturbation`;
  the legitimate receiver is unaware (its own weights) or fine-tuned on perturbed waveforms
  (:func:`finetune_receiver`).
* :class:`PolicyDefence` — a Transmitter policy's ``[-1, 1]^(2k)`` action scaled onto ``psr_db``.

**Adding a defence**: subclass :class:`Defence` with ``kind``, ``name``, ``psr_db`` (or ``None``),
``transmit`` and ``receive`` (use ``nonces`` for anything per-transmission; scale additive
perturbations with :class:`~semgame.privacy.perturbation.PSRBudget` and set ``self.budget``), then
register a builder, as the keyed rotation does::

    @register_defence("rotation", keys={"key": DEMO_KEY, "rounds": 3}, check=_check_rotation)
    def _rotation(cfg: dict, ctx: DefenceContext) -> Defence:
        return RotationDefence(KeyedRotation(key=cfg["key"], rounds=cfg["rounds"]), name=cfg["name"])

It is then usable everywhere: ``defence={"kind": "rotation"}`` in every env, ``semgame bench`` configs
and the offline evaluation.
"""

from __future__ import annotations

import copy
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semgame.channels import ChannelState, complex_to_real
from semgame.config import ConfigError, check_int, check_lr
from semgame.link import SemanticLink
from semgame.privacy.keyed import KeyedPerturbation
from semgame.privacy.keystream import key_bytes
from semgame.privacy.perturbation import (
    METHODS,
    OBJECTIVES,
    POWER_MODES,
    SCOPES,
    AdversarialPerturbation,
    PSRBudget,
    check_mu,
    check_psr,
    check_waveforms,
)
from semgame.privacy.rotation import KeyedRotation
from semgame.seeds import Stream, seeded_generator
from semgame.training import recon_term

__all__ = [
    "DEMO_KEY",
    "DEFENCES",
    "AdversarialDefence",
    "Defence",
    "DefenceContext",
    "Encoded",
    "KeyedDefence",
    "NoDefence",
    "PolicyDefence",
    "RotationDefence",
    "build_defence",
    "check_defence_config",
    "encode",
    "finetune_receiver",
    "register_defence",
]

DEMO_KEY = 0x5EC2E7
"""The public demo key of the keyed defence in benchmarks and configs without a ``key`` (a real
system draws its key at random and keeps it secret)."""


@dataclass
class Encoded:
    """Clean waveforms of a data set under a frozen encoder: ``x [N, k]``, ``labels [N]``, ``images``."""

    x: Tensor
    labels: Tensor
    images: Tensor

    def __len__(self) -> int:
        return len(self.labels)


@torch.no_grad()
def encode(link: SemanticLink, data: torch.utils.data.TensorDataset, batch_size: int = 1024) -> Encoded:
    """Run the (eval-mode) encoder over a ``TensorDataset(images, labels)`` once."""
    link.encoder.eval()
    images, labels = data.tensors
    dev = next(link.parameters()).device
    xs = [link.encoder(images[i : i + batch_size].to(dev)) for i in range(0, len(labels), batch_size)]
    return Encoded(torch.cat(xs), labels.to(dev), images)


class Defence:
    """The defence interface (see the module docstring); the base class is the undefended link.

    ``transmit(x [n, k] complex64, labels [n] int64, nonces [n] int64) -> x_tx [n, k] complex64``;
    ``receive(link, y [n, k] complex64, state, nonces) -> y'`` (what the legitimate decoder heads get);
    ``receiver(link)``: those heads.
    """

    name = "none"
    kind = "none"
    psr_db: float | None = None
    budget: PSRBudget | None = None
    nonce_counter = 0
    """Next nonce :meth:`next_nonces` hands out (public; per defence object)."""

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        return x

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return y

    def receiver(self, link: SemanticLink) -> nn.Module:
        """The legitimate decoder heads used behind this defence."""
        return link.receiver

    def next_nonces(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``n`` fresh nonces ``[n]`` int64 from this defence's counter (never handed out twice)."""
        start = self.nonce_counter
        self.nonce_counter = start + n
        return torch.arange(start, start + n, dtype=torch.int64, device=device)

    @property
    def tx_power(self) -> float:
        """Average transmitted power relative to the undefended link: ``c^2 (1 + rho)`` with a
        perturbation (exact for keyed and FGM, an upper bound for PGD / universal / policies), else 1."""
        return 1.0 if self.budget is None else self.budget.tx_power

    def describe(self) -> dict:
        return {"defence": self.name, "kind": self.kind, "psr_db": self.psr_db, "tx_power": self.tx_power}


class NoDefence(Defence):
    """The undefended link."""


class KeyedDefence(Defence):
    """Keyed mask on the air, removed by the legitimate receiver with key + CSI."""

    kind = "keyed"

    def __init__(self, pert: KeyedPerturbation, name: str | None = None) -> None:
        self.pert, self.budget = pert, pert.budget
        self.psr_db = pert.psr_db
        self.name = name or f"keyed PSR {pert.psr_db:+g} dB ({pert.power})"

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        return self.pert(x, nonces)

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return self.pert.remove(y, state, nonces, csi=link.channel.csi, equalizer=link.channel.equalizer)


class RotationDefence(Defence):
    """Keyed rotation on the air (power unchanged), undone by the legitimate receiver with the key."""

    kind = "rotation"

    def __init__(self, rot: KeyedRotation, name: str | None = None) -> None:
        self.rot = rot
        self.name = name or "keyed rotation"

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        return self.rot(x, nonces)

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return self.rot.remove(y, state, nonces, csi=link.channel.csi, equalizer=link.channel.equalizer)

    def describe(self) -> dict:
        return {**super().describe(), "rounds": self.rot.rounds}


class AdversarialDefence(Defence):
    """Adversarial perturbation; the receiver divides by the known power scale ``c``.

    Per-sample crafting draws its random start from a generator seeded by the batch's first nonce.
    """

    kind = "adversarial"

    def __init__(
        self, pert: AdversarialPerturbation, name: str | None = None, receiver: nn.Module | None = None
    ) -> None:
        self.pert, self.budget = pert, pert.budget
        self.psr_db = pert.psr_db
        self._receiver = receiver
        self.name = name or (
            f"{pert.method}-{pert.scope}-{pert.objective} PSR {pert.psr_db:+g} dB"
            + (" (legit fine-tuned)" if receiver is not None else "")
        )

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        gen = seeded_generator(int(nonces[0]) if len(nonces) else 0, Stream.ADVERSARIAL_CRAFT, device=x.device)
        return self.pert(x, labels, gen)

    def receive(self, link: SemanticLink, y: Tensor, state: ChannelState, nonces: Tensor) -> Tensor:
        return y / self.pert.c

    def receiver(self, link: SemanticLink) -> nn.Module:
        return self._receiver if self._receiver is not None else link.receiver

    def describe(self) -> dict:
        d = super().describe()
        d.update(
            method=self.pert.method,
            scope=self.pert.scope,
            objective=self.pert.objective,
            mu=self.pert.mu,
            legit_finetuned=self._receiver is not None,
        )
        return d


def as_device_tensor(out: Any, device: torch.device, expected: str) -> Tensor:
    """An agent's output as a tensor on ``device`` (tensors stay where they are if already there).

    ``expected`` says what the agent must return (``"X.act must return ..."``): the one-line
    ``ValueError`` raised for what is not numbers (``None``, strings, objects, ragged lists).
    """
    if isinstance(out, Tensor):
        return out.detach().to(device)
    try:
        arr = np.asarray(out)
    except (ValueError, TypeError, OverflowError):
        arr = None
    if arr is None or arr.dtype.kind not in "biufc":
        raise ValueError(f"{expected}, got {reprlib.repr(out)}")
    return torch.as_tensor(arr, device=device)


class PolicyDefence(Defence):
    """A :class:`~semgame.protocols.Transmitter` policy as a defence (the RL-adapted transmitter).

    The policy observes the clean waveform, I/Q interleaved ``[n, 2k]`` float32 (followed by the
    one-hot label with ``include_label``; a NumPy array, or a tensor on the waveform's device if the
    policy has ``accepts_tensors = True``), and returns ``a [n, 2k]`` in [-1, 1], sent as
    ``x + PSRBudget(psr_db).box(a, x)``: the mapping of the envs' transmitter role. The legitimate
    receiver is unaware (no hook).
    """

    kind = "policy"

    def __init__(
        self, policy: Any, psr_db: float, *, include_label: bool = False, num_classes: int = 10, name: str | None = None
    ) -> None:
        from semgame.protocols import Transmitter, check_agent

        self.policy = check_agent(policy, Transmitter)
        self.budget = PSRBudget(check_psr(psr_db, "policy"))  # the envs' transmitter-role range
        self.psr_db = self.budget.psr_db
        self.include_label, self.num_classes = bool(include_label), int(num_classes)
        self.name = name or f"{type(policy).__name__} PSR {self.psr_db:+g} dB"

    def transmit(self, x: Tensor, labels: Tensor, nonces: Tensor) -> Tensor:
        obs = complex_to_real(x)
        if self.include_label:
            obs = torch.cat([obs, F.one_hot(labels.to(obs.device), self.num_classes).float()], -1)
        agent = self.policy
        out = agent.act(obs if getattr(agent, "accepts_tensors", False) else obs.cpu().numpy())
        n, d = x.shape[0], 2 * x.shape[1]
        name = type(agent).__name__
        expected = f"transmitter {name}.act must return float perturbations of shape ({n}, {d})"
        a = as_device_tensor(out, x.device, expected)
        if tuple(a.shape) != (n, d) or not a.dtype.is_floating_point:
            raise ValueError(f"{expected}, got {tuple(a.shape)} {a.dtype}")
        if bool(torch.isnan(a).any()) or bool((a.abs() > 1).any()):
            raise ValueError(f"transmitter {name}.act returned NaN or values outside [-1, 1]")
        return self.budget.send(x, self.budget.box(a, x))


# ----------------------------------------------------------------------------- the config registry
@dataclass
class DefenceContext:
    """What a defence builder may need besides its config.

    ``link``: the frozen legitimate link (cooperative adversarial objective); ``surrogate``: the
    transmitter's own model of the eavesdropper (a :class:`~semgame.link.NeuralEavesdropper`,
    adversarial perturbations); ``fit_data``: a callable returning training waveforms ``[N, k]`` and
    labels ``[N]`` (universal perturbations are fitted on them); ``psr_db`` / ``include_label`` /
    ``num_classes``: defaults of a policy defence; ``seed``: fitting seed.
    """

    link: SemanticLink | None = None
    surrogate: nn.Module | None = None
    fit_data: Callable[[], tuple[Tensor, Tensor]] | None = None
    psr_db: float | None = None
    include_label: bool = False
    num_classes: int = 10
    seed: int = 0


@dataclass(frozen=True)
class DefenceKind:
    """A registered defence kind: its config keys with defaults (``REQUIRED`` marks a required key),
    a value check that needs no context, and the builder."""

    keys: Mapping[str, Any]
    check: Callable[[dict], None]
    build: Callable[[dict, DefenceContext], Defence]


REQUIRED = object()
"""Default marking a required config key."""
DEFENCES: dict[str, DefenceKind] = {}
"""The registered defence kinds (``kind`` -> :class:`DefenceKind`)."""


def register_defence(kind: str, *, keys: Mapping[str, Any], check: Callable[[dict], None] | None = None):
    """Decorator registering ``build(cfg, ctx) -> Defence`` as defence ``kind`` with config ``keys``.

    ``cfg`` holds every key (defaults filled in) plus ``name`` (``None`` unless given); ``check(cfg)``
    validates values without building anything (raise :class:`ConfigError`).
    """

    def deco(build: Callable[[dict, DefenceContext], Defence]) -> Callable[[dict, DefenceContext], Defence]:
        DEFENCES[kind] = DefenceKind(dict(keys), check or (lambda cfg: None), build)
        return build

    return deco


def _choice(kind: str, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"defence {kind!r}: {key} must be one of {', '.join(allowed)}; got {value!r}")


def _int_at_least(kind: str, key: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"defence {kind!r}: {key} must be an integer >= {low}, got {value!r}")


@register_defence("none", keys={})
def _none(cfg: dict, ctx: DefenceContext) -> Defence:
    d = NoDefence()
    if cfg["name"]:
        d.name = cfg["name"]
    return d


def _check_keyed(cfg: dict) -> None:
    check_psr(cfg["psr_db"], "keyed")
    _choice("keyed", "power", cfg["power"], POWER_MODES)
    key_bytes(cfg["key"])


@register_defence("keyed", keys={"psr_db": REQUIRED, "key": DEMO_KEY, "power": "add"}, check=_check_keyed)
def _keyed(cfg: dict, ctx: DefenceContext) -> Defence:
    return KeyedDefence(KeyedPerturbation(cfg["psr_db"], key=cfg["key"], power=cfg["power"]), name=cfg["name"])


def _check_rotation(cfg: dict) -> None:
    key_bytes(cfg["key"])
    _int_at_least("rotation", "rounds", cfg["rounds"], 1)


@register_defence("rotation", keys={"key": DEMO_KEY, "rounds": 3}, check=_check_rotation)
def _rotation(cfg: dict, ctx: DefenceContext) -> Defence:
    return RotationDefence(KeyedRotation(key=cfg["key"], rounds=cfg["rounds"]), name=cfg["name"])


def _check_adversarial(cfg: dict) -> None:
    check_psr(cfg["psr_db"], "adversarial")
    for key, allowed in (("method", METHODS), ("scope", SCOPES), ("objective", OBJECTIVES), ("power", POWER_MODES)):
        _choice("adversarial", key, cfg[key], allowed)
    check_mu(cfg["mu"])
    for key in ("steps", "eot", "fit_epochs"):
        _int_at_least("adversarial", key, cfg[key], 1)


@register_defence(
    "adversarial",
    keys={
        "psr_db": REQUIRED,
        "method": "pgd",
        "scope": "per_sample",
        "objective": "cooperative",
        "mu": 1.0,
        "steps": 10,
        "eot": 1,
        "power": "add",
        "fit_epochs": 1,
    },
    check=_check_adversarial,
)
def _adversarial(cfg: dict, ctx: DefenceContext) -> Defence:
    if ctx.surrogate is None:
        raise ConfigError(
            "defence 'adversarial' needs a surrogate eavesdropper: use a link that carries its "
            "eavesdropper (shipped weights or a run folder) or pass an AdversarialDefence object"
        )
    if cfg["objective"] == "cooperative" and ctx.link is None:
        raise ConfigError("defence 'adversarial' with objective 'cooperative' needs the legitimate link")
    pert = AdversarialPerturbation(
        ctx.surrogate,
        float(cfg["psr_db"]),
        method=cfg["method"],
        scope=cfg["scope"],
        objective=cfg["objective"],
        legit=ctx.link,
        mu=float(cfg["mu"]),
        steps=cfg["steps"],
        eot=cfg["eot"],
        power=cfg["power"],
    )
    if cfg["scope"] == "universal":
        if ctx.fit_data is None:
            raise ConfigError("defence 'adversarial' with scope 'universal' needs training waveforms to fit on")
        xs, labels = ctx.fit_data()
        pert.fit_universal(xs, labels, epochs=cfg["fit_epochs"], seed=ctx.seed)
    return AdversarialDefence(pert, name=cfg["name"])


def _check_policy(cfg: dict) -> None:
    from semgame.protocols import Transmitter, load_agent

    if not isinstance(cfg["args"], Mapping):
        raise ConfigError(f"defence 'policy': args must be a table of constructor arguments, got {cfg['args']!r}")
    if cfg["psr_db"] is not None:
        check_psr(cfg["psr_db"], "policy")
    try:
        load_agent(cfg["agent"], Transmitter)
    except ValueError as err:
        raise ConfigError(f"defence 'policy': {err}") from None


@register_defence(
    "policy", keys={"agent": REQUIRED, "args": {}, "psr_db": None, "include_label": False}, check=_check_policy
)
def _policy(cfg: dict, ctx: DefenceContext) -> Defence:
    from semgame.protocols import Transmitter, make_agent

    psr = cfg["psr_db"] if cfg["psr_db"] is not None else ctx.psr_db
    if psr is None:
        raise ConfigError("defence 'policy' needs psr_db (the budget its actions are scaled onto)")
    try:
        agent = make_agent(cfg["agent"], Transmitter, **dict(cfg["args"]))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"defence 'policy': {err}") from None
    return PolicyDefence(agent, psr, include_label=cfg["include_label"], num_classes=ctx.num_classes, name=cfg["name"])


def check_defence_config(config: Mapping[str, Any]) -> dict:
    """Validate a defence config (kind, keys, values; nothing is built) and return it with defaults
    filled in; one-line :class:`ConfigError` on any problem."""
    if not isinstance(config, Mapping):
        raise ConfigError(f'a defence config must be a table like {{kind = "keyed", psr_db = 10}}, got {config!r}')
    kind = config.get("kind")
    if not isinstance(kind, str) or kind not in DEFENCES:
        raise ConfigError(f"unknown defence kind {kind!r}; expected one of {', '.join(DEFENCES)}")
    spec = DEFENCES[kind]
    unknown = sorted(set(config) - set(spec.keys) - {"kind", "name"})
    if unknown:
        allowed = ", ".join(["name", *spec.keys])
        raise ConfigError(f"defence {kind!r}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    missing = [k for k, v in spec.keys.items() if v is REQUIRED and k not in config]
    if missing:
        raise ConfigError(f"defence {kind!r} needs {', '.join(missing)}")
    name = config.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigError(f"defence {kind!r}: name must be a non-empty string, got {name!r}")
    cfg = {**{k: copy.deepcopy(v) for k, v in spec.keys.items()}, **config, "name": name}
    spec.check(cfg)
    return cfg


def build_defence(config: Any, ctx: DefenceContext | None = None) -> Defence:
    """A :class:`Defence` from ``None`` (undefended), a config mapping (see :data:`DEFENCES`), a
    :class:`Defence` (returned as is) or a :class:`~semgame.protocols.Transmitter` policy object
    (wrapped in :class:`PolicyDefence` with ``ctx.psr_db`` / ``ctx.include_label``).

    Example:
        >>> build_defence({"kind": "keyed", "psr_db": 10}).describe()["tx_power"]
        11.0
    """
    ctx = ctx or DefenceContext()
    if config is None:
        return NoDefence()
    if isinstance(config, Defence):
        return config
    if not isinstance(config, Mapping) and callable(getattr(config, "act", None)):
        if ctx.psr_db is None:
            raise ConfigError("a Transmitter policy as a defence needs a PSR budget (psr_db)")
        return PolicyDefence(config, ctx.psr_db, include_label=ctx.include_label, num_classes=ctx.num_classes)
    if not isinstance(config, Mapping):
        raise ConfigError(
            "defence must be None, a config like {'kind': 'keyed', 'psr_db': 10}, a Defence or a "
            f"Transmitter policy; got {type(config).__name__}"
        )
    cfg = check_defence_config(config)
    return DEFENCES[cfg["kind"]].build(cfg, ctx)


def finetune_receiver(
    link: SemanticLink,
    x_tx: Tensor,
    enc: Encoded,
    defence: Defence,
    nonces: Tensor,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 128,
    recon_weight: float = 1.0,
    recon_loss: str = "mse",
    seed: int = 0,
) -> nn.Module:
    """A copy of the legitimate receiver fine-tuned on the defended waveforms ``x_tx`` of ``enc``.

    Loss: cross-entropy + ``recon_weight`` * :func:`~semgame.training.recon_term` of kind ``recon_loss``
    (the link's own, :attr:`~semgame.config.LinkConfig.recon_loss`), through the legitimate channel (seeded). The
    link itself is left untouched.
    """
    check_int("finetune epochs", epochs)
    check_int("finetune batch_size", batch_size)
    check_lr("finetune lr", lr)
    check_waveforms("finetune_receiver", x_tx, enc.labels)
    if len(nonces) != len(enc):
        raise ConfigError(f"finetune_receiver: {len(nonces)} nonces for {len(enc)} waveforms")
    receiver = copy.deepcopy(link.receiver)
    receiver.requires_grad_(True)
    receiver.train()
    opt = torch.optim.Adam(receiver.parameters(), lr=lr)
    dev = x_tx.device
    for epoch in range(epochs):
        order = torch.randperm(len(enc), generator=seeded_generator(seed, Stream.FINETUNE_SHUFFLE, epoch))
        noise = seeded_generator(seed, Stream.FINETUNE_NOISE, epoch, device=dev)
        for start in range(0, len(enc), batch_size):
            idx = order[start : start + batch_size]
            y, state = link.channel(x_tx[idx.to(dev)], generator=noise)
            y = defence.receive(link, y, state, nonces[idx])
            logits, recon = receiver(y)
            images = enc.images[idx].to(dev)
            loss = F.cross_entropy(logits, enc.labels[idx.to(dev)]) + recon_weight * recon_term(
                recon, images, recon_loss
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    receiver.eval()
    receiver.requires_grad_(False)
    return receiver
