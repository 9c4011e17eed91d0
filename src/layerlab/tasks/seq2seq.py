"""Translation (sequence to sequence): teacher forcing in training; greedy or beam-search decoding; BLEU, chrF.

Targets are ``<bos> ids <eos> <pad>...`` (N, T+1). Training feeds ``y[:, :-1]`` to the decoder and
predicts ``y[:, 1:]`` (teacher forcing, ``forward``); the loss ignores padding. Columns that are padding
in every row of a batch are cut off first (``layers.trim_padding``), so a batch costs its longest sentence, not the data's
``max_length``; with ``train.group_by_length`` the sentences of a batch are of about one length. Validation during
training is that teacher-forced loss (cheap); the test report decodes every source sentence
(``task.beam_size`` 1 = greedy) and scores the detokenised output against the detokenised references
with sacrebleu's BLEU and chrF.

    ids = beam_search(model, src, beam=4, max_length=50)   # (B, <=50) target ids, <eos> then padding
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.data.text.tokenizers import BOS, EOS, PAD, SPECIAL_TOKENS, detokenize, vocabulary_kind
from layerlab.errors import LayerLabError
from layerlab.models.inference import autocast
from layerlab.models.layers import trim_padding
from layerlab.tasks.base import TASKS, Task, check_token_targets
from layerlab.tasks.config import Seq2SeqConfig

SAMPLES = 5  # translations shown in the report


@TASKS.register("seq2seq")
class Seq2SeqTask(Task):
    """Model outputs (B, t, V): the next target token's logits, given the source and the target so far;
    targets (N, T+1) ``<bos> ids <eos> <pad>...``, whose classes are the target vocabulary."""

    name = "seq2seq"
    target = TargetSpec("tokens", modalities=("text",))
    monitor = ("val_loss", "min")

    def __init__(self, vocabulary: list[str], *, label_smoothing: float = 0.0, beam_size: int = 1,
                 length_penalty: float = 1.0, val_bleu: bool = False):
        self.vocabulary, self.kind = list(vocabulary), vocabulary_kind(vocabulary)
        self.label_smoothing, self.beam_size, self.length_penalty = float(label_smoothing), int(beam_size), float(length_penalty)
        self.val_bleu = bool(val_bleu)

    @classmethod
    def from_config(cls, cfg: Seq2SeqConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> Seq2SeqTask:
        check_token_targets(cls.name, class_names, train_targets, use="a parallel corpus: data.name multi30k or parallel")
        return cls(class_names, label_smoothing=cfg.label_smoothing, beam_size=cfg.beam_size,
                   length_penalty=cfg.length_penalty, val_bleu=cfg.val_bleu)

    def num_outputs(self) -> int:
        return len(self.vocabulary)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "cross_entropy", "label_smoothing": self.label_smoothing,
                "beam_size": self.beam_size, "length_penalty": self.length_penalty, "val_bleu": self.val_bleu}

    # ------------------------------------------------------------------------------ every step
    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Teacher forcing: the decoder reads the target shifted right; (B, t, V) logits, t <= T: up to
        the batch's longest target (the columns after it are padding everywhere, see ``loss``)."""
        return model(trim_padding(x), trim_padding(y)[:, :-1])

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy over the real target tokens (padding ignored); target is (B, T+1)."""
        return F.cross_entropy(output.flatten(0, 1).float(), _gold(output, target).flatten(), ignore_index=PAD,
                               label_smoothing=self.label_smoothing)

    # ------------------------------------------------------------------------------ a whole split
    def metric_names(self) -> list[str]:
        """The names of ``metrics``, from a made-up batch: logits (2, 1, V) for targets <bos> + one token."""
        names = list(self.metrics(torch.zeros(2, 1, self.num_outputs()), torch.zeros(2, 2, dtype=torch.long)))
        return names + (["bleu", "chrf"] if self.val_bleu else [])  # evaluate's decoding pass adds them

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        if output.dim() == 2:  # the trainer's monitor check feeds (N, V) and (N,)
            return {"loss": F.cross_entropy(output.float(), target.long()).item(), "accuracy": 0.0}
        return _from_sums(*self._sums(output, target))

    def _sums(self, output: Tensor, target: Tensor) -> tuple[float, float, float]:
        gold = _gold(output, target)
        real = gold != PAD
        nats = F.cross_entropy(output.flatten(0, 1).float(), gold.flatten(), ignore_index=PAD, reduction="sum")
        correct = ((output.argmax(-1) == gold) & real).sum()
        a, b, c = torch.stack([nats.double(), correct.double(), real.sum().double()]).tolist()
        return a, b, c

    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """Teacher-forced loss and token accuracy; with ``report``, also decodes every source and adds
        ``bleu`` and ``chrf`` (sacrebleu, on detokenised text), the decoding time and sample translations.
        Without ``report`` (validation during training), ``val_bleu`` adds greedy BLEU and chrF only."""
        was_training = model.training
        model.eval()
        totals = [0.0, 0.0, 0.0]
        with torch.inference_mode(), autocast(split.x.device, precision):
            for i in range(0, len(split), batch_size):
                x, y = split.x[i : i + batch_size], split.y[i : i + batch_size]
                totals = [a + b for a, b in zip(totals, self._sums(self.forward(model, x, y), y))]
        metrics = _from_sums(*totals)
        details: dict[str, Any] = {}
        if report or self.val_bleu:
            started = time.perf_counter()
            hypotheses = self.translate_ids(model, split.x, max_length=split.y.shape[1] - 1,
                                            batch_size=batch_size, precision=precision,
                                            beam=self.beam_size if report else 1)
            references = [self.detokenize(row) for row in split.y[:, 1:].tolist()]
            metrics.update(bleu_chrf(hypotheses, references))
        if report:
            details = {**metrics, "decoding": "greedy" if self.beam_size == 1 else f"beam {self.beam_size}",
                       "decoding_seconds": round(time.perf_counter() - started, 3),
                       "samples": [{"reference": r, "translation": h} for r, h in
                                   zip(references[:SAMPLES], hypotheses[:SAMPLES])]}
        model.train(was_training)
        return metrics, details

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        return self.metrics(output, target)

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """``{"translation": text}`` per row of decoded target ids (N, T), or of logits (N, T, V) (their argmax)."""
        ids = output.argmax(-1) if output.dim() == 3 else output.long()
        return [{"translation": self.detokenize(row)} for row in ids.tolist()]

    # ------------------------------------------------------------------------------ decoding
    def translate_ids(self, model: nn.Module, src: Tensor, *, max_length: int, batch_size: int = 256,
                      precision: str = "fp32", beam: int | None = None) -> list[str]:
        """Detokenised translations of source ids (N, S), decoded greedily or by beam search (``beam``,
        default ``task.beam_size``), in the order given.

        The sources are decoded shortest first, so the sentences of a batch are of about one length: a
        batch's encoder costs its longest source and its decoding ends with its longest translation.
        """
        texts: list[str] = [""] * len(src)
        was_training = model.training
        model.eval()
        order = (src != PAD).sum(1).argsort(stable=True)
        with torch.inference_mode(), autocast(src.device, precision):
            for i in range(0, len(src), batch_size):
                rows = order[i : i + batch_size]
                ids = beam_search(model, trim_padding(src[rows]), beam=beam or self.beam_size, max_length=max_length,
                                  length_penalty=self.length_penalty)
                for row, hypothesis in zip(rows.tolist(), ids.tolist()):
                    texts[row] = self.detokenize(hypothesis)
        model.train(was_training)
        return texts

    def detokenize(self, ids: list[int]) -> str:
        """Text of one row of target ids, up to its first ``<eos>`` (special tokens left out)."""
        ids = ids[: ids.index(EOS)] if EOS in ids else ids
        return detokenize([self.vocabulary[i] for i in ids if i >= len(SPECIAL_TOKENS) or i == 1], self.kind)


def _gold(output: Tensor, target: Tensor) -> Tensor:
    """The target tokens (B, t) that ``output`` (B, t, V) predicts; ``target`` (B, T+1) may be longer by
    columns of padding (``forward`` trims them)."""
    return target[:, 1 : output.shape[1] + 1].long()


def _from_sums(nats: float, correct: float, n: float) -> dict[str, float]:
    import math

    loss = nats / max(n, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700)), "accuracy": correct / max(n, 1)}


def bleu_chrf(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU (sacrebleu's default 13a tokenisation) and chrF of detokenised sentences."""
    try:
        import sacrebleu
    except ImportError:
        raise LayerLabError("BLEU and chrF need the 'sacrebleu' package: pip install 'layerlab[text]'") from None
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score}


def greedy_search(model: nn.Module, src: Tensor, *, max_length: int) -> Tensor:
    """(B, <=max_length) ids: the likeliest token at each step, until every sentence has ended (<eos>),
    padded after its end."""
    state = model.start(src)
    tokens = torch.full((len(src),), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_length):
        logits, state = model.step(state, tokens)
        tokens = logits.argmax(-1).masked_fill(done, PAD)
        out.append(tokens)
        done = done | (tokens == EOS)
        if done.all():
            break
    return torch.stack(out, 1)


def beam_search(model: nn.Module, src: Tensor, *, beam: int, max_length: int, length_penalty: float = 1.0) -> Tensor:
    """(B, <=max_length) ids of the best of ``beam`` hypotheses per sentence (width 1 is greedy search).

    Hypotheses are extended by their summed log-probability; an ended one (``<eos>``) is only extended
    by padding at no cost. The final choice divides each score by length**``length_penalty``.
    """
    if beam == 1:
        return greedy_search(model, src, max_length=max_length)
    B, device = len(src), src.device
    state = tuple(t.repeat_interleave(beam, 0) for t in model.start(src))  # (B*k, ...)
    tokens = torch.full((B * beam,), BOS, dtype=torch.long, device=device)
    scores = torch.zeros(B, beam, device=device)
    scores[:, 1:] = float("-inf")  # at the start all beams are the same; keep one
    done = torch.zeros(B * beam, dtype=torch.bool, device=device)
    lengths = torch.zeros(B * beam, device=device)
    history = torch.empty(B * beam, 0, dtype=torch.long, device=device)
    for _ in range(max_length):
        logits, state = model.step(state, tokens)
        logp = logits.float().log_softmax(-1)  # (B*k, V)
        V = logp.shape[-1]
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0
        top, index = (scores.view(-1, 1) + logp).view(B, beam * V).topk(beam, dim=1)  # (B, k)
        rows = (torch.arange(B, device=device)[:, None] * beam + index // V).view(-1)  # the beams extended
        tokens = (index % V).view(-1)
        state = tuple(t.index_select(0, rows) for t in state)
        history = torch.cat([history.index_select(0, rows), tokens[:, None]], 1)
        lengths = lengths.index_select(0, rows) + (~done.index_select(0, rows)).float()
        done = done.index_select(0, rows) | (tokens == EOS)
        scores = top
        if done.all():
            break
    normalised = scores / lengths.view(B, beam).clamp(min=1) ** length_penalty
    best = torch.arange(B, device=device) * beam + normalised.argmax(1)
    return history.index_select(0, best)
