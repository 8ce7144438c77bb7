"""Our GAN recipe against the classic DCGAN, each trained on MNIST for the same wall-clock budget, interleaved.

    python benchmarks/gan_vs_dcgan.py pilots     # 6 pilots a side (lr x batch), 10 min each, FID on validation
    python benchmarks/gan_vs_dcgan.py race       # each side's best pilot, fresh seeds 1-3, 30 min each, interleaved,
                                                 # then 10k samples a seed against the 10k test digits
    python benchmarks/gan_vs_dcgan.py report     # results/gan_vs_dcgan.json: mean +- sd over seeds, the verdict
    python benchmarks/gan_vs_dcgan.py --quick    # every step at toy size, into a temporary folder

The reference is written here from the paper (Radford, Metz & Chintala 2016, "Unsupervised Representation
Learning with Deep Convolutional GANs", section 3 and 4), in plain PyTorch and its own training loop, so
that nothing of ours is in it: the generator projects z (100-d, uniform in the paper; here Gaussian, as in
PyTorch's DCGAN example) with a fractionally-strided convolution, then fractionally-strided convolutions
with batch norm and ReLU, tanh out; the discriminator has strided convolutions with batch norm (none on
its input layer) and LeakyReLU 0.2, no pooling and no fully connected hidden layer; weights from N(0, 0.02);
Adam lr 2e-4, beta1 0.5; batch 128; the non-saturating loss. Sized for 28x28 (7 -> 14 -> 28) with
PyTorch's example widths (ngf = ndf = 64). Samples are drawn in training mode (batch statistics, as the
paper's and PyTorch's code do).

Ours is the `mnist-gan` recipe (hinge loss, spectral norm, two time-scale learning rates, EMA generator),
trained by `noisecraft.fit` with `train.max_seconds`.

Treated alike:
- The clock: both count the training step only (forward, backward, optimizer steps, and for ours the EMA
  update), not fetching the batch, logging, sampling or saving: our loop's `train.max_seconds` starts its
  clock after the data loader hands over the batch, so the reference's clock starts after its batch is cut.
- Tuning: the same pilots for both (each side's default learning rate times 0.5, 1, 2, at its default batch
  and twice it), seed 0, trained with `data.hold_out_validation` (the last 10k training digits left out) and
  scored on that validation split (Inception FID, --pilot-num samples); the lowest FID is each side's setting.
- Headline: each side's chosen setting on the full training split, fresh seeds (1, 2, 3: no pilot used
  them), the two sides of a seed interleaved slice by slice (a noisy machine slows both alike), scored on the
  test split (10k samples against the 10k test digits: Inception FID, KID, precision/recall, the shipped
  classifier's FID and class coverage). Reported as mean +- sd over the seeds; a difference under 5% is a
  tie unless every seed shows it (benchmarks/stats.py).
Every pilot pair and every seed's pair is trained and then scored at once, into a file a side: a session may
end anywhere, and the next one (on a fresh machine, without benchmarks/_work) goes on from the committed
files, repeating at most the pair it was in. Cost on 2 quiet cores: pilots ~2.7 h (6 pairs of 2 x 10 min of
training and two 2k-sample FIDs, the validation reference once a session, ~16 min), race ~4.2 h (a seed:
2 x 30 min of training, two 10k-sample FIDs, ~1.4 h): about 7 hours over three sessions or more.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from pathlib import Path

import common  # first: it records the environment the benchmark starts in
import stats
import torch
import torch.nn.functional as F
from torch import nn

OUT = common.RESULTS / "gan_vs_dcgan"
WORK = common.HERE / "_work" / "gan_vs_dcgan"
RECIPE = "mnist-gan"
METRICS = ["fid", "kid", "pr", "cfid", "classes"]
LR_SCALES, BATCH_SCALES = (0.5, 1.0, 2.0), (1, 2)  # the pilots: the same grid around each side's defaults
PILOT_SEED, SEEDS = 0, (1, 2, 3)
SIDES = ("ours", "dcgan")


# --- the reference, from the paper ---------------------------------------------------------------------------
class DCGANGenerator(nn.Module):
    def __init__(self, nz: int = 100, ngf: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 7x7
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 14
            nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh())  # 28

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, ndf: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 14
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),  # 7
            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),  # 4
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))  # one logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class DCGAN:
    """The reference with its training loop; its state (nets, optimizers, data order, clock) in one file."""

    nz = 100

    def __init__(self, folder: Path, seed: int = 0, lr: float = 2e-4, batch: int = 128) -> None:
        torch.manual_seed(seed)
        self.folder, self.batch, self.g, self.d = folder, batch, DCGANGenerator(self.nz), DCGANDiscriminator()
        self.g.apply(dcgan_init)
        self.d.apply(dcgan_init)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.999))
        self.rng = torch.Generator().manual_seed(seed)
        self.step, self.seconds, self.order, self.cursor = 0, 0.0, None, 0
        if (folder / "state.pt").exists():
            self.load()

    def train_until(self, images: torch.Tensor, seconds: float) -> None:
        """Train until `seconds` of training steps in total (over all calls), then save. The clock runs over
        the step only, as our loop's does: cutting the batch, logging and saving are outside it."""
        while self.seconds < seconds:
            x = self.next_batch(images)
            start = time.perf_counter()
            z = torch.randn(len(x), self.nz, generator=self.rng)
            fake = self.g(z)
            real_logits, fake_logits = self.d(x), self.d(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            logits = self.d(fake)
            loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            self.seconds += time.perf_counter() - start
            self.step += 1
            if self.step % 200 == 0:
                print(f"dcgan step {self.step} ({self.seconds:.0f} s): loss_d {loss_d.item():.3f} "
                      f"loss_g {loss_g.item():.3f}", flush=True)
        self.save()

    def next_batch(self, images: torch.Tensor) -> torch.Tensor:
        if self.order is None or self.cursor + self.batch > len(images):  # a fresh permutation each epoch
            self.order, self.cursor = torch.randperm(len(images), generator=self.rng), 0
        idx = self.order[self.cursor : self.cursor + self.batch]
        self.cursor += self.batch
        return images[idx].float() / 127.5 - 1

    @torch.no_grad()
    def sample(self, num: int, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        self.g.train()  # batch statistics, as the reference code samples
        out = [(self.g(torch.randn(min(self.batch, num - i), self.nz, generator=g)) + 1) / 2
               for i in range(0, num, self.batch)]
        return torch.cat(out).clamp(0, 1)

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {"g": self.g.state_dict(), "d": self.d.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "opt_d": self.opt_d.state_dict(), "rng": self.rng.get_state(), "step": self.step,
                 "seconds": self.seconds, "order": self.order, "cursor": self.cursor}
        tmp = self.folder / "state.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.folder / "state.pt")

    def load(self) -> None:
        state = torch.load(self.folder / "state.pt", weights_only=True)
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self.step, self.seconds, self.order, self.cursor = state["step"], state["seconds"], state["order"], state["cursor"]


# --- one side, one setting, one seed: a training that resumes ---------------------------------------------------
def defaults(side: str) -> dict:
    if side == "dcgan":
        return {"lr": 2e-4, "batch": 128}
    from noisecraft.models.registry import load_recipe

    train = load_recipe(RECIPE).recipe.train
    return {"batch": train.batch_size, "lr_by_optimizer": dict(train.lr_by_optimizer)}  # lr: each optimizer's own


def pilot_settings(side: str) -> list[dict]:
    base = defaults(side)
    return [{"lr_scale": s, "batch": base["batch"] * b} for b in BATCH_SCALES for s in LR_SCALES]


class Side:
    """A training of one side under one setting and seed (held out or not): its clock, resume and samples."""

    def __init__(self, side: str, setting: dict, seed: int, hold_out: bool) -> None:
        self.side, self.setting, self.seed, self.hold_out = side, setting, seed, hold_out
        tag = f"lr{setting['lr_scale']:g}-b{setting['batch']}-s{seed}" + ("-holdout" if hold_out else "")
        self.name = f"{side}-{tag}"
        self.folder = WORK / self.name

    def data_config(self):
        from noisecraft.models.registry import load_recipe

        return load_recipe(RECIPE).recipe.data.model_copy(update={"hold_out_validation": self.hold_out})

    def seconds(self) -> float:
        return self.reference().seconds if self.side == "dcgan" else stats.run_seconds(self.folder)

    def reference(self) -> DCGAN:
        return DCGAN(self.folder, self.seed, lr=defaults("dcgan")["lr"] * self.setting["lr_scale"],
                     batch=self.setting["batch"])

    def overrides(self, seconds: float) -> list[str]:
        lrs = defaults("ours")["lr_by_optimizer"]
        return [f"train.max_seconds={seconds:g}", "train.max_steps=1000000000", f"train.seed={self.seed}",
                f"train.batch_size={self.setting['batch']}", f"data.hold_out_validation={str(self.hold_out).lower()}",
                *(f"train.lr_by_optimizer.{k}={v * self.setting['lr_scale']:g}" for k, v in lrs.items())]

    def train_until(self, seconds: float) -> None:
        if self.side == "dcgan":
            self.reference().train_until(train_images(self.hold_out), seconds)
            return
        import noisecraft

        noisecraft.fit(RECIPE, out=self.folder, overrides=self.overrides(seconds),
                       resume=common.resumable(self.folder), progress=False)

    def trained(self) -> dict:
        if self.side == "dcgan":
            r = self.reference()
            return {"train_seconds": r.seconds, "train_steps": r.step, "train_images": r.step * r.batch,
                    "parameters": sum(p.numel() for p in [*r.g.parameters(), *r.d.parameters()])}
        from noisecraft.train.checkpoint import read_loop_state
        from noisecraft.utils.paths import RunDir

        s = read_loop_state(RunDir(self.folder).last_checkpoint)
        return {"train_seconds": s.train_seconds, "train_steps": s.step, "train_images": s.examples_seen}

    def score(self, split: str, num: int, metrics: list[str]) -> dict:
        """Samples (seed 1000 + training seed, never a training seed) scored against `split`."""
        t, seed = time.perf_counter(), 1000 + self.seed
        if self.side == "ours":
            from noisecraft.evaluate.evaluator import evaluate_run

            ev = evaluate_run(self.folder, protocol="headline", num=num, seed=seed, split=split,
                              metrics=",".join(metrics), progress=False, write=False)
            record = {"metrics": ev["metrics"], "protocol": ev["protocol"], "parameters": ev["model"]["parameters"]}
        else:
            from noisecraft.evaluate.evaluator import score_samples

            info = {"name": f"samples scored against {split}", "num_samples": num, "seed": seed, "split": split}
            scores = score_samples(self.reference().sample(num, seed), self.data_config(), split, metrics, info,
                                   progress=False)
            record = {"metrics": scores["metrics"], "protocol": info}
        trained = self.trained()
        return {**trained, **record, "side": self.side, "setting": self.setting, "seed": self.seed,
                "hold_out_validation": self.hold_out, "split": split, "num": num,
                "score_seconds": time.perf_counter() - t,
                "train_images_per_s": trained["train_images"] / max(trained["train_seconds"], 1e-9)}


@functools.cache
def train_images(hold_out: bool) -> torch.Tensor:
    from noisecraft.data import build_dataset
    from noisecraft.models.registry import load_recipe

    data = load_recipe(RECIPE).recipe.data.model_copy(update={"hold_out_validation": hold_out})
    return build_dataset(data, "train").images  # uint8 N x 1 x 28 x 28: what our side's recipe trains on


# --- the steps ------------------------------------------------------------------------------------------------
def pilots(args) -> None:
    """Pilot pairs in turn; a pair whose two records exist is done (its training folders may be gone: a new
    session's machine starts without benchmarks/_work, and results/ is what is committed)."""
    metrics = ["fid"] if not args.quick else ["cfid"]
    for ours, theirs in zip(pilot_settings("ours"), pilot_settings("dcgan")):
        pair = [Side("ours", ours, PILOT_SEED, True), Side("dcgan", theirs, PILOT_SEED, True)]
        train_and_score(pair, "pilots", "validation", args.pilot_num, metrics, args.pilot_budget, args.slice)


def train_and_score(pair: list[Side], folder: str, split: str, num: int, metrics: list[str], budget: float,
                    slice_seconds: float) -> None:
    """Train the two sides of a pair in turns, then score each into its own file: one pair's records land
    within a session (the training folders under benchmarks/_work do not outlive it)."""
    paths = [OUT / folder / f"{s.name}-n{num}.json" for s in pair]
    if all(p.exists() for p in paths):
        return
    stats.take_turns(pair, budget, slice_seconds)
    for s, path in zip(pair, paths):
        if not path.exists():
            record = s.score(split, num, metrics)
            common.write_record(path, record)
            print(f"{s.name}: {record['metrics']}", flush=True)


def chosen(side: str, pilot_num: int) -> dict:
    """The pilot with the lowest validation FID (classifier FID in --quick)."""
    rows = [json.loads(p.read_text()) for p in sorted((OUT / "pilots").glob(f"{side}-*-n{pilot_num}.json"))]
    if len(rows) < len(pilot_settings(side)):
        raise SystemExit(f"{side}: {len(rows)} of {len(pilot_settings(side))} pilots scored; run `pilots` first")
    key = "fid" if "fid" in rows[0]["metrics"] else "classifier_fid"
    return min(rows, key=lambda r: r["metrics"][key])["setting"]


def headline_sides(args) -> list[tuple[Side, Side]]:
    return [(Side("ours", chosen("ours", args.pilot_num), seed, False),
             Side("dcgan", chosen("dcgan", args.pilot_num), seed, False)) for seed in args.seeds]


def race(args) -> None:
    """Seed by seed: the two sides trained in turns to the budget, then scored on test (~1.4 h a seed)."""
    metrics = METRICS if not args.quick else ["cfid", "classes"]
    for pair in headline_sides(args):
        train_and_score(list(pair), "headline", "test", args.num, metrics, args.budget, args.slice)


def report(args) -> None:
    rows = {side: [json.loads((OUT / "headline" / f"{s.name}-n{args.num}.json").read_text())
                   for s in sides] for side, sides in zip(SIDES, zip(*headline_sides(args)))}
    pilot_rows = [json.loads(p.read_text()) for p in sorted((OUT / "pilots").glob(f"*-n{args.pilot_num}.json"))]
    metric_names = [m for m in ("fid", "kid", "classifier_fid", "precision", "recall", "classes_covered")
                    if m in rows["ours"][0]["metrics"]]
    higher_better = {"precision", "recall", "classes_covered"}
    comparisons = {m: stats.compare([r["metrics"][m] for r in rows["ours"]], [r["metrics"][m] for r in rows["dcgan"]],
                                    lower_is_better=m not in higher_better) for m in metric_names}
    comparisons["train_images_per_s"] = stats.compare([r["train_images_per_s"] for r in rows["ours"]],
                                                      [r["train_images_per_s"] for r in rows["dcgan"]], lower_is_better=False)
    main_metric = "fid" if "fid" in comparisons else "classifier_fid"
    c = comparisons[main_metric]
    summary = (f"GAN vs DCGAN reference, {args.budget / 60:.3g} min each (interleaved, the training step timed on both "
               f"sides), seeds {', '.join(map(str, args.seeds))}, N={args.num} on test: {main_metric} ours "
               f"{stats.plus_minus(c['ours'])} vs dcgan {stats.plus_minus(c['peer'])} ({c['ratio_ours_over_peer']:.2f}x): "
               f"{'a tie' if c['verdict'] == 'tie' else c['verdict'] + ' better'}; each side's setting from "
               f"{len(pilot_settings('ours'))} pilots on validation")
    common.write_result("gan_vs_dcgan", {
        "budget_seconds": args.budget, "slice_seconds": args.slice, "num": args.num, "seeds": list(args.seeds),
        "pilot_seed": PILOT_SEED, "pilot_budget_seconds": args.pilot_budget, "pilot_num": args.pilot_num,
        "pilot_split": "validation", "headline_split": "test",
        "timed_region": "the training step (forward, backward, optimizer steps, EMA); batch fetching excluded on both sides",
        "chosen": {side: chosen(side, args.pilot_num) for side in SIDES}, "pilots": pilot_rows,
        "rows": rows, "comparisons": comparisons}, summary)


def main() -> None:
    global OUT, WORK, LR_SCALES
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="*", choices=["pilots", "race", "report", []],
                        help="default: all three in order")
    parser.add_argument("--budget", type=float, default=1800, help="headline training seconds each (30 minutes)")
    parser.add_argument("--slice", type=float, default=300, help="seconds per turn")
    parser.add_argument("--num", type=int, default=10000, help="headline samples scored (headline: 10000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="headline seeds (never the pilots')")
    parser.add_argument("--pilot-budget", type=float, default=600, help="training seconds per pilot")
    parser.add_argument("--pilot-num", type=int, default=2000, help="samples scored per pilot (validation FID)")
    parser.add_argument("--quick", action="store_true", help="toy sizes, into a temporary folder (writes no record)")
    args = parser.parse_args()
    if PILOT_SEED in args.seeds:
        raise SystemExit(f"--seeds: seed {PILOT_SEED} trained the pilots; the headline takes fresh seeds")
    if args.quick:  # toy sizes; its summary goes where common.py sends a --quick run's records, the rest to a temp folder
        tmp = Path(tempfile.mkdtemp(prefix="gan_vs_dcgan-quick-"))
        OUT, WORK = tmp / "results", tmp / "work"
        args.budget, args.slice, args.pilot_budget, args.num, args.pilot_num = 2, 1, 1, 64, 64
        args.seeds = args.seeds[:1]
        LR_SCALES = (1.0,)  # two pilots a side
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for step in args.steps or ["pilots", "race", "report"]:
        {"pilots": pilots, "race": race, "report": report}[step](args)


if __name__ == "__main__":
    main()
