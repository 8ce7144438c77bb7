"""Real or generated? A classifier two-sample test (Lopez-Paz & Oquab 2017).

A small classifier (an MLP on standardized features of the data's feature network) learns to tell samples
from held-out real images; its accuracy on examples it was not trained on, pooled over k folds so that
every example is judged once, is the statistic: 0.5 = the judge cannot tell them apart, 1.0 = always can.
The 95% Wilson interval is over those held-out predictions. A judge that cannot tell proves little about a
stronger one: the number is only as strong as the judge.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from noisecraft.errors import ConfigError

FOLDS = 5
MIN_PER_SIDE = 10


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95% (z = 1.96) Wilson score interval of a binomial proportion."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def c2st(real: np.ndarray, fake: np.ndarray, folds: int = FOLDS, seed: int = 0) -> dict[str, Any]:
    """Held-out accuracy of a judge telling `fake` [N, D] from `real` [M, D] (balanced to the smaller side)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    n = min(len(real), len(fake))
    if n < MIN_PER_SIDE:
        raise ConfigError(f"--metrics c2st: needs at least {MIN_PER_SIDE} samples and as many held-out real "
                          f"images, got {len(fake)} and {len(real)} (raise --num)")
    rng = np.random.default_rng(seed)
    real = np.asarray(real, np.float64)[rng.permutation(len(real))[:n]]
    fake = np.asarray(fake, np.float64)[rng.permutation(len(fake))[:n]]
    x = np.concatenate([real, fake])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int)])
    judge = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=300,
                                                          early_stopping=True, random_state=seed))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(1):  # small matrices: one BLAS thread is fastest, and never oversubscribes
        predicted = cross_val_predict(judge, x, y, cv=splits)
    correct = int((predicted == y).sum())
    low, high = wilson_interval(correct, len(y))
    return {"accuracy": correct / len(y), "ci95": [low, high], "judged": len(y), "per_side": n, "folds": folds,
            "judge": "MLP(64) on standardized features, k-fold held-out predictions"}


def image_c2st(samples, data, split: str = "test", progress: bool = False) -> dict[str, Any]:
    """C2ST of images [N, C, H, W] in [0, 1] against as many held-out real images of `split`."""
    from noisecraft.evaluate.features import feature_network, features_of, held_out_features

    extractor = feature_network(data)
    real = held_out_features(data, split, len(samples), extractor, progress=progress)
    return {**c2st(real, features_of(extractor, samples, progress)), "feature_network": extractor.name, "split": split}
