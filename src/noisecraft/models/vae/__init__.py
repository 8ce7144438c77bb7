from noisecraft.models.vae.model import VAE, VAEConfig

__all__ = ["VAE", "VAEConfig"]
