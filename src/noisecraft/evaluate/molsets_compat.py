"""Import `molsets` (MOSES 0.3.1, 2020) on today's RDKit, pandas and NumPy, as the reference our MOSES
metrics are tested against and the CharRNN the benchmark trains beside ours.

Three things it relies on are gone: `rdkit.six.iteritems` (its SA scorer), `DataFrame.append` (building the
filter list at import) and `np.NaN` (fingerprints of invalid molecules). They come back here, the first
two only while `moses` imports; nothing of molsets' code is changed.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np


def import_molsets() -> Any:
    """The `moses` package, importable (ModuleNotFoundError when molsets is not installed)."""
    if "moses.metrics" in sys.modules:
        return sys.modules["moses"]
    import pandas as pd

    if "rdkit.six" not in sys.modules:
        six = types.ModuleType("rdkit.six")
        six.iteritems = lambda d: iter(d.items())  # type: ignore[attr-defined]
        sys.modules["rdkit.six"] = six
    if not hasattr(np, "NaN"):
        np.NaN = np.nan  # type: ignore[attr-defined]
    had_append = hasattr(pd.DataFrame, "append")
    if not had_append:
        pd.DataFrame.append = lambda self, other, sort=False: pd.concat([self, other], sort=sort)  # type: ignore[attr-defined]
    try:
        import moses
        import moses.metrics  # noqa: F401
    finally:
        if not had_append:
            del pd.DataFrame.append
    return moses
