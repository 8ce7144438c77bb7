from noisecraft.models.flow.model import FlowConfig, NormalizingFlow

__all__ = ["FlowConfig", "NormalizingFlow"]
