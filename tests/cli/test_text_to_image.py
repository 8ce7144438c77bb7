"""Prompts for image models, as users give them: `noisecraft generate`, the API's prompt field, class
names in words for MNIST-style models, and the shapes data set in the catalog."""

from __future__ import annotations

import base64
import io
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.data.captions import load_shapes
from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel
from noisecraft.nn.text_encoder import TextEncoderConfig

SPEC = load_shapes("train", num=8, image_size=32, caption_tokens=12).spec


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("t2i")
    torch.manual_seed(0)
    small = dict(channels=[8], attention=[], heads=2, steps=2)
    return {
        "shapes": DiffusionModel(DiffusionConfig(**small, text_encoder=TextEncoderConfig(dim=16, layers=1, heads=2)),
                                 SPEC).save_pretrained(root / "shapes"),
        "digits": DiffusionModel(DiffusionConfig(**small, conditional=True),
                                 DataSpec(shape=(1, 8, 8), num_classes=10, class_names=[str(i) for i in range(10)])
                                 ).save_pretrained(root / "digits"),
        "plain": DiffusionModel(DiffusionConfig(**small), DataSpec(shape=(1, 8, 8))).save_pretrained(root / "plain"),
    }


def test_generate_writes_one_png_each_with_the_command_that_remakes_it(folders, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["generate", str(folders["shapes"]), "a big red circle in the top-left", "--num", "3", "--out", str(out),
            "--guidance", "2", "--negative", "a blue cross", "--seed", "5"]
    assert run(argv) == 0
    files = sorted(out.glob("*.png"))
    assert len(files) == 3
    settings = json.loads(Image.open(files[1]).info["noisecraft"])
    assert settings["prompt"] == "a big red circle in the top-left" and settings["negative"] == "a blue cross"
    assert settings["guidance"] == 2.0 and settings["seed"] == 5 and settings["index"] == 1
    again = shlex.split(settings["command"])
    again[again.index("--out") + 1] = str(tmp_path / "again")
    assert run(again[1:]) == 0
    pixels = lambda path: Image.open(path).tobytes()
    assert pixels(tmp_path / "again" / files[1].name) == pixels(files[1])
    assert run([*argv[:-2], "--seed", "6"]) == 0
    assert pixels(files[1]) != pixels(tmp_path / "again" / files[1].name)
    capsys.readouterr()


def test_class_models_answer_prompts_naming_a_class(folders, tmp_path, capsys):
    for prompt in ("a 7", "seven"):
        assert run(["generate", str(folders["digits"]), prompt, "--num", "2", "--out", str(tmp_path / prompt)]) == 0
    assert Image.open(tmp_path / "a 7" / "sample-0001.png").tobytes() == Image.open(tmp_path / "seven" / "sample-0001.png").tobytes()
    assert run(["sample", str(folders["digits"]), "--class", "7", "--num", "2", "--out", str(tmp_path / "s")]) == 0
    capsys.readouterr()
    assert run(["generate", str(folders["digits"]), "a cat", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "names no class" in err[0]
    assert run(["generate", str(folders["plain"]), "a 7", "--out", str(tmp_path / "y")]) == 2
    assert "unconditional" in capsys.readouterr().err
    assert run(["generate", str(folders["shapes"]), "a red circle", "--rerank", "2", "--out", str(tmp_path / "z")]) == 2
    assert "--scorer" in capsys.readouterr().err


def test_the_api_takes_prompts_for_image_models_each_request_its_own(folders):
    from noisecraft.sampling import generate
    from noisecraft.serve.api import create_app
    from noisecraft.serve.service import Service, load_models

    served = load_models([f"shapes={folders['shapes']}"])
    with TestClient(create_app(Service(served, max_batch=4), studio=False)) as client:
        info = client.get("/v1/models").json()
        shapes = next(m for m in (info if isinstance(info, list) else info["models"]) if m["name"] == "shapes")
        assert shapes["takes"]["condition"] == "prompt" and "negative" in shapes["options"]
        body = {"model": "shapes", "num": 2, "seed": 3, "prompt": "a small green square", "negative": "a red circle"}
        response = client.post("/v1/generate", json=body)
        assert response.status_code == 200, response.text
        images = [Image.open(io.BytesIO(base64.b64decode(b))) for b in response.json()["images"]]
        settings = json.loads(images[0].info["noisecraft"])
        assert settings["prompt"] == "a small green square" and shlex.split(settings["command"])[1] == "generate"
        alone = generate(served["shapes"].model, 2, seed=3, condition="a small green square", negative="a red circle")
        got = torch.stack([torch.tensor(np.array(im)).permute(2, 0, 1) for im in images]).float() / 255
        assert (got - alone).abs().max() <= 1 / 255 + 1e-6
        assert client.post("/v1/generate", json={"model": "shapes", "class": 3}).status_code == 422


def test_a_batch_of_different_prompts_gives_each_its_own(folders):
    from noisecraft.sampling import generate, generate_batch
    from noisecraft.serve.service import load_models

    model = load_models([str(folders["shapes"])])["shapes"].model
    batched = generate_batch(model, [(1, 0, "a red circle"), (2, 1, "three blue crosses"), (1, 2, None)])
    for (num, seed, prompt), images in zip([(1, 0, "a red circle"), (2, 1, "three blue crosses"), (1, 2, None)], batched):
        torch.testing.assert_close(images, generate(model, num, seed=seed, condition=prompt), atol=1e-4, rtol=0)


def test_datasets_show_shapes(capsys):
    assert run(["datasets", "show", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "shapes-world" in out and "held-out" in out


def test_the_studio_offers_prompt_and_negative_prompt_and_generates_with_them(folders):
    from noisecraft.serve.service import Service, load_models
    from noisecraft.serve.studio import build_studio

    service = Service(load_models([f"shapes={folders['shapes']}"]))
    try:
        studio = build_studio(service)
        ids = {getattr(block, "elem_id", None) for block in studio.blocks.values()}
        assert {"prompt", "negative"} <= ids
        result = service.run("shapes", 2, 4, "a big red circle", negative="a blue cross")  # what its button calls
        assert len(result.images) == 2 and result.settings["prompt"] == "a big red circle"
        assert result.settings["negative"] == "a blue cross"
    finally:
        service.close()
