"""Text-to-image on the shapes world: pixel diffusion, latent diffusion and DALL-E style after the same CPU
budget. For each: prompt accuracy per GenEval category (seen / held-out colour-shape pairs), Inception FID
against the test scenes, the CLIP-style scorer's text-image score, seconds per image, and the same with
`--rerank K`; a README table and a figure of prompts with their images.

One configuration is one model, trained then evaluated (train-*.json, eval-*.json, prompts-*.png under
--out): rerun the same command after an interruption and finished configurations are skipped, an
unfinished training resumed. The record takes more than one 3-hour session on 2 cores, so `--only` splits
it; a later session retrains the scorer and the VQ-VAE, which train for a fixed number of steps (no clock
in their schedule) and so come out bit for bit the same: their weights' sha256 is in their train-*.json
and checked again before any model is evaluated with them.

  python benchmarks/text_to_image.py all --only shapes-diffusion,shapes-latent-diffusion   # ~2.5 h on 2 cores
  python benchmarks/text_to_image.py all --only shapes-dalle                               # ~1.3 h, then the report
  python benchmarks/text_to_image.py all --quick --out /tmp/t2i --runs /tmp/t2i/runs       # toy sizes, ~2 minutes

Stages: `train` (the scorer and the VQ-VAE, then each model of --only), `evaluate` (each model of --only,
plain and reranked, and its row of the figure), `report` (results/text_to_image.json, README table,
figure; once every model is evaluated); `all` trains and evaluates one model after another, then reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import common
import torch

import noisecraft
from noisecraft.evaluate.prompt_accuracy import CATEGORIES, prompt_accuracy
from noisecraft.models.rerank import Reranked

MODELS = {"pixel diffusion": "shapes-diffusion", "latent diffusion": "shapes-latent-diffusion", "DALL-E style": "shapes-dalle"}
AUX = {"scorer": "shapes-clip", "vqvae": "shapes-vqvae"}
FIGURE_PROMPTS = ["a big red circle in the top-left", "three yellow triangles", "a small blue cross and a big green square",
                  "a white circle left of a magenta triangle", "a red cross", "a big blue square in the center"]


def run_dir(args, recipe: str) -> Path:
    return args.runs / recipe


def eval_path(args, recipe: str, rerank: int) -> Path:
    return args.out / f"eval-{recipe}{f'-rerank{rerank}' if rerank > 1 else ''}.json"


def fit(args, recipe: str, overrides: list[str], out: Path) -> dict[str, Any]:
    """Train (or resume) one recipe; its trainer state afterwards."""
    name = recipe + "-tiny" if args.quick else recipe
    started = time.perf_counter()
    noisecraft.fit(name, out=out, overrides=overrides, resume=common.resumable(out), progress=not args.quiet)
    return {**common.trainer_state(out), "recipe": name, "wall_seconds": time.perf_counter() - started}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_aux(args, recipe: str, steps: int) -> Path:
    """The scorer or the VQ-VAE, for a fixed number of steps: the same weights in every session (checked)."""
    out, record_path = run_dir(args, recipe), args.out / f"train-{recipe}.json"
    overrides = [f"train.max_steps={8 if args.quick else steps}", "train.max_seconds=null"]
    state = common.trainer_state(out)
    if state.get("step", 0) < int(overrides[0].split("=")[1]):
        state = fit(args, recipe, overrides, out)
    weights = sha256(out / "model" / "model.safetensors")
    if record_path.is_file():
        recorded = json.loads(record_path.read_text())
        if recorded["weights_sha256"] != weights:
            raise SystemExit(f"error: {out} is not the {recipe} that {record_path} records (weights sha256 {weights[:12]} "
                             f"!= {recorded['weights_sha256'][:12]}): the rows would not share one model; train "
                             "where the record was made, or remove the text_to_image records and start again")
        return out
    common.save(record_path, {"recipe": state["recipe"], "run": str(out), "overrides": overrides, "steps": state["step"],
                              "train_seconds": state["train_seconds"], "examples": state["examples_seen"],
                              "weights_sha256": weights}, args.quick)
    return out


def evaluated(args, recipe: str) -> bool:
    return all(eval_path(args, recipe, k).is_file() for k in (1, args.rerank))


def train_model(args, recipe: str) -> None:
    """One text-to-image model for --budget seconds; skipped once evaluated (its run may be gone by then)."""
    out, record_path = run_dir(args, recipe), args.out / f"train-{recipe}.json"
    if evaluated(args, recipe) or (record_path.is_file() and common.trainer_state(out)):
        return
    extra = [f"model.autoencoder={run_dir(args, AUX['vqvae'])}"] if recipe != "shapes-diffusion" else []
    overrides = [*extra, *(["train.max_steps=8"] if args.quick else [f"train.max_seconds={args.budget}"])]
    if record_path.is_file():  # trained in a session whose run folder is gone, never evaluated: again
        print(f"{recipe}: {record_path.name} has no run folder left ({out}); training it again", flush=True)
    state = fit(args, recipe, overrides, out)
    common.save(record_path, {"recipe": state["recipe"], "run": str(out), "overrides": overrides,
                              "train_seconds": state["train_seconds"], "steps": state["step"],
                              "examples": state["examples_seen"], "wall_seconds": state["wall_seconds"]}, args.quick)


def evaluate_one(args, label: str, recipe: str, rerank: int) -> None:
    path = eval_path(args, recipe, rerank)
    if path.is_file():
        return
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
        figure_row(model, args.out / f"prompts-{recipe}.png")
    record["aux_weights_sha256"] = {r: json.loads((args.out / f"train-{r}.json").read_text())["weights_sha256"]
                                    for r in AUX.values()}
    common.save(path, record, args.quick)
    print(f"{label} (rerank {rerank}): {json.dumps(record['accuracy'])}", flush=True)


def figure_row(model, path: Path) -> None:
    """The model's images for FIGURE_PROMPTS (seed 0), side by side: its row of the report's figure."""
    from PIL import Image

    images = model.sample(len(FIGURE_PROMPTS), condition=FIGURE_PROMPTS, generator=torch.Generator().manual_seed(0))
    pixels = (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    Image.fromarray(pixels.transpose(1, 0, 2, 3).reshape(pixels.shape[1], -1, pixels.shape[3])).save(path)


def figure(args, path: Path) -> Path:
    """Rows: models (from their prompts-*.png); columns: prompts, held-out pairs among them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    fig, axes = plt.subplots(len(MODELS), len(FIGURE_PROMPTS), figsize=(2 * len(FIGURE_PROMPTS), 2.2 * len(MODELS)))
    for r, (label, recipe) in enumerate(MODELS.items()):
        row = np.asarray(Image.open(args.out / f"prompts-{recipe}.png").convert("RGB"))
        size = row.shape[0]
        for c, prompt in enumerate(FIGURE_PROMPTS):
            ax = axes[r, c]
            ax.imshow(row[:, c * size:(c + 1) * size], interpolation="nearest")
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
    missing = [recipe for recipe in MODELS.values() if not evaluated(args, recipe)]
    if missing:
        print(f"report: not yet evaluated: {', '.join(missing)} (run `all --only {','.join(missing)}`)")
        return
    rows = [json.loads(eval_path(args, recipe, k).read_text()) for recipe in MODELS.values() for k in (1, args.rerank)]
    if len({json.dumps(r["aux_weights_sha256"], sort_keys=True) for r in rows}) != 1:
        raise SystemExit("error: the rows were evaluated with different scorers or VQ-VAEs (aux_weights_sha256)")
    trained = {recipe: json.loads((args.out / f"train-{recipe}.json").read_text()) for recipe in [*AUX.values(), *MODELS.values()]}
    fig = figure(args, args.out / "prompts.png")
    text = table(rows)
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    best = {r["model"]: r["accuracy"]["overall_held_out"] for r in rows if r["rerank"] == 1}
    summary = ("text-to-image on the shapes world, " + ("toy run (--quick)" if args.quick else f"{args.budget:.0f} s each") +
               ": held-out overall accuracy " + ", ".join(f"{m} {v:.2f}" for m, v in best.items()))
    result = {"budget_seconds": args.budget, "aux_steps": {AUX["scorer"]: args.scorer_steps, AUX["vqvae"]: args.vqvae_steps},
              "quick": args.quick, "prompts_per_category": args.prompts, "images_per_prompt": args.per_prompt,
              "rerank": args.rerank, "fid_num": args.fid_num, "trained": trained, "rows": rows, "table": text,
              "figure": str(fig)}
    if not args.quick and args.out.resolve() == (common.RESULTS / "text_to_image").resolve():
        common.write_result("text_to_image", result, summary)
    else:  # a smoke run or another folder: not a record in benchmarks/results
        common.save(args.out / "text_to_image.json", {"summary": summary, **result}, args.quick)
        print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["train", "evaluate", "report", "all"])
    parser.add_argument("--only", default=",".join(MODELS.values()), help="comma-separated models of this session")
    parser.add_argument("--budget", type=float, default=1800, help="training seconds per text-to-image model")
    parser.add_argument("--scorer-steps", type=int, default=2800, help="training steps of shapes-clip (~15 min)")
    parser.add_argument("--vqvae-steps", type=int, default=2300, help="training steps of shapes-vqvae (~17 min)")
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
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    for name in only:
        if name not in MODELS.values():
            raise SystemExit(f"error: --only {name!r}: choose from {', '.join(MODELS.values())}")
    args.out.mkdir(parents=True, exist_ok=True)
    labels = {recipe: label for label, recipe in MODELS.items()}
    if args.stage in ("train", "evaluate", "all") and not all(evaluated(args, r) for r in only):
        train_aux(args, AUX["scorer"], args.scorer_steps)
        train_aux(args, AUX["vqvae"], args.vqvae_steps)
    for recipe in only:
        if args.stage in ("train", "all"):
            train_model(args, recipe)
        if args.stage in ("evaluate", "all"):
            for k in (1, args.rerank):
                evaluate_one(args, labels[recipe], recipe, k)
    if args.stage in ("report", "all"):
        report(args)


if __name__ == "__main__":
    main()
