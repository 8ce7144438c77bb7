from noisecraft.models.arcnn.model import ARCNN, ARCNNConfig

__all__ = ["ARCNN", "ARCNNConfig"]
