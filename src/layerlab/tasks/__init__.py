"""What is learned: each task owns its loss, metrics, report and predictions.

    task = create_task(recipe.task, num_classes=10, class_names=names, train_targets=train.y)
    loss = task.loss(model(x), y)
"""

from layerlab.tasks.base import TASKS, Task, create_task
from layerlab.tasks.classify import ClassificationTask
from layerlab.tasks.regress import RegressionTask

__all__ = ["TASKS", "ClassificationTask", "RegressionTask", "Task", "create_task"]
