"""What is learned: each task owns its loss, metrics, report and predictions.

    task = create_task(recipe.task, num_classes=10, class_names=names, train_targets=train.y)
    loss = task.loss(model(x), y)

A task is one file: its config class (a ``TaskConfig`` subclass, ``layerlab.tasks.config``), what it
needs of the data (a ``TargetSpec``), and the task class, registered in ``TASKS``; importing this
package registers them all.
"""

from layerlab.tasks.adversarial import AdversarialTask
from layerlab.tasks.base import TASKS, Task, create_task
from layerlab.tasks.classify import ClassificationTask
from layerlab.tasks.config import TaskConfig
from layerlab.tasks.detection import DetectionTask
from layerlab.tasks.forecast import ForecastTask
from layerlab.tasks.language_model import LanguageModelTask
from layerlab.tasks.reconstruct import ReconstructionTask
from layerlab.tasks.registry import target_spec
from layerlab.tasks.regress import RegressionTask
from layerlab.tasks.segmentation import SegmentationTask
from layerlab.tasks.seq2seq import Seq2SeqTask
from layerlab.tasks.speech_recognition import SpeechRecognitionTask
from layerlab.tasks.speech_synthesis import SpeechSynthesisTask
from layerlab.tasks.vae import VAETask

# ``@layerlab.tasks.register("name", config=Cfg)``: a task of the user's own, from their module (see layerlab.plugins)
register = TASKS.register

__all__ = ["register", "TASKS", "AdversarialTask", "ClassificationTask", "DetectionTask", "ForecastTask", "LanguageModelTask",
           "ReconstructionTask", "RegressionTask", "SegmentationTask", "Seq2SeqTask", "SpeechRecognitionTask",
           "SpeechSynthesisTask", "Task", "TaskConfig", "VAETask", "create_task", "target_spec"]
