"""Run a `noisecraft bench` suite (e.g. mnist-families) and record it: its leaderboard table and sample strip go
to results/<suite>/, and results/<suite>.json gets the environment, every entry's numbers and a one-line summary
for the table in benchmarks/README.md.

    python benchmarks/record_suite.py mnist-families --out bench     # from a clean tree; resumable (~35 min of CPU)
    python benchmarks/record_suite.py --quick                        # smoke run: two 4-step toy entries, no record

The suite runs here, not before, so the record's commit is the code that trained and scored every entry.
Resuming is allowed at the same commit only: the bench folder remembers the commit that started it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import yaml

import common
from noisecraft.bench import run_suite

QUICK_SUITE = {"name": "quick-suite", "budget": {"steps": 4}, "protocol": "sweep", "num": 40,
               "metrics": "cfid,classes,nll",
               "entries": [{"name": n, "recipe": "mnist-vae-tiny", "set": ["data.limit=64", f"model.latent_dim={d}"]}
                           for n, d in (("small", 2), ("wide", 8))]}


def summary(board: dict) -> str:
    def entry(r: dict) -> str:
        nll = (f", NLL {r['nll_nats_per_image']:.1f} nats/image ({r.get('likelihood_data')})"
               if r.get("nll_nats_per_image") is not None else "")
        fid = f"FID {r['fid']:.1f} (classifier FID " if r.get("fid") is not None else "(classifier FID "
        return f"{r['entry']} {fid}{r['classifier_fid']:.1f}{nll}; {r['train_images_per_s']:.0f} train img/s)"

    budget = board["budget"]
    limit = f"{budget['seconds']:g} s" if "seconds" in budget else f"{budget['steps']} steps"
    return (f"{board['suite']} ({limit} training per entry, {board['protocol']} "
            f"{board['protocol_detail']['num']} samples), by FID: " + "; ".join(entry(r) for r in board["entries"]))


def same_commit(folder: Path) -> None:
    """A suite resumed at another commit would mix code versions under one record's commit: refuse."""
    if common.START["commit"].endswith("+dirty") and not (common.DRAFT or common.QUICK):
        raise SystemExit("the tree has uncommitted changes: the record would be refused after the whole suite ran; "
                         "commit first, or pass --draft")
    marker = folder / "started_at_commit"
    if marker.is_file() and marker.read_text().strip() != common.START["commit"]:
        raise SystemExit(f"{folder} was started at commit {marker.read_text().strip()}, this is "
                         f"{common.START['commit']}: a record names one commit, so run it into a fresh --out")
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(common.START["commit"] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="mnist-families", help="a built-in suite or SUITE.yaml")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="where `noisecraft bench` works (resumable)")
    parser.add_argument("--quick", action="store_true", help="smoke run: two 4-step toy entries, no record")
    args = parser.parse_args()
    suite = args.suite
    if args.quick:
        args.out = common.RESULTS / "bench"
        suite = common.RESULTS / "quick-suite.yaml"
        suite.parent.mkdir(parents=True, exist_ok=True)
        suite.write_text(yaml.safe_dump(QUICK_SUITE))
    name = yaml.safe_load(Path(suite).read_text())["name"] if Path(suite).is_file() else suite
    same_commit(args.out / name)
    folder = run_suite(suite, args.out, progress=not args.quick)

    board = json.loads((folder / "leaderboard.json").read_text())
    out = common.RESULTS / board["suite"]
    out.mkdir(parents=True, exist_ok=True)
    for file in ("leaderboard.md", "samples.png"):
        shutil.copyfile(folder / file, out / file)
    common.write_result(board["suite"], {**board, "leaderboard": f"results/{board['suite']}/leaderboard.md"},
                        summary(board))


if __name__ == "__main__":
    main()
