"""Tasky: a REST task runner and scheduler."""

__version__ = "0.1.0"


def create_app(settings=None):
    """Build the WSGI app (see ``tasky.factory``)."""
    from tasky.factory import create_app as factory

    return factory(settings)
