"""`noisecraft recipes list|show` and `noisecraft datasets list|show|download`: what ships in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from noisecraft.errors import ConfigError

recipes_app = typer.Typer(help="The built-in recipes.", no_args_is_help=True)
datasets_app = typer.Typer(help="The built-in data sets.", no_args_is_help=True)
models_app = typer.Typer(help="The pretrained models that ship in the package (pretrained:NAME).", no_args_is_help=True)
console = Console(soft_wrap=True)


JSON_OPTION = typer.Option(False, "--json", help="Print a JSON list (one object per row) for scripts.")


def print_rows(rows: list[dict[str, str]], as_json: bool) -> None:
    """A table on a terminal; whole values, tab-separated, when piped; or JSON: never a cut-off name."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not sys.stdout.isatty():
        for row in rows[:1]:
            typer.echo("\t".join(row))
        for row in rows:
            typer.echo("\t".join(_cell(v) for v in row.values()))
    elif rows:
        table = Table(*rows[0])
        for row in rows:
            table.add_row(*(_cell(v) for v in row.values()))
        console.print(table)


@recipes_app.command("list")
def recipes_list(as_json: bool = JSON_OPTION) -> None:
    """List the built-in recipes."""
    from noisecraft.config import builtin_recipes, read_yaml

    rows = []
    for name, path in builtin_recipes().items():
        raw = read_yaml(path)
        data = raw.get("data", {}) or {}
        rows.append({"name": name, "family": str(raw.get("model", {}).get("family", "?")),
                     "data": str(data.get("dataset") or data.get("image_folder") or "mnist"),
                     "description": str(raw.get("description", ""))})
    print_rows(rows, as_json)


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
def datasets_list(as_json: bool = JSON_OPTION) -> None:
    """List the built-in data sets."""
    from noisecraft.data import DATASETS

    rows = []
    for name, info in DATASETS.items():
        d = info.to_dict()
        splits = d.get("splits") or {}
        rows.append({"name": name, "modality": str(d.get("modality", "")), "shape": _shape(d.get("shape")),
                     "train": splits.get("train"), "test": splits.get("test"),
                     "source": str(d.get("source", ""))})
    print_rows(rows, as_json)


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


@models_app.command("list")
def models_list(as_json: bool = JSON_OPTION) -> None:
    """List the pretrained models: use one as pretrained:NAME wherever a run folder is taken."""
    from noisecraft.utils.pretrained import card, pretrained_names

    rows = []
    for name in pretrained_names():
        c = card(name)
        rows.append({"name": f"pretrained:{name}", "family": c["family"], "recipe": c["recipe"], "data": c["data"],
                     "training": c["training"]["budget"], "metrics": c.get("summary", ""),
                     "description": c.get("description", "")} | ({"card": c} if as_json else {}))
    print_rows(rows, as_json)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _shape(shape) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"
