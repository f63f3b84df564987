"""The client's backup methods: ``/tasky/v1/export`` and ``/tasky/v1/import``, both streamed
(a file of any size, in bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import requests

from tasky.client.errors import ConnectionFailed

CHUNK = 1 << 16
MEDIA_TYPE = "application/x-ndjson"


class BackupMethods:
    """Mixed into :class:`~tasky.client.Client`, whose ``request`` they call."""

    if TYPE_CHECKING:
        timeout: float

        def request(self, method: str, path: str, **options: Any) -> requests.Response: ...

    def export(self, file: IO[bytes]) -> int:
        """Write an export of the server's store (one consistent snapshot, NDJSON) to
        ``file``; the bytes written. ``ConnectionFailed`` when it broke off."""
        with self._streamed("GET", "/export") as resp:
            written = 0
            try:
                for chunk in resp.iter_content(CHUNK):
                    file.write(chunk)
                    written += len(chunk)
            except requests.RequestException as exc:
                raise ConnectionFailed(
                    f"the export broke off after {written} bytes ({exc})"
                ) from exc
        file.flush()
        return written

    def import_(self, file: IO[bytes]) -> dict[str, Any]:
        """Send an export (read from ``file`` a chunk at a time) to be restored; the server's
        report: ``imported``, ``skipped`` (by kind), ``rejected``, ``rejected_lines``,
        ``recovered``."""
        headers = {"Content-Type": MEDIA_TYPE}
        with self._streamed("POST", "/import", data=_chunks(file), headers=headers) as resp:
            report: dict[str, Any] = resp.json()
        return report

    def _streamed(self, method: str, path: str, **options: Any) -> requests.Response:
        """A call whose body is read as it comes, however long it takes."""
        return self.request(method, path, stream=True, timeout=(self.timeout, None), **options)


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The file a chunk at a time: sent chunked, whatever its size or kind (a pipe too)."""
    while chunk := file.read(CHUNK):
        yield chunk
