"""Our diffusion family against Hugging Face diffusers on the same CPU, the same MNIST batches, interleaved.

Needs diffusers, which noisecraft does not depend on: run it from the benchmark venv (benchmarks/README.md).

  python benchmarks/diffusion_vs_diffusers.py speed               # (a) train img/s, (b) time to sample 64
  python benchmarks/diffusion_vs_diffusers.py train --budget 1800 # both models, same wall clock, at once
  python benchmarks/diffusion_vs_diffusers.py quality --num 1000  # (c) FID/KID/PR + classifier, NFE grid
  python benchmarks/diffusion_vs_diffusers.py headline            # 10k-sample FID, each model's best setting
  python benchmarks/diffusion_vs_diffusers.py report              # results/diffusion_vs_diffusers.json

Every step is resumable: one result file per configuration under results/diffusion_vs_diffusers/, and the
training runs resume from their last checkpoint. The models: our `mnist-diffusion` recipe (EDM, 1.21M
parameters) and a diffusers `UNet2DModel` with the same layout (channels 32/64/64, one res block per level,
attention at 7x7, scale-shift time conditioning: 1.19M parameters), trained with the recipe of diffusers'
`examples/unconditional_image_generation/train_unconditional.py` (DDPM linear schedule, epsilon
prediction, AdamW 1e-4, 500 warm-up steps then cosine, EMA with warm-up to 0.9999, batch 16).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (records the environment first)
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "diffusion"
OURS_RUN, THEIRS_DIR = WORK / "ours", WORK / "diffusers"
OUT = common.RESULTS / "diffusion_vs_diffusers"
RECIPE = "mnist-diffusion"
NFES = (10, 20, 50, 100)
GRID = [("ours", "dpmpp-2m"), ("ours", "ddim"), ("ours", "heun"), ("ours", "ddpm"),
        ("diffusers", "dpm-solver"), ("diffusers", "ddim")]
SWEEP_METRICS = ["fid", "kid", "pr", "cfid", "classes"]


# --- the two models ------------------------------------------------------------------------------------
def recipe():
    from noisecraft.models.registry import load_recipe

    return load_recipe(RECIPE)


def train_images() -> torch.Tensor:
    from noisecraft.data import build_dataset

    return build_dataset(recipe().recipe.data, "train").images  # uint8 N x 1 x 28 x 28: the same for both


def our_model():
    from noisecraft.models.diffusion import DiffusionModel

    from noisecraft.data import build_dataset

    resolved = recipe()
    return DiffusionModel(resolved.model, build_dataset(resolved.recipe.data, "train").spec)


def their_unet():
    from diffusers import UNet2DModel

    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8,
                       attention_head_dim=16, resnet_time_scale_shift="scale_shift")


def their_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", prediction_type="epsilon")


def their_loss(unet, scheduler, x0: torch.Tensor) -> torch.Tensor:
    noise = torch.randn_like(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),))
    return F.mse_loss(unet(scheduler.add_noise(x0, noise, t), t).sample, noise)


# --- (a) training speed, (b) sampling time ----------------------------------------------------------------
def speed(args) -> None:
    torch.manual_seed(0)
    images = train_images()
    ours, theirs, scheduler = our_model(), their_unet(), their_scheduler()
    params = {"ours": ours.num_parameters(), "diffusers": sum(p.numel() for p in theirs.parameters())}
    opts = {"ours": torch.optim.Adam(ours.parameters(), 1e-4), "diffusers": torch.optim.Adam(theirs.parameters(), 1e-4)}
    batches = [images[torch.randint(0, len(images), (args.batch,))].float() / 255 for _ in range(args.steps)]

    def train_steps(name: str, bf16: bool) -> float:
        start = time.perf_counter()
        for x in batches:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = ours({"x": x}).loss if name == "ours" else their_loss(theirs, scheduler, x * 2 - 1)
            loss.backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
        return len(batches) * args.batch / (time.perf_counter() - start)

    samplers = {"ours": {"dpmpp-2m": lambda g: sample_ours(ours, "dpmpp-2m", args.nfe, 64, g),
                         "ddim": lambda g: sample_ours(ours, "ddim", args.nfe, 64, g)},
                "diffusers": {"dpm-solver": lambda g: sample_theirs(theirs, "dpm-solver", args.nfe, 64, g),
                              "ddim": lambda g: sample_theirs(theirs, "ddim", args.nfe, 64, g)}}
    ours.eval(), theirs.eval()
    for s in [*samplers["ours"].values(), *samplers["diffusers"].values()]:  # warm-up
        s(torch.Generator().manual_seed(0))
    ours.train(), theirs.train()
    train = {f"{n}-{p}": [] for n in ("ours", "diffusers") for p in ("fp32", "bf16")}
    sample = {f"{n}-{s}": [] for n in samplers for s in samplers[n]}
    for precision in ("fp32", "bf16"):  # warm-up rounds (first steps allocate)
        for name in ("ours", "diffusers"):
            train_steps(name, precision == "bf16")
    for r in range(args.rounds):
        order = ("ours", "diffusers") if r % 2 == 0 else ("diffusers", "ours")
        for precision in ("fp32", "bf16"):
            for name in order:
                train[f"{name}-{precision}"].append(train_steps(name, precision == "bf16"))
        ours.eval(), theirs.eval()
        for name in order:
            for s, fn in samplers[name].items():
                start = time.perf_counter()
                fn(torch.Generator().manual_seed(r))
                sample[f"{name}-{s}"].append(time.perf_counter() - start)
        ours.train(), theirs.train()
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in train.items()), flush=True)
    med = {k: statistics.median(v) for k, v in {**train, **sample}.items()}
    ratios = {
        "train_images_per_s_fp32": med["ours-fp32"] / med["diffusers-fp32"],
        "train_images_per_s_bf16": med["ours-bf16"] / med["diffusers-bf16"],
        f"sample_64_time_dpm_nfe{args.nfe}": med["ours-dpmpp-2m"] / med["diffusers-dpm-solver"],
        f"sample_64_time_ddim_nfe{args.nfe}": med["ours-ddim"] / med["diffusers-ddim"],
    }
    record = {"parameters": params, "batch_size": args.batch, "steps_per_round": args.steps, "rounds": args.rounds,
              "nfe": args.nfe, "train_images_per_s": train, "sample_64_seconds": sample, "medians": med, "ratios": ratios}
    write(OUT / "speed.json", record)
    print(json.dumps({"medians": med, "ratios": ratios}, indent=2))


# --- training: both models, the same wall-clock budget, side by side ----------------------------------
def train(args) -> None:
    """Both runs at once, `--threads` each, so they share the machine's conditions; each resumes."""
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    noisecraft = Path(sys.executable).with_name("noisecraft")
    ours = [str(noisecraft), "train", RECIPE, "--out", str(OURS_RUN), "--set", f"train.max_seconds={args.budget}"]
    if (OURS_RUN / "checkpoints").exists():
        ours.append("--resume")
    theirs = [sys.executable, __file__, "train-diffusers", "--budget", str(args.budget)]
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / "ours-train.log", "a") as log_ours, open(WORK / "diffusers-train.log", "a") as log_theirs:
        procs = [subprocess.Popen(ours, env=env, stdout=log_ours, stderr=subprocess.STDOUT),
                 subprocess.Popen(theirs, env=env, stdout=log_theirs, stderr=subprocess.STDOUT)]
        codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"training failed ({codes}); see {WORK}/*-train.log")
    state = torch.load(THEIRS_DIR / "state.pt", weights_only=True)
    from dataclasses import asdict

    from noisecraft.utils.paths import RunDir
    from noisecraft.train.checkpoint import read_loop_state

    ours_state = asdict(read_loop_state(RunDir(OURS_RUN).last_checkpoint))
    write(OUT / "train.json", {"budget_seconds": args.budget, "threads_each": args.threads,
                               "ours": {"run": str(OURS_RUN), **ours_state},
                               "diffusers": {"steps": state["step"], "seconds": state["seconds"],
                                             "examples_seen": state["step"] * state["batch_size"]}})


def train_diffusers(args) -> None:
    """diffusers' train_unconditional.py recipe, as a plain loop (its Accelerate wrapper adds nothing on
    one CPU process). The cosine decay follows the wall clock, as ours does under a time budget."""
    from diffusers.training_utils import EMAModel

    torch.manual_seed(args.seed)
    images = train_images()
    unet, scheduler = their_unet(), their_scheduler()
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    ema = EMAModel(unet.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    state = {"step": 0, "seconds": 0.0, "batch_size": args.batch}
    if (THEIRS_DIR / "state.pt").exists():
        state = torch.load(THEIRS_DIR / "state.pt", weights_only=True)
        unet.load_state_dict(state.pop("unet")), opt.load_state_dict(state.pop("opt")), ema.load_state_dict(state.pop("ema"))
        torch.set_rng_state(state.pop("rng"))
    warmup = 500

    def lr_factor() -> float:
        if state["step"] < warmup:
            return (state["step"] + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, state["seconds"] / args.budget)))

    per_epoch = len(images) // args.batch
    last_save, window = time.perf_counter(), []
    while state["seconds"] < args.budget:
        epoch, index = divmod(state["step"], per_epoch)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        x = images[order[index * args.batch:(index + 1) * args.batch]].float() / 127.5 - 1
        start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = 1e-4 * lr_factor()
        loss = their_loss(unet, scheduler, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.step(unet.parameters())
        state["seconds"] += time.perf_counter() - start
        state["step"] += 1
        window.append(float(loss.detach()))
        if state["step"] % 200 == 0:
            print(f"step {state['step']} loss {statistics.mean(window):.4f} {state['seconds']:.0f}/{args.budget}s", flush=True)
            window = []
        if time.perf_counter() - last_save > 300 or state["seconds"] >= args.budget:
            save_theirs(unet, opt, ema, state)
            last_save = time.perf_counter()


def save_theirs(unet, opt, ema, state) -> None:
    THEIRS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = THEIRS_DIR / "state.pt.tmp"
    torch.save({**state, "unet": unet.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(),
                "rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, THEIRS_DIR / "state.pt")
    export = their_unet()
    ema.copy_to(export.parameters())
    export.save_pretrained(THEIRS_DIR / "ema-unet")


# --- sampling both ------------------------------------------------------------------------------------------
@torch.no_grad()
def sample_ours(model, sampler: str, nfe: int, num: int, generator: torch.Generator) -> torch.Tensor:
    from noisecraft.models.diffusion import steps_for_nfe

    return model.sample(num, generator=generator, sampler=sampler, steps=steps_for_nfe(sampler, nfe))


@torch.no_grad()
def sample_theirs(unet, sampler: str, nfe: int, num: int, generator: torch.Generator) -> torch.Tensor:
    """diffusers' own pipelines: DDIMPipeline (eta 0), and DDPMPipeline driven by DPMSolverMultistepScheduler."""
    from diffusers import DDIMPipeline, DDIMScheduler, DDPMPipeline, DPMSolverMultistepScheduler

    config = their_scheduler().config
    if sampler == "ddim":
        pipe = DDIMPipeline(unet=unet, scheduler=DDIMScheduler.from_config(config))
        kwargs = {"eta": 0.0}
    else:
        pipe = DDPMPipeline(unet=unet, scheduler=DPMSolverMultistepScheduler.from_config(config))
        kwargs = {}
    pipe.set_progress_bar_config(disable=True)
    images = pipe(batch_size=num, generator=generator, num_inference_steps=nfe, output_type="np", **kwargs).images
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def load_trained(name: str):
    if name == "ours":
        import noisecraft

        return noisecraft.load(OURS_RUN)
    from diffusers import UNet2DModel

    return UNet2DModel.from_pretrained(THEIRS_DIR / "ema-unet").eval()


def generate(name: str, model, sampler: str, nfe: int, num: int, seed: int, batch: int = 250,
             chunks: Path | None = None) -> tuple[torch.Tensor, float]:
    """`num` samples from one seeded generator, in batches; with `chunks`, each batch is saved with the
    generator's state after it, so an interrupted run resumes and yields the same samples. Returns the
    samples and the seconds spent sampling (summed over sessions)."""
    generator = torch.Generator().manual_seed(seed)
    fn = sample_ours if name == "ours" else sample_theirs
    parts, seconds = [], 0.0
    for index, start in enumerate(range(0, num, batch)):
        path = chunks / f"chunk-{index:03d}.pt" if chunks is not None else None
        if path is not None and path.exists():
            saved = torch.load(path, weights_only=True)
            generator.set_state(saved["generator_state"])
            parts.append(saved["images"])
            seconds += float(saved["seconds"])
            continue
        t = time.perf_counter()
        parts.append(fn(model, sampler, nfe, min(batch, num - start), generator))
        seconds += time.perf_counter() - t
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"images": parts[-1], "generator_state": generator.get_state(),
                        "seconds": torch.tensor(time.perf_counter() - t)}, path.with_suffix(".tmp"))
            os.replace(path.with_suffix(".tmp"), path)
            print(f"{name}: {start + len(parts[-1])}/{num} samples", flush=True)
    return torch.cat(parts), seconds


# --- (c) quality ----------------------------------------------------------------------------------------------
def quality(args) -> None:
    """The NFE grid, cheapest first; one file per (model, sampler, NFE), skipped when it exists."""
    from noisecraft.evaluate.evaluator import score_samples

    models: dict = {}
    data = recipe().recipe.data
    for nfe in args.nfe:
        for name, sampler in GRID:
            path = OUT / "quality" / f"n{args.num}" / f"{name}-{sampler}-nfe{nfe}.json"
            if path.exists():
                continue
            model = models.setdefault(name, load_trained(name))
            samples, seconds = generate(name, model, sampler, nfe, args.num, args.seed)
            info = {"name": "sweep" if args.num == 2000 else f"sweep at N={args.num}", "num_samples": args.num,
                    "seed": args.seed, "split": "test"}
            scores = score_samples(samples, data, "test", SWEEP_METRICS, info, progress=False)
            write(path, {"model": name, "sampler": sampler, "nfe": nfe, "steps": steps_of(name, sampler, nfe),
                         "sampling_seconds": seconds, "protocol": info, **scores})
            print(f"{name} {sampler} NFE {nfe}: FID {scores['metrics']['fid']:.2f} "
                  f"cFID {scores['metrics']['classifier_fid']:.2f}", flush=True)


def steps_of(name: str, sampler: str, nfe: int) -> int:
    from noisecraft.models.diffusion import steps_for_nfe

    return steps_for_nfe(sampler, nfe) if name == "ours" else nfe


def headline(args) -> None:
    """10k samples at each model's best grid setting (lowest FID), against all 10k test images."""
    from noisecraft.evaluate.evaluator import score_samples

    grid = [json.loads(p.read_text()) for p in (OUT / "quality").glob(f"n{args.grid_num}/*.json")]
    data = recipe().recipe.data
    for name in ("ours", "diffusers"):
        path = OUT / f"headline-{name}.json"
        rows = [r for r in grid if r["model"] == name]
        if path.exists() or not rows:
            continue
        best = min(rows, key=lambda r: r["metrics"]["fid"])
        chunks = WORK / "headline" / f"{name}-{best['sampler']}-nfe{best['nfe']}-n{args.num}-seed{args.seed}"
        samples, seconds = generate(name, load_trained(name), best["sampler"], best["nfe"], args.num, args.seed,
                                    chunks=chunks)  # resumable: a session may end mid-way
        info = {"name": "headline", "num_samples": args.num, "seed": args.seed, "split": "test"}
        scores = score_samples(samples, data, "test", ["fid", "kid", "pr"], info, progress=True)
        write(path, {"model": name, "sampler": best["sampler"], "nfe": best["nfe"], "chosen_by": f"lowest FID at N={args.grid_num}",
                     "chosen_among": sorted(f"{r['sampler']}/nfe{r['nfe']}" for r in rows),
                     "sampling_seconds": seconds, "protocol": info, **scores})


# --- report ---------------------------------------------------------------------------------------------------
def report(args) -> None:
    read = lambda p: json.loads(p.read_text()) if p.exists() else None  # noqa: E731
    speed_r, train_r = read(OUT / "speed.json"), read(OUT / "train.json")
    grid = sorted((json.loads(p.read_text()) for p in (OUT / "quality").glob(f"n{args.grid_num}/*.json")),
                  key=lambda r: (r["model"], r["sampler"], r["nfe"]))
    heads = {n: read(OUT / f"headline-{n}.json") for n in ("ours", "diffusers")}
    table = {f"{r['model']}/{r['sampler']}/nfe{r['nfe']}": {k: r["metrics"][k] for k in ("fid", "kid", "classifier_fid", "precision", "recall")}
             for r in grid}
    targets = {}
    if speed_r:
        targets["train_images_per_s_ratio_fp32 (target >= 1.3)"] = speed_r["ratios"]["train_images_per_s_fp32"]
        targets["sample_time_ratio_dpm (target <= 0.8)"] = next(v for k, v in speed_r["ratios"].items() if k.startswith("sample_64_time_dpm"))
    ours_best = {s: {r["nfe"]: r["metrics"]["fid"] for r in grid if r["model"] == "ours" and r["sampler"] == s}
                 for s in {r["sampler"] for r in grid if r["model"] == "ours"}}
    for s, by_nfe in ours_best.items():
        if 10 in by_nfe and 100 in by_nfe:
            targets[f"fid10_over_fid100_{s} (target <= 1.15)"] = by_nfe[10] / by_nfe[100]
    if grid:
        best = {n: min((r["metrics"]["fid"] for r in grid if r["model"] == n), default=None) for n in ("ours", "diffusers")}
        if None not in best.values():
            targets[f"best_fid_ours_over_diffusers_N{args.grid_num} (target < 1)"] = best["ours"] / best["diffusers"]
    if all(heads.values()):
        targets["headline_fid_ours_over_diffusers (target < 1)"] = heads["ours"]["metrics"]["fid"] / heads["diffusers"]["metrics"]["fid"]
    parts = [f"{k.split(' ')[0]} {v:.2f}" for k, v in targets.items()]
    common.write_result("diffusion_vs_diffusers", {"speed": speed_r, "train": train_r, "quality_grid_num": args.grid_num,
                                                   "quality": table, "headline": heads, "ratios": targets},
                        "ours/diffusers: " + "; ".join(parts))


def write(path: Path, record: dict) -> None:
    print(f"wrote {common.write_record(path, record)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--nfe", type=int, default=20)
    p = sub.add_parser("train")
    p.add_argument("--budget", type=float, default=1800)
    p.add_argument("--threads", type=int, default=1)
    p = sub.add_parser("train-diffusers")
    p.add_argument("--budget", type=float, default=1800)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    seeded = argparse.ArgumentParser(add_help=False)
    seeded.add_argument("--seed", type=int, default=0)
    graded = argparse.ArgumentParser(add_help=False)
    graded.add_argument("--grid-num", type=int, default=2000, help="the quality grid's N to read")
    p = sub.add_parser("quality", parents=[seeded])
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--nfe", type=lambda s: [int(v) for v in s.split(",")], default=list(NFES))
    p = sub.add_parser("headline", parents=[seeded, graded])
    p.add_argument("--num", type=int, default=10000)
    sub.add_parser("report", parents=[graded])
    args = parser.parse_args()
    {"speed": speed, "train": train, "train-diffusers": train_diffusers, "quality": quality,
     "headline": headline, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
