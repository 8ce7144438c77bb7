"""How good are generated levels? `noisecraft evaluate RUN --metrics levels`, each figure beside the
corpus's own:

- playable share: levels the game's agent can play (the corpus: its levels; Mario's are all playable);
- novelty: share of generated windows (every window of the training width; Zelda: rooms) found nowhere
  among the training windows (the corpus: its held-out levels against the training ones);
- diversity: mean pairwise share of differing tiles between non-overlapping windows of the samples
  (the corpus: of its own windows);
- tile-pattern KL (Lucas & Volz 2019): symmetric KL divergence between the 2x2 (and 3x3) tile-pattern
  distributions of one level and of the training corpus, counts smoothed by +0.5 over the union of
  patterns, averaged over levels (the corpus: each level against all the others, leave-one-out).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import numpy as np

from noisecraft.data.levels.agents import play
from noisecraft.data.levels.dataset import corpus_levels
from noisecraft.data.levels.tiles import to_indices
from noisecraft.errors import ConfigError

LEVEL_METRICS = ("levels", "memorization")
SMOOTHING = 0.5
DIVERSITY_WINDOWS = 400  # windows compared pairwise at most (a fixed-seed subset beyond)


def patterns(rows: list[str] | tuple[str, ...], k: int) -> Counter:
    """Counts of every k x k block of tiles."""
    h, w = len(rows), len(rows[0])
    return Counter("".join(r[x : x + k] for r in rows[y : y + k]) for y in range(h - k + 1) for x in range(w - k + 1))


def pattern_kl(p: Counter, q: Counter, smoothing: float = SMOOTHING) -> float:
    """Symmetric KL divergence (nats) between two pattern counts, smoothed over the union of patterns."""
    keys = list(set(p) | set(q))
    pc = np.array([p.get(x, 0) for x in keys], dtype=np.float64) + smoothing
    qc = np.array([q.get(x, 0) for x in keys], dtype=np.float64) + smoothing
    pp, qq = pc / pc.sum(), qc / qc.sum()
    return float(0.5 * (np.sum(pp * np.log(pp / qq)) + np.sum(qq * np.log(qq / pp))))


def windows_of(levels: list, width: int, stride: int = 1) -> list[tuple[str, ...]]:
    out = []
    for rows in levels:
        for x in range(0, len(rows[0]) - width + 1, stride):
            out.append(tuple(r[x : x + width] for r in rows))
    return out


def novelty(levels: list, training: set[tuple[str, ...]], width: int) -> float:
    found = windows_of(levels, width)
    return sum(w not in training for w in found) / max(1, len(found))


def diversity(levels: list, width: int, tiles: str, seed: int = 0) -> float:
    """Mean share of differing tiles over all pairs of non-overlapping windows (a fixed subset of 400 at most)."""
    found = windows_of(levels, width, stride=width)
    if len(found) < 2:
        return float("nan")
    if len(found) > DIVERSITY_WINDOWS:
        keep = np.random.default_rng(seed).choice(len(found), DIVERSITY_WINDOWS, replace=False)
        found = [found[i] for i in sorted(keep)]
    grids = np.stack([to_indices(w, tiles).ravel() for w in found])
    differ = (grids[:, None, :] != grids[None, :, :]).mean(axis=2)
    n = len(grids)
    return float(differ.sum() / (n * (n - 1)))


def level_figures(levels: list, reference: dict[int, Counter], training: set, width: int, tiles: str,
                  game: str) -> dict[str, float]:
    """The four figures of a set of levels (rows) against the training windows and pattern counts."""
    figures = {"playable_share": sum(play(rows, game).playable for rows in levels) / len(levels),
               "novelty": novelty(levels, training, width), "diversity": diversity(levels, width, tiles)}
    for k, counts in reference.items():
        figures[f"pattern_kl_{k}x{k}"] = float(np.mean([pattern_kl(patterns(rows, k), counts) for rows in levels]))
    return figures


def corpus_figures(data, width: int, tiles: str, game: str) -> dict[str, float]:
    """The same figures for the corpus itself: all its levels' playability, held-out novelty, its diversity,
    and each level's pattern KL against the rest."""
    every = [lv.rows for lv in corpus_levels(data)]
    train = [lv.rows for lv in corpus_levels(data, "train")]
    test = [lv.rows for lv in corpus_levels(data, "test")] if data.test_fraction > 0 else []
    figures = {"playable_share": sum(play(rows, game).playable for rows in every) / len(every),
               "novelty": novelty(test, set(windows_of(train, width)), width) if test else float("nan"),
               "diversity": diversity(every, width, tiles)}
    for k in (2, 3):
        counts = [patterns(rows, k) for rows in every]
        total = sum(counts, Counter())
        figures[f"pattern_kl_{k}x{k}"] = float(np.mean([pattern_kl(c, total - c) for c in counts]))
    return figures


def longest_copy(rows: list[str] | tuple[str, ...], training: list) -> int:
    """The most consecutive columns of a level found verbatim, in order, in one training level."""
    def found(length: int) -> bool:
        seen = set(windows_of(training, length))
        return any(w in seen for w in windows_of([rows], length))

    low, high = 0, len(rows[0])  # binary search: a copied run of n columns holds one of every shorter length
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if found(mid) else (low, mid - 1)
    return low


def level_memorization(samples: list, data, *, model=None, out_dir=None, progress: bool = False) -> dict[str, Any]:
    """Copies of training levels among `samples` (rows of tiles): novelty of their windows, the share of
    levels made only of training windows, and the longest run of columns copied verbatim."""
    from noisecraft.data.levels.dataset import window_width, level_game

    train = [lv.rows for lv in corpus_levels(data, "train")]
    width = model.spec.level["window"] if model is not None else window_width(data, level_game(data))
    seen = set(windows_of(train, width))
    copied = [novelty([rows], seen, width) == 0 for rows in samples]
    longest = [longest_copy(rows, train) for rows in samples]
    metrics = {"novelty": novelty(samples, seen, width), "copied_level_share": sum(copied) / len(samples),
               "longest_copied_columns": max(longest), "median_copied_columns": float(np.median(longest))}
    return {"metrics": metrics, "report": {"window": width, "copied_levels": [i for i, c in enumerate(copied) if c],
                                           "longest_copied_columns": longest}}


def parse_level_metrics(text: str | None) -> list[str]:
    chosen = [m.strip().lower() for m in (text or "levels").split(",") if m.strip()]
    unknown = [m for m in chosen if m not in LEVEL_METRICS]
    if unknown or not chosen:
        raise ConfigError(f"--metrics {unknown[0] if unknown else '(none)'}: not a metric for level models "
                          f"(choose from: {', '.join(LEVEL_METRICS)})")
    return chosen


def evaluate_levels(model, data, *, num: int = 32, width: int | None = None, seed: int = 0,
                    sample_options: dict[str, Any] | None = None, metrics_chosen: tuple[str, ...] = ("levels",)) -> dict[str, Any]:
    """Generate `num` levels and measure them and the corpus; the record `noisecraft evaluate` writes."""
    from noisecraft.models.levels import generate_levels, level_of

    level = level_of(model)
    game, tiles = level["game"], level["tiles"]
    window = level["window"]
    train = [lv.rows for lv in corpus_levels(data, "train")]
    started = time.perf_counter()
    generated = generate_levels(model, num, width, seed=seed, **(sample_options or {}))
    seconds = (time.perf_counter() - started) / num
    rows = [lv.rows for lv in generated]
    metrics: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if "levels" in metrics_chosen:
        reference = {k: sum((patterns(r, k) for r in train), Counter()) for k in (2, 3)}
        metrics.update(level_figures(rows, reference, set(windows_of(train, window)), window, tiles, game))
        metrics.update({f"corpus_{k}": v for k, v in corpus_figures(data, window, tiles, game).items()})
    if "memorization" in metrics_chosen:  # issue 25's check, for levels: copies of the training levels
        copies = level_memorization(rows, data, model=model)
        metrics.update({f"memorization_{k}": v for k, v in copies["metrics"].items()})
        extra["memorization"] = copies["report"]
    metrics["seconds_per_level"] = seconds
    protocol = {"name": "levels", "num_samples": num, "seed": seed, "width": len(rows[0][0]), "window": window,
                "game": game, "reference": "training split", "sample_options": sample_options or {},
                "agent": "A* (jump 4 rows, 7 columns in the air)" if game == "smb" else "door-to-door reachability",
                "pattern_smoothing": SMOOTHING}
    return {"protocol": protocol, "metrics": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                              for k, v in metrics.items()},
            "timing": {"total_seconds": time.perf_counter() - started}, **extra}
