"""The batched transmission game that every semgame environment plays (the engine, not an env itself).

:class:`SemComGame` holds a frozen semantic link, the legitimate and eavesdropper channels, the
images of one split and their clean waveforms (encoded once, cached per link and image set), a
defence (:mod:`semgame.privacy.defences`), and performs one *transmission round* for a batch of ``n``
samples as tensor operations:

1. :meth:`draw` picks image indices;
2. :meth:`transmit` takes the clean waveform ``x`` from the cache (the transmitter role observes it,
   :meth:`transmitter_obs`), adds a transmitter action under the PSR budget (:meth:`perturb`) and
   passes the result through the defence's transmit side with fresh nonces;
3. :meth:`eavesdropper_obs` passes what is on the air through the eavesdropper's channel;
4. :meth:`legit` passes it through the legitimate channel, the defence's receiver hook (e.g. keyed
   removal) and the legitimate receiver.

:meth:`eavesdropper_round` plays 1-4 at once, both channels in one pass, for the eavesdropper role,
whose transmissions no action changes (the native vector env draws them ahead with it).

The single env (batch of 1), the native vector env (batch of N) and the PettingZoo env all call
these methods, so they play exactly the same game. Every random draw of the game takes the caller's
``torch.Generator`` (defences draw from their own, nonce-seeded generators); nothing here is trained,
so a round is deterministic given the generator and the defence's nonces.
"""

from __future__ import annotations

import functools
import numbers
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from semgame.channels import ChannelState, FadingChannel, complex_to_real, real_to_complex, sample_snr_db
from semgame.config import LinkConfig
from semgame.data import DataNotFoundError, DatasetInfo, dataset_info, load_dataset
from semgame.link import NeuralEavesdropper, SemanticLink
from semgame.metrics import psnr as _psnr
from semgame.privacy.defences import (
    Defence,
    DefenceContext,
    PolicyDefence,
    as_device_tensor,
    build_defence,
)
from semgame.privacy.perturbation import PSR_RANGE_KEYED, PSRBudget
from semgame.protocols import Eavesdropper, check_agent
from semgame.training import autocast, resolve_precision

__all__ = [
    "ROLES",
    "SHIPPED_LINKS",
    "SemComGame",
    "NeuralEavesdropperAgent",
    "as_image_set",
    "default_weights_path",
    "shipped_link",
    "load_link",
]

ROLES = ("eavesdropper", "transmitter")
SHIPPED_LINKS = {
    "mnist": "mnist.pt",
    "cifar10": "cifar10.pt",
    "fashion_mnist": "fashion_mnist.pt",
    "cifar10-spatial": "cifar10_spatial.pt",
}
"""Links shipped in ``semgame/weights/`` (see its README): each dataset's default, and named alternatives."""


def shipped_link(name: str) -> Path:
    """Path of a shipped link by name (:data:`SHIPPED_LINKS`), e.g. ``link=shipped_link("cifar10-spatial")``."""
    if name not in SHIPPED_LINKS:
        raise ValueError(f"no shipped link named {name!r}; shipped: {', '.join(SHIPPED_LINKS)}")
    return Path(__file__).resolve().parent.parent / "weights" / SHIPPED_LINKS[name]


def default_weights_path(dataset: str) -> Path:
    """Path of the shipped default weights (``semgame/weights/<dataset>.pt``) for a dataset."""
    return shipped_link(dataset_info(dataset).name)


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, device: str) -> tuple[LinkConfig, SemanticLink, NeuralEavesdropper]:
    from semgame.loader import load_run
    from semgame.training import freeze

    cfg, link, eve = load_run(path, device=device)
    return cfg, freeze(link), freeze(eve)


def load_link(
    link: Any, dataset: str, device: torch.device
) -> tuple[LinkConfig | None, SemanticLink, NeuralEavesdropper | None]:
    """Resolve the ``link=`` argument of the envs to ``(config or None, link, eavesdropper or None)``.

    ``None`` loads the shipped default weights of ``dataset``; a ``str``/``Path`` is a ``model.pt``,
    a ``checkpoint.pt`` or a run folder (read with ``weights_only=True``, cached per process); a
    ``(config, link, eve)`` tuple is what :func:`semgame.loader.load_run` returns; a bare
    :class:`~semgame.link.SemanticLink` is used as is (moved to ``device``, put in eval mode).
    """
    name = dataset_info(dataset).name
    if link is None:
        path = default_weights_path(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"no default weights for dataset {name!r} at {path}; train a link with `semgame train` "
                "and pass link='<run_dir>/model.pt' (see semgame/weights/README.md)"
            )
        link = path
    if isinstance(link, (str, Path)):
        cfg, lk, eve = _load_cached(str(Path(link).resolve()), str(device))
    elif isinstance(link, tuple) and len(link) == 3 and isinstance(link[1], SemanticLink):
        cfg, lk, eve = link
        lk, eve = lk.to(device).eval(), (eve.to(device).eval() if eve is not None else None)
    elif isinstance(link, SemanticLink):
        cfg, lk, eve = None, link.to(device).eval(), None
    else:
        raise ValueError(  # (not TypeError: gymnasium.make re-raises those with every kwarg appended)
            "link must be None (shipped weights), a path to model.pt / a run folder, a SemanticLink, "
            f"or the (config, link, eve) tuple of semgame.loader.load_run; got {type(link).__name__}"
        )
    if cfg is not None and dataset_info(cfg.dataset).name != name:
        raise ValueError(f"link was trained on {cfg.dataset!r} but the env's dataset is {name!r}")
    return cfg, lk, eve


class NeuralEavesdropperAgent:
    """An :class:`~semgame.protocols.Eavesdropper` from a trained classifier (argmax of its logits).

    It reads the first ``2k`` features of an observation (the I/Q waveform; CSI features, if any,
    are ignored) and takes/returns torch tensors on the env device (``accepts_tensors = True``).
    """

    accepts_tensors = True

    def __init__(self, classifier: torch.nn.Module, k: int, precision: str = "auto") -> None:
        self.classifier, self.k, self.precision = classifier.eval(), k, precision

    @torch.no_grad()
    def act(self, obs: Tensor | np.ndarray) -> Tensor:
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        device = next(self.classifier.parameters()).device
        with autocast(self.precision, device):
            return self.classifier(real_to_complex(obs_t[..., : 2 * self.k].to(device))).argmax(-1)


def _as_tensor(value: Any, what: str) -> Tensor:
    """A torch tensor or NumPy array of numbers as a tensor (NumPy's memory shared when it can be)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        try:
            return torch.from_numpy(np.ascontiguousarray(value))
        except (TypeError, ValueError):
            pass
    dtype = f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else ""
    raise ValueError(f"{what} must be a torch tensor or a NumPy array of numbers, got {type(value).__name__}{dtype}")


def as_image_set(data: Any, info: DatasetInfo) -> tuple[Tensor, Tensor]:
    """The envs' ``images=`` (or a loaded split) as ``(images [N, C, H, W] float32 in [0, 1], labels [N] int64)``.

    ``data``: a ``TensorDataset`` or a pair ``(images, labels)`` of torch tensors or NumPy arrays.
    Images have the dataset's shape and are float (any float dtype, converted to float32), finite
    and in [0, 1], or uint8 (divided by 255, as torchvision's ``ToTensor``); labels are 1-D integers
    in ``[0, num_classes)``, one per image. Anything else raises a one-line ``ValueError`` naming it.
    """
    pair = data.tensors if isinstance(data, TensorDataset) else data
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        got = f"a {type(pair).__name__} of {len(pair)}" if isinstance(pair, (tuple, list)) else type(pair).__name__
        raise ValueError(
            f"images must be a TensorDataset or a pair (images [N, C, H, W], labels [N]) of tensors or NumPy arrays, "
            f"got {got}"
        )
    images, labels = _as_tensor(pair[0], "images"), _as_tensor(pair[1], "labels")
    if images.dim() != 4 or tuple(images.shape[1:]) != info.shape:
        raise ValueError(f"images must have shape [N, {', '.join(map(str, info.shape))}], got {tuple(images.shape)}")
    if labels.dim() != 1 or len(images) == 0 or len(labels) != len(images):
        raise ValueError(
            "need as many labels as images (labels [N], at least one image), "
            f"got images {tuple(images.shape)} and labels {tuple(labels.shape)}"
        )
    if images.dtype == torch.uint8:
        images = images.to(torch.float32) / 255
    elif images.dtype.is_floating_point:
        images = images.to(torch.float32)  # (the same tensor if it already is: its waveforms stay cached)
        lo, hi = torch.aminmax(images)  # (NaN propagates)
        if not 0 <= lo <= hi <= 1:
            raise ValueError(
                f"float images must be in [0, 1] (no NaN or inf), got values in [{float(lo):g}, {float(hi):g}]"
            )
    else:
        raise ValueError(f"images must be float in [0, 1] or uint8 in [0, 255], got dtype {images.dtype}")
    c = info.num_classes
    if labels.dtype == torch.bool or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be integer classes in [0, {c}), got dtype {labels.dtype}")
    labels = labels.to(torch.int64)
    lo, hi = torch.aminmax(labels)
    if lo < 0 or hi >= c:
        raise ValueError(f"labels must be integer classes in [0, {c}), got values in [{int(lo)}, {int(hi)}]")
    return images, labels


# Clean waveforms per (link, image tensor): encoding a split happens once per process.
_WAVEFORMS: weakref.WeakKeyDictionary[SemanticLink, dict[tuple, tuple[Tensor, Tensor]]] = weakref.WeakKeyDictionary()


@torch.no_grad()
def _encode(link: SemanticLink, images: Tensor, device: torch.device, batch: int = 64) -> Tensor:
    per_link = _WAVEFORMS.setdefault(link, {})
    # tensor version counters change with every in-place update (optimizer steps, load_state_dict),
    # so a link trained further after an env was built is re-encoded, never served stale waveforms
    state = tuple((id(t), t._version) for t in (*link.encoder.parameters(), *link.encoder.buffers()))
    key = (id(images), tuple(images.shape), str(device), state)
    hit = per_link.get(key)
    if hit is not None and hit[0] is images:
        return hit[1]
    link.encoder.eval()  # (CPU convolutions run ~2x faster per image in batches of 64 than of 1000)
    x = torch.cat([link.encoder(images[i : i + batch].to(device)) for i in range(0, len(images), batch)])
    per_link[key] = (images, x)  # keeps `images` alive so its id cannot be reused
    return x


def _has_conv(module: torch.nn.Module) -> bool:
    """Whether ``module`` holds a convolution."""
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules())


@dataclass
class Legit:
    """Outcome of the legitimate link for a batch: correctness ``[n]`` bool, PSNR ``[n]`` (dB), the
    receiver's class guess and the true label (``[n]`` int64 each)."""

    correct: Tensor
    psnr: Tensor
    guess: Tensor
    label: Tensor


class SemComGame:
    """One semantic link, two channels and a split of images, played in batches (see module doc).

    Arguments are those of :class:`semgame.envs.SemComEnv` (validated here), plus ``device``.
    """

    def __init__(
        self,
        dataset: str = "mnist",
        role: str = "eavesdropper",
        *,
        rounds: int = 1,
        split: str = "test",
        snr_db: float | tuple[float, float] | None = None,
        eve_snr_db: float | tuple[float, float] | None = None,
        psr_db: float = -10.0,
        include_csi: bool = False,
        include_label: bool = False,
        compute_psnr: bool = True,
        precision: str = "auto",
        link: Any = None,
        eavesdropper: Any = None,
        defence: Any = None,
        data_root: str | None = None,
        images: TensorDataset | tuple[Tensor | np.ndarray, Tensor | np.ndarray] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        if not isinstance(dataset, str):
            raise ValueError(f"dataset must be a dataset name (a str, e.g. 'mnist'), got {type(dataset).__name__}")
        self.info = dataset_info(dataset)  # ValueError naming the choices on an unknown dataset
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        lo, hi = PSR_RANGE_KEYED  # the widest PSR range semgame defends with
        if isinstance(psr_db, bool) or not isinstance(psr_db, numbers.Real) or not lo <= psr_db <= hi:
            raise ValueError(
                f"psr_db (the perturbation budget) must be a number in [{lo:g}, {hi:g}] dB, got {psr_db!r}"
            )
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError):
            self.device = None
        if self.device is None or self.device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:<i>'), got {device!r}")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but torch sees no CUDA GPU")
        self.role, self.split, self.rounds = role, split, int(rounds)
        self.psr_db, self.include_csi, self.include_label = float(psr_db), bool(include_csi), bool(include_label)
        self.budget = PSRBudget(self.psr_db)  # the transmitter role's actions (and a policy object's)
        self.compute_psnr, self.data_root = bool(compute_psnr), data_root
        resolve_precision(precision, self.device)  # a ConfigError (ValueError) naming the choices
        self.precision = precision
        self.cfg, self.link, eve = load_link(link, self.info.name, self.device)
        self.k = self.link.encoder.k
        ch = self.link.channel
        self.snr_db = snr_db if snr_db is not None else (self.cfg.snr_db if self.cfg else ch.awgn.snr_db)
        if eve_snr_db is None:
            eve_snr_db = self.cfg.eve_snr if self.cfg else (eve.channel.awgn.snr_db if eve is not None else self.snr_db)
        self.eve_snr_db = eve_snr_db
        kw = dict(fading=ch.fading, block=ch.block, csi=ch.csi, equalizer=ch.equalizer)
        try:  # FadingChannel validates the SNR specs
            self.legit_channel = FadingChannel(snr_db=self.snr_db, **kw)
            self.eve_channel = FadingChannel(snr_db=self.eve_snr_db, **kw)
        except TypeError as err:
            raise ValueError(str(err)) from None
        self.num_classes = self.info.num_classes
        self.csi_dim = (2 * (1 if ch.block or ch.fading == "none" else self.k) + 1) if self.include_csi else 0
        self.eve_obs_dim = 2 * self.k + self.csi_dim
        self.tx_obs_dim = 2 * self.k + (self.num_classes if self.include_label else 0)
        self._images = None if images is None else as_image_set(images, self.info)
        self.images: Tensor | None = None
        self.labels: Tensor | None = None
        self.x: Tensor | None = None
        self.opponent: Any = None
        self._snr_cache: dict[tuple[int, int], Tensor] = {}  # per-sample SNRs of fixed-SNR channel pairs
        self.surrogate = eve  # the link's own eavesdropper: the transmitter's model of it (adversarial defences)
        self.defence: Defence = build_defence(None)
        if role == "transmitter":
            if eavesdropper is None:
                if eve is None:
                    raise ValueError(
                        "role='transmitter' needs an opponent: pass eavesdropper= (an Eavesdropper agent or a "
                        "NeuralEavesdropper) when link= is a bare SemanticLink"
                    )
                eavesdropper = eve
            self.set_eavesdropper(eavesdropper)
        elif eavesdropper is not None:
            raise ValueError(
                "eavesdropper= is the opponent of role='transmitter'; in role='eavesdropper' you are the eavesdropper"
            )
        self.set_defence(defence)
        if self.include_label and role != "transmitter" and not isinstance(self.defence, PolicyDefence):
            raise ValueError(
                "include_label adds the label to the transmitter's observation; "
                "use role='transmitter' or pass a Transmitter policy as defence="
            )

    # -- opponents -----------------------------------------------------------------------------
    def set_eavesdropper(self, agent: Any) -> None:
        """Replace the opponent eavesdropper of role ``"transmitter"`` (between episodes; never inside a step)."""
        if self.role != "transmitter":
            raise ValueError("set_eavesdropper applies to role='transmitter'")
        if isinstance(agent, NeuralEavesdropper):
            agent = NeuralEavesdropperAgent(agent.classifier.to(self.device), self.k, self.precision)
        check_agent(agent, Eavesdropper)
        self.opponent = agent

    def set_defence(self, defence: Any) -> None:
        """Put a defence between the transmitter and the channel (between episodes; never inside a step).

        ``defence``: ``None`` (undefended), a config such as ``{"kind": "keyed", "psr_db": 10}`` (see
        :func:`~semgame.privacy.defences.build_defence`), a :class:`~semgame.privacy.defences.Defence`,
        or a :class:`~semgame.protocols.Transmitter` policy (its actions scaled onto ``psr_db``, its
        observation the clean waveform [+ label with ``include_label``]). Bad configs raise
        :class:`~semgame.config.ConfigError` (a ``ValueError``).
        """
        ctx = DefenceContext(
            link=self.link,
            surrogate=self.surrogate,
            fit_data=self._fit_data,
            psr_db=self.psr_db,
            include_label=self.include_label,
            num_classes=self.num_classes,
        )
        self.defence = build_defence(defence, ctx)

    def _fit_data(self) -> tuple[Tensor, Tensor]:
        """The env's own clean waveforms and labels (universal perturbations are fitted on them)."""
        self.prepare()
        return self.x, self.labels

    def transmit(self, idx: Tensor, action: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """What goes on the air for images ``idx`` and the transmissions' nonces: the clean waveform
        [+ a transmitter action, :meth:`perturb`] through the defence's transmit side.

        Returns ``(x_tx [n, k] complex64, nonces [n] int64)``.
        """
        x = self.perturb(idx, action)
        nonces = self.defence.next_nonces(len(idx), self.device)
        with torch.no_grad():
            return self.defence.transmit(x, self.labels.index_select(0, idx), nonces), nonces

    # -- data ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Load the split and encode its clean waveforms (once; called by the envs' first reset)."""
        if self.x is not None:
            return
        images, labels = self.load_split()
        self.x = _encode(self.link, images, self.device)
        self.images = images.to(self.device, torch.float32)
        self.labels = labels.to(self.device, torch.int64)

    def load_split(self) -> tuple[Tensor, Tensor]:
        """The split's images ``[N, C, H, W]`` and labels ``[N]`` as found (``images=``, ``data_root``,
        ``$SEMGAME_DATA``, the cache, the folder the link was trained from), validated (``images=`` by
        :func:`as_image_set`, files by :func:`~semgame.data.load_dataset` as it reads them); nothing is
        encoded. Raises :class:`~semgame.data.DataNotFoundError` naming where it looked."""
        if self._images is not None:  # (validated at construction)
            return self._images
        data = None
        if self.data_root is None and self.cfg is not None and self.cfg.data_root:
            # $SEMGAME_DATA / the cache first, then the folder the link was trained from
            for root in (None, self.cfg.data_root):
                try:
                    data = load_dataset(self.info.name, self.split, root=root, download=False)
                    break
                except DataNotFoundError:
                    pass
        if data is None:  # the data module's own search (and its clear error when nothing is found)
            data = load_dataset(self.info.name, self.split, root=self.data_root)
        return data.tensors  # (float32 in [0, 1], labels in range: checked once, when the file was read)

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` image indices, uniform with replacement, ``[n]`` int64 on the device."""
        assert self.x is not None, "prepare() first"
        return torch.randint(len(self.x), (n,), generator=generator, device=self.device)

    # -- one round -----------------------------------------------------------------------------
    def transmitter_obs(self, idx: Tensor) -> Tensor:
        """Clean waveform (I/Q interleaved) [+ one-hot label]: ``[n, tx_obs_dim]`` float32."""
        obs = complex_to_real(self.x.index_select(0, idx))
        if self.include_label:
            label = torch.nn.functional.one_hot(self.labels.index_select(0, idx), self.num_classes)
            obs = torch.cat([obs, label.float()], -1)
        return obs

    def perturb(self, idx: Tensor, action: Tensor | None) -> Tensor:
        """The transmitter's waveform before the defence: ``x + delta``, ``delta = a * sqrt(10^(psr_db/10) * P_x / 2)``
        (:meth:`~semgame.privacy.perturbation.PSRBudget.box`).

        ``a`` is ``[n, 2k]`` in [-1, 1] (I/Q interleaved), so the perturbation power per sample,
        ``mean_k |delta|^2``, is at most ``10^(psr_db/10)`` times the sample's signal power ``P_x``
        (equality when every ``|a_i| = 1``); ``a = 0`` (or ``None``) transmits the clean waveform.
        """
        x = self.x.index_select(0, idx)
        if action is None:
            return x
        return self.budget.send(x, self.budget.box(action, x))

    def eavesdropper_obs(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The eavesdropper's received waveform (I/Q) [+ CSI: Re h, Im h, SNR dB]: ``[n, eve_obs_dim]``."""
        return self.eve_features(*self.eve_channel(x, generator=generator))

    def eve_features(self, y: Tensor, state: ChannelState) -> Tensor:
        """Observation features of what the eavesdropper received (``y`` and its channel state)."""
        obs = complex_to_real(y)
        if self.include_csi:
            h = state.h[:, :1] if self.csi_dim == 3 else state.h
            obs = torch.cat([obs, complex_to_real(h), state.snr_db.unsqueeze(-1)], -1)
        return obs

    def both_channels(
        self, x_legit: Tensor, x_eve: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, ChannelState, Tensor, ChannelState]:
        """The legitimate channel on ``x_legit`` and the eavesdropper's on ``x_eve`` in one batched pass.

        Both channels share fading, CSI and equaliser settings and differ in SNR only, so one
        :class:`~semgame.channels.FadingChannel` call with per-sample SNRs is the two channels (half
        the kernel launches of two calls). Returns ``(y_legit, legit_state, y_eve, eve_state)``.
        """
        n, m, dev = len(x_legit), len(x_eve), self.device
        fixed = not isinstance(self.snr_db, tuple) and not isinstance(self.eve_snr_db, tuple)
        snr = self._snr_cache.get((n, m)) if fixed else None
        if snr is None:
            snr = torch.cat(
                [
                    sample_snr_db(self.snr_db, n, device=dev, generator=generator),
                    sample_snr_db(self.eve_snr_db, m, device=dev, generator=generator),
                ]
            )
            if fixed:
                self._snr_cache[(n, m)] = snr
        y, state = self.legit_channel(torch.cat([x_legit, x_eve]), snr_db=snr, generator=generator)
        legit_state = ChannelState(h=state.h[:n], noise_var=state.noise_var[:n], snr_db=state.snr_db[:n])
        eve_state = ChannelState(h=state.h[n:], noise_var=state.noise_var[n:], snr_db=state.snr_db[n:])
        return y[:n], legit_state, y[n:], eve_state

    @torch.no_grad()
    def eavesdropper_round(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Legit]:
        """``n`` whole transmissions of role ``"eavesdropper"``, whose outcome no action changes: images
        drawn (:meth:`draw`), sent (:meth:`transmit`), and received by both receivers in one batched pass
        (:meth:`both_channels`).

        Returns ``(idx [n] int64, eavesdropper observations [n, eve_obs_dim] float32, legitimate outcome)``.
        """
        idx = self.draw(n, generator)
        x, nonces = self.transmit(idx)
        y_legit, legit_state, y_eve, eve_state = self.both_channels(x, x, generator)
        return idx, self.eve_features(y_eve, eve_state), self.receive(y_legit, legit_state, idx, nonces)

    @torch.no_grad()
    def legit(self, x: Tensor, idx: Tensor, nonces: Tensor, generator: torch.Generator) -> Legit:
        """Legitimate channel + receiver on what is on the air, ``x``: correctness and PSNR per sample."""
        return self.receive(*self.legit_channel(x, generator=generator), idx, nonces)

    @torch.no_grad()
    def receive(self, y: Tensor, state: ChannelState, idx: Tensor, nonces: Tensor) -> Legit:
        """The legitimate receiver on its received ``y`` (channel ``state``) for images ``idx`` sent with
        ``nonces``: the defence's receiver hook, then classification and reconstruction (PSNR)."""
        rx = self.defence.receiver(self.link)
        y = self.defence.receive(self.link, y, state, nonces)
        amp = autocast(self.precision, self.device)
        # on CPU, convolutions run faster per image in chunks (the conv classifier's of 256, ~1.3x
        # faster than 1,024; the decoders' of 64, 2-3x) than in one big batch; an MLP does not
        cpu = self.device.type == "cpu"
        chunk = 256 if cpu and _has_conv(rx.classifier) else len(y)
        with amp:
            guess = torch.cat([rx.classifier(yc).argmax(-1) for yc in y.split(chunk)])
        if self.compute_psnr:
            chunk, parts = 64 if cpu else len(y), []
            for yc, ic in zip(y.split(chunk), idx.split(chunk)):  # (each chunk's PSNR while it is in cache)
                with amp:
                    recon = rx.decoder(yc)
                parts.append(_psnr(recon.float(), self.images.index_select(0, ic)))
            quality = torch.cat(parts)
        else:
            quality = torch.full((len(idx),), float("nan"), device=self.device)
        labels = self.labels.index_select(0, idx)
        return Legit(correct=guess == labels, psnr=quality, guess=guess, label=labels)

    @torch.no_grad()
    def opponent_guess(self, eve_obs: Tensor) -> Tensor:
        """The opponent eavesdropper's class guesses for a batch of its observations, ``[n]`` int64."""
        agent, n, c = self.opponent, len(eve_obs), self.num_classes
        out = agent.act(eve_obs if getattr(agent, "accepts_tensors", False) else eve_obs.cpu().numpy())
        expected = f"eavesdropper {type(agent).__name__}.act must return {n} integer class guesses in [0, {c})"
        guess = as_device_tensor(out, self.device, expected).reshape(-1)
        if guess.shape != (n,) or guess.dtype.is_floating_point or guess.dtype.is_complex or guess.dtype == torch.bool:
            raise ValueError(f"{expected}, got {tuple(guess.shape)} {guess.dtype}")
        guess = guess.to(torch.int64)
        bad = (guess < 0) | (guess >= c)
        if bool(bad.any()):
            raise ValueError(f"{expected}, got values outside it: {guess[bad][:4].tolist()}")
        return guess

    def render_rgb(self, idx: int, recon: Tensor | None = None) -> np.ndarray:
        """``H x W(x2) x 3`` uint8: the image being transmitted [| the last reconstruction]."""
        parts = [self.images[idx]] + ([recon] if recon is not None else [])
        img = torch.cat([p.detach().cpu().float() for p in parts], dim=-1).clamp(0, 1)
        if img.shape[0] == 1:
            img = img.expand(3, -1, -1)
        return (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def seeded_torch_generator(np_random: np.random.Generator, device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from a NumPy generator (one ``integers`` draw)."""
    return torch.Generator(device=device).manual_seed(int(np_random.integers(0, 2**62)))
