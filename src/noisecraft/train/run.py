"""Deprecated home of the run folder layout: it lives in `noisecraft.utils.paths` now (so evaluation and
serving find run folders without depending on training). Removed in the next release."""

from __future__ import annotations

import warnings

from noisecraft.utils.paths import RunDir, default_run_dir, latest_run_dir, model_dir_of

warnings.warn("noisecraft.train.run is deprecated: import RunDir, model_dir_of, default_run_dir and latest_run_dir "
              "from noisecraft.utils.paths", DeprecationWarning, stacklevel=2)

__all__ = ["RunDir", "default_run_dir", "latest_run_dir", "model_dir_of"]
