"""On a CUDA GPU: each family trains there (Accelerate picks the GPU, bf16 where it runs natively), resumes
exactly, and samples there through the CLI and the HTTP API, and what it draws has content.

CI has no GPU, so these are skipped there; on a GPU machine run `pytest tests/test_cuda.py`.
NOISECRAFT_TEST_DEVICE=cpu runs the very same checks on the CPU (how they were tried before a GPU was lent).
"""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from noisecraft.cli.main import run as cli
from noisecraft.data.levels.tiles import GAMES, read_legend, read_level_file
from noisecraft.train.loop import fit

DEVICE = os.environ.get("NOISECRAFT_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else None)
pytestmark = pytest.mark.skipif(DEVICE is None, reason="no CUDA GPU (NOISECRAFT_TEST_DEVICE=cpu runs these on the CPU)")

STEPS = 30
SHORT = [f"train.max_steps={STEPS}", "train.checkpoint_every=15", "train.sample_every=15", "train.log_every=5",
         "train.num_samples=16", "train.precision=auto"]
IMAGES = ["mnist-vae-tiny", "mnist-vqvae-tiny", "mnist-gan-tiny", "mnist-gan-cond-tiny", "mnist-diffusion-tiny",
          "mnist-diffusion-cond-tiny", "mnist-flow-tiny", "mnist-pixelcnn-tiny"]
TOKENS = ["shakespeare-char-tiny", "shakespeare-char-lstm-tiny", "shakespeare-bpe-tiny"]
LEVELS = ["smb-gan-tiny", "smb-diffusion-tiny", "smb-transformer-tiny", "smb-vae-tiny"]


def train_here(recipe: str, out: Path, *extra: str) -> Path:
    run = fit(recipe, out, [*SHORT, *extra], progress=False)
    config = (run / "config.yaml").read_text()
    if DEVICE == "cuda":  # an H100/H200/A100 runs bf16 natively: `auto` must have chosen it there
        assert "trained in bf16-mixed" in config, config[:400]
    return run


def image_content(image: Path | Image.Image) -> np.ndarray:
    """Its gray levels, which must vary: a flat image means nothing was drawn."""
    pixels = np.asarray((Image.open(image) if isinstance(image, Path) else image).convert("L"), dtype=np.float32)
    assert pixels.std() > 5, f"{image}: a flat image (std {pixels.std():.2f}): nothing was drawn"
    return pixels


@pytest.mark.parametrize("recipe", IMAGES)
def test_image_families_train_and_sample_on_the_device(recipe: str, tmp_path: Path):
    run = train_here(recipe, tmp_path / recipe)
    assert sorted((run / "samples").glob("step-*.png")), "no sample grids written during training"
    out = tmp_path / "grid.png"
    assert cli(["sample", str(run), "--num", "16", "--seed", "3", "--out", str(out), "--device", DEVICE]) == 0
    first = image_content(out)
    again = tmp_path / "again.png"
    assert cli(["sample", str(run), "--num", "16", "--seed", "3", "--out", str(again), "--device", DEVICE]) == 0
    if recipe.startswith("mnist-diffusion"):  # the same seed, the same samples, also on the device
        assert np.abs(first - image_content(again)).max() <= 1
        for sampler in ("ddim", "heun", "dpmpp-2m"):
            grid = tmp_path / f"{sampler}.png"
            extra = ["--guidance", "2", "--class", "7"] if "cond" in recipe else []
            assert cli(["sample", str(run), "-n", "8", "--steps", "6", "--sampler", sampler, "--out", str(grid),
                        "--device", DEVICE, *extra]) == 0
            image_content(grid)


@pytest.mark.parametrize("recipe", TOKENS)
def test_token_families_train_and_generate_on_the_device(recipe: str, tmp_path: Path):
    run = train_here(recipe, tmp_path / recipe)
    out = tmp_path / "texts.txt"
    assert cli(["generate", str(run), "ROMEO:", "--num", "3", "--max-tokens", "60", "--top-k", "20", "--out", str(out),
                "--device", DEVICE]) == 0
    text = out.read_text()
    assert text.count("ROMEO:") >= 3 and len(set(text)) > 10, text


@pytest.mark.parametrize("recipe", LEVELS)
def test_level_families_train_and_generate_on_the_device(recipe: str, tmp_path: Path):
    run = train_here(recipe, tmp_path / recipe)
    out = tmp_path / "levels"
    assert cli(["generate", str(run), "--num", "2", "--width", "40", "--out", str(out), "--device", DEVICE]) == 0
    levels = sorted(out.glob("*.txt"))
    assert len(levels) == 2
    smb = GAMES["smb"]
    for level in levels:  # what a 30-step model draws may be all sky: its shape and tiles are what is checked
        rows = read_level_file(level, "".join(read_legend(smb)), smb)  # an unknown tile or ragged row raises
        assert len(rows) == 14 and {len(r) for r in rows} == {40}, rows


def test_text_to_image_on_the_device(tmp_path: Path):
    vq = train_here("shapes-vqvae-tiny", tmp_path / "vq")
    for recipe in ("shapes-diffusion-tiny", "shapes-latent-diffusion-tiny", "shapes-dalle-tiny"):
        extra = [] if recipe == "shapes-diffusion-tiny" else [f"model.autoencoder={vq}"]
        run = train_here(recipe, tmp_path / recipe, *extra)
        out = tmp_path / f"{recipe}-out"
        assert cli(["generate", str(run), "a big red circle in the top-left", "--num", "2", "--out", str(out),
                    "--device", DEVICE]) == 0
        pictures = sorted(out.glob("*.png"))
        assert len(pictures) == 2, pictures
        image_content(pictures[0])


def test_resume_on_the_device_continues_exactly(tmp_path: Path):
    """12 steps straight, and 6 steps then resumed to 12: the same weights (constant LR, no EMA yet)."""
    steps = ["train.checkpoint_every=6", "train.sample_every=1000", "data.limit=256", "train.precision=32"]
    fit("mnist-vae-tiny", tmp_path / "whole", [*steps, "train.max_steps=12"], progress=False)
    fit("mnist-vae-tiny", tmp_path / "split", [*steps, "train.max_steps=6"], progress=False)
    fit("mnist-vae-tiny", tmp_path / "split", [*steps, "train.max_steps=12"], resume=True, progress=False)
    whole = load_file(str(tmp_path / "whole" / "checkpoints" / "last" / "model.safetensors"))
    split = load_file(str(tmp_path / "split" / "checkpoints" / "last" / "model.safetensors"))
    one_step = fit("mnist-vae-tiny", tmp_path / "one", [*steps, "train.max_steps=1"], progress=False)
    first = load_file(str(one_step / "checkpoints" / "last" / "model.safetensors"))
    moved = max((whole[k] - first[k]).abs().max().item() for k in whole)
    differ = max((whole[k] - split[k]).abs().max().item() for k in whole)
    print(f"resume on {DEVICE}: weights moved {moved:.3g} over 11 steps; whole vs resumed differ by {differ:.3g}")
    assert moved > 1e-3
    assert differ <= 1e-5 * moved if DEVICE == "cuda" else differ == 0


def test_the_http_api_serves_from_the_device(tmp_path: Path):
    """Requests that arrive together are sampled in one call on the device; a seed still gives its pixels."""
    from fastapi.testclient import TestClient

    from noisecraft.serve.api import create_app
    from noisecraft.serve.service import Service, load_models

    digits = train_here("mnist-diffusion-cond-tiny", tmp_path / "digits")
    text = train_here("shakespeare-char-tiny", tmp_path / "text")
    service = Service(load_models([f"digits={digits}", f"text={text}"], device=DEVICE), max_batch=8)
    with TestClient(create_app(service, studio=False)) as client:
        def pixels(seed: int) -> list[bytes]:
            response = client.post("/v1/generate", json={"model": "digits", "num": 4, "seed": seed, "steps": 4,
                                                          "class": "7"})
            assert response.status_code == 200, response.text
            images = [Image.open(io.BytesIO(base64.b64decode(b))) for b in response.json()["images"]]
            return [image_content(im).tobytes() for im in images]

        with ThreadPoolExecutor(6) as pool:  # six at once: the batcher serves them together
            together = list(pool.map(pixels, [1, 2, 1, 2, 3, 1]))
        assert together[0] == together[2] == together[5] == pixels(1) and together[1] == together[3]
        assert together[0] != together[1] != together[4]
        response = client.post("/v1/generate", json={"model": "text", "prompt": "ROMEO:", "num": 2, "max_tokens": 40})
        assert response.status_code == 200, response.text
        texts = response.json()["texts"]  # continuations of the prompt, 40 characters each
        assert len(texts) == 2 and texts[0] != texts[1] and all(len(t) >= 30 for t in texts), texts

