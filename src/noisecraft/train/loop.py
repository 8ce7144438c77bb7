"""The training loop: one loop, shared by every family, on Hugging Face Accelerate.

A family supplies its loss for each of its optimizers (`model(batch, optimizer=name)`); everything else
is here, in the order it happens: data -> model -> optimizers -> Accelerate -> resume -> steps
(backward, clip, step, EMA) -> logs, sample grids, checkpoints -> final model, loss plot.
Devices, DDP and mixed precision are Accelerate's; there is no device or distributed code of our own.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs, PartialState
from accelerate.state import AcceleratorState
from accelerate.utils import set_seed
from ema_pytorch import EMA
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from noisecraft.config import DataConfig, ResolvedRecipe, TrainConfig
from noisecraft.data import build_dataset
from noisecraft.data.base import DataSpec
from noisecraft.errors import CheckpointError, ConfigError, TrainingDiverged
from noisecraft.models.base import GenerativeModel
from noisecraft.models.registry import get_family, load_recipe
from noisecraft.sampling import write_samples_file
from noisecraft.train.precision import resolve_precision
from noisecraft.train.checkpoint import LoopState, load_checkpoint, read_loop_state, save_checkpoint
from noisecraft.train.trackers import CSVTracker, plot_loss
from noisecraft.utils.paths import RunDir, default_run_dir
from noisecraft.utils.version import __version__


# Tied weights (a transformer's output layer is its embedding) are saved once, by design: no warning.
logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)


def fit(recipe: str | Path | dict, out: str | Path | None = None, overrides: list[str] | None = None, *,
        resume: bool = False, progress: bool = True) -> Path:
    """Read, resolve and train a recipe (file, built-in name or dict) as `noisecraft train` does (a fresh
    runs/<name>[-N] unless `out` is given); returns the run folder. Public as `noisecraft.fit`."""
    resolved = load_recipe(recipe, overrides)
    out = Path(out) if out is not None else default_run_dir(resolved.recipe.name)
    return train(resolved, out, resume=resume, progress=progress).root


def train(resolved: ResolvedRecipe, out_dir: Path, *, resume: bool = False, progress: bool = True) -> RunDir:
    """Train the model a resolved recipe describes into the run folder `out_dir`."""
    try:
        return _train(resolved, Path(out_dir), resume=resume, progress=progress)
    finally:  # let a later run in this process choose its own precision
        AcceleratorState._reset_state(reset_partial_state=False)


def _train(resolved: ResolvedRecipe, out_dir: Path, *, resume: bool, progress: bool) -> RunDir:
    recipe, cfg = resolved.recipe, resolved.recipe.train
    run = RunDir(Path(out_dir))
    check_run_dir(run, resolved, resume)

    # --- data and model (seeded per process: each draws its own noise; DDP syncs the weights) -----
    # Under a distributed launcher without GPUs, Accelerate runs gloo on CPU only when told `cpu=True`.
    cpu = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
    processes = PartialState(cpu=cpu)
    set_seed(cfg.seed + processes.process_index)
    dataset, loader = training_data(recipe.data, cfg, processes.num_processes)
    model = get_family(resolved.model.family)(resolved.model, dataset.spec)
    layout = memory_layout(model, cfg.channels_last)
    groups = {name: list(params) for name, params in model.optimizer_groups().items()}
    state = LoopState()  # filled in place on resume: the LR schedule reads its clock
    optimizers, schedulers = make_optimizers(groups, cfg, state)

    # --- Accelerate: devices, processes, precision, trackers; then resume -------------------------
    precision = resolve_precision(cfg.precision, processes.device)
    accelerator = make_accelerator(run, cfg, cpu, processes.is_main_process, resume, several_optimizers=len(groups) > 1,
                                   precision=precision[0])
    if accelerator.is_main_process:
        run.root.mkdir(parents=True, exist_ok=True)
        write_config(run, resolved, precision, layout)  # on resume only the budget can differ: the run's config shows the new one
    training = prepare(accelerator, model, loader, groups, optimizers, schedulers, state, cfg)
    if resume:
        vars(state).update(vars(load_checkpoint(accelerator, run.last_checkpoint, training.ema)))
        accelerator.print(f"resuming {run.root} at step {state.step}")
    accelerator.init_trackers("tensorboard", config=flat_hparams(resolved.to_dict()))
    accelerator.print(f"{model.family}: {model.num_parameters():,} parameters; {len(dataset):,} training examples "
                      f"of shape {tuple(dataset.spec.shape)}{vocabulary(dataset.spec)}; {accelerator.num_processes} process(es) on "
                      f"{accelerator.device}; run folder {run.root}")

    run_steps(training, run, cfg, progress)

    # --- finish -----------------------------------------------------------------------------------
    accelerator.end_training()
    if accelerator.is_main_process:
        plot_loss(run.metrics, run.loss_plot, title=f"{recipe.name} ({model.family})")
        accelerator.print(f"done: {state.step} steps, {state.examples_seen:,} examples in "
                          f"{format_seconds(state.train_seconds)} of training; samples in {run.samples}, "
                          f"model in {run.model}")
    return run


def training_data(data: DataConfig, cfg: TrainConfig, num_processes: int) -> tuple[Dataset, DataLoader]:
    """The training split and its loader (shuffled from the seed; Accelerate shards it across processes)."""
    dataset = build_dataset(data, "train")
    batch_size = capped_batch_size(len(dataset), cfg.batch_size, num_processes)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed))
    return dataset, loader


def capped_batch_size(examples: int, batch_size: int, processes: int) -> int:
    """A data set smaller than one batch (a small folder of your own) trains on all of it each step."""
    if examples >= batch_size * processes:
        return batch_size
    if examples < processes:
        raise ConfigError(f"data: {examples} training example(s) for {processes} processes: each needs at least one")
    warnings.warn(f"{examples} training examples are fewer than one batch (train.batch_size={batch_size}"
                  f"{f' x {processes} processes' if processes > 1 else ''}): batches of {examples // processes}")
    return examples // processes


def make_optimizers(groups: dict[str, list[torch.nn.Parameter]], cfg: TrainConfig,
                    state: LoopState) -> tuple[dict[str, torch.optim.Optimizer], dict[str, Any]]:
    """AdamW and its LR schedule for each of the family's optimizers."""
    unknown = set(cfg.lr_by_optimizer) - set(groups)
    if unknown:
        raise ConfigError(f"train.lr_by_optimizer: unknown optimizer {sorted(unknown)} (this family has: {', '.join(groups)})")
    # fused: one kernel for all parameters (CPU and GPU); a tiny model's step is otherwise ~5% optimizer loop
    optimizers = {name: torch.optim.AdamW(params, lr=cfg.lr_by_optimizer.get(name, cfg.lr), betas=cfg.betas,
                                          weight_decay=cfg.weight_decay, fused=True) for name, params in groups.items()}
    schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, state)) for name, opt in optimizers.items()}
    return optimizers, schedulers


def make_accelerator(run: RunDir, cfg: TrainConfig, cpu: bool, main_process: bool, resume: bool, precision: str,
                     several_optimizers: bool) -> Accelerator:
    """Accelerate with our trackers: metrics.csv (main process; on resume, rows past the checkpoint dropped)
    and TensorBoard."""
    tracker = CSVTracker(run.metrics, resume_step=read_loop_state(run.last_checkpoint).step if resume else None) \
        if main_process else None
    return Accelerator(
        cpu=cpu,
        mixed_precision={"32": "no", "bf16-mixed": "bf16"}[precision],
        project_dir=str(run.root),
        log_with=[t for t in (tracker, "tensorboard" if cfg.tensorboard else None) if t is not None] or None,
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=cfg.seed),
        # a family with several optimizers uses part of its weights in each loss
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=several_optimizers)],
    )


@dataclass
class Training:
    """What the steps work on, after `accelerator.prepare`: `model` may be DDP-wrapped; `sampler_model` (the
    EMA copy, or the model itself without EMA) is what sample grids and model/ come from."""

    accelerator: Accelerator
    model: torch.nn.Module
    loader: Any
    groups: dict[str, list[torch.nn.Parameter]]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    ema: EMA | None
    sampler_model: GenerativeModel
    state: LoopState
    spec: DataSpec
    global_batch: int


def prepare(accelerator: Accelerator, model: GenerativeModel, loader: DataLoader, groups: dict[str, list[torch.nn.Parameter]],
            optimizers: dict[str, torch.optim.Optimizer], schedulers: dict[str, Any], state: LoopState,
            cfg: TrainConfig) -> Training:
    """Hand model, loader, optimizers and schedulers to Accelerate; start the EMA of the weights."""
    spec = model.spec
    prepared = accelerator.prepare(model, loader, *optimizers.values(), *schedulers.values())
    n = len(optimizers)
    core: GenerativeModel = accelerator.unwrap_model(prepared[0])
    ema = EMA(core, beta=cfg.ema_decay, update_after_step=cfg.ema_start, update_every=1,
              include_online_model=False) if cfg.ema_decay is not None else None
    return Training(accelerator, prepared[0], prepared[1], groups, dict(zip(optimizers, prepared[2 : 2 + n])),
                    dict(zip(schedulers, prepared[2 + n :])), ema, ema.ema_model if ema is not None else core, state,
                    spec, loader.batch_size * accelerator.num_processes)  # capped for a small data set


def run_steps(t: Training, run: RunDir, cfg: TrainConfig, progress: bool) -> None:
    """Epoch after epoch (resuming mid-epoch where the checkpoint was) until the budget is spent; after each
    step: the EMA, the logs, and on schedule a sample grid and a checkpoint."""
    state, accelerator = t.state, t.accelerator
    # under a wall-clock budget the step count is open-ended: no total, the budget shows in the postfix
    bar = tqdm(total=None if cfg.max_seconds else cfg.max_steps, initial=state.step, desc="train",
               disable=not (progress and accelerator.is_main_process), dynamic_ncols=True,
               mininterval=0.5 if sys.stderr.isatty() else 15)
    window = LogWindow()
    done = state.step >= cfg.max_steps
    while not done:
        epoch_loader = accelerator.skip_first_batches(t.loader, state.batch_in_epoch) if state.batch_in_epoch else t.loader
        epoch_loader.set_epoch(state.epoch)
        for batch in epoch_loader:
            step_start = time.perf_counter()
            logs = training_step(accelerator, t.model, t.groups, t.optimizers, t.schedulers, batch, cfg, state.step)
            if t.ema is not None:
                t.ema.update()
            state.step += 1
            state.batch_in_epoch += 1
            state.examples_seen += t.global_batch
            state.train_seconds += time.perf_counter() - step_start
            window.add(logs)
            bar.update(1)
            done = state.step >= cfg.max_steps or out_of_time(accelerator, state, cfg)

            if state.step % cfg.log_every == 0 or done:
                bar.set_postfix(window.flush(t, cfg), refresh=False)
            if state.step % cfg.sample_every == 0 or done:
                write_samples(accelerator, t.sampler_model, run, state.step, cfg)
            if state.step % cfg.checkpoint_every == 0 or done:
                save_checkpoint(accelerator, run.last_checkpoint, state, t.ema)
                export_model(accelerator, t.sampler_model, run)
            if done:
                break
        else:  # the epoch ran out
            state.epoch += 1
            state.batch_in_epoch = 0
    bar.close()


class LogWindow:
    """Step logs summed since the last flush, logged as means over the window (and over processes)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.steps, self.start = 0, time.perf_counter()

    def reset(self) -> None:
        self.sums.clear()
        self.steps, self.start = 0, time.perf_counter()

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        for key, value in logs.items():
            self.sums[key] += float(value)
        self.steps += 1

    def flush(self, t: Training, cfg: TrainConfig) -> dict[str, str]:
        """Log the window's means with epoch, LR and throughput; start a new window; the progress bar's postfix."""
        accelerator, state = t.accelerator, t.state
        elapsed = time.perf_counter() - self.start
        values = {k: v / self.steps for k, v in self.sums.items()}
        values = {k: accelerator.reduce(torch.tensor(v), "mean").item() for k, v in values.items()}
        values.update(epoch=state.epoch, lr=t.schedulers[next(iter(t.schedulers))].get_last_lr()[0],
                      images_per_s=t.global_batch * self.steps / max(elapsed, 1e-9))
        if t.spec.modality == "tokens":  # a window of block_size predictions is one example
            values["tokens_per_s"] = values.pop("images_per_s") * t.spec.shape[0]
        accelerator.log(values, step=state.step)
        postfix = {k: f"{v:.4g}" for k, v in values.items() if k.startswith("loss")}
        if cfg.max_seconds:
            postfix["budget"] = f"{state.train_seconds:.0f}/{cfg.max_seconds:.0f}s"
        self.reset()
        return postfix


def training_step(accelerator: Accelerator, model: torch.nn.Module, groups: dict[str, list[torch.nn.Parameter]],
                  optimizers: dict[str, torch.optim.Optimizer], schedulers: dict[str, Any], batch: dict,
                  cfg: TrainConfig, step: int) -> dict[str, torch.Tensor]:
    """One optimisation step: for each optimizer in turn, its loss -> backward -> clip -> step."""
    logs: dict[str, torch.Tensor] = {}
    for name, optimizer in optimizers.items():
        model.zero_grad(set_to_none=True)  # no gradient leaks from one optimizer's loss into another's
        out = model(batch, optimizer=name)
        check_finite(accelerator, out.loss, name, step)
        accelerator.backward(out.loss)
        if cfg.grad_clip is not None:
            logs[_key("grad_norm", name, optimizers)] = accelerator.clip_grad_norm_(groups[name], cfg.grad_clip)
        optimizer.step()
        schedulers[name].step()
        logs[_key("loss", name, optimizers)] = out.loss.detach()
        logs.update({k: torch.as_tensor(v).detach() for k, v in out.logs.items()})
    model.zero_grad(set_to_none=True)
    return logs


def out_of_time(accelerator: Accelerator, state: LoopState, cfg: TrainConfig) -> bool:
    """A wall-clock budget (train.max_seconds) is spent; the first process out of time stops them all."""
    if cfg.max_seconds is None:
        return False
    flag = torch.tensor(float(state.train_seconds >= cfg.max_seconds), device=accelerator.device)
    return bool(accelerator.reduce(flag, "max").item()) if accelerator.num_processes > 1 else bool(flag.item())


def check_finite(accelerator: Accelerator, loss: torch.Tensor, name: str, step: int) -> None:
    """Stop before a NaN/inf loss reaches the weights; every process agrees, so none is left waiting."""
    bad = torch.tensor(0.0 if torch.isfinite(loss.detach()).all() else 1.0, device=loss.device)
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, "sum")
    if bad.item() > 0:
        raise TrainingDiverged(
            f"the {name} loss became {loss.item()} at step {step + 1}: training stopped; the last good state is "
            f"in checkpoints/last. Lower train.lr or set train.grad_clip, then --resume or start again"
        )


def _key(prefix: str, name: str, optimizers: dict) -> str:
    return prefix if len(optimizers) == 1 else f"{prefix}_{name}"


def lr_lambda(cfg: TrainConfig, state: LoopState):
    """Linear warm-up, then constant or cosine decay to 0 at the end of the budget (steps or seconds)."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine":
            progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
            if cfg.max_seconds is not None:
                progress = max(progress, state.train_seconds / cfg.max_seconds)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return factor


@torch.no_grad()
def write_samples(accelerator: Accelerator, model: GenerativeModel, run: RunDir, step: int, cfg: TrainConfig) -> None:
    """samples/step-NNNNNN.png (or .txt) from the same seed every time (its own generator: training RNG untouched)."""
    if accelerator.is_main_process:
        was_training = model.training
        model.eval()
        write_samples_file(model, run.samples / f"step-{step:06d}", cfg.num_samples, cfg.seed)
        model.train(was_training)
    accelerator.wait_for_everyone()


def vocabulary(spec) -> str:
    return f" from a vocabulary of {spec.vocab_size:,} tokens" if spec.vocab_size else ""


def export_model(accelerator: Accelerator, model: GenerativeModel, run: RunDir) -> None:
    if accelerator.is_main_process:
        model.save_pretrained(run.model)
    accelerator.wait_for_everyone()


BUDGET_KEYS = ("train.max_steps", "train.max_seconds")  # a resumed run may be given more (or less) of either


def check_run_dir(run: RunDir, resolved: ResolvedRecipe, resume: bool) -> None:
    """Never clobber a run by accident, and resume only the run the recipe describes."""
    if not resume:
        if run.is_run() or run.checkpoints.exists():
            raise ConfigError(f"{run.root} already holds a run: pass --resume to continue it, or choose another --out")
        return
    if not run.is_run():
        raise CheckpointError(f"--resume: {run.root} is not a run folder (no config.yaml)")
    if read_loop_state(run.last_checkpoint) is None:
        raise CheckpointError(f"--resume: {run.root} has no checkpoint yet (no checkpoints/last)")
    saved = with_defaults(yaml.safe_load(run.config.read_text()))
    differences = [k for k in diff_keys(saved, resolved.to_dict()) if k not in BUDGET_KEYS]
    if differences:
        raise ConfigError(
            f"--resume: the recipe differs from {run.config} at {', '.join(differences)}; resume with the same "
            f"recipe (only the budget, {' and '.join(BUDGET_KEYS)}, may change), or train into a new --out"
        )


def with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A run's recipe with the keys added since it was written, at their defaults (they change nothing)."""
    try:
        return load_recipe(saved).to_dict()
    except ConfigError:
        return saved


def convolutional(model: torch.nn.Module) -> bool:
    """Has 2-D convolutions (4-D weights): the models channels-last can speed up."""
    return any(p.dim() == 4 for p in model.parameters())


def memory_layout(model: torch.nn.Module, channels_last: bool) -> str:
    """Put the model's 4-D weights in channels-last layout when asked: every convolution then reads and writes
    NHWC activations (oneDNN's and cuDNN's fast path). Says what was done, for config.yaml."""
    if not channels_last:
        return "contiguous (NCHW)"
    if not convolutional(model):
        return "contiguous: channels_last asked, but the model has no 2-D convolutions"
    model.to(memory_format=torch.channels_last)
    return "channels-last (NHWC)"


def write_config(run: RunDir, resolved: ResolvedRecipe, precision: tuple[str, str] | None = None,
                 layout: str | None = None) -> None:
    header = f"# resolved from {resolved.source} by noisecraft {__version__}\n"
    if precision is not None:  # what train.precision chose, and why (auto decides per machine)
        header += f"# train.precision: trained in {precision[0]} ({precision[1]})\n"
    if layout is not None:
        header += f"# train.channels_last: memory layout {layout}\n"
    run.config.write_text(header + yaml.safe_dump(resolved.to_dict(), sort_keys=False))


def diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted key paths where two nested dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += diff_keys(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if _normalise(a) == _normalise(b) else [prefix]


def _normalise(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def flat_hparams(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """TensorBoard's hparams take scalars only."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_hparams(value, name + "."))
        elif isinstance(value, (int, float, str, bool)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
