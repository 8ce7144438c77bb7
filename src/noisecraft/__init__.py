"""noisecraft: learn the distribution of a data set, then turn noise into new samples.

    import noisecraft, torch
    run = noisecraft.fit("mnist-vae-tiny", out="runs/tiny")   # train from a recipe; returns the run folder
    model = noisecraft.load(run)                              # a run folder or a model folder
    images = model.sample(16, generator=torch.Generator().manual_seed(0))   # [16, 1, 28, 28] in [0, 1]

This module is the public facade: it imports the layers below lazily, inside its functions, and nothing in
the package imports it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

# `noisecraft.train` is the training layer (a package). Until the next release it can also be called like
# the 0.1 function it replaced (a DeprecationWarning says: use `noisecraft.fit`); importing it here makes
# that work right after `import noisecraft`. Its __init__ imports nothing heavy.
import noisecraft.train  # noqa: F401
from noisecraft.utils.version import __version__

if TYPE_CHECKING:
    from noisecraft.models.base import GenerativeModel


def load(path: str | Path, device: str = "cpu") -> "GenerativeModel":
    """Load a trained model (EMA weights, eval mode) from a run folder or a model folder."""
    from noisecraft.models.base import GenerativeModel
    from noisecraft.utils.paths import model_dir_of

    return GenerativeModel.from_pretrained(model_dir_of(Path(path)), device=device)


def fit(recipe: str | Path | dict, out: str | Path | None = None, overrides: list[str] | None = None,
        resume: bool = False, progress: bool = True) -> Path:
    """Train from a recipe (file, built-in name or dict) as `noisecraft train` does; returns the run folder
    (default runs/<recipe name>, or -2, -3, ... if taken)."""
    from noisecraft.train.loop import fit as fit_recipe

    return fit_recipe(recipe, out, overrides, resume=resume, progress=progress)


def save_image_grid(images, path: str | Path, nrow: int | None = None) -> Path:
    """Save images ([N, C, H, W] in [0, 1]) as one PNG grid."""
    from noisecraft.utils.images import save_grid

    return save_grid(images, Path(path), nrow=nrow)


__all__ = ["__version__", "fit", "load", "save_image_grid"]
