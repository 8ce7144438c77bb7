"""`noisecraft` command line: train, sample, generate, evaluate, bench, serve, verify, recipes, datasets.

Errors the user can fix print one line and exit 2; `--debug` (anywhere on the line) shows the traceback.
"""

from __future__ import annotations

import sys
import warnings

import typer

from noisecraft.cli import bench, catalog, evaluate, generate, sample, serve, train, verify
from noisecraft.errors import NoisecraftError

app = typer.Typer(
    name="noisecraft",
    help="Train generative models on your data, sample from them, compare them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("train", no_args_is_help=True)(train.train)
app.command("sample", no_args_is_help=True)(sample.sample)
app.command("generate", no_args_is_help=True)(generate.generate)
app.command("evaluate", no_args_is_help=True)(evaluate.evaluate)
app.command("bench", no_args_is_help=True)(bench.bench)
app.command("serve", no_args_is_help=True)(serve.serve)
app.command("verify", no_args_is_help=True)(verify.verify)
app.add_typer(catalog.recipes_app, name="recipes")
app.add_typer(catalog.datasets_app, name="datasets")


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    """Train generative models on your data, sample from them, compare them."""


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=file or sys.stderr)


def run(argv: list[str]) -> int:
    """Run the CLI on `argv`; returns the exit code (0 ok, 2 bad input, 1 a bug)."""
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    shown = warnings.showwarning
    if not debug:  # `warning: skipped 2 unreadable images ...`, not a file:line and a source line
        warnings.showwarning = _one_line_warning
    try:
        return _run(argv, debug)
    finally:
        warnings.showwarning = shown


def _run(argv: list[str], debug: bool) -> int:
    try:
        app(args=argv, prog_name="noisecraft")  # standalone: usage errors and --help exit here
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except NoisecraftError as e:
        if debug:
            raise
        for line in str(e).splitlines() or [type(e).__name__]:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
