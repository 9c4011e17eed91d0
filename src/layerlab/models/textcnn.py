"""``textcnn``: Kim's (2014) convolutional sentence classifier.

    model = create_model({"name": "textcnn", "vocab_size": 18000}, input_shape=(56,), num_outputs=2)

tokens (B, T) -> embedding (B, T, E) (whole words dropped in training: word_dropout) -> for each kernel
width k: conv1d -> ReLU -> max over the real positions (B, filters) [and with ``pooling: [max, mean]``
also their mean, which counts how often a feature fires, as a bag of n-grams does] -> concatenate
(B, widths x filters x poolings) -> dropout -> linear. Sentences shorter than the widest kernel are
padded on the right first; the columns that are padding in every row of a batch (beyond what the last
windows need) are dropped first, so a batch costs its longest sentence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import TextCNNConfig
from layerlab.models.layers import TokenEmbedding, trim_padding

PAD = 0


class TextCNN(nn.Module):
    def __init__(self, cfg: TextCNNConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        if cfg.vocab_size is None or len(input_shape) != 1:
            raise LayerLabError("model 'textcnn' takes token sequences (T,) with model.vocab_size (filled in from text data)")
        if not cfg.kernel_sizes or min(cfg.kernel_sizes) < 1:
            raise LayerLabError(f"model.kernel_sizes must be positive widths, got {cfg.kernel_sizes}")
        if len(set(cfg.pooling)) != len(cfg.pooling):
            raise LayerLabError(f"model.pooling names a pooling twice: {cfg.pooling}")
        self.embed = TokenEmbedding(cfg.vocab_size, cfg.embed_dim, init=cfg.embed_init, word_dropout=cfg.word_dropout)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.embed_dim, cfg.filters, k) for k in cfg.kernel_sizes)
        self.widest = max(cfg.kernel_sizes)
        self.drop = nn.Dropout(cfg.dropout)
        self.pooling = list(cfg.pooling)
        self.head = nn.Linear(cfg.filters * len(cfg.kernel_sizes) * len(self.pooling), num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        # a batch costs its longest sentence: its columns of padding are dropped, but the last real token's
        # windows keep the padding they ran into before (widest - 1 columns), so the result is unchanged
        width = min(x.shape[1], trim_padding(x, PAD).shape[1] + self.widest - 1)
        x = x[:, :width]
        if x.shape[1] < self.widest:
            x = F.pad(x, (0, self.widest - x.shape[1]), value=PAD)
        keep = x != PAD  # (B, T)
        e = self.embed(x).transpose(1, 2)  # (B, E, T)
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(e))  # (B, F, T - k + 1)
            # a window counts when it starts at a real token (it may run into padding, as Kim's did)
            starts = keep[:, : h.shape[2]]  # (B, T - k + 1)
            starts = starts | (torch.arange(h.shape[2], device=x.device) == 0)  # at least one window
            for pool in self.pooling:
                if pool == "max":
                    pooled.append(h.masked_fill(~starts[:, None, :], float("-inf")).max(2).values)  # (B, F)
                else:
                    counted = starts[:, None, :].to(h.dtype)
                    pooled.append((h * counted).sum(2) / counted.sum(2))  # (B, F)
        return self.head(self.drop(torch.cat(pooled, 1)))  # (B, out)


@MODELS.register("textcnn")
def build_textcnn(cfg: TextCNNConfig, input_shape: tuple[int, ...], num_outputs: int) -> TextCNN:
    return TextCNN(cfg, input_shape, num_outputs)
