import pytest
import torch

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.vae import VAE, VAEConfig


def make(shape=(1, 28, 28), **config) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(**{"latent_dim": 4, "channels": [8, 16], "hidden_dim": 32, **config}), DataSpec(shape=shape))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_shapes(shape):
    model = make(shape)
    x = torch.rand(5, *shape)
    out = model({"x": x})
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert set(out.logs) == {"recon", "kl"}
    assert torch.allclose(out.loss, out.logs["recon"] + out.logs["kl"])
    samples = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, *shape) and samples.min() >= 0 and samples.max() <= 1
    assert model.reconstruct(x).shape == x.shape
    assert model.log_likelihood((x > 0.5).float(), num_samples=3).shape == (5,)


def test_sampling_is_deterministic_for_a_generator_and_temperature_matters():
    model = make().eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(7))
    b = model.sample(4, generator=torch.Generator().manual_seed(7))
    c = model.sample(4, generator=torch.Generator().manual_seed(8))
    cold = model.sample(4, generator=torch.Generator().manual_seed(7), temperature=0.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(cold[0], cold[1])  # T=0 decodes z=0 every time


def test_loss_decreases_on_a_fixed_batch(fit):
    model = make()
    x = torch.zeros(16, 1, 28, 28)
    for i in range(16):  # 16 different white squares: structure a VAE can learn in a few steps
        r, c = divmod(i, 4)
        x[i, 0, 2 + 6 * r : 8 + 6 * r, 2 + 6 * c : 8 + 6 * c] = 1.0
    losses = fit(model, {"x": x}, steps=30, lr=3e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_beta_weights_the_kl_term():
    x = torch.rand(4, 1, 28, 28)
    torch.manual_seed(1)
    plain = make()({"x": x})
    torch.manual_seed(1)
    heavy = make(beta=4.0)({"x": x})
    assert torch.allclose(heavy.loss, plain.logs["recon"] + 4.0 * plain.logs["kl"], rtol=1e-5)


def test_log_likelihood_is_a_bound_below_zero_and_within_the_elbo():
    model = make().eval()
    x = (torch.rand(6, 1, 28, 28) > 0.5).float()
    ll = model.log_likelihood(x, num_samples=32, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(ll).all() and (ll < 0).all()
    torch.manual_seed(0)
    elbo = -(model({"x": x}).loss)  # single-sample ELBO, averaged
    assert ll.mean() > elbo - 5.0  # IWAE with k=32 is no looser than the ELBO (plus noise)


def test_image_sides_must_fit_the_downsampling():
    with pytest.raises(ConfigError, match="model.channels: 3 down-sampling stages need image sides divisible by 8"):
        make(shape=(1, 28, 28), channels=[8, 16, 32])


def test_unconditional_vae_rejects_a_condition():
    with pytest.raises(ConfigError, match="unconditional"):
        make().sample(2, condition=3)
