"""train.precision: auto picks bf16 only where the hardware runs it natively, and the run says what it chose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from noisecraft.train import precision as P
from noisecraft.train.loop import train


def test_auto_follows_the_hardware(monkeypatch):
    assert P.resolve_precision("32", "cpu") == ("32", "as the recipe says")
    assert P.resolve_precision("bf16-mixed", "cpu")[0] == "bf16-mixed"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert P.resolve_precision("auto", "cpu") == ("bf16-mixed", "auto: CPU with AVX512-BF16")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert P.resolve_precision("auto", "cpu") == ("32", "auto: CPU without AMX or AVX512-BF16")


def test_the_run_config_says_what_auto_chose(tiny, tmp_path: Path):
    run = train(tiny("train.precision=auto", max_steps=2), tmp_path / "auto", progress=False)
    chosen, why = P.resolve_precision("auto", "cpu")
    text = run.config.read_text()
    assert f"# train.precision: trained in {chosen} ({why})" in text and "precision: auto" in text


def test_set_precision_32_means_fp32():
    from noisecraft.models.registry import load_recipe

    assert load_recipe("mnist-first", ["train.precision=32"]).recipe.train.precision == "32"
    assert load_recipe("mnist-first").recipe.train.precision == "auto"
