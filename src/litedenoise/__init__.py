"""litedenoise: real-image denoising for mobile NPUs.

>>> import litedenoise
>>> model = litedenoise.load_model("student")
>>> clean = litedenoise.denoise(noisy_uint8_rgb, model)
"""

from litedenoise.errors import LiteDenoiseError
from litedenoise.infer import denoise, denoise_tensor
from litedenoise.models import LiteDenoiseNet, TeacherNet
from litedenoise.weights import load_model, save_weights

__all__ = [
    "LiteDenoiseError",
    "LiteDenoiseNet",
    "TeacherNet",
    "denoise",
    "denoise_tensor",
    "load_model",
    "save_weights",
]
__version__ = "0.1.0"
