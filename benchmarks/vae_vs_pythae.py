"""Our VAE against pythae's (PyPI `pythae` 0.1.2), on the same MNIST, same machine. Runs in .venv-pythae
(`bash benchmarks/setup_pythae_venv.sh`), which has noisecraft and pythae side by side:

    cd benchmarks && ../.venv-pythae/bin/python vae_vs_pythae.py speed      # train images/s, same networks
    cd benchmarks && ../.venv-pythae/bin/python vae_vs_pythae.py quality    # same wall-clock budget, then scores
    cd benchmarks && ../.venv-pythae/bin/python vae_vs_pythae.py report

speed: pythae's MNIST benchmark networks (`Encoder_Conv_VAE_MNIST` / `Decoder_Conv_AE_MNIST`, 16-d latent)
trained by pythae's `BaseTrainer.train_step` and by our training loop (`noisecraft.fit`, the family
`pythae_nets:PythaeNetsVAE`: the same modules), batch 64, Adam lr 1e-4 (pythae's defaults), no EMA, the same
images; rounds interleaved, both at the same thread count. Each side's time covers its whole loop (data
loading included) after one warm-up round.

quality: each with its own recipe for the same budget (default 30 minutes), both at once with one thread each
(a race: the machine's noise hits both): pythae's VAE with its MNIST networks and the training
configuration of its README (AdamW lr 1e-3, batch 200, BCE) vs our `mnist-vae` recipe (its cosine schedule spread
over the budget). Then, on the MNIST test digits dynamically binarized with seed 0 (the same bits for
both): the ELBO on all 10,000 and the IWAE bound at k importance samples on the first --iwae-num digits
(pythae's networks cost ~1 GFLOP per decoder pass, so k=1000 on 10k digits would take days here), both
computed by the same code (pythae's trained weights load into the family above unchanged). Resumable:
pythae saves its state every minute, ours is a noisecraft run; scores are one file each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (environment at start)
import torch

OUT = common.RESULTS / "vae_vs_pythae"
WORK = common.HERE / "_work" / "vae_vs_pythae"
FAMILY = "pythae_nets:PythaeNetsVAE"
BATCH, LR, LATENT = 64, 1e-4, 16  # speed: pythae's BaseTrainerConfig defaults, for both loops
# quality: the training configuration of pythae's README ("Launching a model training"); its data loader
# workers (2) dropped: the images are one in-memory tensor and the machine has 2 cores for the race
PYTHAE_README = {"learning_rate": 1e-3, "per_device_train_batch_size": 200, "optimizer_cls": "AdamW",
                 "optimizer_params": {"weight_decay": 0.05, "betas": (0.91, 0.995)},
                 "scheduler_cls": "ReduceLROnPlateau", "scheduler_params": {"patience": 5, "factor": 0.5}}


def train_images() -> torch.Tensor:
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset

    return build_dataset(load_recipe("mnist-vae").recipe.data, "train").images  # uint8 N x 1 x 28 x 28


def pythae_trainer(images: torch.Tensor, folder: Path, seed: int = 0, **training_config):
    """pythae's VAE on its MNIST networks with its own trainer (by default its defaults: Adam, lr 1e-4, batch 64)."""
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.nn.benchmarks.mnist import Decoder_Conv_AE_MNIST, Encoder_Conv_VAE_MNIST
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(seed)
    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder_Conv_VAE_MNIST(config), decoder=Decoder_Conv_AE_MNIST(config))
    x = images.float() / 255
    dataset = BaseDataset(x, torch.zeros(len(x)))
    training = BaseTrainerConfig(**{"output_dir": str(folder), "per_device_train_batch_size": BATCH, "learning_rate": LR,
                                    "num_epochs": 1, "train_dataloader_num_workers": 0, "seed": seed, "no_cuda": True,
                                    **training_config})
    trainer = BaseTrainer(model=model, train_dataset=dataset, training_config=training)
    trainer.prepare_training()  # what its train() does first: seed, optimizer, output folder, callbacks
    return trainer


def our_recipe(steps: int) -> dict:
    from noisecraft.models.registry import load_recipe

    data = load_recipe("mnist-vae").recipe.data.model_dump(exclude_none=True)
    return {"name": "pythae-nets-ours", "data": data, "model": {"family": FAMILY, "latent_dim": LATENT},
            "train": {"seed": 0, "max_steps": steps, "batch_size": BATCH, "lr": LR, "ema_decay": None,
                      "grad_clip": None, "checkpoint_every": 10**9, "sample_every": 10**9, "log_every": steps}}


# --- speed ----------------------------------------------------------------------------------------------------
def speed(args) -> None:
    import noisecraft

    sys.path.insert(0, str(common.HERE))  # the family module
    torch.set_num_threads(args.threads)
    images = train_images()[: args.steps * BATCH]
    WORK.mkdir(parents=True, exist_ok=True)
    trainer = pythae_trainer(images, WORK / "speed-pythae")
    rows: dict[str, list[float]] = {"ours": [], "pythae": []}
    for r in range(args.rounds + 1):  # round 0 warms both up and is not counted
        t = time.perf_counter()
        trainer.train_step(epoch=r + 1)
        theirs = args.steps * BATCH / (time.perf_counter() - t)
        run = WORK / f"speed-ours-{r}"
        noisecraft.fit(our_recipe(args.steps), out=run, progress=False)
        log = list(csvrows(run / "metrics.csv"))
        ours = float([row for row in log if row.get("images_per_s")][-1]["images_per_s"])  # one window: all steps
        if r:
            rows["pythae"].append(theirs)
            rows["ours"].append(ours)
        print(f"round {r}: ours {ours:.1f} images/s, pythae {theirs:.1f} images/s", flush=True)
    median = {k: sorted(v)[len(v) // 2] for k, v in rows.items()}
    ratio = median["ours"] / median["pythae"]
    params = sum(p.numel() for p in trainer.model.parameters())
    common.write_record(OUT / "speed.json", {
        "what": "train images/s, pythae's MNIST networks, batch 64, Adam 1e-4", "parameters": params,
        "steps_per_round": args.steps, "rounds": args.rounds, "images_per_s": rows, "median_images_per_s": median,
        "ratio_ours_over_pythae": ratio, "target": {"ratio_at_least": 1.0, "met": ratio >= 1.0}})
    print(f"ours/pythae train images/s: {ratio:.2f}x (median of {args.rounds} rounds)")


def csvrows(path: Path):
    import csv

    with open(path, newline="") as f:
        yield from csv.DictReader(f)


# --- quality --------------------------------------------------------------------------------------------------
def quality(args) -> None:
    ours_run = WORK / "quality-ours"
    ours = None
    if not (ours_run / "model" / "config.json").exists() or not finished(ours_run, args.budget):
        cmd = [str(Path(sys.executable).parent / "noisecraft"), "train", "mnist-vae", "--out", str(ours_run),
               "--set", f"train.max_seconds={args.budget:g}", "--set", "train.max_steps=1000000000", "--quiet"]
        if (ours_run / "checkpoints" / "last").exists():
            cmd.append("--resume")
        ours = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
    torch.set_num_threads(1)
    train_pythae(args.budget)
    if ours is not None and ours.wait() != 0:
        raise SystemExit(f"our training failed (exit {ours.returncode})")
    torch.set_num_threads(args.threads)
    for name in ("ours", "pythae"):
        score(name, args.iwae_k, args.iwae_num)


def finished(run: Path, budget: float) -> bool:
    from noisecraft.train.checkpoint import read_loop_state
    from noisecraft.utils.paths import RunDir

    state = read_loop_state(RunDir(run).last_checkpoint)
    return state is not None and state.train_seconds >= budget


def train_pythae(budget: float) -> None:
    """pythae's own step (its model's forward and its trainer's optimizer step) over its own data loader, until
    `budget` seconds of training; the state is saved every minute and at the end (a session may end)."""
    folder = WORK / "quality-pythae"
    folder.mkdir(parents=True, exist_ok=True)
    trainer = pythae_trainer(train_images(), folder, **PYTHAE_README)
    state = {"epoch": 0, "batch": 0, "seconds": 0.0, "steps": 0, "epoch_loss": 0.0}
    if (folder / "state.pt").exists():
        saved = torch.load(folder / "state.pt", weights_only=True)
        trainer.model.load_state_dict(saved["model"])
        trainer.optimizer.load_state_dict(saved["optimizer"])
        if trainer.scheduler is not None:
            trainer.scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
    last_save = time.perf_counter()
    trainer.model.train()
    while state["seconds"] < budget:
        torch.manual_seed(1000 + state["epoch"])  # the loader's shuffle: the same order when resumed
        for i, inputs in enumerate(trainer.train_loader):
            if i < state["batch"]:
                continue
            start = time.perf_counter()  # step time, as our loop's train.max_seconds counts it (batch fetched)
            output = trainer.model(inputs, epoch=state["epoch"] + 1, dataset_size=len(trainer.train_loader.dataset),
                                   uses_ddp=False)
            trainer._optimizers_step(output)
            state["epoch_loss"] += output.loss.item()
            now = time.perf_counter()
            state["seconds"] += now - start
            state["batch"], state["steps"] = i + 1, state["steps"] + 1
            if state["steps"] % 100 == 0:
                print(f"pythae step {state['steps']} ({state['seconds']:.0f} s): loss {output.loss.item():.2f}", flush=True)
            if state["seconds"] >= budget or now - last_save > 60:
                save_pythae(trainer, state, folder)
                last_save = time.perf_counter()
            if state["seconds"] >= budget:
                break
        else:  # the epoch ran out: its scheduler steps on the epoch's mean loss, as its train() does
            trainer._schedulers_step(state["epoch_loss"] / len(trainer.train_loader))
            state["epoch"], state["batch"], state["epoch_loss"] = state["epoch"] + 1, 0, 0.0
    save_pythae(trainer, state, folder)


def save_pythae(trainer, state: dict, folder: Path) -> None:
    tmp = folder / "state.pt.tmp"
    torch.save({"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(), "state": state,
                "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else {}}, tmp)
    os.replace(tmp, folder / "state.pt")


def load_for_scoring(name: str):
    """Either model as our VAE family (pythae's weights load into the family with its networks unchanged)."""
    import noisecraft

    if name == "ours":
        return noisecraft.load(WORK / "quality-ours"), None
    sys.path.insert(0, str(common.HERE))
    from pythae_nets import PythaeNetsConfig, PythaeNetsVAE

    from noisecraft.data.base import DataSpec

    model = PythaeNetsVAE(PythaeNetsConfig(latent_dim=LATENT), DataSpec(shape=(1, 28, 28)))
    saved = torch.load(WORK / "quality-pythae" / "state.pt", weights_only=True)
    model.load_state_dict(saved["model"], strict=True)
    return model.eval(), saved["state"]


def test_bits() -> torch.Tensor:
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset
    from noisecraft.evaluate.likelihood import binarize

    images = build_dataset(load_recipe("mnist-vae").recipe.data, "test").images.float() / 255
    return binarize(images, torch.Generator().manual_seed(0))


@torch.no_grad()
def score(name: str, k: int, num: int) -> None:
    path = OUT / f"quality-{name}.json"
    if path.exists():
        return
    model, pythae_state = load_for_scoring(name)
    x = test_bits()
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    elbo = torch.cat([model.log_likelihood(x[i : i + 500], num_samples=1, generator=g) for i in range(0, len(x), 500)])
    elbo_seconds = time.perf_counter() - t
    t = time.perf_counter()
    iwae = torch.cat([model.log_likelihood(x[i : i + 50], num_samples=k, generator=g) for i in range(0, num, 50)])
    iwae_seconds = time.perf_counter() - t
    if name == "ours":
        from noisecraft.train.checkpoint import read_loop_state
        from noisecraft.utils.paths import RunDir

        s = read_loop_state(RunDir(WORK / "quality-ours").last_checkpoint)
        trained = {"train_seconds": s.train_seconds, "train_steps": s.step, "train_images": s.examples_seen}
    else:
        trained = {"train_seconds": pythae_state["seconds"], "train_steps": pythae_state["steps"],
                   "train_images": pythae_state["steps"] * PYTHAE_README["per_device_train_batch_size"],
                   "training_config": PYTHAE_README}
    record = {"model": name, "parameters": model.num_parameters(), **trained,
              "test_elbo_nats": -elbo.mean().item(), "elbo_examples": len(elbo), "elbo_seconds": elbo_seconds,
              "iwae_nll_nats": -iwae.mean().item(), "iwae_k": k, "iwae_examples": len(iwae), "iwae_seconds": iwae_seconds,
              # the same digits' ELBO, to show how much the bound tightens from k=1 to k
              "elbo_nats_on_iwae_examples": -elbo[:num].mean().item()}
    common.write_record(path, record)
    print(f"{name}: test -ELBO {record['test_elbo_nats']:.2f} nats, IWAE(k={k}) NLL {record['iwae_nll_nats']:.2f} "
          f"on {len(iwae)} digits", flush=True)


def report(args) -> None:
    files = {p.stem: json.loads(p.read_text()) for p in OUT.glob("*.json")}
    parts, result = [], {"rows": files}
    if "speed" in files:
        s = files["speed"]
        parts.append(f"train images/s with pythae's networks: ours/pythae {s['ratio_ours_over_pythae']:.2f}x "
                     f"(target >= 1: {'met' if s['target']['met'] else 'missed'})")
    if {"quality-ours", "quality-pythae"} <= files.keys():
        o, p = files["quality-ours"], files["quality-pythae"]
        parts.append(f"{o['train_seconds'] / 60:.0f} min each: test -ELBO ours {o['test_elbo_nats']:.1f} vs pythae "
                     f"{p['test_elbo_nats']:.1f} nats; IWAE(k={o['iwae_k']}) on {o['iwae_examples']} digits "
                     f"{o['iwae_nll_nats']:.1f} vs {p['iwae_nll_nats']:.1f}")
        result["ratios"] = {"elbo_ours_over_pythae": o["test_elbo_nats"] / p["test_elbo_nats"]}
    if parts:
        common.write_result("vae_vs_pythae", result, "VAE vs pythae: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--steps", type=int, default=10, help="training steps per round and side")
    s.add_argument("--threads", type=int, default=2)
    q = sub.add_parser("quality")
    q.add_argument("--budget", type=float, default=1800, help="training seconds each")
    q.add_argument("--iwae-k", type=int, default=100)
    q.add_argument("--iwae-num", type=int, default=250, help="test digits for the IWAE bound")
    q.add_argument("--threads", type=int, default=2, help="threads for scoring")
    sub.add_parser("report")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    {"speed": speed, "quality": quality, "report": report}[args.command](args)
    if args.command != "report":
        report(args)


if __name__ == "__main__":
    main()
