"""`noisecraft bench SUITE.yaml` -> bench/<suite>/leaderboard.md, leaderboard.json, samples.png."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def bench(
    suite: str = typer.Argument(..., help="A suite YAML file, or a built-in suite name (mnist-families)."),
    out: Path = typer.Option(Path("bench"), "--out", help="Results go to OUT/<suite name>/."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Override the suite's protocol: sweep or headline."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Train every entry of a suite under the same budget, evaluate each the same way, write a leaderboard."""
    from noisecraft.bench import run_suite

    folder = run_suite(suite, out, protocol=protocol, progress=not quiet)
    typer.echo((folder / "leaderboard.md").read_text())
