"""Run any or all benchmarks, each script's steps in order, resumably.

    python benchmarks/run.py                      # every benchmark at full size (hours: see benchmarks/README.md)
    python benchmarks/run.py fid_sanity moses     # some of them
    python benchmarks/run.py --quick              # every script end to end at toy sizes, nothing recorded
    python benchmarks/run.py --quick --jobs 2     # the same, two scripts at a time (what CI runs)
    python benchmarks/run.py --list               # the steps each one runs

A full run records into benchmarks/results/ (from a clean tree, see common.py); run it again after a stop
and each script skips what it already recorded (a configuration whose result file exists, a finished
training run), so it carries on where it stopped; a script whose summary record (results/NAME.json) exists
is not run again (`--force` runs it; or `git rm` the record to re-make it). `--quick` gives every script one fresh temporary folder
($NOISECRAFT_BENCH_QUICK_DIR) and removes it afterwards (`--keep` keeps it). A script whose peer is not set
up (its venv, nanoGPT's source) is skipped with one line naming the command that sets it up. Every script in
benchmarks/ with a `__main__` is found; one not listed in STEPS runs as `NAME.py` (full) and `NAME.py --quick`.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NOT_SCRIPTS = {"run", "common", "pythae_nets", "stats"}  # modules the scripts import


@dataclass
class Steps:
    """What `run.py NAME` runs: argv lists for the script (or `noisecraft ...` commands), in order."""

    full: list[list[str]] = field(default_factory=lambda: [[]])
    quick: list[list[str]] = field(default_factory=lambda: [["--quick"]])
    record: str | None = None  # its summary record (default NAME.json): a full run skips the script once it exists
    venv: str | None = None  # a peer's venv, made by `setup`
    needs: str | None = None  # a path (from the repository root) without which the script cannot run
    setup: str | None = None


DIFFUSERS = dict(venv=".venv-diffusers", setup="benchmarks/setup_diffusers_venv.sh")
# Keep in step with each script's docstring: these are the commands it documents for a full run.
STEPS: dict[str, Steps] = {
    "classifier_accuracy": Steps(record="mnist-classifier.json"),
    "diffusion_guidance": Steps(record="diffusion-guidance.json", full=[
        ["noisecraft", "train", "mnist-diffusion-cond", "--set", "data.hold_out_validation=true",
         "--out", "runs/mnist-diffusion-cond-val"],
        ["../runs/mnist-diffusion-cond-val", "--num", "500", "--guidance", "0,1,1.5,2,3"]]),
    "diffusion_vs_diffusers": Steps(full=[
        ["speed"], ["pilot", "--budget", "300"], ["train", "--budget", "1800"],
        ["train", "--models", "swap", "--seeds", "0"], ["quality"], ["ddim"], ["replay"], ["headline"], ["report"]], **DIFFUSERS),
    "evaluate_run": Steps(full=[
        ["noisecraft", "train", "mnist-vae", "--out", "runs/mnist-vae"],
        ["../runs/mnist-vae", "--protocol", "headline", "--name", "mnist-vae-headline"]],
        record="mnist-vae-headline.json"),
    "fid_sanity": Steps(full=[["--train", "10000", "--corrupt", "1000"]], record="fid_sanity.json"),
    "first_command": Steps(record="first_command.json", quick=[["--quick", "--seeds", "0"]]),
    "first_minute": Steps(record="first_minute.json"),
    "game_levels": Steps(quick=[["--quick", "--seconds", "3", "--out", "{tmp}/game_levels"]]),
    "game_levels_pilots": Steps(quick=[["--quick", "--seconds", "3", "--out", "{tmp}/game_levels_pilots"]]),
    "gan_vs_dcgan": Steps(full=[["pilots"], ["race"], ["report"]]),
    "inception_speed": Steps(full=[["--images", "200", "--rounds", "10"]], record="inception_speed.json"),
    "moses": Steps(full=[["run"], ["report"]], quick=[["run", "--quick", "--budget", "5", "--out", "{tmp}/moses"]]),
    "moses_vae_pilots": Steps(quick=[["--quick", "--out", "{tmp}/moses_vae_pilots"]]),
    "music": Steps(full=[["--only", "arcnn,coconet"], ["--only", "frames,transformer", "--examples"]],
                   quick=[["--quick", "--budget", "5", "--out", "{tmp}/music", "--work", "{tmp}/music-work"]]),
    "record_suite": Steps(full=[["mnist-families", "--out", "../bench"]], record="mnist-families.json"),
    "text_to_image": Steps(full=[["all", "--only", "shapes-diffusion,shapes-latent-diffusion"],
                                 ["all", "--only", "shapes-dalle"]],
                           quick=[["all", "--quick", "--out", "{tmp}/t2i", "--runs", "{tmp}/t2i/runs"]]),
    "text_to_image_pilots": Steps(quick=[["--quick", "--out", "{tmp}/t2i_pilots"]]),
    "text_vs_nanogpt": Steps(full=[["speed"], ["pilots", "--budget", "600"], ["race", "--budget", "600"], ["kv"],
                                   ["report"]],
                             needs="benchmarks/_work/nanogpt/src",
                             setup="python benchmarks/text_vs_nanogpt.py setup --source https://github.com/karpathy/nanoGPT"),
    "vae_vs_pythae": Steps(full=[["speed"], ["quality"], ["report"]], venv=".venv-pythae",
                           setup="benchmarks/setup_pythae_venv.sh"),
}


def scripts() -> list[str]:
    """Every runnable script in benchmarks/ (one with a `__main__` block), by name."""
    return sorted(p.stem for p in HERE.glob("*.py")
                  if p.stem not in NOT_SCRIPTS and 'if __name__ == "__main__"' in p.read_text())


def missing(name: str, steps: Steps, quick: bool) -> str | None:
    """Why the script cannot run here (its peer is not set up, or it has no --quick yet), or None."""
    if quick and '"--quick"' not in (HERE / f"{name}.py").read_text():
        return "it has no --quick yet"
    if steps.venv and not (REPO / steps.venv / "bin" / "python").exists():
        return f"{steps.venv} is missing: {steps.setup}"
    if steps.needs and not quick and not (REPO / steps.needs).exists():  # --quick runs our side alone
        return f"{steps.needs} is missing: {steps.setup}"
    return None


def stale(name: str, steps: Steps) -> list[str]:
    """Sub-commands in STEPS that the script no longer has (caught before hours of work, not after)."""
    source = (HERE / f"{name}.py").read_text()
    return [argv[0] for argv in steps.full if argv and argv[0].isidentifier() and argv[0] != "noisecraft"
            and f'"{argv[0]}"' not in source]


def command(name: str, steps: Steps, argv: list[str], tmp: str) -> list[str]:
    argv = [a.replace("{tmp}", tmp) for a in argv]
    python = str(REPO / steps.venv / "bin" / "python") if steps.venv else sys.executable
    if argv and argv[0] == "noisecraft":
        out = REPO / argv[argv.index("--out") + 1] if "--out" in argv else None
        resume = ["--resume"] if out is not None and (out / "config.yaml").exists() else []
        return [python, "-m", "noisecraft.cli.main", *argv[1:], *resume]
    return [python, f"{name}.py", *argv]


PRINTING = threading.Lock()  # --jobs: one script's output at a time


def run_one(name: str, quick: bool, tmp: str, force: bool = False, threads: int | None = None) -> bool:
    """Run one script's steps, streaming its output; `threads` (--jobs) caps each step's torch threads and
    holds the output back until the script ends, so scripts run side by side print whole."""
    out = io.StringIO() if threads else sys.stdout
    ok = run_steps(name, quick, tmp, force, threads, out)
    if threads:
        with PRINTING:
            print(out.getvalue(), end="", flush=True)
    return ok


def run_steps(name: str, quick: bool, tmp: str, force: bool, threads: int | None, out) -> bool:
    say = lambda line: print(line, file=out, flush=True)  # noqa: E731
    steps = STEPS.get(name, Steps())
    why = missing(name, steps, quick)
    if why:
        say(f"skip {name}: {why}")
        return True
    record = steps.record or f"{name}.json"
    if not quick and not force and (HERE / "results" / record).exists():
        say(f"have {name}: results/{record} (--force makes it again)")
        return True
    if not quick and stale(name, steps):
        say(f"FAILED {name}: {name}.py has no sub-command {', '.join(stale(name, steps))} (update STEPS in run.py)")
        return False
    env = {**os.environ, "NOISECRAFT_BENCH_QUICK_DIR": str(Path(tmp) / name)} if quick else None
    if threads:
        env = {**(env or os.environ), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    for argv in steps.quick if quick else steps.full:
        cmd = command(name, steps, argv, tmp)
        cwd = REPO if argv and argv[0] == "noisecraft" else HERE  # scripts run from benchmarks/, as documented
        say(f"$ {' '.join(cmd[1:] if cmd[0] == sys.executable else cmd)}")
        if threads:
            result = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out.write(result.stdout)
        else:
            result = subprocess.run(cmd, cwd=cwd, env=env)
        if result.returncode != 0:
            say(f"FAILED {name}: {' '.join(argv)} ({time.perf_counter() - start:.0f} s)")
            return False
    say(f"done {name} ({time.perf_counter() - start:.0f} s)")
    return True


def run_all(names: list[str], quick: bool, tmp: str, force: bool, jobs: int) -> list[str]:
    """The names that failed. With --jobs N (--quick only) N scripts run at once, the cores split among them."""
    if jobs == 1:
        return [name for name in names if not run_one(name, quick, tmp, force)]
    threads = max(1, int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)) // jobs)
    with ThreadPoolExecutor(jobs) as pool:
        ok = list(pool.map(lambda name: run_one(name, quick, tmp, force, threads), names))
    return [name for name, good in zip(names, ok) if not good]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="scripts to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="toy sizes, into a temporary folder; records nothing")
    parser.add_argument("--keep", action="store_true", help="with --quick: keep the temporary folder")
    parser.add_argument("--list", action="store_true", help="print each script's steps and stop")
    parser.add_argument("--force", action="store_true", help="run a script even where its summary record exists")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="with --quick: N scripts at a time (full runs time things, so they run one at a time)")
    args = parser.parse_args()
    if args.jobs < 1 or (args.jobs > 1 and not args.quick):
        parser.error("--jobs N: N >= 1, and above 1 only with --quick "
                     "(two full benchmarks corrupt each other's timings)")
    known = scripts()
    unknown = [n.removesuffix(".py") for n in args.names if n.removesuffix(".py") not in known]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from: {', '.join(known)})")
    names = [n.removesuffix(".py") for n in args.names] or known
    if args.list:
        for name in names:
            steps = STEPS.get(name, Steps())
            for argv in steps.quick if args.quick else steps.full:
                print(f"{name}: {' '.join(command(name, steps, argv, '{tmp}')[1:])}")
        return
    not_code = [":!benchmarks/results", ":!benchmarks/README.md", ":!benchmarks/models"]  # what records write (common.NOT_CODE)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", *not_code], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    if dirty and not args.quick:  # every record would be refused at its end (common.py): say so before the hours
        raise SystemExit("the tree has uncommitted changes (git status), so no record could name its code: commit "
                         "first (or run a script alone with --draft)")
    tmp = tempfile.mkdtemp(prefix="noisecraft-bench-quick-") if args.quick else ""
    try:
        failed = run_all(names, args.quick, tmp, args.force, args.jobs)
    finally:
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"kept {tmp}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
