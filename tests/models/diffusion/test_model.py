"""The diffusion model around its UNet: parametrisations (eps, v, x0, EDM) as one denoiser, training losses,
labels and classifier-free guidance, sampling, and the model folder."""

import pytest
import torch
from pydantic import ValidationError
from safetensors import safe_open
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.diffusion import SAMPLERS, DiffusionConfig, DiffusionModel

SPEC = DataSpec(shape=(1, 8, 8), num_classes=10, class_names=[f"c{i}" for i in range(10)])


def make(spec: DataSpec = SPEC, **config) -> DiffusionModel:
    torch.manual_seed(0)
    options = {"channels": [8, 16], "attention": [4], "heads": 2, **config}
    return DiffusionModel(DiffusionConfig(**options), spec)


def randomise(model: DiffusionModel) -> DiffusionModel:
    """Random weights in the zero-initialised layers, so that samples depend on the network."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.unet.parameters():
            if not p.any():
                p.normal_(0, 0.2)
    return model.eval()


def squares() -> torch.Tensor:
    """16 different 2x2 white squares on 8x8: structure a UNet learns in a few steps."""
    x = torch.zeros(16, 1, 8, 8)
    for i in range(16):
        r, c = divmod(i, 4)
        x[i, 0, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = 1.0
    return x


class Stub(nn.Module):
    """Stands in for the UNet: records what it is given and returns `fn(x, noise_label)`."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.calls = []

    def forward(self, x, noise_label, class_labels=None):
        self.calls.append((x.clone(), noise_label.clone(), class_labels))
        return self.fn(x, noise_label)


# --- parametrisation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("objective", ["eps", "v", "x0"])
def test_a_perfect_network_denoises_exactly(objective, schedule):
    model = make(objective=objective, schedule=schedule)
    torch.manual_seed(2)
    x0, eps = torch.rand(4, 1, 8, 8) * 2 - 1, torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    alpha_bar = model.alpha_bar[t][:, None, None, None]
    a, s = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    target = {"eps": eps, "v": a * eps - s * x0, "x0": x0}[objective]
    model.unet = Stub(lambda x, label: target)
    sigma = model.log_sigmas[t].exp()
    denoised = model.denoise(x0 + sigma[:, None, None, None] * eps, sigma)
    assert torch.allclose(denoised, x0, atol=2e-3), (denoised - x0).abs().max()
    # the network saw the DDPM input x_t = sqrt(ab) x0 + sqrt(1 - ab) eps at (about) its own step t
    seen, label, _ = model.unet.calls[0]
    assert torch.allclose(seen, a * x0 + s * eps, atol=1e-4)
    assert torch.allclose(label, t.float(), atol=1e-2)


def test_a_scalar_sigma_serves_the_whole_batch():
    model = make()
    model.unet = Stub(lambda x, label: torch.zeros_like(x))
    x = torch.randn(3, 1, 8, 8)
    model.denoise(x, torch.tensor(2.0))
    _, label, _ = model.unet.calls[0]
    assert label.shape == (3,) and torch.allclose(label, label[0].expand(3))


def test_timestep_of_inverts_the_table():
    model = make()
    t = torch.tensor([0, 1, 17, 500, 998, 999])
    assert torch.allclose(model.timestep_of(model.log_sigmas[t].exp()), t.float(), atol=1e-3)
    # halfway in log sigma is halfway between the steps
    middle = ((model.log_sigmas[100] + model.log_sigmas[101]) / 2).exp().reshape(1)
    assert model.timestep_of(middle).item() == pytest.approx(100.5, abs=1e-3)
    # beyond the table: clamped to its ends
    assert model.timestep_of(torch.tensor([1e-9, 1e9])).tolist() == pytest.approx([0.0, 999.0], abs=1e-3)


@pytest.mark.parametrize("config", [{"objective": "eps"}, {"objective": "v", "schedule": "linear", "timesteps": 200}])
@pytest.mark.parametrize("steps", [1, 2, 10, 50])
def test_ddpm_sigmas_run_from_the_largest_noise_to_zero(config, steps):
    model = make(**config)
    sigmas = model.sigmas(steps)
    assert len(sigmas) == steps + 1 and sigmas[-1] == 0
    assert (sigmas.diff() < 0).all()
    assert sigmas[0].item() == pytest.approx(model.log_sigmas[-1].exp().item(), rel=1e-5)
    if steps > 1:
        assert sigmas[-2].item() == pytest.approx(model.log_sigmas[0].exp().item(), rel=1e-5)


def test_edm_sigmas_are_karras():
    model = make(objective="edm", sigma_min=0.01, sigma_max=40.0)
    sigmas = model.sigmas(6)
    assert len(sigmas) == 7 and sigmas[-1] == 0 and (sigmas.diff() < 0).all()
    assert sigmas[0].item() == pytest.approx(40.0) and sigmas[-2].item() == pytest.approx(0.01)


def test_edm_preconditioning():
    model = make(objective="edm", sigma_data=0.5)
    x = torch.randn(3, 1, 8, 8)
    sigma = torch.tensor([0.1, 0.5, 10.0])
    s, total = sigma[:, None, None, None], sigma[:, None, None, None] ** 2 + 0.25
    model.unet = Stub(lambda x, label: torch.zeros_like(x))
    assert torch.allclose(model.denoise(x, sigma), 0.25 / total * x)  # c_skip
    seen, labels, _ = model.unet.calls[0]
    assert torch.allclose(seen, x / total.sqrt())  # c_in: unit variance in
    assert (labels.diff() > 0).all()  # c_noise grows with sigma
    model.unet = Stub(lambda x, label: torch.ones_like(x))
    assert torch.allclose(model.denoise(x, sigma), 0.25 / total * x + s * 0.5 / total.sqrt())  # + c_out


# --- config and construction ---------------------------------------------------------------------------

def test_min_snr_is_for_ddpm_objectives_only():
    with pytest.raises(ValidationError, match="min_snr_gamma"):
        DiffusionConfig(objective="edm", min_snr_gamma=5)
    assert DiffusionConfig(objective="v", min_snr_gamma=5).min_snr_gamma == 5


@pytest.mark.parametrize("config, message", [
    ({"sampler": "plms"}, "unknown sampler 'plms'"),
    ({"sigma_min": 5.0, "sigma_max": 1.0}, "sigma_min"),
    ({"channels": [8, 0]}, "channels"),
    ({"objective": "score"}, "objective"),
])
def test_bad_configs_are_rejected(config, message):
    with pytest.raises(ValidationError, match=message):
        DiffusionConfig(**config)


def test_sampler_aliases_are_accepted_in_the_config():
    assert DiffusionConfig(sampler="Euler").sampler == "Euler"


def test_conditional_model_needs_labelled_data():
    with pytest.raises(ConfigError, match="model.conditional: the data has no labels"):
        make(DataSpec(shape=(1, 8, 8)), conditional=True)
    make(DataSpec(shape=(1, 8, 8)))  # unconditional on unlabelled data is fine


def test_diffusion_needs_images():
    with pytest.raises(ConfigError, match="models image data"):
        make(DataSpec(modality="tokens", shape=(16,)))


def test_ddpm_tables_are_buffers_and_edm_has_none():
    model = make(timesteps=100)
    assert model.alpha_bar.shape == model.log_sigmas.shape == (100,)
    assert {"alpha_bar", "log_sigmas"} <= dict(model.named_buffers()).keys()
    assert not hasattr(make(objective="edm"), "alpha_bar")


# --- training -----------------------------------------------------------------------------------------

def average_loss(model, batch, seeds=range(100, 104)) -> float:
    losses = []
    with torch.no_grad():
        for seed in seeds:
            torch.manual_seed(seed)
            losses.append(model(batch).loss.item())
    return sum(losses) / len(losses)


@pytest.mark.parametrize("objective", ["eps", "v", "x0", "edm"])
def test_loss_decreases_on_a_fixed_batch(objective):
    model = make(objective=objective)
    batch = {"x": squares()}
    before = average_loss(model, batch)
    assert torch.isfinite(torch.tensor(before))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(20):
        torch.manual_seed(step)
        loss = model(batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert average_loss(model, batch) < 0.7 * before


def test_edm_logs_the_x0_error():
    out = make(objective="edm")({"x": squares()})
    assert out.loss.ndim == 0 and set(out.logs) == {"mse_x0"}


@pytest.mark.parametrize("objective", ["eps", "v", "x0"])
def test_min_snr_weighting(objective):
    """With a network that outputs zeros the per-example loss is mean(target^2); min-SNR multiplies it by
    min(snr, gamma) / snr (eps), / (snr + 1) (v) or by min(snr, gamma) (x0)."""
    gamma = 5.0
    batch = {"x": squares()}
    plain, weighted = make(objective=objective), make(objective=objective, min_snr_gamma=gamma)
    for model in (plain, weighted):
        model.unet = Stub(lambda x, label: torch.zeros_like(x))
    torch.manual_seed(3)
    plain_loss = plain(batch).loss
    torch.manual_seed(3)
    weighted_loss = weighted(batch).loss
    assert not torch.isclose(plain_loss, weighted_loss)

    torch.manual_seed(3)  # forward draws the noise, then the steps
    x0 = batch["x"] * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.randint(0, 1000, (16,))
    alpha_bar = plain.alpha_bar[t][:, None, None, None]
    a, s = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
    target = {"eps": noise, "v": a * noise - s * x0, "x0": x0}[objective]
    per_example = target.pow(2).mean((1, 2, 3))
    snr = (alpha_bar / (1 - alpha_bar)).flatten()
    weight = {"eps": snr.clamp(max=gamma) / snr, "v": snr.clamp(max=gamma) / (snr + 1),
              "x0": snr.clamp(max=gamma)}[objective]
    assert torch.allclose(plain_loss, per_example.mean(), rtol=1e-5)
    assert torch.allclose(weighted_loss, (weight * per_example).mean(), rtol=1e-5)


def test_edm_loss_weighting():
    """lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 times the x0 error; sigma ~ exp(N(p_mean, p_std))."""
    model = make(objective="edm")
    model.unet = Stub(lambda x, label: torch.zeros_like(x))
    batch = {"x": squares()}
    torch.manual_seed(4)
    loss = model(batch).loss
    torch.manual_seed(4)
    x0 = batch["x"] * 2 - 1
    noise = torch.randn_like(x0)
    sigma = (torch.randn(16) * 1.2 - 1.2).exp()[:, None, None, None]
    total = sigma**2 + 0.25
    denoised = 0.25 / total * (x0 + sigma * noise)
    weight = (total / (sigma * 0.5) ** 2).flatten()
    assert torch.allclose(loss, (weight * (denoised - x0).pow(2).mean((1, 2, 3))).mean(), rtol=1e-4)


# --- labels -------------------------------------------------------------------------------------------

def test_training_labels_drop_to_the_null_class():
    model = make(conditional=True, label_dropout=0.3)
    labels = torch.randint(0, 10, (20000,), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    out = model._training_labels({"x": torch.zeros(1), "y": labels})
    dropped = out == 10
    assert dropped.float().mean().item() == pytest.approx(0.3, abs=0.015)
    assert torch.equal(out[~dropped], labels[~dropped])
    assert torch.equal(make(conditional=True, label_dropout=0.0)._training_labels({"y": labels}), labels)
    assert (make(conditional=True, label_dropout=1.0)._training_labels({"y": labels}) == 10).all()


def test_training_labels_reach_the_network():
    model = make(conditional=True, label_dropout=0.0)
    model.unet = Stub(lambda x, label: torch.zeros_like(x))
    y = torch.arange(16) % 10
    model({"x": squares(), "y": y})
    assert torch.equal(model.unet.calls[0][2], y)


def test_unconditional_model_ignores_labels_and_conditional_needs_them():
    assert make()._training_labels({"x": squares(), "y": torch.zeros(16, dtype=torch.long)}) is None
    with pytest.raises(ConfigError, match="no labels"):
        make(conditional=True)({"x": squares()})


def test_labels_for():
    model = make(conditional=True)
    assert model.labels_for(None, 12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert model.labels_for(3, 4).tolist() == [3, 3, 3, 3]
    assert model.labels_for("7", 2).tolist() == [7, 7]
    assert model.labels_for("c4", 3).tolist() == [4, 4, 4]
    assert model.labels_for([1, 2, 3], 3).tolist() == [1, 2, 3]
    assert model.labels_for(torch.tensor([9, 0]), 2).tolist() == [9, 0]


@pytest.mark.parametrize("condition, message", [
    (12, "--class 12: out of range \\(0..9\\)"),
    (10, "--class 10: out of range"),
    ("-1", "--class -1: out of range"),
    ("dog", "--class 'dog': not a class \\(classes: c0, c1"),
    ([1, 2], "2 labels for 3 samples"),
])
def test_bad_conditions(condition, message):
    with pytest.raises(ConfigError, match=message):
        make(conditional=True).labels_for(condition, 3)


def test_condition_on_an_unconditional_model():
    model = make()
    assert model.labels_for(None, 4) is None
    with pytest.raises(ConfigError, match="unconditional"):
        model.labels_for(3, 4)


# --- guidance -----------------------------------------------------------------------------------------

def fake_denoise(x, sigma, labels=None):
    """A denoiser whose answer says which label it was given (10 = no class)."""
    return 0.1 * x + 0.05 * labels.float()[:, None, None, None]


@pytest.mark.parametrize("clip", [False, True])
def test_guidance_mixes_conditional_and_unconditional(monkeypatch, clip):
    model = make(conditional=True, clip_denoised=clip)
    monkeypatch.setattr(model, "denoise", fake_denoise)
    x, sigma = torch.rand(3, 1, 8, 8), torch.tensor(1.0)
    labels = torch.tensor([3, 0, 9])
    cond, uncond = fake_denoise(x, sigma, labels), fake_denoise(x, sigma, torch.full((3,), 10))
    assert torch.allclose(model.guided_denoiser(labels, 1.0)(x, sigma), cond)
    assert torch.allclose(model.guided_denoiser(labels, 0.0)(x, sigma), uncond)
    assert torch.allclose(model.guided_denoiser(labels, 2.0)(x, sigma), 2 * cond - uncond)
    assert torch.allclose(model.guided_denoiser(labels, 0.5)(x, sigma), 0.5 * cond + 0.5 * uncond)


def test_guided_denoiser_clips_only_when_asked(monkeypatch):
    x, sigma, labels = torch.linspace(-30, 30, 64).reshape(1, 1, 8, 8), torch.tensor(1.0), torch.tensor([2])
    for clip in (True, False):
        model = make(conditional=True, clip_denoised=clip)
        monkeypatch.setattr(model, "denoise", fake_denoise)
        out = model.guided_denoiser(labels, 3.0)(x, sigma)
        expected = 3 * fake_denoise(x, sigma, labels) - 2 * fake_denoise(x, sigma, torch.tensor([10]))
        assert torch.allclose(out, expected.clamp(-1, 1) if clip else expected)
        assert (out.abs().max() <= 1) == clip


def test_guidance_is_one_batched_call(monkeypatch):
    model = make(conditional=True)
    calls = []

    def counting(x, sigma, labels=None):
        calls.append(labels.tolist())
        return fake_denoise(x, sigma, labels)

    monkeypatch.setattr(model, "denoise", counting)
    model.guided_denoiser(torch.tensor([1, 2]), 2.0)(torch.zeros(2, 1, 8, 8), torch.tensor(1.0))
    model.guided_denoiser(torch.tensor([1, 2]), 1.0)(torch.zeros(2, 1, 8, 8), torch.tensor(1.0))
    assert calls == [[1, 2, 10, 10], [1, 2]]


# --- sampling -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("objective", ["eps", "edm"])
def test_sample_shape_range_and_seed(objective):
    model = randomise(make(objective=objective))
    draw = lambda seed: model.sample(3, generator=torch.Generator().manual_seed(seed), steps=3)  # noqa: E731
    a, b, c = draw(0), draw(0), draw(1)
    assert a.shape == (3, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("sampler", [*SAMPLERS, "euler", "DPM++2M"])
def test_every_sampler_draws(sampler):
    model = randomise(make())
    a = model.sample(2, generator=torch.Generator().manual_seed(0), sampler=sampler, steps=3)
    b = model.sample(2, generator=torch.Generator().manual_seed(0), sampler=sampler, steps=3)
    assert a.shape == (2, 1, 8, 8) and torch.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)


def test_samplers_and_options_change_the_samples():
    model = randomise(make())
    draw = lambda **kw: model.sample(2, generator=torch.Generator().manual_seed(0), **kw)  # noqa: E731
    base = draw(sampler="ddim", steps=4)
    assert not torch.equal(base, draw(sampler="heun", steps=4))
    assert not torch.equal(base, draw(sampler="ddim", steps=5))
    assert not torch.equal(base, draw(sampler="ddim", steps=4, eta=1.0))
    assert torch.equal(draw(sampler="ddim", steps=4, eta=1.0), draw(sampler="ddpm", steps=4))
    # the config's defaults are used when no option is given
    assert torch.equal(draw(), draw(sampler="dpmpp-2m", steps=20))


def test_sample_options_errors():
    model = randomise(make())
    with pytest.raises(ConfigError, match="--guidance: this model is unconditional"):
        model.sample(2, guidance=2.0, steps=2)
    model.sample(2, guidance=1.0, steps=2)  # no guidance is fine
    with pytest.raises(ConfigError, match="--sampler: unknown sampler"):
        model.sample(2, sampler="plms", steps=2)
    with pytest.raises(ConfigError, match="--eta"):
        model.sample(2, sampler="heun", eta=0.5, steps=2)
    with pytest.raises(ConfigError, match="--eta"):
        model.sample(2, sampler="ddpm", eta=0.5, steps=2)
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(2, condition=3, steps=2)


def test_conditional_sampling_follows_class_and_guidance():
    model = randomise(make(conditional=True))
    draw = lambda **kw: model.sample(2, generator=torch.Generator().manual_seed(0), steps=3, **kw)  # noqa: E731
    assert not torch.equal(draw(condition=3), draw(condition=5))
    assert torch.equal(draw(condition=3), draw(condition="c3"))
    assert not torch.equal(draw(condition=3, guidance=2.0), draw(condition=3, guidance=1.0))
    assert torch.equal(draw(condition=3), draw(condition=3, guidance=1.0))  # the config's default: 1
    assert torch.equal(draw(), draw(condition=[0, 1]))  # classes in turn
    with pytest.raises(ConfigError, match="--class 12"):
        draw(condition=12)


def test_save_and_load_give_the_same_samples(tmp_path):
    model = randomise(make(conditional=True, objective="v", schedule="linear", timesteps=200))
    folder = model.save_pretrained(tmp_path / "model")
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys and not any(k in keys for k in ("alpha_bar", "log_sigmas"))
    assert keys == set(model.state_dict()) - {"alpha_bar", "log_sigmas"}
    loaded = GenerativeModel.from_pretrained(folder)
    assert isinstance(loaded, DiffusionModel) and loaded.config == model.config
    assert torch.equal(loaded.alpha_bar, model.alpha_bar) and torch.equal(loaded.log_sigmas, model.log_sigmas)
    draw = lambda m: m.sample(3, condition=4, generator=torch.Generator().manual_seed(0), steps=3, guidance=2.0)  # noqa: E731
    assert torch.equal(draw(model), draw(loaded))
    untrained = make(conditional=True, objective="v", schedule="linear", timesteps=200).eval()
    assert not torch.equal(draw(model), draw(untrained))  # so the samples do depend on the loaded weights
