"""How far each family's training step is from this CPU's limit: FLOPs a step, achieved GFLOP/s, and the
machine's own ceiling measured on the same threads (issue 18, item 7).

    python benchmarks/roofline.py                          # one step of each MNIST recipe and shakespeare-char
    python benchmarks/roofline.py --recipes mnist-gan --steps 30 --threads 2
    python benchmarks/roofline.py --quick                  # two tiny recipes, a small matmul: a smoke run

Per recipe: the model, optimizers, precision (`train.precision`, resolved as training resolves it) and memory
layout (`train.channels_last`) that `noisecraft train` would use, stepped by the training loop's own
`training_step` under Accelerate, on batches from the recipe's loader fetched beforehand (the same region
`train.max_seconds` clocks). FLOPs: one step under `torch.utils.flop_counter.FlopCounterMode` (forward and
backward: matrix products, convolutions, attention; elementwise work and the optimizer are not counted, so
the achieved figure is a lower bound of the work done). Time: the median of --steps timed steps after
--warmup untimed ones, with min and max. The ceiling: the best of --rounds large square matmuls (n = --n,
2 n^3 FLOPs each) in fp32, and in bf16 where the CPU runs it natively (AMX / AVX512-BF16), measured before
and after the recipes (the machine's noise shows as their difference); each recipe is set against the
ceiling of the precision it trains in.

One record a recipe (results/roofline/<recipe>.json; the run resumes by which exist), then the table in
results/roofline.json. Cost on 2 quiet cores: about 10 minutes for the 13 default recipes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import common
import torch
from torch.utils.flop_counter import FlopCounterMode

QUICK_RECIPES = ["mnist-vae-tiny", "shakespeare-char-tiny"]
SHOWN = {"32": "fp32", "bf16-mixed": "bf16"}


def default_recipes() -> list[str]:
    """Every built-in MNIST recipe (the -tiny test ones aside) and shakespeare-char."""
    from noisecraft.config import builtin_recipes

    return [r for r in builtin_recipes() if r.startswith("mnist-") and not r.endswith("-tiny")] + ["shakespeare-char"]


def matmul_gflops(n: int, dtype: torch.dtype, rounds: int) -> float:
    """The best rate of an n x n by n x n product: what this CPU's matrix units reach on these threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)  # warm-up: oneDNN / BLAS pick their kernels
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def ceiling(n: int, rounds: int) -> dict:
    from noisecraft.train.precision import native_bf16

    bf16, found = native_bf16("cpu")
    out = {"n": n, "rounds": rounds, "cpu": found, "fp32_gflops": matmul_gflops(n, torch.float32, rounds)}
    out["bf16_gflops"] = matmul_gflops(n, torch.bfloat16, rounds) if bf16 else None
    return out


def step_parts(recipe: str):
    """What `noisecraft train` builds for a recipe, up to its first step: model, optimizers, precision, batches."""
    from accelerate import Accelerator

    from noisecraft.models.registry import get_family, load_recipe
    from noisecraft.train.checkpoint import LoopState
    from noisecraft.train.loop import make_optimizers, memory_layout, training_data
    from noisecraft.train.precision import resolve_precision

    resolved = load_recipe(recipe)
    cfg = resolved.recipe.train
    torch.manual_seed(cfg.seed)
    dataset, loader = training_data(resolved.recipe.data, cfg, 1)
    model = get_family(resolved.model.family)(resolved.model, dataset.spec)
    layout = memory_layout(model, cfg.channels_last)
    groups = {name: list(params) for name, params in model.optimizer_groups().items()}
    optimizers, schedulers = make_optimizers(groups, cfg, LoopState())
    precision = resolve_precision(cfg.precision, "cpu")
    accelerator = Accelerator(cpu=True, mixed_precision={"32": "no", "bf16-mixed": "bf16"}[precision[0]])
    prepared = accelerator.prepare(model, *optimizers.values())
    optimizers = dict(zip(optimizers, prepared[1:]))
    info = {"recipe": recipe, "family": model.family, "parameters": model.num_parameters(),
            "batch_size": loader.batch_size, "precision": precision[0], "precision_reason": precision[1],
            "layout": layout}
    return accelerator, prepared[0], groups, optimizers, schedulers, cfg, loader, info


def measure(recipe: str, steps: int, warmup: int) -> dict:
    from accelerate.state import AcceleratorState

    from noisecraft.train.loop import training_step

    accelerator, model, groups, optimizers, schedulers, cfg, loader, info = step_parts(recipe)
    batches, it = [], iter(loader)
    while len(batches) < warmup + steps + 1:  # fetched beforehand: loading is outside the clock, as in training
        try:
            batches.append(next(it))
        except StopIteration:
            it = iter(loader)
    try:
        with FlopCounterMode(display=False) as counter:
            training_step(accelerator, model, groups, optimizers, schedulers, batches[0], cfg, 0)
        flops = counter.get_total_flops()
        by_op = {str(op): n for op, n in counter.get_flop_counts().get("Global", {}).items()}
        seconds = []
        for i, batch in enumerate(batches[1:]):
            t = time.perf_counter()
            training_step(accelerator, model, groups, optimizers, schedulers, batch, cfg, i + 1)
            if i >= warmup:
                seconds.append(time.perf_counter() - t)
    finally:  # the next recipe chooses its own precision
        AcceleratorState._reset_state(reset_partial_state=False)
    median = statistics.median(seconds)
    return {**info, "flops_per_step": flops, "flops_by_operator": by_op, "timed_steps": len(seconds),
            "warmup_steps": warmup, "seconds_per_step": {"min": min(seconds), "median": median, "max": max(seconds)},
            "achieved_gflops": flops / median / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", help="default: every MNIST recipe and shakespeare-char")
    parser.add_argument("--steps", type=int, default=20, help="timed steps a recipe")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=4096, help="side of the ceiling's square matmul")
    parser.add_argument("--rounds", type=int, default=10, help="matmuls timed for the ceiling (the best counts)")
    parser.add_argument("--quick", action="store_true", help="two tiny recipes, 2 steps, n=512: nothing recorded in results/")
    args = parser.parse_args()
    if args.quick:
        args.recipes, args.steps, args.warmup, args.n, args.rounds = QUICK_RECIPES, 2, 1, 512, 3
    args.recipes = args.recipes or default_recipes()
    torch.set_num_threads(args.threads)
    before = ceiling(args.n, args.rounds)
    print(f"ceiling: fp32 {before['fp32_gflops']:.1f} GFLOP/s, bf16 {before['bf16_gflops'] or 0:.1f} GFLOP/s "
          f"({before['cpu']}, {args.threads} threads)", flush=True)
    rows = {}
    for recipe in args.recipes:
        path = common.RESULTS / "roofline" / f"{recipe}.json"
        if path.exists() and not args.quick:
            rows[recipe] = json.loads(path.read_text())
            continue
        row = measure(recipe, args.steps, args.warmup)
        row["ceiling_gflops"] = before["bf16_gflops" if row["precision"] == "bf16-mixed" else "fp32_gflops"]
        row["percent_of_ceiling"] = 100 * row["achieved_gflops"] / row["ceiling_gflops"]
        common.write_record(path, {**row, "ceiling": before})
        rows[recipe] = row
        print(f"{recipe}: {row['flops_per_step'] / 1e9:.2f} GFLOP a step, {row['seconds_per_step']['median'] * 1e3:.0f} ms, "
              f"{row['achieved_gflops']:.1f} GFLOP/s = {row['percent_of_ceiling']:.1f}% of the {SHOWN[row['precision']]} ceiling",
              flush=True)
    after = ceiling(args.n, args.rounds)
    table = ["| recipe | precision | GFLOP a step | ms a step (median) | GFLOP/s | % of ceiling |", "|---|---|---|---|---|---|"]
    table += [f"| {r} | {SHOWN[v['precision']]} | {v['flops_per_step'] / 1e9:.3g} | {v['seconds_per_step']['median'] * 1e3:.0f} | "
              f"{v['achieved_gflops']:.1f} | {v['percent_of_ceiling']:.1f} |" for r, v in rows.items()]
    print("\n".join(table))
    summary = (f"training step vs CPU ceiling (fp32 matmul {before['fp32_gflops']:.0f}"
               + (f", bf16 {before['bf16_gflops']:.0f}" if before["bf16_gflops"] else "") + f" GFLOP/s, {args.threads} threads): "
               + ", ".join(f"{r} {v['achieved_gflops']:.1f} GFLOP/s ({v['percent_of_ceiling']:.0f}%)" for r, v in rows.items()))
    common.write_result("roofline", {"threads": args.threads, "ceiling_before": before, "ceiling_after": after,
                                     "rows": {r: {k: v[k] for k in ("family", "precision", "layout", "batch_size",
                                                                     "flops_per_step", "seconds_per_step", "achieved_gflops",
                                                                     "ceiling_gflops", "percent_of_ceiling")}
                                              for r, v in rows.items()}, "table": table}, summary)


if __name__ == "__main__":
    main()
