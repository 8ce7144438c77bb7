"""DALL-E style prior: causal over image codes, cached sampling = uncached likelihood, guidance, and the
same prior without captions is the VQ-VAE's sampler."""

from __future__ import annotations

import torch

from noisecraft.data.base import DataSpec
from noisecraft.data.captions import load_shapes
from noisecraft.models.autoregressive.image_prior import ImagePrior, ImagePriorConfig
from noisecraft.models.base import GenerativeModel
from noisecraft.models.vqvae.model import VQVAE, VQVAEConfig

DATA = load_shapes("train", num=32, image_size=32, caption_tokens=12)


def vqvae_dir(tmp_path, spec=None):
    torch.manual_seed(0)
    spec = spec or DataSpec(shape=(3, 32, 32))
    return VQVAE(VQVAEConfig(codebook_size=8, code_dim=4, channels=[8, 8]), spec).save_pretrained(tmp_path / "vq")


def prior(tmp_path, spec=DATA.spec, **options) -> ImagePrior:
    torch.manual_seed(0)
    return ImagePrior(ImagePriorConfig(autoencoder=str(vqvae_dir(tmp_path)), layers=1, heads=2, dim=16, **options), spec).eval()


def test_each_code_sees_only_the_caption_and_the_codes_before_it(tmp_path):
    m = prior(tmp_path)
    codes = torch.randint(0, 8, (1, 8, 8))
    seq = m.sequence(m.captions("a red circle", 1), codes)
    before = m.code_logits(seq)
    j = 20
    changed = codes.clone().flatten(1)
    changed[0, j] = (changed[0, j] + 1) % 8
    after = m.code_logits(m.sequence(m.captions("a red circle", 1), changed.view(1, 8, 8)))
    torch.testing.assert_close(after[:, : j + 1], before[:, : j + 1])  # code j's own prediction comes before it
    assert (after[:, j + 1 :] - before[:, j + 1 :]).abs().max() > 0  # later codes see it
    other = m.code_logits(m.sequence(m.captions("a blue cross", 1), codes))
    assert (other[:, 0] - before[:, 0]).abs().max() > 0  # every code sees the caption


def test_cached_sampling_draws_what_the_uncached_model_scores(tmp_path):
    m = prior(tmp_path)
    codes = m.sample_codes(3, "a big red circle", torch.Generator().manual_seed(0), temperature=0)
    assert codes.shape == (3, 8, 8) and codes.min() >= 0 and codes.max() < 8
    greedy = m.code_logits(m.sequence(m.captions("a big red circle", 3), codes)).argmax(-1)
    assert torch.equal(greedy.view(3, 8, 8), codes)  # each cached step picked the likeliest code given the past
    images = m.sample(2, "a big red circle", torch.Generator().manual_seed(1), guidance=8.0)
    assert images.shape == (2, 3, 32, 32)
    unguided = m.sample_codes(2, "a big red circle", torch.Generator().manual_seed(1), guidance=1.0)
    guided = m.sample_codes(2, "a big red circle", torch.Generator().manual_seed(1), guidance=8.0)
    assert not torch.equal(unguided, guided)
    torch.testing.assert_close(images, m.vqvae.decode_codes(guided))  # the same seed, the same draw


def test_training_loss_is_on_the_codes_and_the_vqvae_stays_frozen(tmp_path):
    m = prior(tmp_path)
    codebook = m.vqvae.quantizer.codebook.clone()
    out = m.train()({"x": DATA.images[:4].float() / 255, "caption": DATA.caption_ids[:4]})
    out.loss.backward()
    assert torch.isfinite(out.loss) and abs(out.loss.item() - torch.log(torch.tensor(8.0 + 40 + 1)).item()) < 1.5
    assert torch.equal(m.vqvae.quantizer.codebook, codebook) and not m.vqvae.training
    assert set(m.optimizer_groups()["model"]) == set(m.prior.parameters())


def test_without_captions_the_prior_samples_the_vqvae(tmp_path):
    spec = DataSpec(shape=(3, 32, 32))
    m = prior(tmp_path, spec=spec)
    assert m.condition_kind is None
    out = m.train()({"x": DATA.images[:4].float() / 255})
    assert torch.isfinite(out.loss)
    folder = m.save_pretrained(tmp_path / "dalle")
    loaded = GenerativeModel.from_pretrained(folder)
    torch.testing.assert_close(loaded.sample(2, generator=torch.Generator().manual_seed(0)),
                               m.eval().sample(2, generator=torch.Generator().manual_seed(0)))
