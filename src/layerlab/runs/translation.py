"""``translate``: a trained translation run applied to new sentences, from its run directory alone.

    from layerlab.runs import translate
    rows = translate("runs/multi30k-transformer-...", ["Ein Hund läuft im Schnee."])
    rows[0]["translation"]      # "A dog runs in the snow."
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layerlab.errors import UsageError
from layerlab.runs.loaded import load_run


def translate(run_dir: str | Path, sentences: Sequence[str] = (), *, files: Sequence[str | Path] = (),
              beam_size: int | None = None, device: str = "auto") -> list[dict[str, Any]]:
    """Translations of ``sentences`` and of the lines of ``files`` (text files, one sentence per line).

    The sentences are tokenised with the run's own source tokenizer, decoded greedily or by beam search
    (``beam_size``, default the run's ``task.beam_size``) and detokenised. Returns one
    ``{"input": id, "source": text, "translation": text}`` per sentence, in order.
    Raises UsageError when the run is not a translation run or nothing is given.
    """
    from layerlab.tasks.seq2seq import Seq2SeqTask

    if not sentences and not files:
        raise UsageError("translate needs a sentence or --file FILE")
    if beam_size is not None and beam_size < 1:
        raise UsageError(f"--beam must be at least 1, not {beam_size}")
    loaded = load_run(run_dir, device=device)
    task, pre = loaded.task, loaded.preprocessor
    if not isinstance(task, Seq2SeqTask):
        raise UsageError(f"{run_dir}: a {task.name} run; translate needs a seq2seq (translation) run")
    texts, ids = [str(s) for s in sentences], [f"arg:{i + 1}" for i in range(len(sentences))]
    if files:
        _, file_ids = pre.load_inputs([Path(f) for f in files])  # checks the files, reads them as in training
        from layerlab.data.text.reading import read_lines

        for path in files:
            texts += [line for line in read_lines(path, encoding=pre.encoding) if line.strip()]
        ids += file_ids
    if beam_size is not None:
        task.beam_size = beam_size
    src = pre.encode_sources(texts).to(loaded.device)
    translations = task.translate_ids(loaded.model, src, max_length=pre.target_max_length + 1,
                                      batch_size=loaded.recipe.train.eval_batch_size)
    return [{"input": i, "source": s, "translation": t} for i, s, t in zip(ids, texts, translations, strict=True)]
