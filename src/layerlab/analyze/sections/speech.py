"""Report section of a speech recognition run: the error rates, and the worst utterances playable.

Each of the test utterances with the most word errors (the task's report, ``task.worst``) is shown with its
reference and the model's transcript, and its audio inlined as a WAV data URI in an ``<audio>`` element. The
audio is the utterance itself: the run's source is read again (seeded, so the same utterances) when its test
split is the source's own; otherwise (a test split cut from the training data) it is the log-mels the model
heard turned back into sound by Griffin-Lim, and the page says so.
"""

from __future__ import annotations

import numpy as np
import torch

from layerlab.analyze import html
from layerlab.analyze.report_context import SECTIONS, ReportContext, Section
from layerlab.data.speech import wav_bytes


@SECTIONS.register("speech_recognition", description="error rates and the worst utterances, playable")
def speech_recognition_sections(ctx: ReportContext) -> list[Section]:
    report = ctx.summary.get("report", {})
    worst = report.get("worst")
    if worst is None or ctx.data is None or not len(ctx.data.test):
        return [Section("Transcripts", [html.paragraph("There is no test report to show.", note=True)])]
    rates = [[name, report[name]["wer"], report[name]["cer"]] for name in ("greedy", "beam") if name in report]
    parts = [html.paragraph(f"Word and character error rates on {report.get('utterances', 0):,} test utterances "
                            f"(the report decodes with {report.get('decoder', '?')})."),
             html.table(["decoder", "WER", "CER"], rates)]
    if not worst:
        return [Section("Transcripts", [*parts, html.paragraph("Every test utterance was transcribed exactly.")])]
    waves, origin = _test_waves(ctx, [row["index"] for row in worst])
    rate = ctx.preprocessor.sample_rate
    parts.append(html.paragraph(f"The {len(worst)} test utterances with the most word errors ({origin}):"))
    for row, wave in zip(worst, waves):
        caption = (f"{row.get('id', row['index'])}: {row['errors']} word errors in {row['words']}. "
                   f"Reference: “{row['reference']}”. Heard: “{row['hypothesis']}”.")
        parts.append(html.audio(wav_bytes(_audible(wave), rate), caption=caption))
    return [Section("Transcripts", parts)]


def _test_waves(ctx: ReportContext, indices: list[int]) -> tuple[list[np.ndarray], str]:
    """The waveforms of the test utterances at ``indices``, and where they come from, in words."""
    from layerlab.data.load import as_source_config
    from layerlab.data.source import SOURCES, SourceContext
    from layerlab.settings import load_settings

    cfg = as_source_config(ctx.recipe.data)
    raw = SOURCES.get(cfg.name)(cfg, SourceContext(ctx.task.name, load_settings(), ctx.preprocessor, ctx.task.target))
    ids = ctx.data.test.ids
    if raw.test_x is not None and ids is not None and list(raw.test_meta.get("file", [])) == list(ids):
        return [np.trim_zeros(raw.test_x[i], "b") for i in indices], "the recordings themselves"
    return [_griffin_lim(ctx, i) for i in indices], "the log-mels the model heard, back to sound by Griffin-Lim"


def _griffin_lim(ctx: ReportContext, index: int) -> np.ndarray:
    from layerlab.data.griffin_lim import mel_to_wave

    prep = ctx.preprocessor
    logmel = ctx.data.test.x[index, 0].float().cpu()  # (M, T), standardised
    if prep.mean is not None:
        logmel = logmel * torch.tensor(prep.std)[:, None] + torch.tensor(prep.mean)[:, None]
    return mel_to_wave(logmel, prep._logmel)


def _audible(wave: np.ndarray) -> np.ndarray:
    """Peak at 0.9 (a quiet recording made audible; the words are the same)."""
    return wave / max(1e-6, float(np.abs(wave).max())) * 0.9
