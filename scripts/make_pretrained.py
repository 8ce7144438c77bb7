"""Train the pretrained models that ship in the package, with the project's own recipes, and write each
into src/noisecraft/pretrained/NAME/: config.yaml + model/ (a run folder's), and card.json, the model card
(recipe, exact budget, training time, metrics, data licence) with the sha256 of every file.

    python scripts/make_pretrained.py                 # every model, in order (CPU: see the budgets below)
    python scripts/make_pretrained.py digits vae      # some of them
    python scripts/make_pretrained.py --list
    python scripts/make_pretrained.py digits --from-run /tmp/first/seed-0   # package a run of the same recipe

Budgets are step counts (wall-clock budgets are not reproducible on a shared machine); each entry says
what the recipe's own budget is when it differs: shortened budgets are stated on the card, never hidden.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import noisecraft  # noqa: E402
from noisecraft.models.registry import load_recipe  # noqa: E402
from noisecraft.data import DATASETS  # noqa: E402
from noisecraft.utils.pretrained import PRETRAINED_DIR, sha256  # noqa: E402

# name -> recipe, overrides, description; in the order the issue asks for (cheapest and most useful first)
ENTRIES: dict[str, dict] = {
    "digits": {
        "recipe": "mnist-first", "overrides": [],
        "description": "The README's first command: class-conditional beta-VAE (latent 8, beta 3), the ten digits in turn.",
    },
    "vae": {
        "recipe": "mnist-vae", "overrides": [],
        "description": "Convolutional VAE on MNIST (unconditional, Bernoulli pixels, IWAE likelihood).",
    },
    "gan": {
        "recipe": "mnist-gan-cond", "overrides": ["train.max_steps=1500", "train.max_seconds=null",
                                                   "train.ema_decay=0.99", "train.ema_start=200"],
        "description": "Class-conditional DCGAN-layout GAN on MNIST (hinge, spectral norm), shortened budget.",
    },
    "shakespeare-char": {
        "recipe": "shakespeare-char", "overrides": ["train.max_steps=1000", "train.max_seconds=null"],
        "description": "Character-level GPT on Tiny Shakespeare, shortened budget.",
    },
    "diffusion-cond": {
        "recipe": "mnist-diffusion-cond", "overrides": ["train.max_steps=600", "train.max_seconds=null"],
        "description": "Class-conditional EDM diffusion UNet on MNIST with guidance, shortened budget.",
    },
}


def make(name: str, entry: dict, threads: int, from_run: Path | None = None, note: str = "") -> dict:
    resolved = load_recipe(entry["recipe"], entry["overrides"])
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = from_run or Path(tmp) / name
        started = time.perf_counter()
        if from_run is None:
            fit = getattr(noisecraft, "fit", None) or noisecraft.train
            fit(entry["recipe"], run_dir, overrides=entry["overrides"], progress=False)
        else:
            check_same_recipe(from_run, resolved)
        wall = time.perf_counter() - started
        state = json.loads((run_dir / "checkpoints" / "last" / "trainer_state.json").read_text())
        metrics, summary = measure(run_dir, resolved)
        target = PRETRAINED_DIR / name
        shutil.rmtree(target, ignore_errors=True)
        (target / "model").mkdir(parents=True)
        shutil.copyfile(run_dir / "config.yaml", target / "config.yaml")
        for file in ("config.json", "model.safetensors"):
            shutil.copyfile(run_dir / "model" / file, target / "model" / file)  # not the run's 0600 mode
    data = resolved.recipe.data.dataset
    info = DATASETS[data]
    steps, seconds = state["step"], state["train_seconds"]
    command = " ".join(["noisecraft train", entry["recipe"], *(f"--set {o}" for o in entry["overrides"])])
    card = {
        "name": name,
        "description": entry["description"],
        "family": resolved.model.family,
        "recipe": entry["recipe"],
        "overrides": entry["overrides"],
        "command": command,
        "data": f"{data}: {info.description}",
        "data_licence": info.citation,
        "training": {
            "budget": f"{steps} steps, {state['examples_seen']:,} examples, {seconds / 60:.1f} min on {threads} CPU thread(s)",
            "steps": steps, "examples": state["examples_seen"], "train_seconds": round(seconds, 1),
            "wall_seconds": round(wall, 1) if from_run is None else None, "threads": threads, "cpu": platform.processor() or platform.machine(),
            "load_average": list(__import__("os").getloadavg()), **({"note": note} if note else {}),
        },
        "metrics": metrics,
        "summary": summary,
        "noisecraft_version": noisecraft.__version__,
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {str(p.relative_to(target)): sha256(p) for p in sorted(target.rglob("*")) if p.is_file()},
    }
    (target / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def check_same_recipe(run_dir: Path, resolved) -> None:
    """A run packaged instead of trained must be the entry's recipe; only its budget may differ (the card
    records the steps and seconds it really trained)."""
    import yaml

    from noisecraft.train.loop import BUDGET_KEYS, diff_keys

    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    def present(key: str) -> bool:  # a key newer than the run (added with its default since) is no difference
        node = saved
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    differences = [k for k in diff_keys(saved, resolved.to_dict()) if k not in BUDGET_KEYS and present(k)]
    if differences:
        raise SystemExit(f"{run_dir}: not the entry's recipe (differs at {', '.join(differences)})")


def measure(run_dir: Path, resolved) -> tuple[dict, str]:
    """Images: the 64-sample figure and classifier metrics on 1,000 samples; text: validation loss and bpc."""
    from noisecraft.evaluate.evaluator import evaluate_run
    from noisecraft.evaluate.readability import run_readability

    if resolved.recipe.data.modality == "tokens":
        found = evaluate_run(run_dir, metrics="loss,bpc", progress=False, write=False)["metrics"]
        return found, f"test split: {found['bits_per_character']:.3f} bits/char"
    figure, _ = run_readability(run_dir)
    found = evaluate_run(run_dir, metrics="cfid,classes", protocol="sweep", num=1000, progress=False, write=False)["metrics"]
    found = {"first_grid": figure.to_dict(), **found}
    return found, f"{figure.summary()}; classifier FID {found['classifier_fid']:.1f} (1,000 samples)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"which models (default: all): {', '.join(ENTRIES)}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--note", default="", help="a line for the card's training section (e.g. the machine's load)")
    parser.add_argument("--from-run", type=Path, help="package this finished run of the (single) named entry's recipe "
                        "instead of training it, e.g. seed 0 of benchmarks/first_command.py --keep DIR")
    args = parser.parse_args()
    if args.list:
        for name, entry in ENTRIES.items():
            print(name, entry["recipe"], *entry["overrides"])
        return
    torch.set_num_threads(args.threads)
    names = args.names or list(ENTRIES)
    if args.from_run and len(names) != 1:
        parser.error("--from-run: name the one model it is")
    for name in names:
        if name not in ENTRIES:
            parser.error(f"unknown model {name!r} (choose from: {', '.join(ENTRIES)})")
        card = make(name, ENTRIES[name], args.threads, args.from_run, args.note)
        print(f"{name}: {card['training']['budget']}; {card['summary']}", flush=True)
    total = sum(p.stat().st_size for p in PRETRAINED_DIR.rglob("*") if p.is_file())
    print(f"pretrained models: {total / 2**20:.1f} MB in {PRETRAINED_DIR}")


if __name__ == "__main__":
    main()
