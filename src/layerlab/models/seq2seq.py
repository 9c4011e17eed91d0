"""Encoder-decoder models for translation: a transformer, and a recurrent network with additive attention.

    model = create_model({"name": "transformer-seq2seq", "vocab_size": 8000, "target_vocab_size": 8000},
                         input_shape=(40,), num_outputs=8000)
    logits = model(src, tgt_in)           # (B, S), (B, T) -> (B, T, V): teacher forcing
    state = model.start(src)              # decoding, one token at a time:
    logits, state = model.step(state, tokens)   # (B,) -> (B, V)

Both give the same two ways in: ``forward`` for training (the target shifted right is fed in) and
``start``/``step`` for greedy and beam-search decoding (``layerlab.tasks.seq2seq``). A decoding state is
a tuple of tensors whose first dimension is the batch, so beam search reorders it with ``index_select``.
Token ids follow LayerLab's tokenizers: ``<pad>`` is 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from layerlab.errors import LayerLabError
from layerlab.models.attention import AdditiveAttention
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import RNNSeq2SeqConfig, TransformerSeq2SeqConfig
from layerlab.models.transformer import Block, PositionalEncoding, _check_width

PAD = 0
State = tuple[Tensor, ...]


def _need_vocabularies(name: str, vocab_size: int | None, target_vocab_size: int | None) -> None:
    if vocab_size is None or target_vocab_size is None:
        raise LayerLabError(f"model '{name}' translates token sequences: it needs model.vocab_size and "
                            "model.target_vocab_size (filled in from parallel text data)")


# --------------------------------------------------------------------------------- transformer
class TransformerSeq2Seq(nn.Module):
    def __init__(self, cfg: TransformerSeq2SeqConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        _check_width(cfg)
        _need_vocabularies(cfg.name, cfg.vocab_size, cfg.target_vocab_size)
        blocks = lambda n, cross: nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout, cross) for _ in range(n))  # noqa: E731
        self.scale = cfg.dim**0.5  # embeddings are scaled up, as in Vaswani et al.
        self.src_embed = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(cfg.target_vocab_size, cfg.dim, padding_idx=PAD)
        self.src_pos = PositionalEncoding(cfg.positions, input_shape[0], cfg.dim)
        self.tgt_pos = PositionalEncoding(cfg.positions, cfg.max_target_length, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder, self.decoder = blocks(cfg.layers, False), blocks(cfg.decoder_layers or cfg.layers, True)
        self.ln_enc, self.ln_dec = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, num_outputs, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if cfg.tie_weights and num_outputs == cfg.target_vocab_size:
            self.head.weight = self.tgt_embed.weight
            nn.init.normal_(self.tgt_embed.weight, std=cfg.dim**-0.5)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S) -> memory (B, S, C) and keep (B, S), True at real source tokens."""
        keep = src != PAD
        h = self.drop(self.src_pos(self.src_embed(src) * self.scale))
        for block in self.encoder:
            h = block(h, mask=keep[:, None, None, :])
        return self.ln_enc(h), keep

    def decode(self, tgt_in: Tensor, memory: Tensor, keep: Tensor) -> Tensor:
        """(B, T) target tokens so far -> (B, T, C) decoder states (the output layer turns them into logits)."""
        h = self.drop(self.tgt_pos(self.tgt_embed(tgt_in) * self.scale))
        for block in self.decoder:
            h = block(h, causal=True, memory=memory, memory_mask=keep[:, None, None, :])
        return self.ln_dec(h)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, keep = self.encode(src)
        return self.head(self.decode(tgt_in, memory, keep))  # (B, T, V)

    def start(self, src: Tensor) -> State:
        """Encode once; the state caches each decoder layer's keys and values (of the memory, and of the
        target so far), so a step costs one position, not the whole prefix again."""
        memory, keep = self.encode(src)
        cross_k = torch.stack([block.cross_attn.k(memory) for block in self.decoder], 1)  # (B, L, S, C)
        cross_v = torch.stack([block.cross_attn.v(memory) for block in self.decoder], 1)
        empty = memory.new_zeros(len(src), len(self.decoder), 0, memory.shape[-1])  # (B, L, 0, C)
        return keep, cross_k, cross_v, empty, empty

    def step(self, state: State, tokens: Tensor) -> tuple[Tensor, State]:
        """The next token's logits (B, V) after ``tokens`` (B,); the same as ``forward``'s, in eval mode."""
        keep, cross_k, cross_v, self_k, self_v = state
        h = self.tgt_pos(self.tgt_embed(tokens[:, None]) * self.scale, offset=self_k.shape[2])  # (B, 1, C)
        keys, values = [], []
        for i, block in enumerate(self.decoder):
            a = block.ln1(h)
            keys.append(torch.cat([self_k[:, i], block.attn.k(a)], 1))  # (B, t+1, C): this position and before
            values.append(torch.cat([self_v[:, i], block.attn.v(a)], 1))
            h = h + _attend(block.attn, block.attn.q(a), keys[-1], values[-1])
            c = block.ln_cross(h)
            h = h + _attend(block.cross_attn, block.cross_attn.q(c), cross_k[:, i], cross_v[:, i], keep[:, None, None, :])
            h = h + block.mlp(block.ln2(h))
        logits = self.head(self.ln_dec(h[:, 0]))  # (B, V)
        return logits, (keep, cross_k, cross_v, torch.stack(keys, 1), torch.stack(values, 1))


def _attend(mha: nn.Module, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Attention of projected queries (B, Tq, C) over projected keys and values (B, Tk, C), then ``mha.out``."""
    B, Tq, C = q.shape
    heads = lambda t: t.view(B, t.shape[1], mha.heads, C // mha.heads).transpose(1, 2)  # noqa: E731  (B, H, T, D)
    y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask)
    return mha.out(y.transpose(1, 2).reshape(B, Tq, C))


@MODELS.register("transformer-seq2seq")
def build_transformer_seq2seq(cfg: TransformerSeq2SeqConfig, input_shape: tuple[int, ...],
                              num_outputs: int) -> TransformerSeq2Seq:
    return TransformerSeq2Seq(cfg, input_shape, num_outputs)


# ------------------------------------------------------------------------ RNN with attention
class RNNSeq2Seq(nn.Module):
    """Bahdanau et al. (2015): a bidirectional encoder; a decoder that attends over it at every step.

    Decoder step t: context c_t = attention(s_{t-1}, encoder states); s_t = cell([emb(y_{t-1}); c_t], s_{t-1});
    logits = W [s_t; c_t; emb(y_{t-1})].
    """

    def __init__(self, cfg: RNNSeq2SeqConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        _need_vocabularies(cfg.name, cfg.vocab_size, cfg.target_vocab_size)
        if cfg.hidden % 2:
            raise LayerLabError(f"model.hidden ({cfg.hidden}) must be even: the encoder has hidden/2 per direction")
        self.lstm = cfg.cell == "lstm"
        self.src_embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(cfg.target_vocab_size, cfg.embed_dim, padding_idx=PAD)
        rnn = nn.LSTM if self.lstm else nn.GRU
        self.encoder = rnn(cfg.embed_dim, cfg.hidden // 2, cfg.layers, batch_first=True, bidirectional=True,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.bridge = nn.Linear(cfg.hidden, cfg.hidden)  # encoder summary -> the decoder's first state
        self.attend = AdditiveAttention(cfg.hidden, cfg.hidden)
        self.cell = (nn.LSTMCell if self.lstm else nn.GRUCell)(cfg.embed_dim + cfg.hidden, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden + cfg.embed_dim, num_outputs)

    def start(self, src: Tensor) -> State:
        keep = src != PAD  # (B, S)
        lengths = keep.sum(1).clamp(min=1)
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), lengths.cpu(), batch_first=True, enforce_sorted=False)
        keys, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=src.shape[1])  # (B, S, H)
        half = keys.shape[-1] // 2
        last = keys[torch.arange(len(src), device=src.device), lengths - 1, :half]  # forward direction's end
        summary = torch.cat([last, keys[:, 0, half:]], dim=1)  # (B, H): with the backward direction's end
        s = torch.tanh(self.bridge(summary))
        return s, torch.zeros_like(s), keys, self.attend.project_keys(keys), keep

    def step(self, state: State, tokens: Tensor) -> tuple[Tensor, State]:
        features, state = self._advance(state, self.drop(self.tgt_embed(tokens)))
        return self.head(self.drop(features)), state  # (B, V)

    def _advance(self, state: State, e: Tensor) -> tuple[Tensor, State]:
        """One decoder step from the embedded previous token ``e`` (B, E): the features the output layer
        reads, [s_t; c_t; e] (B, 2H + E), and the new state."""
        s, c, keys, projected, keep = state
        context, _ = self.attend(s, keys, keep, projected=projected)  # (B, H)
        if self.lstm:
            s, c = self.cell(torch.cat([e, context], 1), (s, c))
        else:
            s = self.cell(torch.cat([e, context], 1), s)
        return torch.cat([s, context, e], 1), (s, c, keys, projected, keep)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        # Teacher forcing: the recurrence runs step by step, but the embeddings are looked up and the
        # output layer (the largest matrix) applied once for all steps: one big product, not T small ones.
        state, embedded = self.start(src), self.drop(self.tgt_embed(tgt_in))  # (B, T, E)
        features = []
        for t in range(tgt_in.shape[1]):
            step_features, state = self._advance(state, embedded[:, t])
            features.append(step_features)
        return self.head(self.drop(torch.stack(features, dim=1)))  # (B, T, V)


@MODELS.register("rnn-seq2seq")
def build_rnn_seq2seq(cfg: RNNSeq2SeqConfig, input_shape: tuple[int, ...], num_outputs: int) -> RNNSeq2Seq:
    return RNNSeq2Seq(cfg, input_shape, num_outputs)
