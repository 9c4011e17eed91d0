"""``fasttext``: a bag of word and word n-gram embeddings, averaged, then linear (Joulin et al., 2017).

    model = create_model({"name": "fasttext", "vocab_size": 18000, "ngrams": 2}, input_shape=(56,), num_outputs=2)

tokens (B, T) -> the T words and the T - n + 1 n-grams of every order 2..ngrams, each n-gram hashed
into one of ``buckets`` rows -> embeddings (B, G, E) -> mean over the real ones (in training each is
left out with probability gram_dropout) -> dropout -> linear. Word order counts only inside an n-gram.
On small sentiment sets a bag of bigrams is a strong baseline (Wang and Manning's NBSVM, 2012). Most of
the parameters are the n-gram rows, and the optimiser updates all of them every step (dense gradients),
so fewer ``buckets`` or a smaller ``embed_dim`` make a step cheaper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import FastTextConfig

PAD = 0


class FastText(nn.Module):
    def __init__(self, cfg: FastTextConfig, input_shape: tuple[int, ...], num_outputs: int):
        super().__init__()
        if cfg.vocab_size is None or len(input_shape) != 1:
            raise LayerLabError("model 'fasttext' takes token sequences (T,) with model.vocab_size (filled in from text data)")
        self.vocab_size, self.ngrams, self.buckets = cfg.vocab_size, cfg.ngrams, cfg.buckets
        rows = cfg.vocab_size + (cfg.buckets if cfg.ngrams > 1 else 0)
        self.embed = nn.Embedding(rows, cfg.embed_dim, padding_idx=PAD)
        with torch.no_grad():
            self.embed.weight.uniform_(-cfg.embed_init, cfg.embed_init)
            self.embed.weight[PAD] = 0
        self.gram_dropout = cfg.gram_dropout
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.embed_dim, num_outputs)

    def grams(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(ids, real): the rows of the words and of every n-gram up to ``ngrams`` words, (B, G) each;
        ``real`` is False where a word or an n-gram covers padding."""
        real = x != PAD
        ids, keep = [x], [real]
        code, covered = x, real
        for n in range(2, self.ngrams + 1):  # code of an n-gram: (code of its first n-1 words) * V + last word
            code = (code[:, :-1] * self.vocab_size + x[:, n - 1 :]) % self.buckets
            covered = covered[:, :-1] & real[:, n - 1 :]
            ids.append(self.vocab_size + code)
            keep.append(covered)
        return torch.cat(ids, 1), torch.cat(keep, 1)

    def forward(self, x: Tensor) -> Tensor:
        ids, real = self.grams(x)
        if self.training and self.gram_dropout > 0:
            real = real & (torch.rand(real.shape, device=x.device) >= self.gram_dropout)
        weights = real.to(self.embed.weight.dtype)
        pooled = (self.embed(ids) * weights.unsqueeze(2)).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
        return self.head(self.drop(pooled))


@MODELS.register("fasttext")
def build_fasttext(cfg: FastTextConfig, input_shape: tuple[int, ...], num_outputs: int) -> FastText:
    return FastText(cfg, input_shape, num_outputs)
