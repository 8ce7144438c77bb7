"""Game levels (#24): each family on the Super Mario Bros levels after the same CPU training budget, then
judged the same way: share of full-width levels the A* agent can play, novelty (windows not in training),
diversity, 2x2 / 3x3 tile-pattern KL, seconds per level; the corpus's own figures beside them, and a figure
of generated levels with the agent's paths for the README.

  OMP_NUM_THREADS=2 python benchmarks/game_levels.py                          # the real run: 4 x 30 min
  python benchmarks/game_levels.py --quick --out /tmp/game-levels             # toy sizes, a minute or two

Resumable: one result file per recipe (results/game_levels/<recipe>.json, with the two levels the figure
draws), a recipe with a result is not run again, and an interrupted training resumes from its last
checkpoint in --out; the figure is drawn from the records, so a later session can finish the run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import common  # first: it records the environment the benchmark starts in

RECIPES = ["smb-gan", "smb-vae", "smb-diffusion", "smb-transformer"]


def train(recipe: str, run_dir: Path, seconds: float, quick: bool, extra: list[str] | None = None) -> None:
    import noisecraft

    overrides = [*(extra or []), f"train.max_seconds={seconds}", "train.tensorboard=false"]
    if quick:
        overrides += ["train.max_steps=100000", "train.sample_every=100000", "train.checkpoint_every=100000"]
    if common.trained_for(run_dir, seconds):
        return  # trained to its budget already
    noisecraft.fit(recipe, out=run_dir, overrides=overrides, resume=common.resumable(run_dir), progress=False)


def measure(recipe: str, run_dir: Path, num: int, width: int) -> dict:
    """The metrics, and the two levels (seed 0) the README figure draws, so the figure needs no run folder."""
    import noisecraft
    from noisecraft.evaluate.levels import evaluate_levels
    from noisecraft.models.levels import generate_levels
    from noisecraft.utils.paths import RunDir

    run = RunDir(run_dir)
    model = noisecraft.load(run_dir)
    state = common.trainer_state(run_dir)
    result = evaluate_levels(model, run.data_config(), num=num, width=width, seed=0)
    return {"recipe": recipe, "family": model.family, "parameters": model.num_parameters(),
            "train_steps": state.get("step"), "train_seconds": state.get("train_seconds"),
            **result, "figure_levels": [lv.rows for lv in generate_levels(model, 2, width, seed=0)]}


def figure(records: list[dict], path: Path) -> None:
    """Two levels of each family, drawn with the agent's path, one under the other."""
    from noisecraft.data.levels.agents import play
    from noisecraft.data.levels.render import render, render_grid

    older = [r["recipe"] for r in records if "figure_levels" not in r]
    if older:  # recorded before the records kept their levels: the figure stays as that record drew it
        print(f"figure: {', '.join(older)} recorded without figure_levels; {path} left as it is")
        return
    images = []
    for record in records:
        game = record["protocol"]["game"]
        for rows in record["figure_levels"]:
            images.append(render(rows, game, play(rows, game).paths, tile=6))
    path.parent.mkdir(parents=True, exist_ok=True)
    render_grid(images).save(path)


def summary(records: list[dict]) -> str:
    def one(r: dict) -> str:
        m = r["metrics"]
        return (f"{r['recipe']} playable {m['playable_share']:.0%}, novel {m['novelty']:.0%}, diversity "
                f"{m['diversity']:.2f}, KL 2x2 {m['pattern_kl_2x2']:.2f} / 3x3 {m['pattern_kl_3x3']:.2f}, "
                f"{m['seconds_per_level']:.2f} s/level")
    corpus = records[0]["metrics"]
    return ("; ".join(one(r) for r in records) + f" (corpus: playable {corpus['corpus_playable_share']:.0%}, "
            f"held-out novel {corpus['corpus_novelty']:.0%}, KL 2x2 {corpus['corpus_pattern_kl_2x2']:.2f} / 3x3 "
            f"{corpus['corpus_pattern_kl_3x3']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800, help="training budget per family (CPU seconds of wall clock)")
    parser.add_argument("--num", type=int, default=100, help="levels generated per family")
    parser.add_argument("--width", type=int, default=150, help="columns per level")
    parser.add_argument("--recipes", nargs="+", default=RECIPES)
    parser.add_argument("--out", type=Path, default=Path("runs/game-levels"), help="where the training runs go")
    parser.add_argument("--quick", action="store_true", help="toy sizes (-tiny recipes, 10 s, 4 levels of 40 columns), "
                        "results under --out, never in benchmarks/results")
    args = parser.parse_args()
    recipes = [f"{r}-tiny" for r in args.recipes] if args.quick else args.recipes
    if args.quick:
        args.seconds, args.num, args.width = min(args.seconds, 10), min(args.num, 4), min(args.width, 40)
    results = (args.out / "results") if args.quick else common.RESULTS / "game_levels"
    records = []
    for recipe in recipes:
        path = results / f"{recipe}.json"
        if not path.is_file():
            started = time.perf_counter()
            train(recipe, args.out / recipe, args.seconds, args.quick)
            record = {**measure(recipe, args.out / recipe, args.num, args.width),
                      "budget_seconds": args.seconds, "wall_seconds": time.perf_counter() - started}
            common.save(path, record, args.quick)
        records.append(json.loads(path.read_text()))
        print(summary(records[-1:]), flush=True)
    image = (args.out / "game-levels.png") if args.quick else (common.RESULTS / "game-levels.png") if common.DRAFT \
        else common.HERE.parent / "docs" / "images" / "game-levels.png"
    figure(records, image)
    line = summary(records)
    if args.quick:
        (args.out / "game_levels.json").write_text(json.dumps({"summary": line, "entries": records}, indent=2) + "\n")
        print(f"{line}\nwrote {args.out} and {image}")
    else:
        common.write_result("game_levels", {"entries": records, "figure": str(image.relative_to(common.HERE.parent))}, line)


if __name__ == "__main__":
    main()
