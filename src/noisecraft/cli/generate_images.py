"""`noisecraft generate RUN "a big red circle in the top-left" --num 8 --out DIR`: a prompt in, pictures out.

Caption models (diffusion with a text encoder, DALL-E style priors) read the prompt; class-conditional
models (MNIST) take the class the prompt names ("a 7", "seven"); unconditional ones take no prompt. Each
image is one PNG whose `noisecraft` iTXt chunk holds its settings and the command that makes it again.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import typer

from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel


def condition_of(model: GenerativeModel, prompt: str) -> Any:
    """What `sample` takes for this prompt: the prompt itself, a class index, or None."""
    from noisecraft.models.conditioning import class_from_prompt

    if not prompt:
        return None
    if model.condition_kind == "prompt":
        model.encode_prompt(prompt)  # undecodable text fails here, before any sampling
        return prompt
    if model.condition_kind == "class":
        return class_from_prompt(prompt, model.spec.class_names, model.num_classes)
    raise ConfigError(f"generate: {prompt!r}: the {model.family} model of images in this folder is unconditional "
                      "and takes no prompt; give none, or draw with `noisecraft sample`")


def generate_images(model: GenerativeModel, path: Path, prompt: str, *, num: int, seed: int, out: Path | None,
                    rerank: int, scorer_path: Path | None, options: dict[str, Any]) -> None:
    import noisecraft
    from noisecraft.models.rerank import generate_reranked
    from noisecraft.sampling import check_options
    from noisecraft.models.provenance import image_claims
    from noisecraft.utils.images import indexed, png_bytes

    condition = condition_of(model, prompt)  # a prompt the model cannot take is the first thing to say
    if out is None:
        raise ConfigError("--out: image models write one PNG per sample into a folder: give --out DIR")
    options = check_options(model, options)
    scorer = noisecraft.load(scorer_path) if scorer_path is not None else None
    if scorer is not None and not hasattr(scorer, "score"):
        raise ConfigError(f"--scorer: {scorer_path} holds a {scorer.family} model, not a text-image scorer (clip)")
    if scorer is not None and not prompt:
        raise ConfigError("--scorer: scores how well images match a prompt: give one")
    images, scores = generate_reranked(model, scorer, condition, num, rerank, seed, **options)
    words = ["noisecraft", "generate", str(path), prompt, "--num", str(num), "--seed", str(seed), "--out", str(out)]
    for name, value in options.items():
        words += [f"--{name}", str(value)]
    if rerank > 1:
        words += ["--rerank", str(rerank), "--scorer", str(scorer_path)]
    settings = {"model": str(path), "family": model.family, "prompt": prompt, "num": num, "seed": seed, **options,
                "rerank": rerank, "noisecraft": noisecraft.__version__, "command": shlex.join(words)}
    claims = image_claims(model, settings, name=str(path))  # signed content credentials, as `sample` writes them
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        extra = {"index": i} if scores is None else {"index": i, "score": round(float(scores[i]), 4)}
        png = png_bytes(image, {"noisecraft": json.dumps({**settings, **extra})}, indexed(claims, i))
        (out / f"sample-{i:04d}.png").write_bytes(png)
    typer.echo(f"wrote {len(images)} image(s) to {out}" + (f" (best of {rerank} each)" if rerank > 1 else ""))
