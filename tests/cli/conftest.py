from tests.client.conftest import closed_url, server, server_factory  # noqa: F401
