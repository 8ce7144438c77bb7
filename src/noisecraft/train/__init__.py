"""The training layer: the loop (`loop.py`), checkpoints, trackers. `noisecraft.fit` is the function that
trains from a recipe.

Calling this package, `noisecraft.train(recipe, ...)`, is the 0.1 spelling of `noisecraft.fit`: it still
works, with a DeprecationWarning, until the next release. The module's class is made callable for that,
so it works whichever of `noisecraft` or `noisecraft.train.*` was imported first.
"""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path
from typing import Any


class _DeprecatedCallable(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        warnings.warn("noisecraft.train(...) is deprecated and will be removed in the next release: call "
                      "noisecraft.fit(...) (same arguments)", DeprecationWarning, stacklevel=2)
        from noisecraft.train.loop import fit

        return fit(*args, **kwargs)


sys.modules[__name__].__class__ = _DeprecatedCallable
