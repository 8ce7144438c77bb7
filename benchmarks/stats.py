"""The noise rules every race reports by (issue 18): seeds as mean +- sd, a tie under 5% unless >= 3 seeds show
the difference, and speed ratios from interleaved rounds with their spread."""

from __future__ import annotations

import statistics
from typing import Any

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
