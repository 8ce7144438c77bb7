from collections import Counter

import pytest
import torch

from noisecraft.data.digits import load_digits
from noisecraft.errors import DataError


def examples(data):
    return Counter((bytes(x.flatten().tolist()), int(y)) for x, y in zip(data.images, data.labels))


def test_shapes_values_and_labels():
    data = load_digits("train")
    assert data.images.shape == (1617, 1, 8, 8) and data.images.dtype == torch.uint8
    assert data.images.max() == 255 and data.images.min() == 0
    assert set(torch.unique(data.images).tolist()) <= {round(v * 255 / 16) for v in range(17)}
    assert set(data.labels.tolist()) == set(range(10)) and data.class_names == [str(i) for i in range(10)]
    assert data.name == "digits"


def test_split_is_a_deterministic_partition():
    train, test = load_digits("train"), load_digits("test")
    assert len(test) == 180 and len(train) + len(test) == 1797
    everything = load_digits("train", test_fraction=0)
    assert examples(train) + examples(test) == examples(everything)
    assert torch.equal(load_digits("test").images, test.images)
    assert len(load_digits("test", test_fraction=0.5)) == 898


def test_bad_split():
    with pytest.raises(DataError, match="unknown split 'val'"):
        load_digits("val")
    with pytest.raises(DataError, match="digits has no test split"):
        load_digits("test", test_fraction=0)
