"""The privacy game: min-max training, perturbation defences and honest leakage evaluation (issue #4).

* :mod:`semgame.privacy.minmax` — alternating min-max training against an in-loop eavesdropper;
* :mod:`semgame.privacy.perturbation` — adversarial (FGM / PGD, per-sample / universal,
  eavesdropper-only / cooperative) perturbation layers with a PSR budget;
* :mod:`semgame.privacy.keyed` — a keyed perturbation the legitimate receiver removes;
* :mod:`semgame.privacy.defences` — the one defence interface (transmit side + legitimate-receiver hook) of the
  offline evaluation and the game envs, and its config registry;
* :mod:`semgame.privacy.leakage` — fresh-eavesdropper (retrained from scratch) leakage evaluation;
* :mod:`semgame.privacy.lab` — the benchmark workbench (one trained link, table rows per defence);
* :mod:`semgame.privacy.report` — report tables, JSON and plots;
* :mod:`semgame.privacy.reproduce` — the ``semgame reproduce`` pipeline (the main job).
"""
