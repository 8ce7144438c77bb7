"""Logs: a CSV tracker for Accelerate (beside its TensorBoard tracker) and the loss plot."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from accelerate.tracking import GeneralTracker


class CSVTracker(GeneralTracker):
    """metrics.csv, one row per logged step. On resume, rows past the checkpoint are dropped first."""

    name = "csv"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        super().__init__()
        self.path = path
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and path.is_file():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if int(float(r["step"])) <= resume_step]
            self._rewrite()
        elif path.exists():
            path.unlink()

    @property
    def tracker(self) -> "CSVTracker":
        return self

    def store_init_configuration(self, values: dict) -> None:
        pass  # the configuration is in config.yaml

    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        row = {"step": step, **{k: _scalar(v) for k, v in values.items()}}
        self.rows.append(row)
        new_columns = [k for k in row if k not in self.columns]
        if new_columns:  # a key never seen before: rewrite with the wider header
            self.columns += new_columns
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, self.columns).writerow(row)

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def plot_loss(metrics_csv: Path, out: Path, title: str = "") -> Path | None:
    """loss.png: every logged loss-like column against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not metrics_csv.is_file():
        return None
    with metrics_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in (rows[0].keys() if rows else []) if "loss" in c]
    if not columns:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for col in columns:
        pts = [(float(r["step"]), float(r[col])) for r in rows if r.get(col) not in (None, "")]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=col)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
