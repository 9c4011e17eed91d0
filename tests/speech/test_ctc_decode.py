"""CTC decoding on hand-built outputs: greedy and beam search agree on a clear best path, the beam search
finds the likelier labelling where the best path misleads, and the forward algorithm matches CTCLoss."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from layerlab.tasks.ctc_decode import beam_search, greedy, labelling_log_prob


def _frames(rows: list[list[float]]) -> np.ndarray:
    p = np.asarray(rows, dtype=np.float64)
    return np.log(p / p.sum(1, keepdims=True))


def test_greedy_merges_repeats_and_drops_blanks_and_beam_agrees_on_a_clear_path():
    # best path per frame: a a _ b b _ b  ->  "a b b" (a blank separates the two b's)
    path = [1, 1, 0, 2, 2, 0, 2]
    log_probs = _frames([[0.9 if v == t else 0.05 for v in range(3)] for t in path])
    assert greedy(log_probs) == [1, 2, 2]
    assert beam_search(log_probs, beam=4) == [1, 2, 2]


def test_beam_search_finds_the_likelier_labelling_where_the_best_path_fails():
    # two frames, blank 0.6 and "a" 0.4 in each: the best path is blank blank (0.36), but "a" collects
    # three paths (a a, a _, _ a: 0.16 + 0.24 + 0.24 = 0.64)
    log_probs = _frames([[0.6, 0.4], [0.6, 0.4]])
    assert greedy(log_probs) == []
    assert beam_search(log_probs, beam=4) == [1]
    assert math.isclose(math.exp(labelling_log_prob(log_probs, [1])), 0.64)
    assert math.isclose(math.exp(labelling_log_prob(log_probs, [])), 0.36)
    # a beam of one prefix drops "a" after the first frame (0.4 < 0.6) and is as misled as the best path
    assert beam_search(log_probs, beam=1) == []


def test_a_wide_beam_finds_the_likeliest_labelling_of_all():
    """On short random outputs, a beam wider than the number of labellings is exact: it finds the
    labelling that enumerating all of them finds (the greedy path often does not)."""
    generator = np.random.default_rng(0)
    labellings = [list(p) for n in range(7) for p in itertools.product((1, 2), repeat=n)]
    greedy_misses = 0
    for _ in range(10):
        log_probs = _frames(generator.dirichlet(np.ones(3), size=6).tolist())
        scores = [labelling_log_prob(log_probs, labels) for labels in labellings]
        best = labellings[int(np.argmax(scores))]
        assert beam_search(log_probs, beam=len(labellings)) == best
        greedy_misses += greedy(log_probs) != best
    assert greedy_misses > 0  # the outputs are hard enough that the best path alone is not enough


def test_forward_algorithm_matches_torch_ctc_loss():
    torch.manual_seed(0)
    log_probs = torch.randn(9, 1, 5).log_softmax(-1)  # (T, B, V)
    labels = [2, 2, 4, 1]
    loss = torch.nn.CTCLoss(reduction="sum")(log_probs, torch.tensor([labels]), torch.tensor([9]), torch.tensor([4]))
    assert math.isclose(-labelling_log_prob(log_probs[:, 0].double().numpy(), labels), float(loss), rel_tol=1e-5)


def test_error_rates_count_edits_per_reference_word_and_character():
    from layerlab.tasks.speech_recognition import error_rates

    # one deletion in 3 words, one deletion in 1: 2 / 4 words; characters: "one " gone (4) and "two" gone (3)
    rates = error_rates(["three one four", "two"], ["three four", ""])
    assert rates["wer"] == 0.5 and math.isclose(rates["cer"], 7 / 17)
    # an empty reference (jiwer refuses it): its hypothesis' words are insertions
    assert error_rates(["", "one"], ["two", "one"]) == {"wer": 1.0, "cer": 1.0}
