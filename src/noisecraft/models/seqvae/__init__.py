from noisecraft.models.seqvae.model import SequenceVAE, SequenceVAEConfig
from noisecraft.models.seqvae.search import latent_search

__all__ = ["SequenceVAE", "SequenceVAEConfig", "latent_search"]
