"""The shapes world (docs: ../shared/docs/shapes-world.md): a text-to-image data set whose correctness can be
measured, because anyone can read a scene back into objects (`noisecraft.evaluate.shapes_reader`).

A scene is a black 64x64 canvas with 1-4 flat, axis-aligned objects; its caption follows the world's
grammar. Everything is seeded: scene i of a split is drawn from its own generator, so the data set is the
same everywhere and any count can be drawn. Colour-shape pairs with (colour + shape) % 4 == 3 are held
out: no training scene holds one; evaluation asks for them. The words, colours, shapes and sizes below are
the spec's: outside judges read images made to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from noisecraft.errors import ConfigError

CANVAS = 64
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 25), "green": (25, 200, 25), "blue": (40, 80, 255), "yellow": (240, 220, 20),
    "magenta": (220, 40, 220), "cyan": (20, 210, 220), "white": (245, 245, 245), "orange": (255, 140, 0),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle", "cross"]
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
SIZES = {"small": (12, 15), "big": (22, 28)}  # box side in pixels of the 64 canvas: 0.18-0.24 and 0.34-0.44
POSITIONS = ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"]
NUMBERS = {"two": 2, "three": 3, "four": 4}
RELATIONS = ["left of", "right of", "above", "below"]
CATEGORIES = ("single", "counting", "two", "relation")
GAP = 2  # pixels between objects
CELL_MARGIN = 2  # a centre keeps this far from cell borders, so its cell is unambiguous
RELATION_MARGIN = 4  # and relations hold by this much (the spec needs 2)


def held_out(colour: str, shape: str) -> bool:
    """The world's held-out colour-shape pairs: (colour index + shape index) % 4 == 3."""
    return (COLOUR_NAMES.index(colour) + SHAPES.index(shape)) % 4 == 3


def vocabulary() -> list[str]:
    """Every word a caption can use (the caption tokenizer is built from it, so held-out prompts encode)."""
    words = ["a", "in", "the", "and", "of", "left", "right", "above", "below", *SIZES, *COLOURS, *SHAPES,
             *PLURALS.values(), *POSITIONS, *NUMBERS]
    return list(dict.fromkeys(words))


@dataclass(frozen=True)
class Thing:
    """One object on the canvas: a colour, a shape, a box side `size` (px) and the box's top-left corner."""

    colour: str
    shape: str
    size: int
    x0: int
    y0: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.x0 + self.size / 2, self.y0 + self.size / 2

    @property
    def size_class(self) -> str:
        return "small" if self.size <= SIZES["small"][1] else "big"

    @property
    def position(self) -> str:
        return cell_of(*self.centre)


def cell_of(cx: float, cy: float, canvas: int = CANVAS) -> str:
    col, row = (min(2, max(0, int(v * 3 // canvas))) for v in (cx, cy))
    return POSITIONS[row * 3 + col]


# --- captions: what a prompt asks for -------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    """An object a prompt asks for; None = any."""

    colour: str
    shape: str
    size: str | None = None
    position: str | None = None

    def matches(self, thing: "Thing | object") -> bool:
        return (thing.colour == self.colour and thing.shape == self.shape
                and (self.size is None or thing.size_class == self.size)
                and (self.position is None or thing.position == self.position))


@dataclass(frozen=True)
class Prompt:
    """A parsed caption: its category, the objects it asks for (exactly these, their number too), a relation."""

    category: Literal["single", "counting", "two", "relation"]
    objects: tuple[Wanted, ...]
    relation: str | None = None

    @property
    def held_out(self) -> bool:
        return any(held_out(w.colour, w.shape) for w in self.objects)


def parse_caption(text: str) -> Prompt:
    """A caption of the world's grammar -> `Prompt`; anything else is a ConfigError naming the word."""
    words = text.strip().lower().split()
    if not words:
        raise ConfigError("prompt: empty (a shapes prompt is e.g. 'a big red circle in the top-left')")
    if words[0] in NUMBERS:
        if len(words) != 3 or words[1] not in COLOURS or words[2] not in PLURALS.values():
            raise ConfigError(f"prompt {text!r}: counting prompts read 'two|three|four COLOUR SHAPES'")
        shape = next(s for s, p in PLURALS.items() if p == words[2])
        wanted = Wanted(words[1], shape, "small")
        return Prompt("counting", (wanted,) * NUMBERS[words[0]])
    first, rest = _object(words, text)
    if not rest:
        return Prompt("single", (first,))
    if rest[:2] == ["in", "the"]:
        if len(rest) != 3 or rest[2] not in POSITIONS:
            raise ConfigError(f"prompt {text!r}: after 'in the' comes one of {', '.join(POSITIONS)}")
        return Prompt("single", (Wanted(first.colour, first.shape, first.size, rest[2]),))
    if rest[0] == "and":
        second, tail = _object(rest[1:], text)
        if tail:
            raise ConfigError(f"prompt {text!r}: unexpected {' '.join(tail)!r} at the end")
        return Prompt("two", (first, second))
    for relation in RELATIONS:
        n = len(relation.split())
        if rest[:n] == relation.split():
            second, tail = _object(rest[n:], text)
            if tail:
                raise ConfigError(f"prompt {text!r}: unexpected {' '.join(tail)!r} at the end")
            return Prompt("relation", (first, second), relation)
    raise ConfigError(f"prompt {text!r}: unexpected {rest[0]!r} (expected 'in the', 'and', or a relation: "
                      f"{', '.join(RELATIONS)})")


def _object(words: list[str], text: str) -> tuple[Wanted, list[str]]:
    """`a [small|big] COLOUR SHAPE` at the start of `words` -> (Wanted, the words after it)."""
    if not words or words[0] != "a":
        raise ConfigError(f"prompt {text!r}: expected 'a' before an object, got {(words or ['(end)'])[0]!r}")
    i, size = 1, None
    if len(words) > i and words[i] in SIZES:
        size, i = words[i], i + 1
    if len(words) < i + 2 or words[i] not in COLOURS or words[i + 1] not in SHAPES:
        got = " ".join(words[i : i + 2]) or "(end)"
        raise ConfigError(f"prompt {text!r}: expected COLOUR SHAPE ({'|'.join(COLOURS)} then {'|'.join(SHAPES)}), "
                          f"got {got!r}")
    return Wanted(words[i], words[i + 1], size), words[i + 2 :]


def describe(thing: Wanted) -> str:
    size = f"{thing.size} " if thing.size else ""
    return f"a {size}{thing.colour} {thing.shape}"


def prompt_text(prompt: Prompt) -> str:
    """The caption of a `Prompt` (the inverse of `parse_caption`)."""
    first = prompt.objects[0]
    if prompt.category == "counting":
        number = next(w for w, n in NUMBERS.items() if n == len(prompt.objects))
        return f"{number} {first.colour} {PLURALS[first.shape]}"
    if prompt.category == "single":
        return describe(first) + (f" in the {first.position}" if first.position else "")
    joint = "and" if prompt.category == "two" else prompt.relation
    return f"{describe(first)} {joint} {describe(prompt.objects[1])}"


def relation_holds(relation: str, a: tuple[float, float], b: tuple[float, float], margin: float = 2.0) -> bool:
    """`a RELATION b` for centres (x, y); y grows downwards."""
    dx, dy = a[0] - b[0], a[1] - b[1]
    return {"left of": dx <= -margin, "right of": dx >= margin, "above": dy <= -margin, "below": dy >= margin}[relation]


# --- drawing -------------------------------------------------------------------------------------------
def shape_mask(shape: str, size: int, canvas: int = CANVAS, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    """Boolean [canvas, canvas] mask of `shape` in the box of side `size` at (x0, y0), tested at pixel centres."""
    ys, xs = np.mgrid[0:canvas, 0:canvas] + 0.5
    cx, cy, half = x0 + size / 2, y0 + size / 2, size / 2
    dx, dy = xs - cx, ys - cy
    inside = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "circle":
        return dx**2 + dy**2 <= half**2
    if shape == "square":
        return inside
    if shape == "triangle":  # apex at the top centre, base along the bottom edge
        return inside & (np.abs(dx) <= (ys - y0) / 2)
    if shape == "cross":  # two bars, each size/3 thick, through the centre
        bar = size / 6
        return inside & ((np.abs(dx) <= bar) | (np.abs(dy) <= bar))
    raise ValueError(f"unknown shape {shape!r}")


def render(things: list[Thing] | tuple[Thing, ...], image_size: int = CANVAS) -> np.ndarray:
    """uint8 [3, S, S]: the scene on a black 64x64 canvas; 32 keeps every other pixel (crisp colours)."""
    canvas = np.zeros((CANVAS, CANVAS, 3), np.uint8)
    for t in things:
        canvas[shape_mask(t.shape, t.size, CANVAS, t.x0, t.y0)] = COLOURS[t.colour]
    if image_size != CANVAS:
        step = CANVAS // image_size
        if step * image_size != CANVAS:
            raise ConfigError(f"data.image_size: shapes scenes are 64x64 or 32x32 (got {image_size})")
        canvas = canvas[step // 2 :: step, step // 2 :: step]
    return np.ascontiguousarray(canvas.transpose(2, 0, 1))


# --- scenes --------------------------------------------------------------------------------------------
@dataclass
class Scene:
    things: list[Thing]
    caption: str
    prompt: Prompt = field(repr=False)


def _fits(box: Thing, placed: list[Thing]) -> bool:
    for t in placed:
        apart_x = box.x0 >= t.x0 + t.size + GAP or t.x0 >= box.x0 + box.size + GAP
        apart_y = box.y0 >= t.y0 + t.size + GAP or t.y0 >= box.y0 + box.size + GAP
        if not (apart_x or apart_y):
            return False
    return True


def _clear_of_borders(thing: Thing) -> bool:
    """Centre at least CELL_MARGIN px from the 3x3 grid's lines: its cell reads the same after blur."""
    return all(abs(v - line) >= CELL_MARGIN for v in thing.centre for line in (CANVAS / 3, 2 * CANVAS / 3))


def _place(rng: np.random.Generator, colour: str, shape: str, size_class: str, placed: list[Thing],
           position: str | None = None, tries: int = 200) -> Thing | None:
    lo, hi = SIZES[size_class]
    for _ in range(tries):
        size = int(rng.integers(lo, hi + 1))
        thing = Thing(colour, shape, size, int(rng.integers(0, CANVAS - size + 1)), int(rng.integers(0, CANVAS - size + 1)))
        if position is not None and thing.position != position:
            continue
        if _clear_of_borders(thing) and _fits(thing, placed):
            return thing
    return None


def _pair(rng: np.random.Generator, split: str) -> tuple[str, str]:
    """A colour-shape pair: never a held-out one in the train split; only held-out ones in "held-out"."""
    while True:
        colour, shape = COLOUR_NAMES[rng.integers(8)], SHAPES[rng.integers(4)]
        if held_out(colour, shape) == (split == "held-out"):
            return colour, shape


def random_scene(rng: np.random.Generator, category: str | None = None, split: str = "train",
                 full: bool = False) -> Scene:
    """A random scene and a caption of it. Training captions drop optional words (size, position) half the
    time each unless `full`. `split`: "train" (no held-out pair), "held-out" (every pair held out)."""
    category = category or str(rng.choice(CATEGORIES, p=[0.4, 0.2, 0.2, 0.2]))
    while True:
        scene = _try_scene(rng, category, split, full)
        if scene is not None:
            return scene


def _maybe(rng: np.random.Generator, value: str, full: bool) -> str | None:
    return value if full or rng.random() < 0.5 else None


def _try_scene(rng: np.random.Generator, category: str, split: str, full: bool) -> Scene | None:
    if category == "counting":
        colour, shape = _pair(rng, split)
        things: list[Thing] = []
        for _ in range(int(rng.integers(2, 5))):
            thing = _place(rng, colour, shape, "small", things)
            if thing is None:
                return None
            things.append(thing)
        prompt = Prompt("counting", (Wanted(colour, shape, "small"),) * len(things))
    elif category == "single":
        colour, shape = _pair(rng, split)
        thing = _place(rng, colour, shape, str(rng.choice(list(SIZES))), [])
        if thing is None:
            return None
        things = [thing]
        prompt = Prompt("single", (Wanted(colour, shape, _maybe(rng, thing.size_class, full),
                                          _maybe(rng, thing.position, full)),))
    else:
        first, second = _pair(rng, split), _pair(rng, split)
        if first == second:
            return None
        sizes = [str(s) for s in rng.choice(list(SIZES), 2)]
        if sizes == ["big", "big"] and category == "relation":
            sizes[int(rng.integers(2))] = "small"  # two big ones rarely leave room for a clear relation
        things = []
        for (colour, shape), size in zip((first, second), sizes):
            thing = _place(rng, colour, shape, size, things)
            if thing is None:
                return None
            things.append(thing)
        relation = None
        if category == "relation":
            holding = [r for r in RELATIONS if relation_holds(r, things[0].centre, things[1].centre, RELATION_MARGIN)]
            if not holding:
                return None
            relation = str(rng.choice(holding))
        prompt = Prompt(category, tuple(Wanted(t.colour, t.shape, _maybe(rng, t.size_class, full)) for t in things),
                        relation)
    return Scene(things, prompt_text(prompt), prompt)


def scene_for(prompt: Prompt, rng: np.random.Generator) -> list[Thing]:
    """A scene that answers `prompt` (the reader's known-good cases; held-out pairs allowed)."""
    for _ in range(1000):
        things: list[Thing] = []
        for wanted in prompt.objects:
            size = wanted.size or str(rng.choice(list(SIZES)))
            thing = _place(rng, wanted.colour, wanted.shape, size, things, wanted.position)
            if thing is None:
                break
            things.append(thing)
        else:
            if prompt.relation is None or relation_holds(prompt.relation, things[0].centre, things[1].centre,
                                                         RELATION_MARGIN):
                return things
    raise ValueError(f"cannot place {prompt_text(prompt)!r}")


def scene_seed(seed: int, split: str, index: int) -> np.random.Generator:
    """Scene `index` of a split has its own generator: any subset or count is the same scenes everywhere."""
    return np.random.default_rng([seed, {"train": 0, "test": 1, "held-out": 2}[split], index])


def make_scenes(num: int, split: str = "train", seed: int = 0, start: int = 0) -> list[Scene]:
    """Scenes `start` to `num` of a split (test: the same distribution as train, other scenes)."""
    kind = "held-out" if split == "held-out" else "train"
    return [random_scene(scene_seed(seed, split, i), split=kind) for i in range(start, num)]
