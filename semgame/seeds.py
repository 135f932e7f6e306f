"""Seeded random streams: every random draw in training and evaluation comes from here.

A stream is identified by ``(seed, stream id, *parts)`` (e.g. the epoch), mixed into one
``torch.Generator`` seed by :func:`seeded_generator`, so a resumed run repeats exactly what an
uninterrupted one does and two phases never share draws. The ids below are fixed forever: the
published results were produced with them.

Example:
    >>> a = seeded_generator(0, Stream.LINK_SHUFFLE, 3)
    >>> b = seeded_generator(0, Stream.LINK_SHUFFLE, 3)
    >>> bool((torch.randperm(5, generator=a) == torch.randperm(5, generator=b)).all())
    True
"""

from __future__ import annotations

from enum import IntEnum

import torch

__all__ = ["Stream", "seeded_generator", "eve_seed", "UNDEFENDED_EVE", "SURROGATE_EVE"]


class Stream(IntEnum):
    """Ids of the seeded random streams (the first ``part`` of :func:`seeded_generator`)."""

    LINK_SHUFFLE = 1
    LINK_NOISE = 2
    EVE_SHUFFLE = 3
    EVE_NOISE = 4
    EVAL_LEGIT_NOISE = 5
    EVAL_EVE_NOISE = 6
    SUBSET = 7
    AUGMENT = 8
    MINMAX_SHUFFLE = 10
    MINMAX_LEGIT_NOISE = 11
    MINMAX_EVE_NOISE = 12
    ADVERSARIAL_CRAFT = 21
    FINETUNE_SHUFFLE = 30
    FINETUNE_NOISE = 31
    HOLDOUT_SPLIT = 40
    HOLDOUT_NOISE = 41
    MINMAX_EVE_INIT = 42


UNDEFENDED_EVE = 901
"""Seat of the eavesdropper trained on the undefended link (the *transfer* column): :func:`eve_seed`."""
SURROGATE_EVE = 777
"""Seat of the transmitter's own surrogate eavesdropper (adversarial perturbations): :func:`eve_seed`."""
MAX_FRESH_EVES = SURROGATE_EVE
"""Most fresh eavesdroppers one leakage evaluation trains: seats ``0 .. 776``, below the fixed seats."""


def eve_seed(seed: int, seat: int) -> int:
    """Seed of an evaluation eavesdropper: ``seed * 1000 + seat``.

    Fresh eavesdropper ``j`` of a leakage evaluation sits at seat ``j`` (``0 <= j <`` :data:`MAX_FRESH_EVES`);
    :data:`UNDEFENDED_EVE` and :data:`SURROGATE_EVE` are the two fixed seats.
    """
    return seed * 1000 + seat


def seeded_generator(seed: int, *parts: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator seeded from ``seed`` and any number of integer ``parts`` (stream id, epoch, ...)."""
    mixed = seed
    for p in parts:
        mixed = (mixed * 1_000_003 + p + 1) % (2**63 - 1)
    return torch.Generator(device=device).manual_seed(mixed)
