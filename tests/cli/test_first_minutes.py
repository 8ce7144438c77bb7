"""The first minutes with noisecraft: lists that scripts can read, your own data in one --set, a small
folder, --metrics nll on token models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.models.registry import load_recipe


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("verb", ["recipes", "datasets"])
def test_lists_print_whole_names_when_piped_and_json(capsys, verb):
    code, out, _ = cli(capsys, verb, "list")  # capsys: stdout is not a terminal, as in a pipe
    assert code == 0 and "…" not in out
    lines = out.splitlines()
    assert lines[0].split("\t")[0] == "name" and len(lines) > 3
    names = [line.split("\t")[0] for line in lines[1:]]
    code, out, _ = cli(capsys, verb, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == names
    if verb == "recipes":
        assert "mnist-diffusion-cond-tiny" in names  # the name a 30-column table cut to "mnist-diffusion-con…"
        long = next(r for r in rows if r["name"] == "mnist-diffusion-cond")
        assert long["family"] == "diffusion" and long["description"] in out
    else:
        assert next(r for r in rows if r["name"] == "mnist")["train"] == 60000


def test_own_data_in_one_set_switches_the_data_set(tmp_path: Path):
    images = load_recipe("mnist-vae", [f"data.image_folder={tmp_path}"]).recipe.data
    assert images.dataset == "image_folder" and images.image_folder == tmp_path
    assert images.image_size == 28  # the size mnist-vae's model was built for
    sized = load_recipe("mnist-vae", [f"data.image_folder={tmp_path}", "data.image_size=16"]).recipe.data
    assert sized.image_size == 16
    text = load_recipe("shakespeare-char-tiny", [f"data.text_path={tmp_path}"]).recipe.data
    assert text.dataset == "text" and text.text_path == tmp_path
    with pytest.raises(Exception, match="data.dataset must be image_folder"):  # both said: the user's words stand
        load_recipe("mnist-vae", [f"data.image_folder={tmp_path}", "data.dataset=mnist"])


def test_a_folder_smaller_than_one_batch_trains_with_one_warning(capsys, tmp_path: Path):
    for i in range(11):
        Image.new("L", (10 + i % 3, 12), 40 * (i % 6)).save(tmp_path / f"{i}.png")  # mixed sizes too
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "mnist-vae-tiny", "--quiet", "--set", f"data.image_folder={tmp_path}",
                       "--set", "data.test_fraction=0", "--set", "data.limit=null", "--max-steps", "2", "--out", str(out))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("11 training examples are fewer than one batch" in w and "batches of 11" in w for w in warnings), err
    assert len(warnings) == 1
    spec = json.loads((out / "model" / "config.json").read_text())["spec"]
    assert list(spec["shape"]) == [3, 28, 28]  # mixed sizes, fitted to the size mnist-vae-tiny's model was built for


def test_readme_first_command_is_what_ci_installs_and_a_recipe_that_ships():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert first.startswith("./install.sh && source .venv/bin/activate && noisecraft train ")
    recipe = first.split("noisecraft train ")[1].split()[0]
    assert load_recipe(recipe).recipe.train.max_seconds <= 120  # never more than 2 minutes of training
    ci = (root / ".ci" / "run").read_text()
    assert "./install.sh" in ci and "source .venv-ci/bin/activate" in ci  # install.sh respects an active venv
    assert 'VIRTUAL_ENV' in (root / "install.sh").read_text()
