"""Our VAE against pythae's (PyPI `pythae` 0.1.2), on the same MNIST, same machine. Runs in .venv-pythae
(`bash benchmarks/setup_pythae_venv.sh`), which has noisecraft and pythae side by side:

    ../.venv-pythae/bin/python benchmarks/vae_vs_pythae.py speed      # train images/s, same networks, 10 rounds
    ../.venv-pythae/bin/python benchmarks/vae_vs_pythae.py quality    # 3 entries a seed, same budget, scored; seeds 1-3
    ../.venv-pythae/bin/python benchmarks/vae_vs_pythae.py report     # results/vae_vs_pythae.json
    ../.venv-pythae/bin/python benchmarks/vae_vs_pythae.py --quick    # all three at toy size, nothing in results/

speed: pythae's MNIST benchmark networks (`Encoder_Conv_VAE_MNIST` / `Decoder_Conv_AE_MNIST`, 16-d latent)
trained by pythae's `BaseTrainer.train_step` and by our training loop (`noisecraft.fit`, the family
`pythae_nets:PythaeNetsVAE`: the same modules), batch 64, Adam lr 1e-4 (pythae's defaults), fp32, contiguous
memory, no EMA, the same images; --rounds rounds (default 10) after one warm-up round, the two sides taking
turns and swapping who goes first each round, both at the same thread count. Each side's time covers its
whole loop over the round's batches (data loading included). Reported: the median of the per-round ratios
with their min and max.

quality: three entries trained for the same budget (default 30 minutes of training steps each), taking turns
a --slice at a time at the same thread count, so the machine's noise hits all alike:
- `ours`: our `mnist-vae` recipe as shipped (our networks, 0.8M parameters; its cosine schedule spread over the
  budget; bf16 and channels-last where the recipe's `precision: auto` picks them);
- `pythae-nets-ours`: pythae's networks (17M parameters) under the same recipe and our loop;
- `pythae`: pythae's networks in pythae's own step and loader, with the training configuration of its README
  (AdamW lr 1e-3, batch 200, BCE, ReduceLROnPlateau).
`pythae-nets-ours` vs `pythae` compares the libraries at equal networks; `ours` vs `pythae-nets-ours` says what
the network choice is worth. Every entry's clock counts its training steps only, not fetching the batch (our
loop's `train.max_seconds`; in pythae's loop the clock starts once its loader has handed over the batch).
Seeds 1, 2, 3 (weights, data order, noise); the older single-seed record used seed 0. Then, on the MNIST test
digits dynamically binarized with seed 0 (the same bits for all): the negative ELBO on all 10,000 and the
IWAE bound at k importance samples on the first --iwae-num digits (pythae's networks cost ~1 GFLOP per
decoder pass, so k=1000 on 10k digits would take days here), both computed by the same code (pythae's
trained weights load into the family above unchanged). Mean +- sd over seeds; under 5% apart is a tie unless
every seed shows it (benchmarks/stats.py). Resumable: each training saves its state at each turn's end,
scores are one file each, and a seed's three entries are trained and scored before the next seed starts, so a
session finishes a seed and the next one (a fresh machine, without benchmarks/_work) goes on from the committed
files. Cost on 2 quiet cores: speed ~10 minutes, quality ~1.9 hours a seed (3 x 30 minutes of training, then
the ELBO and IWAE bounds; pythae's networks take most of the scoring): ~6 hours over three sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import common  # first: it records the environment the benchmark starts in
import stats
import torch

OUT = common.RESULTS / "vae_vs_pythae"
WORK = common.HERE / "_work" / "vae_vs_pythae"
FAMILY = "pythae_nets:PythaeNetsVAE"
BATCH, LR, LATENT = 64, 1e-4, 16  # speed: pythae's BaseTrainerConfig defaults, for both loops
# quality: the training configuration of pythae's README ("Launching a model training"); its data loader
# workers (2) dropped: the images are one in-memory tensor
PYTHAE_README = {"learning_rate": 1e-3, "per_device_train_batch_size": 200, "optimizer_cls": "AdamW",
                 "optimizer_params": {"weight_decay": 0.05, "betas": (0.91, 0.995)},
                 "scheduler_cls": "ReduceLROnPlateau", "scheduler_params": {"patience": 5, "factor": 0.5}}
ENTRIES = ("ours", "pythae-nets-ours", "pythae")
SEEDS = (1, 2, 3)


def train_images() -> torch.Tensor:
    from noisecraft.data import build_dataset
    from noisecraft.models.registry import load_recipe

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


def speed_recipe(steps: int) -> dict:
    """pythae's networks in our loop at pythae's defaults, fp32 and contiguous as pythae runs them."""
    from noisecraft.models.registry import load_recipe

    data = load_recipe("mnist-vae").recipe.data.model_dump(exclude_none=True)
    return {"name": "pythae-nets-speed", "data": data, "model": {"family": FAMILY, "latent_dim": LATENT},
            "train": {"seed": 0, "max_steps": steps, "batch_size": BATCH, "lr": LR, "ema_decay": None,
                      "grad_clip": None, "precision": "32", "channels_last": False, "checkpoint_every": 10**9,
                      "sample_every": 10**9, "log_every": steps, "tensorboard": False}}


def pythae_nets_recipe() -> dict:
    """The `mnist-vae` recipe as shipped, its networks swapped for pythae's."""
    from noisecraft.models.registry import load_recipe

    recipe = load_recipe("mnist-vae").recipe.model_dump(exclude_none=True)
    return {**recipe, "name": "mnist-vae-pythae-nets", "model": {"family": FAMILY, "latent_dim": LATENT}}


# --- speed ----------------------------------------------------------------------------------------------------
def speed(args) -> None:
    import noisecraft

    torch.set_num_threads(args.threads)
    images = train_images()[: args.steps * BATCH]
    trainer = pythae_trainer(images, WORK / "speed-pythae")

    def pythae_round(r: int) -> float:
        t = time.perf_counter()
        trainer.train_step(epoch=r + 1)
        return args.steps * BATCH / (time.perf_counter() - t)

    def our_round(r: int) -> float:
        run = noisecraft.fit(speed_recipe(args.steps), out=WORK / f"speed-ours-{r}", progress=False)
        log = [row for row in csvrows(run / "metrics.csv") if row.get("images_per_s")]
        return float(log[-1]["images_per_s"])  # one log window: all of the round's steps

    rows: dict[str, list[float]] = {"ours": [], "pythae": []}
    for r in range(args.rounds + 1):  # round 0 warms both up and is not counted
        order = [("ours", our_round), ("pythae", pythae_round)][:: 1 if r % 2 else -1]
        measured = {name: fn(r) for name, fn in order}
        if r:
            for name in rows:
                rows[name].append(measured[name])
        print(f"round {r} ({order[0][0]} first): ours {measured['ours']:.1f} images/s, "
              f"pythae {measured['pythae']:.1f} images/s", flush=True)
    ratio = stats.spread([o / p for o, p in zip(rows["ours"], rows["pythae"])])
    common.write_record(OUT / "speed.json", {
        "what": "train images/s, pythae's MNIST networks, batch 64, Adam 1e-4, fp32, both loops' whole round",
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "threads": args.threads,
        "steps_per_round": args.steps, "images_per_s": rows, "ratio_ours_over_pythae": ratio,
        "verdict": "tie" if abs(ratio["median"] - 1) < stats.TIE_BELOW else ("ours" if ratio["median"] > 1 else "pythae")})
    print(f"ours/pythae train images/s: median {ratio['median']:.2f}x (min {ratio['min']:.2f}, max {ratio['max']:.2f}, "
          f"{args.rounds} rounds)")


def csvrows(path: Path):
    import csv

    with open(path, newline="") as f:
        yield from csv.DictReader(f)


# --- quality --------------------------------------------------------------------------------------------------
class Entry:
    """One entry of the quality race at one seed: a training that resumes, and the model it scores."""

    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed, self.name = kind, seed, f"{kind}-s{seed}"
        self.folder = WORK / f"quality-{self.name}"

    def seconds(self) -> float:
        if self.kind != "pythae":
            return stats.run_seconds(self.folder)
        state = self.folder / "state.pt"
        return torch.load(state, weights_only=True)["state"]["seconds"] if state.exists() else 0.0

    def train_until(self, seconds: float) -> None:
        if self.kind == "pythae":
            train_pythae(self.folder, self.seed, seconds)
            return
        import noisecraft

        recipe = "mnist-vae" if self.kind == "ours" else pythae_nets_recipe()
        noisecraft.fit(recipe, out=self.folder, progress=False, resume=common.resumable(self.folder),
                       overrides=[f"train.max_seconds={seconds:g}", "train.max_steps=1000000000", f"train.seed={self.seed}",
                                  "train.tensorboard=false"])

    def model(self):
        """Every entry as our VAE family (pythae's weights load into the family with its networks unchanged)."""
        import noisecraft

        if self.kind != "pythae":
            return noisecraft.load(self.folder)
        from pythae_nets import PythaeNetsConfig, PythaeNetsVAE

        from noisecraft.data.base import DataSpec

        model = PythaeNetsVAE(PythaeNetsConfig(latent_dim=LATENT), DataSpec(shape=(1, 28, 28)))
        model.load_state_dict(torch.load(self.folder / "state.pt", weights_only=True)["model"], strict=True)
        return model.eval()

    def trained(self) -> dict:
        if self.kind == "pythae":
            s = torch.load(self.folder / "state.pt", weights_only=True)["state"]
            return {"train_seconds": s["seconds"], "train_steps": s["steps"], "training_config": PYTHAE_README,
                    "train_images": s["steps"] * PYTHAE_README["per_device_train_batch_size"]}
        from noisecraft.train.checkpoint import read_loop_state
        from noisecraft.utils.paths import RunDir

        s = read_loop_state(RunDir(self.folder).last_checkpoint)
        return {"train_seconds": s.train_seconds, "train_steps": s.step, "train_images": s.examples_seen,
                "recipe": "mnist-vae" + ("" if self.kind == "ours" else ", pythae's networks")}


def quality(args) -> None:
    """Seed by seed: the three entries trained in turns, then scored (~1.9 h a seed), so a seed's records land
    within a session; a seed whose three records exist is done (benchmarks/_work does not outlive a session)."""
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        entries = [Entry(kind, seed) for kind in ENTRIES]
        if all(quality_path(e).exists() for e in entries):
            continue
        stats.take_turns(entries, args.budget, args.slice)
        for entry in entries:
            score(entry, args.iwae_k, args.iwae_num, args.elbo_num)


def train_pythae(folder: Path, seed: int, budget: float) -> None:
    """pythae's own step (its model's forward and its trainer's optimizer step) over its own data loader, until
    `budget` seconds of training steps in total; the state is saved at the end (and every minute)."""
    folder.mkdir(parents=True, exist_ok=True)
    trainer = pythae_trainer(train_images(), folder, seed=seed, **PYTHAE_README)
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
        torch.manual_seed(100_003 * seed + state["epoch"])  # the loader's shuffle: the same order when resumed
        for i, inputs in enumerate(trainer.train_loader):
            if i < state["batch"]:
                continue
            start = time.perf_counter()  # the batch is fetched: the step alone is timed, as in our loop
            output = trainer.model(inputs, epoch=state["epoch"] + 1, dataset_size=len(trainer.train_loader.dataset),
                                   uses_ddp=False)
            trainer._optimizers_step(output)
            state["epoch_loss"] += output.loss.item()
            now = time.perf_counter()
            state["seconds"] += now - start
            state["batch"], state["steps"] = i + 1, state["steps"] + 1
            if state["steps"] % 100 == 0:
                print(f"pythae step {state['steps']} ({state['seconds']:.0f} s): loss {output.loss.item():.2f}", flush=True)
            if now - last_save > 60:
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


def test_bits() -> torch.Tensor:
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset
    from noisecraft.evaluate.likelihood import binarize

    images = build_dataset(load_recipe("mnist-vae").recipe.data, "test").images.float() / 255
    return binarize(images, torch.Generator().manual_seed(0))


def quality_path(entry: Entry) -> Path:
    return OUT / f"quality-{entry.name}.json"


@torch.no_grad()
def score(entry: Entry, k: int, num: int, elbo_num: int) -> None:
    path = quality_path(entry)
    if path.exists():
        return
    model = entry.model()
    x = test_bits()[:elbo_num]
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    elbo = torch.cat([model.log_likelihood(x[i : i + 500], num_samples=1, generator=g) for i in range(0, len(x), 500)])
    elbo_seconds = time.perf_counter() - t
    t = time.perf_counter()
    iwae = torch.cat([model.log_likelihood(x[i : min(i + 50, num)], num_samples=k, generator=g) for i in range(0, num, 50)])
    iwae_seconds = time.perf_counter() - t
    record = {"entry": entry.kind, "seed": entry.seed, "parameters": model.num_parameters(), **entry.trained(),
              "likelihood_data": "binarized",
              "neg_elbo_nats_per_image": -elbo.mean().item(), "elbo_examples": len(elbo), "elbo_seconds": elbo_seconds,
              "nll_nats_per_image": -iwae.mean().item(), "importance_samples": k, "nll_examples": len(iwae),
              "nll_seconds": iwae_seconds,
              # the same digits' negative ELBO, to show how much the bound tightens from k=1 to k
              "neg_elbo_nats_per_image_on_nll_examples": -elbo[:num].mean().item()}
    common.write_record(path, record)
    print(f"{entry.name}: test -ELBO {record['neg_elbo_nats_per_image']:.2f} nats, IWAE(k={k}) NLL "
          f"{record['nll_nats_per_image']:.2f} on {len(iwae)} digits", flush=True)


def report(args) -> None:
    result, parts = {}, []
    if (OUT / "speed.json").exists():
        s = json.loads((OUT / "speed.json").read_text())
        r = s["ratio_ours_over_pythae"]
        result["speed"] = s
        parts.append(f"train images/s with pythae's networks, ours/pythae {r['median']:.2f}x "
                     f"(min {r['min']:.2f}, max {r['max']:.2f}, {r['rounds']} rounds)")
    files = {kind: [OUT / f"quality-{kind}-s{seed}.json" for seed in args.seeds] for kind in ENTRIES}
    if all(p.exists() for paths in files.values() for p in paths):
        rows = {kind: [json.loads(p.read_text()) for p in paths] for kind, paths in files.items()}
        pairs = {"library_at_equal_networks": ("pythae-nets-ours", "pythae"), "as_shipped": ("ours", "pythae"),
                 "our_networks_over_pythae_networks_in_our_loop": ("ours", "pythae-nets-ours")}
        result["quality"] = {"seeds": list(args.seeds), "budget_seconds": args.budget, "rows": rows, "comparisons": {
            name: {key: stats.compare([r[key] for r in rows[a]], [r[key] for r in rows[b]])
                   for key in ("neg_elbo_nats_per_image", "nll_nats_per_image")} for name, (a, b) in pairs.items()}}
        k = rows["ours"][0]["importance_samples"]
        line = lambda kind, key: stats.plus_minus(stats.mean_sd([r[key] for r in rows[kind]]), ".1f")
        verdicts = {name: c["neg_elbo_nats_per_image"]["verdict"] for name, c in result["quality"]["comparisons"].items()}
        parts.append(f"{args.budget / 60:.3g} min each, seeds {', '.join(map(str, args.seeds))}: test -ELBO ours "
                     f"{line('ours', 'neg_elbo_nats_per_image')}, pythae's networks in our loop "
                     f"{line('pythae-nets-ours', 'neg_elbo_nats_per_image')}, pythae {line('pythae', 'neg_elbo_nats_per_image')} "
                     f"nats; IWAE(k={k}) {line('ours', 'nll_nats_per_image')} / {line('pythae-nets-ours', 'nll_nats_per_image')}"
                     f" / {line('pythae', 'nll_nats_per_image')}; at equal networks: "
                     f"{verdicts['library_at_equal_networks'].replace('ours', 'our loop').replace('peer', 'pythae')} ahead"
                     .replace("tie ahead", "a tie"))
    if parts:
        common.write_result("vae_vs_pythae", result, "VAE vs pythae: " + "; ".join(parts))


def main() -> None:
    global OUT, WORK
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commands", metavar="step", nargs="*", choices=["speed", "quality", "report", []],
                        help="speed, quality, report (default: all three)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every side, in every step")
    parser.add_argument("--rounds", type=int, default=10, help="speed: counted rounds (after one warm-up round)")
    parser.add_argument("--steps", type=int, default=20, help="speed: training steps a round and side")
    parser.add_argument("--budget", type=float, default=1800, help="quality: training seconds each")
    parser.add_argument("--slice", type=float, default=300, help="quality: seconds per turn")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--iwae-k", type=int, default=100)
    parser.add_argument("--iwae-num", type=int, default=250, help="test digits for the IWAE bound")
    parser.add_argument("--elbo-num", type=int, default=10000, help="test digits for the ELBO")
    parser.add_argument("--quick", action="store_true", help="toy sizes, into a temporary folder (writes no record)")
    args = parser.parse_args()
    if args.quick:
        tmp = Path(tempfile.mkdtemp(prefix="vae_vs_pythae-quick-"))
        OUT, WORK = tmp / "results", tmp / "work"
        args.rounds, args.steps, args.budget, args.slice, args.seeds = 2, 1, 2, 1, args.seeds[:1]
        args.iwae_k, args.iwae_num, args.elbo_num = 2, 10, 100
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for step in args.commands or ["speed", "quality", "report"]:
        {"speed": speed, "quality": quality, "report": report}[step](args)


if __name__ == "__main__":
    main()
