"""semgame: privacy-preserving semantic communications as an adversarial game.

Core pieces (see each module's docstring):

* :mod:`semgame.channels` — differentiable Rayleigh/AWGN channels, ``[batch, k] complex64`` waveforms;
* :mod:`semgame.models` / :mod:`semgame.link` — encoder, multi-task receiver, eavesdropper;
* :mod:`semgame.data` — MNIST / CIFAR-10 / Fashion-MNIST from a local folder or torchvision;
* :mod:`semgame.training` / :mod:`semgame.run` — training, evaluation, resumable run folders;
* :mod:`semgame.envs` — Gymnasium / PettingZoo environments of the game (registered on import);
* :mod:`semgame.privacy` — min-max training, perturbation defences, fresh-eavesdropper evaluation;
* :mod:`semgame.cli` — the ``semgame`` command.
"""

from semgame.channels import AWGN, ChannelState, FadingChannel, RayleighFading, equalize
from semgame.config import ConfigError, LinkConfig
from semgame.data import load_dataset
from semgame.envs import parallel_env, register_envs
from semgame.link import NeuralEavesdropper, SemanticLink, build_eavesdropper, build_link

__version__ = "0.1.0"

__all__ = [
    "AWGN",
    "ChannelState",
    "ConfigError",
    "FadingChannel",
    "LinkConfig",
    "NeuralEavesdropper",
    "RayleighFading",
    "SemanticLink",
    "build_eavesdropper",
    "build_link",
    "equalize",
    "load_dataset",
    "parallel_env",
]

register_envs()  # SemCom-*-v0 ids for gymnasium.make / make_vec; loads no weights or data
