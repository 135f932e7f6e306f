"""Image-quality and accuracy metrics, per sample and batched.

Images are ``[batch, C, H, W] float32`` in [0, 1]. SSIM comes from ``pytorch_msssim``
(Gaussian window 11, sigma 1.5, the Wang et al. constants).
"""

from __future__ import annotations

import torch
from pytorch_msssim import ssim as _ssim
from torch import Tensor

__all__ = ["psnr", "ssim", "accuracy"]


def psnr(pred: Tensor, target: Tensor, eps: float = 1e-10) -> Tensor:
    """Per-image PSNR in dB for data range 1: ``[batch, C, H, W]`` x2 -> ``[batch]``."""
    mse = (pred - target).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / (mse + eps))


def ssim(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM for data range 1: ``[batch, C, H, W]`` x2 -> ``[batch]``."""
    return _ssim(pred.float(), target.float(), data_range=1.0, size_average=False)


def accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample correctness as float: ``[batch, classes]``, ``[batch]`` -> ``[batch]``."""
    return (logits.argmax(-1) == labels).float()
