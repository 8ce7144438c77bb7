from noisecraft.models.autoregressive.image_prior import ImagePrior, ImagePriorConfig
from noisecraft.models.autoregressive.lstm import LSTM, LSTMConfig
from noisecraft.models.autoregressive.sampling import filter_logits, sample_tokens
from noisecraft.models.autoregressive.token_model import TokenModel, TokenModelConfig
from noisecraft.models.autoregressive.transformer import Transformer, TransformerConfig

__all__ = ["ImagePrior", "ImagePriorConfig", "LSTM", "LSTMConfig", "TokenModel", "TokenModelConfig", "Transformer", "TransformerConfig",
           "filter_logits", "sample_tokens"]
