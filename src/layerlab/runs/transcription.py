"""``transcribe``: spoken utterances in WAV files to text, with a trained speech recognition run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from layerlab.data.audio import wav_files
from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.preprocessor import input_files
from layerlab.data.speech import read_utterance
from layerlab.errors import UsageError
from layerlab.models.inference import predict_outputs
from layerlab.runs.loaded import load_run


def transcribe(run_dir: str | Path, inputs: Sequence[str | Path], *, device: str = "auto",
               decoder: str | None = None) -> list[dict[str, Any]]:
    """Transcripts of WAV files (and of the WAV files in folders) by a ``speech_recognition`` run.

    Returns one dict per file, in order: ``{"input": path, "text": ..., "converted": [...]}``, where
    ``converted`` says what was done to fit the model (channels mixed down, resampled; empty when
    nothing). ``decoder`` (beam or greedy) overrides the run's ``task.decoder``. Raises UsageError when
    the run is not a speech recognition run or nothing is given, DataError naming a file that cannot be
    read, is silent or is longer than the model takes.
    """
    if not inputs:
        raise UsageError("transcribe needs at least one WAV file or folder of WAV files")
    loaded = load_run(run_dir, device=device)
    if loaded.task.name != "speech_recognition" or not isinstance(loaded.preprocessor, AudioPreprocessor):
        raise UsageError(f"{run_dir}: a {loaded.task.name} run; transcribe needs a speech_recognition run "
                         "(layerlab run fsdd-ctc)")
    if decoder not in (None, "beam", "greedy"):
        raise UsageError(f"--decoder: beam or greedy, not {decoder!r}")
    prep = loaded.preprocessor
    files = input_files([Path(p) for p in inputs], wav_files, "WAV files")
    read = [read_utterance(f, rate=prep.sample_rate, samples=prep.samples) for f in files]
    texts = transcribe_waves(loaded, [wave for wave, _ in read], decoder=decoder)
    return [{"input": str(f), "text": text, "converted": notes} for f, text, (_, notes) in zip(files, texts, read)]


def transcribe_waves(loaded: Any, waves: Sequence[np.ndarray], *, decoder: str | None = None) -> list[str]:
    """Transcripts of utterances as ``read_utterance`` gives them, by a loaded speech recognition run (the
    server's ``POST /transcribe`` calls this with the run loaded once)."""
    prep = loaded.preprocessor
    x = prep.transform(np.stack(list(waves)))
    outputs = predict_outputs(loaded.model, x.to(loaded.device), batch_size=loaded.recipe.train.eval_batch_size)
    return loaded.task.transcribe(outputs, decoder=decoder or loaded.task.decoder)
