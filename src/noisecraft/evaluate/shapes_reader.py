"""Read a shapes-world image back into objects and check it against its prompt (the spec's last section).

Pixels brighter than 90 (max over channels) take the nearest world colour, up to brightness (a blurred
edge is a darker version of its colour, not another colour); connected components per colour smaller
than 0.4% of the canvas are specks and ignored; each component's shape is the best-matching rendering of
the four shapes in its box, its size class comes from the box's side, its cell from the box's centre.
An image is correct when it holds exactly the objects the prompt asks for, with every stated attribute
and relation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from noisecraft.data.shapes import CANVAS, COLOURS, SHAPES, Prompt, cell_of, relation_holds, shape_mask

BRIGHT = 90
SPECK = 0.004 * CANVAS * CANVAS
SMALL_MAX_SIDE = 18.5  # small boxes are 12-15 px, big 22-28: blur moves a side by a pixel or two at most
MIN_MATCH = 0.5  # a component no shape covers this well (IoU) is read as "unknown", which never matches
_PALETTE = np.array(list(COLOURS.values()), np.float64)
_NAMES = list(COLOURS)


@dataclass(frozen=True)
class ReadObject:
    colour: str
    shape: str
    size_class: str
    centre: tuple[float, float]
    match: float  # IoU of the best shape

    @property
    def position(self) -> str:
        return cell_of(*self.centre)


def to_canvas(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """[3, H, W] floats in [0, 1] (or 0..255) -> float [H, W, 3] in 0..255."""
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    arr = arr.astype(np.float64) * (255.0 if arr.max() <= 1.0 + 1e-6 else 1.0)
    arr = arr.transpose(1, 2, 0)
    return arr.repeat(3, -1) if arr.shape[-1] == 1 else arr


def colour_map(canvas: np.ndarray) -> np.ndarray:
    """int [64, 64]: index of the nearest colour up to brightness, -1 for dark pixels."""
    pixels = canvas.reshape(-1, 3)
    scale = np.clip(pixels @ _PALETTE.T / (_PALETTE**2).sum(1), 0.0, 1.0)  # [P, 8] best brightness per colour
    residual = ((pixels[:, None, :] - scale[..., None] * _PALETTE[None]) ** 2).sum(-1)
    index = residual.argmin(1)
    index[pixels.max(1) <= BRIGHT] = -1
    return index.reshape(canvas.shape[:2])


def read_scene(image: torch.Tensor | np.ndarray) -> list[ReadObject]:
    """The objects in one image, left to right by centre. A 32x32 image is read at its own resolution
    (templates drawn at it, with sub-pixel shifts): the same as reading it upscaled, without the blockiness."""
    colours = colour_map(to_canvas(image))
    scale = CANVAS / colours.shape[0]
    found = []
    for c, name in enumerate(_NAMES):
        labels, count = ndimage.label(colours == c)
        for k, box in enumerate(ndimage.find_objects(labels), start=1):
            mask = labels[box] == k
            if mask.sum() * scale**2 < SPECK:
                continue
            found.append(_read_component(name, mask, box, scale))
    return sorted(found, key=lambda o: o.centre)


def _read_component(colour: str, mask: np.ndarray, box: tuple[slice, slice], scale: float) -> ReadObject:
    h, w = mask.shape
    side = (h + w) / 2
    pad = 2
    region = np.pad(mask, pad)
    shifts = (0.0,) if scale == 1 else (-0.5, 0.0, 0.5)
    best, best_iou = "unknown", 0.0
    for shape in SHAPES:
        for size in {side, side + 1 - 1 / scale}:
            for dx in shifts:
                for dy in shifts:
                    template = shape_mask(shape, size, max(region.shape), pad + (w - size) / 2 + dx,
                                          pad + (h - size) / 2 + dy)[: region.shape[0], : region.shape[1]]
                    iou = (template & region).sum() / max(1, (template | region).sum())
                    if iou > best_iou:
                        best, best_iou = shape, float(iou)
    centre = ((box[1].start + w / 2) * scale, (box[0].start + h / 2) * scale)
    return ReadObject(colour, best if best_iou >= MIN_MATCH else "unknown",
                      "small" if side * scale <= SMALL_MAX_SIDE else "big", centre, best_iou)


def _assignments(prompt: Prompt, found: list[ReadObject]) -> list[tuple[ReadObject, ...]]:
    """Orderings of `found` whose i-th object matches the prompt's i-th wanted object."""
    if len(found) != len(prompt.objects):
        return []
    return [p for p in itertools.permutations(found) if all(w.matches(o) for w, o in zip(prompt.objects, p))]


def check(prompt: Prompt, found: list[ReadObject]) -> bool:
    """Exactly the objects the prompt asks for, every stated attribute, and its relation."""
    matches = _assignments(prompt, found)
    if prompt.relation is None:
        return bool(matches)
    return any(relation_holds(prompt.relation, a.centre, b.centre) for a, b in matches)


def shape_only(prompt: Prompt, found: list[ReadObject]) -> bool:
    """GenEval's "single object": one object, of the asked shape (and size if stated); colour not judged."""
    wanted = prompt.objects[0]
    return (len(found) == 1 and found[0].shape == wanted.shape
            and (wanted.size is None or found[0].size_class == wanted.size))


def same_objects(a: list, b: list) -> bool:
    """Two scenes hold the same objects (colour, shape, size class, cell)."""
    def key(objects: list) -> list[tuple]:
        return sorted((o.colour, o.shape, o.size_class, o.position) for o in objects)

    return key(a) == key(b)
