"""`noisecraft train RECIPE [--set k=v ...] [--out RUN_DIR] [--max-steps N] [--resume] [--devices N]`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from noisecraft.errors import CheckpointError, ConfigError


def train(
    recipe: str = typer.Argument(..., help="A recipe YAML file, or the name of a built-in recipe (`noisecraft recipes list`)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a recipe key: --set train.lr=3e-4 (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<recipe name>, numbered if taken)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Train this many steps in all (sets train.max_steps)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out (default: the latest runs/<recipe name>*) from checkpoints/last."),
    devices: int = typer.Option(1, "--devices", min=1, help="Data-parallel processes (CPU: gloo; GPUs: one each)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a model from a recipe; writes a run folder with checkpoints, samples, logs and model/."""
    from noisecraft.models.registry import load_recipe
    from noisecraft.utils.paths import default_run_dir, latest_run_dir

    if max_steps is not None:
        overrides = [*overrides, f"train.max_steps={max_steps}"]
    resolved = load_recipe(recipe, overrides)
    if out is None:
        if resume:
            out = latest_run_dir(resolved.recipe.name)
            if out is None:
                raise CheckpointError(f"--resume: no run of {resolved.recipe.name!r} with a checkpoint under runs/; pass --out RUN_DIR")
        else:
            out = default_run_dir(resolved.recipe.name)

    if devices > 1 and "LOCAL_RANK" not in os.environ:
        sys.exit(launch_processes(devices, recipe, overrides, out, resume, quiet))

    from noisecraft.train.loop import train as train_loop

    train_loop(resolved, out, resume=resume, progress=not quiet)


def launch_processes(devices: int, recipe: str, overrides: list[str], out: Path, resume: bool, quiet: bool) -> int:
    """Start `devices` copies of this command under torch's distributed launcher; Accelerate inside each
    picks up its rank (gloo on CPU, one GPU each otherwise). For several machines use `accelerate launch`
    or `torchrun` on each with the same arguments (see README)."""
    if not Path(recipe).exists() and recipe.endswith((".yaml", ".yml")):
        raise ConfigError(f"recipe file not found: {recipe}")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}",
               "-m", "noisecraft.cli.main", "train", recipe, "--out", str(out)]
    for item in overrides:
        command += ["--set", item]
    command += ["--resume"] * resume + ["--quiet"] * quiet
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices)))}
    return subprocess.call(command, env=env)
