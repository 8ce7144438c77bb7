from pathlib import Path

import pytest

from noisecraft.config import apply_overrides, builtin_recipes
from noisecraft.models.registry import load_recipe
from noisecraft.errors import ConfigError


def test_every_builtin_recipe_validates():
    recipes = builtin_recipes()
    assert {"mnist-vae", "mnist-vae-tiny"} <= set(recipes)
    for name in recipes:
        resolved = load_recipe(name)
        assert resolved.recipe.name == name
        assert resolved.to_dict()["model"]["family"] == resolved.model.family


@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.bacth_size=3", "train.bacth_size: unknown key (allowed: seed, max_steps, max_seconds, batch_size"),
        ("data.imagefolder=x", "data.imagefolder: unknown key (allowed: dataset, image_folder"),
        ("model.latnt_dim=3", "model.latnt_dim: unknown key (allowed: family, latent_dim"),
        ("extra=1", "extra: unknown key (allowed: name, description, data, model, train, evaluate)"),
        ("train.batch_size=abc", "train.batch_size: Input should be a valid integer"),
        ("train.lr=-1", "train.lr: Input should be greater than 0 (got -1)"),
        ("train.precision=16", "train.precision: Input should be '32' or 'bf16-mixed' (got 16)"),
        ("model.latent_dim=0", "model.latent_dim: Input should be greater than or equal to 1 (got 0)"),
        ("data.dataset=cifar", "data.dataset: Input should be 'mnist', 'digits', 'image_folder', 'tinyshakespeare', 'text'"),
        ("model.family=unicorn", "model.family: unknown family 'unicorn' (known: "),
        ("model.family=os.path:join", "is not a GenerativeModel subclass"),
        ("data.image_folder=/x", "data.image_folder is set, so data.dataset must be image_folder"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, expected):
    with pytest.raises(ConfigError) as err:
        load_recipe("mnist-vae-tiny", [override])
    assert expected in str(err.value)
    assert "mnist-vae-tiny.yaml" in str(err.value) or "model.family" in str(err.value)


def test_overrides_parse_yaml_values_and_create_nested_keys():
    raw = apply_overrides({"train": {"lr": 1}}, ["train.lr=3e-4", "model.channels=[8, 16]", "train.grad_clip=null",
                                                   "data.limit=10", "name=x=y"])
    assert raw == {"train": {"lr": 3e-4, "grad_clip": None}, "model": {"channels": [8, 16]},
                   "data": {"limit": 10}, "name": "x=y"}
    resolved = load_recipe("mnist-vae-tiny", ["model.channels=[8, 16, 32]", "train.grad_clip=null"])
    assert resolved.model.channels == [8, 16, 32] and resolved.recipe.train.grad_clip is None


@pytest.mark.parametrize("item", ["train.lr", "=3", "train.lr.x=1"])
def test_malformed_overrides_are_errors(item):
    with pytest.raises(ConfigError, match="--set"):
        load_recipe("mnist-vae-tiny", [item])


def test_recipe_file_errors_name_the_file(tmp_path: Path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("model: {family: vae\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_recipe(bad_yaml)
    no_family = tmp_path / "nofamily.yaml"
    no_family.write_text("train: {lr: 1.0e-3}\n")
    with pytest.raises(ConfigError, match=r"nofamily\.yaml: model\.family: missing"):
        load_recipe(no_family)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="a recipe is a mapping"):
        load_recipe(not_mapping)
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_recipe(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown recipe 'nope'.*mnist-vae"):
        load_recipe("nope")


def test_recipe_from_a_file_with_defaults(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nmodel: {family: vae, latent_dim: 3}\ndata: {dataset: digits}\n")
    resolved = load_recipe(path)
    assert resolved.model.latent_dim == 3 and resolved.model.channels == [32, 64]
    assert resolved.recipe.data.dataset == "digits" and resolved.recipe.train.batch_size == 128
