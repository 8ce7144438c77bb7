"""What the server serves: the loaded models, what each takes, and one `generate` that the HTTP API and
the studio both call (checks, then the batcher, then PNGs or texts carrying the settings that made them).

Nothing here names a family: what a model takes comes from the model (`condition_kind`,
`describe_options`), so a new family or modality is served as soon as it can be loaded.
"""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from noisecraft.errors import CheckpointError, ConfigError, NoisecraftError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.conditioning import class_labels
from noisecraft.molecule_sampling import is_molecule_model, smiles_of
from noisecraft.utils.pretrained import PREFIX, is_pretrained, resolve
from noisecraft.serve.batcher import Batcher, Job
from noisecraft.utils.cancel import Cancelled

MAX_PROMPT = 1000
MAX_SEED = 2**63 - 1


class UnknownModel(NoisecraftError):
    """The request names a model this server does not serve (HTTP 404)."""


class GenerationTimeout(NoisecraftError):
    """Sampling took longer than the server's per-request limit (HTTP 503)."""


@dataclass
class ServedModel:
    name: str
    path: Path
    model: GenerativeModel

    def describe(self, max_batch: int) -> dict[str, Any]:
        model = self.model
        takes: dict[str, Any] = {"condition": model.condition_kind}
        if model.condition_kind == "class":
            names = model.spec.class_names or [str(i) for i in range(model.num_classes)]
            takes["classes"] = names
        if model.condition_kind == "prompt":
            takes["prompt_max_chars"] = MAX_PROMPT
        return {
            "name": self.name,
            "family": model.family,
            "modality": model.modality,
            "parameters": model.num_parameters(),
            "shape": list(model.spec.shape) if model.modality == "image" else None,
            "takes": takes,
            "options": model.describe_options(),
            "limits": {"num": max_batch, "prompt_chars": MAX_PROMPT, "seed": MAX_SEED},
        }


def load_models(specs: list[str], device: str = "cpu") -> dict[str, ServedModel]:
    """`PATH` or `NAME=PATH` (a run folder or a model folder) -> models by name (default: the run's folder name)."""
    import noisecraft

    served: dict[str, ServedModel] = {}
    for spec in specs:
        name, _, path_text = spec.rpartition("=") if "=" in spec and not Path(spec).exists() else ("", "", spec)
        path = resolve(path_text)  # pretrained:NAME -> its (checked) folder in the package
        if not path.exists():
            raise CheckpointError(f"{path}: no such run or model folder")
        name = name or (path_text[len(PREFIX):] if is_pretrained(path_text) else default_name(path))
        if name in served:
            raise ConfigError(f"two models named {name!r} ({served[name].path} and {path}): name them, NAME=PATH")
        served[name] = ServedModel(name, path, noisecraft.load(path, device=device))
    if not served:
        raise ConfigError("serve: give at least one run or model folder")
    return served


def default_name(path: Path) -> str:
    path = path.resolve()
    return path.parent.name if path.name == "model" and (path.parent / "config.yaml").is_file() else path.name


@dataclass
class Generation:
    """One request's result: `images` (PNG bytes each) or `texts`, and the settings that made them."""

    model: str
    seed: int
    settings: dict[str, Any]
    images: list[bytes] | None = None
    texts: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "seed": self.seed, "settings": self.settings}
        if self.images is not None:
            out["images"] = [base64.b64encode(png).decode("ascii") for png in self.images]
        if self.texts is not None or self.images is None:
            out["texts"] = self.texts
        return out


@dataclass
class Service:
    models: dict[str, ServedModel]
    max_batch: int = 16
    timeout: float = 120.0
    batching: bool = True
    max_queue: int = 64
    batcher: Batcher = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = Batcher(batching=self.batching, max_images=max(64, self.max_batch), max_queue=self.max_queue)

    @property
    def queue_depth(self) -> int:
        return self.batcher.depth()

    def timed_out(self) -> GenerationTimeout:
        return GenerationTimeout(f"generation took longer than the server's limit of {self.timeout:g} s")

    def close(self) -> None:
        self.batcher.close()

    def describe(self) -> list[dict[str, Any]]:
        return [m.describe(self.max_batch) for m in self.models.values()]

    def submit(self, model: str, num: int = 1, seed: int | None = None, condition: Any = None,
               **options: Any) -> Job:
        """Check a request and queue it; every problem is a NoisecraftError naming the field and value."""
        served = self.models.get(model)
        if served is None:
            raise UnknownModel(f"model: {model!r} is not served here (served: {', '.join(self.models)})")
        m = served.model
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= self.max_batch:
            raise ConfigError(f"num: must be an integer in [1, {self.max_batch}] (got {num!r})")
        if seed is None:
            seed = secrets.randbelow(2**31)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"seed: must be an integer in [0, {MAX_SEED}] (got {seed!r})")
        options = {k: v for k, v in options.items() if v is not None}
        for name, value in options.items():
            if name not in m.sample_options:
                raise ConfigError(f"{name}: model {model!r} ({m.family}) does not take it "
                                  f"(it takes: {', '.join(m.sample_options) or 'no options'})")
            options[name] = m.option_spec(name).check(name, value)
        self._check_condition(served, num, condition)
        if is_molecule_model(m) and "stop" in m.sample_options:
            options.setdefault("stop", ["\n"])  # one molecule a sample
        return Job(served.name, m, num, seed, condition, options, deadline=time.monotonic() + self.timeout)

    def condition(self, model: str, class_: Any = None, prompt: str | None = None) -> Any:
        """The condition from a request's "class" and "prompt" fields, each allowed only where the model takes it."""
        served = self.models.get(model)
        kind = served.model.condition_kind if served is not None else None
        if class_ is not None and prompt is not None:
            raise ConfigError("class and prompt: give one (a model takes a class or a prompt, not both)")
        if class_ is not None and kind == "prompt":
            raise ConfigError(f"class: model {model!r} takes a text prompt, not a class")
        if prompt is not None and kind == "class":
            raise ConfigError(f"prompt: model {model!r} takes a class, not a prompt")
        return prompt if prompt is not None else class_

    def _check_condition(self, served: ServedModel, num: int, condition: Any) -> None:
        kind, name = served.model.condition_kind, served.name
        if condition is None:
            return
        if kind == "prompt":
            if not isinstance(condition, str):
                raise ConfigError(f"prompt: must be text (got {condition!r})")
            if len(condition) > MAX_PROMPT:
                raise ConfigError(f"prompt: at most {MAX_PROMPT} characters (got {len(condition)})")
            try:  # characters the tokenizer does not know: say so now, not from the sampling thread
                served.model.encode_prompt(condition)
            except ConfigError as e:
                raise ConfigError(f"prompt: {str(e).removeprefix('prompt: ')}") from None
        elif kind == "class":
            if isinstance(condition, bool) or not isinstance(condition, (int, str)):
                raise ConfigError(f"class: an index or a class name (got {condition!r})")
            try:
                class_labels(condition, num, served.model.num_classes, served.model.spec.class_names)
            except ConfigError as e:
                raise ConfigError(str(e).removeprefix("--")) from None
        else:
            raise ConfigError(f"model {name!r} is unconditional: it takes no class or prompt (got {condition!r})")

    def wait(self, job: Job, timeout: float | None = None) -> Generation:
        """Block until the batcher has served `job` (threads: the studio); the API awaits `job.future`."""
        try:
            result = job.future.result(timeout=self.timeout if timeout is None else timeout)
        except (FutureTimeout, Cancelled):
            job.abandon()
            raise self.timed_out() from None
        return self.finish(job, result)

    def run(self, model: str, num: int = 1, seed: int | None = None, condition: Any = None, **options: Any) -> Generation:
        job = self.submit(model, num, seed, condition, **options)
        self.batcher.submit(job)
        return self.wait(job)

    def finish(self, job: Job, result: torch.Tensor | list[str]) -> Generation:
        from noisecraft import __version__
        from noisecraft.models.provenance import image_claims
        from noisecraft.utils.images import indexed, png_bytes

        served = self.models[job.model_name]
        settings: dict[str, Any] = {"model": served.name, "family": served.model.family, "num": job.num,
                                    "seed": job.seed, **({} if job.condition is None else {served.model.condition_kind: job.condition}),
                                    **job.options, "noisecraft": __version__, "command": reproduce_command(served, job)}
        claims = image_claims(served.model, settings, name=served.name)  # signed content credentials, beside the chunk
        if served.model.spec.level is not None:  # game levels: each level's text, and its drawing with the agent's path
            from noisecraft.models.levels import level_png

            settings["playable"] = [level.playable for level in result]
            images = [level_png(level, served.model, {"noisecraft": json.dumps({**settings, "index": i})}, indexed(claims, i))
                      for i, level in enumerate(result)]
            return Generation(served.name, job.seed, settings, images=images, texts=[level.text for level in result])
        if isinstance(result, list):
            if is_molecule_model(served.model):  # SMILES, as `noisecraft generate` writes them
                result = [smiles_of(text) for text in result]
            return Generation(served.name, job.seed, settings, texts=result)
        images = [png_bytes(image, {"noisecraft": json.dumps({**settings, "index": i}, ensure_ascii=False)}, indexed(claims, i))
                  for i, image in enumerate(result)]
        return Generation(served.name, job.seed, settings, images=images)


def reproduce_command(served: ServedModel, job: Job) -> str:
    """The CLI line that makes the same samples on this machine (batching changes them by rounding at most)."""
    level = served.model.spec.level is not None
    text = served.model.condition_kind == "prompt" and not level  # text models, and image models that read prompts
    words = ["noisecraft", "generate" if text or level else "sample", str(served.path)]
    if text and job.condition:
        words.append(job.condition)
    words += ["--num", str(job.num), "--seed", str(job.seed)]
    if text and served.model.modality == "image":
        words += ["--out", "generated"]  # one PNG per image
    if job.condition is not None and not text:
        words += ["--class", str(job.condition)]
    for name, value in job.options.items():
        for v in value if isinstance(value, list) else [value]:
            words += [f"--{name.replace('_', '-')}", str(v)]
    return shlex.join(words)
