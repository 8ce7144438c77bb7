from noisecraft.models.pixelcnn.model import PixelCNN, PixelCNNConfig

__all__ = ["PixelCNN", "PixelCNNConfig"]
