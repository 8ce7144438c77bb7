"""FID, KID and precision/recall on synthetic features, against independent computations."""

import numpy as np
import pytest
import scipy.linalg
import torch

from noisecraft.evaluate import metrics as M


def features(n: int, d: int = 32, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    mix = np.random.default_rng(1234).normal(size=(d, d)) / np.sqrt(d)  # correlated features, like a network's
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * scale) @ mix + shift


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The classic float64 computation (pytorch-fid / TTUR): scipy's sqrtm of the covariance product."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("shift, scale", [(0.0, 1.0), (0.3, 1.0), (0.0, 1.5), (1.0, 0.5)])
def test_fid_agrees_with_scipy_and_torchmetrics(shift, scale):
    from torchmetrics.image.fid import _compute_fid

    real, fake = features(600, seed=1), features(600, shift=shift, scale=scale, seed=2)
    ours = M.fid(real, fake)
    assert ours == pytest.approx(scipy_fid(real, fake), rel=1e-3)
    mu1, s1 = M.gaussian_fit(real)
    mu2, s2 = M.gaussian_fit(fake)
    theirs = _compute_fid(*(torch.as_tensor(v) for v in (mu1, s1, mu2, s2))).item()
    assert ours == pytest.approx(theirs, rel=1e-3)


def test_fid_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert M.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_fid_is_zero_for_identical_sets_and_grows_with_the_gap():
    real = features(500)
    assert abs(M.fid(real, real)) < 1e-8
    gaps = [M.fid(real, features(500, shift=s, seed=3)) for s in (0.0, 0.2, 0.5, 1.0)]
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1] / 20


def test_kid_is_unbiased_near_zero_and_orders_shifts():
    real = features(800, seed=1)
    same, same_std = M.kid(real, features(800, seed=2), num_subsets=50, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-4
    far, _ = M.kid(real, features(800, shift=0.5, seed=2), num_subsets=50, subset_size=200)
    farther, _ = M.kid(real, features(800, shift=1.0, seed=2), num_subsets=50, subset_size=200)
    assert 0 < far < farther


def test_kid_matches_a_direct_unbiased_mmd():
    x, y = features(60, d=8, seed=1), features(60, d=8, shift=0.3, seed=2)
    k = lambda a, b: (a @ b.T / 8 + 1) ** 3  # noqa: E731
    m = 60
    direct = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1)) + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
              - 2 * k(x, y).mean())
    value, std = M.kid(x, y, num_subsets=3, subset_size=60)  # subsets of all 60: every subset is the whole set
    assert value == pytest.approx(direct, rel=1e-10) and std == pytest.approx(0, abs=1e-12)


def test_precision_and_recall():
    real = features(400, d=8, seed=1)
    assert M.precision_recall(real, real) == (1.0, 1.0)
    far = features(400, d=8, shift=50.0, seed=2)
    assert M.precision_recall(real, far) == (0.0, 0.0)
    # a generator that covers one corner of the data: precise, poor recall
    corner = real[np.argsort(real[:, 0])[:60]]
    precision, recall = M.precision_recall(real, corner + 1e-3)
    spread = real[np.random.default_rng(0).choice(400, 60, replace=False)]
    _, spread_recall = M.precision_recall(real, spread + 1e-3)
    assert precision > 0.9 and recall < 0.6 and recall < spread_recall - 0.25
