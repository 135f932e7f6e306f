"""Neural blocks of a semantic link: encoder, receiver decoders and the eavesdropper.

Every block speaks the channel convention of :mod:`semgame.channels`: the waveform is
``[batch, k] complex64`` with unit average power per complex symbol, per sample.

* :class:`Encoder` — images ``[batch, C, H, W] float32`` in [0, 1] -> waveform ``[batch, k] complex64``.
* :class:`LatentClassifier` — waveform -> class logits ``[batch, num_classes] float32``.
  The legitimate receiver's semantic-inference head and the eavesdropper share this design,
  so an eavesdropper is never handicapped by a weaker architecture.
* :class:`ReconstructionDecoder` — waveform -> images ``[batch, C, H, W]`` in [0, 1].
* :class:`Receiver` — the legitimate receiver: one classifier and one decoder on the same waveform.

Two architectures (``arch``, see :data:`ARCHS`) share these interfaces:

* ``"dense"`` — :class:`Encoder` squeezes a conv trunk through one linear layer to ``2k`` reals;
  :class:`LatentClassifier` (an MLP) and :class:`ReconstructionDecoder` read the flat waveform.
* ``"spatial"`` — fully convolutional, in the manner of Deep JSCC: :class:`SpatialEncoder` emits
  a ``C x H/4 x W/4`` feature map whose ``2k = C * (H/4) * (W/4)`` reals *are* the waveform
  (flattened, I/Q interleaved, power-normalised per sample); :class:`SpatialClassifier` and
  :class:`SpatialDecoder` fold the received waveform back into that map
  (:func:`latent_layout`). E.g. CIFAR-10, ``k = 256``: 8 channels x 8 x 8.

:func:`make_encoder`, :func:`make_classifier` and :func:`make_decoder` pick the blocks of an
``arch``. The legitimate receiver and the eavesdropper always get the same classifier design.
Sizes scale with ``width``; the defaults train on a CPU in minutes for MNIST.

Example:
    >>> import torch
    >>> enc = Encoder((1, 28, 28), k=16)
    >>> x = enc(torch.rand(4, 1, 28, 28))
    >>> x.shape, x.dtype
    (torch.Size([4, 16]), torch.complex64)
    >>> Receiver((1, 28, 28), k=16, num_classes=10)(x)[0].shape
    torch.Size([4, 10])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semgame.channels import complex_to_real, normalize_power, real_to_complex

__all__ = [
    "ARCHS",
    "Encoder",
    "LatentClassifier",
    "ReconstructionDecoder",
    "SpatialEncoder",
    "SpatialClassifier",
    "SpatialDecoder",
    "Receiver",
    "make_encoder",
    "make_classifier",
    "make_decoder",
    "latent_layout",
    "feature_grid",
    "count_parameters",
]

ARCHS = ("dense", "spatial")
"""Link architectures: ``"dense"`` (flat latent, the original) and ``"spatial"`` (latent feature map)."""


def latent_layout(arch: str, image_shape: tuple[int, ...], k: int) -> tuple[int, int] | None:
    """``(channels, side)`` of the spatial latent map, or ``None`` for ``arch="dense"``.

    The spatial latent has side ``H // 4`` (8 for CIFAR-10, 7 for MNIST), so ``2k`` must be a
    multiple of ``side**2``; anything else is a :class:`ValueError` naming the valid ``k``.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"latent dimension k must be a positive integer, got {k!r}")
    if arch == "dense":
        return None
    side = image_shape[1] // 4
    step = side * side // 2 if side % 2 == 0 else side * side  # smallest k with 2k % side**2 == 0
    if (2 * k) % (side * side):
        raise ValueError(
            f"arch='spatial' lays the 2k reals of the waveform on a C x {side} x {side} feature map, so k must be a "
            f"multiple of {step} for {image_shape[1]}x{image_shape[2]} images "
            f"(e.g. {step}, {2 * step}, {4 * step}); got k={k}"
        )
    return 2 * k // (side * side), side


def feature_grid(image_shape: tuple[int, int, int], width: int) -> tuple[list[int], int]:
    """Channel widths of the stride-2 stages and the side of the final feature map.

    28x28 images get two stages (to 7x7), 32x32 images three (to 4x4); stage ``i`` has
    ``width * 2**i`` channels.
    """
    stages = 2 if image_shape[1] <= 28 else 3
    return [width * 2**i for i in range(stages)], image_shape[1] // 2**stages


def _conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _channels_last(x: Tensor) -> Tensor:
    # oneDNN / cuDNN convolutions run faster on NHWC; every op here accepts either layout
    return x.contiguous(memory_format=torch.channels_last)


class Encoder(nn.Module):
    """Transmitter encoder: images to a power-normalised complex waveform.

    Input: ``[batch, C, H, W] float32`` in [0, 1]. Output: ``[batch, k] complex64``, unit
    average power per symbol for every sample. A conv trunk with ``stages`` stride-2 blocks
    (see :func:`feature_grid`) feeds a linear layer emitting ``2k`` reals viewed as complex.
    """

    def __init__(self, image_shape: tuple[int, int, int], k: int, width: int = 16) -> None:
        super().__init__()
        if k <= 0:
            raise ValueError(f"latent dimension k must be a positive integer, got {k}")
        chans, side = feature_grid(image_shape, width)
        layers: list[nn.Module] = [_conv_block(image_shape[0], width, 1)]
        c = width
        for c_next in chans:
            layers += [_conv_block(c, c_next, 2), _conv_block(c_next, c_next, 1)]
            c = c_next
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c * side * side, 2 * k)
        self.k = k

    def forward(self, images: Tensor) -> Tensor:
        return normalize_power(real_to_complex(self.head(self.trunk(images))))


class LatentClassifier(nn.Module):
    """Semantic inference from a received waveform.

    Input: ``[batch, k] complex64`` (equalised or raw). Output: logits ``[batch, num_classes] float32``.
    """

    def __init__(self, k: int, num_classes: int = 10, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * k, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, y: Tensor) -> Tensor:
        return self.net(complex_to_real(y))


class ReconstructionDecoder(nn.Module):
    """Image reconstruction from a received waveform.

    Input: ``[batch, k] complex64``. Output: ``[batch, C, H, W] float32`` in [0, 1].
    Mirrors :class:`Encoder`: a linear layer to a small feature map, then transposed convs (in
    channels-last memory format, 2x faster on CPU; the output is contiguous NCHW).
    """

    def __init__(self, image_shape: tuple[int, int, int], k: int, width: int = 16) -> None:
        super().__init__()
        chans, side = feature_grid(image_shape, width)
        c = chans[-1]
        self.side, self.c = side, c
        self.fc = nn.Sequential(nn.Linear(2 * k, c * side * side), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i in reversed(range(len(chans))):
            c_next = chans[max(i - 1, 0)]
            layers += [
                nn.ConvTranspose2d(c, c_next, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_next),
                nn.ReLU(inplace=True),
            ]
            if i > 0:
                layers.append(_conv_block(c_next, c_next, 1))
            c = c_next
        layers += [nn.Conv2d(c, image_shape[0], 3, padding=1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, y: Tensor) -> Tensor:
        feat = self.fc(complex_to_real(y)).view(-1, self.c, self.side, self.side)
        return self.net(_channels_last(feat)).contiguous()


def _up_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    """``x + block(x)``: a stride-1 conv block with an identity shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = _conv_block(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class SpatialEncoder(nn.Module):
    """Fully convolutional transmitter encoder (``arch="spatial"``).

    Input: ``[batch, C, H, W] float32`` in [0, 1]. Output: ``[batch, k] complex64``, unit average
    power per symbol for every sample. Two stride-2 stages (a 5x5 conv to ``2 * width`` channels,
    a 3x3 conv to ``4 * width``, each followed by a residual block) reach ``H/4 x W/4``; a last
    conv emits the ``channels`` of :func:`latent_layout`, flattened into ``2k`` reals (I/Q
    interleaved). Nothing runs at full resolution but the first conv (CPU time goes to memory
    traffic there). Power normalisation runs in float32, also under autocast.

    >>> import torch
    >>> SpatialEncoder((3, 32, 32), k=256, width=8)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 256])
    """

    def __init__(self, image_shape: tuple[int, int, int], k: int, width: int = 16) -> None:
        super().__init__()
        channels, _ = latent_layout("spatial", image_shape, k)
        self.trunk = nn.Sequential(
            nn.Conv2d(image_shape[0], 2 * width, 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            _Residual(2 * width),
            _conv_block(2 * width, 4 * width, 2),
            _Residual(4 * width),
        )
        self.head = nn.Conv2d(4 * width, channels, 3, padding=1)
        self.k = k

    def forward(self, images: Tensor) -> Tensor:
        z = self.head(self.trunk(_channels_last(images)))
        return normalize_power(real_to_complex(z.flatten(1).float()))


def _latent_map(y: Tensor, channels: int, side: int) -> Tensor:
    """Received waveform ``[batch, k] complex`` -> the ``[batch, channels, side, side]`` float32 map."""
    return _channels_last(complex_to_real(y).view(-1, channels, side, side))


class SpatialClassifier(nn.Module):
    """Semantic inference from a received waveform folded back into the latent map (``arch="spatial"``).

    Input: ``[batch, k] complex64``. Output: logits ``[batch, num_classes] float32``. Convs at
    ``H/4`` (``4 * width`` channels) and ``H/8`` (``8 * width``), global average pooling, one
    linear layer.
    """

    def __init__(self, image_shape: tuple[int, int, int], k: int, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.channels, self.side = latent_layout("spatial", image_shape, k)
        self.net = nn.Sequential(
            _conv_block(self.channels, 4 * width, 1),
            _Residual(4 * width),
            _conv_block(4 * width, 8 * width, 2),
            _Residual(8 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8 * width, num_classes),
        )

    def forward(self, y: Tensor) -> Tensor:
        return self.net(_latent_map(y, self.channels, self.side))


class SpatialDecoder(nn.Module):
    """Image reconstruction from the received latent map (``arch="spatial"``), mirroring :class:`SpatialEncoder`.

    Input: ``[batch, k] complex64``. Output: ``[batch, C, H, W] float32`` in [0, 1]. A conv and a
    residual block at ``H/4`` (``4 * width``), a transposed conv to ``H/2`` (``2 * width``) and a
    residual block, then a transposed conv straight to the image channels and a sigmoid.
    """

    def __init__(self, image_shape: tuple[int, int, int], k: int, width: int = 16) -> None:
        super().__init__()
        self.channels, self.side = latent_layout("spatial", image_shape, k)
        self.net = nn.Sequential(
            _conv_block(self.channels, 4 * width, 1),
            _Residual(4 * width),
            _up_block(4 * width, 2 * width),
            _Residual(2 * width),
            nn.ConvTranspose2d(2 * width, image_shape[0], 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, y: Tensor) -> Tensor:
        return self.net(_latent_map(y, self.channels, self.side)).contiguous()


def make_encoder(arch: str, image_shape: tuple[int, int, int], k: int, width: int) -> nn.Module:
    """The transmitter encoder of ``arch`` (:class:`Encoder` or :class:`SpatialEncoder`)."""
    latent_layout(arch, image_shape, k)
    return Encoder(image_shape, k, width) if arch == "dense" else SpatialEncoder(image_shape, k, width)


def make_classifier(arch: str, image_shape: tuple[int, int, int], k: int, num_classes: int, width: int) -> nn.Module:
    """The waveform classifier of ``arch``: the legitimate receiver's head *and* the eavesdropper's.

    ``"dense"``: :class:`LatentClassifier` (``width`` unused); ``"spatial"``: :class:`SpatialClassifier`.
    """
    latent_layout(arch, image_shape, k)
    if arch == "dense":
        return LatentClassifier(k, num_classes)
    return SpatialClassifier(image_shape, k, num_classes, width)


def make_decoder(arch: str, image_shape: tuple[int, int, int], k: int, width: int) -> nn.Module:
    """The reconstruction decoder of ``arch`` (:class:`ReconstructionDecoder` or :class:`SpatialDecoder`)."""
    latent_layout(arch, image_shape, k)
    return ReconstructionDecoder(image_shape, k, width) if arch == "dense" else SpatialDecoder(image_shape, k, width)


class Receiver(nn.Module):
    """Legitimate receiver: semantic inference and reconstruction from one waveform.

    Input: ``[batch, k] complex64``. Output: ``(logits [batch, num_classes], images [batch, C, H, W])``.
    ``arch`` picks the blocks (:func:`make_classifier`, :func:`make_decoder`).
    """

    def __init__(
        self, image_shape: tuple[int, int, int], k: int, num_classes: int = 10, width: int = 16, arch: str = "dense"
    ) -> None:
        super().__init__()
        self.classifier = make_classifier(arch, image_shape, k, num_classes, width)
        self.decoder = make_decoder(arch, image_shape, k, width)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.classifier(y), self.decoder(y)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
