"""The options of the token and sequence model families, without importing torch.

``families`` declares each in ``MODELS`` with its name; the family's builder, in its own module
(``layerlab.models.rnn``, ...), loads on first use.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from layerlab.models.base import ModelConfig, TokenEmbeddingConfig

Pooling = Literal["last", "mean", "max", "attention", "none"]


class RecurrentConfig(TokenEmbeddingConfig):
    vocab_size: int | None = Field(None, ge=2, description="token input: vocabulary size (filled in from the data's tokenizer; None = float features)")
    embed_dim: int = Field(128, ge=1, description="token input: size of the token embeddings")
    hidden: int = Field(256, ge=1, description="size of the hidden state of each layer (and direction)")
    layers: int = Field(2, ge=1, description="stacked recurrent layers")
    bidirectional: bool = Field(False, description="also read each sequence backwards (not for language models)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the embeddings, between layers and before the output layer")
    pooling: Pooling = Field("last", description="one vector per sequence from the last step, mean, max or attention; none = an output per step (language models)")


class RNNConfig(RecurrentConfig):
    name: Literal["rnn"] = Field("rnn", description="a plain (Elman) recurrent network with tanh")


class LSTMConfig(RecurrentConfig):
    name: Literal["lstm"] = Field("lstm", description="a long short-term memory network")
    forget_bias: float | None = Field(1.0, description="lstm: the forget gates' initial bias (1: keep the cell state until learnt otherwise, as Keras' unit_forget_bias; Jozefowicz et al. 2015); None = PyTorch's uniform init")


class GRUConfig(RecurrentConfig):
    name: Literal["gru"] = Field("gru", description="a gated recurrent unit network")


class TextCNNConfig(TokenEmbeddingConfig):
    name: Literal["textcnn"] = Field("textcnn", description="Kim's 1-D CNN sentence classifier")
    vocab_size: int | None = Field(None, ge=2, description="token input: vocabulary size (filled in from the data's tokenizer)")
    embed_dim: int = Field(128, ge=1, description="size of the token embeddings")
    kernel_sizes: list[Annotated[int, Field(ge=1)]] = Field([3, 4, 5], min_length=1, description="widths (in tokens) of the convolution filters")
    filters: int = Field(100, ge=1, description="filters per width")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout before the output layer")
    pooling: list[Literal["max", "mean"]] = Field(["max"], min_length=1, description="over time, per filter: the max (Kim), the mean over the real windows, or both concatenated")


Positions = Literal["learned", "sinusoidal"]


class TransformerConfigBase(ModelConfig):
    vocab_size: int | None = Field(None, ge=2, description="token input: vocabulary size (filled in from the data's tokenizer; None = float features)")
    dim: int = Field(128, ge=8, description="model width (embedding size), a multiple of heads")
    heads: int = Field(4, ge=1, description="attention heads per layer")
    layers: int = Field(2, ge=1, description="transformer blocks")
    mlp_ratio: int = Field(4, ge=1, description="hidden width of each block's MLP, as a multiple of dim")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout on embeddings, attention weights and block outputs")
    positions: Positions = Field("learned", description="position information: learned embeddings or fixed sinusoids")

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> TransformerConfigBase:
        if self.dim % self.heads:
            raise ValueError(f"@dim@{self.dim} must be a multiple of model.heads ({self.heads}): each head gets dim/heads")
        return self


class TransformerConfig(TransformerConfigBase, TokenEmbeddingConfig):
    name: Literal["transformer"] = Field("transformer", description="a transformer encoder that classifies sequences")
    pooling: Literal["mean", "max", "first"] = Field("mean", description="one vector per sequence: mean or max over real tokens, or the first token's")


class GPTConfig(TransformerConfigBase):
    name: Literal["gpt"] = Field("gpt", description="a decoder-only transformer language model (causal)")
    dim: int = Field(192, ge=8, description="model width (embedding size), a multiple of heads")
    heads: int = Field(6, ge=1, description="attention heads per layer")
    layers: int = Field(4, ge=1, description="transformer blocks")
    tie_weights: bool = Field(True, description="the output layer shares its weights with the token embedding")


class TransformerSeq2SeqConfig(TransformerConfigBase):
    name: Literal["transformer-seq2seq"] = Field("transformer-seq2seq", description="a transformer encoder-decoder (translation)")
    target_vocab_size: int | None = Field(None, ge=2, description="the target language's vocabulary size (filled in from the data)")
    decoder_layers: int | None = Field(None, ge=1, description="decoder blocks (default: as many as model.layers)")
    max_target_length: int = Field(256, ge=2, description="the longest target (in tokens) the decoder's positions cover")
    tie_weights: bool = Field(True, description="the decoder's output layer shares its weights with the target embedding")


class RNNSeq2SeqConfig(ModelConfig):
    name: Literal["rnn-seq2seq"] = Field("rnn-seq2seq", description="a recurrent encoder-decoder with additive attention (Bahdanau)")
    cell: Literal["gru", "lstm"] = Field("gru", description="the recurrent cell of encoder and decoder")
    vocab_size: int | None = Field(None, ge=2, description="the source vocabulary size (filled in from the data)")
    target_vocab_size: int | None = Field(None, ge=2, description="the target vocabulary size (filled in from the data)")
    embed_dim: int = Field(256, ge=1, description="size of the token embeddings")
    hidden: int = Field(512, ge=1, description="decoder state size; the encoder has hidden/2 per direction")
    layers: int = Field(1, ge=1, description="stacked bidirectional encoder layers")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout on embeddings and before the output layer")


class FastTextConfig(ModelConfig):
    name: Literal["fasttext"] = Field("fasttext", description="a bag of word and n-gram embeddings, averaged (fastText)")
    vocab_size: int | None = Field(None, ge=2, description="token input: vocabulary size (filled in from the data's tokenizer)")
    embed_dim: int = Field(32, ge=1, description="size of the word and n-gram embeddings")
    ngrams: int = Field(2, ge=1, le=5, description="the longest word n-gram in the bag (1: words only, 2: words and bigrams)")
    buckets: int = Field(131072, ge=1, description="hash buckets shared by the n-grams of order 2 and up (an embedding row each)")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout before the output layer")
    gram_dropout: float = Field(0.3, ge=0, lt=1, description="in training, the probability that a word or n-gram is left out of the average")
    embed_init: float = Field(0.1, gt=0, description="initial embeddings uniform in [-a, a]")


class HFConfig(ModelConfig):
    name: str = Field("hf:sentence-transformers/all-MiniLM-L6-v2", description="hf:<hub id or local directory>: a Hugging Face transformers encoder")
    pool: Literal["mean", "first"] = Field("mean", description="hf: sentence vector: mean of the token vectors (sentence-transformers), or the first token's ([CLS])")
    pad_id: int = Field(0, ge=0, description="hf: the token id that pads sentences (masked from attention)")
    dropout: float = Field(0.1, ge=0, lt=1, description="hf: dropout before the head")
    layers: list[int] | Literal["all"] = Field(
        [-1], description="hf: the hidden states whose sentence vectors are concatenated into the head: "
                          "0 = the embeddings', 1..L the layers' (-1 the last), or all")

    @field_validator("name")
    @classmethod
    def _names_a_model(cls, name: str) -> str:
        if not name.partition(":")[2].strip():
            raise ValueError("hf: names a model after the colon: a hub id (hf:bert-base-uncased) or a local directory")
        return name

    @field_validator("layers")
    @classmethod
    def _at_least_one_layer(cls, layers: list[int] | str) -> list[int] | str:
        if isinstance(layers, list) and not layers:
            raise ValueError("name at least one hidden state (-1 = the last layer's), or all")
        return layers

    tokenizer_source: ClassVar[bool] = True  # the data tokenises with this model's own tokenizer
    _load_weights: bool = PrivateAttr(True)

    def source(self) -> str:
        return self.name.partition(":")[2]

    def architecture_only(self) -> HFConfig:
        copy = super().architecture_only()
        copy._load_weights = False
        return copy
