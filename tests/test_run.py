"""Tests for semgame.io (atomic writes, safe checkpoints) and semgame.run (run folders, resuming).

Training runs are tiny (synthetic 512/256-image MNIST stand-in, k=8, width 8, 2 + 1 epochs) and
take about a second each on one thread.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import snapshot, tiny_config

import semgame.run as run_mod
from semgame.config import ConfigError, LinkConfig, from_dict, load_config_file
from semgame.io import CheckpointError, atomic_write, load_checkpoint, save_checkpoint, write_json, write_text
from semgame.link import build_eavesdropper, build_link
from semgame.loader import FORMAT, MODEL_FORMAT, load_run
from semgame.run import load_data, train_run
from semgame.runloop import without_timings
from semgame.training import evaluate

torch.set_num_threads(1)
REAL_ROOT = os.environ.get("SEMGAME_DATA")  # read before any test changes the environment
RUN_FILES = ("config.toml", "checkpoint.pt", "model.pt", "metrics.json")
TEST_KEYS = {"legit_acc", "legit_psnr", "legit_ssim", "eve_acc", "chance"}


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard scalars of a run folder, as ``{tag: [(step, value), ...]}``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


@pytest.fixture(scope="module")
def finished_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[LinkConfig, Path, dict]:
    """One uninterrupted tiny run: (config, run folder, returned metrics)."""
    cfg = tiny_config(synthetic_root)
    run_dir = tmp_path_factory.mktemp("runs") / "plain"
    metrics = train_run(cfg, run_dir, quiet=True)
    return cfg, run_dir, metrics


# --------------------------------------------------------------------------- io


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_atomic_write_keeps_old_file_when_writer_raises(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "metrics.json"
    write_json(target, {"old": True})
    before = target.read_bytes()

    def writer(fh: Any) -> None:
        fh.write(b"half a file")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, writer)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_checkpoint_round_trip_is_weights_only_loadable(tmp_path: Path) -> None:
    obj = {"format": FORMAT, "w": torch.arange(5.0), "history": [{"epoch": 1, "loss": 0.5}], "name": "x"}
    path = save_checkpoint(obj, tmp_path / "c.pt")
    plain = torch.load(path, weights_only=True)
    loaded = load_checkpoint(path)
    for got in (plain, loaded):
        assert torch.equal(got["w"], obj["w"]) and got["history"] == obj["history"] and got["name"] == "x"


def test_load_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a checkpoint\n" * 10, os.urandom(2048)])
def test_load_checkpoint_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_load_checkpoint_truncated_real_checkpoint(tmp_path: Path, fraction: float) -> None:
    link = build_link(LinkConfig(k=8, width=4))
    path = save_checkpoint({"format": FORMAT, "link": link.state_dict()}, tmp_path / "c.pt")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_load_checkpoint_without_format_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a semgame checkpoint"):
        load_checkpoint(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a semgame checkpoint"):
        load_checkpoint(path)


class _Payload:
    """Unpickling this would create ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_load_checkpoint_refuses_arbitrary_pickled_objects(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "code-was-executed"
    obj = {"format": FORMAT, "payload": _Payload(marker)}
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists(), "load_checkpoint executed code from the checkpoint"


# --------------------------------------------------------------------------- run folders


def test_train_run_writes_a_complete_run_folder(finished_run: tuple[LinkConfig, Path, dict]) -> None:
    cfg, run_dir, metrics = finished_run
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert sorted(p.name for p in run_dir.iterdir()) == sorted([*RUN_FILES, "tb"])  # no lock or temp file left
    # config.toml is reusable as --config
    assert from_dict(load_config_file(run_dir / "config.toml")) == cfg
    # metrics.json: valid JSON, exactly the returned metrics
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == metrics
    assert set(saved["test"]) == TEST_KEYS and saved["config"] == cfg.to_dict()
    assert saved["test"]["chance"] == 0.1  # 10 balanced classes
    assert saved["test"]["legit_acc"] > 0.2, "the synthetic set is easy: two epochs must beat chance clearly"
    assert [(h["phase"], h["epoch"]) for h in saved["history"]] == [("link", 1), ("link", 2), ("eve", 1)]
    # the final test metrics are those of the last epoch of each phase (evaluation is seeded)
    link2, eve1 = saved["history"][1], saved["history"][2]
    assert [saved["test"][k] for k in ("legit_acc", "legit_psnr", "legit_ssim")] == [
        link2[k] for k in ("legit_acc", "legit_psnr", "legit_ssim")
    ]
    assert saved["test"]["eve_acc"] == eve1["eve_acc"]
    assert saved["samples_seen"] == 3 * 512 and set(saved["seconds_per_epoch"]) == {"link", "eve"}
    # both checkpoints load with plain torch.load(weights_only=True)
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    model = torch.load(run_dir / "model.pt", weights_only=True)
    assert ckpt["format"] == FORMAT and ckpt["counters"] == {"link": 2, "eve": 1}
    assert model["format"] == MODEL_FORMAT and set(model) == {"format", "config", "link", "eve"}
    assert_same_state(ckpt["link"], model["link"])
    assert_same_state(ckpt["eve"], model["eve"])


def test_train_run_tensorboard_tags(finished_run: tuple[LinkConfig, Path, dict]) -> None:
    from semgame import tags

    _, run_dir, metrics = finished_run
    tb = scalars(run_dir)
    hparam_tags = {f"hparam/{t}" for t in (tags.LEGIT_ACC, tags.LEGIT_PSNR, tags.LEGIT_SSIM, tags.EVE_ACC)}
    assert (
        set(tb)
        == {
            tags.TRAIN_LOSS,
            tags.TRAIN_CE,
            tags.TRAIN_MSE,
            tags.LEGIT_ACC,
            tags.LEGIT_PSNR,
            tags.LEGIT_SSIM,
            tags.EVE_LOSS,
            tags.EVE_ACC,
            tags.SAMPLES_PER_S,
        }
        | hparam_tags
    )
    # global step = training images seen: 512 per epoch, link then eavesdropper
    assert [s for s, _ in tb[tags.TRAIN_LOSS]] == [512, 1024]
    assert [s for s, _ in tb[tags.LEGIT_ACC]] == [512, 1024]
    assert [s for s, _ in tb[tags.EVE_ACC]] == [1536]
    assert [s for s, _ in tb[tags.SAMPLES_PER_S]] == [512, 1024, 1536]
    history = metrics["history"]
    assert [v for _, v in tb[tags.SAMPLES_PER_S]] == pytest.approx([512 / h["seconds"] for h in history], rel=1e-5)
    assert [v for _, v in tb[tags.TRAIN_LOSS]] == pytest.approx([h["loss"] for h in history[:2]])
    assert [v for _, v in tb[tags.LEGIT_PSNR]] == pytest.approx([h["legit_psnr"] for h in history[:2]])
    assert [v for _, v in tb[tags.EVE_LOSS]] == pytest.approx([history[2]["loss"]])
    assert tb[f"hparam/{tags.LEGIT_ACC}"] == [(1537, pytest.approx(metrics["test"]["legit_acc"]))]


def test_train_run_hparams(finished_run: tuple[LinkConfig, Path, dict]) -> None:
    """The HPARAMS plugin sees every results key of the config and the four final test metrics."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    cfg, run_dir, _ = finished_run
    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    expected = run_mod.results_config(cfg)
    assert set(expected) >= {"dataset", "k", "width", "snr_db", "epochs", "lr", "seed"}
    assert values == {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in expected.items()}
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {
        "hparam/legit/acc",
        "hparam/legit/psnr",
        "hparam/legit/ssim",
        "hparam/eve/acc",
    }


def test_load_run_reproduces_metrics_in_eval_mode(finished_run: tuple[LinkConfig, Path, dict]) -> None:
    cfg, run_dir, metrics = finished_run
    for source in (run_dir, run_dir / "model.pt", run_dir / "checkpoint.pt"):
        loaded_cfg, link, eve = load_run(source)
        assert loaded_cfg == cfg
        assert not any(m.training for m in link.modules()) and not any(m.training for m in eve.modules())
        _, test = load_data(loaded_cfg)
        again = evaluate(link, test, device=torch.device("cpu"), eve=eve, seed=cfg.seed)
        expected = {k: v for k, v in metrics["test"].items() if k != "chance"}
        assert again == pytest.approx(expected, rel=1e-6, abs=1e-6)


def _interrupt(monkeypatch: pytest.MonkeyPatch, target: str, at_call: int) -> None:
    """Make the ``at_call``-th call (1-based) of ``target`` (``"module:function"``) raise KeyboardInterrupt."""
    module, name = target.split(":")
    real = getattr(sys.modules[module], name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == at_call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sys.modules[module], name, wrapper)


@pytest.mark.parametrize(
    ("target", "at_call", "done"),
    [
        ("semgame.run:train_link_epoch", 2, {"link": 1, "eve": 0}),  # during link epoch 2
        (
            "semgame.runloop:save_checkpoint",
            2,
            {"link": 1, "eve": 0},
        ),  # link epoch 2 trained and logged, not checkpointed
        ("semgame.run:train_eavesdropper_epoch", 1, {"link": 2, "eve": 0}),  # during the eavesdropper phase
    ],
)
def test_interrupted_run_resumes_to_the_uninterrupted_result(
    finished_run: tuple[LinkConfig, Path, dict],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    at_call: int,
    done: dict[str, int],
) -> None:
    cfg, ref_dir, ref_metrics = finished_run
    run_dir = tmp_path / "interrupted"
    with monkeypatch.context() as m:
        _interrupt(m, target, at_call)
        with pytest.raises(KeyboardInterrupt):
            train_run(cfg, run_dir, quiet=True)
    assert (run_dir / "checkpoint.pt").is_file() and not (run_dir / "model.pt").exists()
    assert not (run_dir / "metrics.json").exists() and not (run_dir / ".lock").exists()
    partial = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert partial["counters"] == done
    # an unfinished run folder can already be loaded (from its checkpoint)
    assert load_run(run_dir)[0] == cfg

    metrics = train_run(cfg, run_dir, quiet=True)

    assert without_timings(metrics) == without_timings(ref_metrics)
    got = torch.load(run_dir / "model.pt", weights_only=True)
    ref = torch.load(ref_dir / "model.pt", weights_only=True)
    assert_same_state(got["link"], ref["link"])
    assert_same_state(got["eve"], ref["eve"])
    # TensorBoard: every epoch exactly once, none repeated or lost, the same values
    tb, ref_tb = scalars(run_dir), scalars(ref_dir)
    assert set(tb) == set(ref_tb)
    for tag in set(tb) - {"perf/samples_per_s"}:
        assert tb[tag] == ref_tb[tag], tag
    assert [s for s, _ in tb["perf/samples_per_s"]] == [512, 1024, 1536]


def test_finished_run_is_not_repeated(
    finished_run: tuple[LinkConfig, Path, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, run_dir, metrics = finished_run
    before = snapshot(run_dir)
    assert train_run(cfg, run_dir) == metrics
    assert "finished already" in capsys.readouterr().out
    assert snapshot(run_dir) == before


def test_same_seed_same_result_different_seed_different_weights(
    finished_run: tuple[LinkConfig, Path, dict], tmp_path: Path
) -> None:
    cfg, ref_dir, ref_metrics = finished_run
    torch.manual_seed(12345)  # the global RNG state must not matter
    torch.rand(7)
    again = train_run(cfg.replace(epochs=1, eve_epochs=0), tmp_path / "a", quiet=True)
    other = train_run(cfg.replace(epochs=1, eve_epochs=0, seed=1), tmp_path / "b", quiet=True)
    # first link epoch of the reference run
    assert again["history"][0]["loss"] == ref_metrics["history"][0]["loss"]
    assert other["history"][0]["loss"] != ref_metrics["history"][0]["loss"]


@pytest.mark.parametrize("change", [{"k": 4}, {"epochs": 3}, {"snr_db": 5.0}, {"seed": 1}, {"dataset": "cifar10"}])
def test_different_config_in_existing_run_dir_is_refused_untouched(
    finished_run: tuple[LinkConfig, Path, dict], change: dict[str, Any]
) -> None:
    cfg, run_dir, _ = finished_run
    before = snapshot(run_dir)
    with pytest.raises(ConfigError, match="different config") as info:
        train_run(cfg.replace(**change), run_dir, quiet=True)
    assert next(iter(change)) in str(info.value) and "\n" not in str(info.value)
    assert snapshot(run_dir) == before


def test_a_run_of_zero_epochs_guards_its_folder_like_any_other(synthetic_root: Path, tmp_path: Path) -> None:
    # it used to write no checkpoint.pt: a later command with another config overwrote its results
    cfg = tiny_config(synthetic_root, epochs=0, eve_epochs=0, test_limit=64)
    first = train_run(cfg, tmp_path / "run", quiet=True)
    before = snapshot(tmp_path / "run")
    with pytest.raises(ConfigError, match="different config"):
        train_run(cfg.replace(k=4), tmp_path / "run", quiet=True)
    assert snapshot(tmp_path / "run") == before
    assert train_run(cfg, tmp_path / "run", quiet=True)["test"] == first["test"]  # the same config: finished


def test_chance_is_one_over_the_classes_whatever_the_test_subset(synthetic_root: Path, tmp_path: Path) -> None:
    # it was 1 / (classes present in the test subset): 1.0 for --test-limit 1
    cfg = tiny_config(synthetic_root, epochs=0, eve_epochs=0, test_limit=1)
    assert train_run(cfg, tmp_path / "run", quiet=True)["test"]["chance"] == 0.1


def test_checkpoint_with_a_format_but_no_config_is_a_checkpoint_error(tmp_path: Path) -> None:
    for body in ({"format": MODEL_FORMAT}, {"format": MODEL_FORMAT, "config": None}):
        save_checkpoint(body, tmp_path / "model.pt")
        with pytest.raises(CheckpointError, match="has no config"):
            load_run(tmp_path)


def test_corrupt_checkpoint_in_run_dir_is_refused_untouched(synthetic_root: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"\x00" * 100)
    (run_dir / "config.toml").write_text("# someone's notes\n")
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError):
        train_run(tiny_config(synthetic_root), run_dir, quiet=True)
    assert snapshot(run_dir) == before


def test_missing_data_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from semgame import data
    from semgame.data import DataNotFoundError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_download(*args: Any, **kwargs: Any) -> None:
        raise OSError("network disabled in tests")

    import torchvision

    monkeypatch.setattr(torchvision.datasets, "MNIST", no_download)
    data._load_cached.cache_clear()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError):
        train_run(tiny_config(empty), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
    with pytest.raises(DataNotFoundError):  # nor the parents it made for a nested run folder
        train_run(tiny_config(empty), tmp_path / "a" / "b" / "run", quiet=True)
    assert not (tmp_path / "a").exists()


def test_cifar10_run_smoke(synthetic_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_root, dataset="cifar10", epochs=1, eve_epochs=1, train_limit=128, test_limit=64)
    metrics = train_run(cfg, tmp_path / "c", quiet=True)
    assert set(metrics["test"]) == TEST_KEYS
    _, link, _ = load_run(tmp_path / "c")
    assert link.encoder(torch.rand(2, 3, 32, 32)).shape == (2, 8)


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not REAL_ROOT, reason="SEMGAME_DATA is not set")
def test_real_mnist_subsets_and_evaluation_are_seeded() -> None:
    cfg = LinkConfig(dataset="mnist", k=8, width=8, train_limit=64, test_limit=500, data_root=REAL_ROOT)
    train, test = load_data(cfg)
    assert len(test) == 500 and len(train) == 64
    images, labels = test.tensors
    assert images.shape == (500, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == 0 and images.max() == 1  # uint8 0..255 scaled exactly onto [0, 1]
    assert set(labels.tolist()) == set(range(10))
    again, other = load_data(cfg)[1], load_data(cfg.replace(seed=1))[1]
    assert torch.equal(again.tensors[1], labels) and not torch.equal(other.tensors[1], labels)
    torch.manual_seed(0)
    link, eve = build_link(cfg), build_eavesdropper(cfg)
    result = evaluate(link, test, device=torch.device("cpu"), eve=eve)
    assert result == evaluate(link, test, device=torch.device("cpu"), eve=eve)  # seeded channel draws
    assert result != evaluate(link, test, device=torch.device("cpu"), eve=eve, seed=1)
    assert abs(result["legit_acc"] * 500 - round(result["legit_acc"] * 500)) < 1e-6  # a fraction of the 500 images


def test_atomic_write_gives_files_the_usual_permissions(tmp_path):
    import os

    from semgame.io import write_text

    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "report.md", "x\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_resumed_writer_sorts_after_event_files_of_the_same_second(tmp_path: Path) -> None:
    """TensorBoard reads event files in name order; a resume within the same second must come last."""
    import time

    from torch.utils.tensorboard import SummaryWriter

    from semgame.runloop import wait_for_a_later_event_file_name

    tb = tmp_path / "tb"
    tb.mkdir()
    earlier = tb / f"events.out.tfevents.{int(time.time()):010d}.~.1.99"  # '~' sorts after any host name
    earlier.write_bytes(b"")
    (tb / "events.out.tfevents.0-foreign.x").write_bytes(b"")  # not a second: ignored
    wait_for_a_later_event_file_name(tb)
    with SummaryWriter(str(tb)) as writer:
        writer.add_scalar("x", 1.0, 0)
    names = sorted(p.name for p in tb.glob("events.out.tfevents.*"))
    assert names[-1] != earlier.name and names[:2] == ["events.out.tfevents.0-foreign.x", earlier.name]
