"""benchmarks/stats.py: the noise rules the races report by (a tie under 5% unless >= 3 seeds all show it)."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("bench_stats", Path(__file__).resolve().parents[1] / "benchmarks" / "stats.py")
stats = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stats)


def test_a_small_difference_from_one_seed_is_a_tie():
    c = stats.compare([11.40], [11.46])  # the old GAN "win"
    assert c["verdict"] == "tie" and c["ours"]["sd"] is None and c["ratio_ours_over_peer"] == pytest.approx(11.40 / 11.46)


def test_a_small_difference_every_one_of_three_seeds_shows_counts():
    assert stats.compare([10.0, 10.1, 10.2], [10.3, 10.4, 10.5])["verdict"] == "ours"
    assert stats.compare([10.3, 10.4, 10.5], [10.0, 10.1, 10.2])["verdict"] == "peer"
    assert stats.compare([10.0, 10.6, 10.2], [10.3, 10.4, 10.5])["verdict"] == "tie"  # one seed disagrees


def test_a_large_difference_is_a_win_and_direction_follows_the_metric():
    assert stats.compare([8.0], [10.0])["verdict"] == "ours"  # lower FID
    assert stats.compare([8.0], [10.0], lower_is_better=False)["verdict"] == "peer"  # fewer images/s
    s = stats.mean_sd([1.0, 2.0, 3.0])
    assert (s["mean"], s["sd"], s["n"]) == (2.0, 1.0, 3)


def test_spread_of_interleaved_ratios():
    r = stats.spread([1.1, 0.9, 1.0, 1.3])
    assert (r["rounds"], r["min"], r["median"], r["max"]) == (4, 0.9, pytest.approx(1.05), 1.3)


def test_turns_bring_every_trainee_to_the_budget_slice_by_slice():
    log = []

    class T:
        def __init__(self, name):
            self.name, self.spent = name, 0.0

        def seconds(self):
            return self.spent

        def train_until(self, seconds):
            log.append((self.name, seconds))
            self.spent = seconds + 0.5  # a step overshoots the slice a little

    stats.take_turns([T("a"), T("b")], budget=10, slice_seconds=4)
    assert log == [("a", 4), ("b", 4), ("a", 8), ("b", 8), ("a", 10), ("b", 10)]
