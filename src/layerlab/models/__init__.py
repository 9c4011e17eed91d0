"""Model families, one file each, registered by name in ``MODELS``; ``create_model`` builds one.

    model = create_model({"name": "cnn", "width": 32}, input_shape=(1, 28, 28), num_outputs=10)
    summarize(model, (1, 28, 28)).flops   # per example

A new family is one file that registers its builder with ``@MODELS.register(...)``, imported below.
"""

from layerlab.models import (  # noqa: F401  (importing a family registers it)  # noqa: F401  (sequence families)  # noqa: F401  (generative families)
    acoustic,
    autoencoder,
    cnn,
    detection_tv,
    fasttext,
    gan,
    mlp,
    pretrained,
    pretrained_text,
    python_module,
    resnet,
    rnn,
    segmentation_tv,
    seq2seq,
    synthesis,
    textcnn,
    transformer,
    unet,
    vgg,
)
from layerlab.models.base import MODELS, ModelConfig
from layerlab.models.factory import create_model
from layerlab.models.init import init_weights
from layerlab.models.summary import LayerRow, ModelSummary, parse_input_shape, summarize

# ``@layerlab.models.register("name", config=Cfg)``: a model family of the user's own, from their module (see layerlab.plugins)
register = MODELS.register

__all__ = [
    "register",
    "MODELS",
    "ModelConfig",
    "create_model",
    "init_weights",
    "summarize",
    "ModelSummary",
    "LayerRow",
    "parse_input_shape",
]
