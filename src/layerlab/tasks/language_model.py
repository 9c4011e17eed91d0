"""Language modelling: predict each next token of a text.

Loss: cross-entropy of the next token at every position. Metrics: loss (nats per token), perplexity
(e^loss), next-token accuracy, and bits per character (the summed loss in bits over the characters
the targets stand for: for a character model, loss / ln 2). ``generate`` continues a prompt by
sampling with a temperature and from the ``top_k`` likeliest tokens.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.data.text.tokenizers import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, vocabulary_kind
from layerlab.errors import LayerLabError, UsageError
from layerlab.models.inference import autocast
from layerlab.tasks.base import TASKS, Task, check_token_targets
from layerlab.tasks.config import LanguageModelConfig


@TASKS.register("language_model")
class LanguageModelTask(Task):
    """Model outputs (B, T, V): the next token's logits at every position of a window; targets (B, T), the
    window shifted by one token; the classes are the vocabulary."""

    name = "language_model"
    target = TargetSpec("tokens", modalities=("text",))
    monitor = ("val_loss", "min")

    def __init__(self, vocabulary: list[str], *, label_smoothing: float = 0.0):
        if len(vocabulary) <= len(SPECIAL_TOKENS):
            raise LayerLabError(f"a language model needs a vocabulary of tokens; got {len(vocabulary)} entries")
        self.vocabulary, self.label_smoothing = list(vocabulary), float(label_smoothing)
        self.kind = vocabulary_kind(self.vocabulary)
        # characters each token stands for (for bits per character); words also stand for their space
        chars = [len(t) + (self.kind == "word") for t in self.vocabulary]
        chars[: len(SPECIAL_TOKENS)] = [0, 1, 0, 0]
        self.token_chars = torch.tensor(chars, dtype=torch.float64)

    @classmethod
    def from_config(cls, cfg: LanguageModelConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> LanguageModelTask:
        check_token_targets(cls.name, class_names, train_targets,
                            use="a text corpus: data.name tinyshakespeare, or text with data.path")
        return cls(class_names, label_smoothing=cfg.label_smoothing)

    def num_outputs(self) -> int:
        return len(self.vocabulary)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "cross_entropy", "label_smoothing": self.label_smoothing}

    # ------------------------------------------------------------------------------ every step
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy of logits (B, T, V) against next tokens (B, T)."""
        output = self._per_step(output, target)
        return F.cross_entropy(output.flatten(0, -2).float(), target.flatten().long(),
                               label_smoothing=self.label_smoothing)

    def _per_step(self, output: Tensor, target: Tensor) -> Tensor:
        if output.dim() != target.dim() + 1 or output.shape[:-1] != target.shape:
            raise LayerLabError(f"a language model needs one output per token, (B, T, V) for targets (B, T); the model "
                                f"gives {tuple(output.shape)}; for rnn, lstm and gru set model.pooling: none")
        return output

    # ------------------------------------------------------------------------------ a whole split
    def metric_names(self) -> list[str]:
        """The names of ``metrics``, from a made-up batch of one token per sequence: logits (2, 1, V)."""
        return list(self.metrics(torch.zeros(2, 1, self.num_outputs()), torch.zeros(2, 1, dtype=torch.long)))

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        output = self._per_step(output, target)
        return self._from_sums(*self._sums(output.flatten(0, -2), target.flatten()))

    def _sums(self, logits: Tensor, target: Tensor) -> tuple[float, float, float, float]:
        """Summed loss (nats), correct predictions, tokens and characters of flat logits (N, V), targets (N,)."""
        target = target.long()
        nats = F.cross_entropy(logits.float(), target, reduction="sum")
        correct = (logits.argmax(-1) == target).sum()
        chars = self.token_chars.to(target.device)[target].sum()
        values = torch.stack([nats.double(), correct.double(), chars]).tolist()
        return values[0], values[1], float(target.numel()), values[2]

    @staticmethod
    def _from_sums(nats: float, correct: float, n: float, chars: float) -> dict[str, float]:
        loss = nats / max(n, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 700)), "accuracy": correct / max(n, 1),
                "bits_per_char": nats / math.log(2) / max(chars, 1)}

    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """Metrics summed batch by batch (all logits of a split would not fit in memory for large vocabularies)."""
        was_training = model.training
        model.eval()
        totals = [0.0, 0.0, 0.0, 0.0]
        with torch.inference_mode(), autocast(split.x.device, precision):
            for i in range(0, len(split), batch_size):
                x, y = split.x[i : i + batch_size], split.y[i : i + batch_size]
                output = self._per_step(model(x), y)
                totals = [a + b for a, b in zip(totals, self._sums(output.flatten(0, -2), y.flatten()))]
        model.train(was_training)
        metrics = self._from_sums(*totals)
        return metrics, ({**metrics, "tokens": int(totals[2]), "characters": int(totals[3])} if report else {})

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        return self.metrics(output, target)

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """The likeliest next token after each sequence, with its probability."""
        last = (output[:, -1] if output.dim() == 3 else output).float().softmax(-1)
        p, i = last.max(-1)
        return [{"next": self.vocabulary[j], "probability": q} for j, q in zip(i.tolist(), p.tolist())]

    # ------------------------------------------------------------------------------ generation
    def generate(self, model: nn.Module, *, preprocessor: Any, device: Any, prompt: str = "", tokens: int = 500,
                 temperature: float = 0.8, top_k: int | None = 40, seed: int = 0, **_: Any) -> dict[str, Any]:
        """Continue ``prompt`` by ``tokens`` sampled tokens; returns ``{"text": prompt + continuation, ...}``.

        Each step feeds the last ``context`` tokens (the training window) and samples from
        softmax(logits / temperature) restricted to the ``top_k`` likeliest tokens (temperature 0: the
        likeliest). Special tokens are never sampled. Raises UsageError for bad options.
        """
        if tokens < 1 or temperature < 0 or (top_k is not None and top_k < 1):
            raise UsageError("--tokens must be positive, --temperature not negative and --top-k at least 1")
        tokenizer, context = preprocessor.tokenizer, preprocessor.max_length
        ids = tokenizer.encode(prompt) if prompt else [self._start_token()]
        x = torch.tensor([ids], dtype=torch.long, device=device)
        generator = torch.Generator().manual_seed(seed)
        banned = torch.tensor([PAD, BOS, EOS, UNK], device=device)
        model.eval()
        with torch.inference_mode():
            for _ in range(tokens):
                logits = self._per_step(model(x[:, -context:]), x[:, -context:])[:, -1].float()  # (1, V)
                logits[:, banned] = float("-inf")
                if temperature == 0:
                    nxt = logits.argmax(-1, keepdim=True)
                else:
                    logits = logits / temperature
                    if top_k is not None and top_k < logits.shape[-1]:
                        kth = logits.topk(top_k, dim=-1).values[:, -1:]
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    nxt = torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator).to(device)
                x = torch.cat([x, nxt], dim=1)
        new = x[0, len(ids) if prompt else 1 :].tolist()
        continuation = tokenizer.decode(new)
        joiner = " " if prompt and self.kind != "char" else ""  # words and subwords decode without their first space
        text = prompt + joiner + continuation
        return {"text": text, "prompt": prompt, "tokens": len(new), "temperature": temperature, "top_k": top_k}

    def _start_token(self) -> int:
        """What an empty prompt starts from: a line break when the vocabulary has one (as nanoGPT does)."""
        return self.vocabulary.index("\n") if "\n" in self.vocabulary else len(SPECIAL_TOKENS)
