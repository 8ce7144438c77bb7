from noisecraft.models.clip.model import CLIPConfig, CLIPScorer

__all__ = ["CLIPConfig", "CLIPScorer"]
