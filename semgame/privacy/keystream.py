"""A keyed pseudo-random stream per transmission: AES-256-CTR from the ``cryptography`` package.

Keyed defences (:mod:`semgame.privacy.keyed`, :mod:`semgame.privacy.rotation`) need, per
transmission, random numbers that the transmitter and the legitimate receiver can both regenerate
from a shared secret ``key`` and a public per-transmission *nonce*, and that nobody else can
predict. :class:`KeyStream` gives them from a real stream cipher:

* **Key.** ``AES key = HKDF-SHA256(key, info="semgame keystream v1 | <purpose>")`` (32 bytes), so
  different defences under the same user key draw unrelated streams.
* **Stream.** For nonce ``n`` (an integer ``0 <= n < 2**96``), byte ``j`` of the stream is byte ``j`` of
  AES-256-CTR with initial counter block ``n (12 bytes, big-endian) || 0 (4 bytes)``: block ``i`` is
  ``AES_K(n || i)``. The blocks of a whole batch of nonces are enciphered in one call
  (``AES-ECB`` over the counter blocks, which is exactly the CTR key stream; a test checks it against
  the library's ``modes.CTR``).
* **Numbers.** ``uniform``: 64-bit words ``w`` -> ``((w >> 11) + 0.5) / 2**53`` in ``(0, 1)`` (float64);
  ``complex_normal``: Box-Muller on two uniforms, ``CN(0, 1)``; ``permutations``: ``argsort`` of 63-bit
  words (ties have probability below ``k**2 / 2**64``).

**Nonces must never repeat under one key**: a repeated nonce repeats the stream (the two-time pad).
A nonce that appears twice in one call is refused; the caller owns uniqueness across calls (the
benchmarks number transmissions with a counter).

Example:
    >>> ks = KeyStream(b"secret", "doc")
    >>> u = ks.uniform([0, 1], 3)
    >>> u.shape, u.dtype, bool(((u > 0) & (u < 1)).all())
    (torch.Size([2, 3]), torch.float64, True)
    >>> bool((KeyStream(b"secret", "doc").uniform([1], 3) == u[1:]).all())
    True
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from torch import Tensor

from semgame.config import ConfigError

__all__ = ["MissingKeyError", "NonceError", "KeyStream", "key_bytes", "cli_key", "nonce_array"]

MAX_NONCE = 1 << 96
_BLOCK = 16
_TOML_INT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)|0x[0-9A-Fa-f](_?[0-9A-Fa-f])*|0o[0-7](_?[0-7])*|0b[01](_?[01])*")


class MissingKeyError(ConfigError):
    """A keyed operation was attempted without a (non-empty) key."""


class NonceError(ConfigError):
    """Nonces that are not integers in ``[0, 2**96)``, or one nonce used twice in one call."""


def key_bytes(key: object) -> bytes:
    """The user key as bytes: an int (two's complement, big-endian), a non-empty str (UTF-8) or bytes."""
    if key is None:
        raise MissingKeyError("a keyed defence needs a secret key (got key=None); pass key=<int|str|bytes>")
    if isinstance(key, bool):
        raise MissingKeyError(f"key must be an int, str or bytes, got {key!r}")
    if isinstance(key, int):
        return key.to_bytes((key.bit_length() + 8) // 8 or 1, "big", signed=True)
    if isinstance(key, str):
        if not key:
            raise MissingKeyError("key must not be empty")
        return key.encode()
    if isinstance(key, (bytes, bytearray)):
        if not key:
            raise MissingKeyError("key must not be empty")
        return bytes(key)
    raise MissingKeyError(f"key must be an int, str or bytes, got {type(key).__name__}")


def cli_key(text: str) -> int | str:
    """A key as written on a command line, read as a config file reads it: a TOML integer literal
    (``1234``, ``0x5EC2E7``, ``1_000``) is that integer, anything else the string itself.

    So ``--key 1234`` and ``key = 1234`` in a TOML config are one key (an int and its decimal string
    give different key streams); ``--key my-secret`` and ``key = "my-secret"`` too.

    >>> cli_key("0x5EC2E7"), cli_key("my-secret"), cli_key("007")
    (6210279, 'my-secret', '007')
    """
    return int(text, 0) if _TOML_INT.fullmatch(text) else text


def nonce_array(nonces: object) -> list[int]:
    """Nonces (a ``[batch]`` integer tensor, a sequence of ints or one int) as a list, validated.

    Each must be an integer in ``[0, 2**96)`` and none may repeat (:class:`NonceError`).
    """
    if isinstance(nonces, Tensor):
        if nonces.is_floating_point() or nonces.is_complex() or nonces.dtype == torch.bool:
            raise NonceError(f"nonces must be an integer tensor, got dtype {nonces.dtype}")
        nonces = nonces.reshape(-1).tolist()
    elif isinstance(nonces, int) and not isinstance(nonces, bool):
        nonces = [nonces]
    try:
        out = list(nonces)  # type: ignore[call-overload]
    except TypeError:
        raise NonceError(f"nonces must be integers, got {type(nonces).__name__}") from None
    for n in out:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < MAX_NONCE:
            raise NonceError(f"nonces must be integers in [0, 2**96), got {n!r}")
    out = [int(n) for n in out]
    if len(set(out)) != len(out):
        seen: set[int] = set()
        for n in out:
            if n in seen:
                raise NonceError(f"nonce {n} is used twice in one call; a nonce must never be reused under a key")
            seen.add(n)
    return out


class KeyStream:
    """AES-256-CTR key stream per nonce, for one ``key`` and one ``purpose`` (see the module docstring).

    Args:
        key: the shared secret (int, non-empty str or bytes); ``None`` or empty is a
            :class:`MissingKeyError`.
        purpose: a label that separates the streams of different uses of one key.
    """

    def __init__(self, key: object, purpose: str) -> None:
        material = key_bytes(key)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"semgame keystream v1 | " + purpose.encode())
        self._cipher = Cipher(algorithms.AES(hkdf.derive(material)), modes.ECB())
        self.purpose = purpose

    def bytes(self, nonces: object, nbytes: int) -> np.ndarray:
        """The first ``nbytes`` bytes of each nonce's stream, ``uint8 [len(nonces), nbytes]``."""
        ns = nonce_array(nonces)
        blocks = -(-nbytes // _BLOCK)
        if not ns or not blocks:
            return np.zeros((len(ns), nbytes), np.uint8)
        # counter block i of nonce n: n (96 bits) || i (32 bits), as two big-endian 64-bit words
        n_arr = np.array(ns, dtype=object)
        ctr = np.empty((len(ns), blocks, 2), dtype=">u8")
        ctr[:, :, 0] = np.array(n_arr >> 32, dtype=np.uint64)[:, None]
        ctr[:, :, 1] = (np.array(n_arr & 0xFFFFFFFF, dtype=np.uint64) << np.uint64(32))[:, None] | np.arange(
            blocks, dtype=np.uint64
        )
        enc = self._cipher.encryptor()
        out = np.frombuffer(enc.update(ctr.tobytes()) + enc.finalize(), dtype=np.uint8)
        return out.reshape(len(ns), blocks * _BLOCK)[:, :nbytes]

    def words(self, nonces: object, n: int) -> np.ndarray:
        """``n`` unsigned 64-bit words per nonce (little-endian from the stream), ``uint64 [batch, n]``."""
        return np.ascontiguousarray(self.bytes(nonces, 8 * n)).view("<u8")

    def uniform(self, nonces: object, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``float64 [batch, n]`` uniform in the open interval ``(0, 1)`` (53-bit resolution)."""
        w = self.words(nonces, n) >> np.uint64(11)
        return torch.from_numpy((w.astype(np.float64) + 0.5) / float(1 << 53)).to(device)

    def complex_normal(self, nonces: object, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``complex64 [batch, n]`` i.i.d. ``CN(0, 1)`` (Box-Muller: modulus from one uniform, phase from the next)."""
        u = self.uniform(nonces, 2 * n)
        radius = torch.sqrt(-torch.log(u[:, 0::2]))  # |z|^2 ~ Exp(1)
        z = torch.polar(radius, 2.0 * math.pi * u[:, 1::2])
        return z.to(torch.complex64).to(device)

    def permutations(self, nonces: object, rows: int, k: int, device: torch.device | str = "cpu") -> Tensor:
        """``int64 [batch, rows, k]``: ``rows`` uniformly random permutations of ``range(k)`` per nonce."""
        w = (self.words(nonces, rows * k) >> np.uint64(1)).astype(np.int64)
        return torch.from_numpy(w).reshape(-1, rows, k).argsort(dim=-1).to(device)

    def __repr__(self) -> str:
        return f"KeyStream(purpose={self.purpose!r}, key=<secret>)"
