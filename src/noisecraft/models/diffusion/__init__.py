from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel
from noisecraft.models.diffusion.samplers import SAMPLERS, function_evaluations, steps_for_nfe

__all__ = ["DiffusionConfig", "DiffusionModel", "SAMPLERS", "function_evaluations", "steps_for_nfe"]
