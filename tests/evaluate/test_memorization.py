"""Memorization: a model that memorised 10 images is flagged on nearly every sample, real unseen digits on
about 1%; text spans copied from the training text are found exactly; `evaluate --metrics memorization`."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from noisecraft.cli.main import run as cli
from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.evaluate import memorization as M
from noisecraft.evaluate.features import held_out_images
from noisecraft.models.pixelcnn.model import PixelCNN, PixelCNNConfig

pytestmark = pytest.mark.usefixtures("one_thread")
TEN = DataConfig(dataset="mnist", limit=10, image_size=8)  # 10 digits at 8x8: memorised in seconds


@pytest.fixture(scope="module")
def memoriser(one_thread) -> PixelCNN:
    """An 8-bit PixelCNN trained on 10 digits until its loss is the entropy of picking one of them (log 10 / 64
    pixels): each conditional is then certain, so its samples are the training images."""
    torch.manual_seed(0)
    x = build_dataset(TEN, "train").images.float() / 255
    model = PixelCNN(PixelCNNConfig(levels=256, channels=32, layers=5, kernel=5, head=64), DataSpec(shape=(1, 8, 8)))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        loss = model({"x": x}).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < np.log(10) / 64 * 1.1
    return model.eval()


def test_a_model_that_memorised_ten_images_is_flagged_on_nearly_every_sample(memoriser: PixelCNN, tmp_path: Path):
    samples = memoriser.sample(200, generator=torch.Generator().manual_seed(0))
    found = M.image_memorization(samples, TEN, out_dir=tmp_path)
    assert found["metrics"]["near_copy_share"] >= 0.95 and found["metrics"]["near_copy_share_pixels"] >= 0.95
    report = found["report"]
    assert report["train_examples"] == 10 and report["calibration"] == {"split": "test", "num": 1000, "percentile": 1.0}
    rows = list(csv.DictReader(open(report["nearest_csv"])))
    assert len(rows) == 200 and {int(r["pixels_train_index"]) for r in rows} == set(range(10))  # every image, copied
    pairs = np.array(Image.open(report["closest_pairs_png"]))
    assert pairs.shape[:2] == (2 * 8 + 3 * 2, 16 * 8 + 17 * 2)  # 16 samples above their 16 training images
    # the baseline: the same network untrained draws noise, never a copy
    torch.manual_seed(0)
    untrained = PixelCNN(memoriser.config, memoriser.spec).eval()
    noise = M.image_memorization(untrained.sample(50, generator=torch.Generator().manual_seed(0)), TEN)
    assert noise["metrics"]["near_copy_share"] <= 0.1 and noise["metrics"]["near_copy_share_pixels"] == 0


def test_real_unseen_digits_are_flagged_about_one_percent_of_the_time():
    data = DataConfig(dataset="mnist", limit=3000)
    unseen = held_out_images(data, "test", 3000)[1000:]  # the first 1000 set the threshold
    found = M.image_memorization(unseen, data)["metrics"]
    assert 0.002 <= found["near_copy_share"] <= 0.02 and 0.002 <= found["near_copy_share_pixels"] <= 0.02
    train = build_dataset(data, "train").images[:200].float() / 255  # training digits themselves: all flagged
    assert M.image_memorization(train, data)["metrics"]["near_copy_share"] == 1.0


def test_nearest_and_threshold_by_hand():
    train = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    calibration = torch.tensor([[0.0, float(d)] for d in range(1, 101)])  # nearest distances 1..100
    found = M.near_copies(torch.tensor([[9.5, 0.0], [5.0, 5.0], [0.0, 1.0]]), train, calibration)
    assert found["threshold"] == pytest.approx(1.99)  # numpy's 1st percentile of 1..100
    assert found["index"].tolist() == [1, 0, 0] and found["flagged"].tolist() == [True, False, True]
    assert found["share"] == pytest.approx(2 / 3)


TRAIN = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and "
         "arrows of outrageous fortune, or to take arms against a sea of troubles and by opposing end them.")


def test_text_spans_copied_verbatim_are_counted_and_the_longest_found():
    copy = TRAIN[10:150]
    fresh = "".join(random.Random(0).choice("abcdefgh ") for _ in range(200))
    found = M.span_copies([copy, fresh], TRAIN)
    assert found["metrics"]["copied_span_share"] == pytest.approx(91 / (91 + 151))
    assert found["metrics"]["longest_copied_span"] == 140
    assert found["report"]["longest_copied_span_text"] == copy and found["report"]["samples_with_copies"] == 0.5
    # two copied pieces glued together: every window is found, but the whole is not in the text
    glued = TRAIN[0:60] + TRAIN[120:185]
    assert M.span_copies([glued], TRAIN)["metrics"]["longest_copied_span"] == 65
    assert M.span_copies([fresh], TRAIN)["metrics"] == {"copied_span_share": 0.0, "longest_copied_span": 0}


def test_span_index_agrees_with_substring_search():
    rng = random.Random(1)
    text = "".join(rng.choice("ab") for _ in range(3000))  # a small alphabet: many windows repeat
    index = M.SpanIndex(text, span=12)
    for _ in range(20):
        query = "".join(rng.choice("ab") for _ in range(40))
        expected = [query[i : i + 12] in text for i in range(len(query) - 11)]
        assert index.found(query).tolist() == expected


def test_memorization_dispatches_by_data_kind(monkeypatch):
    calls = []
    monkeypatch.setitem(M.MEMORIZATION, "digits", f"{__name__}:fake_novelty")
    globals()["fake_novelty"] = lambda samples, data, **kw: calls.append((samples, data.dataset)) or {"metrics": {}, "report": {}}
    M.memorization(["x"], DataConfig(dataset="digits"))
    assert calls == [(["x"], "digits")]
    monkeypatch.delitem(M.MEMORIZATION, "image")
    with pytest.raises(ConfigError, match="no memorization check for mnist data"):
        M.memorization(torch.zeros(1, 1, 8, 8), DataConfig(dataset="mnist"))
    with pytest.raises(ConfigError, match="50 characters long"):
        M.span_copies(["short"], TRAIN)


TINY = ["--set", "train.max_steps=2", "--set", "train.checkpoint_every=2", "--set", "train.sample_every=100", "--quiet"]


def test_evaluate_memorization_and_c2st_on_a_tiny_run(tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert cli(["train", "mnist-vae-tiny", "--out", str(run), "--set", "data.limit=64", *TINY]) == 0
    assert cli(["evaluate", str(run), "--metrics", "memorization,c2st", "--num", "40", "--quiet"]) == 0
    assert "near_copy_share" in capsys.readouterr().out
    result = json.loads((run / "metrics.json").read_text())
    m = result["metrics"]
    assert 0 <= m["near_copy_share"] <= 1 and 0 <= m["near_copy_share_pixels"] <= 1
    assert m["c2st_ci_low"] <= m["c2st_accuracy"] <= m["c2st_ci_high"]
    assert m["c2st_accuracy"] > 0.9  # two training steps: blobs, easily told from digits
    assert result["memorization"]["train_examples"] == 64 and result["c2st"]["per_side"] == 40
    assert (run / "memorization.png").is_file() and (run / "memorization.csv").is_file()


def test_evaluate_memorization_of_a_text_model(tmp_path: Path):
    run = tmp_path / "text"
    assert cli(["train", "shakespeare-char-tiny", "--out", str(run), *TINY]) == 0
    assert cli(["evaluate", str(run), "--metrics", "memorization", "--num", "4", "--quiet"]) == 0
    result = json.loads((run / "metrics.json").read_text())
    assert set(result["metrics"]) == {"copied_span_share", "longest_copied_span"}
    assert result["memorization"]["samples"] == 4 and result["memorization"]["spans"] == 4 * (64 - 49)
    assert result["memorization"]["train_characters"] > 8000  # 256 windows of 32 characters
    assert cli(["evaluate", str(run), "--metrics", "c2st"]) == 2
