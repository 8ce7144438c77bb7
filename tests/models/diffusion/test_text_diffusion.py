"""Caption-conditional diffusion: cross-attention sees the caption, padding is masked, guidance and negative
prompts change the result, latent diffusion on a frozen VQ-VAE, and model folders keep the tokenizer."""

from __future__ import annotations

import torch

from noisecraft.data.captions import load_shapes
from noisecraft.models.base import GenerativeModel
from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel
from noisecraft.models.vqvae.model import VQVAE, VQVAEConfig
from noisecraft.nn.text_encoder import TextEncoderConfig

DATA = load_shapes("train", num=64, image_size=32, caption_tokens=12)


def model(**options) -> DiffusionModel:
    torch.manual_seed(0)
    m = DiffusionModel(DiffusionConfig(channels=[8, 16], attention=[16], heads=2, steps=3,
                                       text_encoder=TextEncoderConfig(dim=16, layers=1, heads=2), **options), DATA.spec)
    for p in m.unet.parameters():  # zero-initialised output layers would hide the caption's effect
        torch.nn.init.normal_(p, std=0.05)
    return m.eval()


def test_cross_attention_sees_the_caption_and_masks_padding():
    m = model()
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([500.0, 500.0])
    ids = m.labels_for(["a big red circle", "a big red circle"], 2)
    other = m.labels_for(["a small blue cross", "a small blue cross"], 2)
    base = m.network(x, t, ids)
    assert (base - m.network(x, t, other)).abs().max() > 1e-4  # a different caption, a different prediction
    context, mask = m.text(ids)
    assert torch.equal(mask, ids != 0) and (~mask).any()
    hidden = context.clone()
    hidden[~mask] = torch.randn(int((~mask).sum()), context.shape[-1]) * 10  # masked tokens: anything at all
    torch.testing.assert_close(m.unet(x, t, context=hidden, context_mask=mask), base)
    assert (m.unet(x, t, context=hidden, context_mask=None) - base).abs().max() > 1e-4  # unmasked, they would count


def test_guidance_and_negative_prompts_change_samples_and_seeds_repeat():
    m = model(clip_denoised=False)
    ids = m.labels_for("a big red circle", 2)
    x, sigma = torch.randn(2, 3, 32, 32) * 3, torch.tensor(3.0)
    plain, guided = m.guided_denoiser(ids, 0.0)(x, sigma), m.guided_denoiser(ids, 3.0)(x, sigma)
    assert (plain - guided).abs().max() > 1e-3
    negative = m.guided_denoiser(ids, 3.0, m.labels_for("a big blue circle", 2))(x, sigma)
    assert (negative - guided).abs().max() > 1e-3
    draw = lambda **kw: m.sample(2, "a big red circle", torch.Generator().manual_seed(0), **kw)
    images = draw(guidance=3.0, negative="a blue cross")
    assert images.shape == (2, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    torch.testing.assert_close(draw(guidance=3.0, negative="a blue cross"), images)
    assert m.condition_kind == "prompt" and "negative" in m.describe_options()


def test_captions_are_dropped_in_training_for_guidance():
    m = model(label_dropout=1.0)
    ids = DATA.caption_ids[:4]
    dropped = m._training_labels({"caption": ids})
    assert torch.equal(dropped[:, 0], ids[:, 0]) and not dropped[:, 1:].any()  # the empty caption: <start> only
    assert torch.equal(model(label_dropout=0.0)._training_labels({"caption": ids}), ids)


def test_the_text_encoder_trains_jointly_and_the_folder_keeps_the_tokenizer(tmp_path):
    m = model(label_dropout=0.0)
    m.train()({"x": DATA.images[:4].float() / 255, "caption": DATA.caption_ids[:4]}).loss.backward()
    assert m.text.embed.weight.grad.abs().sum() > 0  # the caption encoder learns from the denoising loss
    loaded = GenerativeModel.from_pretrained(m.save_pretrained(tmp_path / "m"))
    assert loaded.spec.tokenizer == DATA.spec.tokenizer
    torch.testing.assert_close(loaded.labels_for("a red cross", 1), m.labels_for("a red cross", 1))


def test_latent_diffusion_on_a_frozen_vqvae_is_self_contained(tmp_path):
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(codebook_size=8, code_dim=4, channels=[8, 8], likelihood="gaussian"), DATA.spec.model_copy(
        update={"vocab_size": None, "tokenizer": None, "caption_tokens": None}))
    vq_dir = vq.save_pretrained(tmp_path / "vq")
    config = DiffusionConfig(channels=[8], attention=[8], heads=2, steps=2, autoencoder=str(vq_dir),
                             text_encoder=TextEncoderConfig(dim=16, layers=1, heads=2))
    m = DiffusionModel(config, DATA.spec)
    assert m.latent.shape == (4, 8, 8) and m.config.autoencoder_model["family"] == "vqvae"
    assert config.autoencoder_model is None  # the recipe's config (a run's config.yaml) is not changed: resume works
    assert not any(p.requires_grad for p in m.latent.parameters())
    assert all(p.requires_grad for p in m.optimizer_groups()["model"])
    loss = m.train()({"x": DATA.images[:4].float() / 255, "caption": DATA.caption_ids[:4]}).loss
    assert torch.isfinite(loss) and not m.latent.training
    folder = m.save_pretrained(tmp_path / "ld")
    (vq_dir / "model.safetensors").unlink()  # the latent model no longer needs the VQ-VAE's folder
    loaded = GenerativeModel.from_pretrained(folder)
    images = loaded.sample(2, "a red circle", torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, 32, 32)
    torch.testing.assert_close(images, m.eval().sample(2, "a red circle", torch.Generator().manual_seed(0)))
