"""One sampling path for the CLI, the Python API and the server: options checked by name, batched so that
any N fits in memory, deterministic for a seed. `generate_batch` serves several requests in one call.

Images come back as a tensor [N, C, H, W] in [0, 1]; token models' samples come back decoded, as texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.conditioning import class_labels
from noisecraft.models.noise import RowGenerators
from noisecraft.utils.cancel import Check, cancel_when, checkpoint


def check_options(model: GenerativeModel, options: dict[str, Any]) -> dict[str, Any]:
    """Drop unset options; an option the family does not take is an error naming it."""
    options = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in options if k not in model.sample_options]
    if unknown:
        takes = ", ".join(model.sample_options) or "no options"
        raise ConfigError(f"--{unknown[0].replace('_', '-')}: the {model.family} family does not take it (it takes: {takes})")
    return options


@torch.no_grad()
def generate(model: GenerativeModel, num: int, seed: int = 0, batch_size: int = 256, condition: Any = None,
             progress: bool = False, **options: Any) -> torch.Tensor | list[str]:
    """`num` samples from one generator seeded with `seed`: the same seed gives the same samples.
    For token models `condition` is the prompt and the result is the decoded continuations."""
    if num < 1:
        raise ConfigError(f"--num: must be at least 1 (got {num})")
    if model.modality == "tokens":
        return generate_text(model, num, seed=seed, prompt=condition, batch_size=min(batch_size, 64), **options)
    options = check_options(model, options)
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    with tqdm(total=num, disable=not progress, desc="sampling", unit="img", dynamic_ncols=True) as bar:
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            chunks.append(model.sample(n, condition=condition, generator=generator, **options).cpu())
            bar.update(n)
    return torch.cat(chunks)


@torch.no_grad()
def generate_batch(model: GenerativeModel, requests: Sequence[tuple[int, int, Any]], cancel: Check | None = None,
                   **options: Any) -> list[torch.Tensor | list[str]]:
    """Several requests `(num, seed, condition)` with the same options in one sampling call. Each request
    draws its noise from its own generator (`RowGenerators`), so it gets the samples it would get alone:
    images as `generate(model, num, seed, condition=condition)`, texts as `noisecraft generate --num N
    --seed S` (text i from seed S + i). Token models: every request must have the same prompt.
    `cancel`: consulted at every sampler step; when it gives a reason, `utils.cancel.Cancelled` is raised."""
    with cancel_when(cancel):
        checkpoint()
        return _generate_batch(model, requests, **options)


def _generate_batch(model: GenerativeModel, requests: Sequence[tuple[int, int, Any]], **options: Any) -> list[torch.Tensor | list[str]]:
    options = check_options(model, options)
    if model.spec.level is not None:  # game levels: whole levels, each played by the agent (models/levels.py)
        from noisecraft.models.levels import generate_levels

        return [generate_levels(model, num, seed=seed, **options) for num, seed, _ in requests]
    nums = [num for num, _, _ in requests]
    conditions = [condition for _, _, condition in requests]
    if model.modality == "tokens":
        if any(c != conditions[0] for c in conditions):
            raise ConfigError("generate_batch: token-model requests in one batch must share their prompt")
        generators = RowGenerators([(torch.Generator().manual_seed(seed + i), 1) for num, seed, _ in requests for i in range(num)])
        texts = generate_text(model, len(generators), prompt=conditions[0] or None, batch_size=len(generators),
                              generator=generators, **options)
        return [texts[sum(nums[:i]) : sum(nums[: i + 1])] for i in range(len(nums))]
    generators = RowGenerators([(torch.Generator().manual_seed(seed), num) for num, seed, _ in requests])
    condition = conditions[0]
    if getattr(model, "num_classes", 0):  # each request's classes as it would get them alone
        condition = torch.cat([class_labels(c, n, model.num_classes, model.spec.class_names) for n, c in zip(nums, conditions)])
    elif model.condition_kind == "prompt":  # images for prompts: each row its request's prompt ("" = none)
        condition = [c or "" for n, c in zip(nums, conditions) for _ in range(n)]
    elif any(c is not None for c in conditions):
        condition = next(c for c in conditions if c is not None)  # the family says why it takes none
    return list(model.sample(len(generators), condition=condition, generator=generators, **options).cpu().split(nums))


@torch.no_grad()
def generate_text(model: GenerativeModel, num: int = 1, seed: int = 0, prompt: str | list[int] | None = None,
                  batch_size: int = 64, stream: Callable[[str], None] | None = None,
                  generator: torch.Generator | RowGenerators | None = None, **options: Any) -> list[str]:
    """`num` continuations of `prompt` (text, without the prompt, cut before the first stop string).
    `stream(piece)` receives the first continuation as it is generated."""
    if num < 1:
        raise ConfigError(f"--num: must be at least 1 (got {num})")
    options = check_options(model, options)
    stops = [s for s in options.get("stop") or [] if s]
    tokenizer = model.tokenizer
    generator = torch.Generator().manual_seed(seed) if generator is None else generator
    texts: list[str] = []
    for start in range(0, num, batch_size):
        streamer = Streamer(tokenizer, stops, stream) if stream is not None and start == 0 else None
        ids = model.sample(min(batch_size, num - start), condition=prompt, generator=generator,
                           on_step=streamer, **options)
        texts += [cut_at_stop(tokenizer.decode(row), stops) for row in ids]
        if streamer is not None:
            streamer.finish(texts[0])
    return texts


def cut_at_stop(text: str, stops: list[str]) -> str:
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(cuts)] if cuts else text


class Streamer:
    """Hands the first sample's text to `emit` as it grows: whole characters only, and never text that
    could still turn out to be the start of a stop string."""

    def __init__(self, tokenizer: Any, stops: list[str], emit: Callable[[str], None]) -> None:
        self.tokenizer, self.stops, self.emit = tokenizer, stops, emit
        self.ids: list[int] = []
        self.sent = 0
        self.done = False
        self.hold = max((len(s) for s in stops), default=1) - 1

    def __call__(self, next_tokens: torch.Tensor) -> None:
        if self.done:
            return
        self.ids.append(int(next_tokens[0]))
        text = self.tokenizer.decode(self.ids)
        if any(s in text for s in self.stops):
            self.done = True
            return
        safe = len(text) - self.hold
        while safe > self.sent and text[safe - 1] == "\ufffd":  # an incomplete UTF-8 sequence so far
            safe -= 1
        if safe > self.sent:
            self.emit(text[self.sent : safe])
            self.sent = safe

    def finish(self, final: str) -> None:
        if len(final) > self.sent:
            self.emit(final[self.sent :])
        self.sent = len(final)


def format_texts(texts: list[str]) -> str:
    """Several texts as one: each under a `--- sample N ---` line."""
    return "".join(f"--- sample {i + 1} ---\n{t}\n" for i, t in enumerate(texts))


def write_texts(path: Path, texts: list[str]) -> Path:
    """One text as it is, several with `format_texts`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(texts[0] if len(texts) == 1 else format_texts(texts), encoding="utf-8")
    return path


def write_samples_file(model: GenerativeModel, stem: Path, num: int, seed: int) -> Path | None:
    """What training writes every `sample_every` steps: a PNG grid of images, or a text file of samples
    (nothing for a family that generates neither, like the classifier)."""
    from noisecraft.models.provenance import image_claims
    from noisecraft.utils.images import save_grid

    if model.spec.level is not None:  # game levels: drawn tiles, whatever the family
        from noisecraft.models.levels import write_level_sheet

        return write_level_sheet(model, stem.with_suffix(".png"), min(num, 8), seed)
    if model.modality == "tokens":
        texts = generate_text(model, min(num, 4), seed=seed, max_tokens=min(model.config.max_tokens, 300))
        return write_texts(stem.with_suffix(".txt"), texts)
    if model.modality != "image":
        return None
    return save_grid(model.sample(num, generator=torch.Generator().manual_seed(seed)), stem.with_suffix(".png"),
                     claims=image_claims(model, {"seed": seed, "num": num, "during_training": stem.name}))
