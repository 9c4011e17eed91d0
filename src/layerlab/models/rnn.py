"""``rnn``, ``lstm``, ``gru``: recurrent networks on tokens or on float features.

    model = create_model({"name": "lstm", "vocab_size": 65, "pooling": "none"}, input_shape=(128,), num_outputs=65)
    logits = model(tokens)        # (B, T) int64 -> (B, T, 65): a language model, one output per step
    model = create_model({"name": "gru", "pooling": "attention"}, input_shape=(50, 3), num_outputs=2)
    logits = model(series)        # (B, 50, 3) float -> (B, 2): one output per sequence

With ``vocab_size`` (filled in from the data's tokenizer) the input is token ids, embedded; without,
it is float features (B, T, F), or (B, T) for one feature per step. ``pooling`` turns the states of
the top layer (B, T, H) into one vector per sequence: the ``last`` real step (with padding, the
sequences are packed, so padding never enters the recurrence), the ``mean`` or ``max`` over real
steps, or an ``attention``-weighted sum (a learned query, additive attention); ``none`` keeps one output
per step. ``time_step_gradients`` measures how much the loss at the last step depends on each earlier
input: the vanishing gradient of a plain RNN, and the LSTM's and GRU's remedy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from layerlab.errors import LayerLabError
from layerlab.models.attention import AdditiveAttention
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import RecurrentConfig
from layerlab.models.layers import TokenEmbedding, masked_max, masked_mean, no_token_options, trim_padding

PAD = 0  # the padding token id of LayerLab's tokenizers


CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """inputs -> [embedding | features] -> stacked RNN/LSTM/GRU -> pooling -> dropout -> linear."""

    def __init__(self, cfg: RecurrentConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        self.tokens = cfg.vocab_size is not None
        if self.tokens:
            if len(input_shape) != 1:
                raise LayerLabError(f"model '{cfg.name}' with token input takes sequences of shape (T,), got {input_shape}")
            self.embed: nn.Module = TokenEmbedding(cfg.vocab_size, cfg.embed_dim, init=cfg.embed_init,
                                                   word_dropout=cfg.word_dropout)
            features = cfg.embed_dim
        else:
            no_token_options(cfg)
            if len(input_shape) not in (1, 2):
                raise LayerLabError(f"model '{cfg.name}' takes sequences (T,) or (T, features), got {input_shape}; "
                                    "for images use cnn or resnet")
            self.embed = nn.Identity()
            features = input_shape[1] if len(input_shape) == 2 else 1
        self.pooling = cfg.pooling
        self.bidirectional = cfg.bidirectional
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = CELLS[cfg.name](features, cfg.hidden, cfg.layers, batch_first=True,
                                   dropout=cfg.dropout if cfg.layers > 1 else 0.0, bidirectional=cfg.bidirectional)
        if getattr(cfg, "forget_bias", None) is not None:
            set_forget_bias(self.rnn, cfg.forget_bias)
        width = cfg.hidden * (2 if cfg.bidirectional else 1)
        if cfg.pooling == "attention":
            self.query = nn.Parameter(torch.randn(width) / width**0.5)
            self.attend = AdditiveAttention(width, width)
        self.head = nn.Linear(width, num_outputs)

    def inputs(self, x: Tensor) -> Tensor:
        """(B, T) ids or (B, T[, F]) floats -> (B, T, E) float inputs of the recurrence."""
        if self.tokens:
            return self.drop(self.embed(x))
        return x[..., None] if x.dim() == 2 else x

    def forward(self, x: Tensor) -> Tensor:
        if self.tokens and self.pooling != "none":
            x = trim_padding(x, PAD)  # (B, T'): a batch costs its longest sentence (padding is packed away anyway)
        keep = (x != PAD) if self.tokens else None  # (B, T) real tokens
        return self.from_inputs(self.inputs(x), keep)

    def from_inputs(self, e: Tensor, keep: Tensor | None) -> Tensor:
        """Outputs from the embedded inputs (B, T, E); ``keep`` (B, T) marks real steps (None: all)."""
        B, T, _ = e.shape
        lengths = keep.sum(1) if keep is not None else None
        padded = lengths is not None and bool((lengths < T).any())
        if padded:  # pack, so that padding never enters the recurrence (in either direction)
            packed = pack_padded_sequence(e, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=T)  # (B, T, H)
        else:
            h, _ = self.rnn(e)  # (B, T, H)
        if self.pooling == "none":
            return self.head(self.drop(h))  # (B, T, out)
        return self.head(self.drop(self.pool(h, keep if padded else None)))  # (B, out)

    def pool(self, h: Tensor, keep: Tensor | None) -> Tensor:
        """(B, T, H) states -> (B, H), over the real steps only."""
        B, T, H = h.shape
        if self.pooling == "last":
            last = (keep.sum(1) - 1).clamp(min=0) if keep is not None else torch.full((B,), T - 1, device=h.device)
            forward = h[torch.arange(B, device=h.device), last]  # (B, H): the state after the last real step
            if not self.bidirectional:
                return forward
            half = H // 2  # the backward direction ends at step 0
            return torch.cat([forward[:, :half], h[:, 0, half:]], dim=1)
        if self.pooling == "mean":
            if keep is None:
                return h.mean(1)
            return masked_mean(h, keep)
        if self.pooling == "max":
            return h.max(1).values if keep is None else masked_max(h, keep)
        context, _ = self.attend(self.query.expand(B, H), h, keep)
        return context


def set_forget_bias(lstm: nn.LSTM, value: float) -> None:
    """Every layer's (and direction's) forget gate starts with bias ``value``: PyTorch adds two biases,
    ``bias_ih`` and ``bias_hh``, with the gates in the order input, forget, cell, output; the first gets
    ``value`` in its forget quarter and the second 0 there. The other gates keep their init."""
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if name.startswith(("bias_ih", "bias_hh")):
                bias[hidden : 2 * hidden] = value if name.startswith("bias_ih") else 0.0


def _build(cfg: RecurrentConfig, input_shape: tuple[int, ...], num_outputs: int) -> RecurrentNet:
    return RecurrentNet(cfg, input_shape, num_outputs)


for _name in ("rnn", "lstm", "gru"):
    MODELS.register(_name)(_build)


# ------------------------------------------------------------------------ gradient through time
def time_step_gradients(model: RecurrentNet, x: Tensor, y: Tensor) -> Tensor:
    """‖∂L/∂e_t‖ for each input step t (T,), averaged over the batch, where L is the loss at the last step.

    ``e_t`` is the input of the recurrence at step t (the embedded token or the features). For a
    plain RNN these norms fall roughly geometrically with the distance T - t (the vanishing
    gradient); an LSTM's and a GRU's stay much flatter. ``y`` is (B,) or (B, T) class ids (cross-
    entropy) or floats (squared error); only its last step is used.
    """
    was_training = model.training
    model.eval()  # no dropout: the measurement should not be noisy
    try:
        # cuDNN's recurrent kernels run backward only in training mode; the native ones also in eval mode.
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            e = model.inputs(x).detach().requires_grad_(True)  # (B, T, E)
            keep = (x != PAD) if model.tokens else None
            out = model.from_inputs(e, keep)
            last = out[:, -1] if out.dim() == 3 else out  # (B, out)
            target = y[:, -1] if y.dim() == 2 and out.dim() == 3 else y
            if target.is_floating_point():
                # (B, H) forecasts against (B, H) targets, or (B, 1) against (B,): compare row by row
                loss = F.mse_loss(last.float().reshape(len(last), -1), target.float().reshape(len(target), -1),
                                  reduction="sum")
            else:
                loss = F.cross_entropy(last.float(), target.long(), reduction="sum")
            (grad,) = torch.autograd.grad(loss, e)
        return grad.float().norm(dim=-1).mean(0).detach()  # (T,)
    finally:
        model.train(was_training)
