"""`noisecraft recipes list|show` and `noisecraft datasets list|show|download`: what ships in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from noisecraft.errors import ConfigError

recipes_app = typer.Typer(help="The built-in recipes.", no_args_is_help=True)
datasets_app = typer.Typer(help="The built-in data sets.", no_args_is_help=True)
console = Console(soft_wrap=True)


@recipes_app.command("list")
def recipes_list() -> None:
    """List the built-in recipes."""
    from noisecraft.config import builtin_recipes, read_yaml

    table = Table("name", "family", "data", "description")
    for name, path in builtin_recipes().items():
        raw = read_yaml(path)
        data = raw.get("data", {}) or {}
        table.add_row(name, str(raw.get("model", {}).get("family", "?")),
                      str(data.get("dataset") or data.get("image_folder") or "mnist"), str(raw.get("description", "")))
    console.print(table)


@recipes_app.command("show")
def recipes_show(
    name: str = typer.Argument(..., help="A built-in recipe name or a recipe file."),
    resolved: bool = typer.Option(False, "--resolved", help="Show every key with its default filled in."),
) -> None:
    """Print a recipe (as shipped, or resolved with all defaults)."""
    import yaml

    from noisecraft.config import resolve_recipe_path
    from noisecraft.models.registry import load_recipe

    path = resolve_recipe_path(name)
    if resolved:
        typer.echo(yaml.safe_dump(load_recipe(path).to_dict(), sort_keys=False), nl=False)
    else:
        typer.echo(f"# {path}")
        typer.echo(path.read_text(encoding="utf-8"), nl=False)


@datasets_app.command("list")
def datasets_list() -> None:
    """List the built-in data sets."""
    from noisecraft.data import DATASETS

    table = Table("name", "modality", "shape", "train", "test", "source")
    for name, info in DATASETS.items():
        d = info.to_dict()
        splits = d.get("splits") or {}
        table.add_row(name, str(d.get("modality", "")), _shape(d.get("shape")), str(splits.get("train", "-")),
                      str(splits.get("test", "-")), str(d.get("source", "")))
    console.print(table)


@datasets_app.command("show")
def datasets_show(name: str = typer.Argument(..., help="A data set name from `noisecraft datasets list`.")) -> None:
    """Show a data set: source, size, shape and where it lives on this machine."""
    from noisecraft.data import get_dataset_info

    for key, value in get_dataset_info(name).to_dict().items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)) and key == "shape":
            value = _shape(value)
        typer.echo(f"{key + ':':<14}{value}")


@datasets_app.command("download")
def datasets_download(
    name: str = typer.Argument(..., help="mnist or tinyshakespeare"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Default: $NOISECRAFT_CACHE or ~/.cache/noisecraft."),
    mirrors: list[str] = typer.Option([], "--mirror", help="Base URL to try instead of the canonical mirrors (repeatable)."),
) -> None:
    """Download a data set into the cache (resumable, checksummed); training needs no download: both ship in the package."""
    from noisecraft.data.mnist import MIRRORS, download_mnist
    from noisecraft.data.text import download_shakespeare

    if name == "tinyshakespeare":
        typer.echo(f"tinyshakespeare: verified file {download_shakespeare(cache_dir)}")
        return
    if name != "mnist":
        raise ConfigError(f"datasets download: only mnist and tinyshakespeare have a download (got {name!r}); "
                          "the others ship with a package")
    folder = download_mnist(cache_dir, mirrors=mirrors or MIRRORS)
    typer.echo(f"mnist: verified files in {folder}")


def _shape(shape) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"
