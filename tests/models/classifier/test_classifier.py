import pytest
import torch

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.classifier import ClassifierConfig, ImageClassifier
from noisecraft.models.classifier.model import random_shift


def make(shape=(1, 28, 28), num_classes=10, **config) -> ImageClassifier:
    torch.manual_seed(0)
    config = {"channels": [8, 16], "feature_dim": 24, **config}
    return ImageClassifier(ClassifierConfig(**config), DataSpec(shape=shape, num_classes=num_classes))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_shapes(shape):
    model = make(shape, num_classes=7)
    x = torch.rand(5, *shape)
    assert model.features(x).shape == (5, 24)
    assert model.logits(x).shape == (5, 7)
    out = model({"x": x, "y": torch.randint(0, 7, (5,))})
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert set(out.logs) == {"accuracy"} and 0 <= out.logs["accuracy"] <= 1


def test_loss_decreases_on_a_fixed_batch(fit):
    model = make(augment_shift=2, dropout=0.1)
    x = torch.zeros(20, 1, 28, 28)
    y = torch.arange(20) % 4
    for i in range(20):  # class = shape (bar, column, square, diagonal), at a position that varies
        o = 4 + i % 5 * 3
        [x[i, 0, o : o + 3, 4:24], x[i, 0, 4:24, o : o + 3], x[i, 0, o : o + 8, o : o + 8],
         x[i, 0].diagonal(o - 8)][int(y[i])].fill_(1.0)
    losses = fit(model, {"x": x, "y": y}, steps=40, lr=3e-3)
    assert losses[-1] < 0.3 * losses[0]
    assert (model.eval().logits(x).argmax(1) == y).all()


def test_random_shift_moves_each_image_by_whole_pixels_within_the_bound():
    x = torch.zeros(64, 2, 12, 12)
    x[:, :, 5, 6] = 1.0
    torch.manual_seed(0)
    shifted = random_shift(x, 2)
    assert torch.equal(shifted[:, 0], shifted[:, 1])  # one offset per image, all channels
    rows, cols = (shifted[:, 0] == 1).nonzero()[:, 1:].T
    assert shifted.sum() == x.sum()  # the dot stays inside and intact
    assert rows.sub(5).abs().max() == 2 and cols.sub(6).abs().max() == 2 and len(set(zip(rows.tolist(), cols.tolist()))) > 10
    torch.manual_seed(0)
    assert torch.equal(random_shift(x, 2), shifted)  # the global RNG: resume replays the same offsets


def test_needs_labels():
    with pytest.raises(ConfigError, match="data.labels"):
        make(num_classes=None)


def test_image_sides_must_fit_the_pooling():
    with pytest.raises(ConfigError, match="model.channels: 3 pooling stages need image sides divisible by 8"):
        make(channels=[8, 16, 32])


def test_sample_refuses():
    with pytest.raises(ConfigError, match="the classifier family classifies; it does not generate samples"):
        make().sample(4)


def test_round_trips_through_a_model_folder(tmp_path):
    model = make().eval()
    model.save_pretrained(tmp_path / "m")
    from noisecraft.models.base import GenerativeModel

    loaded = GenerativeModel.from_pretrained(tmp_path / "m")
    x = torch.rand(3, 1, 28, 28)
    assert isinstance(loaded, ImageClassifier) and torch.equal(loaded.logits(x), model.logits(x))
