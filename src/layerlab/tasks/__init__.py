"""What is learned: each task owns its loss, metrics, report and predictions.

    task = create_task(recipe.task, num_classes=10, class_names=names, train_targets=train.y)
    loss = task.loss(model(x), y)

A task's options are a ``TaskConfig`` subclass declared in ``tasks.config`` (no torch there, so a recipe
is checked without it); the task class, with what it needs of the data (a ``TargetSpec``), is one file
registered in ``TASKS`` under the same name and loaded on first use. The names below load on first use.
"""

from layerlab.lazy import lazy_exports
from layerlab.tasks.config import TaskConfig  # it declares every task
from layerlab.tasks.registry import TASKS, target_spec

# ``@layerlab.tasks.register("name", config=Cfg)``: a task of the user's own, from their module (see layerlab.plugins)
register = TASKS.register

__all__ = ["register", "TASKS", "AdversarialTask", "ClassificationTask", "DetectionTask", "ForecastTask", "LanguageModelTask",
           "ReconstructionTask", "RegressionTask", "SegmentationTask", "Seq2SeqTask", "SpeechRecognitionTask",
           "SpeechSynthesisTask", "Task", "TaskConfig", "VAETask", "create_task", "target_spec"]

__getattr__ = lazy_exports(__name__, {
    "AdversarialTask": "layerlab.tasks.adversarial",
    "ClassificationTask": "layerlab.tasks.classify",
    "DetectionTask": "layerlab.tasks.detection",
    "ForecastTask": "layerlab.tasks.forecast",
    "LanguageModelTask": "layerlab.tasks.language_model",
    "ReconstructionTask": "layerlab.tasks.reconstruct",
    "RegressionTask": "layerlab.tasks.regress",
    "SegmentationTask": "layerlab.tasks.segmentation",
    "Seq2SeqTask": "layerlab.tasks.seq2seq",
    "SpeechRecognitionTask": "layerlab.tasks.speech_recognition",
    "SpeechSynthesisTask": "layerlab.tasks.speech_synthesis",
    "Task": "layerlab.tasks.base",
    "create_task": "layerlab.tasks.base",
    "VAETask": "layerlab.tasks.vae",
})
