from noisecraft.models.classifier.model import ClassifierConfig, ImageClassifier

__all__ = ["ClassifierConfig", "ImageClassifier"]
