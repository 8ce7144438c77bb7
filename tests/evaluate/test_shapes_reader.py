"""The prompt-accuracy reader: >= 99% on rendered scenes with noise and blur, right on known-good and
known-bad scenes, and prompt_accuracy scores a perfect "model" 1 and a shuffled one low."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from noisecraft.data.shapes import Thing, make_scenes, parse_caption, prompt_text, render, scene_for
from noisecraft.evaluate.prompt_accuracy import CATEGORIES, prompt_accuracy, prompts_for
from noisecraft.evaluate.shapes_reader import check, read_scene, same_objects


def degrade(image: np.ndarray, rng: np.random.Generator, blur: float, noise: float) -> np.ndarray:
    blurred = np.stack([ndimage.gaussian_filter(c.astype(np.float64), blur) for c in image])
    return np.clip(blurred + rng.normal(0, noise, blurred.shape), 0, 255) / 255


@pytest.mark.parametrize("size,blur", [(64, 0.7), (32, 0.4)])
def test_reader_reads_noisy_blurred_scenes_at_least_99_percent(size, blur):
    rng = np.random.default_rng(1)
    scenes = make_scenes(150, "test")
    right = sum(same_objects(read_scene(degrade(render(s.things, size), rng, blur, 10.0)), s.things) for s in scenes)
    assert right / len(scenes) >= 0.99


def test_known_good_and_known_bad_scenes():
    rng = np.random.default_rng(0)
    prompts = ["a big red circle in the top-left", "three yellow triangles", "a small green cross and a big blue circle",
               "a magenta square above a small cyan cross", "a white triangle right of a red square"]
    for text in prompts:
        prompt = parse_caption(text)
        things = scene_for(prompt, rng)
        assert check(prompt, read_scene(render(things))), text
        wrong_colour = [Thing("orange" if t.colour != "orange" else "red", t.shape, t.size, t.x0, t.y0) for t in things]
        assert not check(prompt, read_scene(render(wrong_colour))), text
        assert not check(prompt, read_scene(render(things[:-1]))), text  # one object short
        assert not check(prompt, read_scene(np.zeros((3, 64, 64), np.uint8))), text
    # a relation the other way round, an extra object, the wrong cell, noise
    prompt = parse_caption("a red circle left of a blue cross")
    things = scene_for(prompt, rng)
    assert check(prompt, read_scene(render(things)))
    assert not check(parse_caption("a red circle right of a blue cross"), read_scene(render(things)))
    single = parse_caption("a big green square in the top-left")
    thing = scene_for(single, rng)
    assert not check(parse_caption("a big green square in the bottom-right"), read_scene(render(thing)))
    extra = scene_for(parse_caption("a small white circle in the bottom-right"), rng)
    assert not check(single, read_scene(render(thing + extra)))
    assert not check(single, read_scene(np.random.default_rng(0).integers(0, 256, (3, 64, 64)).astype(np.uint8)))


class Painter(torch.nn.Module):
    """A stand-in text-to-image model: draws each prompt exactly (or, shuffled, another row's prompt)."""

    condition_kind = "prompt"

    def __init__(self, shuffle: bool = False) -> None:
        super().__init__()
        self.shuffle = shuffle

    def sample(self, n, condition=None, generator=None):
        texts = list(condition)[::-1] if self.shuffle else list(condition)
        rng = np.random.default_rng(0)
        return torch.stack([torch.from_numpy(render(scene_for(parse_caption(t), rng), 32)).float() / 255 for t in texts])


def test_prompt_accuracy_scores_a_perfect_painter_1_and_a_shuffled_one_low():
    perfect = prompt_accuracy(Painter(), prompts=4, per_prompt=1)["accuracy"]
    assert all(perfect[f"{c}_{s}"] == 1.0 for c in CATEGORIES for s in ("seen", "held_out"))
    shuffled = prompt_accuracy(Painter(shuffle=True), prompts=4, per_prompt=1)["accuracy"]
    assert shuffled["overall_seen"] < 0.5 and shuffled["overall_held_out"] < 0.5
    # a pilot's choice (seen pairs only, another seed) never draws a held-out pair
    asked = []
    painter = Painter()
    painter.sample = lambda n, condition=None, generator=None: asked.extend(condition) or Painter.sample(painter, n, condition)
    pilot = prompt_accuracy(painter, prompts=4, per_prompt=1, seed=1, splits=("seen",))["accuracy"]
    assert pilot["overall_seen"] == 1.0 and not any(k.endswith("held_out") for k in pilot)
    assert asked and not any(parse_caption(t).held_out for t in asked)
    with pytest.raises(ValueError, match="unknown split"):
        prompt_accuracy(painter, splits=("test",))


def test_evaluation_prompts_are_fixed_and_held_out_ones_use_held_out_pairs():
    for category in CATEGORIES:
        seen, held = prompts_for(category, "seen", 8), prompts_for(category, "held_out", 8)
        assert [prompt_text(p) for p in seen] == [prompt_text(p) for p in prompts_for(category, "seen", 8)]
        assert not any(p.held_out for p in seen) and all(p.held_out for p in held)
    assert all(p.objects[0].position for p in prompts_for("position", "seen", 8))
