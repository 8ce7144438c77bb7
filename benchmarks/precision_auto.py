"""Is `train.precision: auto` (bf16 autocast on AMX / AVX512-BF16 CPUs) worth it, family by family? Each
recipe trains the same steps from the same seed in fp32 and in bf16-mixed, one after the other: seconds per
step (the speed-up) and the final training loss over the last 20% of steps (quality at equal steps; MNIST
recipes also the figure `noisecraft train` prints). A family whose loss or figure moves beyond the seed
noise keeps fp32.

    python benchmarks/precision_auto.py [--steps 300] [--threads 2] [--recipes mnist-first mnist-gan ...] [--quick]

Writes results/precision_auto.json. Cost: 2 x steps per recipe (default 300 steps, 6 recipes: about 25
CPU-minutes on 2 quiet cores, most of it diffusion and the transformer).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import write_result  # noqa: E402

from noisecraft.models.registry import load_recipe  # noqa: E402
from noisecraft.evaluate.readability import run_readability  # noqa: E402
from noisecraft.train.checkpoint import read_loop_state  # noqa: E402
from noisecraft.train.loop import train  # noqa: E402
from noisecraft.train.precision import native_bf16  # noqa: E402

RECIPES = ["mnist-first", "mnist-vae", "mnist-gan", "mnist-diffusion", "mnist-flow", "shakespeare-char"]


def one(recipe: str, precision: str, steps: int, root: Path) -> dict:
    overrides = [f"train.precision={precision}", f"train.max_steps={steps}", "train.max_seconds=null",
                 f"train.sample_every={steps}", f"train.checkpoint_every={steps}", "train.tensorboard=false"]
    run = train(load_recipe(recipe, overrides), root / f"{recipe}-{precision}", progress=False)
    state = read_loop_state(run.last_checkpoint)
    rows = list(csv.DictReader(run.metrics.open()))
    tail = rows[-max(1, len(rows) // 5):]
    losses = {k: sum(float(r[k]) for r in tail) / len(tail) for k in tail[0] if k.startswith("loss")}
    figure = run_readability(run.root)
    return {"seconds_per_step": state.train_seconds / state.step, "final_loss": losses,
            **({"figure": figure[0].to_dict()} if figure else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=RECIPES)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 6 steps of one recipe, nothing recorded")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ok, found = native_bf16("cpu")
    recipes, steps = (["mnist-first"], 6) if args.quick else (args.recipes, args.steps)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in recipes:
            fp32, bf16 = (one(recipe, p, steps, Path(tmp)) for p in ("32", "bf16-mixed"))
            results[recipe] = {"fp32": fp32, "bf16": bf16, "speedup": fp32["seconds_per_step"] / bf16["seconds_per_step"]}
            print(f"{recipe}: bf16 {results[recipe]['speedup']:.2f}x; loss fp32 {fp32['final_loss']} bf16 "
                  f"{bf16['final_loss']}", flush=True)
    summary = (f"precision auto ({found}), {steps} steps each: bf16 speed-up "
               + ", ".join(f"{r} {v['speedup']:.2f}x" for r, v in results.items()))
    print(summary)
    if not args.quick:
        write_result("precision_auto", {"native_bf16": ok, "cpu": found, "steps": steps, "recipes": results}, summary)


if __name__ == "__main__":
    main()
