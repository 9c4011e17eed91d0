"""Decoding CTC outputs: the best path (greedy) and a prefix beam search, over per-frame log-probabilities.

    greedy(log_probs)              # (T, V) -> token ids: the likeliest token of each frame, repeats merged, blanks dropped
    beam_search(log_probs, beam=8) # (T, V) -> the likeliest labelling among the prefixes kept

Id 0 is the blank. A labelling's probability is the sum over every frame path that collapses to it; the
greedy path need not be the likeliest labelling (two frames split between "a" and "a·a" can each lose to
blank, yet together make "a" likelier than blank). The prefix beam search (Hannun et al., 2014, without a
language model) keeps, for every prefix, the probability of the paths ending in a blank and of those ending
in its last token, so that a repeated token is a new token only after a blank.
"""

from __future__ import annotations

import math

import numpy as np

NEG_INF = float("-inf")
PRUNE = math.log(1e-5)  # tokens less likely than this in a frame are not tried as extensions there


def greedy(log_probs: np.ndarray) -> list[int]:
    """(T, V) -> ids: the argmax of each frame, runs of one id merged, blanks (0) dropped."""
    best = np.asarray(log_probs).argmax(-1)
    return [int(t) for i, t in enumerate(best) if t != 0 and (i == 0 or t != best[i - 1])]


def _add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def beam_search(log_probs: np.ndarray, beam: int = 8) -> list[int]:
    """(T, V) log-probabilities -> the likeliest labelling found keeping ``beam`` prefixes per frame."""
    beams: Beams = {(): (0.0, NEG_INF)}
    for frame in np.asarray(log_probs, dtype=np.float64):
        beams = _extend(beams, frame, beam)
    return list(max(beams.items(), key=lambda kv: _add(*kv[1]))[0])


Beams = dict[tuple[int, ...], tuple[float, float]]  # prefix -> (log p of paths ending in a blank, in its last token)


def _extend(beams: Beams, frame: np.ndarray, beam: int) -> Beams:
    """The ``beam`` likeliest prefixes after one more frame."""
    tried = [int(c) for c in np.flatnonzero(frame > PRUNE) if c != 0]
    blank = float(frame[0])
    grown: dict[tuple[int, ...], list[float]] = {}
    for prefix, (p_blank, p_token) in beams.items():
        total = _add(p_blank, p_token)
        same = grown.setdefault(prefix, [NEG_INF, NEG_INF])
        same[0] = _add(same[0], total + blank)  # a blank: the prefix stays
        for c in tried:
            p = float(frame[c])
            longer = grown.setdefault((*prefix, c), [NEG_INF, NEG_INF])
            if prefix and prefix[-1] == c:  # a repeat: a new token only after a blank, else merged
                longer[1] = _add(longer[1], p_blank + p)
                same[1] = _add(same[1], p_token + p)
            else:
                longer[1] = _add(longer[1], total + p)
    ranked = sorted(grown.items(), key=lambda kv: _add(*kv[1]), reverse=True)[:beam]
    return {prefix: (pb, pt) for prefix, (pb, pt) in ranked}


def labelling_log_prob(log_probs: np.ndarray, labels: list[int]) -> float:
    """log p(labels | frames): the CTC forward algorithm, summing every frame path that collapses to ``labels``."""
    extended = [0]
    for label in labels:
        extended += [label, 0]  # blank, l1, blank, l2, ..., blank
    alpha = [NEG_INF] * len(extended)
    frames = np.asarray(log_probs, dtype=np.float64)
    alpha[0] = float(frames[0, 0])
    if len(extended) > 1:
        alpha[1] = float(frames[0, extended[1]])
    for frame in frames[1:]:
        previous = alpha
        alpha = [NEG_INF] * len(extended)
        for s, label in enumerate(extended):
            total = previous[s]
            if s >= 1:
                total = _add(total, previous[s - 1])
            if s >= 2 and label != 0 and label != extended[s - 2]:
                total = _add(total, previous[s - 2])
            alpha[s] = total + float(frame[label])
    return _add(alpha[-1], alpha[-2]) if len(extended) > 1 else alpha[-1]
