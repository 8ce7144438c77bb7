"""Text-to-image on the shapes world: pixel diffusion, latent diffusion and DALL-E style after the same CPU
budget. For each: prompt accuracy per GenEval category (seen / held-out colour-shape pairs), Inception FID
against the test scenes, the CLIP-style scorer's text-image score, seconds per image, and the same with
`--rerank K`; a README table and a figure of prompts with their images.

Resumable, one result file per configuration under --out (train-*.json, eval-*.json): rerun the same
command after an interruption and finished configurations are skipped, unfinished trainings resumed.

  python benchmarks/text_to_image.py all --budget 1800                 # the record: about 3 hours on 2 cores
  python benchmarks/text_to_image.py all --quick --out /tmp/t2i --runs /tmp/t2i/runs   # toy sizes, ~2 minutes

Stages: `train` (shapes-clip and shapes-vqvae for --aux-budget, then the three models for --budget each),
`evaluate` (every model, plain and reranked), `report` (results/text_to_image.json, README table, figure);
`all` runs the three in order.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import common
import torch

import noisecraft
from noisecraft.data.shapes import prompt_text
from noisecraft.evaluate.prompt_accuracy import CATEGORIES, prompt_accuracy, prompts_for
from noisecraft.models.rerank import Reranked

MODELS = {"pixel diffusion": "shapes-diffusion", "latent diffusion": "shapes-latent-diffusion", "DALL-E style": "shapes-dalle"}
AUX = {"scorer": "shapes-clip", "vqvae": "shapes-vqvae"}
FIGURE_PROMPTS = ["a big red circle in the top-left", "three yellow triangles", "a small blue cross and a big green square",
                  "a white circle left of a magenta triangle", "a red cross", "a big blue square in the center"]


def save(args, path: Path, record: dict[str, Any]) -> None:
    """A record under --out; a --quick toy run is not a record, so it may come from any tree."""
    if args.quick:
        path.write_text(json.dumps({**common.START, **record, "quick": True}, indent=2, default=float) + "\n")
    else:
        common.write_record(path, record)


def tiny(recipe: str) -> str:
    return recipe + "-tiny"


def run_dir(args, recipe: str) -> Path:
    return args.runs / recipe


def train_one(args, recipe: str, budget: float, extra: list[str]) -> dict[str, Any]:
    """Train (or resume, or skip when done) one recipe under a budget; the record of it."""
    out = run_dir(args, recipe)
    record_path = args.out / f"train-{recipe}.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    name = tiny(recipe) if args.quick else recipe
    overrides = [*extra, *(["train.max_steps=8"] if args.quick else [f"train.max_seconds={budget}"])]
    resume = (out / "checkpoints" / "last").is_dir()
    started = time.perf_counter()
    fit = getattr(noisecraft, "fit", None) or noisecraft.train
    fit(name, out=out, overrides=overrides, resume=resume, progress=not args.quiet)
    state = json.loads((out / "checkpoints" / "last" / "trainer_state.json").read_text())
    record = {"recipe": name, "run": str(out), "overrides": overrides, "train_seconds": state["train_seconds"],
              "steps": state["step"], "examples": state["examples_seen"], "wall_seconds": time.perf_counter() - started}
    save(args, record_path, record)
    return record


def train(args) -> None:
    vqvae = run_dir(args, AUX["vqvae"])
    train_one(args, AUX["scorer"], args.aux_budget, [])
    train_one(args, AUX["vqvae"], args.aux_budget, [])
    for recipe in MODELS.values():
        extra = [f"model.autoencoder={vqvae}"] if recipe != "shapes-diffusion" else []
        train_one(args, recipe, args.budget, extra)


def evaluate_one(args, label: str, recipe: str, rerank: int) -> dict[str, Any]:
    path = args.out / f"eval-{recipe}{f'-rerank{rerank}' if rerank > 1 else ''}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from noisecraft.evaluate.evaluator import score_samples
    from noisecraft.sampling import generate
    from noisecraft.utils.paths import RunDir

    model = noisecraft.load(run_dir(args, recipe))
    scorer = noisecraft.load(run_dir(args, AUX["scorer"]))
    drawer = Reranked(model, scorer, rerank) if rerank > 1 else model
    report = prompt_accuracy(drawer, prompts=args.prompts, per_prompt=args.per_prompt, seed=0, scorer=scorer)
    record: dict[str, Any] = {"model": label, "recipe": recipe, "rerank": rerank, **report}
    if rerank == 1:  # FID of unprompted draws is the same with or without reranking: measured once
        started = time.perf_counter()
        images = generate(model, args.fid_num, seed=0)
        record["fid_sampling_seconds_per_image"] = (time.perf_counter() - started) / args.fid_num
        info: dict[str, Any] = {}
        data = RunDir(run_dir(args, recipe)).data_config()
        if args.quick:  # a toy reference too: Inception features of 32 test scenes
            data = data.model_copy(update={"limit": 32})
        scores = score_samples(images, data, "test", ["fid"], info, progress=False)
        record.update(fid=scores["metrics"]["fid"], fid_num=args.fid_num, fid_protocol=info)
    save(args, path, record)
    print(f"{label} (rerank {rerank}): {json.dumps(record['accuracy'])}", flush=True)
    return record


def evaluate(args) -> None:
    for label, recipe in MODELS.items():
        for k in (1, args.rerank):
            evaluate_one(args, label, recipe, k)


def figure(args, path: Path) -> Path:
    """Rows: models; columns: prompts (held-out pairs among them); one image each, the same seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(MODELS), len(FIGURE_PROMPTS), figsize=(2 * len(FIGURE_PROMPTS), 2.2 * len(MODELS)))
    for r, (label, recipe) in enumerate(MODELS.items()):
        model = noisecraft.load(run_dir(args, recipe))
        images = model.sample(len(FIGURE_PROMPTS), condition=FIGURE_PROMPTS, generator=torch.Generator().manual_seed(0))
        for c, prompt in enumerate(FIGURE_PROMPTS):
            ax = axes[r, c]
            ax.imshow(images[c].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(prompt, fontsize=7, wrap=True)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def table(rows: list[dict[str, Any]]) -> str:
    head = ["model", "rerank"] + [f"{c} seen / held-out" for c in CATEGORIES] + ["FID", "clip score", "s/image"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        a = r["accuracy"]
        cells = [r["model"], str(r["rerank"])] + [f"{a[f'{c}_seen']:.2f} / {a[f'{c}_held_out']:.2f}" for c in CATEGORIES]
        cells += [f"{r['fid']:.1f}" if "fid" in r else "", f"{r.get('clip_score', float('nan')):.3f}",
                  f"{r['seconds_per_image']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(args) -> None:
    rows = [json.loads((args.out / f"eval-{recipe}{f'-rerank{k}' if k > 1 else ''}.json").read_text())
            for recipe in MODELS.values() for k in (1, args.rerank)]
    trained = {recipe: json.loads((args.out / f"train-{recipe}.json").read_text()) for recipe in [*AUX.values(), *MODELS.values()]}
    fig = figure(args, args.out / "prompts.png")
    text = table(rows)
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    best = {r["model"]: r["accuracy"]["overall_held_out"] for r in rows if r["rerank"] == 1}
    summary = ("text-to-image on the shapes world, " + ("toy run (--quick)" if args.quick else f"{args.budget:.0f} s each") +
               ": held-out overall accuracy " + ", ".join(f"{m} {v:.2f}" for m, v in best.items()))
    result = {"budget_seconds": args.budget, "aux_budget_seconds": args.aux_budget, "quick": args.quick,
              "prompts_per_category": args.prompts, "images_per_prompt": args.per_prompt, "rerank": args.rerank,
              "fid_num": args.fid_num, "trained": trained, "rows": rows, "table": text, "figure": str(fig)}
    if not args.quick and args.out.resolve() == (common.RESULTS / "text_to_image").resolve():
        common.write_result("text_to_image", result, summary)
    else:  # a smoke run or another folder: not a record in benchmarks/results
        save(args, args.out / "text_to_image.json", {"summary": summary, **result})
        print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["train", "evaluate", "report", "all"])
    parser.add_argument("--budget", type=float, default=1800, help="training seconds per text-to-image model")
    parser.add_argument("--aux-budget", type=float, default=600, help="training seconds of the scorer and the VQ-VAE")
    parser.add_argument("--prompts", type=int, default=16, help="prompts per category and split")
    parser.add_argument("--per-prompt", type=int, default=2, help="images per prompt")
    parser.add_argument("--rerank", type=int, default=4, help="K of the reranked evaluation")
    parser.add_argument("--fid-num", type=int, default=500, help="unprompted samples for FID against the test scenes")
    parser.add_argument("--out", type=Path, default=common.RESULTS / "text_to_image")
    parser.add_argument("--runs", type=Path, default=Path("runs/text_to_image"))
    parser.add_argument("--quick", action="store_true", help="toy sizes end to end (the -tiny recipes, a few steps)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.per_prompt, args.rerank, args.fid_num = min(args.prompts, 2), 1, min(args.rerank, 2), min(args.fid_num, 16)
    args.out.mkdir(parents=True, exist_ok=True)
    for stage in ("train", "evaluate", "report") if args.stage == "all" else (args.stage,):
        globals()[stage](args)


if __name__ == "__main__":
    main()
