"""MOSES on 2 CPU cores: our CharRNN, transformer and SMILES VAE after the same training budget, beside
MOSES's own CharRNN (the `molsets` code, trained here for that budget) and the published MOSES table;
10k samples each, scored by `noisecraft.evaluate.molecules` (the numbers of molsets' get_all_metrics, with
MOSES's shipped test statistics). Plus the goal-directed demo: a QED-conditioned transformer asked for
QED 0.9 against its own unconditioned samples and the test set.

    python benchmarks/moses.py run [--budget 3600] [--num 10000] [--only charrnn,...]   # resumable
    python benchmarks/moses.py report                                                  # table + figure
    python benchmarks/moses.py run --quick --out /tmp/moses-quick                       # toy size, minutes

Resumable: each configuration trains in WORK/<name> (our runs resume from their checkpoint; MOSES's
CharRNN from its saved state), and writes OUT/<name>.json when scored; a finished one is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import common  # first: it records the environment the benchmark starts in
import torch

# this file is named moses.py, like molsets' package: keep its folder off the path so `moses` is molsets
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != common.HERE]

OUT = common.RESULTS / "moses"
WORK = common.HERE / "_work" / "moses"
OURS = {"charrnn": "moses-charrnn", "transformer": "moses-transformer", "vae": "moses-vae"}
CONFIGS = (*OURS, "molsets-charrnn", "goal-qed", "metrics-speed")
# README of molecularsets/moses (metrics table, 30k samples, 3 runs' mean): the rows we compare with
PUBLISHED = {
    "CharRNN": {"valid": 0.975, "unique@1000": 1.0, "unique@10000": 0.999, "FCD/Test": 0.073, "FCD/TestSF": 0.520,
                "SNN/Test": 0.601, "SNN/TestSF": 0.565, "Frag/Test": 1.000, "Scaf/Test": 0.924, "Scaf/TestSF": 0.110,
                "IntDiv": 0.856, "Filters": 0.994, "Novelty": 0.842},
    "VAE": {"valid": 0.977, "unique@1000": 1.0, "unique@10000": 0.998, "FCD/Test": 0.099, "FCD/TestSF": 0.567,
            "SNN/Test": 0.626, "SNN/TestSF": 0.578, "Frag/Test": 0.999, "Scaf/Test": 0.939, "Scaf/TestSF": 0.059,
            "IntDiv": 0.856, "Filters": 0.997, "Novelty": 0.695},
}
TABLE_KEYS = ("valid", "unique@10000", "Novelty", "FCD/Test", "FCD/TestSF", "SNN/Test", "Frag/Test", "Scaf/Test",
              "Scaf/TestSF", "IntDiv", "Filters")
QUICK = {"budget": 20.0, "num": 300, "limit": 5000,
         "sets": ["model.layers=1", "model.hidden=128", "model.dim=64", "model.heads=4",
                  "model.decoder_hidden=128", "model.decoder_layers=1", "model.encoder_hidden=64"]}


def overrides(name: str, args) -> list[str]:
    sets = [f"train.max_seconds={args.budget}", "train.checkpoint_every=200", "train.sample_every=100000"]
    if args.quick:
        keys = {"charrnn": ("layers", "hidden"), "transformer": ("layers", "dim", "heads"),
                "goal-qed": ("layers", "dim", "heads"), "vae": ("decoder_hidden", "decoder_layers", "encoder_hidden")}[name]
        sets += [s for s in QUICK["sets"] if s.split("=")[0].split(".")[1] in keys] + [f"data.limit={args.limit}"]
    return sets


def train_ours(name: str, recipe: str, args) -> Path:
    import noisecraft

    run = args.work / name
    if common.trained_for(run, args.budget):
        return run  # its budget is spent
    return noisecraft.fit(recipe, out=run, overrides=overrides(name, args), resume=common.resumable(run), progress=False)


def score(name: str, smiles: list[str], args, extra: dict) -> dict:
    from noisecraft.config import DataConfig
    from noisecraft.evaluate.molecules import draw_molecules, score_molecules

    t = time.perf_counter()
    metrics, features = score_molecules(smiles, DataConfig(dataset="moses"), n_jobs=2)
    if features:
        draw_molecules([f["smiles"] for f in features[:12]], args.out / f"{name}-molecules.png")
    result = {"metrics": metrics, "num_samples": len(smiles), "metrics_seconds": time.perf_counter() - t, **extra}
    common.save(args.out / f"{name}.json", result, args.quick)
    (args.out / f"{name}.smi").write_text("\n".join(smiles) + "\n")
    return result


def run_ours(name: str, args) -> None:
    import noisecraft
    from noisecraft.molecule_sampling import generate_molecules

    run = train_ours(name, OURS[name], args)
    model = noisecraft.load(run)
    t = time.perf_counter()
    smiles = generate_molecules(model, args.num, seed=0)
    state = common.trainer_state(run)
    score(name, smiles, args, {"recipe": OURS[name], "overrides": overrides(name, args), "parameters": model.num_parameters(),
                               "train": state, "sampling_seconds": time.perf_counter() - t})


def run_molsets_charrnn(args) -> None:
    """MOSES's CharRNN (model, vocabulary, collate, loss and optimizer of molsets' trainer), trained for the
    same wall-clock budget on the same molecules (molsets has epochs, not budgets: this is its loop body)."""
    from noisecraft.data.molecules import moses_smiles
    from noisecraft.evaluate.molsets_compat import import_molsets

    import_molsets()
    from moses.char_rnn.config import get_parser
    from moses.char_rnn.model import CharRNN
    from moses.char_rnn.trainer import CharRNNTrainer

    config = get_parser().parse_args([])  # MOSES's defaults: 3 x 768 LSTM, dropout 0.2, batch 64, Adam 1e-3
    if args.quick:
        config.num_layers, config.hidden = 1, 128
    train = list(moses_smiles("train"))
    train = train[: args.limit] if args.quick else train[: len(train) - int(len(train) * 0.01)]  # as our recipes
    trainer = CharRNNTrainer(config)
    torch.manual_seed(0)
    model = CharRNN(trainer.get_vocabulary(train), config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    folder = args.work / "molsets-charrnn"
    folder.mkdir(parents=True, exist_ok=True)
    state_path, spent, steps = folder / "state.pt", 0.0, 0
    if state_path.is_file():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        spent, steps = float(state["seconds"]), int(state["steps"])
    criterion = torch.nn.CrossEntropyLoss()
    loader = trainer.get_dataloader(model, train, shuffle=True)
    model.train()
    last_save = time.perf_counter()
    while spent < args.budget:
        for prevs, nexts, lens in loader:
            t = time.perf_counter()
            outputs, _, _ = model(prevs, lens)
            loss = criterion(outputs.view(-1, outputs.shape[-1]), nexts.view(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            spent += time.perf_counter() - t
            steps += 1
            if time.perf_counter() - last_save > 300 or spent >= args.budget:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "seconds": spent,
                            "steps": steps}, state_path)
                last_save = time.perf_counter()
            if spent >= args.budget:
                break
    model.eval()
    t = time.perf_counter()
    torch.manual_seed(0)
    smiles = []
    while len(smiles) < args.num:
        smiles += model.sample(min(500, args.num - len(smiles)), max_length=100)
    score("molsets-charrnn", smiles, args, {"config": vars(config), "train": {"seconds": spent, "steps": steps},
                                            "parameters": sum(p.numel() for p in model.parameters()),
                                            "sampling_seconds": time.perf_counter() - t})


def run_goal(args) -> None:
    """The QED-conditioned transformer asked for QED 0.9, against its unconditioned samples and the test set:
    the share of valid samples with QED >= 0.85 (the 0.9 bin), and validity."""
    import noisecraft
    from noisecraft.data.molecule_properties import molecule_properties
    from noisecraft.evaluate.moses_metrics import moses_statistics
    from noisecraft.molecule_sampling import generate_molecules

    run = train_ours("goal-qed", "moses-transformer-qed", args)
    model = noisecraft.load(run)
    rows = {}
    for label, condition in (("conditioned qed=0.9", "qed=0.9"), ("unconditioned", None)):
        smiles = generate_molecules(model, args.num, seed=0, condition=condition)
        values = [molecule_properties(s, ("qed",)) for s in smiles]
        qeds = [v["qed"] for v in values if v]
        rows[label] = {"valid": len(qeds) / len(smiles), "share_qed_at_least_0.85": sum(q >= 0.85 for q in qeds) / max(1, len(qeds)),
                       "mean_qed": sum(qeds) / max(1, len(qeds))}
    test = moses_statistics("test")["QED"]["values"]
    rows["MOSES test set"] = {"valid": 1.0, "share_qed_at_least_0.85": sum(q >= 0.85 for q in test) / len(test),
                              "mean_qed": sum(test) / len(test)}
    common.save(args.out / "goal-qed.json", {"rows": rows, "num_samples": args.num, "overrides": overrides("goal-qed", args)},
                args.quick)


def run_metrics_speed(args) -> None:
    """molsets' get_all_metrics (one process, as its README runs it) against ours (n_jobs=2) on the same
    --num SMILES (MOSES's CharRNN samples when scored above, else a slice of MOSES train): time and the
    largest difference between the two sets of numbers."""
    from noisecraft.config import DataConfig
    from noisecraft.data.molecules import moses_smiles
    from noisecraft.evaluate.molecules import score_molecules
    from noisecraft.evaluate.molsets_compat import import_molsets

    samples = args.out / "molsets-charrnn.smi"
    use_samples = samples.is_file() and not args.quick  # toy-size samples are mostly invalid
    smiles = samples.read_text().splitlines()[: args.num] if use_samples else list(moses_smiles("train")[-args.num:])
    import_molsets()
    from moses.metrics import get_all_metrics

    t = time.perf_counter()
    theirs = get_all_metrics(smiles, n_jobs=1)
    molsets_seconds = time.perf_counter() - t
    t = time.perf_counter()
    ours, _ = score_molecules(smiles, DataConfig(dataset="moses"), n_jobs=2)
    ours_seconds = time.perf_counter() - t
    diff = max(abs(float(theirs[k]) - ours[k]) for k in theirs)
    common.save(args.out / "metrics-speed.json", {"num": len(smiles), "molsets_seconds": molsets_seconds,
                                                  "ours_seconds": ours_seconds, "speedup": molsets_seconds / ours_seconds,
                                                  "max_abs_difference": diff,
                                                  "molsets": {k: float(v) for k, v in theirs.items()}, "ours": ours},
                args.quick)


def report(args) -> None:
    lines = ["| model | " + " | ".join(TABLE_KEYS) + " |", "|---" * (len(TABLE_KEYS) + 1) + "|"]
    for name in (*OURS, "molsets-charrnn"):
        path = args.out / f"{name}.json"
        if path.is_file():
            m = json.loads(path.read_text())["metrics"]
            lines.append(f"| {name} (here, {args.budget / 60:.3g} min) | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for k in TABLE_KEYS) + " |")
    for name, m in PUBLISHED.items():
        lines.append(f"| {name} (published, GPU) | " + " | ".join(f"{m[k]:.3f}" if k in m else "-" for k in TABLE_KEYS) + " |")
    goal = args.out / "goal-qed.json"
    if goal.is_file():
        lines += ["", "| goal: QED >= 0.85 | valid | share in target | mean QED |", "|---|---|---|---|"]
        for label, row in json.loads(goal.read_text())["rows"].items():
            lines.append(f"| {label} | {row['valid']:.3f} | {row['share_qed_at_least_0.85']:.3f} | {row['mean_qed']:.3f} |")
    speed = args.out / "metrics-speed.json"
    if speed.is_file():
        r = json.loads(speed.read_text())
        lines += ["", f"MOSES metrics on {r['num']} SMILES: molsets {r['molsets_seconds']:.0f} s (one process), ours "
                      f"{r['ours_seconds']:.0f} s (2 processes), {r['speedup']:.2f}x; largest difference {r['max_abs_difference']:.1e}"]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    figure(args)


def figure(args) -> None:
    """One row of drawn molecules per model (the first valid samples), for the README."""
    from PIL import Image

    rows = [Image.open(p) for name in (*OURS, "molsets-charrnn") if (p := args.out / f"{name}-molecules.png").is_file()]
    if rows:
        width = max(r.width for r in rows)
        canvas = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
        y = 0
        for r in rows:
            canvas.paste(r, (0, y))
            y += r.height
        canvas.save(args.out / "moses-molecules.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--budget", type=float, default=3600.0, help="training seconds per model")
    parser.add_argument("--num", type=int, default=10000, help="samples scored per model")
    parser.add_argument("--only", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    parser.add_argument("--out", type=Path, default=None, help="result folder (default benchmarks/results/moses)")
    parser.add_argument("--quick", action="store_true", help="toy size: tiny models, 20 s each, 300 samples, 5k molecules")
    args = parser.parse_args()
    args.limit = QUICK["limit"]
    if args.quick:
        args.budget, args.num = min(args.budget, QUICK["budget"]), QUICK["num"]
    args.out = args.out or OUT
    args.work = (args.out / "_work") if args.quick else WORK
    args.out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    if args.command == "report":
        return report(args)
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in CONFIGS:
            sys.exit(f"error: --only {name!r}: choose from {', '.join(CONFIGS)}")
        if (args.out / f"{name}.json").is_file():
            print(f"{name}: done ({args.out / (name + '.json')})")
            continue
        t = time.perf_counter()
        {"molsets-charrnn": run_molsets_charrnn, "goal-qed": run_goal, "metrics-speed": run_metrics_speed}.get(name, lambda a: run_ours(name, a))(args)
        print(f"{name}: {time.perf_counter() - t:.0f} s", flush=True)
    report(args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
