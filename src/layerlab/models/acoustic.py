"""``acoustic``: an acoustic model for CTC speech recognition, log-mel frames in, token logits per frame out.

    model = create_model({"name": "acoustic"}, input_shape=(1, 40, 313), num_outputs=11)
    logits = model(x)   # (B, 1, mels, frames) -> (B, frames / subsample, 11)

A convolutional front end (``subsample`` is 1, 2 or 4: one 3x3 conv with stride 2 in time and in frequency
per halving, each with batch norm and ReLU) turns the spectrogram into a shorter sequence of frame
vectors; a linear layer brings them to ``hidden``; the encoder reads the sequence in both directions,
either a bidirectional GRU or LSTM (``encoder: gru | lstm``) or a small transformer encoder (``encoder:
transformer``, with learned positions); a linear layer gives each frame's token logits, the blank among
them. Shorter frames after subsampling make the recurrence cheaper; CTC needs at least one frame per
target token (and one more between two equal tokens), which bounds ``subsample``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import AcousticConfig
from layerlab.models.layers import image_shape


class AcousticModel(nn.Module):
    def __init__(self, cfg: AcousticConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        channels, mels, frames = image_shape("acoustic", input_shape)
        convs, width = [], channels
        for _ in range({1: 0, 2: 1, 4: 2}[cfg.subsample]):
            convs += [nn.Conv2d(width, cfg.channels, 3, stride=2, padding=1), nn.BatchNorm2d(cfg.channels), nn.ReLU()]
            width, mels = cfg.channels, (mels + 1) // 2
        self.front = nn.Sequential(*convs)  # (B, C, M, T) -> (B, C', M', T')
        self.project = nn.Linear(width * mels, cfg.hidden)
        self.encoder_kind = cfg.encoder
        if cfg.encoder == "transformer":
            self.encoder = _transformer(cfg)
        else:
            rnn = nn.GRU if cfg.encoder == "gru" else nn.LSTM
            self.encoder = rnn(cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True,
                               dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden if cfg.encoder == "transformer" else 2 * cfg.hidden, num_outputs)
        if cfg.encoder == "transformer":
            self.positions = nn.Parameter(0.02 * torch.randn(cfg.max_frames, cfg.hidden))  # (frames, H), learned

    def forward(self, x: Tensor) -> Tensor:
        h = self.front(x)  # (B, C', M', T')
        h = self.project(h.flatten(1, 2).transpose(1, 2))  # (B, T', C' * M') -> (B, T', H)
        if self.encoder_kind == "transformer":
            if h.shape[1] > self.positions.shape[0]:
                raise LayerLabError(f"the acoustic model's positions cover {self.positions.shape[0]} frames; this "
                                    f"input gives {h.shape[1]} (raise model.max_frames)")
            h = self.encoder(h + self.positions[: h.shape[1]])
        else:
            h, _ = self.encoder(h)  # (B, T', 2H)
        return self.head(self.dropout(h))  # (B, T', V)


def _transformer(cfg: AcousticConfig) -> nn.TransformerEncoder:
    if cfg.hidden % cfg.heads:
        raise LayerLabError(f"model.heads ({cfg.heads}) must divide model.hidden ({cfg.hidden})")
    layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, 4 * cfg.hidden, cfg.dropout, batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)


@MODELS.register("acoustic")
def build_acoustic(cfg: AcousticConfig, input_shape: tuple[int, ...], num_outputs: int) -> AcousticModel:
    return AcousticModel(cfg, input_shape, num_outputs)
