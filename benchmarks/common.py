"""What every benchmark records beside its numbers, and the results table in benchmarks/README.md.

Each benchmark writes benchmarks/results/<name>.json: the exact command, commit, versions, threads, load
average before and after, raw numbers, ratios, and a one-line summary that goes into the README table.

A record is written only from a clean tree (no uncommitted change but results/ and the README table), so its
commit names the exact code that made it. Every script takes `--draft` (taken off sys.argv here, before the
script's own parser sees it): results then go to the git-ignored benchmarks/drafts/ instead, from any tree.
A `--quick` toy run (every script has one; it stays on sys.argv for the script) is never a record either: it
writes to $NOISECRAFT_BENCH_QUICK_DIR (benchmarks/run.py --quick sets a fresh one), else benchmarks/drafts/quick/.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

HERE = Path(__file__).resolve().parent
DRAFT = "--draft" in sys.argv
if DRAFT:
    sys.argv.remove("--draft")
QUICK = "--quick" in sys.argv
if QUICK:
    RESULTS = Path(os.environ.get("NOISECRAFT_BENCH_QUICK_DIR", HERE / "drafts" / "quick"))
else:
    RESULTS = HERE / ("drafts" if DRAFT else "results")
MODELS = HERE / "models"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"
# What records write, so never "uncommitted code": earlier results of a resumable grid or of the benchmarks
# run before in the same checkout, and the results table in benchmarks/README.md that write_result refreshes.
# run.py keeps the same list: it checks the tree before any script runs and must not import this module.
# benchmarks/models/: the trained models a benchmark keeps between sessions (diffusion_vs_diffusers' seeds).
NOT_CODE = [":!benchmarks/results", ":!benchmarks/README.md", ":!benchmarks/models"]


def cpu() -> str:
    """The processor and the vector units that set its speed: sessions land on different CPUs (a bf16-capable
    AVX-512 one runs these benchmarks ~3x faster than an AVX2 one), so a time-budgeted run names its CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    line = lambda key: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(key)), "")  # noqa: E731
    flags = line("flags").split()
    units = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{line('model name') or platform.processor() or 'unknown'} ({', '.join(units) or 'no AVX2'})"


def environment() -> dict[str, Any]:
    """Taken when the benchmark starts (this module is imported first): the code and load it ran with."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", *NOT_CODE], capture_output=True,
                           text=True, cwd=HERE.parent).stdout.strip()
    return {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv, *(["--draft"] * DRAFT)]),
        "commit": commit + ("+dirty" if dirty else ""),
        "draft": DRAFT or QUICK,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "cpu": cpu(),
        "load_average": os.getloadavg(),
    }


START = environment()


def write_record(path: Path, result: dict[str, Any]) -> Path:
    """Save one result file, environment at start first, atomically (a grid resumes by which files exist)."""
    if START["commit"].endswith("+dirty") and not (DRAFT or QUICK):
        raise SystemExit(f"refusing to write {path}: the tree has uncommitted changes (git status), so the record "
                         "could not name the code that made it; commit first, or pass --draft to write to "
                         "benchmarks/drafts/")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**START, **result, "load_average_after": os.getloadavg()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=float) + "\n")
    os.replace(tmp, path)
    return path


def trainer_state(run: Path) -> dict[str, Any]:
    """Where training stood at `run`'s last checkpoint (step, examples_seen, train_seconds, ...), read by the
    trainer's own reader, which also completes a checkpoint swap a crash interrupted; {} before the first."""
    from dataclasses import asdict

    from noisecraft.train.checkpoint import read_loop_state

    state = read_loop_state(run / "checkpoints" / "last")
    return asdict(state) if state is not None else {}


def trained_for(run: Path, seconds: float) -> bool:
    """Whether `run` has a checkpoint with at least `seconds` of training (a budget of 0 still needs one)."""
    state = trainer_state(run)
    return bool(state) and state["train_seconds"] >= seconds


def resumable(run: Path) -> bool:
    """Whether `run` has a checkpoint to resume. A folder without one (the session ended before the first
    checkpoint) holds only logs: it is removed, so training starts again instead of the script stopping."""
    if trainer_state(run):
        return True
    if run.exists():
        print(f"{run}: no checkpoint, only the logs of a stopped start: training it from the beginning", flush=True)
        shutil.rmtree(run)
    return False


def save(path: Path, record: dict[str, Any], quick: bool) -> None:
    """One configuration's file: a record (write_record), or for a --quick toy run, which is no record and
    may come from any tree, the same fields marked quick."""
    if not quick:
        write_record(path, record)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**START, **record, "quick": True}, indent=2, default=float) + "\n")


def saved_once(path: Path, make: Callable[[], dict[str, Any]], quick: bool) -> dict[str, Any]:
    """The record at `path`, made by `make()` and saved first when it is not there yet: how a grid of
    configurations, one file each, resumes."""
    if not path.is_file():
        save(path, make(), quick)
    return json.loads(path.read_text())


def write_result(name: str, result: dict[str, Any], summary: str) -> Path:
    """Save results/<name>.json and refresh the README table."""
    path = write_record(RESULTS / f"{name}.json", {"summary": summary, **result})
    if RESULTS == HERE / "results":
        update_table()
    print(f"{summary}\nwrote {path}")
    return path


def update_table() -> None:
    rows = ["| result | summary | command | commit |", "|---|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text())
        rows.append(f"| [{path.stem}](results/{path.name}) | {r.get('summary', '')} | `{r.get('command', '')}` | "
                    f"{str(r.get('commit', ''))[:12]} |")
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    readme.write_text(text[:start] + "\n" + "\n".join(rows) + "\n" + text[end:])
