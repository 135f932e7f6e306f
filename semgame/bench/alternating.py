"""Alternating play: a transmitter and an eavesdropper take turns adapting, then fresh eavesdroppers judge.

For ``rounds`` rounds (the transmitter starts clean: nothing learnt yet):

1. the eavesdropper adapts for ``eve_transmissions`` intercepted transmissions against the current
   transmitter (:class:`~semgame.bench.play.EavesdropperTrainer`: RL from the reward, or supervised from
   the labels);
2. the transmitter adapts against the current eavesdropper: a learning transmitter (``learn(venv, n)``,
   e.g. ``agents/sb3_transmitter.py:PPOTransmitter``) for ``tx_transmissions`` transmissions in the
   env's transmitter role with that eavesdropper as its opponent; a gradient transmitter (an
   adversarial defence config, FGM/PGD) is re-crafted white-box against a frozen copy of the current
   eavesdropper (its ``logits_model()`` behind the eavesdropper's channel), which needs no budget.

After each phase both sides are measured on the same held-out defended test transmissions and logged
(global step = transmissions played by both sides so far): ``eve/acc`` (the current eavesdropper against
the current transmitter), ``legit/acc``, ``legit/psnr``, ``eve/reward`` and ``tx/reward`` (mean in-play
rewards of the phase). At the end ``fresh_k`` eavesdroppers trained from scratch judge the final
transmitter (:func:`semgame.bench.cells.verdict`): did it learn privacy, or only to fool one opponent?
"""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from semgame import tags

__all__ = ["EavesdropperModel", "alternate"]


class EavesdropperModel(nn.Module):
    """``x_tx -> eavesdropper channel -> observation features -> scores``: an eavesdropper agent's
    white-box model as the surrogate of an :class:`~semgame.privacy.perturbation.AdversarialPerturbation`."""

    def __init__(self, game: Any, scores: nn.Module) -> None:
        super().__init__()
        self.scores = scores
        self._game = [game]  # not a sub-module: the env's data stay out of this module

    def forward(self, x, generator=None):
        game = self._game[0]
        y, state = game.eve_channel(x, generator=generator)
        return self.scores(game.eve_features(y, state))


def alternate(p: dict, device: str, writer: Any) -> dict:
    """Play the game of cell parameters ``p`` (see :func:`semgame.bench.cells.plan`); returns rounds + verdict."""
    import time

    import numpy as np

    from semgame.bench.cells import SEED_HELD_OUT, SEED_TX_ENV, _env_kwargs, _seat, _train_env, trainee, verdict
    from semgame.bench.play import HeldOutSet, Meter, MeteredVecEnv, eve_accuracy
    from semgame.envs import SemComSB3VecEnv
    from semgame.privacy.defences import DefenceContext, PolicyDefence, build_defence, check_defence_config
    from semgame.protocols import Transmitter, make_agent

    g, seed = p["game"], p["seed"]
    start = time.perf_counter()
    eve, trainer = trainee(p, g["eavesdropper"], g["eavesdropper_args"], device)
    eve_env = trainer.venv
    game = eve_env.game
    held = HeldOutSet(p["eval_size"], _seat(seed, SEED_HELD_OUT), **_env_kwargs(p, device))
    gradient = isinstance(g["transmitter"], dict)
    if gradient:
        adv = {**check_defence_config(g["transmitter"]), "scope": "per_sample"}
    else:
        tx = make_agent(
            g["transmitter"], Transmitter, context={"seed": seed, "device": device}, **g["transmitter_args"]
        )
        tx_env = _train_env(p, device, role="transmitter", psr_db=g["psr_db"])
        tx_sb3 = SemComSB3VecEnv(venv=tx_env)
        tx_sb3.seed(_seat(seed, SEED_TX_ENV))
    defence: Any = None  # the transmitter starts clean
    t, rounds = 0, []

    def measure(step: int, extra: dict[str, float]) -> dict[str, float]:
        h = held.play()
        point = {
            tags.EVE_ACC: eve_accuracy(eve, h),
            tags.LEGIT_ACC: h.legit_acc,
            tags.LEGIT_PSNR: h.legit_psnr,
            **extra,
        }
        for tag, value in point.items():
            writer.add_scalar(tag, value, step)
        return point

    def use(d: Any) -> None:
        if d is not None:  # a new transmitter continues the old one's nonce counter
            d.nonce_counter = game.defence.nonce_counter
        for env in (eve_env, held.venv):
            env.set_defence(d)

    for r in range(1, g["rounds"] + 1):
        use(defence)
        meter = Meter(_Quiet(), dict, 1 << 62, reward_tag=tags.EVE_REWARD)
        trainer.run(g["eve_transmissions"], meter)
        t += meter.t
        after_eve = measure(t, {tags.EVE_REWARD: meter.mean_reward})
        if gradient:  # re-craft white-box against a frozen copy of the current eavesdropper
            surrogate = EavesdropperModel(game, copy.deepcopy(eve.logits_model()))
            adv["name"] = f"{adv['method']} vs round-{r} eavesdropper"
            defence = build_defence(adv, DefenceContext(link=game.link, surrogate=surrogate))
            tx_reward = float("nan")
        else:
            tx_env.set_eavesdropper(eve)
            tx_meter = Meter(_Quiet(), dict, 1 << 62, reward_tag=tags.TX_REWARD)
            tx.learn(MeteredVecEnv(tx_sb3, tx_meter), g["tx_transmissions"])
            t += tx_meter.t
            tx_reward = tx_meter.mean_reward
            defence = PolicyDefence(tx, g["psr_db"], num_classes=game.num_classes, name=f"{g['name']} round {r}")
        use(defence)
        after_tx = measure(t, {tags.TX_REWARD: tx_reward} if not np.isnan(tx_reward) else {})
        rounds.append(
            {
                "round": r,
                "eve_acc_after_eve": after_eve[tags.EVE_ACC],
                "eve_acc_after_tx": after_tx[tags.EVE_ACC],
                "legit_acc": after_tx[tags.LEGIT_ACC],
                "legit_psnr": after_tx[tags.LEGIT_PSNR],
                "eve_reward": after_eve[tags.EVE_REWARD],
                "tx_reward": tx_reward,
                "transmissions": t,
            }
        )
    row = verdict(p, defence, game)
    return {
        "rounds": rounds,
        "verdict": row,
        "in_loop_eve_acc": rounds[-1]["eve_acc_after_tx"],
        "fresh_eve_mean": row["fresh_eve_mean"],
        "fresh_eve_std": row["fresh_eve_std"],
        "legit_acc": row["legit_acc"],
        "wall_s": time.perf_counter() - start,
    }


class _Quiet:
    """A writer that discards (phase meters only count; the game logs its own points)."""

    def add_scalar(self, *args: Any) -> None:
        pass
