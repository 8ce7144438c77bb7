"""The CLIP-style scorer learns to match images and captions, and --rerank keeps the best-scored candidate."""

from __future__ import annotations

import pytest
import torch

from noisecraft.data.captions import load_shapes
from noisecraft.errors import ConfigError
from noisecraft.models.clip import CLIPConfig, CLIPScorer
from noisecraft.nn.text_encoder import TextEncoderConfig
from noisecraft.models.rerank import generate_reranked, pick_best

DATA = load_shapes("train", num=64, image_size=32, caption_tokens=12)


def test_scorer_learns_to_match_images_with_their_captions(fit):
    torch.manual_seed(0)
    m = CLIPScorer(CLIPConfig(channels=[8, 16], embed_dim=16, text_encoder=TextEncoderConfig(dim=16, layers=1, heads=2)), DATA.spec)
    batch = {"x": DATA.images[:16].float() / 255, "caption": DATA.caption_ids[:16]}
    losses = fit(m, batch, steps=40, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]
    m.eval()
    images, captions = batch["x"], DATA.captions[:16]
    own = m.score(images, captions)
    shuffled = m.score(images, captions[1:] + captions[:1])
    assert (own > shuffled).float().mean() >= 0.8
    with pytest.raises(ConfigError, match="does not generate"):
        m.sample(1)


def test_pick_best_keeps_the_best_scored_candidate_of_each_group():
    candidates = torch.arange(6.0).view(6, 1, 1, 1)
    scores = torch.tensor([0.1, 0.9, 0.3, 0.5, 0.2, 0.4])
    best, best_scores = pick_best(candidates, scores, 3)
    assert best.flatten().tolist() == [1.0, 3.0] and best_scores.tolist() == pytest.approx([0.9, 0.5])


class Fake:
    """A model that draws numbered images, and a scorer that likes big numbers."""

    modality, family, sample_options, condition_kind = "image", "fake", (), "prompt"

    def sample(self, n, condition=None, generator=None):
        return torch.rand(n, 1, 2, 2, generator=generator)

    def score(self, images, prompts):
        return images.mean((1, 2, 3))


def test_generate_reranked_returns_the_best_of_k_draws():
    fake = Fake()
    plain = fake.sample(8, generator=torch.Generator().manual_seed(0))
    best, scores = generate_reranked(fake, fake, "a red circle", 2, rerank=4, seed=0)
    groups = plain.mean((1, 2, 3)).view(2, 4)
    assert torch.allclose(scores, groups.max(1).values)
    assert torch.allclose(best.mean((1, 2, 3)), groups.max(1).values)
    with pytest.raises(ConfigError, match="--rerank"):
        generate_reranked(fake, None, "a red circle", 2, rerank=4)
