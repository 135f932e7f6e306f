"""``semgame bench``: agents against defences through the game env, compared in TensorBoard (issue #7).

* :mod:`semgame.bench.config` — the TOML config (grid axes, budgets, defences, agents, games);
* :mod:`semgame.bench.cells` — the cells of a grid and how one runs (seeded, executor-independent);
* :mod:`semgame.bench.play` — agents playing through the native vector env, metered and evaluated;
* :mod:`semgame.bench.alternating` — alternating play between a transmitter and an eavesdropper;
* :mod:`semgame.bench.runner` — executors (local processes, Ray), resumption, the output folder;
* :mod:`semgame.bench.summary` — tables, JSON and plots;
* :mod:`semgame.bench.cli` — the ``semgame bench`` command.
"""
