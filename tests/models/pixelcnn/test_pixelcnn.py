"""Gated PixelCNN: strictly causal in raster order with no blind spot, an exact likelihood that sums to one,
a sampler that draws from that likelihood, and the family's life through the CLI."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.pixelcnn import PixelCNN, PixelCNNConfig
from noisecraft.nn.pixelcnn import GatedPixelCNN
from noisecraft.sampling import generate, generate_batch


def make(h=4, w=4, levels=2, classes=0, seed=0, **config) -> PixelCNN:
    torch.manual_seed(seed)
    spec = DataSpec(shape=(1, h, w), num_classes=classes or None)
    config = {"channels": 8, "layers": 3, "kernel": 3, "head": 16, "levels": levels, "conditional": bool(classes), **config}
    model = PixelCNN(PixelCNNConfig(**config), spec).eval()
    for p in model.parameters():  # larger random weights: every dependency shows in the logits
        p.data.normal_(0, 0.5)
    return model


@pytest.mark.parametrize("layers, kernel, classes", [(1, 3, 0), (3, 3, 0), (2, 5, 3)])
def test_changing_a_pixel_never_changes_the_logits_before_it(layers, kernel, classes):
    torch.manual_seed(1)
    stack = GatedPixelCNN(vocab=4, channels=6, layers=layers, kernel=kernel, num_classes=classes).eval()
    h, w = 5, 6
    tokens = torch.randint(0, 4, (1, h, w))
    labels = torch.tensor([1]) if classes else None
    base = stack(tokens, labels)
    for i, j in itertools.product(range(h), range(w)):
        changed = tokens.clone()
        changed[0, i, j] = (changed[0, i, j] + 1) % 4
        diff = (stack(changed, labels) - base).abs().amax(dim=1)[0]  # [h, w]
        position = torch.arange(h * w).view(h, w)
        assert diff.flatten()[: i * w + j + 1].max() == 0, f"pixel {(i, j)} changed logits at or before it"
        if (i, j) != (h - 1, w - 1):
            assert diff[position == i * w + j + 1].item() > 0 or j == w - 1  # the next pixel on the row sees it


@pytest.mark.parametrize("layers, kernel, classes", [(1, 3, 0), (4, 3, 0), (3, 5, 3)])
def test_the_sampler_s_row_by_row_logits_equal_the_full_forward_at_every_pixel(layers, kernel, classes):
    torch.manual_seed(3)
    stack = GatedPixelCNN(vocab=4, channels=6, layers=layers, kernel=kernel, num_classes=classes).eval()
    for p in stack.parameters():
        p.data.normal_(0, 0.5)
    h, w = 5, 6
    tokens = torch.randint(0, 4, (3, h, w))
    labels = torch.tensor([0, 2, 1]) if classes else None
    full = stack(tokens, labels)
    for i in range(h):
        garbage = tokens[:, : i + 1].clone()
        garbage[:, i] = torch.randint(0, 4, (3, w))  # the current row's own tokens must not matter to the rows above
        above = stack.rows_above(garbage, labels)
        for j in range(w):
            torch.testing.assert_close(stack.next_logits(tokens[:, i, :j], above, labels), full[:, :, i, j],
                                       rtol=1e-5, atol=1e-5, msg=f"pixel {(i, j)}")


def test_no_blind_spot_a_deep_stack_sees_every_pixel_before():
    torch.manual_seed(2)
    stack = GatedPixelCNN(vocab=2, channels=8, layers=6, kernel=3).eval()
    for p in stack.parameters():
        p.data.normal_(0, 0.5)
    h, w = 4, 4
    tokens = torch.randint(0, 2, (1, h, w))
    target = (3, 1)  # the last row, second pixel: sees all of rows 0-2 (also up and to the right) and (3, 0)
    base = stack(tokens)[0, :, target[0], target[1]]
    seen = set()
    for i, j in itertools.product(range(h), range(w)):
        changed = tokens.clone()
        changed[0, i, j] ^= 1
        if not torch.equal(stack(changed)[0, :, target[0], target[1]], base):
            seen.add((i, j))
    assert seen == {(i, j) for i in range(3) for j in range(4)} | {(3, 0)}


@pytest.mark.parametrize("levels, classes", [(2, 0), (2, 2), (4, 0)])
def test_the_likelihood_of_every_image_sums_to_one(levels, classes):
    model = make(h=2, w=3, levels=levels if levels != 4 else 256, classes=classes)
    values = range(levels) if levels == 2 else [0, 85, 170, 255]
    if levels == 4:  # 256 levels: the sum over 4 of them per pixel is below 1; check it exactly instead
        model = make(h=1, w=2, levels=256)
        grid = torch.tensor(list(itertools.product(range(256), repeat=2)), dtype=torch.float32) / 255
        total = model.log_likelihood(grid.view(-1, 1, 1, 2)).double().exp().sum()
        assert total.item() == pytest.approx(1.0, abs=1e-6)
        return
    images = torch.tensor(list(itertools.product(values, repeat=6)), dtype=torch.float32).view(-1, 1, 2, 3)
    for label in range(max(classes, 1)):
        labels = torch.tensor([label]) if classes else None
        total = model.log_likelihood(images, labels=labels).double().exp().sum()
        assert total.item() == pytest.approx(1.0, abs=1e-6)


def test_the_likelihood_is_the_sum_of_per_pixel_log_probabilities_computed_one_by_one():
    model = make(h=3, w=3)
    x = torch.bernoulli(torch.full((5, 1, 3, 3), 0.5), generator=torch.Generator().manual_seed(0))
    by_hand = torch.zeros(5, dtype=torch.float64)
    for i, j in itertools.product(range(3), range(3)):
        garbage = x.clone()
        garbage.view(5, -1)[:, i * 3 + j + 1 :] = torch.randint(0, 2, (5, 9 - i * 3 - j - 1)).float()  # later pixels: anything
        log_probs = torch.log_softmax(model.stack(model.tokens(garbage))[:, :, i, j].double(), dim=1)
        by_hand += log_probs.gather(1, x[:, 0, i, j].long()[:, None])[:, 0]
    torch.testing.assert_close(model.log_likelihood(x).double(), by_hand, atol=1e-5, rtol=0)


def test_samples_follow_the_likelihood():
    model = make(h=1, w=2)
    samples = model.sample(4000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4000, 1, 1, 2) and set(samples.unique().tolist()) <= {0.0, 1.0}
    images = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32).view(4, 1, 1, 2)
    expected = model.log_likelihood(images).exp()
    observed = torch.stack([(samples.view(-1, 2) == images.view(4, 2)[k]).all(1).float().mean() for k in range(4)])
    assert (observed - expected).abs().max() < 4 * math.sqrt(0.25 / 4000) + 1e-3


def test_sampling_is_deterministic_for_a_seed_and_greedy_at_temperature_zero():
    model = make(h=4, w=4, classes=3)
    a = model.sample(6, condition=1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, model.sample(6, condition=1, generator=torch.Generator().manual_seed(5)))
    assert not torch.equal(a, model.sample(6, condition=1, generator=torch.Generator().manual_seed(6)))
    greedy = model.sample(3, condition=2, temperature=0)
    assert torch.equal(greedy[0], greedy[1]) and torch.equal(greedy[1], greedy[2])
    together = generate_batch(model, [(2, 3, 0), (3, 4, "2")])
    torch.testing.assert_close(together[1], generate(model, 3, seed=4, condition="2"))


def test_training_steps_lower_the_loss_of_a_fixed_batch(fit):
    model = make(h=6, w=6, levels=256).train()
    x = torch.rand(16, 1, 6, 6, generator=torch.Generator().manual_seed(0)).mul(255).round() / 255
    losses = fit(model, {"x": x}, steps=40, lr=3e-3)
    assert losses[-1] < 0.7 * losses[0]


def test_a_model_folder_round_trip(tmp_path):
    model = make(h=4, w=4, levels=256, classes=2)
    folder = model.save_pretrained(tmp_path / "m")
    loaded = GenerativeModel.from_pretrained(folder)
    x = torch.rand(3, 1, 4, 4)
    labels = torch.tensor([1])
    torch.testing.assert_close(loaded.log_likelihood(x, labels=labels), model.log_likelihood(x, labels=labels))
    assert loaded.likelihood_data == "levels" and loaded.num_classes == 2


def test_configs_that_cannot_work_are_errors():
    with pytest.raises(ConfigError, match="single-channel"):
        PixelCNN(PixelCNNConfig(), DataSpec(shape=(3, 8, 8)))
    with pytest.raises(ConfigError, match="model.kernel: must be odd"):
        PixelCNN(PixelCNNConfig(kernel=4), DataSpec(shape=(1, 8, 8)))
    with pytest.raises(ConfigError, match="no labels"):
        PixelCNN(PixelCNNConfig(conditional=True), DataSpec(shape=(1, 8, 8)))
    with pytest.raises(ConfigError, match="unconditional"):
        make().sample(2, condition=1)


@pytest.mark.parametrize("levels, view", [(2, "binarized"), (256, "levels")])
def test_cli_trains_samples_and_scores_exact_nll(tmp_path, levels, view):
    out = tmp_path / "run"
    assert run(["train", "mnist-pixelcnn-tiny", "--out", str(out), "--quiet", "--set", f"model.levels={levels}"]) == 0
    assert (out / "samples" / "step-000020.png").is_file()
    assert run(["sample", str(out), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert run(["evaluate", str(out), "--metrics", "nll", "--num", "64"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert 0 < metrics["nll_nats_per_image"] < 64 * math.log(levels)  # better than uniform over 8x8 pixels
    assert metrics["bits_per_dim"] == pytest.approx(metrics["nll_nats_per_image"] / (64 * math.log(2)))
    assert json.dumps(json.loads((out / "metrics.json").read_text())).count(view) >= 1
