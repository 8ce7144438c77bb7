from noisecraft.models.gan.model import GAN, GANConfig

__all__ = ["GAN", "GANConfig"]
