"""Is `train.precision: auto` (bf16 autocast on AMX / AVX512-BF16 CPUs) worth it, family by family, and is
`train.channels_last` faster for the convolutional ones? Each recipe trains the same steps, one run after
the other, as:

    fp32          seed 0, contiguous       the reference
    fp32-seed1    seed 1, contiguous       the seed noise: how far an ordinary second run lands
    bf16          seed 0, contiguous       quality and speed of bf16 autocast at equal steps
    fp32-cl       seed 0, channels-last    speed of the layout (convolutional families only)
    bf16-cl       seed 0, channels-last    speed of the layout under bf16 (convolutional families only)

Quality at equal steps: the training loss over the last 20% of steps and, on MNIST, the figure `noisecraft
train` prints (share of 64 samples the shipped classifier reads as digits). bf16 is kept for a family when it
takes >= 5% less CPU time a step and every loss moves from fp32 by no more than twice the seed noise (or 1% of its size) and its figure drops by no
more than twice the seed noise (or 5 points). Channels-last is kept where it takes >= 5% less CPU time a
step in the precision the recipe ends up with (a smaller difference is a tie).

    python benchmarks/precision_auto.py [--threads 2] [--recipes mnist-first mnist-gan ...] [--quick]

One record a recipe (results/precision_auto/<recipe>.json: the run resumes by which exist), then the summary
results/precision_auto.json. Cost on 2 quiet cores: about 35 minutes for the nine recipes (step counts below:
fewer for the families whose step costs a second).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import RESULTS, write_record, write_result  # noqa: E402

from noisecraft.models.registry import load_recipe  # noqa: E402
from noisecraft.evaluate.readability import run_readability  # noqa: E402
from noisecraft.train.checkpoint import read_loop_state  # noqa: E402
from noisecraft.train.loop import convolutional, train  # noqa: E402
from noisecraft.train.precision import native_bf16  # noqa: E402

# recipe -> steps: one recipe per family (and the first command), each as many steps as ~2 minutes of fp32 allow
RECIPES = {"mnist-first": 300, "mnist-vae": 300, "mnist-gan": 300, "mnist-vqvae": 300, "mnist-flow": 150,
           "mnist-diffusion": 60, "mnist-pixelcnn": 60, "shakespeare-char": 150, "shakespeare-char-lstm": 150}
VARIANTS = {"fp32": ("32", 0, False), "fp32-seed1": ("32", 1, False), "bf16": ("bf16-mixed", 0, False),
            "fp32-cl": ("32", 0, True), "bf16-cl": ("bf16-mixed", 0, True)}


def one(recipe: str, variant: str, steps: int, root: Path) -> dict:
    precision, seed, channels_last = VARIANTS[variant]
    overrides = [f"train.precision={precision}", f"train.seed={seed}", f"train.channels_last={channels_last}",
                 f"train.max_steps={steps}", "train.max_seconds=null", f"train.sample_every={steps}",
                 f"train.checkpoint_every={steps}", "train.tensorboard=false"]
    run = train(load_recipe(recipe, overrides), root / f"{recipe}-{variant}", progress=False)
    state = read_loop_state(run.last_checkpoint)
    rows = list(csv.DictReader(run.metrics.open()))
    tail = rows[-max(1, len(rows) // 5):]
    losses = {k: sum(float(r[k]) for r in tail) / len(tail) for k in tail[0] if k.startswith("loss")}
    figure = run_readability(run.root)
    return {"overrides": overrides, "seconds_per_step": state.train_seconds / state.step, "final_loss": losses,
            **({"figure": figure[0].to_dict()} if figure else {})}


def has_convolutions(recipe: str) -> bool:
    from noisecraft.data import build_dataset
    from noisecraft.models.registry import get_family

    resolved = load_recipe(recipe)
    return convolutional(get_family(resolved.model.family)(resolved.model, build_dataset(resolved.recipe.data, "train").spec))


def decide(runs: dict) -> dict:
    """bf16 if quality at equal steps stays within the seed noise; channels-last if >= 5% faster."""
    ref, other, bf16 = runs["fp32"], runs["fp32-seed1"], runs["bf16"]
    loss_moves = {}
    for key, value in ref["final_loss"].items():
        noise = abs(other["final_loss"][key] - value)
        allowed = max(2 * noise, 0.01 * abs(value))
        loss_moves[key] = {"fp32": value, "bf16": bf16["final_loss"][key], "seed_noise": noise, "allowed": allowed,
                           "within": abs(bf16["final_loss"][key] - value) <= allowed}
    figure_ok = True
    if "figure" in ref:
        noise = abs(other["figure"]["readable"] - ref["figure"]["readable"])
        figure_ok = bf16["figure"]["readable"] >= ref["figure"]["readable"] - max(2 * noise, 0.05)
    speedup = ref["seconds_per_step"] / bf16["seconds_per_step"]
    use_bf16 = figure_ok and all(m["within"] for m in loss_moves.values()) and speedup >= 1.05
    out = {"bf16_speedup": speedup, "loss": loss_moves,
           "figure_within": figure_ok, "use_bf16": use_bf16}
    if "fp32-cl" in runs:
        out["channels_last_speedup_fp32"] = ref["seconds_per_step"] / runs["fp32-cl"]["seconds_per_step"]
        out["channels_last_speedup_bf16"] = bf16["seconds_per_step"] / runs["bf16-cl"]["seconds_per_step"]
        chosen = out["channels_last_speedup_bf16" if use_bf16 else "channels_last_speedup_fp32"]
        out["use_channels_last"] = chosen >= 1.05
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 steps of mnist-vae-tiny, nothing recorded")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ok, found = native_bf16("cpu")
    plan = {"mnist-vae-tiny": 4} if args.quick else {r: RECIPES.get(r, 150) for r in args.recipes}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for recipe, steps in plan.items():
            path = RESULTS / "precision_auto" / f"{recipe}.json"
            if path.exists() and not args.quick:
                results[recipe] = json.loads(path.read_text())
                continue
            variants = [v for v in VARIANTS if has_convolutions(recipe) or not v.endswith("-cl")]
            runs = {v: one(recipe, v, steps, Path(tmp)) for v in variants}
            result = {"recipe": recipe, "steps": steps, "runs": runs, **decide(runs)}
            print(f"{recipe}: {json.dumps({k: v for k, v in result.items() if k not in ('runs', 'loss')})}", flush=True)
            if not args.quick:
                write_record(path, result)
            results[recipe] = result
    summary = (f"precision auto ({found}): bf16 " + ", ".join(
        f"{r} {v['bf16_speedup']:.2f}x{'' if v['use_bf16'] else ' (kept fp32)'}" for r, v in results.items())
        + "; channels-last " + ", ".join(f"{r} {v['channels_last_speedup_bf16' if v['use_bf16'] else 'channels_last_speedup_fp32']:.2f}x"
                                       for r, v in results.items() if "use_channels_last" in v))
    print(summary)
    if not args.quick:
        write_result("precision_auto", {"native_bf16": ok, "cpu": found, "decisions": {
            r: {k: v[k] for k in ("steps", "bf16_speedup", "use_bf16", "channels_last_speedup_fp32",
                                  "channels_last_speedup_bf16", "use_channels_last") if k in v} for r, v in results.items()}},
            summary)


if __name__ == "__main__":
    main()
