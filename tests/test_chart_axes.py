"""The chart's count axis: whole counts from 0, and real counts (not log10 values) on a log axis."""
from __future__ import annotations

import math

from trafficwatch.app.chart import log_ticks, nice_ticks
from trafficwatch.app.panes import num


def test_linear_ticks_are_round_whole_counts_from_zero():
    assert nice_ticks(560, 30) == [0, 100, 200, 300, 400, 500]
    assert nice_ticks(7, 12) == [0, 2, 4, 6]
    assert [num(t) for t in nice_ticks(3, 30)] == ["0", "1", "2", "3"]


def test_log_axis_is_labelled_with_counts():
    pos, labels = log_ticks(560, 10)
    assert labels == ["0", "1", "10", "100"]
    assert pos == [0.0, math.log10(2), math.log10(11), math.log10(101)]
    assert log_ticks(560, 40)[1] == ["0", "1", "3", "10", "30", "100", "300"]


def test_counts_under_ten_are_integers_and_fractions_stay_short():
    assert [num(x) for x in (2.0, 0.0, 2.5, 0.71, 12.4, float("nan"))] == [
        "2", "0", "2.5", "0.71", "12", "–"]
