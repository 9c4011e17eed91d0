"""``speak``: text to a WAV file, with a trained speech synthesis run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from layerlab.data.speech import wav_bytes
from layerlab.errors import DataError, UsageError
from layerlab.runs.loaded import load_run


def speak(run_dir: str | Path, text: str, *, out: str | Path, device: str = "auto") -> dict[str, Any]:
    """Write ``text`` spoken by a ``speech_synthesis`` run to the WAV file ``out`` (mono, 16-bit, the run's
    rate). Returns ``{"text", "out", "seconds", "sample_rate"}``. Raises UsageError for a run of another
    task, DataError for words the run cannot say or a file that cannot be written."""
    loaded = load_run(run_dir, device=device)
    if loaded.task.name != "speech_synthesis":
        raise UsageError(f"{run_dir}: a {loaded.task.name} run; speak needs a speech_synthesis run (layerlab run fsdd-tts)")
    wave_ = loaded.task.synthesise(loaded.model, text, preprocessor=loaded.preprocessor, device=loaded.device)
    rate = loaded.preprocessor.sample_rate
    write_wav(Path(out), wave_, rate)
    return {"text": text, "out": str(out), "seconds": round(len(wave_) / rate, 3), "sample_rate": rate}


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono float samples in [-1, 1] as a 16-bit PCM WAV file. Raises DataError naming the file."""
    try:
        path.write_bytes(wav_bytes(samples, rate))
    except OSError as exc:
        raise DataError(f"{path}: cannot write the WAV file ({exc.strerror or exc})") from None
