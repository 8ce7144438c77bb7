import pytest
import torch
from PIL import Image

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset, load_digits, load_mnist


def test_mnist_resized_to_rgb():
    data = build_dataset(DataConfig(dataset="mnist", image_size=32, channels=3), "test")
    assert data.images.shape == (10000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 2]) and data.spec.shape == (3, 32, 32)
    assert torch.equal(data.labels, load_mnist("test").labels) and data.spec.num_classes == 10


def test_limit_takes_the_first_examples():
    data = build_dataset(DataConfig(limit=100, channels=1))
    assert torch.equal(data.images, load_mnist("train").images[:100])
    assert len(build_dataset(DataConfig(dataset="digits", limit=5000))) == len(load_digits("train", test_fraction=0.1))


def test_digits_uses_recipe_test_fraction():
    assert len(build_dataset(DataConfig(dataset="digits", test_fraction=0.5), "test")) == 898


def test_image_folder_from_config(tmp_path):
    for i, (folder, size) in enumerate([("a", (10, 14)), ("a", (9, 9)), ("b", (30, 20)), ("b", (8, 8))]):
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.new("RGB", size, (i * 60, 0, 0)).save(tmp_path / folder / f"{i}.png")
    cfg = DataConfig(image_folder=tmp_path, image_size=6, labels=True, channels=1, test_fraction=0.25)
    train, test = build_dataset(cfg), build_dataset(cfg, "test")
    assert train.images.shape == (3, 1, 6, 6) and test.images.shape == (1, 1, 6, 6)
    assert train.class_names == ["a", "b"] and sorted(train.labels.tolist() + test.labels.tolist()) == [0, 0, 1, 1]
    assert len(build_dataset(cfg.model_copy(update={"limit": 2}))) == 2


@pytest.mark.parametrize("dataset", ["mnist", "digits"])
def test_named_sets_keep_their_own_shape_by_default(dataset):
    data = build_dataset(DataConfig(dataset=dataset, limit=3))
    assert data.images.shape[1] == 1 and data.name == dataset
