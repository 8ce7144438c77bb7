"""The UNet on its own: shapes for any image size, zero output at init, and that every input it takes
(noise label, class label, context tokens and their mask) reaches the output."""

import pytest
import torch
from torch import nn

from noisecraft.nn.unet import AttentionBlock, UNet


def make(size: int = 8, in_channels: int = 1, **kwargs) -> UNet:
    torch.manual_seed(0)
    options = {"channels": [8, 16], "attention": [4], "heads": 2, **kwargs}
    return UNet(in_channels, size, **options).eval()


def randomise(unet: UNet) -> UNet:
    """Give the zero-initialised layers (output conv, each block's last conv, attention outputs) random
    weights, so that every input has a path to the output."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in unet.parameters():
            if not p.any():
                p.normal_(0, 0.3)
    return unet


def noise_label(n: int, value: float = 100.0) -> torch.Tensor:
    return torch.full((n,), value)


@pytest.mark.parametrize("size, in_channels, channels, attention", [
    (28, 1, [8, 16, 16], [7]),
    (32, 3, [8, 16, 16], [16, 8]),
    (8, 1, [8, 16], [4]),
    (7, 1, [8, 16, 16], [4]),  # 7 -> 4 -> 2: upsampling must land on 4 and 7, not 8 and 16
    (15, 2, [8, 8, 16], [8]),  # 15 -> 8 -> 4
])
def test_output_has_the_input_shape(size, in_channels, channels, attention):
    unet = randomise(make(size, in_channels, channels=channels, attention=attention))
    x = torch.randn(3, in_channels, size, size)
    out = unet(x, noise_label(3))
    assert out.shape == x.shape
    assert torch.isfinite(out).all() and out.abs().sum() > 0


def test_rectangular_input_keeps_its_shape():
    unet = randomise(make(8, channels=[8, 16, 16]))
    x = torch.randn(2, 1, 7, 11)
    assert unet(x, noise_label(2)).shape == x.shape


def test_output_is_zero_at_init():
    unet = make(8, num_classes=3, context_dim=4)
    conv = unet.out[-1]
    assert isinstance(conv, nn.Conv2d) and not conv.weight.any() and not conv.bias.any()
    x = torch.randn(4, 1, 8, 8)
    out = unet(x, torch.tensor([0.0, 10.0, 500.0, 999.0]), torch.tensor([0, 1, 2, 3]), torch.randn(4, 5, 4))
    assert out.shape == x.shape and torch.equal(out, torch.zeros_like(x))


def test_output_depends_on_the_noise_label():
    unet = randomise(make())
    x = torch.randn(2, 1, 8, 8)
    low, high = unet(x, noise_label(2, 1.0)), unet(x, noise_label(2, 500.0))
    assert not torch.allclose(low, high, atol=1e-4)
    # and the label is per example: changing example 1's label leaves example 0 alone
    mixed = unet(x, torch.tensor([1.0, 500.0]))
    assert torch.allclose(mixed[0], low[0], atol=1e-5) and torch.allclose(mixed[1], high[1], atol=1e-5)


def test_output_depends_on_the_class_and_none_means_the_no_class_token():
    unet = randomise(make(num_classes=10))
    assert unet.class_embed.num_embeddings == 11  # 10 classes + "no class"
    x = torch.randn(2, 1, 8, 8)
    t = noise_label(2)
    three, five = unet(x, t, torch.tensor([3, 3])), unet(x, t, torch.tensor([5, 5]))
    assert not torch.allclose(three, five, atol=1e-4)
    default = unet(x, t, None)
    assert torch.allclose(default, unet(x, t, torch.tensor([10, 10])), atol=1e-6)
    assert not torch.allclose(default, three, atol=1e-4)


def test_an_unconditional_net_has_no_class_embedding():
    unet = make()
    assert unet.class_embed is None


def test_attention_only_at_the_listed_resolutions():
    unet = make(28, channels=[8, 16, 16], attention=[14])  # levels at 28, 14, 7
    has = lambda level: [isinstance(a, AttentionBlock) for a in level.attns]  # noqa: E731
    assert [any(has(level)) for level in unet.down] == [False, True, False]
    assert [any(has(level)) for level in unet.up] == [False, True, False]  # decoder runs 7, 14, 28
    assert all(has(unet.up[1])) and all(has(unet.down[1]))
    assert all(has(unet.mid))  # the bottleneck always attends
    plain = make(28, channels=[8, 16, 16], attention=[])
    assert not any(any(has(level)) for level in [*plain.down, *plain.up])


def test_cross_attention_layers_exist_only_with_context_dim():
    without = make(8)
    assert not any(hasattr(m, "kv_cross") for m in without.modules() if isinstance(m, AttentionBlock))
    with_context = make(8, context_dim=6)
    blocks = [m for m in with_context.modules() if isinstance(m, AttentionBlock)]
    assert blocks and all(m.kv_cross.in_features == 6 for m in blocks)


@pytest.fixture
def text_unet() -> UNet:
    return randomise(make(8, context_dim=6, num_classes=4))


def test_output_depends_on_the_context(text_unet):
    x, t = torch.randn(2, 1, 8, 8), noise_label(2)
    torch.manual_seed(2)
    a, b = torch.randn(2, 5, 6), torch.randn(2, 5, 6)
    out_a, out_b = text_unet(x, t, context=a), text_unet(x, t, context=b)
    assert not torch.allclose(out_a, out_b, atol=1e-4)
    assert not torch.allclose(out_a, text_unet(x, t), atol=1e-4)  # no context: no cross-attention


def test_context_mask_hides_tokens(text_unet):
    x, t = torch.randn(2, 1, 8, 8), noise_label(2)
    torch.manual_seed(3)
    context = torch.randn(2, 5, 6)
    full = text_unet(x, t, context=context)
    assert torch.allclose(text_unet(x, t, context=context, context_mask=torch.ones(2, 5, dtype=torch.bool)), full,
                          atol=1e-5)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[:, 3] = False
    masked = text_unet(x, t, context=context, context_mask=mask)
    assert not torch.allclose(masked, full, atol=1e-4)
    # hiding token 3 is the same as leaving it out
    dropped = text_unet(x, t, context=context[:, [0, 1, 2, 4]])
    assert torch.allclose(masked, dropped, atol=1e-5)
    # a masked token's value does not matter
    changed = context.clone()
    changed[:, 3] = 100.0
    assert torch.allclose(text_unet(x, t, context=changed, context_mask=mask), masked, atol=1e-5)
    # the mask is per example: masking in example 1 only leaves example 0 as it was
    mask_one = torch.ones(2, 5, dtype=torch.bool)
    mask_one[1, 3] = False
    one = text_unet(x, t, context=context, context_mask=mask_one)
    assert torch.allclose(one[0], full[0], atol=1e-5) and torch.allclose(one[1], masked[1], atol=1e-5)


def test_gradients_reach_the_cross_attention(text_unet):
    text_unet.train()
    x, t = torch.randn(2, 1, 8, 8), noise_label(2)
    context = torch.randn(2, 5, 6, requires_grad=True)
    text_unet(x, t, torch.tensor([0, 1]), context=context).pow(2).mean().backward()
    blocks = [m for m in text_unet.modules() if isinstance(m, AttentionBlock)]
    assert blocks
    for block in blocks:
        assert block.kv_cross.weight.grad is not None and block.kv_cross.weight.grad.abs().sum() > 0
        assert block.q_cross.weight.grad is not None and block.q_cross.weight.grad.abs().sum() > 0
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert text_unet.class_embed.weight.grad[[0, 1]].abs().sum() > 0
    assert not text_unet.class_embed.weight.grad[[2, 3, 4]].any()  # unused classes get no gradient
