"""Errors that users cause (bad recipe, bad file, bad option) and can fix.

The CLI prints these as one line naming the problem, without a traceback (unless --debug).
Anything else escaping is a bug in noisecraft and keeps its traceback.
"""


class NoisecraftError(Exception):
    """Base class for every error caused by input the user can fix."""


class ConfigError(NoisecraftError):
    """A recipe, a --set override or a model config is invalid."""


class DataError(NoisecraftError):
    """A data set is missing, empty, corrupt, or does not match what it should be."""


class CheckpointError(NoisecraftError):
    """A run folder, checkpoint or model folder is missing or unreadable."""


class TrainingDiverged(NoisecraftError):
    """Training went wrong beyond repair (a NaN/inf loss, a collapsed GAN); the run stops and keeps its last
    checkpoint."""


class SamplingError(NoisecraftError):
    """A model's samples hold NaN or inf: any metric on them would be meaningless."""
