from __future__ import annotations

import threading
import time

import marshmallow as ma
import pytest

from tasky.worker import Aborted
from workers.sleeper import Sleeper


def test_sleeps_and_reports(ctx):
    started = time.monotonic()
    assert Sleeper().perform(Sleeper.Config().load({"seconds": 0.05}), ctx) == {"slept": 0.05}
    assert time.monotonic() - started >= 0.05


def test_default_is_sixty_seconds():
    assert Sleeper.Config().load({}) == {"seconds": 60.0}


@pytest.mark.parametrize("seconds", [0, 86400, 0.5])
def test_accepts_range(seconds):
    assert Sleeper.Config().load({"seconds": seconds}) == {"seconds": seconds}


def test_config_survives_storage():
    """The engine stores ``dump(load(config))`` and loads that again to run the task."""
    schema = Sleeper.Config()
    loaded = schema.load({"seconds": 2.5})
    assert schema.load(schema.dump(loaded)) == loaded


@pytest.mark.parametrize("seconds", [-1, 86401, "soon", float("nan")])
def test_rejects_out_of_range(seconds):
    with pytest.raises(ma.ValidationError) as info:
        Sleeper.Config().load({"seconds": seconds})
    assert "seconds" in info.value.messages


@pytest.mark.timeout(30)
def test_cancel_stops_it_within_a_second(ctx, abort):
    aborted_at = []

    def cancel():
        aborted_at.append(time.monotonic())
        abort.set()

    timer = threading.Timer(0.2, cancel)
    timer.start()
    with pytest.raises(Aborted):
        Sleeper().perform(Sleeper.Config().load({"seconds": 30}), ctx)
    assert time.monotonic() - aborted_at[0] < 1.0
    timer.join()
