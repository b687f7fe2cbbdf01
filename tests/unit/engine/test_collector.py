"""The collector's thresholds during pulls: raised while any pull runs, restored after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from syncd.engine.collector import PULL_THRESHOLD, relaxed_collector


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_a_pull_raises_the_first_threshold_and_restores_all_three() -> None:
    with relaxed_collector():
        assert gc.get_threshold() == (PULL_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error_too() -> None:
    with pytest.raises(RuntimeError), relaxed_collector():
        raise RuntimeError("stream failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_pulls_restore_only_when_the_last_one_ends() -> None:
    first_in, second_done, seen = threading.Event(), threading.Event(), []

    def first() -> None:
        with relaxed_collector():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.get_threshold()[0])  # still raised: this pull is running

    worker = threading.Thread(target=first)
    worker.start()
    first_in.wait(5)
    with relaxed_collector():
        pass
    second_done.set()
    worker.join(5)
    assert seen == [PULL_THRESHOLD]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_user_is_kept() -> None:
    gc.set_threshold(50_000, 10, 10)
    with relaxed_collector():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == (50_000, 10, 10)
