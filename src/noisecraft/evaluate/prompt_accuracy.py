"""Prompt accuracy on the shapes world, per GenEval category (Ghosh et al. 2023), for seen and held-out
colour-shape pairs: draw images for fixed prompts, read them back into objects, check them.

Categories (each over its own seeded prompts, for "seen" pairs and for held-out ones):
- single_object: "a [size] COLOUR SHAPE" -> one object of that shape (and size) (colour not judged);
- colour: the same images, colour judged too;
- position: "a [size] COLOUR SHAPE in the POSITION" -> all of it;
- counting: "two|three|four COLOUR SHAPES" -> exactly that many, all of them right;
- two_objects: "a C S and a C S" -> exactly those two;
- relation: "a C S left of|right of|above|below a C S" -> those two, placed so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from noisecraft.data.shapes import Prompt, Wanted, prompt_text, random_scene
from noisecraft.evaluate.shapes_reader import check, read_scene, shape_only
from noisecraft.models.base import GenerativeModel

CATEGORIES = ("single_object", "colour", "position", "counting", "two_objects", "relation")
_SCENES = {"single_object": "single", "colour": "single", "position": "single", "counting": "counting", "two_objects": "two", "relation": "relation"}
SPLITS = ("seen", "held_out")


def prompts_for(category: str, split: str, count: int, seed: int = 0) -> list[Prompt]:
    """`count` prompts of a category (colour shares single_object's); the same for every model."""
    rng = np.random.default_rng([seed, CATEGORIES.index(category), SPLITS.index(split)])
    kind = "held-out" if split == "held_out" else "train"
    prompts = []
    for _ in range(count):
        prompt = random_scene(rng, _SCENES[category], kind).prompt
        if category in ("single_object", "colour", "position"):
            w = prompt.objects[0]
            placed = random_scene(rng, "single", kind, full=True).things[0].position if category == "position" else None
            prompt = Prompt("single", (Wanted(w.colour, w.shape, w.size, placed),))
        prompts.append(prompt)
    return prompts


def judge(category: str, prompt: Prompt, image: torch.Tensor) -> bool:
    found = read_scene(image)
    return shape_only(prompt, found) if category == "single_object" else check(prompt, found)


@torch.no_grad()
def prompt_accuracy(model: GenerativeModel, *, prompts: int = 32, per_prompt: int = 2, seed: int = 0,
                    batch_size: int = 64, scorer: GenerativeModel | None = None, splits: tuple[str, ...] = SPLITS,
                    **options: Any) -> dict[str, Any]:
    """Accuracy per category and split ({category}_{split}, plus overall_{split}), seconds per image, and
    with a scorer its mean text-image score of the images. `splits=("seen",)` for choices made before a record
    (with another seed): the held-out pairs stay unseen by every choice."""
    if unknown := set(splits) - set(SPLITS):
        raise ValueError(f"prompt_accuracy: unknown split(s) {sorted(unknown)}; choose from {SPLITS}")
    results: dict[str, float] = {}
    scores: list[torch.Tensor] = []
    seconds, images_drawn = 0.0, 0
    generator = torch.Generator().manual_seed(seed)
    for split in splits:
        correct_all, total_all = 0, 0
        drawn: dict[str, tuple[list[Prompt], torch.Tensor]] = {}
        for category in CATEGORIES:
            source = "single_object" if category == "colour" else category
            if source not in drawn:
                cases = [p for p in prompts_for(source, split, prompts, seed) for _ in range(per_prompt)]
                texts = [prompt_text(p) for p in cases]
                t = time.perf_counter()
                images = torch.cat([model.sample(len(texts[i : i + batch_size]), condition=texts[i : i + batch_size],
                                                 generator=generator, **options).cpu()
                                    for i in range(0, len(texts), batch_size)])
                seconds += time.perf_counter() - t
                images_drawn += len(images)
                drawn[source] = (cases, images)
                if scorer is not None:
                    scores.append(scorer.score(images, texts).cpu())
            cases, images = drawn[source]
            correct = sum(judge(category, p, img) for p, img in zip(cases, images))
            results[f"{category}_{split}"] = correct / len(cases)
            correct_all, total_all = correct_all + correct, total_all + len(cases)
        results[f"overall_{split}"] = correct_all / total_all
    out: dict[str, Any] = {"accuracy": results, "seconds_per_image": seconds / max(1, images_drawn),
                           "images": images_drawn, "prompts_per_category": prompts, "images_per_prompt": per_prompt}
    if scorer is not None:
        out["clip_score"] = float(torch.cat(scores).mean())
    return out


def prompt_metrics(model: GenerativeModel, data, *, scorer=None, prompts: int = 32, seed: int = 0,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
    """`prompt_accuracy` for `noisecraft evaluate --metrics prompt`: flat metric names (prompt_colour_held_out,
    ..., clip_score) and what they were measured on."""
    from noisecraft.errors import ConfigError
    from noisecraft.utils.paths import model_dir_of

    if data.dataset != "shapes":
        raise ConfigError(f"--metrics prompt: reads shapes-world images; this run's data is {data.dataset}")
    if model.condition_kind != "prompt":
        raise ConfigError(f"--metrics prompt: the {model.family} model in this run does not read prompts")
    loaded = GenerativeModel.from_pretrained(model_dir_of(Path(scorer))) if scorer is not None else None
    if loaded is not None and not hasattr(loaded, "score"):
        raise ConfigError(f"--scorer: {scorer} holds a {loaded.family} model, not a text-image scorer (clip)")
    report = prompt_accuracy(model, prompts=prompts, seed=seed, scorer=loaded, **(options or {}))
    metrics = {f"prompt_{k}": v for k, v in report.pop("accuracy").items()}
    if "clip_score" in report:
        metrics["clip_score"] = report.pop("clip_score")
    return {"metrics": metrics, **report, "scorer": str(scorer) if scorer else None}
