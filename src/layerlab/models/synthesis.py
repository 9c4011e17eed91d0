"""``tts``: a non-autoregressive text-to-spectrogram model with a duration predictor (as FastSpeech, small).

    model = create_model({"name": "tts"}, input_shape=(1, 40, 251), num_outputs=12)   # 12 tokens
    mel, log_frames = model(units)   # (B, S, 2) token ids and their frames -> (B, 1, 40, 251), (B, S)
    mel, log_frames = model(units[..., :1])                                        # frames predicted

The units are tokens (words, pauses) with the number of spectrogram frames each lasts; id 0 is padding.
An embedding and a bidirectional GRU read the tokens; a linear layer predicts each one's log(1 + frames).
The length regulator repeats each token's state for its frames (the given ones in training, the predicted
ones otherwise), with the frame's position inside its token (0 at its start, 1 at its end) appended, so
that a word's sound can change along it; convolutions over the frames and a 1x1 convolution give each
frame's log-mel bands. Frames past the last token's are silence to be learnt like any other.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layerlab.models.base import MODELS
from layerlab.models.configs_image import SynthesisConfig
from layerlab.models.layers import image_shape


class Synthesizer(nn.Module):
    def __init__(self, cfg: SynthesisConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        _, self.n_mels, self.frames = image_shape("tts", input_shape)  # the spectrograms it writes: (1, M, T)
        self.embed = nn.Embedding(num_outputs, cfg.embed_dim, padding_idx=0)
        self.encoder = nn.GRU(cfg.embed_dim, cfg.hidden, batch_first=True, bidirectional=True)
        self.duration = nn.Linear(2 * cfg.hidden, 1)
        self.harmonics = cfg.position_harmonics
        layers, width = [], 2 * cfg.hidden + 1 + 2 * cfg.position_harmonics
        for _ in range(cfg.decoder_layers):  # convolutions over frames: a GRU over hundreds of frames is slow on a CPU
            layers += [nn.Conv1d(width, cfg.channels, cfg.kernel, padding=cfg.kernel // 2), nn.ReLU()]
            width = cfg.channels
        self.decoder = nn.Sequential(*layers)  # (B, 2H + 1, T) -> (B, C, T)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Conv1d(width, self.n_mels, 1)

    def forward(self, units: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S, 2) tokens and frames, or (B, S, 1) tokens alone -> log-mels (B, 1, M, T), log(1 + frames) (B, S)."""
        tokens = units[..., 0].long()
        states, _ = self.encoder(self.embed(tokens))  # (B, S, 2H)
        states = self.dropout(states)
        log_frames = self.duration(states).squeeze(-1)  # (B, S)
        if units.shape[-1] > 1:
            frames = units[..., 1].long()
        else:
            frames = torch.expm1(log_frames.detach()).round().clamp(min=0).long()
        frames = frames * (tokens != 0)
        h = self.decoder(self._placed(regulate(states, frames, self.frames)).transpose(1, 2))  # (B, T, 2H + 1 + 2K) -> (B, C, T)
        return self.out(self.dropout(h)).unsqueeze(1), log_frames  # (B, 1, M, T)


    def _placed(self, frames: Tensor) -> Tensor:
        """(B, T, D + 1) regulated states -> (B, T, D + 1 + 2K): the place inside the token as K harmonics besides."""
        if not self.harmonics:
            return frames
        angle = frames[..., -1:] * torch.pi * torch.arange(1, self.harmonics + 1, device=frames.device, dtype=frames.dtype)
        return torch.cat([frames, torch.sin(angle), torch.cos(angle)], dim=-1)


def regulate(states: Tensor, frames: Tensor, length: int) -> Tensor:
    """Each token's state repeated for its frames, with the frame's position inside the token appended,
    cut or zero-padded to ``length`` frames: (B, S, D), (B, S) -> (B, length, D + 1)."""
    B, S, D = states.shape
    out = states.new_zeros(B, length, D + 1)
    for b in range(B):  # a batch of a few dozen utterances; repeat_interleave has no batched form
        count = frames[b].clamp(min=0)
        rows = torch.repeat_interleave(states[b], count, dim=0)[:length]  # (T_b, D)
        starts = torch.repeat_interleave(torch.cumsum(count, 0) - count, count)[:length]
        sizes = torch.repeat_interleave(count, count)[:length]
        inside = (torch.arange(len(rows), device=states.device) - starts).float() / sizes.clamp(min=1)
        out[b, : len(rows)] = torch.cat([rows, inside[:, None].to(rows.dtype)], dim=1)
    return out


@MODELS.register("tts")
def build_synthesizer(cfg: SynthesisConfig, input_shape: tuple[int, ...], num_outputs: int) -> Synthesizer:
    return Synthesizer(cfg, input_shape, num_outputs)
