"""Token models on molecules: an LSTM and the sequence VAE overfit ten MOSES molecules and regenerate
them; property tokens steer a model (QED up when asked for high QED); the VAE's latent space interpolates
and can be searched."""

import torch

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.data.molecule_properties import molecule_properties
from noisecraft.data.molecules import moses_smiles
from noisecraft.models.autoregressive import LSTM, LSTMConfig
from noisecraft.models.seqvae import SequenceVAE, SequenceVAEConfig, latent_search
from noisecraft.molecule_sampling import generate_molecules




def molecules_data(tmp_path, smiles, **data):
    path = tmp_path / "m.smi"
    path.write_text("\n".join(smiles) + "\n")
    return build_dataset(DataConfig(smiles_path=path, test_fraction=0.0, cache_dir=tmp_path / "cache", **data), "train")


def batch_of(dataset):
    return {"x": torch.stack([dataset[i]["x"] for i in range(len(dataset))])}


def test_lstm_overfits_ten_molecules_and_regenerates_them(tmp_path, fit, one_thread):
    ten = list(moses_smiles("train")[:10])
    data = molecules_data(tmp_path, ten, block_size=48)
    torch.manual_seed(0)
    model = LSTM(LSTMConfig(layers=1, hidden=128, max_tokens=80), data.spec)
    before = generate_molecules(model.eval(), 20, seed=0)
    losses = fit(model.train(), batch_of(data), steps=150, lr=1e-2)
    after = generate_molecules(model.eval(), 20, seed=0)
    assert losses[-1] < 0.3 * losses[0]
    assert sum(s in ten for s in before) == 0
    assert sum(s in ten for s in after) >= 15 and len(set(after) & set(ten)) >= 5


def test_vae_overfits_and_its_latent_space_interpolates_and_searches(tmp_path, fit, one_thread):
    ten = list(moses_smiles("train")[:10])
    data = molecules_data(tmp_path, ten, block_size=64, sequences="padded")
    torch.manual_seed(0)
    model = SequenceVAE(SequenceVAEConfig(embed_dim=32, encoder_hidden=64, latent_dim=16, decoder_hidden=128,
                                          decoder_layers=1, kl_weight=0.01, kl_warmup_steps=0), data.spec)
    fit(model.train(), batch_of(data), steps=200, lr=1e-2)
    model.eval()
    z = model.encode(ten)
    decoded = [model.tokenizer.decode(ids).rstrip("\n") for ids in model.decode(z, temperature=0.0)]
    assert sum(a == b for a, b in zip(decoded, ten)) >= 8  # reconstructs what it saw
    path = model.interpolate(ten[0], ten[1], steps=5)
    assert path[0] == ten[0] and path[-1] == ten[1]

    def qed(text):
        props = molecule_properties(text, ("qed",))
        return props and props["qed"]

    found = latent_search(model, qed, population=16, keep=4, rounds=3, start=ten)
    assert found[0][0] >= max(qed(s) for s in ten) - 1e-9


def test_property_tokens_steer_the_model(tmp_path, fit, one_thread):
    pool = list(moses_smiles("train")[:400])
    scored = sorted(pool, key=lambda s: molecule_properties(s, ("qed",))["qed"])
    chosen = scored[:6] + scored[-6:]  # QED about 0.3-0.5 and about 0.9
    data = molecules_data(tmp_path, chosen, block_size=48, properties=["qed"])
    torch.manual_seed(0)
    model = LSTM(LSTMConfig(layers=1, hidden=128, max_tokens=80), data.spec)
    fit(model.train(), batch_of(data), steps=150, lr=1e-2)
    model.eval()

    def mean_qed(condition):
        values = [molecule_properties(s, ("qed",)) for s in generate_molecules(model, 16, seed=1, condition=condition,
                                                                               temperature=0.7)]
        values = [v["qed"] for v in values if v]
        assert len(values) >= 8
        return sum(values) / len(values)

    low = molecule_properties(scored[0], ("qed",))["qed"]
    high, low_asked = mean_qed("qed=0.9"), mean_qed(f"qed={low}")
    assert high > 0.8 and high - low_asked > 0.3
