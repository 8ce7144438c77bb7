"""Every record in benchmarks/results/ names the exact code that made it (issue 18, item 1).

A record is a JSON file written by benchmarks/common.py from a clean tree: its commit exists, is an ancestor
of HEAD (so anyone can check it out and re-run the command), was not dirty, and the record carries what
common.py writes and nothing a person added by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RECORDS = sorted(RESULTS.rglob("*.json"))
ENVIRONMENT = ("command", "commit", "date", "python", "torch", "threads", "load_average", "load_average_after")
HAND_WRITTEN = {"recorder_note", "summary_note", "note", "notes", "comment"}


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def in_history() -> bool:
    """A full git checkout: a source archive or a shallow clone cannot tell which commits exist."""
    return git("rev-parse", "--git-dir").returncode == 0 and git("rev-parse", "--is-shallow-repository").stdout.strip() == "false"


def problems(record: dict) -> list[str]:
    """What is wrong with one record (empty: it stands)."""
    found = [f"no {key!r}" for key in ENVIRONMENT if key not in record]
    found += [f"hand-written field {key!r}" for key in HAND_WRITTEN & set(record)]
    if record.get("draft"):
        found.append("a --draft or --quick output, not a record")
    commit = str(record.get("commit", ""))
    if commit.endswith("+dirty"):
        found.append(f"made from a tree with uncommitted changes ({commit})")
    elif not re.fullmatch(r"[0-9a-f]{40}", commit):
        found.append(f"commit {commit!r} is not a full commit hash")
    elif git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        found.append(f"commit {commit} is not in this repository")
    elif git("merge-base", "--is-ancestor", commit, "HEAD").returncode != 0:
        found.append(f"commit {commit} is not an ancestor of HEAD")
    else:
        script = re.match(r"\S*python\S*\s+(?:benchmarks/)?(\S+\.py)\b", str(record.get("command", "")))
        if script is None:
            found.append(f"command {record.get('command')!r} does not run a benchmarks/ script")
        elif git("cat-file", "-e", f"{commit}:benchmarks/{script.group(1)}").returncode != 0:
            found.append(f"benchmarks/{script.group(1)} does not exist at {commit[:12]}")
    return found


def test_there_are_records():
    assert RECORDS, "benchmarks/results/ holds no records"


@pytest.mark.skipif(not in_history(), reason="needs the repository's full git history")
@pytest.mark.parametrize("path", RECORDS, ids=[str(p.relative_to(RESULTS)) for p in RECORDS])
def test_record_names_committed_code(path: Path):
    record = json.loads(path.read_text())
    assert isinstance(record, dict), f"{path}: not a JSON object"
    assert not problems(record), f"{path.relative_to(REPO)}: " + "; ".join(problems(record))


@pytest.mark.skipif(not in_history(), reason="needs the repository's full git history")
def test_the_audit_catches_each_fault():
    """Each fault on its own fails a good record (so the audit above can fail)."""
    good = next((r for r in map(json.loads, map(Path.read_text, RECORDS)) if not problems(r)), None)
    assert good is not None, "no record passes the audit"
    faults = {
        "dirty": {**good, "commit": good["commit"] + "+dirty"},
        "missing commit": {**good, "commit": "739e5937d86bbf359b9a626067f81ac76451daa0"},
        "prose commit": {**good, "commit": good["commit"][:7] + " (vae, diffusion trained earlier)"},
        "hand note": {**good, "recorder_note": "numbers copied from another run"},
        "no load average": {k: v for k, v in good.items() if k != "load_average"},
        "draft": {**good, "draft": True},
        "script not at its commit": {**good, "command": "python no_such_benchmark.py"},
        "not a script": {**good, "command": "noisecraft bench mnist-families --out bench"},
    }
    for name, record in faults.items():
        assert problems(record), f"the audit passed a record with fault: {name}"
