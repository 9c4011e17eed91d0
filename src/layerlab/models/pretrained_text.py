"""Pretrained text encoders from Hugging Face transformers (``hf:<hub id or local directory>``) as
sentence classifiers.

    model: {name: "hf:sentence-transformers/all-MiniLM-L6-v2"}       # the hub id (its cache, or a download)
    model: {name: "hf:/path/to/model-dir", pool: mean}                # a local directory
    model: {name: "hf:...", layers: all}     # every layer's sentence vector, concatenated, into the head

    (B, T) token ids, 0-padded -> encoder -> (B, T, H) per layer -> pool (mean of the tokens, or the first)
        -> the chosen layers' (B, H) concatenated (B, H * len(layers)) -> head -> (B, classes)

``layers`` picks the hidden states the head sees: -1 (the default) is the last layer's alone, 0 the
embeddings' output, ``all`` the embeddings and every layer. Lower layers keep information the top one
has traded for its pretraining objective, so a frozen encoder's linear probe gains from them: the
feature-based approach of BERT (Devlin et al. 2019, section 5.3) concatenates the last four layers.

The encoder is ``transformers.AutoModel`` with its weights (safetensors); the head is a new linear
layer for the data's classes. The text is tokenised with the model's own tokenizer (its
``tokenizer.json``, see ``layerlab.data.text``), which the run saves with its preprocessing. The
attention mask comes from the padding: a token id equal to ``pad_id`` is padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_sequence import HFConfig
from layerlab.models.layers import masked_mean, trim_padding


class SentenceClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, num_outputs: int, *, pool: str, pad_id: int, dropout: float,
                 layers: tuple[int, ...] = (-1,)):
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            # BERT's pooler (a dense layer on [CLS], for next-sentence prediction) is unused here: the
            # sentence vector is pooled below. Kept, it would be a layer group that trains for nothing
            # and takes a step of a layer-wise rate decay.
            encoder.pooler = None
            self.register_load_state_dict_pre_hook(_without_pooler)
        self.encoder = encoder
        self.pool, self.pad_id = pool, pad_id
        self.layers = layers  # indices into the encoder's hidden states (0 = the embeddings')
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size * len(layers), num_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.from_head_input(self.head_input(ids))

    def head_input(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, H * layers) the sentence vectors the head reads (before its dropout)."""
        ids = trim_padding(ids, self.pad_id)  # (B, T') with T' <= T: padding is masked from attention and pooling
        mask = ids != self.pad_id  # (B, T')
        if self.layers == (-1,):
            states = (self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state,)
        else:
            every = self.encoder(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True).hidden_states
            states = tuple(every[i] for i in self.layers)  # each (B, T, H)
        sentences = [hidden[:, 0] if self.pool == "first" else masked_mean(hidden, mask) for hidden in states]  # each (B, H)
        return torch.cat(sentences, dim=1)

    def from_head_input(self, sentences: torch.Tensor) -> torch.Tensor:
        """(B, H * layers) -> (B, classes): dropout, then the head. A head-only stage trains this alone on
        sentence vectors computed once (``layerlab.train.head_inputs``)."""
        return self.head(self.dropout(sentences))


def _without_pooler(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """Weights saved while the unused pooler was still kept (earlier runs) load without it."""
    for key in [k for k in state if k.startswith(f"{prefix}encoder.pooler.")]:
        del state[key]


@MODELS.register("hf:")
def build_hf(cfg: HFConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    if len(input_shape) != 1:
        raise LayerLabError(f"model '{cfg.name}' takes token ids (sentences), not inputs of shape {input_shape}")
    encoder = load_encoder(cfg.source(), weights=cfg._load_weights)
    return SentenceClassifier(encoder, num_outputs, pool=cfg.pool, pad_id=cfg.pad_id, dropout=cfg.dropout,
                              layers=hidden_state_indices(cfg, encoder.config.num_hidden_layers))


def hidden_state_indices(cfg: HFConfig, num_layers: int) -> tuple[int, ...]:
    """``model.layers`` as indices 0..num_layers into the hidden states (the embeddings' and each layer's)."""
    count = num_layers + 1
    if cfg.layers == "all":
        return tuple(range(count))
    wrong = [i for i in cfg.layers if not -count <= i < count]
    if wrong:
        raise LayerLabError(f"model.layers: {wrong} not among the hidden states of {cfg.name}: it has {count}, "
                            f"0 (the embeddings') to {num_layers} (its last layer's, also -1)")
    indices = tuple(i % count for i in cfg.layers)
    if len(set(indices)) < len(indices):
        raise LayerLabError(f"model.layers: {cfg.layers} names one hidden state twice (of {count}, -1 is {num_layers})")
    return indices if indices != (num_layers,) else (-1,)


def load_encoder(source: str, *, weights: bool = True) -> nn.Module:
    """``AutoModel`` from a directory or hub id (safetensors only); without ``weights``, its architecture."""
    import transformers

    from layerlab.settings import load_settings

    local = Path(source).expanduser().is_dir()
    options: dict[str, Any] = {"local_files_only": local or load_settings().offline}
    try:
        if not weights:
            return transformers.AutoModel.from_config(transformers.AutoConfig.from_pretrained(source, **options))
        return transformers.AutoModel.from_pretrained(source, use_safetensors=True, **options)
    except (OSError, ValueError) as exc:
        raise LayerLabError(f"model.name: hf:{source}: cannot load a transformers model from it ({exc})") from None


def tokenizer_file(source: str) -> Path:
    """The model's ``tokenizer.json`` (from its directory, or the hub's cache or a download)."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "tokenizer.json").is_file():
            raise LayerLabError(f"{path}: no tokenizer.json (a fast tokenizer) in this model directory")
        return path / "tokenizer.json"
    from huggingface_hub import hf_hub_download

    from layerlab.settings import load_settings

    try:
        return Path(hf_hub_download(source, "tokenizer.json", local_files_only=load_settings().offline))
    except Exception as exc:  # the hub client raises many kinds
        raise LayerLabError(f"hf:{source}: cannot get its tokenizer.json ({exc})") from None
