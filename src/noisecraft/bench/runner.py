"""`noisecraft bench SUITE`: train each entry under the same budget, evaluate each the same way, rank them.

Resumable: each entry keeps its run folder and `result.json` under bench/<suite>/<entry>/; an entry with a
result is not run again, an entry whose training was cut off resumes from its checkpoint.
"""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator

from noisecraft.config import StrictModel, read_yaml, validate_section
from noisecraft.errors import ConfigError
from noisecraft.evaluate.evaluator import PROTOCOLS, evaluate_run
from noisecraft.models.base import GenerativeModel
from noisecraft.models.provenance import weights_sha256
from noisecraft.models.registry import load_recipe
from noisecraft.train.checkpoint import read_loop_state
from noisecraft.train.loop import train
from noisecraft.utils.images import save_grid
from noisecraft.utils.paths import RunDir, model_dir_of
from noisecraft.utils.version import __version__

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"
COLUMNS = ["entry", "family", "params", "train_images_per_s", "train_seconds", "fid", "kid", "precision", "recall",
           "classifier_fid", "classes_covered", "c2st_accuracy", "nll_nats_per_image", "likelihood_data",
           "sampling_ms_per_image"]


class Budget(StrictModel):
    seconds: float | None = Field(None, gt=0)
    steps: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> "Budget":
        if (self.seconds is None) == (self.steps is None):
            raise ValueError("budget: give exactly one of seconds or steps")
        return self

    def overrides(self) -> list[str]:
        if self.steps is not None:
            return [f"train.max_steps={self.steps}"]
        return [f"train.max_seconds={self.seconds}", "train.max_steps=1000000000"]


class Entry(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    recipe: str
    set: list[str] = Field(default_factory=list)


class Suite(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    budget: Budget
    protocol: str = "sweep"
    num: int | None = Field(None, ge=2, description="samples per entry (default: the protocol's)")
    metrics: str | None = Field(None, description="comma-separated metrics (default: the protocol's)")
    entries: list[Entry] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Suite":
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol: {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        names = [e.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ValueError(f"entries: names must be unique, got {names}")
        return self


def load_suite(suite: str | Path) -> tuple[Suite, Path]:
    path = Path(suite)
    if not path.exists() and not path.suffix:
        path = SUITES_DIR / f"{suite}.yaml"
        if not path.exists():
            known = ", ".join(p.stem for p in sorted(SUITES_DIR.glob("*.yaml")))
            raise ConfigError(f"unknown suite {str(suite)!r}: not a file, and not a built-in suite ({known})")
    if not path.is_file():
        raise ConfigError(f"suite file not found: {path}")
    return validate_section(Suite, read_yaml(path), str(path)), path


def run_suite(suite_arg: str | Path, out_root: Path = Path("bench"), protocol: str | None = None,
              progress: bool = True) -> Path:
    suite, path = load_suite(suite_arg)
    protocol = protocol or suite.protocol
    out = out_root / suite.name
    out.mkdir(parents=True, exist_ok=True)
    for entry in suite.entries:  # validate every recipe before spending any time
        load_recipe(entry.recipe, [*entry.set, *suite.budget.overrides()])
    results = [run_entry(entry, suite, protocol, out, progress) for entry in suite.entries]
    write_leaderboard(suite, protocol, results, out, source=str(path))
    return out


def run_entry(entry: Entry, suite: Suite, protocol: str, out: Path, progress: bool) -> dict[str, Any]:
    folder = out / entry.name
    result_file = folder / "result.json"
    if result_file.is_file():
        result = json.loads(result_file.read_text())
        if result.get("protocol") == protocol:
            print(f"{entry.name}: done before, kept ({result_file})")
            return result
    run = RunDir(folder / "run")
    resolved = load_recipe(entry.recipe, [*entry.set, *suite.budget.overrides()])
    if run.is_run() and not run.last_checkpoint.is_dir():  # cut off before its first checkpoint: start over
        shutil.rmtree(run.root)
    if not _finished(run, resolved):
        train(resolved, run.root, resume=run.is_run(), progress=progress)
    evaluation = evaluate_run(run.root, protocol=protocol, num=suite.num, metrics=suite.metrics, progress=progress)
    state = read_loop_state(run.last_checkpoint)
    m = evaluation["metrics"]
    result = {
        "entry": entry.name, "recipe": entry.recipe, "set": entry.set, "protocol": protocol,
        "family": evaluation["model"]["family"], "params": evaluation["model"]["parameters"],
        "train_seconds": state.train_seconds, "train_steps": state.step,
        "train_images_per_s": state.examples_seen / max(state.train_seconds, 1e-9),
        **{k: m.get(k) for k in ("fid", "kid", "kid_std", "precision", "recall", "classifier_fid",
                                 "classes_covered", "class_entropy", "c2st_accuracy", "c2st_ci_low", "c2st_ci_high",
                                 "near_copy_share", "nll_nats_per_image", "bits_per_dim")},
        "likelihood_data": evaluation.get("likelihood", {}).get("data"),  # which images the NLL is of
        "sampling_ms_per_image": evaluation["timing"].get("sampling_seconds_per_image", 0) * 1000,
        "evaluation": evaluation["protocol"],
    }
    result_file.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _finished(run: RunDir, resolved) -> bool:
    state, cfg = read_loop_state(run.last_checkpoint), resolved.recipe.train
    return state is not None and (state.step >= cfg.max_steps or
                                  (cfg.max_seconds is not None and state.train_seconds >= cfg.max_seconds))


def write_leaderboard(suite: Suite, protocol: str, results: list[dict[str, Any]], out: Path, source: str) -> None:
    ranked = sorted(results, key=rank_key)
    meta = {"suite": suite.name, "source": source, "protocol": protocol, "protocol_detail": PROTOCOLS[protocol],
            "budget": suite.budget.model_dump(exclude_none=True), "noisecraft_version": __version__,
            "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine()}
    (out / "leaderboard.json").write_text(json.dumps({**meta, "entries": ranked}, indent=2) + "\n")
    budget = f"{suite.budget.seconds:g} s" if suite.budget.seconds else f"{suite.budget.steps} steps"
    lines = [f"# {suite.name}", "", suite.description, "",
             f"Training budget per entry: {budget}. Evaluation: `{protocol}` protocol "
             f"({suite.num or PROTOCOLS[protocol]['num']} samples). Lower FID/KID/NLL is better.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in ranked:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in COLUMNS) + " |")
    (out / "leaderboard.md").write_text("\n".join(lines) + "\n\n![samples](samples.png)\n")
    models = [GenerativeModel.from_pretrained(model_dir_of(out / r["entry"] / "run")) for r in ranked]
    rows = [m.sample(10, generator=torch.Generator().manual_seed(0)) for m in models]
    claims = {"model": {"suite": suite.name, "entries": [{"entry": r["entry"], "family": m.family, "weights_sha256": weights_sha256(m)}
                                                         for r, m in zip(ranked, models)]},
              "settings": {"seed": 0, "num": 10, "rows": "one per entry, in leaderboard order"}}
    save_grid(torch.cat(_same_shape(rows)), out / "samples.png", nrow=10, claims=claims)
    print(f"leaderboard: {out / 'leaderboard.md'}")


def _same_shape(rows: list[torch.Tensor]) -> list[torch.Tensor]:
    """One strip needs one image shape: grey to RGB and up to the largest size where families differ."""
    channels = max(r.shape[1] for r in rows)
    size = max(r.shape[-1] for r in rows)
    out = []
    for r in rows:
        r = r.expand(-1, channels, -1, -1) if r.shape[1] != channels else r
        out.append(torch.nn.functional.interpolate(r, size=(size, size), mode="nearest") if r.shape[-1] != size else r)
    return out


def rank_key(result: dict[str, Any]) -> tuple:
    """By Inception FID where measured, else classifier FID, else NLL: lower is better."""
    for i, name in enumerate(("fid", "classifier_fid", "nll_nats_per_image")):
        if result.get(name) is not None:
            return (i, result[name])
    return (3, 0.0)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and value > 9999:
        return f"{value:,}"
    return str(value)
