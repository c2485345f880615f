"""The active-learning simulation: its engine on synthetic embeddings (no images, no database), the
whole-history sequence grouping, and the command on the real samples beside the checkout (skipped
where they are absent).
No test here has database access, which is the check that the command needs no rows."""

import datetime as dt
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from annotation.ingest.sequences import Frame, group_sequences
from faune_platform.boxes import Box
from inference.engine.preprocess import CropRequest
from inference.engine.selection import DEFAULT_STRATEGY
from tests.conftest import SHARED_CAMTRAP
from tests.factories import line_colours_drawn, png_pixels
from training.engine import simulation as sim
from training.engine.heads import HeadConfig
from training.engine.simulation import LabelledSet, Oracle, Point, SimulationConfig

FAST = SimulationConfig(seed_size=4, batch_size=4, budget=20, head=HeadConfig(epochs=15))


def _synthetic(classes: int = 4, sequences_per_class: int = 8, frames: int = 3) -> LabelledSet:
    """Bursts of near-identical frames around one point per sequence, sequences scattered around a
    class centre."""
    rng = np.random.default_rng(7)
    centres = rng.normal(scale=3.0, size=(classes, 16))
    rows, labels, keys = [], [], []
    for label in range(classes):
        for sequence in range(sequences_per_class):
            burst = centres[label] + rng.normal(size=16)
            rows += [burst + rng.normal(scale=0.1, size=16) for _ in range(frames)]
            labels += [label] * frames
            keys += [f"cam#{label}-{sequence}"] * frames
    return LabelledSet(
        np.array(rows, np.float32),
        np.array(labels),
        np.array(keys),
        [f"c{i}" for i in range(classes)],
    )


def _noise(shape: tuple[int, ...]) -> np.ndarray:
    """Enough noise that classes overlap and the head's training shows in its score."""
    return np.random.default_rng(11).normal(size=shape).astype(np.float32)


# --- engine ---------------------------------------------------------------------------------------


def test_curves_grow_by_one_batch_a_round_up_to_the_budget():
    data = _synthetic()
    test = sim.held_out(data.sequences, 0, 0.25)
    for strategy in ("random", "hybrid", "kcenter", "margin"):
        points = sim.run_strategy(data, test, strategy, 0, FAST)
        assert [p.actions for p in points] == [4, 8, 12, 16, 20], strategy
        assert all(0.0 <= p.accuracy <= 1.0 and 0.0 <= p.macro_f1 <= 1.0 for p in points)


def test_a_campaign_stops_when_the_pool_runs_out():
    data = _synthetic(classes=2, sequences_per_class=4, frames=2)
    test = sim.held_out(data.sequences, 0, 0.25)
    points = sim.run_strategy(data, test, "random", 0, replace(FAST, budget=1000))
    assert points[-1].images == int((~test).sum())
    assert points[-1].actions == len(set(data.sequences[~test].tolist()))  # one action a sequence


def test_campaigns_that_labelled_the_same_images_score_the_same_whatever_their_order():
    """Once the pool runs out every strategy has labelled all of it: the head, and so the score,
    must not depend on the order the labels were bought in."""
    data = _synthetic(classes=4, sequences_per_class=8, frames=3)
    data = replace(data, embeddings=data.embeddings / 3.0 + _noise(data.embeddings.shape))
    test = sim.held_out(data.sequences, 2, 0.25)
    last = {
        strategy: sim.run_strategy(data, test, strategy, 2, replace(FAST, budget=1000))[-1]
        for strategy in ("random", "margin", "kcenter", DEFAULT_STRATEGY)
    }
    assert len({point.images for point in last.values()}) == 1
    assert len({(point.accuracy, point.macro_f1) for point in last.values()}) == 1, last


def test_the_test_split_takes_whole_sequences_and_depends_on_the_seed():
    data = _synthetic(sequences_per_class=10)
    masks = [sim.held_out(data.sequences, seed, 0.25) for seed in range(3)]
    for mask in masks:
        assert not set(data.sequences[mask]) & set(data.sequences[~mask])
        assert len(set(data.sequences[mask])) == 10
    assert not np.array_equal(masks[0], masks[1])
    tiny = np.array(["a", "b"])
    assert sim.held_out(tiny, 0, 0.01).sum() == 1 and sim.held_out(tiny, 0, 0.99).sum() == 1


def test_seeds_are_paired_across_strategies_and_runs_repeat_exactly():
    data = _synthetic()
    result = sim.simulate(data, ["random", "hybrid", "typical"], 2, FAST)
    for seed in range(2):
        starts = {
            (p.accuracy, p.macro_f1) for p in result.points if p.seed == seed and p.actions == 4
        }
        assert (
            len(starts) == 1
        )  # same test split, same start set, same head: the first point is shared
    assert sim.simulate(data, ["random", "hybrid", "typical"], 2, FAST) == result


def test_the_oracle_reveals_only_what_was_picked():
    data = _synthetic()
    test = sim.held_out(data.sequences, 1, 0.25)
    oracle = Oracle(data.labels)
    points = sim.run_strategy(data, test, "hybrid", 1, FAST, oracle)
    revealed = np.array(oracle.revealed)
    assert len(revealed) == len(set(revealed.tolist())) == points[-1].images
    assert not test[revealed].any()
    # Scrambling every label nobody asked for changes nothing: the strategy never saw them.
    scrambled = replace(data, labels=data.labels.copy())
    hidden = np.setdiff1d(np.flatnonzero(~test), revealed)
    scrambled.labels[hidden] = (scrambled.labels[hidden] + 1) % len(data.class_names)
    again = Oracle(scrambled.labels)
    assert sim.run_strategy(scrambled, test, "hybrid", 1, FAST, again) == points
    assert again.revealed == oracle.revealed


def test_the_seed_set_takes_one_frame_per_sequence_while_it_can():
    data = _synthetic(classes=2, sequences_per_class=3, frames=4)
    rows = sim.seed_rows(np.arange(len(data.labels)), data.sequences, 6, 0)
    assert len(set(data.sequences[rows].tolist())) == 6
    rows = sim.seed_rows(np.arange(len(data.labels)), data.sequences, 9, 0)
    assert len(set(rows.tolist())) == 9 and len(set(data.sequences[rows].tolist())) == 6


def test_a_sequence_action_labels_every_frame_of_the_sequence_and_an_image_action_one():
    data = _synthetic(classes=3, sequences_per_class=10, frames=3)
    test = sim.held_out(data.sequences, 0, 0.25)
    by_sequence = sim.run_strategy(data, test, "margin", 0, FAST)
    by_image = sim.run_strategy(data, test, "margin", 0, replace(FAST, unit="image"))
    assert [(p.actions, p.images) for p in by_sequence] == [(a, 3 * a) for a in (4, 8, 12, 16, 20)]
    assert [(p.actions, p.images) for p in by_image] == [(a, a) for a in (4, 8, 12, 16, 20)]


def test_random_draws_sequences_uniformly_whatever_their_length():
    from inference.engine.selection import Pool, select

    sequences = np.array(["long"] * 50 + [f"short{i}" for i in range(50)])
    pool = Pool(ids=np.arange(100), embeddings=np.zeros((100, 2), np.float32), sequences=sequences)
    picked_long = sum(
        "long" in sequences[select(pool, "random", 1, seed=seed).ids] for seed in range(400)
    )
    assert 0 < picked_long < 25  # about 1 in 51; frame-uniform draws would pick it half the time


def test_label_noise_corrupts_the_same_answers_for_every_strategy():
    labels = np.arange(200) % 4
    first, second = (Oracle(labels, noise=0.2, classes=4, seed=3) for _ in range(2))
    rows = np.arange(200)
    answers = first.reveal(rows)
    np.testing.assert_array_equal(answers, second.reveal(rows))
    assert 0.1 < (answers != labels).mean() < 0.3
    np.testing.assert_array_equal(Oracle(labels, seed=3).reveal(rows), labels)


def test_images_that_arrive_late_are_not_picked_before_they_arrive():
    data = _synthetic(classes=3, sequences_per_class=6, frames=2)
    late = data.labels == 2
    test = sim.held_out(data.sequences, 0, 0.25)
    oracle = Oracle(data.labels)
    config = replace(FAST, budget=40)
    points = sim.run_strategy(
        replace(data, arrival=np.where(late, 5, 0)), test, "random", 0, config, oracle
    )
    revealed = np.array(oracle.revealed)
    early_pool = len(set(data.sequences[~test & ~late].tolist()))
    assert points[-1].actions == len(
        set(data.sequences[~test].tolist())
    )  # everything, once it arrived
    assert not late[revealed[: 2 * early_pool]].any() and late[revealed].any()


def test_curves_aulc_paired_differences_and_actions_to_target():
    config = SimulationConfig(seed_size=8, batch_size=8, budget=24)
    points = [
        Point(strategy, seed, actions, actions, 0.5, f1)
        for strategy, seed, actions, f1 in [
            ("random", 0, 8, 0.2),
            ("random", 1, 8, 0.4),
            ("random", 0, 16, 0.8),
            ("random", 1, 16, 0.6),
            ("random", 0, 24, 0.9),
            ("random", 1, 24, 0.9),
            ("hybrid", 0, 8, 0.2),
            ("hybrid", 1, 8, 0.4),
            ("hybrid", 0, 16, 0.9),
            ("hybrid", 1, 16, 0.9),
        ]
    ]
    rows = sim.curves(points)
    assert [(r.actions, r.seeds, round(r.macro_f1_mean, 3)) for r in rows[:3]] == [
        (8, 2, 0.3),
        (16, 2, 0.7),
        (24, 2, 0.9),
    ]
    assert rows[0].macro_f1_std == pytest.approx(np.std([0.2, 0.4], ddof=1))
    result = sim.Simulation(points, [(0.9, 1.0), (0.9, 0.6)])  # full-pool macro-F1 0.8: target 0.72
    summary = sim.report(result, config)
    assert (
        summary["full_pool"] == {"accuracy": 0.9, "macro_f1": 0.8} and summary["unit"] == "sequence"
    )
    assert summary["strategies"]["random"]["actions_to_target"] == 24
    assert (
        summary["strategies"]["hybrid"]["actions_to_target"] == 16
    )  # its pool ran out: the last value holds
    assert summary["strategies"]["random"]["aulc"] == pytest.approx(
        (0.3 + 0.7) / 4 + (0.7 + 0.9) / 4
    )
    differences = summary["strategies"]["hybrid"]["vs_random"]
    assert [row["actions"] for row in differences] == [8, 16, 24]
    assert differences[1]["difference"] == pytest.approx(0.2) and differences[1][
        "standard_error"
    ] == pytest.approx(np.std([0.1, 0.3], ddof=1) / np.sqrt(2))
    assert (
        sim.report(result, config, target_share=2.0)["strategies"]["random"]["actions_to_target"]
        is None
    )


def test_embeddings_skip_damaged_files_and_come_back_from_the_cache(tmp_path, monkeypatch):
    folder = _classes_folder(tmp_path / "set", ["fox"], per_class=2)
    (folder / "fox" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    requests = [
        CropRequest(str(folder / "fox" / name), box)
        for name, box in [("0.jpg", None), ("1.jpg", Box(0.1, 0.1, 0.5, 0.5)), ("broken.jpg", None)]
    ]
    vectors, readable = sim.embed(requests, cache=tmp_path / "cache.npz")
    assert vectors.shape == (3, 1280) and readable.tolist() == [True, True, False]
    monkeypatch.setattr(
        sim, "load_efficientnet_lite0", lambda: pytest.fail("the cache should have answered")
    )
    again, _ = sim.embed(requests[:2], cache=tmp_path / "cache.npz")
    np.testing.assert_array_equal(again, vectors[:2])


# --- sequence grouping ----------------------------------------------------------------------------


def _at(seconds: int) -> dt.datetime:
    return dt.datetime(2024, 5, 1, 6, 0) + dt.timedelta(seconds=seconds)


def test_grouping_cuts_a_camera_at_gaps_over_maxlag_whatever_the_order():
    frames = [Frame("a", _at(s)) for s in (50, 0, 10, 30, 100)] + [Frame("b", _at(5))]
    keys = group_sequences(frames, maxlag_s=20)
    assert keys[1] == keys[2] == keys[3] == keys[0]  # 0, 10, 30, 50: every gap is 20 s or less
    assert keys[4] != keys[0]
    assert keys[5] not in keys[:5]  # another camera never shares a sequence, even at the same time


def test_frames_without_a_time_stand_alone_and_explicit_ids_win():
    frames = [
        Frame("a", None),
        Frame("a", None),
        Frame("a", _at(0), "S1"),
        Frame("a", _at(500), "S1"),
        Frame("a", _at(1)),
        Frame("b", _at(0), "S1"),
    ]
    keys = group_sequences(frames, maxlag_s=20)
    assert keys[0] != keys[1]
    assert keys[2] == keys[3]  # far apart in time, but the dataset says one sequence
    assert keys[4] not in (
        keys[2],
        keys[0],
        keys[1],
    )  # an id-less frame never joins an explicit sequence
    assert keys[5] != keys[2]  # the same id on another camera is another sequence
    assert group_sequences([], maxlag_s=20) == []


# --- the command ----------------------------------------------------------------------------------


def _run(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_active_learning", *args, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    return json.loads(lines[-1]), out.getvalue()


def _classes_folder(root, names: list[str], per_class: int = 2):
    for name in names:
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            Image.new("RGB", (64, 48), (40 * index, 90, 160)).save(root / name / f"{index}.jpg")
    return root


def test_command_errors_are_plain(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _run("--dataset", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="unknown strategy"):
        _run("--dataset", str(tmp_path), "--strategies", "random,clever")
    (tmp_path / "loose.jpg").write_bytes(b"")
    with pytest.raises(CommandError, match="no labelled images"):
        _run("--dataset", str(tmp_path))
    single = _classes_folder(tmp_path / "single", ["fox"])
    with pytest.raises(CommandError, match="needs two"):
        _run("--dataset", str(single), "--out", str(tmp_path / "out"))


def _check_shape(summary: dict, strategies: list[str], actions: list[int]) -> None:
    assert set(summary) == {"unit", "full_pool", "target", "strategies"}
    assert set(summary["full_pool"]) == {"accuracy", "macro_f1"}
    assert list(summary["strategies"]) == strategies
    for entry in summary["strategies"].values():
        assert [point[0] for point in entry["curve"]] == actions
        assert all(len(point) == 2 and 0 <= point[1] <= 1 for point in entry["curve"])
        assert entry["actions_to_target"] is None or entry["actions_to_target"] in actions
        assert 0 <= entry["aulc"] <= 1


@pytest.fixture(scope="module")
def missouri(tmp_path_factory):
    if not (SHARED_CAMTRAP / "missouri_tnc").is_dir():
        pytest.skip(
            f"real camera-trap samples not found at {SHARED_CAMTRAP} (they live beside the "
            "checkout)"
        )
    folder = tmp_path_factory.mktemp("missouri")
    args = [
        "--dataset",
        str(SHARED_CAMTRAP / "missouri_tnc"),
        "--seeds",
        "2",
        "--budget",
        "40",
        "--strategies",
        "random,adaptive",
        "--cache",
        str(folder / "embeddings.npz"),
    ]
    return args, folder, _run(*args, "--out", str(folder / "first"))


@pytest.mark.slow
@pytest.mark.shared_data
def test_command_on_missouri_writes_curves_and_beats_chance(missouri):
    _, folder, (summary, output) = missouri
    _check_shape(summary, ["random", "adaptive"], [8, 16, 24, 32, 40])
    assert summary["full_pool"]["accuracy"] > 3 / 20  # 20 classes: chance is 0.05
    assert "1275 images, 20 classes, 100 sequences" in output
    written = folder / "first"
    plot = png_pixels((written / "learning_curves.png").read_bytes())
    assert (
        plot.shape[1] > 1.8 * plot.shape[0] and line_colours_drawn(plot) == 2
    )  # 2 panels, 2 strategies
    curves = (written / "curves.csv").read_text().splitlines()
    assert (
        curves[0] == "strategy,seed,actions,images,accuracy,macro_f1"
        and len(curves) == 1 + 2 * 2 * 5
    )
    summary_csv = (written / "summary.csv").read_text().splitlines()
    assert (
        summary_csv[0].startswith("strategy,actions,seeds,images_mean,accuracy_mean")
        and len(summary_csv) == 11
    )
    assert (
        summary["strategies"]["adaptive"]["vs_random"][0]["difference"] == 0.0
    )  # the shared start set


@pytest.mark.slow
@pytest.mark.shared_data
def test_command_rerun_from_the_cache_repeats_the_result(missouri):
    args, folder, (summary, _) = missouri
    again, _ = _run(*args, "--out", str(folder / "second"))
    assert again == summary


@pytest.mark.slow
@pytest.mark.shared_data
def test_command_on_borneo_folders_skips_the_video(shared_camtrap, tmp_path):
    summary, output = _run(
        "--dataset",
        str(shared_camtrap / "camtrapR_borneo"),
        "--format",
        "classes",
        "--seeds",
        "2",
        "--seed-size",
        "4",
        "--batch-size",
        "4",
        "--budget",
        "12",
        "--out",
        str(tmp_path),
    )
    _check_shape(summary, ["random", DEFAULT_STRATEGY], [4, 8, 12])  # the default comparison
    assert "1 video (not simulated)" in output
    plot = png_pixels((tmp_path / "learning_curves.png").read_bytes())
    assert (
        plot.shape[1] > 1.8 * plot.shape[0] and line_colours_drawn(plot) == 2
    )  # 2 panels, 2 strategies


def test_the_balanced_oracle_takes_the_least_labelled_classes_first_one_frame_a_sequence():
    data = _synthetic(classes=3, sequences_per_class=4, frames=2)
    labelled = np.flatnonzero(np.isin(data.sequences, ["cam#0-0", "cam#0-1", "cam#1-0"]))
    unlabelled = np.setdiff1d(np.arange(len(data.labels)), labelled)
    picks = sim.balanced_oracle_picks(data, unlabelled, labelled, 4, seed=3)
    assert len(set(data.sequences[picks].tolist())) == 4
    # class 2 had none, class 1 one, class 0 two: 2 first, then 1 and 2 (tied at one), then any
    assert data.labels[picks[0]] == 2
    assert sorted(data.labels[picks[:3]].tolist()) == [1, 2, 2]
