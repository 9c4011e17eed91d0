"""Attention, as reusable modules: scaled dot-product, multi-head, and additive (Bahdanau).

    mask = padding_mask(tokens) & causal_mask(T, tokens.device)   # (B, 1, T, T): True = may attend
    out, weights = scaled_dot_product(q, k, v, mask)              # (B, H, T, D), (B, H, T, T)
    mha = MultiHeadAttention(dim=128, heads=4)
    y = mha(x, x, x, mask=padding_mask(tokens))                   # (B, T, 128)
    context, weights = AdditiveAttention(256, 512)(query, keys, keep)   # (B, 512), (B, S)

Masks are boolean and say where attention is allowed (``True`` = attend), broadcast over
(batch, heads, queries, keys); they match ``torch.nn.functional.scaled_dot_product_attention``'s
boolean ``attn_mask``. A query whose keys are all masked gets NaN; padding masks never do that as long
as every sentence has one real token (the text preprocessing guarantees it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def padding_mask(tokens: Tensor, pad_id: int = 0) -> Tensor:
    """(B, 1, 1, T) bool: True at real tokens, so every query may attend to them (keys only)."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """(T, T) bool, lower triangular: position i may attend to positions 0..i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def scaled_dot_product(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                       dropout: float = 0.0, training: bool = False) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ / √d) v, written out, with the attention weights.

    q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv); mask broadcastable to (..., Tq, Tk), True = attend.
    Returns (out (..., Tq, Dv), weights (..., Tq, Tk)).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return F.dropout(weights, dropout, training) @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017); query, key and value have their own projections.

    ``forward(query, key, value, mask, causal)`` with query (B, Tq, C) and key/value (B, Tk, C).
    Uses PyTorch's fused kernel; ``weights`` (B, H, Tq, Tk) of the last call are kept when
    ``keep_weights`` is set (for plots), computed by ``scaled_dot_product`` then.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"the model width {dim} must be a multiple of the number of heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v = (nn.Linear(dim, dim) for _ in range(3))
        self.out = nn.Linear(dim, dim)
        self.keep_weights = False
        self.weights: Tensor | None = None

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
                causal: bool = False) -> Tensor:
        B, Tq, C = query.shape
        Tk = key.shape[1]
        q = self.q(query).view(B, Tq, self.heads, C // self.heads).transpose(1, 2)  # (B, H, Tq, D)
        k = self.k(key).view(B, Tk, self.heads, C // self.heads).transpose(1, 2)  # (B, H, Tk, D)
        v = self.v(value).view(B, Tk, self.heads, C // self.heads).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        fused_causal = causal and mask is None and Tq == Tk and not self.keep_weights  # the fastest path
        if causal and not fused_causal:
            lower = causal_mask(Tk, query.device)[Tk - Tq :]  # (Tq, Tk): the last Tq positions' rows
            mask = lower if mask is None else mask & lower
        if self.keep_weights:
            y, self.weights = scaled_dot_product(q, k, v, mask, p, self.training)
        else:
            y = _fused_attention(q, k, v, mask, p, fused_causal)
        return self.out(y.transpose(1, 2).reshape(B, Tq, C))  # (B, Tq, C)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau et al. 2015): score(q, k_s) = vᵀ tanh(W q + U k_s).

    ``forward(query (B, Q), keys (B, S, K), keep (B, S) bool or None)`` returns the context
    Σ_s a_s k_s (B, K) and the weights a (B, S). ``project_keys`` lets a decoder compute U k once per
    sentence and pass it as ``projected``.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or key_dim
        self.w = nn.Linear(query_dim, hidden, bias=False)
        self.u = nn.Linear(key_dim, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.u(keys)  # (B, S, hidden)

    def forward(self, query: Tensor, keys: Tensor, keep: Tensor | None = None,
                projected: Tensor | None = None) -> tuple[Tensor, Tensor]:
        projected = self.project_keys(keys) if projected is None else projected
        scores = self.v(torch.tanh(self.w(query)[:, None, :] + projected)).squeeze(-1)  # (B, S)
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, S)
        return (weights[:, :, None] * keys).sum(1), weights  # (B, K), (B, S)


def _fused_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout: float, causal: bool) -> Tensor:
    """PyTorch's fused attention; on the CPU under bf16 autocast it runs in fp32 and returns bf16.

    The CPU's bf16 flash-attention backward is several times slower than its fp32 one (a 4-layer GPT,
    batch 64, context 128, on a Xeon with AMX: 177 ms against 34 ms a step, 47 % of the step), while the
    matrix products around it gain from bf16; so only this kernel leaves the autocast region.
    """
    if q.device.type == "cpu" and q.dtype == torch.bfloat16 and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, dropout_p=dropout,
                                               is_causal=causal)
        return y.to(torch.bfloat16)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal)
