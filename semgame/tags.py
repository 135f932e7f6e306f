"""The one TensorBoard tag scheme of semgame: every writer (``semgame train``, ``semgame minmax``,
``semgame bench``, the reference agents, the benchmarks) uses these names, so runs overlay.

Tags are ``group/name``. The **global step** is the number of *samples* the run has consumed:

* training runs (``semgame train``, ``semgame minmax``): training images seen by the phase's
  optimiser (link, eavesdropper or game), counted across phases and resumptions;
* game and benchmark runs (``semgame bench``, agents in ``agents/``): transmissions played
  (for an eavesdropper agent: intercepted transmissions).

========================  ==========================================================
tag                       meaning
========================  ==========================================================
``train/loss``            legitimate link training loss (``ce + recon_weight * recon_term``)
``train/ce``              its cross-entropy part
``train/mse``             its mean squared reconstruction error (the reconstruction part for ``recon_loss="mse"``)
``legit/acc``             legitimate receiver test accuracy (fraction)
``legit/psnr``            legitimate reconstruction PSNR on the test set (dB)
``legit/ssim``            legitimate reconstruction SSIM on the test set
``eve/acc``               eavesdropper test accuracy (held-out transmissions)
``eve/loss``              eavesdropper training loss (cross-entropy)
``eve/reward``            mean reward of an eavesdropper agent in the game env (1 correct, 0 wrong)
``tx/reward``             mean reward of a transmitter agent in the game env
``minmax/leakage``        leakage term of the min-max game (its ``objective``)
``perf/samples_per_s``    training throughput (images per second)
``perf/transmissions_per_s``  game throughput (transmissions per second)
========================  ==========================================================

Hyper-parameters go to TensorBoard's HPARAMS plugin (``SummaryWriter.add_hparams``) with the
final values of these tags as metrics, named ``hparam/<group>/<name>``.
"""

from __future__ import annotations

__all__ = [
    "TRAIN_LOSS",
    "TRAIN_CE",
    "TRAIN_MSE",
    "LEGIT_ACC",
    "LEGIT_PSNR",
    "LEGIT_SSIM",
    "EVE_ACC",
    "EVE_LOSS",
    "EVE_REWARD",
    "TX_REWARD",
    "MINMAX_LEAKAGE",
    "SAMPLES_PER_S",
    "TRANSMISSIONS_PER_S",
    "ALL",
]

TRAIN_LOSS = "train/loss"
TRAIN_CE = "train/ce"
TRAIN_MSE = "train/mse"
LEGIT_ACC = "legit/acc"
LEGIT_PSNR = "legit/psnr"
LEGIT_SSIM = "legit/ssim"
EVE_ACC = "eve/acc"
EVE_LOSS = "eve/loss"
EVE_REWARD = "eve/reward"
TX_REWARD = "tx/reward"
MINMAX_LEAKAGE = "minmax/leakage"
SAMPLES_PER_S = "perf/samples_per_s"
TRANSMISSIONS_PER_S = "perf/transmissions_per_s"

ALL = (
    TRAIN_LOSS,
    TRAIN_CE,
    TRAIN_MSE,
    LEGIT_ACC,
    LEGIT_PSNR,
    LEGIT_SSIM,
    EVE_ACC,
    EVE_LOSS,
    EVE_REWARD,
    TX_REWARD,
    MINMAX_LEAKAGE,
    SAMPLES_PER_S,
    TRANSMISSIONS_PER_S,
)
"""Every tag of the scheme."""
