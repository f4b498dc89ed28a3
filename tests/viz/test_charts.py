"""core.viz._charts: the benchmark page's figures (bars, lines, memory vs recall), read as JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.viz import _charts as charts


def test_bar_figure_groups_by_colour_and_log_axis():
    table = pd.DataFrame(
        {"variant": ["a", "b", "a", "b"], "median_ms": [1.0, 10.0, 2.0, 20.0], "n": [1, 1, 2, 2]}
    )
    fig = charts.bar_figure(
        table, x="n", y="median_ms", color="variant", title="t", y_title="ms", log_y=True
    )
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].y) == [10.0, 20.0]
    assert fig.layout.yaxis.type == "log"
    single = charts.bar_figure(table, x="variant", y="median_ms", title="t", y_title="ms")
    assert len(single.data) == 1 and single.layout.showlegend is False


def test_line_figure_sorts_each_curve_by_x():
    table = pd.DataFrame(
        {"variant": ["a", "a", "a"], "n_docs": [100, 10, 1000], "median_ms": [2.0, 1.0, 9.0]}
    )
    fig = charts.line_figure(
        table, x="n_docs", y="median_ms", color="variant", title="t", x_title="n", y_title="ms"
    )
    assert list(fig.data[0].x) == [10, 100, 1000]
    assert list(fig.data[0].y) == [1.0, 2.0, 9.0]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_recall_memory_figure_and_missing_columns():
    table = pd.DataFrame(
        {"mode": ["float32", "binary"], "memory_mb": [4.0, 0.1], "recall_at_k": [1.0, 0.7]}
    )
    fig = charts.recall_memory_figure(table)
    assert list(fig.data[0].text) == ["float32", "binary"]
    with pytest.raises(ValueError, match=r"no column\(s\) \['recall_at_k'\]"):
        charts.recall_memory_figure(table.drop(columns="recall_at_k"))


ONE_TWO_FIVE = {1.0, 2.0, 5.0}


def mantissa(value: float) -> float:
    return float(f"{value:e}".split("e")[0])


def readable_log_axis(axis: dict) -> tuple[list[float], list[str]]:
    """The labelled ticks of a log axis from figure JSON, checked to be readable numbers."""
    assert axis["type"] == "log" and axis["tickmode"] == "array"
    values, labels = list(axis["tickvals"]), list(axis["ticktext"])
    assert len(values) >= 2
    assert {mantissa(v) for v in values} <= ONE_TWO_FIVE
    # Each label is the whole number it marks (so 50 and 5 cannot be confused).
    assert [float(label.replace(",", "")) for label in labels] == pytest.approx(values)
    low, high = axis["range"]
    assert all(low <= np.log10(v) + 1e-9 and np.log10(v) <= high + 1e-9 for v in values)
    return values, labels


def test_log_bar_axis_labels_whole_numbers_and_leaves_room_for_the_bars():
    # The reviewer's chart: µs per document from ~0.03 (vectorised) to ~25 (pure Python).
    table = pd.DataFrame({"variant": ["vec", "loop", "py"], "us_per_doc": [0.025, 0.9, 25.0]})
    fig = charts.bar_figure(table, x="variant", y="us_per_doc", title="t", y_title="µs", log_y=True)
    axis = fig.to_plotly_json()["layout"]["yaxis"]
    _, labels = readable_log_axis(axis)
    assert labels == ["0.01", "0.1", "1", "10", "100"]  # three decades+: powers of ten only
    minor = axis["minor"]["tickvals"]
    assert {mantissa(v) for v in minor} == {2.0, 5.0}  # the 2s and 5s unlabelled
    assert "ticktext" not in axis["minor"]
    low, high = axis["range"]
    assert low < np.log10(0.025) and high > np.log10(25.0) + 0.3  # bar base and value text


def test_log_line_axes_label_1_2_5_steps_over_a_few_decades():
    table = pd.DataFrame(
        {
            "variant": ["a"] * 4,
            "n_docs": [1_000, 5_000, 20_000, 50_000],
            "median_ms": [0.3, 1.2, 5.0, 11.0],
        }
    )
    fig = charts.line_figure(
        table, x="n_docs", y="median_ms", color="variant", title="t", x_title="n", y_title="ms"
    )
    layout = fig.to_plotly_json()["layout"]
    _, x_labels = readable_log_axis(layout["xaxis"])
    assert x_labels == ["1,000", "2,000", "5,000", "10,000", "20,000", "50,000"]
    _, y_labels = readable_log_axis(layout["yaxis"])
    assert y_labels == ["0.5", "1", "2", "5", "10"]
    assert not layout["xaxis"]["minor"]["tickvals"]


def test_log_axis_widens_a_narrow_range_to_two_labels_and_ignores_non_positive():
    axis = charts.log_axis([3.1, 4.5, 0.0, float("nan")])
    assert axis["tickvals"] == [2.0, 5.0] and axis["ticktext"] == ["2", "5"]
    assert axis["range"] == pytest.approx([np.log10(2), np.log10(5)])
    assert charts.log_axis([0.0, -1.0]) == {"type": "log"}


def test_benchmark_charts_keep_the_title_clear_of_the_mode_bar():
    memory = pd.DataFrame(
        {"mode": ["float32", "binary"], "memory_mb": [4.0, 0.1], "recall_at_k": [1.0, 0.7]}
    )
    bars = pd.DataFrame({"dtype": ["float64", "float32"], "median_ms": [2.0, 1.0]})
    for fig in (
        charts.recall_memory_figure(memory),
        charts.bar_figure(bars, x="dtype", y="median_ms", title="Search time", y_title="ms"),
    ):
        layout = fig.to_plotly_json()["layout"]
        title = layout["title"]
        # Pinned below the top edge of the chart, where the mode bar sits, with the plot below.
        assert title["yref"] == "container" and title["yanchor"] == "top" and title["y"] == 1
        assert title["pad"]["t"] >= 30
        assert layout["margin"]["t"] > title["pad"]["t"] + 30
        assert {"select2d", "lasso2d"} <= set(layout["modebar"]["remove"])


def test_bar_and_line_spread_become_error_bars():
    table = pd.DataFrame(
        {
            "variant": ["a", "b"],
            "n_docs": [10, 20],
            "median_ms": [2.0, 4.0],
            "q1_ms": [1.5, 3.0],
            "q3_ms": [3.0, 4.5],
        }
    )
    bar = charts.bar_figure(
        table, x="variant", y="median_ms", title="t", y_title="ms", spread=("q1_ms", "q3_ms")
    )
    error = bar.data[0].error_y
    assert list(error.array) == [1.0, 0.5] and list(error.arrayminus) == [0.5, 1.0]
    line = charts.line_figure(
        table.assign(variant="a"),
        x="n_docs",
        y="median_ms",
        color="variant",
        title="t",
        x_title="n",
        y_title="ms",
        spread=("q1_ms", "q3_ms"),
    )
    assert list(line.data[0].error_y.array) == [1.0, 0.5]
    with pytest.raises(ValueError, match=r"no column\(s\) \['q3_ms'\]"):
        charts.bar_figure(
            table.drop(columns="q3_ms"),
            x="variant",
            y="median_ms",
            title="t",
            y_title="ms",
            spread=("q1_ms", "q3_ms"),
        )
