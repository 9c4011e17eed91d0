"""Plots are written as PNGs of the expected size, with something drawn, and leave pyplot alone."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pytest

from layerlab.analyze import plots
from layerlab.analyze.plots import plot_confusion, plot_history
from layerlab.errors import LayerLabError

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot, a class name far longer than any axis should have to show"]


def classification_history(epochs: int) -> list[dict[str, float]]:
    return [
        {"epoch": e, "train_loss": 2 * math.exp(-e / 10) + 0.1, "val_loss": 2 * math.exp(-e / 12) + 0.2,
         "val_accuracy": 1 - math.exp(-e / 8), "val_top5_accuracy": 1 - math.exp(-e / 3),
         "val_macro_f1": 0.9 - math.exp(-e / 8), "lr": 1e-3 * (1 - e / (epochs + 1)), "seconds": 1.5,
         "examples_per_second": 1e4}
        for e in range(1, epochs + 1)
    ]


def read_png(path) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > 0
    image = mpimg.imread(path)
    assert image.std() > 0.05, "the image is blank"
    return image


def history_size(panels: int) -> tuple[int, int]:
    """(height, width) in pixels of a history figure with this many panels."""
    columns = min(plots.PANEL_COLUMNS, panels)
    rows = math.ceil(panels / columns)
    width, height = plots.PANEL_INCHES
    return round(rows * height * plots.DPI), round(columns * width * plots.DPI)


@pytest.mark.parametrize("epochs", [1, 200])
def test_history_of_a_short_and_a_long_run(tmp_path, epochs):
    path = plot_history(classification_history(epochs), tmp_path / "curves.png", best_epoch=epochs // 2 or None)
    image = read_png(path)
    # loss, accuracy, top-5 accuracy, macro F1, learning rate
    assert image.shape[:2] == history_size(5)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left behind


def test_history_panels_follow_the_keys(tmp_path):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_mse": 1 / e, "val_rmse": 1 / e ** 0.5,
                "val_mae": 0.8 / e, "val_r2": 1 - 1 / e, "lr": 0.1, "seconds": 1.0} for e in range(1, 6)]
    assert [name for name, _ in plots._history_panels(history)] == ["loss", "mse", "rmse", "mae", "r2", "lr"]
    assert read_png(plot_history(history, tmp_path / "r.png")).shape[:2] == history_size(6)
    only_train = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}]
    assert read_png(plot_history(only_train, tmp_path / "t.png")).shape[:2] == history_size(1)


def test_best_epoch_is_drawn(tmp_path):
    history = classification_history(12)
    plain = read_png(plot_history(history, tmp_path / "plain.png"))
    marked = read_png(plot_history(history, tmp_path / "marked.png", best_epoch=7))
    assert not np.array_equal(plain, marked)


def test_confusion_with_ten_long_named_classes(tmp_path):
    rng = np.random.default_rng(0)
    matrix = (np.eye(10, dtype=int) * 90 + rng.integers(0, 10, (10, 10))).tolist()
    normalised = read_png(plot_confusion(matrix, FASHION, tmp_path / "confusion.png"))
    counts = read_png(plot_confusion(matrix, FASHION, tmp_path / "counts.png", normalize=False))
    side = min(16.0, max(4.5, 2.5 + 0.5 * 10))
    assert normalised.shape[:2] == (round(side * plots.DPI), round((side + 1.2) * plots.DPI))
    assert counts.shape == normalised.shape and not np.array_equal(counts, normalised)


def test_confusion_with_an_empty_row_and_many_classes(tmp_path):
    matrix = np.diag(np.arange(40)).tolist()  # class 0 has no examples
    image = read_png(plot_confusion(matrix, [f"c{i}" for i in range(40)], tmp_path / "many.png"))
    assert image.shape[0] == round(16.0 * plots.DPI)


def test_plots_leave_pyplot_alone(tmp_path):
    import matplotlib.pyplot as plt

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    plot_history(classification_history(3), tmp_path / "h.png")
    plot_confusion([[1, 0], [0, 1]], ["a", "b"], tmp_path / "c.png")
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(LayerLabError, match="no epoch"):
        plot_history([], tmp_path / "h.png")
    with pytest.raises(LayerLabError, match="3 class names must be 3 x 3; got shape \\(2, 2\\)"):
        plot_confusion([[1, 0], [0, 1]], ["a", "b", "c"], tmp_path / "c.png")
    assert not list(tmp_path.iterdir())
