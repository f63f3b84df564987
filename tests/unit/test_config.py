from __future__ import annotations

import pytest

from tasky.config import Settings
from tasky.errors import ConfigError


def test_defaults_are_safe():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///data/tasky.db"
    assert settings.enable_bash is False and settings.api_token is None
    assert settings.max_body == settings.output_limit == 1024 * 1024
    assert (settings.retention, settings.lease) == (604800.0, 30.0)
    assert settings.timezone == "UTC"


def test_environment_values_are_typed():
    settings = Settings.from_env(
        {
            "TASKY_ENABLE_BASH": "1",
            "TASKY_MAX_BODY": "2048",
            "TASKY_LEASE": "2.5",
            "TASKY_PLUGINS": "a.b, c.d:E",
            "TASKY_TIMEZONE": "Europe/Paris",
            "TASKY_API_TOKEN": "s3cret",
        }
    )
    assert settings.enable_bash is True and settings.max_body == 2048
    assert settings.lease == 2.5 and settings.plugins == ("a.b", "c.d:E")
    assert settings.tz.key == "Europe/Paris" and settings.api_token == "s3cret"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TASKY_ENABLE_BASH": "maybe"}, "TASKY_ENABLE_BASH"),
        ({"TASKY_MAX_BODY": "1MB"}, "TASKY_MAX_BODY"),
        ({"TASKY_TIMEZONE": "Mars/Olympus"}, "TASKY_TIMEZONE"),
        ({"TASKY_LEASE": "0"}, "TASKY_LEASE"),
    ],
)
def test_bad_values_stop_the_start_with_a_clear_error(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
