from noisecraft.models.vqvae.model import VQVAE, VQVAEConfig

__all__ = ["VQVAE", "VQVAEConfig"]
