"""noisecraft: learn the distribution of a data set, then turn noise into new samples.

    import noisecraft, torch
    model = noisecraft.load("runs/mnist-vae")          # a run folder or a model folder
    images = model.sample(16, generator=torch.Generator().manual_seed(0))   # [16, 1, 28, 28] in [0, 1]
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

try:
    __version__ = version("noisecraft")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

if TYPE_CHECKING:
    from noisecraft.models.base import GenerativeModel

# The subpackage noisecraft.train is imported here, before the function `train` below is defined: Python
# binds a subpackage to its parent's attribute when it is first imported, which would otherwise replace
# the function with the module as soon as anything imports noisecraft.train.* (noisecraft.load does).
import noisecraft.train  # noqa: E402,F401  (its __init__ is empty: cheap)


def load(path: str | Path, device: str = "cpu") -> "GenerativeModel":
    """Load a trained model (EMA weights, eval mode) from a run folder, a model folder or `pretrained:NAME`."""
    from noisecraft.train.run import model_dir_of
    from noisecraft.models.base import GenerativeModel

    return GenerativeModel.from_pretrained(model_dir_of(path), device=device)


def train(recipe: str | Path | dict, out: str | Path | None = None, overrides: list[str] | None = None,
          resume: bool = False, progress: bool = True) -> Path:
    """Train from a recipe (file, built-in name or dict) as `noisecraft train` does; returns the run folder."""
    from noisecraft.config import load_recipe
    from noisecraft.train.loop import train as train_loop
    from noisecraft.train.run import default_run_dir

    resolved = load_recipe(recipe, overrides)
    out = Path(out) if out is not None else default_run_dir(resolved.recipe.name)
    return train_loop(resolved, out, resume=resume, progress=progress).root


def save_image_grid(images, path: str | Path, nrow: int | None = None) -> Path:
    """Save images ([N, C, H, W] in [0, 1]) as one PNG grid."""
    from noisecraft.utils.images import save_grid

    return save_grid(images, Path(path), nrow=nrow)


__all__ = ["__version__", "load", "save_image_grid", "train"]
