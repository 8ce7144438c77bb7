"""Our diffusion family against Hugging Face diffusers on the same CPU, the same MNIST digits, interleaved.

Needs diffusers, which noisecraft does not depend on: run it from the benchmark venv (benchmarks/README.md).
Every choice is made on the validation split (the last 10,000 training digits, held out of every training
run by `data.hold_out_validation`); only the headline is scored on test, with sample seeds nothing else used.

  python benchmarks/diffusion_vs_diffusers.py speed                 # train img/s, time to sample 64: 10+ rounds
  python benchmarks/diffusion_vs_diffusers.py pilot --budget 300    # 4 pilots a side (lr, batch), FID on validation
  python benchmarks/diffusion_vs_diffusers.py train --budget 1800   # each side's best pilot, seeds 0 1 2, side by side
  python benchmarks/diffusion_vs_diffusers.py train --models swap --seeds 0   # our UNet under diffusers' recipe
  python benchmarks/diffusion_vs_diffusers.py quality               # 4 samplers a side x NFE, N=1000, validation
  python benchmarks/diffusion_vs_diffusers.py ddim                  # the DDIM anomaly: evidence, seed-0 model
  python benchmarks/diffusion_vs_diffusers.py replay                # recorded runs whose weights are not here
  python benchmarks/diffusion_vs_diffusers.py headline              # 10k samples a seed, best setting, test
  python benchmarks/diffusion_vs_diffusers.py report                # results/diffusion_vs_diffusers.json
  python benchmarks/diffusion_vs_diffusers.py --quick               # all of the above at toy size, in a temp dir

Resumable: one file per configuration under results/diffusion_vs_diffusers/ (speed-rounds.json, pilots/,
train/, grid-validation/n1000/, ddim/, headline/; skipped when it exists; none shares a name with the
old record's files, which scored the grid on test); the training runs resume from their last checkpoint.
`train` copies each recorded seed's weights to benchmarks/models/diffusion_vs_diffusers/ (~5 MB a model); the
grid, DDIM and headline steps read them there when _work/ lacks the run. A session's machine may keep nothing
ignored or untracked (benchmarks/models/ included: it lost them all once), so `replay` rebuilds a recorded run
whose weights are gone: its seed, setting and recorded number of steps, the LR's cosine over steps, recorded
under train/replay/; each headline record names the training record of the weights it scored (`training`).
Pilots compare only on one CPU: a time budget buys ~3x more steps on a bf16 AVX-512 CPU than on an AVX2 one,
so the pilot step will not resume on another CPU (each record names its `cpu`).

The models. ours: the `mnist-diffusion` recipe (EDM, our UNet, 1.21M parameters). diffusers: a
`UNet2DModel` with the same layout (channels 32/64/64, one res block a level, attention at 7x7, scale-shift
time conditioning: 1.19M parameters) trained by the recipe of diffusers'
`examples/unconditional_image_generation/train_unconditional.py` (DDPM linear schedule, epsilon prediction,
AdamW, 500 warm-up steps then cosine, EMA with warm-up to 0.9999, gradient clip 1). swap: our UNet in that
very loop, with diffusers' schedulers for sampling: only the network differs from `diffusers`, so
diffusers vs swap measures the network, swap vs ours the recipe. (The other swap, diffusers' UNet under our
EDM recipe, would change two things at once: our trainer would have to host a foreign network and feed its
time embedding EDM's noise labels.)

Equal treatment. Samplers: the same four algorithms a side, each library's own code: ancestral DDPM
(DDPMScheduler / ours), DDIM (eta 0), DPM-Solver++(2M) (DPMSolverMultistepScheduler) and Heun
(HeunDiscreteScheduler), all driven by diffusers' generic loop (scale_model_input, unet, step) at equal
network evaluations (Heun spends 2 steps - 1). Pilots: the same grid for both (learning rate x0.5, x1, x2
at the side's own batch, and x1 at the other side's batch), the same budget, scored the same way. Speed:
the same timed region (loss with its noise draw, backward, optimizer step) on batches made beforehand.

The DDIM anomaly. The old record had diffusers' DDIM getting worse with more steps (FID 84 at 20, 138 at
100) while its DPM-Solver improved. Cause: the harness built DDIMScheduler from the DDPM training config,
which carries `clip_sample=True`. diffusers' DDIM step then clips its x0 estimate to [-1, 1] but keeps the
network's epsilon (`use_clipped_model_output=False`), so x_prev = sqrt(a_prev) clip(x0) + sqrt(1 - a_prev) eps
no longer tends to x_t as the step shrinks: each step removes sqrt(a_prev) (x0 - clip(x0)) however small it
is, and 100 steps remove it 100 times. The DDIM paper's sampler does not clip. Evidence (`ddim` records it;
--quick asserts the first two on every run):
- one step of 1/1000 (1,000 inference steps) from a state whose x0 estimate leaves [-1, 1] moves it by 1.10
  of its norm with clip_sample, by 0.007 without it, 0.001 with `use_clipped_model_output=True`;
- a toy with a known answer: the exact epsilon of 512 training digits (so samples should land on a digit),
  plus a 20% systematic error (eps + 0.2 x_t, as an imperfect network's) so that x0 estimates leave [-1, 1].
  RMS distance of 128 DDIM samples to the nearest digit at NFE 10/20/50/100/250: clip_sample 0.002, 0.002,
  0.017, 1.276, 1.306 (fine at few steps, off the data from ~100: the recorded pattern); without clipping,
  or with use_clipped_model_output, 0.002 at every NFE. With the exact epsilon every variant gives 0.000
  (clipping never acts), so the anomaly needs both an imperfect model and the clipped step;
- FID (validation) vs NFE of each variant on the trained seed-0 diffusers model (results/.../ddim/).
Fix: DDIM runs with `clip_sample=False`. `timestep_spacing` (trailing is no better: 0.056 at NFE 10, 1.290
at 100 in the toy; leading starts at t=990, not 999) and `set_alpha_to_one` move alpha_bar by < 1e-4 and
are left at diffusers' defaults; ancestral DDPM keeps `clip_sample=True`, as train_unconditional.py samples
(its posterior mean keeps x_t, so the step stays consistent). Each grid record holds the scheduler config.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import common
import numpy as np
import torch
import torch.nn.functional as F
from stats import mean_sd

HERE = Path(__file__).resolve().parent
RECIPE = "mnist-diffusion"
SAMPLERS = ("ddpm", "ddim", "dpmpp-2m", "heun")  # the same four a side
NFES = (10, 20, 50, 100)
MODELS = ("ours", "diffusers", "swap")  # swap: our UNet in diffusers' loop and samplers
DEFAULTS = {"ours": {"lr": 1e-3, "batch": 128}, "diffusers": {"lr": 1e-4, "batch": 16}}  # recipe / example
LR_FACTORS = (1.0, 0.5, 2.0)  # pilots: these at the side's own batch, then x1 at the other side's batch
PILOT_SAMPLER, PILOT_NFE = "dpmpp-2m", 20
# Sample seeds, never shared between stages: pilots 1, grid 2, DDIM evidence 3, headline 1000 + training seed.
PILOT_SEED, GRID_SEED, DDIM_SEED, HEADLINE_SEED = 1, 2, 3, 1000
METRICS = ["fid", "kid", "pr", "cfid", "classes"]
# keep: the trained seed models, which the grid and headline (later sessions, fresh machines without _work/) need.
state = SimpleNamespace(work=HERE / "_work" / "diffusion", out=common.RESULTS / "diffusion_vs_diffusers",
                        keep=common.MODELS / "diffusion_vs_diffusers", limit=None, metrics=METRICS)


# --- data and models ----------------------------------------------------------------------------------
def data_config(split_limit: bool = True):
    """The recipe's data with the validation digits held out of training (the toy limit under --quick)."""
    from noisecraft.models.registry import load_recipe

    data = load_recipe(RECIPE).recipe.data.model_copy(update={"hold_out_validation": True})
    return data.model_copy(update={"limit": state.limit}) if state.limit and split_limit else data


def images(split: str = "train") -> torch.Tensor:
    from noisecraft.data import build_dataset

    return build_dataset(data_config(), split).images  # uint8 N x 1 x 28 x 28: the same for both sides


def our_model():
    from noisecraft.data import build_dataset
    from noisecraft.models.diffusion import DiffusionModel
    from noisecraft.models.registry import load_recipe

    return DiffusionModel(load_recipe(RECIPE).model, build_dataset(data_config(), "train").spec)


class OurUNet(torch.nn.Module):
    """Our network behind diffusers' call convention, `unet(x, t).sample`: the swap run's model. Our UNet
    takes the DDPM step as its noise label, as our own `objective: eps` feeds it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = our_model().unet

    def forward(self, x: torch.Tensor, t) -> SimpleNamespace:
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(len(x))
        return SimpleNamespace(sample=self.net(x, t, None))


def their_network(model: str) -> torch.nn.Module:
    if model == "swap":
        return OurUNet()
    from diffusers import UNet2DModel

    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8,
                       attention_head_dim=16, resnet_time_scale_shift="scale_shift")


def training_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", prediction_type="epsilon")


def their_scheduler(sampler: str, **override):
    """diffusers' scheduler for `sampler`, from the training config, with the harness's one change: DDIM
    without x0 clipping (the module docstring says why)."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, HeunDiscreteScheduler

    kinds = {"ddpm": (DDPMScheduler, {}), "ddim": (DDIMScheduler, {"clip_sample": False}),
             "dpmpp-2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
             "heun": (HeunDiscreteScheduler, {})}
    cls, fixed = kinds[sampler]
    return cls.from_config(training_scheduler().config, **{**fixed, **override})


def their_loss(unet, scheduler, x0: torch.Tensor) -> torch.Tensor:
    noise = torch.randn_like(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),))
    return F.mse_loss(unet(scheduler.add_noise(x0, noise, t), t).sample, noise)


def steps_for(sampler: str, nfe: int) -> int:
    from noisecraft.models.diffusion import steps_for_nfe

    return steps_for_nfe(sampler, nfe)  # Heun: 2 steps - 1 evaluations, on both sides


# --- sampling -------------------------------------------------------------------------------------------------
@torch.no_grad()
def sample_ours(model, sampler: str, nfe: int, num: int, generator: torch.Generator) -> torch.Tensor:
    return model.sample(num, generator=generator, sampler=sampler, steps=steps_for(sampler, nfe))


@torch.no_grad()
def sample_theirs(unet, sampler: str, nfe: int, num: int, generator: torch.Generator, **override) -> torch.Tensor:
    """diffusers' generic denoising loop (what its pipelines run), images in [0, 1]."""
    scheduler = their_scheduler(sampler, **{k: v for k, v in override.items() if k != "use_clipped_model_output"})
    scheduler.set_timesteps(steps_for(sampler, nfe))
    step_kwargs = {"ddpm": {"generator": generator},
                   "ddim": {"eta": 0.0, "use_clipped_model_output": override.get("use_clipped_model_output", False)}}
    x = torch.randn((num, 1, 28, 28), generator=generator) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        eps = unet(scheduler.scale_model_input(x, t), t).sample
        x = scheduler.step(eps, t, x, **step_kwargs.get(sampler, {})).prev_sample
    return (x / 2 + 0.5).clamp(0, 1)


def sample(model_name: str, model, sampler: str, nfe: int, num: int, generator: torch.Generator) -> torch.Tensor:
    fn = sample_ours if model_name == "ours" else sample_theirs
    return fn(model, sampler, nfe, num, generator)


def generate(model_name: str, model, sampler: str, nfe: int, num: int, seed: int, batch: int = 250,
             chunks: Path | None = None) -> tuple[torch.Tensor, float]:
    """`num` samples from one seeded generator, in batches; with `chunks`, each batch is saved with the
    generator's state after it, so an interrupted run resumes with the same samples. Returns the samples
    and the seconds spent sampling (summed over sessions)."""
    generator = torch.Generator().manual_seed(seed)
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
        parts.append(sample(model_name, model, sampler, nfe, min(batch, num - start), generator))
        seconds += time.perf_counter() - t
        if path is not None:
            save_chunk(path, {"images": parts[-1], "generator_state": generator.get_state(),
                              "seconds": torch.tensor(time.perf_counter() - t)})
            print(f"{model_name}: {start + len(parts[-1])}/{num} samples", flush=True)
    return torch.cat(parts), seconds


def chunk_features(samples: torch.Tensor, chunks: Path, batch: int = 250) -> tuple[np.ndarray, float]:
    """The samples' Inception features, saved a chunk at a time like the samples, so that scoring 10k
    (~70 min at one thread) resumes across sessions too. Returns them and the seconds spent (summed)."""
    from noisecraft.evaluate.inception import InceptionFeatures

    extractor, parts, seconds = InceptionFeatures(), [], 0.0
    for index, start in enumerate(range(0, len(samples), batch)):
        path = chunks / f"features-{index:03d}.pt"
        if path.exists():
            saved = torch.load(path, weights_only=True)
        else:
            t = time.perf_counter()
            features = torch.from_numpy(extractor(samples[start : start + batch]))
            saved = {"features": features, "seconds": torch.tensor(time.perf_counter() - t)}
            save_chunk(path, saved)
            print(f"features: {start + len(features)}/{len(samples)}", flush=True)
        parts.append(saved["features"].numpy())
        seconds += float(saved["seconds"])
    return np.concatenate(parts), seconds


def save_chunk(path: Path, chunk: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(chunk, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)


def choice_metric() -> str:
    """What every choice minimizes: FID (classifier FID in --quick, which skips Inception)."""
    return "fid" if "fid" in state.metrics else "classifier_fid"


def score(samples: torch.Tensor, split: str, seed: int, metrics: list[str] | None = None,
          fake_features: np.ndarray | None = None) -> dict:
    from noisecraft.evaluate.evaluator import score_samples

    info = {"num_samples": len(samples), "seed": seed, "split": split}
    return {"protocol": info, **score_samples(samples, data_config(), split, metrics or state.metrics, info,
                                              progress=False, fake_features=fake_features)}


# --- training runs --------------------------------------------------------------------------------------------
def run_dir(model: str, tag: str) -> Path:
    return state.work / tag / model


def train_command(model: str, tag: str, budget: float, lr: float, batch: int, seed: int,
                  steps: int | None = None) -> list[str]:
    """One side's training run: a wall-clock budget, or (a replay) a fixed number of steps with the LR's
    cosine over steps instead of seconds."""
    if model == "ours":
        length = {"train.max_steps": steps, "train.max_seconds": "null"} if steps else {"train.max_seconds": budget}
        sets = {**length, "train.lr": lr, "train.batch_size": batch, "train.seed": seed,
                "data.hold_out_validation": "true", **({"data.limit": state.limit, "train.num_samples": 4} if state.limit else {})}
        cmd = [str(Path(sys.executable).with_name("noisecraft")), "train", RECIPE, "--out", str(run_dir(model, tag))]
        cmd += [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
        return cmd + (["--resume"] if (run_dir(model, tag) / "checkpoints").exists() else [])
    return [sys.executable, __file__, "train-diffusers", "--out", str(run_dir(model, tag)), "--network", model,
            "--budget", str(budget), "--lr", str(lr), "--batch", str(batch), "--seed", str(seed),
            *(["--steps", str(steps)] if steps else []), *(["--limit", str(state.limit)] if state.limit else [])]


def train_side_by_side(jobs: dict[str, list[str]], tag: str, threads: int) -> None:
    """The runs at once, `threads` each, so they share the machine's conditions; each resumes."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    (state.work / tag).mkdir(parents=True, exist_ok=True)
    logs = {m: open(state.work / tag / f"{m}-train.log", "a") for m in jobs}
    try:
        procs = {m: subprocess.Popen(cmd, env=env, stdout=logs[m], stderr=subprocess.STDOUT) for m, cmd in jobs.items()}
        codes = {m: p.wait() for m, p in procs.items()}
    finally:
        for log in logs.values():
            log.close()
    if any(codes.values()):
        sys.exit(f"training failed ({codes}); see {state.work / tag}/*-train.log")


def weights(model: str) -> Path:
    """What sampling needs of a trained run: our model folder, or the peer loop's EMA weights."""
    return Path("model") if model == "ours" else Path("ema.safetensors")


def trained_path(model: str, tag: str) -> Path | None:
    """The run's weights in _work/, else the copy `keep` made when the run was recorded; None if neither."""
    for path in (run_dir(model, tag) / weights(model), state.keep / f"{model}-{tag}" / weights(model)):
        if path.exists():
            return path
    return None


def trained(model: str, tag: str) -> bool:
    return trained_path(model, tag) is not None


def keep(model: str, tag: str) -> None:
    """Copy a recorded run's weights (~5 MB) to benchmarks/models/, which outlives the machine's _work/."""
    source, target = run_dir(model, tag) / weights(model), state.keep / f"{model}-{tag}" / weights(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def load_trained(model: str, tag: str):
    path = trained_path(model, tag)
    if path is None:
        sys.exit(f"no trained {model} model for {tag} in {run_dir(model, tag)} or {state.keep}: run `train` first")
    if model == "ours":
        import noisecraft

        return noisecraft.load(path)
    from safetensors.torch import load_file

    net = their_network(model)
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def saved_training(model: str, tag: str) -> dict | None:
    """The counters of the run's last checkpoint here (our loop's state, or diffusers' loop's state.pt); None
    before its first."""
    if model == "ours":
        from dataclasses import asdict

        from noisecraft.train.checkpoint import read_loop_state
        from noisecraft.utils.paths import RunDir

        saved = read_loop_state(RunDir(run_dir(model, tag)).last_checkpoint)
        return asdict(saved) if saved else None
    path = run_dir(model, tag) / "state.pt"
    if not path.exists():
        return None
    saved = torch.load(path, weights_only=True)
    return {k: saved[k] for k in ("step", "seconds", "batch_size", "lr")} | {"examples_seen": saved["step"] * saved["batch_size"]}


def training_summary(model: str, tag: str) -> dict:
    if (saved := saved_training(model, tag)) is None:
        raise FileNotFoundError(f"{run_dir(model, tag)}: no checkpoint yet")
    return saved


def train_diffusers(args) -> None:
    """diffusers' train_unconditional.py recipe as a plain loop (its Accelerate wrapper adds nothing on one
    CPU process), for diffusers' UNet or ours (swap). The cosine follows the wall clock, as ours does, or
    the step count in a replay (`--steps`)."""
    from diffusers.training_utils import EMAModel
    from safetensors.torch import save_file

    state.limit = args.limit
    torch.manual_seed(args.seed)
    data = images("train")
    unet, scheduler = their_network(args.network), training_scheduler()
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    ema = EMAModel(unet.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    out, run = Path(args.out), {"step": 0, "seconds": 0.0, "batch_size": args.batch, "lr": args.lr}
    if (out / "state.pt").exists():
        run = torch.load(out / "state.pt", weights_only=True)
        unet.load_state_dict(run.pop("unet")), opt.load_state_dict(run.pop("opt")), ema.load_state_dict(run.pop("ema"))
        torch.set_rng_state(run.pop("rng"))

    def save() -> None:
        out.mkdir(parents=True, exist_ok=True)
        torch.save({**run, "unet": unet.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(),
                    "rng": torch.get_rng_state()}, out / "state.pt.tmp")
        os.replace(out / "state.pt.tmp", out / "state.pt")
        export = their_network(args.network)
        ema.copy_to(export.parameters())
        save_file({k: v.contiguous() for k, v in export.state_dict().items()}, str(out / "ema.safetensors"))

    warmup, per_epoch = 500, max(1, len(data) // args.batch)
    last_save, window = time.perf_counter(), []
    while (run["step"] < args.steps) if args.steps else (run["seconds"] < args.budget):
        epoch, index = divmod(run["step"], per_epoch)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        x = data[order[index * args.batch:(index + 1) * args.batch]].float() / 127.5 - 1
        start = time.perf_counter()
        factor = (run["step"] + 1) / warmup if run["step"] < warmup else \
            0.5 * (1 + math.cos(math.pi * min(1.0, run["step"] / args.steps if args.steps else run["seconds"] / args.budget)))
        for group in opt.param_groups:
            group["lr"] = args.lr * factor
        loss = their_loss(unet, scheduler, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.step(unet.parameters())
        run["seconds"] += time.perf_counter() - start
        run["step"] += 1
        window.append(float(loss.detach()))
        if run["step"] % 200 == 0:
            budget = f"/{args.steps} steps" if args.steps else f" {run['seconds']:.0f}/{args.budget}s"
            print(f"step {run['step']}{budget} loss {statistics.mean(window):.4f}", flush=True)
            window = []
        if time.perf_counter() - last_save > 300:
            save()
            last_save = time.perf_counter()
    save()


# --- pilots: learning rate and batch, the same grid for both sides ---------------------------------------------
def pilot_grid(model: str) -> list[tuple[float, int]]:
    own, other = DEFAULTS[model]["batch"], DEFAULTS["diffusers" if model == "ours" else "ours"]["batch"]
    return [(DEFAULTS[model]["lr"] * f, own) for f in LR_FACTORS] + [(DEFAULTS[model]["lr"], other)]


def pilot(args) -> None:
    """Pilot i of both sides trains at once, then each is scored on validation (FID of N samples at
    DPM-Solver++(2M), 20 NFE); one file a pilot. A time budget buys different work on different CPUs, so
    pilots resume only on the CPU the first ones ran on."""
    for done in sorted((state.out / "pilots").glob("*.json")):
        if (cpu := json.loads(done.read_text()).get("cpu")) != common.START["cpu"]:
            sys.exit(f"{done} ran on CPU {cpu!r}, this machine is {common.START['cpu']!r}: a {args.budget:g}-s pilot "
                     "buys different work on each, so the pilots would not compare; finish them on that CPU, or "
                     "move results/diffusion_vs_diffusers/pilots/ aside and run all of them here")
    for i in range(args.count):
        tag, jobs = f"pilot{i}", {}
        for model in ("ours", "diffusers"):
            lr, batch = pilot_grid(model)[i]
            if not (state.out / "pilots" / f"{model}-{i}.json").exists():  # resumes, or returns at once when done
                jobs[model] = train_command(model, tag, args.budget, lr, batch, seed=0)
        if jobs:
            train_side_by_side(jobs, tag, args.threads)
        for model in ("ours", "diffusers"):
            path = state.out / "pilots" / f"{model}-{i}.json"
            if path.exists():
                continue
            lr, batch = pilot_grid(model)[i]
            samples, seconds = generate(model, load_trained(model, tag), PILOT_SAMPLER, args.nfe, args.num, PILOT_SEED)
            write(path, {"model": model, "lr": lr, "batch_size": batch, "budget_seconds": args.budget,
                         "sampler": PILOT_SAMPLER, "nfe": args.nfe, "training": training_summary(model, tag),
                         **score(samples, "validation", PILOT_SEED, [m for m in state.metrics if m in ("fid", "cfid")])})


def chosen_setting(model: str) -> dict:
    """The pilot with the lowest validation FID (diffusers' for the swap run: it is diffusers' recipe)."""
    side = "diffusers" if model == "swap" else model
    rows = [json.loads(p.read_text()) for p in sorted((state.out / "pilots").glob(f"{side}-*.json"))]
    if not rows:
        sys.exit(f"no pilots for {side} in {state.out / 'pilots'}: run the `pilot` step first")
    best = min(rows, key=lambda r: r["metrics"][choice_metric()])
    return {"lr": best["lr"], "batch": best["batch_size"], "chosen_among": len(rows)}


def train(args) -> None:
    for seed in args.seeds:
        tag = f"seed{seed}"
        jobs = {m: train_command(m, tag, args.budget, chosen_setting(m)["lr"], chosen_setting(m)["batch"], seed)
                for m in args.models if not (state.out / "train" / f"{m}-{tag}.json").exists()}
        if not jobs:
            continue
        train_side_by_side(jobs, tag, args.threads)
        for m in jobs:
            write(state.out / "train" / f"{m}-{tag}.json", {"model": m, "seed": seed, "budget_seconds": args.budget,
                                                            "threads_each": args.threads, "run": str(run_dir(m, tag)),
                                                            "setting": chosen_setting(m), **training_summary(m, tag)})
            keep(m, tag)


# --- speed: the same timed region, interleaved rounds ---------------------------------------------------------
def speed(args) -> None:
    torch.manual_seed(0)
    data = images("train")
    ours, theirs, scheduler = our_model(), their_network("diffusers"), training_scheduler()
    params = {"ours": ours.num_parameters(), "diffusers": sum(p.numel() for p in theirs.parameters())}
    opts = {"ours": torch.optim.Adam(ours.parameters(), 1e-4), "diffusers": torch.optim.Adam(theirs.parameters(), 1e-4)}
    raw = [data[torch.randint(0, len(data), (args.batch,))].float() / 255 for _ in range(args.steps)]
    batches = {"ours": raw, "diffusers": [x * 2 - 1 for x in raw]}  # each side's input range, made beforehand
    losses = {"ours": lambda x: ours({"x": x}).loss, "diffusers": lambda x: their_loss(theirs, scheduler, x)}

    def train_steps(name: str, bf16: bool) -> float:
        """Timed: the loss (with its noise draw), backward, optimizer step; the same region for both."""
        start = time.perf_counter()
        for x in batches[name]:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = losses[name](x)
            loss.backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
        return len(batches[name]) * args.batch / (time.perf_counter() - start)

    nets = {"ours": ours, "diffusers": theirs}
    train_r = {f"{n}-{p}": [] for n in nets for p in ("fp32", "bf16")}
    sample_r = {f"{n}-{s}": [] for n in nets for s in ("dpmpp-2m", "ddim")}
    for r in range(args.rounds + 1):  # round 0 warms up (first steps allocate) and is not kept
        order = ("ours", "diffusers") if r % 2 == 0 else ("diffusers", "ours")
        for precision in ("fp32", "bf16"):
            for name in order:
                ips = train_steps(name, precision == "bf16")
                if r:
                    train_r[f"{name}-{precision}"].append(ips)
        ours.eval(), theirs.eval()
        for name in order:
            for s in ("dpmpp-2m", "ddim"):
                start = time.perf_counter()
                sample(name, nets[name], s, args.nfe, 64, torch.Generator().manual_seed(r))
                if r:
                    sample_r[f"{name}-{s}"].append(time.perf_counter() - start)
        ours.train(), theirs.train()
        if r:
            print(f"round {r}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in train_r.items()), flush=True)
    ratios = {f"train_images_per_s_{p}": spread([a / b for a, b in zip(train_r[f"ours-{p}"], train_r[f"diffusers-{p}"])])
              for p in ("fp32", "bf16")}
    ratios |= {f"sample_64_time_{s}_nfe{args.nfe}": spread([a / b for a, b in zip(sample_r[f"ours-{s}"], sample_r[f"diffusers-{s}"])])
               for s in ("dpmpp-2m", "ddim")}
    write(state.out / "speed-rounds.json", {"parameters": params, "batch_size": args.batch, "steps_per_round": args.steps,
                                     "rounds": args.rounds, "nfe": args.nfe, "train_images_per_s": train_r,
                                     "sample_64_seconds": sample_r, "ratios_per_round": ratios})


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


# --- quality grid (validation) and headline (test) ----------------------------------------------------------
def quality(args) -> None:
    """The NFE grid on the seed-0 models, cheapest first, against the validation digits; one file each.
    Processes given disjoint `--nfe` or `--models` lists share the grid without racing for a cell."""
    models = [m for m in args.models if trained(m, "seed0")]
    for nfe in args.nfe:
        for model in models:
            for sampler in SAMPLERS:
                path = state.out / "grid-validation" / f"n{args.num}" / f"{model}-{sampler}-nfe{nfe}.json"
                if path.exists():
                    continue
                samples, seconds = generate(model, load_trained(model, "seed0"), sampler, nfe, args.num, GRID_SEED)
                result = score(samples, "validation", GRID_SEED)
                config = None if model == "ours" else {k: v for k, v in their_scheduler(sampler).config.items()
                                                       if not k.startswith("_") and k != "trained_betas"}
                write(path, {"model": model, "sampler": sampler, "nfe": nfe, "steps": steps_for(sampler, nfe),
                             "scheduler_config": config, "sampling_seconds": seconds, **result})


def replay(args) -> None:
    """Rebuild the recorded training runs whose weights this machine lacks (a session's machine keeps
    nothing ignored, benchmarks/models/ included): each record's seed, setting and number of steps, with
    the LR's cosine over steps instead of seconds (near the same schedule at a steady step time). Not bit for bit
    the lost weights (this CPU's kernels round differently), the same run otherwise; train/replay/ records
    each, and a headline record names the training record of the weights it scored."""
    for seed in args.seeds:
        tag, jobs, recorded = f"seed{seed}", {}, {}
        for m in args.models:
            path = state.out / "train" / f"{m}-{tag}.json"
            if path.exists() and needs_replay(m, tag, (rec := json.loads(path.read_text()))["step"]):
                recorded[m] = rec
                jobs[m] = train_command(m, tag, rec["budget_seconds"], rec["setting"]["lr"], rec["setting"]["batch"],
                                        seed, steps=rec["step"])
        if not jobs:
            continue
        train_side_by_side(jobs, tag, args.threads)
        for m, rec in recorded.items():
            write(state.out / "train" / "replay" / f"{m}-{tag}.json",
                  {"model": m, "seed": seed, "replay_of": f"train/{m}-{tag}.json", "replay_of_commit": rec["commit"],
                   "replay_of_cpu": rec["cpu"], "threads_each": args.threads, "run": str(run_dir(m, tag)),
                   "setting": rec["setting"], **training_summary(m, tag)})
            keep(m, tag)


def needs_replay(model: str, tag: str, steps: int) -> bool:
    """No weights here, or a run here short of the recorded steps (a replay stopped part way)."""
    if not run_dir(model, tag).exists():
        return not trained(model, tag)
    saved = saved_training(model, tag)
    return saved is None or saved["step"] < steps


def training_record(model: str, tag: str) -> str:
    """Which training record describes the weights here: the replay's where one was made."""
    replayed = state.out / "train" / "replay" / f"{model}-{tag}.json"
    return str((replayed if replayed.exists() else state.out / "train" / f"{model}-{tag}.json").relative_to(state.out))


def grid_rows(num: int) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((state.out / "grid-validation").glob(f"n{num}/*.json"))]


def headline(args) -> None:
    """Each model's best grid setting (lowest validation FID), N samples per training seed against test,
    with a sample seed (1000 + training seed) that no pilot or grid used."""
    grid = grid_rows(args.grid_num)
    for model in args.models:
        rows = [r for r in grid if r["model"] == model]
        for seed in args.seeds:
            path = state.out / "headline" / f"{model}-seed{seed}.json"
            if path.exists() or not rows:
                continue
            if not trained(model, f"seed{seed}"):
                recorded = (state.out / "train" / f"{model}-seed{seed}.json").exists()
                print(f"headline: skipped {model} seed {seed}: " + ("its training is recorded but its weights are not on "
                      "this machine: run `replay` first" if recorded else "not trained: run `train` first"), flush=True)
                continue
            best = min(rows, key=lambda r: r["metrics"][choice_metric()])
            chunks = state.work / "headline" / f"{model}-seed{seed}-{best['sampler']}-nfe{best['nfe']}-n{args.num}"
            samples, seconds = generate(model, load_trained(model, f"seed{seed}"), best["sampler"], best["nfe"],
                                        args.num, HEADLINE_SEED + seed, chunks=chunks)
            metrics = [m for m in state.metrics if m != "classes"]
            features, inception_seconds = chunk_features(samples, chunks) if "fid" in metrics else (None, None)
            write(path, {"model": model, "training_seed": seed, "training": training_record(model, f"seed{seed}"),
                         "sampler": best["sampler"], "nfe": best["nfe"],
                         "chosen_by": f"lowest validation {choice_metric()} at N={args.grid_num}", "chosen_among": len(rows),
                         "sampling_seconds": seconds, "inception_seconds": inception_seconds,
                         **score(samples, "test", HEADLINE_SEED + seed, metrics, features)})


# --- the DDIM anomaly ------------------------------------------------------------------------------------------
DDIM_VARIANTS = {  # file name: (label, DDIMScheduler overrides)
    "clip-sample": ("as recorded (clip_sample)", {"clip_sample": True}),
    "no-clip": ("fixed (clip_sample=False)", {}),
    "clip-sample-clipped-eps": ("clip_sample + use_clipped_model_output", {"clip_sample": True, "use_clipped_model_output": True}),
    "clip-sample-trailing": ("clip_sample + trailing spacing", {"clip_sample": True, "timestep_spacing": "trailing"})}


def ddim_consistency(**override) -> float:
    """How far one DDIM step of 1/1000 moves a state whose x0 estimate leaves [-1, 1], relative to its norm.
    A consistent step moves it by O(1/1000); the clipped-x0, unclipped-eps step by a finite amount."""
    from diffusers import DDIMScheduler

    use_clipped = override.pop("use_clipped_model_output", False)
    scheduler = DDIMScheduler.from_config(training_scheduler().config, **{"clip_sample": False, **override})
    scheduler.set_timesteps(1000)
    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(16, 1, 28, 28, generator=g), torch.randn(16, 1, 28, 28, generator=g) * 0.9
    t = scheduler.timesteps[500]  # x0 estimate (x - sqrt(1 - a) eps) / sqrt(a) reaches |x0| > 1 here
    prev = scheduler.step(eps, t, x, eta=0.0, use_clipped_model_output=use_clipped).prev_sample
    return float((prev - x).norm() / x.norm())


class EmpiricalEpsilon(torch.nn.Module):
    """The exact epsilon of the empirical distribution of `digits` (K x 784, in [-1, 1]) plus a systematic
    error `error * x_t`: a stand-in for a trained network, whose x0 estimate leaves [-1, 1] at high noise
    (the exact one never does, so clipping never acts on it)."""

    def __init__(self, digits: torch.Tensor, error: float) -> None:
        super().__init__()
        self.digits, self.error, self.alpha_bar = digits, error, training_scheduler().alphas_cumprod

    def forward(self, x: torch.Tensor, t) -> SimpleNamespace:
        a, flat = self.alpha_bar[int(t)], x.flatten(1)
        weights = (-torch.cdist(flat, a.sqrt() * self.digits).pow(2) / (2 * (1 - a))).softmax(1)
        eps = (flat - a.sqrt() * (weights @ self.digits)) / (1 - a).sqrt()
        return SimpleNamespace(sample=(eps + self.error * flat).view_as(x))


def ddim_toy(override: dict, nfe: int, error: float, num: int = 128) -> float:
    """RMS pixel distance (in [-1, 1] units) from DDIM samples of the empirical model to the nearest digit:
    ~0 when the sampler converges to the data, ~1 when it leaves it."""
    digits = images("train")[:512].float().div(127.5).sub(1).flatten(1)
    x = sample_theirs(EmpiricalEpsilon(digits, error), "ddim", nfe, num, torch.Generator().manual_seed(DDIM_SEED), **override)
    return float(torch.cdist((x * 2 - 1).flatten(1), digits).min(1).values.mean() / math.sqrt(digits.shape[1]))


def ddim(args) -> None:
    """Evidence, one file each: every variant's one-step consistency and its empirical-model toy vs NFE (exact
    epsilon, and with a 20% systematic error) in ddim/evidence.json (seconds); then FID (validation) of each
    variant x NFE on the seed-0 diffusers model, cheapest NFE first. Processes given disjoint `--nfe` lists
    share the cells without racing."""
    out = state.out / "ddim"
    if not (out / "evidence.json").exists():
        consistency = {label: ddim_consistency(**dict(v)) for label, v in DDIM_VARIANTS.values()}
        toy = {f"error {e}": {label: {f"nfe{n}": ddim_toy(dict(v), n, e) for n in (*NFES, 250)}
                              for label, v in DDIM_VARIANTS.values()} for e in (0.0, 0.2)}
        write(out / "evidence.json", {"one_step_relative_move_at_1000_steps": consistency,
                                      "empirical_model_rms_to_nearest_digit": toy, "seed": DDIM_SEED})
    model = None
    for nfe in args.nfe:
        for name, (label, override) in DDIM_VARIANTS.items():
            path = out / f"{name}-nfe{nfe}-n{args.num}.json"
            if path.exists():
                continue
            model = model or load_trained("diffusers", "seed0")
            start = time.perf_counter()
            x = sample_theirs(model, "ddim", nfe, args.num, torch.Generator().manual_seed(DDIM_SEED), **override)
            seconds = time.perf_counter() - start
            result = score(x, "validation", DDIM_SEED, args.metrics)
            result["metrics"]["saturated_pixel_share"] = float(((x < 0.02) | (x > 0.98)).float().mean())
            write(path, {"model": "diffusers", "training_seed": 0, "sampler": "ddim", "variant": label,
                         "overrides": override, "nfe": nfe, "sampling_seconds": seconds, **result})


def ddim_rows(out: Path) -> dict:
    """The `ddim` files gathered for the report: evidence, and FID etc. by variant and NFE."""
    if not (out / "ddim" / "evidence.json").exists():
        return {}
    read = lambda p: json.loads(p.read_text())  # noqa: E731
    by_variant: dict[str, dict] = {}
    for c in sorted((read(p) for p in (out / "ddim").glob("*-nfe*.json")), key=lambda c: c["nfe"]):
        by_variant.setdefault(c["variant"], {})[f"nfe{c['nfe']}"] = {"num": c["protocol"]["num_samples"], **c["metrics"]}
    return {**read(out / "ddim" / "evidence.json"), "by_variant": by_variant}


# --- report -----------------------------------------------------------------------------------------------------
def verdict(ours: list[float], theirs: list[float]) -> str:
    """Lower is better. Under 5% apart is a tie unless >= 3 paired seeds all show it."""
    ratio = statistics.mean(ours) / statistics.mean(theirs)
    pairs = list(zip(ours, theirs))
    consistent = len(pairs) >= 3 and (all(a < b for a, b in pairs) or all(a > b for a, b in pairs))
    if abs(ratio - 1) < 0.05 and not consistent:
        return "tie"
    winner = "ours" if ratio < 1 else "diffusers"
    return winner + (" (every seed)" if consistent else f" ({len(pairs)} seed(s): not yet a claim)" if len(pairs) < 3 else " (not every seed)")


def report(args) -> None:
    read = lambda p: json.loads(p.read_text()) if p.exists() else None  # noqa: E731
    grid = grid_rows(args.grid_num)
    table = {f"{r['model']}/{r['sampler']}/nfe{r['nfe']}": {k: r["metrics"].get(k) for k in ("fid", "kid", "classifier_fid", "precision", "recall")}
             for r in grid}
    heads = {m: [read(p) for p in sorted((state.out / "headline").glob(f"{m}-seed*.json"))] for m in MODELS}
    fids = {m: [h["metrics"][choice_metric()] for h in rows] for m, rows in heads.items() if rows}
    summary, result = [], {"speed": read(state.out / "speed-rounds.json"), "ddim": ddim_rows(state.out),
                           "pilots": [read(p) for p in sorted((state.out / "pilots").glob("*.json"))],
                           "train": [read(p) for p in sorted((state.out / "train").glob("*.json"))],
                           "train_replays": [read(p) for p in sorted((state.out / "train" / "replay").glob("*.json"))],
                           "quality_grid_num": args.grid_num, "quality_validation": table,
                           "headline_test": {m: {choice_metric(): mean_sd(v), "settings": sorted({f"{h['sampler']}/nfe{h['nfe']}" for h in heads[m]}),
                                                 "training": [h.get("training", f"train/{m}-seed{h['training_seed']}.json") for h in heads[m]]}
                                             for m, v in fids.items()}}
    result["train_cpus"] = sorted({r["cpu"] for r in result["train"] if r and "cpu" in r})
    if len(result["train_cpus"]) > 1:  # time budgets: a faster CPU trains more steps, so seeds add its variance
        summary.append(f"training ran on {len(result['train_cpus'])} CPUs: " + "; ".join(result["train_cpus"]))
    if result["train_replays"]:
        summary.append(f"{len(result['train_replays'])} headline model(s) replayed to their recorded steps: " +
                       ", ".join(f"{r['model']} seed {r['seed']}" for r in result["train_replays"]))
    if result["speed"]:
        r = result["speed"]["ratios_per_round"]["train_images_per_s_fp32"]
        summary.append(f"train img/s ours/diffusers {r['median']:.2f} (min {r['min']:.2f}, max {r['max']:.2f}, {r['n']} rounds)")
    if "ours" in fids and "diffusers" in fids:
        result["headline_verdict"] = verdict(fids["ours"], fids["diffusers"])
        summary.append(f"headline {choice_metric()} (test) " + ", ".join(
            f"{m} {statistics.mean(v):.1f}" + (f" +- {statistics.stdev(v):.1f}" if len(v) > 1 else "") + f" (n={len(v)})"
            for m, v in fids.items()) + f": {result['headline_verdict']}")
    best = {m: min((r for r in grid if r["model"] == m), key=lambda r: r["metrics"][choice_metric()], default=None) for m in MODELS}
    if all(best.values()):  # diffusers -> swap: the network alone; swap -> ours: the recipe (and library)
        summary.append(f"best validation {choice_metric()} (N={args.grid_num}, seed 0): " + ", ".join(
            f"{m} {r['metrics'][choice_metric()]:.1f} ({r['sampler']}/{r['nfe']})" for m, r in best.items()))
    if result["ddim"]:
        c = result["ddim"]["one_step_relative_move_at_1000_steps"]
        summary.append(f"DDIM one 1/1000 step moves the state {c['as recorded (clip_sample)']:.2f} with clip_sample, "
                       f"{c['fixed (clip_sample=False)']:.4f} without")
    common.write_result("diffusion_vs_diffusers", result, "ours vs diffusers: " + "; ".join(summary))


def write(path: Path, record: dict) -> None:
    print(f"wrote {common.write_record(path, record)}", flush=True)


# --- --quick: every step end to end at toy size, into a temp dir -----------------------------------------------
def quick() -> None:
    """Toy sizes, nothing under results/: the same code paths as a real run, and the DDIM fix pinned."""
    with tempfile.TemporaryDirectory(prefix="diffusion-quick-") as tmp:
        state.work, state.out, state.limit, state.metrics = Path(tmp) / "work", Path(tmp) / "out", 64, ["cfid", "classes"]
        state.keep = Path(tmp) / "keep"
        common.DRAFT = True  # a temp dir, never results/: from any tree
        # The DDIM fix, pinned: the recorded setting leaves the data at 100 steps, the harness's does not.
        recorded, fixed = ddim_consistency(clip_sample=True), ddim_consistency()
        assert fixed < 0.01 < 0.1 < recorded, f"DDIM step consistency: clipped {recorded:.3f}, harness {fixed:.4f}"
        toy = {n: (ddim_toy({"clip_sample": True}, n, 0.2), ddim_toy({}, n, 0.2)) for n in (10, 100)}
        assert toy[10][0] < 0.05 and toy[100][0] > 0.5, f"the recorded anomaly no longer reproduces: {toy}"
        assert max(toy[10][1], toy[100][1]) < 0.05, f"the harness's DDIM leaves the data: {toy}"
        ns = argparse.Namespace
        speed(ns(batch=4, steps=1, rounds=2, nfe=3))
        pilot(ns(count=1, budget=2.0, threads=1, num=16, nfe=3))
        train(ns(seeds=[0], budget=2.0, threads=1, models=["ours", "diffusers", "swap"]))
        shutil.rmtree(state.work / "seed0")  # as on the next session's fresh machine: the rest reads the kept models
        assert all(trained(m, "seed0") for m in MODELS), f"train kept no models in {state.keep}"
        quality(ns(nfe=[3], num=16, models=list(MODELS)))
        ddim(ns(nfe=[3, 6], num=16, metrics=["cfid"]))
        shutil.rmtree(state.keep / "diffusers-seed0")  # as on a machine that lost them: replay its recorded steps
        replay(ns(seeds=[0], threads=1, models=list(MODELS)))
        redone = json.loads((state.out / "train" / "replay" / "diffusers-seed0.json").read_text())
        assert redone["step"] == json.loads((state.out / "train" / "diffusers-seed0.json").read_text())["step"], redone
        assert not (state.out / "train" / "replay" / "ours-seed0.json").exists(), "replayed a run whose weights were here"
        headline(ns(grid_num=16, num=16, seeds=[0], models=list(MODELS)))
        assert json.loads((state.out / "headline" / "diffusers-seed0.json").read_text())["training"] == "train/replay/diffusers-seed0.json"
        from noisecraft.evaluate.inception import InceptionFeatures  # the headline's features, chunked and resumed

        images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        features, _ = chunk_features(images, state.work / "features", batch=4)
        (state.work / "features" / "features-001.pt").unlink()  # as if the session ended there
        again, _ = chunk_features(images, state.work / "features", batch=4)
        whole = InceptionFeatures()(images)
        assert np.allclose(features, whole, atol=1e-4) and np.allclose(again, whole, atol=1e-4), "chunked features differ"
        common.RESULTS = state.out  # the report too (a draft: the README table stays as it is)
        report(ns(grid_num=16))
        record = json.loads((state.out / "diffusion_vs_diffusers.json").read_text())
        assert record["headline_test"]["ours"]["classifier_fid"]["n"] == 1 and len(record["quality_validation"]) == 12
        assert [r["model"] for r in record["train_replays"]] == ["diffusers"], record["train_replays"]
        assert record["headline_test"]["diffusers"]["training"] == ["train/replay/diffusers-seed0.json"], record["headline_test"]
        assert all(len(v) == 2 for v in record["ddim"]["by_variant"].values()) and len(record["ddim"]["by_variant"]) == 4
    print(f"quick: every step ran; DDIM one-step move clipped {recorded:.3f}, harness {fixed:.5f}; empirical-model "
          f"RMS to the data at NFE 10/100: clipped {toy[10][0]:.3f}/{toy[100][0]:.3f}, harness {toy[10][1]:.3f}/{toy[100][1]:.3f}")


def peer_python() -> None:
    """Re-run under the benchmark venv when this interpreter lacks diffusers (benchmarks/run.py starts plain
    `python`); without that venv, one clear error."""
    if importlib.util.find_spec("diffusers") is None:
        venv = HERE.parent / ".venv-diffusers" / "bin" / "python"
        if venv.exists() and Path(sys.executable).absolute() != venv:
            os.execv(venv, [str(venv), __file__, *sys.argv[1:], *(["--draft"] * common.DRAFT)])
        print("error: diffusion_vs_diffusers.py needs diffusers, which noisecraft does not depend on: run "
              "benchmarks/setup_diffusers_venv.sh once (it makes .venv-diffusers), then run this again", file=sys.stderr)
        sys.exit(2)


def model_names(text: str) -> list[str]:
    """A comma list of MODELS; an unknown name is one argparse error naming it."""
    names = text.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    return names


def main() -> None:
    peer_python()
    if "--quick" in sys.argv:
        return quick()
    seeds = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--nfe", type=int, default=20)
    p = sub.add_parser("pilot")
    p.add_argument("--budget", type=float, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--count", type=int, default=len(LR_FACTORS) + 1, choices=range(1, len(LR_FACTORS) + 2))
    p.add_argument("--num", type=int, default=1000)
    p.add_argument("--nfe", type=int, default=PILOT_NFE)
    p = sub.add_parser("train")
    p.add_argument("--budget", type=float, default=1800)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=seeds, default=[0, 1, 2])
    p.add_argument("--models", type=model_names, default=["ours", "diffusers"])
    p = sub.add_parser("train-diffusers")  # one side's run, started by `train` and `pilot`
    for name, kind in (("--out", str), ("--network", str), ("--budget", float), ("--lr", float), ("--batch", int),
                       ("--seed", int), ("--steps", int), ("--limit", int)):
        p.add_argument(name, type=kind, required=name not in ("--steps", "--limit"))
    p = sub.add_parser("quality")
    p.add_argument("--num", type=int, default=1000)
    p.add_argument("--nfe", type=seeds, default=list(NFES))
    p.add_argument("--models", type=model_names, default=list(MODELS))
    p = sub.add_parser("ddim")
    p.add_argument("--num", type=int, default=500)
    p.add_argument("--nfe", type=seeds, default=list(NFES))
    p.add_argument("--metrics", type=lambda s: s.split(","), default=["fid", "cfid", "pr"])
    p = sub.add_parser("replay")  # the recorded runs whose weights are not here, to their recorded steps
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=seeds, default=[0, 1, 2])
    p.add_argument("--models", type=model_names, default=list(MODELS))
    p = sub.add_parser("headline")
    p.add_argument("--num", type=int, default=10000)
    p.add_argument("--grid-num", type=int, default=1000)
    p.add_argument("--seeds", type=seeds, default=[0, 1, 2])
    p.add_argument("--models", type=model_names, default=list(MODELS))
    p = sub.add_parser("report")
    p.add_argument("--grid-num", type=int, default=1000)
    args = parser.parse_args()
    {"speed": speed, "pilot": pilot, "train": train, "train-diffusers": train_diffusers, "replay": replay,
     "quality": quality, "ddim": ddim, "headline": headline, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
