"""Record a finished `noisecraft bench` suite as a benchmark result: its leaderboard (md, json) and sample strip
go to results/<suite>/, and results/<suite>.json gets the environment, every entry's numbers and a one-line
summary for the table in benchmarks/README.md.

  OMP_NUM_THREADS=2 noisecraft bench mnist-families --out bench      # from the repository root (resumable)
  cd benchmarks && ../.venv/bin/python record_suite.py ../bench/mnist-families \
      --command "noisecraft bench mnist-families --out bench" --commit <commit the suite ran at>
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import common


def summary(board: dict) -> str:
    def entry(r: dict) -> str:
        nll = (f", NLL {r['nll_nats_per_image']:.1f} nats/image ({r.get('likelihood_data')})"
               if r.get("nll_nats_per_image") is not None else "")
        return (f"{r['entry']} FID {r['fid']:.1f} (classifier FID {r['classifier_fid']:.1f}{nll}; "
                f"{r['train_images_per_s']:.0f} train img/s)")

    budget = board["budget"]
    limit = f"{budget['seconds']:g} s" if "seconds" in budget else f"{budget['steps']} steps"
    return (f"{board['suite']} ({limit} training per entry, {board['protocol']} "
            f"{board['protocol_detail']['num']} samples), by FID: " + "; ".join(entry(r) for r in board["entries"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="bench/<suite> after `noisecraft bench` finished")
    parser.add_argument("--command", required=True, help="the bench command that made it")
    parser.add_argument("--commit", required=True, help="the commit the suite ran at")
    args = parser.parse_args()

    board = json.loads((args.folder / "leaderboard.json").read_text())
    out = common.RESULTS / board["suite"]
    out.mkdir(parents=True, exist_ok=True)
    for name in ("leaderboard.md", "leaderboard.json", "samples.png"):
        shutil.copyfile(args.folder / name, out / name)
    common.write_result(board["suite"], {
        **board, "command": args.command, "commit": args.commit, "recorded_by": common.START["command"],
        "leaderboard": f"results/{board['suite']}/leaderboard.md"}, summary(board))


if __name__ == "__main__":
    main()
