"""Sampling options by name: their type, the range a served request may ask for, and what they do.

Families list the options their `sample` takes in `sample_options`; this table says what each one is, so
the HTTP API's schema, its validation and the studio's controls are built from it. A family with an option
of its own describes it in its `option_specs`; nothing in the server needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from noisecraft.errors import ConfigError


@dataclass(frozen=True)
class OptionSpec:
    type: Literal["integer", "number", "string", "strings"]
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    max_length: int | None = None  # strings: characters; "strings": items
    choices: tuple[str, ...] | None = None

    def schema(self) -> dict[str, Any]:
        """JSON-schema words for /v1/models and the OpenAPI document."""
        out: dict[str, Any] = {"type": "array" if self.type == "strings" else self.type, "description": self.description}
        if self.minimum is not None:
            out["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["enum"] = list(self.choices)
        if self.max_length is not None:
            out["maxItems" if self.type == "strings" else "maxLength"] = self.max_length
        if self.type == "strings":
            out["items"] = {"type": "string", "maxLength": MAX_STRING}
        return out

    def check(self, name: str, value: Any) -> Any:
        """`value` if it fits this spec, else a ConfigError naming the option and the value."""
        def bad(why: str) -> ConfigError:
            return ConfigError(f"{name}: {why} (got {value!r})")

        if self.type in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.type == "integer" and not float(value).is_integer()):
                raise bad(f"must be {'an integer' if self.type == 'integer' else 'a number'}")
            value = int(value) if self.type == "integer" else float(value)
            low_ok = self.minimum is None or (value > self.minimum if self.exclusive_minimum else value >= self.minimum)
            if not low_ok or (self.maximum is not None and value > self.maximum):
                low = "(" if self.exclusive_minimum else "["
                raise bad(f"must be in {low}{self.minimum}, {self.maximum}]")
        elif self.type == "string":
            if not isinstance(value, str):
                raise bad("must be a string")
            if self.choices and value not in self.choices:
                raise bad(f"choose from: {', '.join(self.choices)}")
            if self.max_length is not None and len(value) > self.max_length:
                raise bad(f"at most {self.max_length} characters")
        else:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad("must be a list of strings")
            if self.max_length is not None and len(value) > self.max_length:
                raise bad(f"at most {self.max_length} items")
            if any(len(v) > MAX_STRING for v in value):
                raise bad(f"each at most {MAX_STRING} characters")
        return value


MAX_STRING = 100


OPTIONS: dict[str, OptionSpec] = {
    "sampler": OptionSpec("string", "sampling algorithm", max_length=32),
    "steps": OptionSpec("integer", "sampling steps (network evaluations grow with them)", 1, 1000),
    "eta": OptionSpec("number", "DDIM noise: 0 deterministic, 1 = DDPM", 0, 1),
    "guidance": OptionSpec("number", "classifier-free guidance weight (1 = none)", 0, 50),
    "temperature": OptionSpec("number", "noise scale / sharpness of the distribution (0 = greedy for token models)", 0, 10),
    "top_k": OptionSpec("integer", "sample among the k most likely tokens", 1, 1_000_000),
    "top_p": OptionSpec("number", "sample among the most likely tokens holding this much probability", 0, 1, exclusive_minimum=True),
    "repetition_penalty": OptionSpec("number", "divide the scores of tokens already present (1 = none)", 0, 10, exclusive_minimum=True),
    "max_tokens": OptionSpec("integer", "tokens to generate", 0, 4096),
    "stop": OptionSpec("strings", "stop before the first of these strings", max_length=8),
}
