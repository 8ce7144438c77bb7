"""The shapes world obeys its spec (../shared/docs/shapes-world.md): render, read back, compare."""

from __future__ import annotations

import numpy as np
import pytest

from noisecraft.data.shapes import (COLOURS, SHAPES, SIZES, held_out, make_scenes, parse_caption, prompt_text,
                                    render, scene_seed, random_scene)
from noisecraft.errors import ConfigError
from noisecraft.evaluate.shapes_reader import check, read_scene, same_objects


def test_spec_constants_are_the_documents():
    assert COLOURS == {"red": (230, 25, 25), "green": (25, 200, 25), "blue": (40, 80, 255), "yellow": (240, 220, 20),
                       "magenta": (220, 40, 220), "cyan": (20, 210, 220), "white": (245, 245, 245),
                       "orange": (255, 140, 0)}
    assert SHAPES == ["circle", "square", "triangle", "cross"]
    lo, hi = SIZES["small"]
    assert 0.18 <= lo / 64 and hi / 64 <= 0.24
    lo, hi = SIZES["big"]
    assert 0.34 <= lo / 64 and hi / 64 <= 0.44
    pairs = {(c, s) for c in COLOURS for s in SHAPES if held_out(c, s)}
    assert pairs == {("red", "cross"), ("green", "triangle"), ("blue", "square"), ("yellow", "circle"),
                     ("magenta", "cross"), ("cyan", "triangle"), ("white", "square"), ("orange", "circle")}


def test_scenes_obey_the_spec_and_read_back_to_their_objects():
    scenes = make_scenes(300, "train")
    for scene in scenes:
        assert 1 <= len(scene.things) <= 4
        image = render(scene.things)
        assert image.shape == (3, 64, 64) and image.dtype == np.uint8
        colours = {tuple(int(v) for v in p) for p in image.reshape(3, -1).T} - {(0, 0, 0)}
        assert colours <= set(COLOURS.values())  # flat colours on black, nothing else
        for t in scene.things:
            assert 0 <= t.x0 and t.x0 + t.size <= 64 and 0 <= t.y0 and t.y0 + t.size <= 64
        for i, a in enumerate(scene.things):  # at least 2 pixels apart
            for b in scene.things[i + 1 :]:
                assert (a.x0 >= b.x0 + b.size + 2 or b.x0 >= a.x0 + a.size + 2 or
                        a.y0 >= b.y0 + b.size + 2 or b.y0 >= a.y0 + a.size + 2)
        found = read_scene(image)
        assert same_objects(found, scene.things), scene.caption
        assert check(parse_caption(scene.caption), found), scene.caption


def test_training_never_holds_a_held_out_pair_and_captions_parse():
    categories = set()
    for scene in make_scenes(2000, "train"):
        assert not any(held_out(t.colour, t.shape) for t in scene.things), scene.caption
        prompt = parse_caption(scene.caption)
        assert prompt_text(prompt) == scene.caption
        assert not prompt.held_out
        categories.add(prompt.category)
    assert categories == {"single", "counting", "two", "relation"}
    # the held-out split asks only for held-out pairs
    held = [random_scene(scene_seed(0, "held-out", i), split="held-out") for i in range(50)]
    assert all(parse_caption(s.caption).held_out for s in held)


def test_seeded_and_the_same_scenes_for_any_count():
    a, b = make_scenes(20, "train"), make_scenes(50, "train")
    assert [s.caption for s in a] == [s.caption for s in b[:20]]
    assert [s.caption for s in make_scenes(20, "test")] != [s.caption for s in a]


@pytest.mark.parametrize("caption,category,count", [
    ("a big red circle in the top-left", "single", 1), ("a small cyan square", "single", 1), ("a green cross", "single", 1),
    ("three yellow triangles", "counting", 3), ("a small red circle and a big blue cross", "two", 2),
    ("a white square left of a small orange triangle", "relation", 2), ("a red cross below a green circle", "relation", 2),
])
def test_grammar_parses(caption, category, count):
    prompt = parse_caption(caption)
    assert (prompt.category, len(prompt.objects)) == (category, count)
    assert prompt_text(prompt) == caption


@pytest.mark.parametrize("caption,word", [("a purple circle", "purple"), ("five red circles", "five"),
                                          ("a red circle in the middle", "middle"), ("a red circle near a blue cross", "near")])
def test_bad_prompts_name_the_word(caption, word):
    with pytest.raises(ConfigError, match=word):
        parse_caption(caption)


def test_32_pixel_scenes_keep_flat_colours():
    scene = make_scenes(1, "train")[0]
    small = render(scene.things, 32)
    assert small.shape == (3, 32, 32)
    assert same_objects(read_scene(small), scene.things)
