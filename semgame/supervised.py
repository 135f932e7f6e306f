"""The base of eavesdroppers that learn from labelled interceptions (``agents/neural_eavesdropper.py``,
``agents/linear_eavesdropper.py``): a torch classifier from observations to class logits, trained in
:meth:`SupervisedEavesdropper.update`, between steps, never inside ``env.step``.

Subclass it and build the network in ``__init__``::

    class TinyEavesdropper(SupervisedEavesdropper):
        def __init__(self, obs_dim=32, num_classes=10, seed=0, device="cpu"):
            super().__init__(lambda: nn.Linear(obs_dim, num_classes), lr=1e-2, seed=seed, device=device)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from semgame.config import MAX_SEED, ConfigError, check_int, check_lr
from semgame.training import resolve_device

__all__ = ["SupervisedEavesdropper"]


class SupervisedEavesdropper:
    """An :class:`~semgame.protocols.Eavesdropper` around ``build() -> nn.Module`` (``[n, obs_dim]`` float32
    observations -> ``[n, num_classes]`` logits), built with seeded weights (the caller's RNG untouched) on
    ``device``. :meth:`update` runs ``epochs`` passes of Adam (``lr``, cross-entropy, batches of
    ``batch_size`` in an order drawn from a generator seeded with ``seed``) over the interceptions given.
    """

    accepts_tensors = True  # gets torch tensors on the env device (no host copies on GPU)

    def __init__(
        self,
        build: Callable[[], nn.Module],
        *,
        lr: float,
        epochs: int = 3,
        batch_size: int = 256,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        check_lr("lr", lr)
        check_int("epochs", epochs)
        check_int("batch_size", batch_size)
        check_int("seed", seed, low=0, high=MAX_SEED)
        try:
            device = resolve_device(device)
        except (RuntimeError, TypeError):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from None
        with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
            torch.manual_seed(seed)
            self.net = build().to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.epochs, self.batch_size, self.device = epochs, batch_size, device
        self.gen = torch.Generator().manual_seed(seed)
        self._classes: int | None = None

    def logits_model(self) -> nn.Module:
        """The module mapping observations to class logits (white-box access, e.g. for a PGD transmitter)."""
        return self.net

    @torch.no_grad()
    def act(self, obs: Any) -> torch.Tensor:
        """``[n, obs_dim]`` observations (array or tensor) -> ``[n]`` int64 guesses (argmax of the logits)."""
        self.net.eval()
        return self.net(torch.as_tensor(obs, dtype=torch.float32, device=self.device)).argmax(-1)

    def update(self, obs: Any, labels: Any) -> dict[str, float]:
        """Fit on labelled interceptions ``obs [n, obs_dim]``, ``labels [n]``; returns the mean loss and the
        training accuracy over the passes."""
        x = torch.as_tensor(obs, dtype=torch.float32).to(self.device)
        y = torch.as_tensor(labels, dtype=torch.int64).to(self.device)
        if x.ndim != 2 or y.shape != (len(x),) or not len(x):
            raise ValueError(
                f"update needs obs [n, obs_dim] and labels [n], n >= 1; got {tuple(x.shape)}, {tuple(y.shape)}"
            )
        if self._classes is None:  # (the network's output size, read once)
            self.net.eval()
            with torch.no_grad():
                self._classes = self.net(x[:1]).shape[-1]
        classes = self._classes
        lo, hi = torch.stack(torch.aminmax(y)).tolist()  # (one host sync per update)
        if lo < 0 or hi >= classes:
            raise ValueError(f"labels must be classes in [0, {classes}), got {lo}..{hi}")
        self.net.train()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)  # loss, correct: no host sync per batch
        seen = 0
        for _ in range(self.epochs):
            for idx in torch.randperm(len(x), generator=self.gen).to(self.device).split(self.batch_size):
                logits = self.net(x[idx])
                loss = nn.functional.cross_entropy(logits, y[idx])
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                sums += torch.stack([loss.detach().double() * len(idx), (logits.argmax(-1) == y[idx]).sum().double()])
                seen += len(idx)
        loss_sum, correct = sums.tolist()
        return {"loss": loss_sum / seen, "train_acc": correct / seen}
