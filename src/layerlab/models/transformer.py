"""The transformer family: an encoder classifier, a decoder-only language model (GPT), and the blocks
that ``seq2seq.py`` also builds the encoder-decoder from.

    model = create_model({"name": "gpt", "vocab_size": 65}, input_shape=(256,), num_outputs=65)
    logits = model(tokens)       # (B, T) -> (B, T, 65), position t sees tokens 0..t only

Blocks are pre-norm (LayerNorm before attention and before the MLP, as GPT-2 and nanoGPT):
``x = x + attn(ln(x)); x = x + mlp(ln(x))``. Positions are learned embeddings or fixed sinusoids;
the GPT's output layer shares its weights with the token embedding (``tie_weights``), as GPT-2 does.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.attention import MultiHeadAttention, padding_mask
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import GPTConfig, Positions, TransformerConfig, TransformerConfigBase
from layerlab.models.layers import TokenEmbedding, masked_max, masked_mean, no_token_options, trim_padding

PAD = 0


# -------------------------------------------------------------------------------------- pieces
class PositionalEncoding(nn.Module):
    """Adds position information to (B, T, C): a learned table, or the fixed sinusoids of Vaswani et al."""

    def __init__(self, kind: Positions, max_length: int, dim: int):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Embedding(max_length, dim)
        else:
            position = torch.arange(max_length)[:, None]  # (T, 1)
            frequency = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))  # (C/2,)
            table = torch.zeros(max_length, dim)
            table[:, 0::2] = torch.sin(position * frequency)
            table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
            self.register_buffer("sinusoids", table, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        T = x.shape[1]
        table = self.table.weight if self.kind == "learned" else self.sinusoids
        if offset + T > len(table):
            raise LayerLabError(f"a sequence of {offset + T} positions is longer than this model's {len(table)}")
        return x + table[offset : offset + T]  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, dim: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, mult * dim), nn.GELU(), nn.Linear(mult * dim, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    """A pre-norm transformer block; with ``cross`` also attention to an encoder's output (a decoder)."""

    def __init__(self, dim: int, heads: int, mult: int, dropout: float, cross: bool = False):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim), MultiHeadAttention(dim, heads, dropout)
        self.cross = cross
        if cross:
            self.ln_cross, self.cross_attn = nn.LayerNorm(dim), MultiHeadAttention(dim, heads, dropout)
        self.ln2, self.mlp = nn.LayerNorm(dim), MLP(dim, mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False,
                memory: Tensor | None = None, memory_mask: Tensor | None = None) -> Tensor:
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, h, mask=mask, causal=causal))  # (B, T, C)
        if self.cross:
            h = self.ln_cross(x)
            x = x + self.drop(self.cross_attn(h, memory, memory, mask=memory_mask))
        return x + self.mlp(self.ln2(x))


def _check_width(cfg: TransformerConfigBase) -> None:
    if cfg.dim % cfg.heads:
        raise LayerLabError(f"model.dim ({cfg.dim}) must be a multiple of model.heads ({cfg.heads})")


# ------------------------------------------------------------------------- encoder classifier
class TransformerClassifier(nn.Module):
    """(B, T) tokens or (B, T, F) features -> embed + positions -> blocks (padding masked) -> pool -> linear."""

    def __init__(self, cfg: TransformerConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        _check_width(cfg)
        self.tokens = cfg.vocab_size is not None
        if self.tokens:
            self.embed: nn.Module = TokenEmbedding(cfg.vocab_size, cfg.dim, init=cfg.embed_init,
                                                   word_dropout=cfg.word_dropout)
        else:
            no_token_options(cfg)
            self.embed = nn.Linear(input_shape[1] if len(input_shape) == 2 else 1, cfg.dim)
        self.pos = PositionalEncoding(cfg.positions, input_shape[0], cfg.dim)
        if cfg.embed_init is not None and cfg.positions == "learned":  # positions on the tokens' scale, not N(0, 1) over them
            nn.init.uniform_(self.pos.table.weight, -cfg.embed_init, cfg.embed_init)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.dim)
        self.pooling = cfg.pooling
        self.head = nn.Linear(cfg.dim, num_outputs)

    def forward(self, x: Tensor) -> Tensor:
        if self.tokens:
            x = trim_padding(x, PAD)  # (B, T'): a batch costs its longest sentence (padding is masked anyway)
        keep = (x != PAD) if self.tokens else None  # (B, T)
        h = self.embed(x) if self.tokens else self.embed(x[..., None] if x.dim() == 2 else x)  # (B, T, C)
        h = self.drop(self.pos(h))
        mask = padding_mask(x) if keep is not None else None  # (B, 1, 1, T)
        for block in self.blocks:
            h = block(h, mask=mask)
        h = self.ln(h)
        if self.pooling == "first":
            pooled = h[:, 0]
        elif self.pooling == "max":
            pooled = h.max(1).values if keep is None else masked_max(h, keep)
        else:
            pooled = h.mean(1) if keep is None else masked_mean(h, keep)
        return self.head(pooled)  # (B, out)


@MODELS.register("transformer")
def build_transformer(cfg: TransformerConfig, input_shape: tuple[int, ...], num_outputs: int) -> TransformerClassifier:
    return TransformerClassifier(cfg, input_shape, num_outputs)


# ---------------------------------------------------------------------------- decoder-only LM
class GPT(nn.Module):
    """tokens (B, T) -> embed + positions -> causal blocks -> LayerNorm -> logits (B, T, V).

    ``input_shape[0]`` is the context length (the positions it has); the output layer predicts the
    token after each position.
    """

    def __init__(self, cfg: GPTConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        _check_width(cfg)
        if cfg.vocab_size is None or len(input_shape) != 1:
            raise LayerLabError("model 'gpt' takes token sequences (T,) with model.vocab_size (filled in from text data)")
        self.context = input_shape[0]
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.pos = PositionalEncoding(cfg.positions, self.context, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, num_outputs, bias=False)
        if cfg.tie_weights:
            if num_outputs != cfg.vocab_size:
                raise LayerLabError(f"model.tie_weights needs as many outputs as tokens ({num_outputs} != {cfg.vocab_size})")
            self.head.weight = self.embed.weight  # (V, C) used both ways
        self.apply(_gpt_init)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by 1/sqrt(2 * layers)
            if name.endswith(("attn.out.weight", "net.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(self.pos(self.embed(x)))  # (B, T, C)
        for block in self.blocks:
            h = block(h, causal=True)
        return self.head(self.ln(h))  # (B, T, V)


def _gpt_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)


@MODELS.register("gpt")
def build_gpt(cfg: GPTConfig, input_shape: tuple[int, ...], num_outputs: int) -> GPT:
    return GPT(cfg, input_shape, num_outputs)
