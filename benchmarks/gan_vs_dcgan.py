"""Our GAN recipe against the classic DCGAN, each trained on MNIST for the same wall-clock budget, interleaved.

    python benchmarks/gan_vs_dcgan.py                      # 30 minutes each, in 5-minute slices, then FID
    python benchmarks/gan_vs_dcgan.py --budget 600 --slice 120 --num 2000   # a quicker look

The reference is written here from the paper (Radford, Metz & Chintala 2016, "Unsupervised Representation
Learning with Deep Convolutional GANs", section 3 and 4), in plain PyTorch and its own training loop, so
that nothing of ours is in it: the generator projects z (100-d, uniform in the paper; here Gaussian, as in
PyTorch's DCGAN example) with a fractionally-strided convolution, then fractionally-strided convolutions
with batch norm and ReLU, tanh out; the discriminator has strided convolutions with batch norm (none on
its input layer) and LeakyReLU 0.2, no pooling and no fully connected hidden layer; weights from N(0, 0.02);
Adam lr 2e-4, beta1 0.5; batch 128; the non-saturating loss. Sized for 28x28 (7 -> 14 -> 28) with
PyTorch's example widths (ngf = ndf = 64). Samples are drawn in training mode (batch statistics, as the
paper's and PyTorch's code do).

Ours is the `mnist-gan` recipe as shipped (hinge loss, spectral norm, two time-scale learning rates, EMA
generator), trained by `noisecraft.fit` with `train.max_seconds`.

Interleaved: the two take turns, a slice each (a resumed run continues exactly), so a noisy machine slows
both alike. Each model's training, then its score, is one result file; a session may end anywhere and the
next run goes on from the files and checkpoints. Score: the headline protocol (10k samples against the
10k MNIST test digits: Inception FID, KID, precision/recall) plus the shipped classifier's FID and class
coverage.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import common  # noqa: F401  (environment at start)
import torch
import torch.nn.functional as F
from torch import nn

OUT = common.RESULTS / "gan_vs_dcgan"
WORK = common.HERE / "_work" / "gan_vs_dcgan"
RECIPE = "mnist-gan"
METRICS = ["fid", "kid", "pr", "cfid", "classes"]


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

    nz, batch = 100, 128

    def __init__(self, folder: Path, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.folder, self.g, self.d = folder, DCGANGenerator(self.nz), DCGANDiscriminator()
        self.g.apply(dcgan_init)
        self.d.apply(dcgan_init)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.rng = torch.Generator().manual_seed(seed)
        self.step, self.seconds, self.order, self.cursor = 0, 0.0, None, 0
        if (folder / "state.pt").exists():
            self.load()

    def train_until(self, images: torch.Tensor, seconds: float) -> None:
        """Train until `seconds` of training in total (over all calls), then save."""
        start, before = time.perf_counter(), self.seconds
        while self.seconds < seconds:
            x = self.next_batch(images)
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
            self.step += 1
            self.seconds = before + time.perf_counter() - start
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


# --- ours -----------------------------------------------------------------------------------------------------
def our_seconds(run: Path) -> float:
    from noisecraft.train.checkpoint import read_loop_state
    from noisecraft.utils.paths import RunDir

    state = read_loop_state(RunDir(run).last_checkpoint) if (run / "checkpoints").exists() else None
    return state.train_seconds if state else 0.0


def train_ours_until(seconds: float) -> None:
    import noisecraft

    run = WORK / "ours"
    noisecraft.fit(RECIPE, out=run, overrides=[f"train.max_seconds={seconds:g}", "train.max_steps=1000000000"],
                     resume=(run / "checkpoints" / "last").exists(), progress=False)


# --- the run --------------------------------------------------------------------------------------------------
def train_both(budget: float, slice_seconds: float) -> None:
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset

    images = build_dataset(load_recipe(RECIPE).recipe.data, "train").images  # uint8 N x 1 x 28 x 28: the same data
    reference = DCGAN(WORK / "dcgan")
    target = 0.0
    while reference.seconds < budget - 1 or our_seconds(WORK / "ours") < budget - 1:
        target = min(budget, target + slice_seconds)
        if our_seconds(WORK / "ours") < target - 1:
            train_ours_until(target)
        if reference.seconds < target - 1:
            reference.train_until(images, target)
        print(f"slice to {target:.0f} s: ours {our_seconds(WORK / 'ours'):.0f} s, dcgan {reference.seconds:.0f} s "
              f"({reference.step} steps)", flush=True)


def score(name: str, num: int, seed: int) -> None:
    path = OUT / f"{name}-n{num}.json"
    if path.exists():
        return
    from noisecraft.models.registry import load_recipe
    from noisecraft.evaluate.evaluator import evaluate_run, score_samples

    t = time.perf_counter()
    if name == "ours":
        evaluation = evaluate_run(WORK / "ours", protocol="headline", num=num, seed=seed, metrics=",".join(METRICS),
                                  progress=True, write=False)
        from noisecraft.train.checkpoint import read_loop_state
        from noisecraft.utils.paths import RunDir

        state = read_loop_state(RunDir(WORK / "ours").last_checkpoint)
        record = {"metrics": evaluation["metrics"], "protocol": evaluation["protocol"],
                  "parameters": evaluation["model"]["parameters"], "train_seconds": state.train_seconds,
                  "train_steps": state.step, "train_images": state.examples_seen}
    else:
        reference = DCGAN(WORK / "dcgan")
        info = {"name": "headline" if num == 10000 else f"headline at N={num}", "num_samples": num, "seed": seed,
                "split": "test"}
        scores = score_samples(reference.sample(num, seed), load_recipe(RECIPE).recipe.data, "test", METRICS, info)
        params = sum(p.numel() for p in [*reference.g.parameters(), *reference.d.parameters()])
        record = {"metrics": scores["metrics"], "protocol": info, "parameters": params,
                  "train_seconds": reference.seconds, "train_steps": reference.step,
                  "train_images": reference.step * reference.batch}
    record.update(model=name, num=num, score_seconds=time.perf_counter() - t,
                  train_images_per_s=record["train_images"] / record["train_seconds"])
    common.write_record(path, record)
    print(f"{name}: FID {record['metrics']['fid']:.2f} at N={num}", flush=True)


def report(num: int, budget: float) -> None:
    rows = {n: json.loads((OUT / f"{n}-n{num}.json").read_text()) for n in ("ours", "dcgan")
            if (OUT / f"{n}-n{num}.json").exists()}
    if len(rows) < 2:
        return
    ours, ref = rows["ours"]["metrics"], rows["dcgan"]["metrics"]
    ratios = {"fid_ours_over_dcgan": ours["fid"] / ref["fid"], "kid_ours_over_dcgan": ours["kid"] / ref["kid"],
              "classifier_fid_ours_over_dcgan": ours["classifier_fid"] / ref["classifier_fid"],
              "train_images_per_s_ours_over_dcgan": rows["ours"]["train_images_per_s"] / rows["dcgan"]["train_images_per_s"]}
    summary = (f"GAN vs DCGAN reference, {budget / 60:.0f} min each (interleaved), N={num}: FID ours {ours['fid']:.2f} vs "
               f"dcgan {ref['fid']:.2f} ({ratios['fid_ours_over_dcgan']:.2f}x); KID {ours['kid']:.4f} vs {ref['kid']:.4f}; "
               f"target (lower FID) {'met' if ours['fid'] < ref['fid'] else 'missed'}")
    common.write_result("gan_vs_dcgan", {"budget_seconds": budget, "num": num, "rows": rows, "ratios": ratios,
                                         "target": {"fid_lower_than_dcgan": ours["fid"] < ref["fid"]}}, summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=1800, help="training seconds each (default 30 minutes)")
    parser.add_argument("--slice", type=float, default=300, help="seconds per turn")
    parser.add_argument("--num", type=int, default=10000, help="samples scored (headline: 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    train_both(args.budget, args.slice)
    for name in ("ours", "dcgan"):
        score(name, args.num, args.seed)
    report(args.num, args.budget)


if __name__ == "__main__":
    main()
