"""train.channels_last: convolution weights (and so every conv's activations) in NHWC layout; the run says
what it did, saves ordinary contiguous weights, and a resumed run ends where an uninterrupted one does."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from noisecraft.train.loop import memory_layout, train


def test_only_convolutional_models_change_layout():
    conv = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Linear(3, 2))
    assert memory_layout(conv, False) == "contiguous (NCHW)" and conv[0].weight.is_contiguous()
    assert memory_layout(conv, True) == "channels-last (NHWC)"
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last) and not conv[0].weight.is_contiguous()
    assert conv(torch.randn(2, 2, 5, 5)).shape == (2, 4, 3, 2)  # runs; channels-last propagates through the conv
    linear = torch.nn.Linear(3, 2)
    assert "no 2-D convolutions" in memory_layout(linear, True) and linear.weight.is_contiguous()


def test_a_channels_last_run_resumes_exactly_and_saves_plain_weights(tiny, one_thread, tmp_path: Path):
    straight = train(tiny("train.channels_last=true"), tmp_path / "straight", progress=False)
    assert "# train.channels_last: memory layout channels-last (NHWC)" in straight.config.read_text()
    train(tiny("train.channels_last=true", max_steps=3), tmp_path / "split", progress=False)
    resumed = train(tiny("train.channels_last=true"), tmp_path / "split", resume=True, progress=False)
    a, b = (load_file(run.model / "model.safetensors") for run in (straight, resumed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(t.is_contiguous() for t in a.values())
    # the layout changes the arithmetic's order only: a contiguous run from the same seed ends close by
    plain = load_file(train(tiny(), tmp_path / "plain", progress=False).model / "model.safetensors")
    assert all(torch.allclose(a[k], plain[k], atol=1e-4, rtol=1e-3) for k in a)
