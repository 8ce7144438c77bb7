"""The top-level Python API: `noisecraft.fit` trains; `noisecraft.train` is the training layer's package and,
for one release, still callable as the 0.1 function (with a DeprecationWarning), whatever was imported first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TWO_STEPS = ["train.max_steps=2", "train.checkpoint_every=2", "train.sample_every=2", "train.log_every=1"]


def test_fit_trains_a_recipe_into_a_run_folder(tmp_path: Path):
    import noisecraft

    run = noisecraft.fit("mnist-vae-tiny", out=tmp_path / "run", overrides=TWO_STEPS, progress=False)
    assert run == tmp_path / "run" and (run / "model" / "model.safetensors").is_file()
    assert noisecraft.load(run).family == "vae"


@pytest.mark.parametrize("first", ["import noisecraft", "import noisecraft.train.loop, noisecraft.train.checkpoint"])
def test_the_deprecated_call_works_whichever_module_is_imported_first(first: str):
    """A fresh interpreter each: the order of imports is the point. An unknown recipe fails fast, after the warning."""
    code = f"""
import warnings
{first}
import noisecraft
from noisecraft.errors import ConfigError
import noisecraft.train.trackers
assert noisecraft.fit.__module__ == "noisecraft" and callable(noisecraft.load) and callable(noisecraft.save_image_grid)
assert noisecraft.train.__name__ == "noisecraft.train" and callable(noisecraft.train)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        noisecraft.train("no-such-recipe")
    except ConfigError as e:
        assert "unknown recipe 'no-such-recipe'" in str(e), e
    else:
        raise AssertionError("no error")
assert [w.category for w in caught] == [DeprecationWarning], caught
assert "noisecraft.train(...) is deprecated" in str(caught[0].message) and "noisecraft.fit" in str(caught[0].message)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    assert result.stdout.strip() == "ok", result.stdout + result.stderr


def test_old_import_paths_still_work_with_a_deprecation_warning():
    import importlib

    import noisecraft.utils.paths as paths

    sys.modules.pop("noisecraft.train.run", None)
    with pytest.warns(DeprecationWarning, match="noisecraft.utils.paths"):
        run = importlib.import_module("noisecraft.train.run")
    assert run.RunDir is paths.RunDir and run.model_dir_of is paths.model_dir_of
    import noisecraft.config
    from noisecraft.models.registry import load_recipe

    with pytest.warns(DeprecationWarning, match="noisecraft.models.registry.load_recipe"):
        assert noisecraft.config.load_recipe is load_recipe
