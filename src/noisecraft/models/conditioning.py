"""Class conditions as users give them (`--class 3`, `--class seven`, a list) -> label tensors, for every
class-conditional family."""

from __future__ import annotations

from typing import Any

import torch

from noisecraft.errors import ConfigError


def class_labels(condition: Any, n: int, num_classes: int | None, class_names: list[str] | None) -> torch.Tensor | None:
    """None (classes 0, 1, 2, ... in turn; None for an unconditional model), an index, a class name, or n labels."""
    if condition is None:
        return torch.arange(n) % num_classes if num_classes else None
    if not num_classes:
        raise ConfigError("--class: this model is unconditional (train with model.conditional: true)")
    names = class_names or []
    if isinstance(condition, str):
        if condition in names:
            condition = names.index(condition)
        elif condition.lstrip("-").isdigit():
            condition = int(condition)
        else:
            raise ConfigError(f"--class {condition!r}: not a class (classes: {', '.join(names) or f'0..{num_classes - 1}'})")
    labels = torch.as_tensor(condition).long().reshape(-1)
    if labels.numel() == 1:
        labels = labels.expand(n)
    if len(labels) != n:
        raise ConfigError(f"condition: {len(labels)} labels for {n} samples")
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise ConfigError(f"--class {int(bad[0])}: out of range (0..{num_classes - 1})")
    return labels.clone()


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def class_from_prompt(prompt: str, class_names: list[str] | None, num_classes: int) -> int:
    """The class a prompt names, for class-conditional models asked in words: "a 7", "seven", "an image of a 3".
    Class names are matched as words; digit classes also answer to their English names."""
    names = class_names or [str(i) for i in range(num_classes)]
    found = []
    for word in prompt.lower().replace(",", " ").replace(".", " ").split():
        if word in names:
            found.append(names.index(word))
        elif word in NUMBER_WORDS and str(NUMBER_WORDS.index(word)) in names:
            found.append(names.index(str(NUMBER_WORDS.index(word))))
    if len(set(found)) != 1:
        why = "names no class" if not found else "names several classes"
        raise ConfigError(f"prompt {prompt!r}: {why} (this model draws one of: {', '.join(names)})")
    return found[0]
