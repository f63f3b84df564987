from __future__ import annotations

import sys
import textwrap

import pytest

from tasky.config import Settings
from tasky.errors import ConfigError, UnknownWorker
from tasky.registry import Registry
from tasky.worker import Worker


class Alpha(Worker):
    name = "Alpha"


class AlphaAgain(Worker):
    name = "alpha"


def test_builtins_are_found():
    names = [w.name for w in Registry.discover(Settings()).all()]
    for builtin in ("bash", "copyfile", "echo", "http", "ifconfig", "sleeper"):
        assert builtin in names


def test_names_match_case_insensitively():
    registry = Registry(Settings(), [Alpha])
    assert registry.get("ALPHA") is registry.get("alpha")
    with pytest.raises(UnknownWorker):
        registry.get("beta")


def test_two_workers_with_one_name_stop_the_start():
    with pytest.raises(ConfigError, match="two workers are named"):
        Registry(Settings(), [Alpha, AlphaAgain])


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "my_plugins.py").write_text(
        textwrap.dedent("""
        from tasky.worker import Worker

        class Greeter(Worker):
            name = "greeter"

        class Farewell(Worker):
            name = "farewell"
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_plugins"
    sys.modules.pop("my_plugins", None)


def test_tasky_plugins_module_registers_every_worker_it_defines(plugin_module):
    registry = Registry.discover(Settings(plugins=(plugin_module,)))
    assert registry.get("greeter").name == "greeter"
    assert registry.get("farewell").name == "farewell"


def test_tasky_plugins_single_class(plugin_module):
    registry = Registry.discover(Settings(plugins=(f"{plugin_module}:Greeter",)))
    assert registry.get("greeter")
    with pytest.raises(UnknownWorker):
        registry.get("farewell")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_such_module_here", "cannot import"),
        ("my_plugins:Nope", "not a Worker subclass"),
        ("json", "defines no Worker subclass"),
    ],
)
def test_bad_plugin_names_stop_the_start(plugin_module, spec, message):
    with pytest.raises(ConfigError, match=message):
        Registry.discover(Settings(plugins=(spec,)))


def test_one_class_found_twice_counts_once():
    assert [w.name for w in Registry(Settings(), [Alpha, Alpha]).all()] == ["Alpha"]


def test_a_worker_has_hooks_when_it_overrides_one():
    class Aborts(Worker):
        name = "aborts"

        def on_abort(self, task):
            pass

    class Inherits(Aborts):
        name = "inherits"

    assert not Alpha.has_hooks()
    assert Aborts.has_hooks() and Inherits.has_hooks()
    assert Registry.discover(Settings()).get("echo").has_hooks()
