"""Full training state in `checkpoints/last/`, written atomically, loaded without unpickling code.

Accelerate's save_state writes model, optimizers, schedulers, sampler and RNG states (loaded back
with weights_only=True). Ours beside it: EMA weights as safetensors, loop position as JSON.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from accelerate import Accelerator
from safetensors.torch import load_model
from torch import nn

from noisecraft.errors import CheckpointError
from noisecraft.models.base import recover_dir, replace_dir
from noisecraft.utils.weights import save_weights

STATE_NAME = "trainer_state.json"
EMA_NAME = "ema.safetensors"


@dataclass
class LoopState:
    """Where the loop is: enough, with the RNG states, to continue exactly where it stopped."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    examples_seen: int = 0
    train_seconds: float = 0.0


def save_checkpoint(accelerator: Accelerator, folder: Path, state: LoopState, ema: nn.Module | None) -> None:
    """Write into a temp folder, then rename it over `folder`: a crash never leaves a broken checkpoint."""
    tmp = folder.with_name(f".{folder.name}-tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if ema is not None:
            save_weights(ema, str(tmp / EMA_NAME))
        (tmp / STATE_NAME).write_text(json.dumps(asdict(state), indent=2) + "\n")
        replace_dir(tmp, folder)
    accelerator.wait_for_everyone()


def read_loop_state(folder: Path) -> LoopState | None:
    """The loop position a checkpoint holds (after undoing an interrupted swap), or None if there is none."""
    recover_dir(folder)
    state_file = folder / STATE_NAME
    return LoopState(**json.loads(state_file.read_text())) if state_file.is_file() else None


def load_checkpoint(accelerator: Accelerator, folder: Path, ema: nn.Module | None) -> LoopState:
    recover_dir(folder)
    state_file = folder / STATE_NAME
    if not state_file.is_file():
        raise CheckpointError(f"{folder}: no checkpoint to resume from (no {STATE_NAME})")
    try:
        accelerator.load_state(str(folder))
        if ema is not None:
            load_model(ema, str(folder / EMA_NAME))
        state = LoopState(**json.loads(state_file.read_text()))
    except (OSError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{folder}: cannot resume from this checkpoint: {str(e).splitlines()[0]}") from None
    return state
