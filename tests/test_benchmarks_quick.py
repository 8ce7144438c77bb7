"""`python benchmarks/run.py --quick` runs every benchmark script end to end at toy sizes (issue 18, item 6), so
no script rots between the full runs; it must record nothing under benchmarks/results/.

Minutes, not seconds (~7 on 2 AVX2 cores, two scripts at a time): the default `-m "not benchmarks"` leaves it
out of the README's test command; CI (`.ci/run`) runs it after that, as `pytest -m benchmarks`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def snapshot() -> dict[str, int]:
    return {str(p.relative_to(RESULTS)): p.stat().st_mtime_ns for p in RESULTS.rglob("*") if p.is_file()}


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "benchmarks/run.py", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def scripts() -> list[str]:
    return run("--list", "--quick").stdout.split("\n")


def test_run_lists_every_script_and_refuses_unknown_names():
    names = {line.split(":")[0] for line in scripts() if line}
    on_disk = {p.stem for p in (REPO / "benchmarks").glob("*.py") if 'if __name__ == "__main__"' in p.read_text()}
    assert names == on_disk - {"run"}
    full = run("--list").stdout
    assert "record_suite: record_suite.py mnist-families --out ../bench" in full
    bad = run("no_such_benchmark")
    assert bad.returncode == 2 and "unknown benchmark no_such_benchmark" in bad.stderr
    side_by_side = run("fid_sanity", "--jobs", "2")  # full runs time things: never two at once
    assert side_by_side.returncode == 2 and "above 1 only with --quick" in side_by_side.stderr


@pytest.mark.benchmarks
def test_every_benchmark_runs_at_toy_size():
    before = snapshot()
    result = run("--quick", "--jobs", "2", timeout=1200)  # two scripts at a time, one thread each
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    names = {line.split(":")[0] for line in scripts() if line}
    for name in names:  # each one ran to the end, or says in one line why it could not run here
        assert f"done {name} (" in out or f"skip {name}: " in out, f"{name}: neither done nor skipped\n{out[-3000:]}"
        assert out.count(f"done {name} (") + out.count(f"skip {name}: ") == 1, f"{name} ran or reported twice"
    peer = REPO / "benchmarks" / "diffusion_vs_diffusers.py"
    if '"--quick"' in peer.read_text() and not (REPO / ".venv-diffusers" / "bin" / "python").exists():
        assert "skip diffusion_vs_diffusers: .venv-diffusers is missing: benchmarks/setup_diffusers_venv.sh" in out
    for name in filter(None, os.environ.get("NOISECRAFT_REQUIRE_PEERS", "").split(",")):  # CI sets up these peers
        assert f"done {name} (" in out, f"{name}: its peer is required here (NOISECRAFT_REQUIRE_PEERS)\n{out[-3000:]}"
    ran = [n for n in names if f"done {n} (" in out]
    assert len(ran) >= len(names) // 2, f"only {ran} ran"
    assert snapshot() == before, "a --quick run changed benchmarks/results/"
