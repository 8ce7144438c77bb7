"""The noise rules every race reports by (issue 18): seeds as mean +- sd, a tie under 5% unless >= 3 seeds show
the difference, speed ratios from interleaved rounds with their spread; and the races' turn taking."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Protocol

TIE_BELOW = 0.05  # a relative difference under this is a tie...
SEEDS_TO_SHOW = 3  # ...unless at least this many paired seeds all show it


def mean_sd(values: list[float]) -> dict[str, Any]:
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values), "values": values}


def compare(ours: list[float], peer: list[float], lower_is_better: bool = True) -> dict[str, Any]:
    """Paired by seed (ours[i] and peer[i] share seed i): means, sds, their ratio and the verdict."""
    a, b = mean_sd(ours), mean_sd(peer)
    ratio = a["mean"] / b["mean"]
    sign = 1 if lower_is_better else -1
    ours_ahead = [sign * (p - o) > 0 for o, p in zip(ours, peer)]
    shown = len(ours_ahead) >= SEEDS_TO_SHOW and (all(ours_ahead) or not any(ours_ahead))
    if abs(ratio - 1) < TIE_BELOW and not shown:
        verdict = "tie"
    else:
        verdict = "ours" if sign * (b["mean"] - a["mean"]) > 0 else "peer"
    return {"ours": a, "peer": b, "ratio_ours_over_peer": ratio, "seeds_ours_ahead": sum(ours_ahead),
            "verdict": verdict, "rule": f"under {TIE_BELOW:.0%} apart is a tie unless all of >= {SEEDS_TO_SHOW} "
                                        "paired seeds show the difference"}


def spread(ratios: list[float]) -> dict[str, Any]:
    """A speed ratio from interleaved rounds: its median and how far the rounds spread."""
    return {"rounds": len(ratios), "min": min(ratios), "median": statistics.median(ratios), "max": max(ratios),
            "values": list(ratios)}


def plus_minus(summary: dict[str, Any], fmt: str = ".2f") -> str:
    sd = summary["sd"]
    return f"{summary['mean']:{fmt}}" + (f" +- {sd:{fmt}}" if sd is not None else "") + f" (n={summary['n']})"


class Trainee(Protocol):
    name: str

    def seconds(self) -> float: ...  # training seconds spent so far (over sessions)

    def train_until(self, seconds: float) -> None: ...  # resume, train to `seconds` in total, save


def take_turns(trainees: list[Trainee], budget: float, slice_seconds: float) -> None:
    """Every training to `budget`, a slice at a time in turn, so the machine's noise hits all alike; each resumes
    from its own saved state, so a session may end anywhere."""
    target = 0.0
    while any(t.seconds() < budget - 1e-6 for t in trainees):
        target = min(budget, target + slice_seconds)
        for t in trainees:
            if t.seconds() < target - 1e-6:
                t.train_until(target)
        print(f"slice to {target:.0f} s: " + ", ".join(f"{t.name} {t.seconds():.0f} s" for t in trainees), flush=True)


def run_seconds(run: Path) -> float:
    """The training clock of a noisecraft run folder (train.max_seconds counts it), 0 before its first save."""
    from noisecraft.train.checkpoint import read_loop_state
    from noisecraft.utils.paths import RunDir

    state = read_loop_state(RunDir(run).last_checkpoint) if (run / "checkpoints").exists() else None
    return state.train_seconds if state else 0.0
