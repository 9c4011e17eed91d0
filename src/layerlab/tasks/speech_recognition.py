"""Speech recognition with CTC: log-mel frames in, a transcript of characters or words out.

The model gives token logits for every (subsampled) frame, (B, T, V), id 0 the blank; the targets are
0-padded rows of token ids (``layerlab.data.transcripts``). Loss: CTC (``torch.nn.CTCLoss``) over all
T frames of every utterance (the sources pad utterances with silence, which the model reads as blanks).
Metrics: word and character error rates (``jiwer``) of the greedy (best-path) transcripts; the report adds
the beam search's and lists the utterances with the most word errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.data.transcripts import BLANK, decode
from layerlab.errors import LayerLabError
from layerlab.tasks.base import TASKS, Task, check_token_targets
from layerlab.tasks.config import Decoder, SpeechRecognitionConfig
from layerlab.tasks.ctc_decode import beam_search, greedy


@TASKS.register("speech_recognition")
class SpeechRecognitionTask(Task):
    """Model outputs (B, T, V) per-frame logits; targets (B, L) token ids, 0-padded; classes: the vocabulary."""

    name = "speech_recognition"
    target = TargetSpec("tokens", modalities=("audio",), needs="spoken utterances with transcripts (data.name: digit-strings or speech-manifest)")
    monitor = ("val_wer", "min")

    def __init__(self, vocabulary: list[str], *, decoder: Decoder = "beam", beam_width: int = 8, worst: int = 10):
        if len(vocabulary) < 2 or vocabulary[0] != BLANK:
            raise LayerLabError("speech_recognition needs a vocabulary that starts with the CTC blank; use a speech "
                                "source (data.name: digit-strings or speech-manifest)")
        self.vocabulary, self.decoder, self.beam_width, self.worst = list(vocabulary), decoder, beam_width, worst
        self.ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)

    @classmethod
    def from_config(cls, cfg: SpeechRecognitionConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> SpeechRecognitionTask:
        check_token_targets(cls.name, class_names, train_targets, use="data.name: digit-strings or speech-manifest")
        return cls(class_names or [], decoder=cfg.decoder, beam_width=cfg.beam_width, worst=cfg.worst)

    def num_outputs(self) -> int:
        return len(self.vocabulary)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "ctc", "decoder": self.decoder, "beam_width": self.beam_width,
                "worst": self.worst}

    # ------------------------------------------------------------------------------ every step
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean CTC loss (per target token) of logits (B, T, V) against 0-padded token rows (B, L)."""
        output, target = _sequences(output, target)
        if output.dim() != 3 or output.shape[0] != target.shape[0]:
            raise LayerLabError(f"speech_recognition needs per-frame outputs (B, T, V); the model gives "
                                f"{tuple(output.shape)} (use model.name: acoustic)")
        log_probs = F.log_softmax(output.float(), dim=-1).transpose(0, 1)  # (T, B, V), as CTCLoss takes them
        frames = torch.full((output.shape[0],), output.shape[1], dtype=torch.long)
        lengths = (target != 0).sum(1)
        return self.ctc(log_probs, target.long(), frames, lengths)

    # ------------------------------------------------------------------------------ a whole split
    def metric_names(self) -> list[str]:
        return ["loss", "wer", "cer"]

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        output, target = _sequences(output, target)
        references = self.references(target)
        hypotheses = self.transcribe(output, decoder="greedy")
        return {"loss": float(self.loss(output, target)), **error_rates(references, hypotheses)}

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        output, target = _sequences(output, target)
        references = self.references(target)
        greedy_texts = self.transcribe(output, decoder="greedy")
        beam_texts = self.transcribe(output, decoder="beam")
        chosen = beam_texts if self.decoder == "beam" else greedy_texts
        return {"greedy": error_rates(references, greedy_texts), "beam": error_rates(references, beam_texts),
                "decoder": self.decoder, "beam_width": self.beam_width, "utterances": len(references),
                "worst": worst_utterances(references, chosen, self.worst)}

    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """As every task evaluates, and the report's worst utterances named by their ids (their recordings)."""
        metrics, detail = super().evaluate(model, split, batch_size=batch_size, precision=precision, report=report)
        ids = getattr(split, "ids", None)
        for row in detail.get("worst", []) if ids is not None else []:
            row["id"] = str(ids[row["index"]])
        return metrics, detail

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        return [{"text": text} for text in self.transcribe(output, decoder=self.decoder)]

    # ------------------------------------------------------------------------------ helpers
    def references(self, target: Tensor) -> list[str]:
        return [decode(row[row != 0].tolist(), self.vocabulary) for row in target.cpu()]

    def transcribe(self, output: Tensor, *, decoder: Decoder) -> list[str]:
        """Transcripts of logits (B, T, V)."""
        log_probs = F.log_softmax(output.detach().float(), dim=-1).cpu().numpy()
        if decoder == "greedy":
            return [decode(greedy(lp), self.vocabulary) for lp in log_probs]
        return [decode(beam_search(lp, self.beam_width), self.vocabulary) for lp in log_probs]


def _sequences(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Outputs (B, V) with targets (B,) are sequences of one frame and one token: (B, 1, V) and (B, 1)."""
    if output.dim() == 2 and target.dim() == 1:
        return output[:, None], target[:, None]
    return output, target


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Word and character error rates over a whole split: edits / reference words (characters). An
    empty reference (jiwer refuses those) counts each word (character) of its hypothesis as an insertion."""
    import jiwer

    pairs = [(r, h) for r, h in zip(references, hypotheses) if r]
    rates = {}
    for name, measure, size in (("wer", jiwer.process_words, lambda t: len(t.split())),
                                ("cer", jiwer.process_characters, len)):
        edits = sum(size(h) for r, h in zip(references, hypotheses) if not r)
        if pairs:
            out = measure([r for r, _ in pairs], [h for _, h in pairs])
            edits += out.substitutions + out.deletions + out.insertions
        rates[name] = edits / max(1, sum(size(r) for r, _ in pairs))
    return rates


def worst_utterances(references: list[str], hypotheses: list[str], count: int) -> list[dict[str, Any]]:
    """The ``count`` utterances with the most word errors: index, reference, hypothesis, errors, words."""
    import jiwer

    errors = [jiwer.process_words(ref, hyp) for ref, hyp in zip(references, hypotheses)]
    edits = np.array([e.substitutions + e.deletions + e.insertions for e in errors])
    order = np.argsort(-edits, kind="stable")[:count]
    return [{"index": int(i), "reference": references[i], "hypothesis": hypotheses[i], "errors": int(edits[i]),
             "words": len(references[i].split())} for i in order if edits[i] > 0]
