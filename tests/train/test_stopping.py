"""Stopping: the first reason given is kept; an interruption or a spent time budget ends the epoch."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from layerlab.train.stopping import Clock, Stopping


def test_the_first_request_is_the_reason_kept():
    stopping = Stopping(max_seconds=None)
    stopping.request("early stopping: val_loss did not improve")
    stopping.request("pruned by the search")
    assert stopping.reason == "early stopping: val_loss did not improve"
    assert not stopping.now(1e9)  # a request waits for the epoch's end; no budget to spend


def test_a_spent_budget_stops_now_and_says_so():
    stopping = Stopping(max_seconds=2.0)
    assert not stopping.now(1.5) and stopping.reason == ""
    assert stopping.now(2.0) and stopping.reason == "time budget of 2 s reached"


def test_an_interruption_stops_now_without_a_reason():
    stopping = Stopping(max_seconds=None)
    stopping.interrupted = True
    assert stopping.now(0.0) and stopping.reason == ""


def test_the_clock_counts_on_from_the_seconds_before():
    assert 5.0 <= Clock(5.0)() < 60.0


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_ctrl_c_interrupts_once_then_aborts_and_the_handler_is_put_back():
    stopping, before = Stopping(max_seconds=None), signal.getsignal(signal.SIGINT)
    with stopping.ctrl_c():
        os.kill(os.getpid(), signal.SIGINT)
        assert stopping.interrupted
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
