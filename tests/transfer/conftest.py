"""Files the transfer tests build: torchvision weights saved locally, a CIFAR-10 folder in the real format,
a tiny Hugging Face model directory (a BERT and its WordPiece tokenizer) and sentences in its words."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


@pytest.fixture(scope="session")
def tv_weights(tmp_path_factory):
    """``tv_weights("resnet18")``: a torchvision model's random-init state dict saved as ``.pth`` (once)."""
    import torchvision.models as tvm

    folder = tmp_path_factory.mktemp("weights")
    made: dict[str, Path] = {}

    def make(arch: str, suffix: str = ".pth") -> Path:
        key = arch + suffix
        if key not in made:
            torch.manual_seed(0)
            state = tvm.get_model(arch, weights=None).state_dict()
            path = folder / key
            if suffix == ".safetensors":
                from safetensors.torch import save_file

                save_file({k: v.contiguous() for k, v in state.items()}, str(path))
            else:
                torch.save(state, path)
            made[key] = path
        return made[key]

    return make


@pytest.fixture
def cifar_dir(tmp_path):
    """A ``cifar-10-batches-py`` folder in CIFAR-10's real format (pickled dicts with bytes keys), with
    images a model can learn: each class is a colour, plus noise."""

    def make(per_batch: int = 20) -> Path:
        folder = tmp_path / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        colours = rng.integers(0, 256, (10, 3))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = rng.integers(0, 10, per_batch)
            pixels = colours[labels][:, :, None] + rng.normal(0, 20, (per_batch, 3, 1024))
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                     b"data": pixels.clip(0, 255).astype(np.uint8).reshape(per_batch, 3072),
                     b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
            (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        meta = {b"label_names": CIFAR_NAMES, b"num_cases_per_batch": per_batch, b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
        return folder

    return make


WORDS = ["good", "great", "fine", "fun", "bad", "awful", "dull", "poor", "the", "film", "was", "very", "a", "plot"]


@pytest.fixture
def bert_dir(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    folder = tmp_path / "tiny-bert"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    BertModel(config).save_pretrained(folder)  # config.json + model.safetensors
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tok.save(str(folder / "tokenizer.json"))
    return folder


@pytest.fixture
def sentences(tmp_path):
    import random

    rng = random.Random(0)
    folder = tmp_path / "reviews"
    folder.mkdir()
    for name, words in (("reviews.pos", WORDS[:4]), ("reviews.neg", WORDS[4:8])):
        lines = [f"the film was {rng.choice(['very ', ''])}{rng.choice(words)} {rng.choice(['', 'a plot'])}" for _ in range(60)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
