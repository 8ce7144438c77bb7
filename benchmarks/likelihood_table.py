"""Exact and bounded likelihoods on MNIST beside published figures, with the CPU time each took here.

    python benchmarks/likelihood_table.py                 # every entry; one result file each (resumable)
    python benchmarks/likelihood_table.py --only vae      # one entry
    python benchmarks/likelihood_table.py --set-budget pixelcnn=3600   # a longer training budget (seconds)
    python benchmarks/likelihood_table.py --quick         # the -tiny recipes, seconds of training, 20 digits

Each entry trains its recipe (its own time budget, `train.max_seconds`; an interrupted run resumes), then
scores the whole 10k test split with `noisecraft evaluate --metrics nll`: dynamically binarized digits
(seed 0) in nats for the PixelCNN (exact) and the VAE (IWAE bound, k = 1000), 8-bit digits in bits/dim for
the flow (exact, dequantized). The published figures come from the papers named beside them; they used
far more compute (GPU days), which the CPU hours column puts in proportion. Fields as in benchmarks/README.md's
schema: `nll_nats_per_image` (of the images `likelihood_data` names), `bits_per_dim`, `importance_samples`.
No choice is made on the test split here: each recipe trains as shipped (its own seed) and is scored once.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import common  # first: it records the environment the benchmark starts in

OUT = common.RESULTS / "likelihood_table"
WORK = common.HERE / "_work" / "likelihood"

# name -> (recipe, IWAE k for bounds, what the number is)
ENTRIES = {
    "pixelcnn": ("mnist-pixelcnn", 1, "exact NLL, dynamically binarized MNIST (nats)"),
    "vae": ("mnist-vae", 1000, "IWAE bound k=1000, dynamically binarized MNIST (nats)"),
    "flow": ("mnist-flow", 1, "exact NLL, dequantized 8-bit MNIST (bits/dim)"),
}

PUBLISHED = {
    "binarized_mnist_nats": [
        {"model": "VAE (1 stochastic layer)", "nll": 86.76, "source": "Burda, Grosse & Salakhutdinov 2016, Importance Weighted Autoencoders (ICLR), Table 1"},
        {"model": "IWAE (2 stochastic layers, k=50)", "nll": 82.90, "source": "Burda, Grosse & Salakhutdinov 2016, Table 1"},
        {"model": "PixelCNN", "nll": 81.30, "source": "van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (ICML), Table 4"},
        {"model": "NVAE", "nll": 78.01, "source": "Vahdat & Kautz 2020, NVAE: A Deep Hierarchical Variational Autoencoder (NeurIPS), Table 2"},
    ],
    "mnist_bits_per_dim": [
        {"model": "Real NVP", "bits_per_dim": 1.06, "source": "as reported by Grathwohl et al. 2019, FFJORD (ICLR), Table 2"},
        {"model": "Glow", "bits_per_dim": 1.05, "source": "as reported by Grathwohl et al. 2019, FFJORD (ICLR), Table 2"},
        {"model": "FFJORD", "bits_per_dim": 0.99, "source": "Grathwohl et al. 2019, FFJORD (ICLR), Table 2"},
    ],
}
TARGETS = {"pixelcnn": ("nll_nats_per_image", 82.0), "flow": ("bits_per_dim", 1.2), "vae": ("nll_nats_per_image", 86.0)}


def run_entry(name: str, budget: float | None, quick: bool = False) -> Path:
    import torch

    import noisecraft
    from noisecraft.evaluate.evaluator import evaluate_run

    recipe, k, what = ENTRIES[name]
    if quick:
        recipe, k = f"{recipe}-tiny", min(k, 4)
    path = OUT / f"{name}.json"
    if path.exists():
        return path
    run_dir = WORK / name
    clock = run_dir / "train_seconds.json"  # wall time of every training call, summed over sessions
    overrides = [f"train.max_seconds={budget:g}"] if budget else []
    if not (run_dir / "model" / "config.json").exists() or not (clock.exists() and json.loads(clock.read_text())["done"]):
        spent = json.loads(clock.read_text())["seconds"] if clock.exists() else 0.0
        t = time.perf_counter()
        noisecraft.fit(recipe, out=run_dir, overrides=overrides, resume=common.resumable(run_dir))
        spent += time.perf_counter() - t
        clock.write_text(json.dumps({"seconds": spent, "done": True}))
    train_seconds = json.loads(clock.read_text())["seconds"]
    t = time.perf_counter()
    evaluation = evaluate_run(run_dir, metrics="nll", nll_samples=k, nll_num=20 if quick else None, progress=True,
                              write=True)
    eval_seconds = time.perf_counter() - t
    likelihood = evaluation["likelihood"]
    key, target = TARGETS[name]
    record = {"entry": name, "recipe": recipe, "measures": what, "overrides": overrides,
              "nll_nats_per_image": likelihood["nll_nats_per_image"], "bits_per_dim": likelihood["bits_per_dim"],
              "likelihood_data": likelihood["data"],
              "examples": likelihood["examples"], "importance_samples": likelihood["importance_samples"],
              "parameters": evaluation["model"]["parameters"], "train_seconds": train_seconds, "eval_seconds": eval_seconds,
              "cpu_hours": (train_seconds + eval_seconds) * torch.get_num_threads() / 3600,
              "target": {key: target, "met": likelihood[key] <= target}}
    common.write_record(path, record)
    print(f"{name}: {likelihood['nll_nats_per_image']:.2f} nats, {likelihood['bits_per_dim']:.3f} bits/dim "
          f"({train_seconds / 60:.0f} min training, {eval_seconds / 60:.1f} min scoring)", flush=True)
    return path


def report() -> None:
    rows = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    if not rows:
        return
    parts = []
    for name, r in rows.items():
        value = (f"{r['bits_per_dim']:.3f} bits/dim" if r["likelihood_data"] == "dequantized"
                 else f"{r['nll_nats_per_image']:.2f} nats")
        parts.append(f"{name} {value} ({r['cpu_hours']:.2f} CPU h, target {'met' if r['target']['met'] else 'missed'})")
    summary = "MNIST test likelihoods: " + "; ".join(parts) + " (published: PixelCNN 81.30, IWAE 82.90, NVAE 78.01 nats; Glow 1.05 bits/dim)"
    common.write_result("likelihood_table", {"ours": rows, "published": PUBLISHED, "targets": TARGETS}, summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(ENTRIES), default=list(ENTRIES))
    parser.add_argument("--set-budget", nargs="*", default=[], metavar="NAME=SECONDS",
                        help="training budget per entry (default: the recipe's)")
    parser.add_argument("--quick", action="store_true", help="the -tiny recipes for 3 s each, 20 test digits: no record")
    args = parser.parse_args()
    budgets = {k: float(v) for k, v in (item.split("=") for item in args.set_budget)}
    if args.quick:
        global OUT, WORK
        tmp = Path(tempfile.mkdtemp(prefix="likelihood_table-quick-"))
        OUT, WORK, budgets = tmp / "results", tmp / "work", {name: 3.0 for name in ENTRIES}
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in args.only:
        run_entry(name, budgets.get(name), args.quick)
    report()


if __name__ == "__main__":
    main()
