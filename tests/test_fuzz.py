"""Property-based fuzzing of every input semgame takes: bad input is a clean error, never a traceback.

Targets: env constructor keyword arguments (every registered id and role, single and native vector
envs), actions (dtype, shape, range, NaN / inf, tensors, Python objects), TOML run configs, ``semgame``
argument vectors for every sub-command, and agent specs. Every generated case either works or raises
one of the documented error types (:mod:`semgame.errors`) with a one-line message, raised by semgame's
own code (the raising frame is in ``semgame/``) and not chained to an exception from inside torch, NumPy
or Gymnasium; the CLI prints one line ``semgame: error: ...`` with exit status 2. Whatever works yields
only finite observations, rewards and info values, and an env that refused an action still steps.

Examples are derandomized (the same cases in every CI run) and sized to add up to
:data:`TOTAL_EXAMPLES` = 1,020 in under a minute on one CPU core: tiny synthetic image sets, envs and
a trained run folder built once per module, ``deadline=None``. ``pytest --hypothesis-show-statistics
tests/test_fuzz.py`` shows what share of the cases worked and which errors the rest got.
"""

from __future__ import annotations

import itertools
import json
import math
import traceback
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded
from helpers import assert_one_line_error, run_cli, tiny_config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import semgame
from semgame.cli import build_parser
from semgame.config import from_dict, load_config_file
from semgame.data import synthetic_dataset
from semgame.envs import ENV_IDS, SemComEnv, SemComVectorEnv
from semgame.errors import USER_ERRORS
from semgame.privacy.minmax import load_minmax_config
from semgame.protocols import ConstantEavesdropper, Eavesdropper, Transmitter, make_agent
from semgame.run import config_to_toml, train_run

torch.set_num_threads(1)

SEMGAME_DIR = Path(semgame.__file__).resolve().parent
AGENTS_DIR = Path(__file__).resolve().parent.parent / "agents"
ENV_ERRORS = (*USER_ERRORS, ValueError, ResetNeeded)
"""What the envs may raise on bad arguments or actions (see :mod:`semgame.errors`)."""

EXAMPLES = {"env_single": 150, "env_vector": 100, "actions": 320, "toml": 260, "cli": 100, "agent_spec": 90}
TOTAL_EXAMPLES = sum(EXAMPLES.values())


def fuzz(name: str) -> settings:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def assert_clean(err: BaseException, allowed: tuple[type, ...]) -> None:
    """``err`` is a documented error with a one-line message, raised by semgame itself, not chained."""
    assert isinstance(err, allowed), f"undocumented {type(err).__name__}: {err}"
    message = str(err)
    assert message.strip() and "\n" not in message, f"not one line: {message!r}"
    frames = traceback.extract_tb(err.__traceback__)
    raiser = Path(frames[-1].filename).resolve()
    assert raiser.is_relative_to(SEMGAME_DIR), f"{type(err).__name__} raised in {raiser}:{frames[-1].lineno}: {message}"
    chained = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    assert chained is None, f"{type(err).__name__} chained to {type(chained).__name__}: {chained}"


def finite_values(info: Any) -> list[float]:
    """Every number in an info dict (nested dicts, arrays, tensors, object arrays of arrays)."""
    if isinstance(info, dict):
        return [v for x in info.values() for v in finite_values(x)]
    if isinstance(info, torch.Tensor):
        info = info.detach().cpu().numpy()
    if isinstance(info, np.ndarray) and info.dtype == object:
        return [v for x in info if x is not None for v in finite_values(x)]
    arr = np.asarray(info)
    return arr.astype(float).ravel().tolist() if arr.dtype.kind in "biuf" else []


def assert_finite(obs: Any, reward: Any, info: dict) -> None:
    for name, part in (("observation", obs), ("reward", reward), ("info", info)):
        values = finite_values(part)
        assert all(math.isfinite(v) for v in values), f"non-finite {name}: {part}"


# ------------------------------------------------------------------------------------------ fixtures
SYNTH = {ds: synthetic_dataset(ds, 12, seed=0) for ds in ENV_IDS.values()}
BAD_VALUES = (None, True, -1, 0, 3.5, float("nan"), float("inf"), "", "x", (1, 2, 3), [0.0, 1.0], {"a": 1}, object())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A corrupt checkpoint, a foreign torch file, broken agent files and an empty folder."""
    base = tmp_path_factory.mktemp("fuzz-files")
    (base / "corrupt.pt").write_bytes(b"\x00not a checkpoint" * 20)
    torch.save({"w": torch.zeros(2)}, base / "foreign.pt")
    (base / "syntax_error.py").write_text("def (:\n")
    (base / "raises.py").write_text("raise RuntimeError('boom at import')\n")
    (base / "needs_args.py").write_text(
        "class Eve:\n    def __init__(self, x):\n        pass\n\n    def act(self, obs):\n        return obs\n"
    )
    (base / "empty").mkdir()
    return {p.stem: p for p in base.iterdir()}


@pytest.fixture(scope="module")
def tiny_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny MNIST run folder (k 8, width 8, 1 + 1 epochs on 64 synthetic images)."""
    run = tmp_path_factory.mktemp("fuzz-run") / "run"
    cfg = tiny_config(synthetic_root, epochs=1, batch_size=32, train_limit=64, test_limit=32)
    train_run(cfg, run, quiet=True)
    return run


# ------------------------------------------------------------------------------ env constructors
def _maybe_bad(good: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` four times in five, else a value of the wrong kind."""
    return st.integers(0, 4).flatmap(lambda i: st.sampled_from(BAD_VALUES) if i == 0 else good)


SNR = _maybe_bad(
    st.one_of(
        st.none(),
        st.floats(-150, 150),
        st.tuples(st.floats(-30, 30), st.floats(-30, 30)),
        st.sampled_from([(0.0, float("nan")), (5.0, 1.0), (1.0,), float("-inf")]),
    )
)
COMMON_KWARGS = {
    "rounds": _maybe_bad(st.integers(-1, 4)),
    "split": _maybe_bad(st.sampled_from(["test", "train", "val"])),
    "snr_db": SNR,
    "eve_snr_db": SNR,
    "psr_db": _maybe_bad(st.floats(-60, 40)),
    "include_csi": _maybe_bad(st.booleans()),
    "include_label": _maybe_bad(st.booleans()),
    "compute_psnr": _maybe_bad(st.booleans()),
    "device": st.sampled_from(["cpu", "cpu", "cuda", "tpu", "meta", "", "cpu:0", 3, None]),
    "data_root": st.sampled_from([None, "/nonexistent/data", 7]),
    "eavesdropper": st.sampled_from([None, None, ConstantEavesdropper(3), object(), 5]),
    "defence": st.sampled_from(
        [
            None,
            None,
            {"kind": "none"},
            {"kind": "keyed", "psr_db": 10.0},
            {"kind": "keyed", "psr_db": 99.0},
            {"kind": "bogus"},
            {"psr_db": 1},
            "keyed",
            3,
        ]
    ),
}


def _link_choices(files: dict[str, Path]) -> st.SearchStrategy:
    return st.sampled_from(
        [None, None, None, str(files["corrupt"]), str(files["foreign"]), "/nonexistent/model.pt", 42]
    )


def _images(dataset: str) -> st.SearchStrategy:
    other = "cifar10" if dataset != "cifar10" else "mnist"
    return st.sampled_from(
        [SYNTH[dataset]] * 6
        + [
            SYNTH[other],
            (torch.zeros(0, 1, 28, 28), torch.zeros(0)),
            (SYNTH[dataset].tensors[0], torch.zeros(3, dtype=torch.int64)),
            "images",
        ]
    )


def play_a_little(env: Any, vector: bool) -> None:
    obs, info = env.reset(seed=0)
    assert_finite(obs, 0.0, info)
    env.action_space.seed(0)
    for _ in range(3):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        assert_finite(obs, reward, info)
        if not vector and (term or trunc):
            obs, info = env.reset()


@fuzz("env_single")
@given(data=st.data())
def test_fuzz_single_env_constructor(files: dict[str, Path], data: st.DataObject) -> None:
    env_id = data.draw(st.sampled_from(list(ENV_IDS)), "env id")
    role = data.draw(st.sampled_from(["eavesdropper", "transmitter", "eavesdropper", "referee", 1]), "role")
    # gymnasium.make itself handles render_mode (and wraps "human" around rgb_array): fuzz it on the class
    direct = data.draw(st.booleans(), "construct SemComEnv directly")
    render_modes = [None, "rgb_array", "human", 3] if direct else [None, "rgb_array"]
    kwargs = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                **COMMON_KWARGS,
                "link": _link_choices(files),
                "images": _images(ENV_IDS[env_id]),
                "render_mode": st.sampled_from(render_modes),
            },
        ),
        "kwargs",
    )
    kwargs.setdefault("images", SYNTH[ENV_IDS[env_id]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = SemComEnv(ENV_IDS[env_id], role, **kwargs) if direct else gym.make(env_id, role=role, **kwargs)
            play_a_little(env, vector=False)
            if env.render_mode == "rgb_array":
                assert env.render().dtype == np.uint8
            event("works")
        except ENV_ERRORS as err:
            assert_clean(err, ENV_ERRORS)
            event(f"{type(err).__name__}: {str(err)[:50]}")


@fuzz("env_vector")
@given(data=st.data())
def test_fuzz_vector_env_constructor(files: dict[str, Path], data: st.DataObject) -> None:
    env_id = data.draw(st.sampled_from(list(ENV_IDS)), "env id")
    role = data.draw(st.sampled_from(["eavesdropper", "transmitter", "eavesdropper", "transmitter", "spy"]), "role")
    kwargs = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                **COMMON_KWARGS,
                "link": _link_choices(files),
                "images": _images(ENV_IDS[env_id]),
                "autoreset_mode": _maybe_bad(st.sampled_from(["next_step", "same_step", "disabled"])),
                "tensors": _maybe_bad(st.booleans()),
            },
        ),
        "kwargs",
    )
    kwargs.setdefault("images", SYNTH[ENV_IDS[env_id]])
    num_envs = data.draw(_maybe_bad(st.integers(-1, 6)), "num_envs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", role=role, **kwargs)
            play_a_little(env, vector=True)
            event("works")
        except ENV_ERRORS as err:
            assert_clean(err, ENV_ERRORS)
            event(f"{type(err).__name__}: {str(err)[:50]}")


# -------------------------------------------------------------------------------------- actions
@pytest.fixture(scope="module")
def envs() -> dict[str, Any]:
    """One env per (single / vector) x role, with episodes too long to end while fuzzing."""
    kw = dict(rounds=10**6, images=SYNTH["mnist"], compute_psnr=False)
    out = {
        "single-eavesdropper": SemComEnv(role="eavesdropper", **kw),
        "single-transmitter": SemComEnv(role="transmitter", **kw),
        "vector-eavesdropper": SemComVectorEnv(4, role="eavesdropper", **kw),
        "vector-transmitter": SemComVectorEnv(4, role="transmitter", **kw),
        "tensors-transmitter": SemComVectorEnv(4, role="transmitter", tensors=True, **kw),
    }
    for env in out.values():
        env.reset(seed=0)
    return out


NUMPY_DTYPES = [
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.bool_,
    np.complex64,
    np.dtype("U3"),
    np.dtype(object),
]


def _elements(dtype: np.dtype) -> st.SearchStrategy:
    if dtype.kind == "f":
        return st.one_of(
            st.floats(-1, 1, width=16 if dtype.itemsize == 2 else 32),
            st.floats(allow_nan=True, allow_infinity=True, width=16 if dtype.itemsize == 2 else 32),
        )
    if dtype.kind == "O":
        return st.sampled_from([0, 1, "a", None, 2.5, [1]])
    return hnp.from_dtype(dtype)


@st.composite
def actions(draw: st.DrawFn, space: gym.Space, tensors: bool) -> Any:
    """A valid action a quarter of the time, then bad values, dtypes, shapes and objects in equal parts."""
    shape, discrete = space.shape, isinstance(space, gym.spaces.MultiDiscrete | gym.spaces.Discrete)
    good_dtype = np.dtype(np.int64 if discrete else np.float32)
    kind = draw(st.sampled_from(["valid", "values", "dtype", "shape", "object"]))
    if kind in ("valid", "values"):
        if discrete:
            elements = st.integers(0, 9) if kind == "valid" else st.integers(-(2**63), 2**63 - 1)
        else:
            elements = (
                st.floats(-1, 1, width=32)
                if kind == "valid"
                else st.floats(width=32, allow_nan=True, allow_infinity=True)
            )
        action = draw(hnp.arrays(good_dtype, shape, elements=elements))
    elif kind == "dtype":
        dtype = np.dtype(draw(st.sampled_from(NUMPY_DTYPES)))
        action = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
    elif kind == "shape":
        wrong = draw(st.sampled_from([shape[:-1], (*shape, 1), tuple(d + 1 for d in shape), (2, 0), (0,)]))
        action = draw(hnp.arrays(good_dtype, wrong))
    else:
        return draw(
            st.sampled_from(
                [
                    0,
                    3,
                    -1,
                    10,
                    2**70,
                    0.5,
                    float("nan"),
                    None,
                    "3",
                    [1, 2],
                    [[1], [1, 2]],
                    {},
                    b"\x01",
                    torch.zeros(shape, dtype=torch.bfloat16),
                    torch.zeros(shape, dtype=torch.complex64),
                    torch.full(shape, float("nan")),
                ]
            )
        )
    if tensors or draw(st.integers(0, 4)) == 0:  # also as a tensor (any dtype torch has)
        action = torch.from_numpy(np.ascontiguousarray(action)) if action.dtype.kind in "biuf" else action
    return action


@fuzz("actions")
@given(data=st.data())
def test_fuzz_actions(envs: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(envs)), "env")
    env = envs[name]
    action = data.draw(actions(env.action_space, name.startswith("tensors")), "action")
    try:
        obs, reward, term, trunc, info = env.step(action)
        assert_finite(obs, reward, info)
        assert not np.any(np.asarray(term.cpu() if isinstance(term, torch.Tensor) else term))
        event("works")
    except ValueError as err:
        assert_clean(err, (ValueError,))
        event(f"{type(err).__name__}: {str(err)[:50]}")
        good = env.action_space.sample()  # the refused action lost nothing: the env still steps
        obs, reward, *_ = env.step(torch.as_tensor(good) if name.startswith("tensors") else good)
        assert_finite(obs, reward, {})


# ---------------------------------------------------------------------------------- TOML configs
TOML_SCALARS = st.one_of(
    st.integers(-3, 5000),
    st.integers(-(2**70), 2**70),
    st.floats(-200, 200),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300]),
    st.booleans(),
    st.sampled_from(["mnist", "rayleigh", "none", "zf", "cpu", "", "imagenet", "🛰", 'a"b', "x\\y", "\x7f"]),
)
TOML_BAD = st.one_of(TOML_SCALARS, st.lists(TOML_SCALARS, max_size=3))
LINK_VALUES = {
    "dataset": st.sampled_from(["mnist", "cifar10", "fashion_mnist", "MNIST", "cifar"]),
    "k": st.integers(1, 64),
    "width": st.integers(1, 32),
    "snr_db": st.floats(-30, 30),
    "eve_snr_db": st.floats(-30, 30),
    "train_snr_db": st.lists(st.floats(-30, 30), min_size=2, max_size=2).map(sorted),
    "fading": st.sampled_from(["rayleigh", "none"]),
    "block": st.booleans(),
    "csi": st.sampled_from(["perfect", "none"]),
    "equalizer": st.sampled_from(["mmse", "zf"]),
    "epochs": st.integers(0, 10),
    "eve_epochs": st.integers(0, 10),
    "batch_size": st.integers(1, 512),
    "lr": st.floats(1e-5, 1.0),
    "recon_weight": st.floats(0, 100),
    "augment": st.booleans(),
    "train_limit": st.integers(1, 10**6),
    "test_limit": st.integers(1, 10**6),
    "seed": st.integers(0, 2**32 - 1),
    "device": st.sampled_from(["auto", "cpu", "cuda"]),
    "threads": st.integers(1, 8),
    "data_root": st.text(max_size=8).filter(lambda t: "\x00" not in t),
}
MINMAX_VALUES = {
    "lambda": st.floats(0, 10),
    "objective": st.sampled_from(["neg_ce", "kl_uniform", "mi"]),
    "eve_steps": st.integers(1, 3),
    "legit_steps": st.integers(1, 3),
    "rounds": st.integers(0, 5),
    "pretrain_epochs": st.integers(0, 3),
    "eve_pretrain_epochs": st.integers(0, 3),
    "eve_lr": st.floats(1e-5, 1.0),
}


def _table(values: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """A TOML table: valid keys with mostly valid values (one in ten of the wrong kind)."""
    return st.fixed_dictionaries(
        {}, optional={k: st.integers(0, 9).flatmap(lambda i, v=v: TOML_BAD if i == 0 else v) for k, v in values.items()}
    )


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {math.inf: "inf", -math.inf: "-inf"}.get(v, "nan" if math.isnan(v) else repr(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


@fuzz("toml")
@given(
    link=_table(LINK_VALUES),
    game=st.one_of(st.none(), _table(MINMAX_VALUES)),
    noise=st.sampled_from(
        [""] * 24
        + [
            "k = \n",
            "[broken\n",
            "k = 1\nk = 2\n",
            "= 3\n",
            "\x00",
            "latent_dim = 8\n",
            "[minmax]\ngamma = 1\n",
            "[minmax]\n[minmax]\n",
        ]
    ),
)
def test_fuzz_toml_run_configs(
    tmp_path_factory: pytest.TempPathFactory, link: dict, game: dict | None, noise: str
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.toml"
    text = "".join(f"{k} = {toml_value(v)}\n" for k, v in link.items()) + noise
    if game is not None:
        text += "[minmax]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in game.items())
    path.write_text(text)
    try:
        values = load_config_file(path)
        mm_values = values.pop("minmax", None)
        cfg = from_dict(values)
        if mm_values is not None:
            load_minmax_config(mm_values)
    except USER_ERRORS as err:
        assert_clean(err, USER_ERRORS)
        event(f"{type(err).__name__}: {str(err)[:50]}")
        return
    event("works")
    # a valid config round-trips through the config.toml a run folder writes
    path.write_text(config_to_toml(cfg.to_dict()))
    assert from_dict(load_config_file(path)) == cfg


# --------------------------------------------------------------------------------- CLI arguments
def _subcommands() -> dict[str, Any]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return dict(sub.choices)


SUBCOMMANDS = _subcommands()
INT_VALUES = st.one_of(st.integers(-1, 3), st.sampled_from(["0", "-1", "x", "1.5", "99999999999999999999", "", "nan"]))
FLOAT_VALUES = st.one_of(
    st.floats(-20, 20).map(repr), st.sampled_from(["nan", "inf", "-inf", "1e400", "abc", "", "-150"])
)


def _value(action: Any, paths: list[str]) -> st.SearchStrategy:
    if action.choices:
        return st.sampled_from([*map(str, action.choices), "bogus"])
    name = action.dest
    if name in ("episodes",):
        return st.one_of(st.integers(-1, 40).map(str), st.sampled_from(["0", "x"]))
    if action.type is int:
        return INT_VALUES.map(str)
    if action.type is float:
        return FLOAT_VALUES
    if action.type is not None and getattr(action.type, "__name__", "") == "_parse_bool":
        return st.sampled_from(["true", "false", "yes", "maybe", ""])
    if action.type is not None and getattr(action.type, "__name__", "") == "parse_pair":
        return st.sampled_from(["0,20", "5,1", "nan,1", "1", "a,b", "-500,0"])
    if name in ("agent", "opponent"):
        return st.sampled_from(
            [
                "semgame.protocols:ConstantEavesdropper",
                f"{AGENTS_DIR}/random_eavesdropper.py:RandomEavesdropper",
                "semgame.protocols:Nope",
                "nonexistent_module:X",
                "no-colon",
                f"{AGENTS_DIR}/missing.py:X",
            ]
        )
    if name == "dataset":
        return st.sampled_from(["mnist", "cifar10", "fashion_mnist", "imagenet", ""])
    return st.sampled_from(paths)


TINY = ["--epochs=1", "--eve-epochs=1", "--train-limit=16", "--test-limit=16", "--batch-size=8", "--k=4", "--width=4"]
PREFIX = {"train": TINY, "minmax": [*TINY, "--rounds=1", "--eve-pretrain-epochs=1"], "play": ["--num-envs=8"]}
"""Budgets that keep a valid command to a fraction of a second (a drawn flag comes later and wins)."""


@st.composite
def argv_for(draw: st.DrawFn, command: str, paths: list[str], run_dir: str, data_root: str) -> list[str]:
    """``command`` with its required flags and up to five more, values mostly of the right kind.

    Every command but ``reproduce`` (whose budgets are its profile's) sees the synthetic data.
    """
    sub = SUBCOMMANDS[command]
    options = [a for a in sub._actions if a.option_strings and a.dest != "help"]
    chosen = draw(st.lists(st.sampled_from(options), max_size=5, unique_by=lambda a: a.dest))
    argv = [command, *PREFIX.get(command, [])]
    if command == "reproduce":
        paths = [p for p in paths if p != data_root]
    elif any(a.dest == "data_root" for a in options):
        argv.append(f"--data-root={data_root}")
    required = [a for a in options if a.required and a not in chosen]
    for action in [*required, *chosen]:
        flag = action.option_strings[-1]
        if action.nargs == 0:
            argv.append(flag)
        elif action.dest == "run_dir" and command in ("train", "minmax"):
            argv.append(f"{flag}={run_dir}")  # a new folder per example
        elif action.dest == "run_dir":
            argv.append(f"{flag}={draw(st.sampled_from([paths[0]] * 8 + paths))}")
        else:
            argv.append(f"{flag}={draw(_value(action, paths))}")
    return argv + draw(st.sampled_from([[]] * 18 + [["--no-such-flag"], ["stray"]]))


@pytest.fixture(scope="module")
def cli_context(
    tiny_run: Path, files: dict[str, Path], synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Paths the CLI fuzz draws from; SEMGAME_DATA and the download cache point at an empty folder and
    torchvision cannot download, so a valid ``train`` / ``minmax`` / ``reproduce`` stops at the data."""
    import torchvision

    base = tmp_path_factory.mktemp("fuzz-cli")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEMGAME_DATA", str(files["empty"]))
    mp.setenv("XDG_CACHE_HOME", str(base / "cache"))

    def offline(*args: Any, **kwargs: Any) -> None:
        raise OSError("no network in the fuzz tests")

    for cls in ("MNIST", "CIFAR10", "FashionMNIST"):
        mp.setattr(torchvision.datasets, cls, offline)
    paths = [
        str(tiny_run),
        str(tiny_run / "model.pt"),
        str(tiny_run / "checkpoint.pt"),
        str(synthetic_root),
        str(synthetic_root),
        str(files["corrupt"]),
        str(files["foreign"]),
        str(files["empty"]),
        "/nonexistent/path",
        str(base / "out.json"),
    ]
    yield {"paths": paths, "base": base, "counter": itertools.count(), "data_root": str(synthetic_root)}
    mp.undo()


@fuzz("cli")
@given(data=st.data())
def test_fuzz_cli_argument_vectors(
    cli_context: dict[str, Any], capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    command = data.draw(st.sampled_from(sorted(SUBCOMMANDS)), "command")
    run_dir = str(cli_context["base"] / f"run{next(cli_context['counter'])}")
    argv = data.draw(argv_for(command, cli_context["paths"], run_dir, cli_context["data_root"]), "argv")
    capsys.readouterr()
    code, out, err = run_cli(argv, capsys)
    assert "Traceback" not in err + out
    event(f"{command}: exit {code} {err[16:60]}")
    if code != 0:
        assert_one_line_error(code, err)


# ---------------------------------------------------------------------------------- agent specs
@fuzz("agent_spec")
@given(data=st.data())
def test_fuzz_agent_specs(files: dict[str, Path], data: st.DataObject) -> None:
    targets = [
        "semgame.protocols",
        "semgame",
        "numpy",
        "os.path",
        "nonexistent_mod_xyz",
        "semgame.nope",
        "",
        f"{AGENTS_DIR}/random_eavesdropper.py",
        f"{AGENTS_DIR}/majority_eavesdropper.py",
        str(files["syntax_error"]),
        str(files["raises"]),
        str(files["needs_args"]),
        str(files["empty"]),
        str(files["corrupt"]),
        "missing/dir/agent.py",
        "./",
        "a b",
    ]
    attrs = [
        "ConstantEavesdropper",
        "RandomEavesdropper",
        "MajorityEavesdropper",
        "Eve",
        "check_agent",
        "Eavesdropper",
        "Nope",
        "__all__",
        "sep",
        "ConstantEavesdropper.act",
        "",
        "a.b",
    ]
    valid = [
        f"{AGENTS_DIR}/{name}_eavesdropper.py:{cls}"
        for name, cls in (
            ("random", "RandomEavesdropper"),
            ("majority", "MajorityEavesdropper"),
            ("template", "TemplateEavesdropper"),
        )
    ]
    spec = data.draw(
        st.one_of(
            st.sampled_from([*valid, "semgame.protocols:ConstantEavesdropper"]),
            st.builds(lambda t, a: f"{t}:{a}", st.sampled_from(targets), st.sampled_from(attrs)),
            st.builds(lambda t, a: f"{t}:{a}", st.sampled_from(targets), st.sampled_from(attrs)),
            st.text(max_size=12),
            st.sampled_from([None, 3, "a:b:c", ":", "x:"]),
        ),
        "spec",
    )
    protocol = data.draw(st.sampled_from([Eavesdropper, Transmitter]), "protocol")
    try:
        agent = make_agent(spec, protocol)
    except USER_ERRORS as err:
        assert_clean(err, USER_ERRORS)
        event(f"{type(err).__name__}: {str(err)[:50]}")
        return
    event("works")
    # only the named, real agent classes load, and what loads acts as an eavesdropper does
    name = spec.rsplit(":", 1)[1]
    known = {"ConstantEavesdropper", "RandomEavesdropper", "MajorityEavesdropper", "TemplateEavesdropper"}
    assert name in known and type(agent).__name__ == name, spec
    guesses = np.asarray(agent.act(np.zeros((3, 8), np.float32)))
    assert guesses.shape == (3,) and guesses.dtype.kind == "i" and ((guesses >= 0) & (guesses < 10)).all()
