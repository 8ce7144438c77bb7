"""Writing a module's weights as safetensors, from wherever they live.

safetensors' `save_model` writes tied weights once (a transformer's output layer is its embedding) and
refuses other tensors that share storage. On a GPU, cuDNN keeps an RNN's weights as views of one flat
buffer, which is such sharing: a module holding an RNN there is written from a CPU copy, where each weight
has storage of its own (tied weights stay tied: a copy keeps them one parameter).
"""

from __future__ import annotations

import copy

from safetensors.torch import save_model
from torch import nn


def save_weights(module: nn.Module, path: str) -> None:
    """`safetensors.torch.save_model`, also for an RNN on a GPU."""
    on_device = any(p.device.type != "cpu" for p in module.parameters())
    if on_device and any(isinstance(m, nn.RNNBase) for m in module.modules()):
        module = copy.deepcopy(module).cpu()
    save_model(module, path)
