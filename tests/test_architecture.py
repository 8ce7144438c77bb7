"""The layers hold (import-linter's contracts in pyproject.toml), a broken contract fails the check, and
the package has no import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
        str(REPO / "pyproject.toml"), "--no-cache", "--no-logo"]


def lint(package_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(LINT, cwd=package_root, env={"PYTHONPATH": str(package_root), "PATH": ""},
                          capture_output=True, text=True)


def test_the_contracts_hold():
    result = lint(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("config.py", "from noisecraft.models.registry import get_family", "noisecraft.config is not allowed to import noisecraft.models"),
    ("models/vae/model.py", "from noisecraft.models.gan.model import GAN", "noisecraft.models.vae is not allowed to import noisecraft.models.gan"),
    ("evaluate/metrics.py", "from noisecraft.utils.paths import RunDir\nimport noisecraft.train.loop",
     "noisecraft.evaluate is not allowed to import noisecraft.train"),
    ("nn/unet.py", "from noisecraft.data.base import DataSpec", "noisecraft.nn is not allowed to import noisecraft.data"),
    ("models/latent.py", "import noisecraft", "noisecraft.models.latent is not allowed to import noisecraft:"),
    ("newthing.py", "x = 1", "- noisecraft.newthing"),  # exhaustive: a new top-level module needs a layer
])
def test_a_wrong_import_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str):
    shutil.copytree(REPO / "src" / "noisecraft", tmp_path / "noisecraft", ignore=shutil.ignore_patterns("weights", "files"))
    with open(tmp_path / "noisecraft" / module, "a") as f:
        f.write(f"\n{line}\n")
    result = lint(tmp_path)
    assert result.returncode == 1 and broken in result.stdout, result.stdout + result.stderr


def test_no_import_cycles():
    """Runtime imports only (imports under `if TYPE_CHECKING:` never run): Tarjan's strongly connected
    components of the module graph, each of one module."""
    graph = grimp.build_graph("noisecraft", cache_dir=None, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert len(graph.modules) > 50
    assert cycles == [], f"{len(cycles)} import cycles: {cycles}"
