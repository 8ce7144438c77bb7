"""Bach chorales (issue 22): the AR-CNN (DeepComposer's flip objective), orderless inpainting (Coconet) on
SATB voices, orderless inpainting on the published JSB frames, and the token transformer on frame events,
each trained for the same CPU budget, then measured with `noisecraft evaluate --metrics nll,music`:
JSB test frame NLL (where a model defines one), harmonization note accuracy on the test melodies, and
music statistics beside Bach's.

    OMP_NUM_THREADS=2 python benchmarks/music.py --budget 3600          # the record: 4 x 60 min + evaluation
    python benchmarks/music.py --quick --out /tmp/music-quick         # toy sizes, end to end in minutes
    python benchmarks/music.py --draft --budget 600                   # any tree: into benchmarks/drafts/

One result file per configuration (OUT/<name>.json, and for a roll model OUT/<name>-harmonization.mid);
a run folder per configuration under WORK, resumed with more budget if it exists: an interrupted benchmark
continues where it stopped. 4 x 60 minutes is more than one 3-hour session: `--only arcnn,coconet`, then
`--only frames,transformer --examples` in the next; results/music.json is written once every configuration
has its file, and --examples draws docs/images/music-harmonization.png and docs/music-harmonization.wav
from the best harmonizer's MIDI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common
from common import HERE, RESULTS, save, write_result

CONFIGS = {  # name -> (recipe, what it is)
    "arcnn": ("jsb-arcnn", "AR-CNN, DeepComposer's add-or-remove objective, one piano roll at 16ths"),
    "coconet": ("jsb-coconet", "orderless inpainting (Coconet), four voices at 16ths, blocked Gibbs"),
    "frames": ("jsb-frames", "orderless inpainting on the published quarter-note frames (frame NLL)"),
    "transformer": ("jsb-transformer", "token transformer on quarter-note frame events (frame NLL)"),
}
QUICK = {  # toy sizes: the whole pipeline in a minute or two
    "arcnn": ["model.channels=4", "model.depth=2", "data.limit=4"],
    "coconet": ["model.channels=4", "model.depth=2", "data.limit=4"],
    "frames": ["model.channels=4", "model.depth=2", "data.limit=4", "data.music.window=8", "model.nll_blocks=1"],
    "transformer": ["model.dim=16", "model.layers=1", "model.heads=2", "data.block_size=32", "data.limit=4"],
}


def train(name: str, run: Path, budget: float, quick: bool) -> None:
    from noisecraft.cli.main import run as cli

    recipe = CONFIGS[name][0]
    sets = [f"train.max_seconds={budget}", "train.checkpoint_every=200", "train.tensorboard=false"]
    sets += QUICK[name] if quick else []
    args = ["train", recipe, "--out", str(run), "--quiet"] + (["--resume"] if common.resumable(run) else [])
    for s in sets:
        args += ["--set", s]
    if cli(args) != 0:
        sys.exit(f"training {name} failed: noisecraft {' '.join(args)}")


def measure(name: str, run: Path, num: int, nll_num: int | None) -> dict:
    from noisecraft.evaluate.evaluator import evaluate_run

    started = time.perf_counter()
    result = evaluate_run(run, metrics="nll,music", num=num, nll_num=nll_num, progress=False)
    state = common.trainer_state(run)
    return {"name": name, "recipe": CONFIGS[name][0], "what": CONFIGS[name][1], "run": str(run),
            "train_seconds": state["train_seconds"], "train_steps": state["step"],
            "evaluate_seconds": time.perf_counter() - started, "parameters": result["model"]["parameters"],
            "metrics": result["metrics"], "music": result["music"]}


def summary_line(records: dict[str, dict]) -> str:
    parts = []
    for name, r in records.items():
        m = r["metrics"]
        nll = f"NLL {m['frame_nll_nats']:.2f}" if "frame_nll_nats" in m else "NLL n/a"
        acc = m.get("harmonization_note_accuracy")
        parts.append(f"{name}: {nll}" + (f", harmony acc {acc:.2f}" if acc is not None else ""))
    return "JSB chorales, equal CPU budgets: " + "; ".join(parts)


def harmonize_example(name: str, run: Path, out: Path) -> None:
    """The first test melody (8 bars) harmonized by this configuration's model, as MIDI beside its record:
    --examples draws the README's piano roll and WAV from it, so the run folder need not outlive the session."""
    import noisecraft
    from noisecraft.compose import harmonize
    from noisecraft.data.music_data import load_jsb
    from noisecraft.data.music_files import write_music

    melody = load_jsb("test", "16th")[0].crop(0, 8 * 16)
    write_music(harmonize(noisecraft.load(run), melody, 1, seed=0)[0], out / f"{name}-harmonization.mid")


def examples(records: dict[str, dict], out: Path, quick: bool) -> None:
    """The harmonization of the first test melody by the roll model with the best note accuracy."""
    from noisecraft.data.music_files import read_music
    from noisecraft.data.music_output import save_roll_png, write_wav

    best = max((r for r in records.values() if r["metrics"].get("harmonization_note_accuracy") is not None),
               key=lambda r: r["metrics"]["harmonization_note_accuracy"])
    piece = read_music(out / f"{best['name']}-harmonization.mid")
    docs = out if quick else HERE.parent / "docs"  # a toy run's examples stay beside its results
    save_roll_png(piece, docs / "images" / "music-harmonization.png", title=f"{best['name']}: JSB test melody 1, harmonized")
    write_wav(piece, docs / "music-harmonization.wav", sample_rate=16000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=3600, help="training seconds per configuration")
    parser.add_argument("--only", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--num", type=int, default=16, help="test melodies harmonized and pieces composed")
    parser.add_argument("--nll-num", type=int, default=None, help="test chorales for the frame NLL (default all 77)")
    parser.add_argument("--quick", action="store_true", help="toy sizes (20 s budgets), for a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="result files (default results/music)")
    parser.add_argument("--work", type=Path, default=None, help="run folders (default _work/music)")
    parser.add_argument("--examples", action="store_true", help="write the README's piano roll and WAV")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.num, args.nll_num = min(args.budget, 20), min(args.num, 2), args.nll_num or 2
    out = args.out or (HERE / "_work" / "music-quick" / "results" if args.quick else RESULTS / "music")
    work = args.work or HERE / "_work" / ("music-quick" if args.quick else "music")
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in CONFIGS:
            sys.exit(f"--only {name}: choose from {', '.join(CONFIGS)}")
        path = out / f"{name}.json"
        if path.exists():
            continue
        train(name, work / name, args.budget, args.quick)
        record = measure(name, work / name, args.num, args.nll_num)
        if record["metrics"].get("harmonization_note_accuracy") is not None:
            harmonize_example(name, work / name, out)
        save(path, {**record, "budget_seconds": args.budget, "quick": args.quick}, args.quick)
        print(f"{name}: {json.dumps(record['metrics'])}")
    records = {n: json.loads((out / f"{n}.json").read_text()) for n in CONFIGS if (out / f"{n}.json").exists()}
    missing = [n for n in CONFIGS if n not in records]
    summary = summary_line(records)
    if args.quick or args.out is not None:
        save(out / "summary.json", {"summary": summary, "configs": list(records)}, args.quick)
        print(summary)
    elif missing:  # a session's share of the record (--only): music.json waits for every configuration
        print(f"{summary}\nnot yet measured: {', '.join(missing)}; results/music.json is written once all are")
    else:
        write_result("music", {"configs": {k: r["metrics"] for k, r in records.items()}, "budget_seconds": args.budget},
                     summary)
    if args.examples:
        examples(records, out, args.quick)


if __name__ == "__main__":
    main()
