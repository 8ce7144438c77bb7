"""C2ST: the real test split against itself is 0.50 +- 0.03; a difference the features show is found."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisecraft.config import DataConfig
from noisecraft.errors import ConfigError
from noisecraft.evaluate.c2st import c2st, image_c2st, wilson_interval
from noisecraft.evaluate.features import feature_network, features_of, held_out_images

pytestmark = pytest.mark.usefixtures("one_thread")
DATA = DataConfig(dataset="mnist")


@pytest.fixture(scope="module")
def test_features() -> np.ndarray:
    images = held_out_images(DATA, "test", 4000)
    return features_of(feature_network(DATA), images[torch.randperm(4000, generator=torch.Generator().manual_seed(0))])


def test_the_real_test_split_against_itself_is_a_coin_flip(test_features: np.ndarray):
    found = c2st(test_features[:2000], test_features[2000:])
    assert found["accuracy"] == pytest.approx(0.5, abs=0.03)
    low, high = found["ci95"]
    assert low < 0.5 < high and high - low < 0.04 and found["judged"] == 4000


def test_a_visible_difference_is_told_apart(test_features: np.ndarray):
    images = held_out_images(DATA, "test", 600)[400:]
    blurred = torch.nn.functional.avg_pool2d(images, 3, stride=1, padding=1)  # digits, slightly blurred
    found = image_c2st(blurred, DATA)
    assert found["accuracy"] > 0.75 and found["ci95"][0] > 0.65 and found["per_side"] == 200


def test_wilson_interval_and_too_few_samples():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    with pytest.raises(ConfigError, match="at least 10 samples"):
        c2st(np.zeros((5, 3)), np.ones((5, 3)))
