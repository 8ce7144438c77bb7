"""A one-parameter family that records which examples each process trains on (for the DDP test).

Loaded by a recipe as `model.family: shard_probe:ShardProbe` (tests/train on PYTHONPATH)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput


class ShardProbeConfig(ModelConfig):
    family: Literal["shard-probe"] = "shard-probe"
    record_dir: str


class ShardProbe(GenerativeModel):
    family = "shard-probe"
    config_class = ShardProbeConfig

    def __init__(self, config: ShardProbeConfig, spec) -> None:
        super().__init__(config, spec)
        self.level = nn.Parameter(torch.zeros(1))

    def forward(self, batch, optimizer="model"):
        x = batch["x"]
        record = Path(self.config.record_dir) / f"rank{os.environ.get('RANK', '0')}.txt"
        with record.open("a") as f:
            for row in x:
                f.write(hashlib.sha1(row.numpy().tobytes()).hexdigest() + "\n")
        return StepOutput(((x.mean() - self.level) ** 2).sum())

    @torch.no_grad()
    def sample(self, n, condition=None, generator=None):
        return self.level.clamp(0, 1).expand(n, *self.spec.shape).clone()
