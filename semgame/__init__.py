"""semgame: privacy-preserving semantic communications as an adversarial game.

Core pieces (see each module's docstring):

* :mod:`semgame.channels` — differentiable Rayleigh/AWGN channels, ``[batch, k] complex64`` waveforms;
* :mod:`semgame.models` / :mod:`semgame.link` — encoder, multi-task receiver, eavesdropper;
* :mod:`semgame.data` — MNIST / CIFAR-10 / Fashion-MNIST from a local folder or torchvision;
* :mod:`semgame.training` / :mod:`semgame.run` — training, evaluation, resumable run folders;
* :mod:`semgame.cli` — the ``semgame`` command.
"""

from semgame.channels import AWGN, ChannelState, FadingChannel, RayleighFading, equalize
from semgame.config import ConfigError, LinkConfig
from semgame.data import load_dataset
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
]

# Game environments (issue 3): register SemCom-*-v0 with Gymnasium; loads no weights or data.
from semgame.envs import parallel_env, register_envs as _register_envs

_register_envs()
__all__ += ["parallel_env"]
