"""Neural blocks of a semantic link: encoder, receiver decoders and the eavesdropper.

Every block speaks the channel convention of :mod:`semgame.channels`: the waveform is
``[batch, k] complex64`` with unit average power per complex symbol, per sample.

* :class:`Encoder` — images ``[batch, C, H, W] float32`` in [0, 1] -> waveform ``[batch, k] complex64``.
* :class:`LatentClassifier` — waveform -> class logits ``[batch, num_classes] float32``.
  The legitimate receiver's semantic-inference head and the eavesdropper share this design,
  so an eavesdropper is never handicapped by a weaker architecture.
* :class:`ReconstructionDecoder` — waveform -> images ``[batch, C, H, W]`` in [0, 1].
* :class:`Receiver` — the legitimate receiver: one classifier and one decoder on the same waveform.

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

from torch import Tensor, nn

from semgame.channels import complex_to_real, normalize_power, real_to_complex

__all__ = ["Encoder", "LatentClassifier", "ReconstructionDecoder", "Receiver", "feature_grid", "count_parameters"]


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
            nn.Linear(2 * k, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, y: Tensor) -> Tensor:
        return self.net(complex_to_real(y))


class ReconstructionDecoder(nn.Module):
    """Image reconstruction from a received waveform.

    Input: ``[batch, k] complex64``. Output: ``[batch, C, H, W] float32`` in [0, 1].
    Mirrors :class:`Encoder`: a linear layer to a small feature map, then transposed convs.
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
        return self.net(feat)


class Receiver(nn.Module):
    """Legitimate receiver: semantic inference and reconstruction from one waveform.

    Input: ``[batch, k] complex64``. Output: ``(logits [batch, num_classes], images [batch, C, H, W])``.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], k: int, num_classes: int = 10, width: int = 16
    ) -> None:
        super().__init__()
        self.classifier = LatentClassifier(k, num_classes)
        self.decoder = ReconstructionDecoder(image_shape, k, width)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.classifier(y), self.decoder(y)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)

