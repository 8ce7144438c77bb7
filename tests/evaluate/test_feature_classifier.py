import pytest
import torch

from noisecraft.cli.main import run
from noisecraft.data import load_mnist
from noisecraft.data.transforms import convert_channels, resize_images
from noisecraft.evaluate.classifier import MNIST_CLASSIFIER_DIR, class_coverage, classify, load_feature_classifier
from noisecraft.models.classifier import ImageClassifier


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist("test").subset(torch.arange(1000))
    return data.images, data.labels


def test_shipped_weights_are_small_and_load_once():
    assert sum(p.stat().st_size for p in MNIST_CLASSIFIER_DIR.iterdir()) < 500_000
    model = load_feature_classifier()
    assert isinstance(model, ImageClassifier) and not model.training
    assert load_feature_classifier() is model


def test_shipped_classifier_is_accurate(digits):
    images, labels = digits
    features, probs = classify(load_feature_classifier(), images.float() / 255)
    assert features.shape == (1000, 128) and probs.shape == (1000, 10)
    assert features.dtype == probs.dtype == torch.float32
    assert torch.allclose(probs.sum(1), torch.ones(1000))
    assert (probs.argmax(1) == labels).float().mean() > 0.98


def test_classify_converts_rgb_images_of_another_size(digits):
    images, labels = digits
    rgb = resize_images(convert_channels(images, 3), 32)
    _, probs = classify(load_feature_classifier(), rgb.float() / 255, batch_size=128)
    assert (probs.argmax(1) == labels).float().mean() > 0.95


def test_class_coverage(digits):
    images, labels = digits
    _, probs = classify(load_feature_classifier(), images.float() / 255)
    real = class_coverage(probs)
    assert real["classes_covered"] == 1.0 and 0.95 < real["class_entropy"] <= 1.0 and real["mean_confidence"] > 0.9
    one = images[labels == 3][:1].repeat(100, 1, 1, 1)
    collapsed = class_coverage(classify(load_feature_classifier(), one.float() / 255)[1])
    assert collapsed["classes_covered"] == 0.1 and collapsed["class_entropy"] == 0


def test_the_recipe_trains_through_the_shared_loop(tmp_path):
    argv = ["train", "mnist-classifier", "--max-steps", "3", "--out", str(tmp_path / "run"), "--quiet",
            "--set", "data.limit=256", "--set", "train.batch_size=32"]
    assert run(argv) == 0
    model = load_feature_classifier(tmp_path / "run" / "model")
    assert isinstance(model, ImageClassifier) and not list((tmp_path / "run" / "samples").glob("*.png"))
