"""The conditioning contract every class-conditional family shares (models/base.py): labelled data or a
clear error, one marker (None) for "no class", labels required where a conditional model needs them; and
model folders saved before the class embedding's rename still load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.registry import get_family

LABELLED = DataSpec(shape=(1, 8, 8), num_classes=3, class_names=["a", "b", "c"])
UNLABELLED = DataSpec(shape=(1, 8, 8))
TINY = {
    "vae": {"latent_dim": 2, "channels": [4], "hidden_dim": 8},
    "gan": {"latent_dim": 4, "width": 8},
    "pixelcnn": {"channels": 4, "layers": 2, "kernel": 3, "head": 4},
    "diffusion": {"channels": [8], "attention": [], "heads": 1},
}


def make(family: str, spec: DataSpec, conditional: bool) -> GenerativeModel:
    cls = get_family(family)
    torch.manual_seed(0)
    return cls(cls.config_class(**TINY[family], conditional=conditional), spec).eval()


@pytest.mark.parametrize("family", TINY)
def test_every_conditional_family_keeps_the_same_contract(family: str):
    with pytest.raises(ConfigError, match=r"model.conditional: the data has no labels \(image_folder: set data.labels: true\)"):
        make(family, UNLABELLED, conditional=True)
    for spec in (UNLABELLED, LABELLED):  # unconditional: None, whether or not the data has labels
        model = make(family, spec, conditional=False)
        assert model.num_classes is None and model.condition_kind is None
        assert model.labels_for(None, 4) is None and model.require_labels(torch.tensor([1])) is None
        with pytest.raises(ConfigError, match="--class: this model is unconditional"):
            model.labels_for(1, 4)
    model = make(family, LABELLED, conditional=True)
    assert model.num_classes == 3 and model.condition_kind == "class"
    assert model.labels_for(None, 5).tolist() == [0, 1, 2, 0, 1] and model.labels_for("c", 2).tolist() == [2, 2]
    with pytest.raises(ConfigError, match=f"this {family} model is class-conditional and was given no labels"):
        model({"x": torch.rand(2, 1, 8, 8)})
    assert torch.isfinite(model({"x": torch.rand(2, 1, 8, 8), "y": torch.tensor([0, 2])}).loss)


def test_a_model_folder_with_the_old_class_embedding_name_still_loads(tmp_path: Path):
    """0.1 saved the diffusion UNet's class embedding as `unet.class_emb.weight`; it is `class_embed` now."""
    model = make("diffusion", LABELLED, conditional=True)
    with torch.no_grad():
        model.unet.class_embed.weight.normal_()
    folder = model.save_pretrained(tmp_path / "m")
    weights = load_file(folder / "model.safetensors")
    weights["unet.class_emb.weight"] = weights.pop("unet.class_embed.weight")
    save_file(weights, folder / "model.safetensors")
    loaded = GenerativeModel.from_pretrained(folder)
    assert torch.equal(loaded.unet.class_embed.weight, model.unet.class_embed.weight)
    x, sigma, labels = torch.randn(3, 1, 8, 8), torch.tensor(2.0), torch.tensor([0, 1, 2])
    assert torch.equal(loaded.denoise(x, sigma, labels), model.denoise(x, sigma, labels))


def test_the_shipped_classifier_still_loads():
    from noisecraft.evaluate.classifier import MNIST_CLASSIFIER_DIR

    classifier = GenerativeModel.from_pretrained(MNIST_CLASSIFIER_DIR)
    assert classifier.family == "classifier" and classifier.logits(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
