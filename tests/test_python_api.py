"""The top-level Python API keeps its names whatever is imported later."""

from __future__ import annotations

import importlib


def test_train_stays_the_function_after_the_train_subpackage_is_imported():
    import noisecraft

    importlib.import_module("noisecraft.train.run")
    importlib.import_module("noisecraft.train.loop")
    assert callable(noisecraft.train) and noisecraft.train.__module__ == "noisecraft"
    assert callable(noisecraft.load) and callable(noisecraft.save_image_grid)
