"""A target is judged on its ratio, its excess over its reference, or its value; one without
a measure is never met."""

from __future__ import annotations

from bench.targets import Target, collect, not_measured, render


def target(measured, reference=2.0, **kwargs) -> Target:
    kwargs.setdefault("limit", 1.3)
    kwargs.setdefault("at_most", True)
    return Target(2, "submit p50", measured, reference, "bare p50", **kwargs)


def test_a_ratio_is_measured_over_reference():
    assert target(2.5).score == 1.25 and target(2.5).met
    assert target(2.7).met is False
    assert target(2.0, limit=0.8, at_most=False).met


def test_an_excess_is_measured_minus_reference_and_a_value_stands_alone():
    late = target(0.7, reference=0.3, kind="excess", limit=0.5)
    assert late.score == 0.7 - 0.3 and late.met
    assert target(6.0, reference=None, kind="value", limit=5.0).met is False


def test_without_a_measure_or_a_reference_a_target_is_not_measured():
    assert target(None).met is None
    assert target(1.0, reference=None).met is None
    assert not_measured(4, "peers", "elsewhere", 2.0, False).verdict() == "not measured"


def test_the_table_lists_every_target_in_number_order_with_its_verdict():
    found = collect(
        [lambda m: [target(m["x"])], lambda m: [not_measured(1, "lateness", "no run", 1, True)]],
        {"x": 3.0},
    )
    assert [t.number for t in found] == [1, 2]
    table = render(found)
    assert "MISSED" in table and "not measured (no run)" in table
    assert table.splitlines()[-1] == "0 met, 1 missed, 1 not measured"
    assert found[1].as_json()["score"] == 1.5


def test_a_paired_ratio_is_the_median_of_each_rounds_own():
    from bench.submit import paired_ratio

    tasky = [{"p50_ms": 2.0}, {"p50_ms": 9.0}, {"p50_ms": 3.0}]
    bare = [{"p50_ms": 1.0}, {"p50_ms": 10.0}, {"p50_ms": 1.0}]  # round 2: the machine slowed
    ratio = paired_ratio(tasky, bare, "p50_ms")
    assert ratio == 2.0
    assert target(3.0, reference=1.0, paired=ratio).score == 2.0
