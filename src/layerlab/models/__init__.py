"""Model families, one file each, registered by name in ``MODELS``; ``create_model`` builds one.

    model = create_model({"name": "cnn", "width": 32}, input_shape=(1, 28, 28), num_outputs=10)
    summarize(model, (1, 28, 28)).flops   # per example

A family's options are a config class in ``configs_image`` or ``configs_sequence``, declared with its
name in ``families`` (no torch there, so checking a recipe and listing the models import none); its
builder is one file that registers under the same name with ``@MODELS.register(name)`` and loads on
first use. The functions below load on first use too.
"""

from layerlab.lazy import lazy_exports
from layerlab.models import families  # noqa: F401  (it declares every family)
from layerlab.models.base import MODELS, ModelConfig

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

__getattr__ = lazy_exports(__name__, {
    "create_model": "layerlab.models.factory",
    "init_weights": "layerlab.models.init",
    "summarize": "layerlab.models.summary",
    "ModelSummary": "layerlab.models.summary",
    "LayerRow": "layerlab.models.summary",
    "parse_input_shape": "layerlab.models.summary",
})
