"""Settings: every default in one place, read once from ``TASKY_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tasky.errors import ConfigError

MIB = 1024 * 1024
RUNNER_MODES = ("on", "off")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///data/tasky.db"
    files_root: str = "data/files"
    enable_bash: bool = False
    # Outbound calls to URLs that clients give (tasky/netguard.py): link-local and cloud
    # metadata addresses are refused whatever these say.
    webhook_allow_private: bool = False
    """Webhook deliveries may go to loopback and private (RFC 1918, CGNAT, unique-local)
    addresses."""
    http_allow_private: bool = False
    """The ``http`` worker may call loopback and private addresses."""
    api_token: str | None = None
    max_body: int = MIB
    output_limit: int = MIB
    retention: float = 7 * 24 * 3600.0
    lease: float = 30.0
    timezone: str = "UTC"
    plugins: tuple[str, ...] = ()
    poll_interval: float = 0.25
    """How often a runner looks at the store for work it was not woken for (other processes'
    submits, expired leases, cancels of its own running tasks)."""
    runner: str = "on"
    """``on``: each process that serves the API has a runner beside it; ``off``: the process
    answers HTTP and runs nothing (an API node; ``tasky runner`` processes run the tasks)."""
    min_interval: float = 1.0
    """The shortest ``interval`` a schedule may have, in seconds."""
    import_max_body: int = 4 * 1024 * MIB
    """The largest body ``POST /tasky/v1/import`` reads, in bytes (an export of a million
    tasks is about half a GiB); ``max_body`` bounds the other routes."""
    metrics_store_gauges: bool = True
    """``/metrics`` reports the store's gauges (tasks waiting, running); on PostgreSQL every
    host sees the same store: one host is enough."""
    webhook_secret: str | None = None
    """Signs the deliveries to submits' ``callback_url`` (a ``whsec_`` secret); without it a
    submit with a ``callback_url`` is refused."""
    webhook_slots: int = 4
    """Deliveries a runner sends at once, on threads of their own."""
    webhook_timeout: float = 15.0
    """Seconds one delivery attempt may take."""
    webhook_retries: str = "0,5,300,1800,7200,18000,36000"
    """Seconds before each attempt of a delivery, from the previous one's failure (the first
    from the event); a delivery fails after that many attempts."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def webhook_delays(self) -> tuple[float, ...]:
        """``webhook_retries`` as numbers."""
        return tuple(float(part) for part in self.webhook_retries.split(",") if part.strip())

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get("TASKY_" + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, str(field.type), raw)
        settings = replace(cls(), **values, **overrides)
        settings.validate()
        return settings

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"TASKY_TIMEZONE: unknown time zone {self.timezone!r}") from None
        if self.runner not in RUNNER_MODES:
            raise ConfigError(f"TASKY_RUNNER must be one of {', '.join(RUNNER_MODES)}")
        for name in (
            "max_body",
            "import_max_body",
            "output_limit",
            "retention",
            "lease",
            "poll_interval",
            "min_interval",
            "webhook_slots",
            "webhook_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"TASKY_{name.upper()} must be greater than 0")
        try:
            delays = self.webhook_delays
        except ValueError:
            delays = ()
        if not delays or min(delays) < 0:
            raise ConfigError("TASKY_WEBHOOK_RETRIES must be seconds (>= 0), comma-separated")
        if self.webhook_secret is not None:
            from tasky.webhooks.signing import sign

            try:
                sign(self.webhook_secret, "check", 0, b"")
            except ValueError as exc:
                raise ConfigError(f"TASKY_WEBHOOK_SECRET: {exc}") from None


def _parse(name: str, kind: str, raw: str) -> object:
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        raise ConfigError(f"TASKY_{name.upper()}: cannot read {raw!r} as {kind}") from None
