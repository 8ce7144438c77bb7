"""The diffusion family from the command line: train the tiny recipes, sample with every option, evaluate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.models.registry import load_recipe

TINY = ["--quiet", "--set", "train.max_steps=4", "--set", "train.checkpoint_every=4", "--set", "train.sample_every=4",
        "--set", "data.limit=64"]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diffusion-cli")
    paths = {"uncond": root / "uncond", "cond": root / "cond"}
    assert run(["train", "mnist-diffusion-tiny", "--out", str(paths["uncond"]), *TINY]) == 0
    assert run(["train", "mnist-diffusion-cond-tiny", "--out", str(paths["cond"]), *TINY]) == 0
    return paths


def test_training_writes_a_diffusion_run(runs):
    for path in runs.values():
        assert (path / "model" / "model.safetensors").is_file()
        assert (path / "samples" / "step-000004.png").is_file()
        meta = json.loads((path / "model" / "config.json").read_text())
        assert meta["family"] == "diffusion"
    assert json.loads((runs["cond"] / "model" / "config.json").read_text())["config"]["conditional"] is True
    assert json.loads((runs["uncond"] / "model" / "config.json").read_text())["config"]["conditional"] is False


def test_sample_with_a_sampler_and_steps(capsys, runs, tmp_path):
    path = tmp_path / "x.png"
    code, out, err = cli(capsys, "sample", runs["uncond"], "--num", 8, "--sampler", "heun", "--steps", 2, "--out", path)
    assert code == 0 and "wrote 8 images" in out, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(path).size[0] > 28


def test_sampling_is_deterministic_and_options_matter(capsys, runs, tmp_path):
    def png(name: str, *options) -> bytes:  # the pixels: signed credentials differ file to file (random salts)
        path = tmp_path / f"{name}.png"
        assert cli(capsys, "sample", runs["uncond"], "--num", 4, "--steps", 3, "--out", path, *options)[0] == 0
        return Image.open(path).tobytes()

    first, again = png("a", "--seed", 1), png("b", "--seed", 1)
    assert first == again
    assert png("c", "--seed", 2) != first
    assert png("d", "--seed", 1, "--sampler", "ddpm") != first


def test_conditional_sample_with_class_and_guidance(capsys, runs, tmp_path):
    path = tmp_path / "threes.png"
    code, out, err = cli(capsys, "sample", runs["cond"], "--num", 4, "--class", 3, "--guidance", 2, "--steps", 2,
                         "--out", path)
    assert code == 0 and "wrote 4 images" in out, err
    assert Image.open(path).size[0] > 28
    folder = tmp_path / "each"
    code, out, _ = cli(capsys, "sample", runs["cond"] / "model", "--num", 3, "--class", "7", "--sampler", "ddim",
                       "--eta", "0.5", "--steps", 2, "--out", folder)
    assert code == 0 and sorted(p.name for p in folder.iterdir()) == [f"sample-{i:04d}.png" for i in range(3)]


@pytest.mark.parametrize("which, argv, message", [
    ("uncond", ["--sampler", "plms"], "error: --sampler: unknown sampler 'plms' \\(choose from: ddpm, ddim, heun, dpmpp-2m\\)"),
    ("cond", ["--class", "12"], "error: --class 12: out of range \\(0..9\\)"),
    ("cond", ["--class", "seven"], "error: --class 'seven': not a class"),
    ("uncond", ["--class", "3"], "error: --class: this model is unconditional"),
    ("uncond", ["--guidance", "2"], "error: --guidance: this model is unconditional"),
    ("uncond", ["--eta", "0.5", "--sampler", "heun"], "error: --eta: the heun sampler is deterministic"),
    ("uncond", ["--eta", "0.5", "--sampler", "ddpm"], "error: --eta: DDPM ancestral sampling is eta = 1"),
    ("uncond", ["--temperature", "0.5"], "error: --temperature: the diffusion family does not take it \\(it takes: sampler, steps, eta, guidance\\)"),
])
def test_bad_sampling_options_are_one_error_line(capsys, runs, tmp_path, which, argv, message):
    code, out, err = cli(capsys, "sample", runs[which], "--num", 2, "--steps", 2, "--out", tmp_path / "x.png", *argv)
    assert code == 2
    assert "Traceback" not in out + err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_evaluate_records_the_sample_options(capsys, runs):
    code, out, err = cli(capsys, "evaluate", runs["cond"], "--metrics", "cfid,classes", "--num", 20, "--sampler", "ddim",
                         "--steps", 2, "--quiet")
    assert code == 0 and "classifier_fid" in out, err
    result = json.loads((runs["cond"] / "metrics.json").read_text())
    assert result["protocol"]["sample_options"] == {"sampler": "ddim", "steps": 2}
    assert result["protocol"]["num_samples"] == 20 and result["model"]["family"] == "diffusion"
    assert 0 <= result["metrics"]["classes_covered"] <= 1


def test_evaluate_rejects_a_bad_sampler(capsys, runs):
    code, _, err = cli(capsys, "evaluate", runs["uncond"], "--metrics", "cfid", "--num", 4, "--sampler", "plms")
    assert code == 2 and "error: --sampler: unknown sampler 'plms'" in err and "Traceback" not in err


@pytest.mark.parametrize("name, conditional", [("mnist-diffusion", False), ("mnist-diffusion-cond", True)])
def test_full_recipes_resolve(name, conditional):
    recipe = load_recipe(name)
    model = recipe.model
    assert model.family == "diffusion" and model.objective == "edm"
    assert model.conditional is conditional
    assert model.sampler == "ddpm" and model.steps == 20
    if conditional:
        assert model.guidance > 1 and model.label_dropout > 0


@pytest.mark.parametrize("name, conditional", [("mnist-diffusion-tiny", False), ("mnist-diffusion-cond-tiny", True)])
def test_tiny_recipes_resolve(name, conditional):
    recipe = load_recipe(name)
    assert recipe.model.family == "diffusion" and recipe.model.conditional is conditional
    assert recipe.recipe.data.limit is not None and recipe.recipe.train.max_steps <= 20
